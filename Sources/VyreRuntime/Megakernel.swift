public import VyreIR
public import VyreGL
public import Logging
import Synchronization
import Dispatch

/// How a megakernel is built: lanes per workgroup, custom opcodes, and extra buffers they use.
public struct MegakernelConfiguration: Sendable, Hashable {
    public var workgroupSize: UInt32
    public var opcodes: [OpcodeHandler]
    /// Extra buffers for custom opcodes, at bindings from ``MegakernelBindings/firstExtra``.
    public var extraBuffers: [BufferDecl]
    /// Batches of at most this many items keep the control buffer and the debug log in mapped
    /// memory: no upload and no copy back, the kernel reaches them across the bus. Larger batches
    /// keep them in device memory, where a million slots' atomics belong. 0 disables; nil picks
    /// by device (measured: 1024 on NVIDIA H200, where it saves about 8 us per batch; off on
    /// software renderers, where it costs).
    public var mappedStateLimit: Int?

    public init(workgroupSize: UInt32 = 128, opcodes: [OpcodeHandler] = [], extraBuffers: [BufferDecl] = [], mappedStateLimit: Int? = nil) {
        self.workgroupSize = workgroupSize
        self.opcodes = opcodes
        self.extraBuffers = extraBuffers
        self.mappedStateLimit = mappedStateLimit
    }
}

extension MegakernelConfiguration {
    /// Checks the configuration (custom opcodes outside the reserved space and each handled once,
    /// extra buffers at free bindings and names) and builds the megakernel program for `limits`,
    /// with a validation failure inside a handler blamed on that handler. Needs no GPU.
    public func program(limits: Limits) throws(MegakernelError) -> Program {
        var seen = Set<UInt32>()
        for h in opcodes {
            if RingProtocol.isReserved(h.opcode) { throw .invalidOpcode(h.opcode, "is reserved by the protocol (bit 31, 0xFFF0...0xFFFF and 0...7). Fix: use a number from 8 up, such as a tenant-private opcode from 0x40000000") }
            if !seen.insert(h.opcode).inserted { throw .invalidOpcode(h.opcode, "has two handlers. Fix: give each opcode one handler") }
        }
        for b in extraBuffers {
            if b.binding < MegakernelBindings.firstExtra { throw .invalidExtraBuffer("'\(b.name)' uses binding \(b.binding), which the protocol buffers take. Fix: use bindings from \(MegakernelBindings.firstExtra)") }
            if MegakernelBindings.reservedNames.contains(b.name) { throw .invalidExtraBuffer("'\(b.name)' has the name of a protocol buffer. Fix: rename it") }
        }
        let program = MegakernelPrograms.oneShot(configuration: self)
        do { try program.validate(limits: limits) } catch { throw Self.blame(error, handlers: opcodes, program: program) }
        return program
    }

    /// Turns a validation failure inside a handler into one that names the handler.
    static func blame(_ failure: ValidationFailure, handlers: [OpcodeHandler], program: Program) -> MegakernelError {
        func exits(_ nodes: [Node]) -> Bool {
            nodes.contains { n in
                switch n {
                case .return, .trap: return true
                default: return n.bodies.contains { exits($0.nodes) }
                }
            }
        }
        if let h = handlers.first(where: { exits($0.body) }) { return .handlerExits(opcode: h.opcode, name: h.name) }
        for h in handlers {
            let alone = Program(buffers: program.buffers, workgroupSize: program.workgroupSize, entry: [.block(
                [.let("slot", 0), .let("base", 0), .let("tenant", 0), .let("opcode", 0), .let("fault", 0), .let("handled", true)]
                    + (0..<RingProtocol.argsPerSlot).map { .let("arg\($0)", 0) } + h.body)])
            if !alone.validationErrors(limits: .unrestricted).isEmpty { return .invalidHandler(opcode: h.opcode, failure) }
        }
        return .invalidHandler(opcode: handlers.first?.opcode ?? 0, failure)
    }

}

/// Why a megakernel could not be built or a batch not run.
public enum MegakernelError: Error, Sendable, CustomStringConvertible {
    case invalidOpcode(UInt32, String)
    case invalidHandler(opcode: UInt32, ValidationFailure)
    /// A handler body that returns or traps (lanes must reach the workgroup barrier after their slot).
    case handlerExits(opcode: UInt32, name: String)
    case invalidExtraBuffer(String)
    case invalidBatch(ProtocolError)
    case device(VyreGLError)

