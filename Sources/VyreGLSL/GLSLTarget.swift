public import VyreIR

/// The shading language a target compiles: desktop GLSL 4.30 or GLSL ES for OpenGL ES 3.1 and 3.2.
public enum ShadingLanguage: String, Sendable, Hashable, Codable, CaseIterable {
    /// GLSL 4.30 (OpenGL 4.3 core).
    case glsl430 = "GLSL 4.30"
    /// GLSL ES 3.10 (OpenGL ES 3.1): no `precise` without `GL_EXT_gpu_shader5`, no doubles.
    case essl310 = "GLSL ES 3.10"
    /// GLSL ES 3.20 (OpenGL ES 3.2): `precise` and `fma` are core, still no doubles.
    case essl320 = "GLSL ES 3.20"

    /// Whether this is a GLSL ES dialect.
    public var isES: Bool { self != .glsl430 }

    /// The first line of a shader in this language.
    public var versionLine: String {
        switch self {
        case .glsl430: "#version 430"
        case .essl310: "#version 310 es"
        case .essl320: "#version 320 es"
        }
    }
}

/// What the generated GLSL may assume about the device that compiles it.
///
/// Every "can the target do X" question goes through ``supports(_:)``: the writer never compares
/// versions itself, so a new dialect changes one predicate (as naga's `Version::supports_*` do).
public struct GLSLTarget: Sendable, Hashable {
    /// The language the source is written in.
    public var language: ShadingLanguage
    /// GLSL extensions the device's compiler offers that the writer may enable
    /// (`GL_EXT_gpu_shader5` or `GL_OES_gpu_shader5` give `precise` to GLSL ES 3.10).
    public var extensions: Set<String>
    /// Optional types the device offers; lowering a program that uses another fails with
    /// ``GLSLError/missingFeature(_:path:)``.
    public var capabilities: Set<Capability>
    /// The run-time checks written into every loop. All of them unless a benchmark measures their cost.
    public var guards: LoopGuards
    /// The loop limit of the device, as the context's probe found it; nil when it found none.
    /// Loops are guarded against cuts only where there is a limit, and where it is a budget per
    /// invocation abort polling happens once, as an invocation starts.
    public var loopLimit: LoopLimit?

    /// A target with `capabilities`; by default every loop guard and no loop limit (so no cut
    /// detection).
    public init(capabilities: Set<Capability>, guards: LoopGuards = .all, loopLimit: LoopLimit? = nil,
                language: ShadingLanguage = .glsl430, extensions: Set<String> = []) {
        self.language = language
        self.extensions = extensions
        self.capabilities = language.isES ? [] : capabilities
        self.guards = guards
        self.loopLimit = loopLimit
    }

    /// Plain GLSL 4.30: no 64-bit integers, doubles not assumed.
    public static let gl43 = GLSLTarget(capabilities: [])
    /// GLSL 4.30 with every optional capability (for offline tools such as glslangValidator).
    public static let gl43Full = GLSLTarget(capabilities: Set(Capability.allCases))
    /// GLSL ES 3.10 with no extension: what every OpenGL ES 3.1 driver compiles (no `precise`, so
    /// float arithmetic is kept exact by the written-out form; no 64-bit types).
    public static let es31 = GLSLTarget(capabilities: [], language: .essl310)
    /// GLSL ES 3.20, with `precise`.
    public static let es32 = GLSLTarget(capabilities: [], language: .essl320)

    /// Whether the target has `feature`: the one question the writer asks about the device.
    public func supports(_ feature: Feature) -> Bool {
        switch feature {
        // GLSL ES has no 64-bit types that a driver would offer through an extension vyre-gl
        // knows, so the capabilities are empty there (see `init`).
        case .int64: capabilities.contains(.int64)
        case .float64: capabilities.contains(.float64)
        case .precise: language != .essl310 || !extensions.isDisjoint(with: Self.preciseExtensions)
        case .doubleType: !language.isES
        }
    }

    /// The `#extension` line that enables `feature` on this target, when it needs one.
    func extensionLine(for feature: Feature) -> String? {
        switch feature {
        case .int64 where !language.isES:
            "#extension GL_ARB_gpu_shader_int64 : require // u64 and i64 (and double bit casts)"
        case .precise where language == .essl310:
            Self.preciseExtensions.sorted().first(where: extensions.contains).map { "#extension \($0) : require // precise" }
        default: nil
        }
    }

