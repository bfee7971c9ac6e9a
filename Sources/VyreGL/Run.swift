public import VyreIR

/// Buffers after a run, by name, as little-endian words.
public struct RunResult: Sendable, Hashable {
    /// Every buffer the program declares, read back in full.
    public var buffers: [String: [UInt32]]
    /// The first trap and how many trapped; nil when no invocation trapped.
    public var trap: TrapReport?
    /// Compile and link time of the pipeline (from when it was made, for one compiled earlier).
    public var compileTime: Duration
    /// Submit to fence signalled, measured on the context thread.
    public var gpuTime: Duration
    /// The run ended by itself after its timeout: it had nothing that could be stopped, and its
    /// results are complete (see ``DispatchReport/ranPastTimeout``).
    public var ranPastTimeout: Bool
}

/// The buffers of a finished run, still on the device: read any range of any of them, so a caller
/// that shows 32 values of a gigabyte buffer reads back 32 values.
public struct RunOutput: ~Copyable {
    private let arena: BufferArena
    private let slots: [String: (index: Int, words: Int)]
    /// The first trap and how many trapped; nil when no invocation trapped.
    public let trap: TrapReport?
    /// Compile and link time of the pipeline (from when it was made, for one compiled earlier).
    public let compileTime: Duration
    /// Submit to fence signalled, measured on the context thread.
    public let gpuTime: Duration
    /// The run ended by itself after its timeout: it had nothing that could be stopped, and its
    /// results are complete (see ``DispatchReport/ranPastTimeout``).
    public let ranPastTimeout: Bool

    init(arena: consuming BufferArena, slots: [String: (index: Int, words: Int)], compileTime: Duration, report: DispatchReport) {
        self.arena = arena
        self.slots = slots
        self.trap = report.trap
        self.compileTime = compileTime
        self.gpuTime = report.gpuTime
        self.ranPastTimeout = report.ranPastTimeout
    }

    /// Words in buffer `name` (0 for a name the program does not declare).
    public func wordCount(_ name: String) -> Int { slots[name]?.words ?? 0 }

    /// Words `range` of buffer `name` (clamped to the buffer).
    public func read(_ name: String, words range: Range<Int>) throws(VyreGLError) -> [UInt32] {
        guard let slot = slots[name] else { throw .unknownBuffer(name) }
        let clamped = range.clamped(to: 0..<slot.words)
        return clamped.isEmpty ? [] : try arena.read(slot.index, words: clamped)
    }
}

extension GLContext {
    /// Compiles `program`, uploads `inputs` (buffers left out start zeroed at their declared
    /// count), dispatches `grid` workgroups, and reads every buffer back. The same contract as
    /// `Interpreter.run(_:grid:buffers:)`, so results can be compared word for word.
    public func run(_ program: Program, grid: WorkgroupSize, buffers inputs: [String: [UInt32]],
                    options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> RunResult {
        if let unknown = inputs.keys.sorted().first(where: { program.buffer(named: $0) == nil }) { throw .unknownBuffer(unknown) }
        let pipeline = try makePipeline(program)
        return try run(pipeline, grid: grid, buffers: inputs, options: options)
    }

    /// Runs an already compiled pipeline with fresh buffers (see ``run(_:grid:buffers:options:)``).
    public func run(_ pipeline: borrowing ComputePipeline, grid: WorkgroupSize, buffers inputs: [String: [UInt32]],
                    options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> RunResult {
        let output = try run(pipeline, grid: grid, contents: inputs.mapValues { .words($0) }, options: options)
        var out: [String: [UInt32]] = [:]
        for decl in pipeline.program.buffers { out[decl.name] = try output.read(decl.name, words: 0..<output.wordCount(decl.name)) }
        return RunResult(buffers: out, trap: output.trap, compileTime: output.compileTime, gpuTime: output.gpuTime, ranPastTimeout: output.ranPastTimeout)
    }

    /// Runs a compiled pipeline with fresh buffers and leaves them on the device for the caller
    /// to read (see ``RunOutput``). Every buffer is checked against the device's limits before
    /// anything is allocated.
    public func run(_ pipeline: borrowing ComputePipeline, grid: WorkgroupSize, contents inputs: [String: BufferContents],
                    options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> RunOutput {
        let program = pipeline.program
        let starting: [(decl: BufferDecl, contents: BufferContents)]
        do { starting = try program.startingContents(inputs) } catch {
            switch error {
            case .unknownBuffer(let name): throw .unknownBuffer(name)
            case .missingBuffer(let name): throw .missingBuffer(name)
            case .bufferTooSmall(let name, let words, let needed): throw .bufferTooSmall(name: name, bytes: words * 4, needed: needed * 4)
            }
        }
        for (decl, contents) in starting {
            let words = contents.wordCount
            if words <= 0 || words % decl.elementType.wordCount != 0 {
                throw .badBufferSize(name: decl.name, words: words, detail: words <= 0 ? "GL cannot bind an empty buffer" : "\(decl.elementType) elements take \(decl.elementType.wordCount) words each")
            }
            try checkBindable(decl.name, words: words)
        }
        var arena = BufferArena(context: self)
        var handles: [UInt32: BufferHandle] = [:]
        var slots: [String: (index: Int, words: Int)] = [:]
        for (decl, contents) in starting {
            let index = try arena.add(contents, mapped: decl.placement == .hostMapped)
            handles[decl.binding] = arena.handle(index)
            slots[decl.name] = (index, contents.wordCount)
        }
        let report = try dispatch(pipeline, groups: grid, buffers: handles, options: options)
        return RunOutput(arena: arena, slots: slots, compileTime: pipeline.compileTime, report: report)
    }
}