    public var description: String {
        switch self {
        case .invalidOpcode(let op, let why): return "custom opcode \(op) (0x\(String(op, radix: 16))) \(why)."
        case .invalidHandler(let op, let f): return "the handler of opcode \(op) does not validate inside the megakernel: \(f)"
        case .handlerExits(let op, let name):
            return "the handler of opcode \(op) (\(name)) returns or traps; handler bodies must run to their end, because every lane meets its workgroup at a barrier after its slot. Fix: set fault to a reason (256 or more) to end the slot as FAULT instead."
        case .invalidExtraBuffer(let d): return "extra buffer \(d)."
        case .invalidBatch(let e): return "\(e)"
        case .device(let e): return "\(e)"
        }
    }
}

/// The megakernel bootstrapped on one context: the IR program built from its configuration,
/// compiled once, and resident buffers reused (and grown) across batches.
///
/// Bootstrapping costs one shader compile. ``run(_:)`` dispatches a batch one-shot (one dispatch
/// per fence-delimited phase, one fence wait for the whole batch) and returns typed results;
/// concurrent callers are served one batch at a time.
public final class Megakernel: Sendable {
    public let context: GLContext
    public let configuration: MegakernelConfiguration
    /// The one-pass megakernel program (its GLSL is `pipeline.lowered.source`).
    public let program: Program
    let pipeline: ComputePipeline
    private let resident: Mutex<ResidentBuffers>
    let logger: Logger
    /// The mapped-state limit in force (see ``MegakernelConfiguration/mappedStateLimit``).
    public let mappedStateLimit: Int

    public init(context: GLContext, configuration: MegakernelConfiguration = MegakernelConfiguration(), logger: Logger? = nil) throws(MegakernelError) {
        self.context = context
        self.configuration = configuration
        self.logger = logger ?? context.logger
        self.mappedStateLimit = configuration.mappedStateLimit ?? (context.info.isSoftware ? 0 : 1024)
        let program = try configuration.program(limits: context.limits)
        self.program = program
        do {
            pipeline = try context.makePipeline(program)
        } catch {
            throw .device(error)
        }
        resident = Mutex(ResidentBuffers())
        self.logger.debug("megakernel bootstrapped", metadata: ["compile_ms": "\(pipeline.compileTime)", "opcodes": "\(configuration.opcodes.count)"])
    }

    /// Compile time of the megakernel program.
    public var compileTime: Duration { pipeline.compileTime }
    public var glslSource: String { pipeline.lowered.source }

    // MARK: one-shot

    /// Control buffers larger than this are read back by the driver's copy (see `run`).
    static let largeControlWords = 16_384

    /// Chunks of this many items are encoded or counted by one thread.
    static let chunk: Int = 1 << 15

    static func encodeItems(_ source: UnsafeBufferPointer<WorkItem>, into words: UnsafeMutableBufferPointer<UInt32>, stride: Int, header: Int, maxArgs: Int) {
        guard stride > 0 else { return }
        let chunks = (source.count + chunk - 1) / chunk
        let base = UnsafeSendable(words.baseAddress!)
        let items = UnsafeSendable(source.baseAddress)
        let count = source.count
        let work: @Sendable (Int) -> Void = { c in
            guard let items = items.value else { return }
            let out = base.value
            // Fields are read in place: copying a WorkItem would retain its args array, and the
            // empty arrays of all arg-less items share one reference count that threads fight over.
            for i in (c * chunk)..<Swift.min(count, (c + 1) * chunk) {
                let b = i * stride
                if header >= 1 { out[b] = items[i].opcode }
                if header == 3 {
                    out[b + 1] = items[i].tenant
                    out[b + 2] = items[i].priority.rawValue
                }
                if maxArgs > 0 {
                    items[i].args.withUnsafeBufferPointer { args in
                        for k in 0..<maxArgs { out[b + header + k] = k < args.count ? args[k] : 0 }
                    }
                }
            }
        }
        if chunks <= 1 { for c in 0..<chunks { work(c) } } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
    }