    /// The GLSL extensions the writer may use where a device offers them (the context reports
    /// which of these it has).
    public static var knownExtensions: Set<String> { preciseExtensions }

    /// The GLSL ES 3.10 extensions that add `precise`.
    static let preciseExtensions: Set<String> = ["GL_EXT_gpu_shader5", "GL_OES_gpu_shader5"]
}

/// A device's limit on loop iterations: the driver ends loops past it and carries on after them
/// (Mesa's llvmpipe: 65,535 iterations per invocation, shared by all its loops).
public enum LoopLimit: Sendable, Hashable {
    /// One budget of this many iterations for all loops of an invocation, however they nest. Then
    /// no invocation can run away inside its loops, and a timeout only has to stop invocations
    /// that have not started.
    case perInvocation(UInt32)
    /// Each loop ends after this many iterations of its own.
    case perLoop(UInt32)

    /// A limit of `iterations`, one budget for all of an invocation's loops when `perInvocation`.
    public init(iterations: UInt32, perInvocation: Bool) {
        self = perInvocation ? .perInvocation(iterations) : .perLoop(iterations)
    }

    /// Iterations after which the driver ends a loop (or, per invocation, all of its loops together).
    public var iterations: UInt32 {
        switch self {
        case .perInvocation(let n), .perLoop(let n): n
        }
    }

    /// Whether one budget covers all loops of an invocation.
    public var isPerInvocation: Bool {
        if case .perInvocation = self { return true }
        return false
    }
}

/// Checks the lowering writes into every loop, so that no driver limit or runaway program can give
/// a silently wrong answer or a dispatch that never ends (see `docs/semantics.md`).
public struct LoopGuards: OptionSet, Sendable, Hashable {
    /// The guards as bits.
    public let rawValue: UInt8
    /// Guards from their bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// On a target with a loop limit, each loop checks after it ends whether it still had trips to
    /// run and took no break of its own; such a loop was stopped by the driver and is reported
    /// through the status block.
    public static let detectDriverCuts = LoopGuards(rawValue: 1)
    /// Programs that loop read the host-writable abort word and end the invocation once the host
    /// has set it (timeouts): every 4096th loop trip of an invocation, or only as the invocation
    /// starts where the target's loop limit is per invocation (no started invocation runs long).
    public static let pollAbort = LoopGuards(rawValue: 2)

    /// Every guard: the default, and what any run whose results matter needs.
    public static let all: LoopGuards = [.detectDriverCuts, .pollAbort]
    /// No checks: only for measuring what they cost.
    public static let none: LoopGuards = []
}

/// A language feature a program may need, or the writer may use, beyond what every target has.
public enum Feature: String, Sendable, Hashable, CaseIterable {
    /// 64-bit integer types and double bit casts (`GL_ARB_gpu_shader_int64`).
    case int64
    /// Double-precision arithmetic (core since GLSL 4.00, but optional on some drivers).
    case float64
    /// The `precise` qualifier (GLSL 4.00, GLSL ES 3.20, or `GL_EXT_gpu_shader5`); without it the
    /// writer keeps float arithmetic exact by hiding each result from the compiler's folds.
    case precise
    /// `double` as a type, which makes the exact product of two floats for `fma` (desktop GLSL);
    /// without it `fma` is computed in integer arithmetic.
    case doubleType
}

/// Why a program cannot be lowered for a target.
public enum GLSLError: DiagnosticError, Sendable, Hashable {
    /// The program does not validate (only from `Program.lowerToGLSL(target:)`, which validates
    /// first).
    case invalidProgram(ValidationFailure)
    /// The program needs a feature the target lacks; `path` is an IR node that needs it.
    case missingFeature(Feature, path: String)

    /// The error as diagnostics with a Fix (a validation failure keeps all of its errors).
    public var diagnostics: [Diagnostic] {
        switch self {
        case .invalidProgram(let f):
            return f.diagnostics.map { $0.within("cannot lower an invalid program") }
        case .missingFeature(let f, let path):
            let fix = f == .int64 ? "use 32-bit types, or run on a desktop GL device that offers GL_ARB_gpu_shader_int64 (GLSL ES has no 64-bit types)" : "use f32, or run on a desktop GL device with double-precision support (GLSL ES has no doubles)"
            return [Diagnostic("needs the \(f.rawValue) feature, which this target lacks", at: path, fix: fix)]
        }
    }
}

