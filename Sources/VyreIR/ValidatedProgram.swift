/// A program that passed validation, with what validation learned about it.
///
/// The GLSL writer, the interpreter and `makePipeline` take only this, so a program is validated
/// and hashed once however many passes follow. Build one with ``Program/validated(limits:)``;
/// it is a value and can be kept, compared and shared across threads.
public struct ValidatedProgram: Sendable, Hashable {
    public let program: Program
    /// The limits the program was checked against.
    public let limits: Limits
    public let analysis: ProgramAnalysis
    /// SHA-256 of the canonical wire bytes (see ``Program/contentHash``), computed once here.
    public let contentHash: ContentHash

    init(program: Program, limits: Limits, analysis: ProgramAnalysis) {
        self.program = program
        self.limits = limits
        self.analysis = analysis
        self.contentHash = program.contentHash
    }

    /// This program validated for `limits`: itself when the limits it passed are no wider than
    /// `limits` (nothing to check again), else the program checked again for `limits`.
    public func revalidated(for limits: Limits) throws(ValidationFailure) -> ValidatedProgram {
        if limits.admits(self.limits) { return self }
        return try program.validated(limits: limits)
    }
}

/// Facts about a valid program that every later pass needs, found once by validation (naga keeps
/// the same in its `ModuleInfo`).
public struct ProgramAnalysis: Sendable, Hashable {
    /// The type of every expression, by path (`entry[2].value.lhs`; see ``Program/walk(_:)``).
    public var types: [String: DataType] = [:]
    /// Names of every `parameter` the program reads.
    public var parameters: Set<String> = []
    /// Memories whose element count the program needs: read by `length`, or accessed by a load,
    /// store, atomic or copy (each bounds-checked against the count).
    public var sizedMemories: Set<String> = []
    /// Memories the program both reads (loads, atomics, copies) and writes (stores, atomics,
    /// copies), so that invocations may see each other's writes through them.
    public var sharedData: Set<String> = []
    /// The program loops: an IR loop, or an async copy (copied element by element).
    public var containsLoop = false
    public var containsTrap = false
    /// Every 64-bit type a declaration or expression names, in program order.
    public var wideTypes: [WideTypeUse] = []

    /// The type of the expression at `path` (a path the validator saw).
    public func type(at path: String) -> DataType {
        guard let t = types[path] else { preconditionFailure("no expression at \(path) in a validated program") }
        return t
    }
}

/// A place where a program names a 64-bit type, so the target needs 64-bit support.
public struct WideTypeUse: Sendable, Hashable {
    public var type: DataType
    public var path: String
    /// The type is the target of a bit cast.
    public var isBitcast: Bool
}

extension Program {
    /// Validates the program for `limits` and returns it with its analysis, or throws every
    /// problem at once. Costs one walk of the program plus its content hash.
    public func validated(limits: Limits = .gl43) throws(ValidationFailure) -> ValidatedProgram {
        var v = Validator(program: self, limits: limits)
        v.run()
        if !v.errors.isEmpty { throw ValidationFailure(errors: v.errors) }
        var facts = FactCollector()
        for (i, b) in buffers.enumerated() where b.elementType.is64Bit {
            facts.analysis.wideTypes.append(WideTypeUse(type: b.elementType, path: "buffers[\(i)]", isBitcast: false))
        }
        for (i, s) in shared.enumerated() where s.elementType.is64Bit {
            facts.analysis.wideTypes.append(WideTypeUse(type: s.elementType, path: "shared[\(i)]", isBitcast: false))
        }
        walk(&facts)
        var analysis = facts.finished()
        analysis.types = v.types
        return ValidatedProgram(program: self, limits: limits, analysis: analysis)
    }
}

/// The analysis facts that need no types, gathered in one walk.
private struct FactCollector: ProgramVisitor {
    var analysis = ProgramAnalysis()
    private var reads: Set<String> = []
    private var writes: Set<String> = []

    mutating func visit(_ node: Node, at path: String, depth: Int) {
        switch node {
        case .store(let m, _, _):
            writes.insert(m)
            analysis.sizedMemories.insert(m)
        case .for, .while, .forever:
            analysis.containsLoop = true
        case .asyncLoad(let c), .asyncStore(let c):
            analysis.containsLoop = true
            reads.insert(c.source)
            writes.insert(c.destination)
            analysis.sizedMemories.formUnion([c.source, c.destination])
        case .trap:
            analysis.containsTrap = true
        default:
            break
        }
    }

    func finished() -> ProgramAnalysis {
        var a = analysis
        a.sharedData = reads.intersection(writes)
        return a
    }

    mutating func visit(_ expr: Expr, at path: String, depth: Int) {
        switch expr {
        case .parameter(let name):
            analysis.parameters.insert(name)
        case .length(let m):
            analysis.sizedMemories.insert(m)
        case .load(let m, _):
            reads.insert(m)
            analysis.sizedMemories.insert(m)
        case .atomic(_, let m, _, _), .compareExchange(let m, _, _, _):
            reads.insert(m)
            writes.insert(m)
            analysis.sizedMemories.insert(m)
        case .literal(let v) where v.type.is64Bit:
            analysis.wideTypes.append(WideTypeUse(type: v.type, path: path, isBitcast: false))
        case .cast(let t, _) where t.is64Bit:
            analysis.wideTypes.append(WideTypeUse(type: t, path: path, isBitcast: false))
        case .bitcast(let t, _) where t.is64Bit:
            analysis.wideTypes.append(WideTypeUse(type: t, path: path, isBitcast: true))
        default:
            break
        }
    }
}

extension Limits {
    /// Whether every program valid for `other` is valid for these limits: no limit of `other` is
    /// wider than the same limit here.
    public func admits(_ other: Limits) -> Bool {
        Axis.allCases.allSatisfy { other.maxWorkgroupSize[$0] <= maxWorkgroupSize[$0] }
            && other.maxWorkgroupInvocations <= maxWorkgroupInvocations
            && other.maxSharedMemoryBytes <= maxSharedMemoryBytes
            && other.maxStorageBuffers <= maxStorageBuffers
            && other.maxBindings <= maxBindings
            && other.maxStorageBlockBytes <= maxStorageBlockBytes
            && other.maxNestingDepth <= maxNestingDepth
            && other.maxProgramSize <= maxProgramSize
            && other.capabilities.isSubset(of: capabilities)
    }
}
