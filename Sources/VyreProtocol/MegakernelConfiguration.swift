public import VyreIR

/// How a megakernel is built: lanes per workgroup, custom opcodes, and extra buffers they use.
public struct MegakernelConfiguration: Sendable, Hashable {
    /// Lanes per workgroup, each running one slot; checked against the device's limits when the
    /// program is built.
    public var workgroupSize: UInt32
    /// Custom opcode handlers: each opcode handled once, and none reserved by the protocol
    /// (``RingProtocol/isReserved(_:)``).
    public var opcodes: [OpcodeHandler]
    /// Extra buffers for custom opcodes, at bindings from ``MegakernelBindings/firstExtra``.
    public var extraBuffers: [BufferDecl]
    /// Batches of at most this many items keep the control buffer and the debug log in mapped
    /// memory: no upload and no copy back, the kernel reaches them across the bus. Larger batches
    /// keep them in device memory, where a million slots' atomics belong. 0 disables; nil picks
    /// by device (measured: 1024 on NVIDIA H200, where it saves about 8 us per batch; off on
    /// software renderers, where it costs).
    public var mappedStateLimit: Int?
    /// Shared arrays custom opcodes use (beside the megakernel's own), filled by ``prologue``.
    public var shared: [SharedDecl]
    /// Statements every lane runs once per dispatch, before the first slot, followed by a
    /// workgroup barrier: where a handler's shared arrays are filled (each lane a share of the
    /// words, as `localIndex` says). The same rules as a handler's body: no `return` or `trap`.
    public var prologue: [Node]

    /// A configuration; the default is the built-in opcodes alone, 128 lanes per workgroup, and the
    /// mapped-state limit picked by device.
    public init(workgroupSize: UInt32 = 128, opcodes: [OpcodeHandler] = [], extraBuffers: [BufferDecl] = [], mappedStateLimit: Int? = nil,
                shared: [SharedDecl] = [], prologue: [Node] = []) {
        self.workgroupSize = workgroupSize
        self.opcodes = opcodes
        self.extraBuffers = extraBuffers
        self.mappedStateLimit = mappedStateLimit
        self.shared = shared
        self.prologue = prologue
    }
}

extension MegakernelConfiguration {
    /// Checks the configuration (custom opcodes outside the reserved space and each handled once,
    /// extra buffers at free bindings and names) and builds the megakernel program for `limits`,
    /// with a validation failure inside a handler blamed on that handler. Needs no GPU.
    public func program(limits: Limits) throws(MegakernelError) -> ValidatedProgram {
        try oneShotKernel(limits: limits).validated
    }

    /// As ``program(limits:)``, with the protocol buffers packed into fewer storage blocks where
    /// `limits` has too few for them (see ``MegakernelBlocks``).
    public func oneShotKernel(limits: Limits) throws(MegakernelError) -> FittedMegakernel {
        try check()
        return try fitted(MegakernelPrograms.oneShot(configuration: self), groups: MegakernelBlocks.oneShotGroups, limits: limits, like: nil)
    }

    /// The custom opcodes and extra buffers, checked before any program is built.
    private func check() throws(MegakernelError) {
        var seen = Set<UInt32>()
        for h in opcodes {
            if RingProtocol.isReserved(h.opcode) { throw .invalidOpcode(h.opcode, problem: "is reserved by the protocol (bit 31, 0xFFF0...0xFFFF and 0...7)", fix: "use a number from 8 up, such as a tenant-private opcode from 0x40000000") }
            if !Identifier.isValidRegionName(OpcodeHandler.regionName(opcode: h.opcode, name: h.name)) {
                throw .invalidOpcode(h.opcode, problem: "has a name that holds a control character or, with 'opcode \(h.opcode) ' in front (the region the megakernel wraps the handler in), runs past 128 characters",
                                     fix: "use a short one-line name, at most \(128 - "opcode \(h.opcode) ".unicodeScalars.count) characters")
            }
            if !seen.insert(h.opcode).inserted { throw .invalidOpcode(h.opcode, problem: "has two handlers", fix: "give each opcode one handler") }
        }
        if exits(prologue) { throw .prologueExits }
        for b in extraBuffers {
            if b.binding < MegakernelBindings.firstExtra { throw .invalidExtraBuffer(problem: "'\(b.name)' uses binding \(b.binding), which the protocol buffers take", fix: "use bindings from \(MegakernelBindings.firstExtra)") }
            if MegakernelBindings.reservedNames.contains(b.name) || MegakernelBlocks.blockNames.contains(b.name) { throw .invalidExtraBuffer(problem: "'\(b.name)' has the name of a protocol buffer", fix: "rename it") }
        }
    }

