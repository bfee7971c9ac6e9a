/// The CPU reference interpreter: runs a program exactly by the documented semantics.
///
/// It is the oracle GPU results are compared against, not a fast path. Workgroups run one after
/// another; the invocations of a workgroup run one at a time in local-index order up to the next
/// barrier, so between barriers every invocation makes progress before any passes the barrier.
/// Memory is sequentially consistent. A step budget ends runaway programs with an error.
public struct Interpreter: Sendable {
    /// What a run may spend and what it is given beyond its buffers.
    public struct Options: Sendable, Hashable {
        /// Instructions (plus copied elements) the whole run may execute.
        public var stepBudget: Int
        /// Iterations each `forever` loop may run before it ends by itself (the GPU's budget uniform).
        public var foreverBudget: UInt32
        /// What programs are validated against; a program validated for wider limits is checked again.
        public var limits: Limits
        /// Values of the program's `parameter` expressions (a missing one is an error).
        public var parameters: [String: UInt32]

        /// The defaults suit tests: no device's limits, and budgets that end a runaway program with an
        /// error instead of hanging.
        public init(stepBudget: Int = 200_000_000, foreverBudget: UInt32 = 1 << 14, limits: Limits = .unrestricted, parameters: [String: UInt32] = [:]) {
            self.stepBudget = stepBudget
            self.foreverBudget = foreverBudget
            self.limits = limits
            self.parameters = parameters
        }
    }

    public var options: Options
    /// An interpreter; cheap, it keeps nothing between runs.
    public init(options: Options = Options()) { self.options = options }

    /// Validates `program` for ``Options/limits`` and runs it: the `ValidatedProgram` overload for a
    /// program not validated yet.
    public func run(_ program: Program, grid: WorkgroupSize, buffers: [String: [UInt32]]) throws(InterpreterError) -> InterpreterResult {
        let validated: ValidatedProgram
        do { validated = try program.validated(limits: options.limits) } catch { throw .invalidProgram(error) }
        return try run(validated, grid: grid, buffers: buffers)
    }

    /// Runs `validated` over `grid` workgroups. `buffers` maps buffer names to their contents as
    /// little-endian 32-bit words; a buffer left out starts zeroed at its declared count. A
    /// program validated for limits wider than ``Options/limits`` is checked again for them.
    public func run(_ validated: ValidatedProgram, grid: WorkgroupSize, buffers: [String: [UInt32]]) throws(InterpreterError) -> InterpreterResult {
        let validated = try Self.checked(validated, for: options.limits)
        let program = validated.program
        guard grid.x > 0, grid.y > 0, grid.z > 0 else {
            throw .invalidGrid("grid \(grid) has an empty axis")
        }
        let starting: [(decl: BufferDecl, contents: BufferContents)]
        do { starting = try program.startingContents(buffers.mapValues { .words($0) }) } catch { throw .input(error) }
        if let missing = validated.analysis.parameters.sorted().first(where: { options.parameters[$0] == nil }) {
            throw .missingParameter(missing)
        }

        var memories: [String: Memory] = [:]
        for (decl, contents) in starting {
            let words = contents.materialized
            let elements = decl.count.map(Int.init) ?? words.count / decl.elementType.wordCount
            memories[decl.name] = Memory(words: words, type: decl.elementType, elements: elements)
        }
        let shared = program.shared.map { s in
            Memory(words: Array(repeating: 0, count: Int(s.count) * s.elementType.wordCount), type: s.elementType, elements: Int(s.count))
        }
        for (s, m) in zip(program.shared, shared) { memories[s.name] = m }

        let run = RunContext(memories: memories, parameters: options.parameters, grid: grid, size: program.workgroupSize)
        let code = InterpreterCompiler.compile(validated, for: run)
        var machine = Machine(code: code, shared: shared, grid: grid, size: program.workgroupSize, options: options)
        try machine.runAll()

        var out: [String: [UInt32]] = [:]
        for b in program.buffers { out[b.name] = memories[b.name]!.words }
        return InterpreterResult(buffers: out, traps: machine.traps, steps: machine.steps)
    }

    private static func checked(_ validated: ValidatedProgram, for limits: Limits) throws(InterpreterError) -> ValidatedProgram {
        do { return try validated.revalidated(for: limits) } catch { throw .invalidProgram(error) }
    }
}

