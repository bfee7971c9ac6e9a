public import VyreIR

/// Buffers after a run, by name, as little-endian words.
public struct RunResult: Sendable, Hashable {
    public var buffers: [String: [UInt32]]
    public var trap: TrapReport?
    public var compileTime: Duration
    public var gpuTime: Duration
}

extension GLContext {
    /// Compiles `program`, uploads `inputs` (buffers left out start zeroed at their declared
    /// count), dispatches `grid` workgroups, and reads every buffer back. The same contract as
    /// ``Interpreter/run(_:grid:buffers:)``, so results can be compared word for word.
    public func run(_ program: Program, grid: WorkgroupSize, buffers inputs: [String: [UInt32]],
                    options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> RunResult {
        if let unknown = inputs.keys.sorted().first(where: { program.buffer(named: $0) == nil }) { throw .unknownBuffer(unknown) }
        let pipeline = try makePipeline(program)
        return try run(pipeline, grid: grid, buffers: inputs, options: options)
    }

    /// Runs an already compiled pipeline with fresh buffers (see ``run(_:grid:buffers:options:)``).
    public func run(_ pipeline: borrowing ComputePipeline, grid: WorkgroupSize, buffers inputs: [String: [UInt32]],
                    options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> RunResult {
        let program = pipeline.program
        var arena = BufferArena(context: self)
        var handles: [UInt32: BufferHandle] = [:]
        var slots: [String: (index: Int, words: Int)] = [:]
        for decl in program.buffers {
            let words: [UInt32]
            if let given = inputs[decl.name] {
                words = given
            } else if let count = decl.count {
                words = Array(repeating: 0, count: Int(count) * decl.elementType.wordCount)
            } else {
                throw .missingBuffer(decl.name)
            }
            if words.isEmpty || words.count % decl.elementType.wordCount != 0 {
                throw .badBufferSize(name: decl.name, words: words.count, detail: words.isEmpty ? "GL cannot bind an empty buffer" : "\(decl.elementType) elements take \(decl.elementType.wordCount) words each")
            }
            if let count = decl.count, words.count < Int(count) * decl.elementType.wordCount {
                throw .bufferTooSmall(name: decl.name, bytes: words.count * 4, needed: Int(count) * decl.elementType.byteCount)
            }
            let index = try arena.add(words: words, mapped: decl.placement == .hostMapped)
            handles[decl.binding] = arena.handle(index)
            slots[decl.name] = (index, words.count)
        }
        let report = try dispatch(pipeline, groups: grid, buffers: handles, options: options)
        var out: [String: [UInt32]] = [:]
        for decl in program.buffers {
            let slot = slots[decl.name]!
            out[decl.name] = try arena.read(slot.index, words: slot.words)
        }
        return RunResult(buffers: out, trap: report.trap, compileTime: pipeline.compileTime, gpuTime: report.gpuTime)
    }
}