    /// As ``program(limits:)``, for the resident megakernel.
    public func residentProgram(limits: Limits) throws(MegakernelError) -> ValidatedProgram {
        try residentKernel(limits: limits).validated
    }

    /// As ``residentProgram(limits:)``, packed where `limits` needs it (see ``MegakernelBlocks``),
    /// or `like` a running kernel's blocks: it keeps the choice it made for its protocol buffers.
    public func residentKernel(limits: Limits, like: MegakernelBlocks? = nil) throws(MegakernelError) -> FittedMegakernel {
        try check()
        return try fitted(MegakernelPrograms.resident(configuration: self), groups: MegakernelBlocks.residentGroups, limits: limits, like: like)
    }

    private func fitted(_ program: Program, groups: [MegakernelBlocks.Group], limits: Limits, like: MegakernelBlocks?) throws(MegakernelError) -> FittedMegakernel {
        let (fitted, blocks) = try MegakernelBlocks.fit(program, groups: groups, extras: extraBuffers, limits: limits, like: like)
        // A failure is blamed on the handlers of the program before packing, whose paths they wrote.
        do { return FittedMegakernel(validated: try fitted.validated(limits: limits), blocks: blocks) } catch { throw Self.blame(error, handlers: opcodes, program: program) }
    }

    /// `entry[0].block[k]…` in a handler validated alone, as `opcodes[handler].body[k - skipping]…`.
    static func handlerPath(_ path: String, handler: Int, skipping: Int) -> String {
        let prefix = "entry[0].\(PathLabel.block)["
        guard path.hasPrefix(prefix) else { return "opcodes[\(handler)]" }
        let start = path.index(path.startIndex, offsetBy: prefix.count)
        guard let close = path[start...].firstIndex(of: "]"), let k = Int(path[start..<close]), k >= skipping else {
            return "opcodes[\(handler)]"
        }
        return "opcodes[\(handler)].body[\(k - skipping)\(path[close...])"
    }

    /// Turns a validation failure of the megakernel into the problems of the handlers that cause
    /// it, each named by opcode and name, or into a problem of the configuration as a whole.
    static func blame(_ failure: ValidationFailure, handlers: [OpcodeHandler], program: Program) -> MegakernelError {
        if let h = handlers.first(where: { exits($0.body) }) { return .handlerExits(opcode: h.opcode, name: h.name) }
        // Each handler alone, with the variables the megakernel gives it: its own problems, with
        // paths into the opcode program (`opcodes[i].body[j]`) rather than the generated kernel.
        let given: [Node] = [.let("slot", 0), .let("base", 0), .let("tenant", 0), .let("opcode", 0), .let("fault", 0), .let("handled", true)]
            + (0..<RingProtocol.argsPerSlot).map { .let("arg\($0)", 0) }
        var found: [ValidationError] = []
        for (i, h) in handlers.enumerated() {
            let alone = Program(buffers: program.buffers, workgroupSize: WorkgroupSize(1), entry: [.block(given + h.body)])
            for var e in alone.validationErrors(limits: .unrestricted) {
                e.path = handlerPath(e.path, handler: i, skipping: given.count)
                e.problem = "in the handler of opcode \(h.opcode) (\(h.name)): \(e.problem)"
                found.append(e)
            }
        }
        // No handler is at fault alone: the megakernel as a whole does not fit (workgroup size,
        // extra buffers, program size for these limits).
        return found.isEmpty ? .invalidConfiguration(failure) : .invalidHandlers(ValidationFailure(errors: found))
    }

}

/// Whether `body` holds a `return` or `trap` anywhere.
private func exits(_ body: [Node]) -> Bool {
    struct Exits: ProgramVisitor {
        var found = false
        mutating func visit(_ node: Node, at path: String, depth: Int) {
            if case .return = node { found = true }
            if case .trap = node { found = true }
        }
    }
    var finder = Exits()
    Program(buffers: [], workgroupSize: WorkgroupSize(1), entry: body).walk(&finder)
    return finder.found
}