/// What a run left behind.
public struct InterpreterResult: Sendable, Hashable {
    /// Every buffer's final contents, by name.
    public var buffers: [String: [UInt32]]
    /// Every trap, in the order the interpreter executed them.
    public var traps: [TrapRecord]
    /// Steps the run took, counted as for ``Interpreter/Options/stepBudget``.
    public var steps: Int
}

/// An invocation that ended with a trap.
public struct TrapRecord: Sendable, Hashable {
    /// Linear global invocation index: `x + y * width + z * width * height`, with width and height
    /// the grid's extent in invocations.
    public var invocation: UInt32
    /// The value of the trap's code expression.
    public var code: UInt32

    /// A trap record, for comparing another run's traps with the interpreter's.
    public init(invocation: UInt32, code: UInt32) {
        self.invocation = invocation
        self.code = code
    }
}

/// Why the interpreter did not run a program to the end. A trap is not an error: it ends one
/// invocation and is recorded in ``InterpreterResult/traps``.
public enum InterpreterError: DiagnosticError, Sendable, Hashable {
    case invalidProgram(ValidationFailure)
    case invalidGrid(String)
    /// The given buffers do not fit the program (the same checks a device run makes).
    case input(InputError)
    case stepBudgetExceeded(Int)
    case barrierDivergence(workgroup: String, detail: String)
    case missingParameter(String)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .invalidProgram(let f): return f.diagnostics
        case .invalidGrid(let s): return [Diagnostic("\(s)", fix: "dispatch at least one workgroup on every axis")]
        case .input(let e): return e.diagnostics
        case .stepBudgetExceeded(let b): return [Diagnostic("the program ran past the interpreter's budget of \(b) steps", fix: "bound its loops, or raise Interpreter.Options.stepBudget")]
        case .barrierDivergence(let wg, let d): return [Diagnostic("workgroup \(wg): \(d); a workgroup barrier must be reached by every invocation", fix: "keep barriers out of divergent control flow")]
        case .missingParameter(let n): return [Diagnostic("the program reads parameter '\(quoteForMessage(n))' but no value was given", fix: "pass it in Interpreter.Options.parameters (or DispatchOptions.parameters on a device)")]
        }
    }
}

final class Memory {
    var words: [UInt32]
    let type: DataType
    let elements: Int

    init(words: [UInt32], type: DataType, elements: Int) {
        self.words = words
        self.type = type
        self.elements = elements
    }

    func load(_ index: UInt32) -> Value {
        let i = Int(index)
        guard i < elements else { return .zero(type) }
        if type.is64Bit {
            return Value(type: type, bits: UInt64(words[2 * i]) | UInt64(words[2 * i + 1]) << 32)
        }
        return Value(type: type, bits: UInt64(words[i]))
    }

    func store(_ index: UInt32, _ value: Value) {
        let i = Int(index)
        guard i < elements else { return }
        if type.is64Bit {
            words[2 * i] = UInt32(truncatingIfNeeded: value.bits)
            words[2 * i + 1] = UInt32(truncatingIfNeeded: value.bits >> 32)
        } else {
            words[i] = UInt32(truncatingIfNeeded: value.bits)
        }
    }
}

private struct Machine {
    let code: [Instruction]
    let registerCount: Int
    let budgetRegister: Int
    /// The workgroup's shared arrays, zeroed before each workgroup runs.
    let shared: [Memory]
    let grid: WorkgroupSize
    let size: WorkgroupSize
    let options: Interpreter.Options
    var steps = 0
    var traps: [TrapRecord] = []
    var workgroup: (UInt32, UInt32, UInt32) = (0, 0, 0)

    init(code: CompiledProgram, shared: [Memory], grid: WorkgroupSize, size: WorkgroupSize, options: Interpreter.Options) {
        self.code = code.code
        self.registerCount = code.registerCount
        self.budgetRegister = code.foreverBudgetRegister
        self.shared = shared
        self.grid = grid
        self.size = size
        self.options = options
    }

    mutating func runAll() throws(InterpreterError) {
        for wz in 0..<grid.z { for wy in 0..<grid.y { for wx in 0..<grid.x {
            workgroup = (wx, wy, wz)
            for m in shared { for i in m.words.indices { m.words[i] = 0 } }
            try runWorkgroup()
        } } }
    }