    /// Completed operations per opcode: items not in `excluding`, plus the inner ops of packed
    /// ones. Runs of equal opcodes are counted before touching the dictionary.
    static func countCompleted(_ items: [WorkItem], excluding notDone: Set<Int>) -> [UInt32: Int] {
        let chunks = Swift.max(1, (items.count + chunk - 1) / chunk)
        let partial = Mutex([[UInt32: Int]]())
        items.withUnsafeBufferPointer { buffer in
            let source = UnsafeSendable(buffer.baseAddress)
            let count = buffer.count
            let work: @Sendable (Int) -> Void = { c in
                var local: [UInt32: Int] = [:]
                guard let items = source.value else { return }
                var current: UInt32? = nil
                var run = 0
                for i in (c * chunk)..<Swift.min(count, (c + 1) * chunk) {
                    if !notDone.isEmpty && notDone.contains(i) { continue }
                    let opcode = items[i].opcode
                    if opcode == current {
                        run += 1
                    } else {
                        if let op = current { local[op, default: 0] += run }
                        current = opcode
                        run = 1
                    }
                    if opcode == Opcode.packedSlot.rawValue, case .success(let ops) = PackedSlot.decode(items[i].args) {
                        for op in ops { local[op.opcode.rawValue, default: 0] += 1 }
                    }
                }
                if let op = current { local[op, default: 0] += run }
                partial.withLock { $0.append(local) }
            }
            if chunks == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
        }
        return partial.withLock { parts in parts.reduce(into: [UInt32: Int]()) { total, part in total.merge(part, uniquingKeysWith: +) } }
    }

    /// ``run(_:)`` without blocking the calling task: the batch runs as one job on the context
    /// thread (batches from concurrent tasks are served in order).
    public func run(_ batch: Batch) async throws(MegakernelError) -> BatchResult {
        let result: Result<BatchResult, MegakernelError>
        do {
            result = try await context.perform { _ in
                do throws(MegakernelError) { return .success(try self.run(batch)) } catch { return .failure(error) }
            }
        } catch {
            throw .device(error)
        }
        return try result.get()
    }