/// Why a megakernel could not be built or a batch not run.
public enum MegakernelError: DiagnosticError, Sendable {
    /// A custom opcode is reserved by the protocol or has two handlers.
    case invalidOpcode(UInt32, problem: String, fix: String)
    /// The megakernel does not validate; `opcode` names the handler blamed for it.
    /// Handlers that do not validate: each problem's path is `opcodes[i].body[j]…` of the opcode
    /// program, and its text names the opcode and the handler.
    case invalidHandlers(ValidationFailure)
    /// The megakernel as a whole does not validate for the device (its workgroup size, its extra
    /// buffers, its size), though every handler does alone.
    case invalidConfiguration(ValidationFailure)
    /// A handler body that returns or traps (lanes must reach the workgroup barrier after their slot).
    case handlerExits(opcode: UInt32, name: String)
    /// The configuration's prologue returns or traps (every lane must reach the barrier after it).
    case prologueExits
    /// An extra buffer takes a protocol binding or name, a batch's contents for the extra buffers do
    /// not fit them, or a plan was made for other extra buffers.
    case invalidExtraBuffer(problem: String, fix: String)
    /// The batch breaks the protocol (found when planning, before any device work), or its debug log
    /// came back malformed.
    case invalidBatch(ProtocolError)
    /// Options of the runtime around the megakernel cannot be used (a size out of range).
    case invalidOptions(problem: String, fix: String)
    /// A blocking run was called from a job on the context thread while another batch held the
    /// megakernel: that batch needs the thread, so waiting would never end.
    case blockedOnContextThread
    /// The device has too few storage blocks for the megakernel's buffers, and they cannot be
    /// packed into fewer (a handler indexes a protocol buffer with an atomic, or uses a name the
    /// packing needs). `blocks` is the device's count.
    case unpackable(PackingError, blocks: UInt32)
    /// The device failed (VyreRuntime reports its GL errors here).
    case device(any DeviceFailure)

    /// The error as diagnostics with a Fix (a validation or device failure keeps all of its own).
    public var diagnostics: [Diagnostic] {
        switch self {
        case .invalidOpcode(let op, let problem, let fix):
            return [Diagnostic("custom opcode \(op) (0x\(String(op, radix: 16))) \(problem)", fix: fix)]
        case .invalidHandlers(let f):
            return f.diagnostics
        case .invalidConfiguration(let f):
            return f.diagnostics.map { $0.within("the megakernel does not fit this device") }
        case .handlerExits(let op, let name):
            return [Diagnostic("the handler of opcode \(op) (\(name)) returns or traps; handler bodies must run to their end, because every lane meets its workgroup at a barrier after its slot",
                               fix: "set fault to a reason (256 or more) to end the slot as FAULT instead")]
        case .prologueExits:
            return [Diagnostic("the megakernel configuration's prologue returns or traps; every lane must run it to its end and meet the barrier after it",
                               fix: "let the prologue run to its end (skip work with an if instead)")]
        case .invalidExtraBuffer(let problem, let fix): return [Diagnostic("extra buffer \(problem)", fix: fix)]
        case .invalidOptions(let problem, let fix): return [Diagnostic(problem, fix: fix)]
        case .blockedOnContextThread:
            return [Diagnostic("a blocking Megakernel.run was called from a job on the context thread while another batch held the megakernel, and waiting would never end",
                               fix: "call the async run(_:) from tasks, or the blocking run from a thread of your own")]
        case .invalidBatch(let e): return e.diagnostics
        case .unpackable(let e, let blocks):
            return e.diagnostics.map { $0.within("this device has \(blocks) storage blocks, too few for the megakernel's buffers unless they are packed into fewer") }
        case .device(let e): return e.diagnostics
        }
    }
}

/// The programs the runtime builds, for inspection and golden files.
public enum MegakernelPrograms {
    /// The one-pass megakernel for `configuration` (what `Megakernel` compiles).
    public static func oneShot(configuration: MegakernelConfiguration) -> Program {
        var builder = MegakernelBuilder(configuration)
        return builder.oneShot(workgroupSize: configuration.workgroupSize)
    }

    /// The resident megakernel for `configuration` (what `ResidentMegakernel` compiles).
    public static func resident(configuration: MegakernelConfiguration) -> Program {
        var builder = MegakernelBuilder(configuration)
        return builder.resident(workgroupSize: configuration.workgroupSize)
    }
}

/// A failure of the device a megakernel runs on, as the host runtime reports it. The protocol
/// module knows no GPU API, so it carries the runtime's own error (VyreRuntime: `VyreGLError`).
public protocol DeviceFailure: DiagnosticError {}