    private mutating func runWorkgroup() throws(InterpreterError) {
        var invocations: [Invocation] = []
        var registers = Array(repeating: Value.u32(0), count: registerCount)
        registers[budgetRegister] = .u32(options.foreverBudget)
        var index: UInt32 = 0
        for z in 0..<size.z { for y in 0..<size.y { for x in 0..<size.x {
            invocations.append(Invocation(registers: registers, local: (x, y, z), localIndex: index, workgroup: workgroup))
            index += 1
        } } }
        while true {
            for i in invocations.indices where !invocations[i].finished {
                try runUntilBarrier(&invocations[i])
            }
            let waiting = invocations.filter { !$0.finished }
            if waiting.isEmpty { return }
            let where_ = "(\(workgroup.0), \(workgroup.1), \(workgroup.2))"
            if waiting.count != invocations.count {
                throw .barrierDivergence(workgroup: where_, detail: "\(invocations.count - waiting.count) invocations ended while \(waiting.count) wait at a barrier")
            }
            let pcs = Set(waiting.map(\.pc))
            if pcs.count > 1 {
                throw .barrierDivergence(workgroup: where_, detail: "invocations wait at \(pcs.count) different barriers")
            }
            for i in invocations.indices { invocations[i].pc += 1 }
        }
    }

    /// Runs one invocation until it finishes or stops at a workgroup barrier (pc left on it).
    private mutating func runUntilBarrier(_ inv: inout Invocation) throws(InterpreterError) {
        while true {
            steps += 1
            if steps > options.stepBudget { throw .stepBudgetExceeded(options.stepBudget) }
            switch code[inv.pc] {
            case .set(let r, let e):
                inv.registers[r] = e(&inv)
            case .store(let m, let i, let v):
                let index = i(&inv)
                let value = v(&inv)
                m.store(index.u32, value)
            case .branchIfFalse(let c, let target):
                if !c(&inv).bool { inv.pc = target; continue }
            case .jump(let target):
                inv.pc = target
                continue
            case .forInit(let v, let end, let from, let to):
                inv.registers[v] = from(&inv)
                inv.registers[end] = to(&inv)
            case .forCheck(let v, let end, let exit):
                if !Semantics.binary(.lt, inv.registers[v], inv.registers[end]).bool { inv.pc = exit; continue }
            case .increment(let r):
                inv.registers[r] = Semantics.binary(.add, inv.registers[r], Value(type: inv.registers[r].type, bits: 1))
            case .counterInit(let counter, let limit, let limitValue):
                inv.registers[counter] = .u32(0)
                if let limitValue { inv.registers[limit] = limitValue(&inv) }
            case .loopCheck(let counter, let limit, let condition, let exit):
                let n = inv.registers[counter].u32
                if n >= inv.registers[limit].u32 { inv.pc = exit; continue }
                if let condition, !condition(&inv).bool { inv.pc = exit; continue }
                inv.registers[counter] = .u32(n + 1)
            case .barrier(let kind):
                if kind == .workgroup { return }
            case .copy(let src, let so, let dst, let dOff, let count):
                let s = so(&inv).u32
                let d = dOff(&inv).u32
                let n = count(&inv).u32
                steps += Int(n)
                if steps > options.stepBudget { throw .stepBudgetExceeded(options.stepBudget) }
                for k in 0..<n {
                    // Indices past UInt32 wrap like the GLSL loop's uint arithmetic.
                    dst.store(d &+ k, src.load(s &+ k))
                }
            case .nop:
                break
            case .finish:
                inv.finished = true
                return
            case .trap(let c):
                let code = c(&inv).u32
                traps.append(TrapRecord(invocation: linearInvocation(inv), code: code))
                inv.finished = true
                return
            }
            inv.pc += 1
        }
    }

    private func global(_ inv: Invocation) -> (UInt32, UInt32, UInt32) {
        (workgroup.0 &* size.x &+ inv.local.0, workgroup.1 &* size.y &+ inv.local.1, workgroup.2 &* size.z &+ inv.local.2)
    }

    private func linearInvocation(_ inv: Invocation) -> UInt32 {
        let g = global(inv)
        let width = grid.x &* size.x
        let height = grid.y &* size.y
        return g.0 &+ g.1 &* width &+ g.2 &* width &* height
    }
}

extension Value {
    /// The value as u32 (validated contexts only: indices, counts, codes).
    var u32: UInt32 { UInt32(truncatingIfNeeded: bits) }
    var bool: Bool { bits != 0 }
}