    public func run(_ batch: Batch) throws(MegakernelError) -> BatchResult {
        let clock = ContinuousClock()
        let start = clock.now
        let plan = try batch.plan(extraBuffers: configuration.extraBuffers)
        let (slots, shape, control, extra) = (plan.slots, plan.shape, plan.control, plan.extra)

        let maxArgs = shape.maxArgs
        let stride = shape.header + maxArgs
        let debugWords = RingProtocol.Debug.words(records: batch.debugRecords)
        let exceptionWords = 1 + 3 * max(1, batch.items.count)

        return try resident.withLock { (buffers: inout ResidentBuffers) throws(MegakernelError) -> BatchResult in
            do throws(VyreGLError) {
                try buffers.ensure(context: context, ringWords: slots * RingProtocol.slotWords, controlWords: batch.controlWords,
                                   debugWords: debugWords, itemWords: max(1, batch.items.count * stride), exceptionWords: exceptionWords,
                                   mappedState: batch.items.count <= mappedStateLimit)
            } catch {
                throw .device(error)
            }
            // Item records go straight into mapped memory: [opcode, tenant, priority, args...]. The
            // buffer is idle (the previous batch's fence has signalled), so large batches are written
            // with plain stores from several threads.
            let items = buffers.items!
            batch.items.withUnsafeBufferPointer { source in
                items.value.withUnsafeWordsWhileIdle { words in
                    Self.encodeItems(source, into: words, stride: stride, header: shape.header, maxArgs: maxArgs)
                }
            }
            let exceptions = buffers.exceptions!
            exceptions.value.store(0, at: 0)
            let mappedState = batch.items.count <= mappedStateLimit
            if mappedState {
                control.withUnsafeBufferPointer { source in
                    buffers.mappedControl!.value.withUnsafeWordsWhileIdle { $0.baseAddress!.update(from: source.baseAddress!, count: source.count) }
                }
                buffers.mappedDebug!.value.store(0, at: 0)
            }
            let encoded = clock.now

            var arena = BufferArena(context: context)
            let controlHandle = mappedState ? buffers.mappedControl!.value.handle : buffers.control!.value.handle
            let debugHandle = mappedState ? buffers.mappedDebug!.value.handle : buffers.debug!.value.handle
            var handles: [UInt32: BufferHandle] = [
                MegakernelBindings.control: controlHandle.prefix(bytes: batch.controlWords * 4),
                MegakernelBindings.ring: buffers.ring!.value.handle.prefix(bytes: slots * RingProtocol.slotWords * 4),
                MegakernelBindings.debug: debugHandle.prefix(bytes: debugWords * 4),
                MegakernelBindings.io: buffers.io!.value.handle,
                MegakernelBindings.items: items.value.handle.prefix(bytes: max(1, batch.items.count * stride) * 4),
                MegakernelBindings.exceptions: exceptions.value.handle.prefix(bytes: exceptionWords * 4),
            ]
            var extraIndex: [String: Int] = [:]
            do throws(VyreGLError) {
                for (decl, words) in extra {
                    let index = try arena.add(words: words, mapped: false)
                    extraIndex[decl.name] = index
                    handles[decl.binding] = arena.handle(index)
                }
            } catch {
                throw .device(error)
            }
            let steps = batch.phases.map { phase in
                DispatchStep(groups: WorkgroupSize(UInt32((phase.count + Int(configuration.workgroupSize) - 1) / Int(configuration.workgroupSize))),
                             parameters: ["first": UInt32(phase.lowerBound), "count": UInt32(phase.count), "stride": UInt32(stride),
                                          "layout": shape.layout, "opcode": shape.opcode, "tenant": shape.tenant, "priority": shape.priority])
            }
            let results = buffers.results!
            // Mapped memory can be write-combined (slow to read), so big control buffers come back
            // by the driver's copy from device memory instead of through the results mapping.
            let readControlFromDevice = !mappedState && batch.controlWords > Self.largeControlWords
            do throws(VyreGLError) {
                if mappedState {
                    _ = try context.submit(pipeline, steps: steps, buffers: handles)
                } else {
                    var copies = [BufferCopy(from: handles[MegakernelBindings.debug]!, to: results.value.handle, atWord: batch.controlWords, words: debugWords)]
                    if !readControlFromDevice {
                        copies.append(BufferCopy(from: handles[MegakernelBindings.control]!, to: results.value.handle, words: batch.controlWords))
                    }
                    _ = try context.submit(pipeline, steps: steps, buffers: handles,
                                           uploads: [BufferUpload(handles[MegakernelBindings.control]!, control),
                                                     BufferUpload(handles[MegakernelBindings.debug]!, [0])],
                                           copies: copies)
                }
            } catch {
                throw .device(error)
            }
            let submitted = clock.now

            let controlOut: [UInt32]
            let debugWordsOut: [UInt32]
            if mappedState {
                controlOut = buffers.mappedControl!.value.copyWhileIdle(words: 0..<batch.controlWords)
                debugWordsOut = buffers.mappedDebug!.value.copyWhileIdle(words: 0..<debugWords)
            } else {
                if readControlFromDevice {
                    do throws(VyreGLError) { controlOut = try buffers.control!.value.read(words: 0..<batch.controlWords) } catch { throw .device(error) }
                } else {
                    controlOut = results.value.copyWhileIdle(words: 0..<batch.controlWords)
                }
                debugWordsOut = results.value.copyWhileIdle(words: batch.controlWords..<(batch.controlWords + debugWords))
            }
            let debug: DebugLog
            do throws(ProtocolError) { debug = try RingReader.debugLog(debugWordsOut) } catch { throw .invalidBatch(error) }
            let reported = Int(exceptions.value.load(0))
            let kept = min(reported, (exceptionWords - 1) / 3)
            let records = exceptions.value.read(words: 1..<(1 + 3 * kept))
            var faults: [SlotFault] = []
            var pending: [Int] = []
            var unexpected: [(Int, UInt32)] = []
            var notDone = Set<Int>()
            for r in 0..<kept {
                let slot = Int(records[3 * r])
                notDone.insert(slot)
                switch SlotStatus(rawValue: records[3 * r + 1]) {
                case .fault: faults.append(SlotFault(slot: slot, reason: records[3 * r + 2]))
                case .published: pending.append(slot)
                default: unexpected.append((slot, records[3 * r + 1]))
                }
            }
            faults.sort { $0.slot < $1.slot }
            pending.sort()
            let completed = Self.countCompleted(batch.items, excluding: notDone)
            var extraOut: [String: [UInt32]] = [:]
            do throws(VyreGLError) {
                for (decl, words) in extra { extraOut[decl.name] = try arena.read(extraIndex[decl.name]!, words: words.count) }
            } catch {
                throw .device(error)
            }
            let end = clock.now
            return BatchResult(itemCount: batch.items.count, slots: slots, phases: steps.count, control: controlOut, debug: debug,
                               faults: faults, pending: pending, unexpected: unexpected, buffers: extraOut, completed: completed,
                               timing: BatchTiming(encode: encoded - start, gpu: submitted - encoded, decode: end - submitted))
        }
    }
}