/// Where a line of generated GLSL came from.
public struct SourceLocation: Sendable, Hashable {
    /// The IR node path, e.g. `entry[3].then[0]`; nil for declarations and helpers.
    public var path: String?
    /// The innermost IR region around that node.
    public var region: String?
}

/// A program lowered to compute source for a target, with what the runtime needs to run it.
public struct LoweredProgram: Sendable, Hashable {
    /// The whole compute shader, from the `#version` line to the end of `main`.
    public var source: String
    /// Binding of the status block (see ``StatusWord``): the host's abort word, the trap record and
    /// the driver-cut record. Present when the program can trap or loops with guards.
    public var statusBinding: UInt32?
    /// The IR node path of each guarded loop, by the site number the status block reports.
    public var loopSites: [String]
    /// The program reads the `loop_cuts` builtin, so it handles loops the driver cut short itself
    /// (the megakernel faults the slot); the runtime then reports cuts instead of failing the run.
    public var handlesLoopCuts: Bool
    /// Name of the `uint` uniform holding the iteration budget of `forever` loops, when present.
    public var foreverBudgetUniform: String?
    /// For each runtime-sized buffer whose length the program uses: the `uint` uniform the host
    /// sets to its element count. Lengths come from the host because `length()` is unreliable
    /// on some drivers (NVIDIA 580 returns 0 for a block the shader only measures).
    public var lengthUniforms: [String: String]
    /// For each IR parameter: the `uint` uniform that carries it.
    public var parameterUniforms: [String: String]
    /// Features the source requires (each has its `#extension` line where one exists).
    public var features: Set<Feature>
    /// One entry per source line (index = line number - 1).
    public var lines: [SourceLocation]

    /// Assembles a lowered program. The writer makes these; hand-written GLSL gets one with no status
    /// block and no line map, to be compiled as a driver check.
    public init(source: String, statusBinding: UInt32?, loopSites: [String] = [], handlesLoopCuts: Bool = false,
                foreverBudgetUniform: String?, lengthUniforms: [String: String] = [:],
                parameterUniforms: [String: String] = [:], features: Set<Feature>, lines: [SourceLocation]) {
        self.parameterUniforms = parameterUniforms
        self.source = source
        self.statusBinding = statusBinding
        self.loopSites = loopSites
        self.handlesLoopCuts = handlesLoopCuts
        self.foreverBudgetUniform = foreverBudgetUniform
        self.lengthUniforms = lengthUniforms
        self.features = features
        self.lines = lines
    }

    /// The IR location of a 1-based GLSL line, as compilers report them.
    public func location(ofLine line: Int) -> SourceLocation? {
        lines.indices.contains(line - 1) ? lines[line - 1] : nil
    }

    /// Layout of the status block, a host-mapped buffer of `uint` words.
    public enum StatusWord {
        /// Written by the host: non-zero asks every running invocation to stop at its next poll.
        /// Programs only read it: the host knows it set the word, and a submission that ran into
        /// its timeout is reported as one whether or not an invocation saw the word. (llvmpipe
        /// runs both sides of a branch under a lane mask, so a store or atomic on the stopping
        /// path would cost every invocation that polls, though none ever takes it.)
        public static let abort = 0
        /// Invocations that trapped; the first (the one whose add saw 0) writes its code and index.
        public static let trapCount = 1
        /// The trap code of the first invocation that trapped.
        public static let trapCode = 2
        /// Linear global index of the first invocation that trapped.
        public static let trapInvocation = 3
        /// Invocations in which the driver ended a loop before its own exit, counted as they end;
        /// the first writes the site of its first cut loop and its index.
        public static let cutInvocations = 4
        /// The site number (an index into ``LoweredProgram/loopSites``) of that invocation's first
        /// cut loop.
        public static let cutSite = 5
        /// Linear global index of the first invocation that recorded a cut.
        public static let cutInvocation = 6
        /// Set by the first record of each kind above (a trap, a cut), so after a submission where
        /// nothing happened the host reads this one word (mapped memory can be slow for the CPU to
        /// read). One atomic per record and plain stores otherwise: llvmpipe pays for an atomic on
        /// every lane of every pass through the code, taken or not.
        public static let events = 7
        /// Words in the block; those past ``events`` are unused.
        public static let words = 16
    }
}