/// A batch the host has checked against the protocol and a megakernel's extra buffers: what
/// ``Megakernel/run(_:)`` dispatches. Made by ``Batch/plan(extraBuffers:)``, which needs no GPU.
public struct BatchPlan: Sendable {
    public let slots: Int
    let shape: RecordShape
    let control: [UInt32]
    let extra: [(decl: BufferDecl, words: [UInt32])]
}

extension Batch {
    /// Checks the batch on the host (ring geometry, args per slot, the control buffer and debug
    /// log, the contents of `extraBuffers`) and returns what dispatching it needs. Throws the same
    /// typed errors ``Megakernel/run(_:)`` would, before anything reaches a device.
    public func plan(extraBuffers: [BufferDecl] = []) throws(MegakernelError) -> BatchPlan {
        let slots = self.slots ?? max(1, items.count)
        guard (1...RingProtocol.maxSlots).contains(slots) else {
            throw .invalidBatch(.invalidGeometry("\(slots) slots; a ring has 1 to \(RingProtocol.maxSlots). Fix: choose slots in that range"))
        }
        guard items.count <= slots else { throw .invalidBatch(.ringFull(items: items.count, slots: slots)) }
        let shape = RecordShape(items)
        if let bad = shape.tooManyArgs { throw .invalidBatch(.tooManyArgs(item: bad, count: items[bad].args.count)) }
        let control: [UInt32]
        do {
            control = try RingEncoding.control(words: controlWords, tenants: tenants, initial: self.control)
            _ = try RingEncoding.emptyDebugLog(records: debugRecords)
        } catch {
            throw .invalidBatch(error)
        }
        var extra: [(decl: BufferDecl, words: [UInt32])] = []
        for decl in extraBuffers {
            let needed = Int(decl.count ?? 1) * decl.elementType.wordCount
            let words = buffers[decl.name] ?? Array(repeating: 0, count: needed)
            guard !words.isEmpty, words.count >= Int(decl.count ?? 0) * decl.elementType.wordCount else {
                throw .invalidExtraBuffer("'\(decl.name)' was given \(words.count) words, it needs \(needed). Fix: pass that many words in the batch's \"buffers\", or leave it out to start it zeroed")
            }
            extra.append((decl, words))
        }
        if let unknown = buffers.keys.sorted().first(where: { name in !extraBuffers.contains { $0.name == name } }) {
            throw .invalidExtraBuffer("'\(quoteForMessage(unknown))' was given but the megakernel declares no such buffer. Fix: declare it among the megakernel's extra buffers (the opcode program's \"buffers\"), or drop it from the batch")
        }
        return BatchPlan(slots: slots, shape: shape, control: control, extra: extra)
    }
}

/// The programs the runtime builds, for inspection and golden files.
public enum MegakernelPrograms {
    /// The one-pass megakernel for `configuration` (what ``Megakernel`` compiles).
    public static func oneShot(configuration: MegakernelConfiguration) -> Program {
        var builder = MegakernelBuilder(opcodes: configuration.opcodes, extraBuffers: configuration.extraBuffers)
        return builder.oneShot(workgroupSize: configuration.workgroupSize)
    }
}

/// What one pass over a batch's items finds: the widest args, the first item with too many, and
/// how the records can be laid out (fields every item shares travel as parameters).
struct RecordShape {
    var layout: UInt32 = 0
    var opcode: UInt32 = 0
    var tenant: UInt32 = 0
    var priority: UInt32 = 0
    var maxArgs = 0
    var tooManyArgs: Int?

    /// Record words before the args.
    var header: Int { [3, 1, 0][Int(layout)] }

    private struct Partial: Sendable {
        var maxArgs = 0
        var tooManyArgs: Int?
        var sameTenantPriority = true
        var sameOpcode = true
    }

    /// One pass, in parallel chunks for large batches; fields are read in place (copying an item
    /// would retain its args array).
    init(_ items: [WorkItem]) {
        guard let first = items.first else { return }
        let parts = Mutex([Partial]())
        items.withUnsafeBufferPointer { buffer in
            let p = UnsafeSendable(buffer.baseAddress!)
            let count = buffer.count
            let chunk = Megakernel.chunk
            let chunks = (count + chunk - 1) / chunk
            let work: @Sendable (Int) -> Void = { c in
                var part = Partial()
                let items = p.value
                for i in (c * chunk)..<Swift.min(count, (c + 1) * chunk) {
                    let n = items[i].args.count
                    if n > part.maxArgs { part.maxArgs = n }
                    if n > RingProtocol.argsPerSlot && part.tooManyArgs == nil { part.tooManyArgs = i }
                    if items[i].tenant != first.tenant || items[i].priority != first.priority { part.sameTenantPriority = false }
                    if items[i].opcode != first.opcode { part.sameOpcode = false }
                }
                parts.withLock { $0.append(part) }
            }
            if chunks <= 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
        }
        let all = parts.withLock { $0 }
        maxArgs = all.map(\.maxArgs).max() ?? 0
        tooManyArgs = all.compactMap(\.tooManyArgs).min()
        guard all.allSatisfy(\.sameTenantPriority) else { return }
        layout = all.allSatisfy(\.sameOpcode) ? 2 : 1
        opcode = first.opcode
        tenant = first.tenant
        priority = first.priority.rawValue
    }
}

/// Hands a pointer to worker threads that touch disjoint ranges of it.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A reference to a non-copyable owner, so a set of owners can be replaced one by one and shared.
final class Owned<Value: ~Copyable>: @unchecked Sendable {
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}

/// Buffers kept between batches; each grows to the largest batch seen (dropping an owner frees
/// its buffer on the context thread).
struct ResidentBuffers {
    var control: Owned<DeviceBuffer>?
    var ring: Owned<DeviceBuffer>?
    var debug: Owned<DeviceBuffer>?
    var io: Owned<DeviceBuffer>?
    var items: Owned<MappedBuffer>?
    var exceptions: Owned<MappedBuffer>?
    var results: Owned<MappedBuffer>?
    var mappedControl: Owned<MappedBuffer>?
    var mappedDebug: Owned<MappedBuffer>?

    mutating func ensure(context: GLContext, ringWords: Int, controlWords: Int, debugWords: Int, itemWords: Int, exceptionWords: Int,
                         mappedState: Bool) throws(VyreGLError) {
        if mappedState {
            if (mappedControl?.value.byteCount ?? 0) < controlWords * 4 { mappedControl = Owned(try context.makeMappedBuffer(bytes: controlWords * 4)) }
            if (mappedDebug?.value.byteCount ?? 0) < debugWords * 4 { mappedDebug = Owned(try context.makeMappedBuffer(bytes: debugWords * 4)) }
        }
        if (control?.value.byteCount ?? 0) < controlWords * 4 { control = Owned(try context.makeDeviceBuffer(bytes: controlWords * 4)) }
        if (ring?.value.byteCount ?? 0) < ringWords * 4 { ring = Owned(try context.makeDeviceBuffer(bytes: ringWords * 4)) }
        if (debug?.value.byteCount ?? 0) < debugWords * 4 { debug = Owned(try context.makeDeviceBuffer(bytes: debugWords * 4)) }
        if io == nil { io = Owned(try context.makeDeviceBuffer(bytes: RingProtocol.IO.words * 4)) }
        if (items?.value.byteCount ?? 0) < itemWords * 4 { items = Owned(try context.makeMappedBuffer(bytes: itemWords * 4)) }
        if (exceptions?.value.byteCount ?? 0) < exceptionWords * 4 { exceptions = Owned(try context.makeMappedBuffer(bytes: exceptionWords * 4)) }
        if (results?.value.byteCount ?? 0) < (controlWords + debugWords) * 4 { results = Owned(try context.makeMappedBuffer(bytes: (controlWords + debugWords) * 4)) }
    }
}
