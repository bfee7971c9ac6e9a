/// The flat form the interpreter runs: statements turned into jumps, so an invocation can stop at a
/// barrier and resume later, and each expression compiled once into a closure with its variables
/// resolved to registers and its memories, parameters and grid captured: evaluating it walks no
/// names and no second expression type.
typealias Evaluate = (inout Invocation) -> Value

enum Instruction {
    case set(Int, Evaluate)
    case store(memory: Memory, index: Evaluate, value: Evaluate)
    case branchIfFalse(Evaluate, target: Int)
    case jump(Int)
    /// Evaluates both bounds once into the loop variable and its hidden end register.
    case forInit(variable: Int, end: Int, from: Evaluate, to: Evaluate)
    case forCheck(variable: Int, end: Int, exit: Int)
    case increment(Int)
    case counterInit(counter: Int, limit: Int, limitValue: Evaluate?)
    /// Exits when the counter reached its limit or the condition is false, else counts one iteration.
    case loopCheck(counter: Int, limit: Int, condition: Evaluate?, exit: Int)
    case barrier(BarrierKind)
    case copy(source: Memory, sourceOffset: Evaluate, destination: Memory, destinationOffset: Evaluate, count: Evaluate)
    case finish
    case trap(Evaluate)
    /// Marks the end of an async wait; the interpreter copies eagerly, so nothing is left to do.
    case nop
}

/// One invocation's state: where it is, its registers, and the ids its builtins read.
struct Invocation {
    var pc = 0
    var registers: [Value]
    var finished = false
    let local: (UInt32, UInt32, UInt32)
    let localIndex: UInt32
    let workgroup: (UInt32, UInt32, UInt32)
}

/// What a run's expressions capture: the memories, the parameter values, the grid.
struct RunContext {
    let memories: [String: Memory]
    let parameters: [String: UInt32]
    let grid: WorkgroupSize
    let size: WorkgroupSize
}

struct CompiledProgram {
    var code: [Instruction] = []
    var registerCount = 0
    /// Register holding the host's budget for `forever` loops.
    var foreverBudgetRegister = 0
}

/// Lowers a validated program to ``CompiledProgram``.
struct InterpreterCompiler {
    let program: Program
    let run: RunContext
    var out = CompiledProgram()
    /// The register of every variable in scope.
    private var scopes = Scopes<Int>()
    private var loops: [LoopFrame] = []

    /// An enclosing loop's jumps.
    private struct LoopFrame {
        /// Where `continue` goes, when that is known before the body: while and forever loops
        /// continue at their check. Nil for a for-loop, which continues at its increment.
        var continueTarget: Int?
        /// Continues written before their target was known, patched once the loop's step is.
        var pendingContinues: [Int] = []
        /// Breaks, patched with the loop's exit.
        var breakJumps: [Int] = []
    }

    init(program: Program, run: RunContext) {
        self.program = program
        self.run = run
        out.foreverBudgetRegister = newRegister()
    }

    static func compile(_ validated: ValidatedProgram, for run: RunContext) -> CompiledProgram {
        var c = InterpreterCompiler(program: validated.program, run: run)
        c.body(validated.program.entry)
        c.emit(.finish)
        return c.out
    }

    private mutating func newRegister() -> Int {
        out.registerCount += 1
        return out.registerCount - 1
    }

    @discardableResult
    private mutating func emit(_ i: Instruction) -> Int {
        out.code.append(i)
        return out.code.count - 1
    }

    private var here: Int { out.code.count }

    private mutating func patch(_ at: Int, to target: Int) {
        switch out.code[at] {
        case .jump: out.code[at] = .jump(target)
        case .branchIfFalse(let c, _): out.code[at] = .branchIfFalse(c, target: target)
        case .forCheck(let v, let e, _): out.code[at] = .forCheck(variable: v, end: e, exit: target)
        case .loopCheck(let c, let l, let cond, _): out.code[at] = .loopCheck(counter: c, limit: l, condition: cond, exit: target)
        default: preconditionFailure("patching a non-jump")
        }
    }

    private func register(of name: String) -> Int {
        guard let r = scopes[name] else { preconditionFailure("variable \(name) passed validation") }
        return r
    }

    private func memory(_ name: String) -> Memory {
        guard let m = run.memories[name] else { preconditionFailure("memory \(name) passed validation") }
        return m
    }

    /// `e` as a closure, by the rules of ``Semantics``: every operand evaluated, left to right.
    private func resolve(_ e: Expr) -> Evaluate {
        switch e {
        case .literal(let v):
            return { _ in v }
        case .variable(let n):
            let r = register(of: n)
            return { $0.registers[r] }
        case .load(let m, let i):
            let (memory, index) = (memory(m), resolve(i))
            return { memory.load(index(&$0).u32) }
        case .length(let m):
            let count = Value.u32(UInt32(truncatingIfNeeded: memory(m).elements))
            return { _ in count }
        case .builtin(let b):
            return builtin(b)
        case .parameter(let n):
            let v = Value.u32(run.parameters[n] ?? 0)
            return { _ in v }
        case .unary(let op, let a):
            let x = resolve(a)
            return { Semantics.unary(op, x(&$0)) }
        case .binary(let op, let a, let b):
            let (x, y) = (resolve(a), resolve(b))
            return { f in
                let l = x(&f)
                return Semantics.binary(op, l, y(&f))
            }
        case .select(let c, let a, let b):
            let (cond, x, y) = (resolve(c), resolve(a), resolve(b))
            return { f in
                let take = cond(&f).bool
                let l = x(&f)
                let r = y(&f)
                return take ? l : r
            }
        case .cast(let t, let a):
            let x = resolve(a)
            return { Semantics.cast(t, x(&$0)) }
        case .bitcast(let t, let a):
            let x = resolve(a)
            return { Semantics.bitcast(t, x(&$0)) }
        case .fma(let a, let b, let c):
            let (x, y, z) = (resolve(a), resolve(b), resolve(c))
            return { f in
                let p = x(&f)
                let q = y(&f)
                return Semantics.fma(p, q, z(&f))
            }
        case .atomic(let op, let m, let i, let v):
            let (memory, index, operand) = (memory(m), resolve(i), resolve(v))
            return { f in
                let at = index(&f).u32
                let value = operand(&f)
                guard Int(at) < memory.elements else { return .zero(memory.type) }
                let old = memory.load(at)
                memory.store(at, Semantics.atomic(op, old: old, operand: value))
                return old
            }
        case .compareExchange(let m, let i, let x, let d):
            let (memory, index, expected, desired) = (memory(m), resolve(i), resolve(x), resolve(d))
            return { f in
                let at = index(&f).u32
                let want = expected(&f)
                let new = desired(&f)
                guard Int(at) < memory.elements else { return .zero(memory.type) }
                let old = memory.load(at)
                if old == want { memory.store(at, new) }
                return old
            }
        }
    }

    private func builtin(_ b: Builtin) -> Evaluate {
        let size = run.size
        switch b {
        case .globalInvocationID(let a):
            let width = size[a]
            return { .u32(Self.component($0.workgroup, a) &* width &+ Self.component($0.local, a)) }
        case .localInvocationID(let a): return { .u32(Self.component($0.local, a)) }
        case .workgroupID(let a): return { .u32(Self.component($0.workgroup, a)) }
        case .numWorkgroups(let a):
            let n = Value.u32(run.grid[a])
            return { _ in n }
        case .localInvocationIndex: return { .u32($0.localIndex) }
        // The interpreter has no loop limit: no loop is ever cut short.
        case .loopCuts: return { _ in .u32(0) }
        }
    }

    private static func component(_ v: (UInt32, UInt32, UInt32), _ a: Axis) -> UInt32 {
        switch a {
        case .x: v.0
        case .y: v.1
        case .z: v.2
        }
    }

    private mutating func body(_ nodes: [Node]) {
        scopes.push()
        for n in nodes { node(n) }
        scopes.pop()
    }

    /// The body of a loop whose check is at `check`, then its `step` and the jump back to the
    /// check; patches the check, the breaks and any pending continues.
    private mutating func loop(continueTarget: Int?, check: Int, _ nodes: [Node], step: [Instruction]) {
        loops.append(LoopFrame(continueTarget: continueTarget))
        body(nodes)
        let stepStart = here
        for i in step { emit(i) }
        emit(.jump(check))
        let exit = here
        patch(check, to: exit)
        let frame = loops.removeLast()
        for j in frame.breakJumps { patch(j, to: exit) }
        for j in frame.pendingContinues { patch(j, to: stepStart) }
    }

    private mutating func node(_ n: Node) {
        switch n {
        case .let(let name, let value):
            let r = newRegister()
            emit(.set(r, resolve(value)))
            scopes.declare(name, r)
        case .assign(let name, let value):
            emit(.set(register(of: name), resolve(value)))
        case .store(let m, let i, let v):
            emit(.store(memory: memory(m), index: resolve(i), value: resolve(v)))
        case .if(let c, let t, let e):
            let branch = emit(.branchIfFalse(resolve(c), target: -1))
            body(t)
            if e.isEmpty {
                patch(branch, to: here)
            } else {
                let skip = emit(.jump(-1))
                patch(branch, to: here)
                body(e)
                patch(skip, to: here)
            }
        case .for(let name, let from, let to, let nodes):
            let v = newRegister()
            let end = newRegister()
            emit(.forInit(variable: v, end: end, from: resolve(from), to: resolve(to)))
            let check = emit(.forCheck(variable: v, end: end, exit: -1))
            scopes.push([name: v])
            // `continue` reaches the increment, whose index is known only after the body.
            loop(continueTarget: nil, check: check, nodes, step: [.increment(v)])
            scopes.pop()
        case .while(let c, let max, let nodes):
            let counter = newRegister()
            let limit = newRegister()
            emit(.counterInit(counter: counter, limit: limit, limitValue: resolve(max)))
            let check = emit(.loopCheck(counter: counter, limit: limit, condition: resolve(c), exit: -1))
            loop(continueTarget: check, check: check, nodes, step: [])
        case .forever(let nodes):
            let counter = newRegister()
            emit(.counterInit(counter: counter, limit: out.foreverBudgetRegister, limitValue: nil))
            let check = emit(.loopCheck(counter: counter, limit: out.foreverBudgetRegister, condition: nil, exit: -1))
            loop(continueTarget: check, check: check, nodes, step: [])
        case .block(let nodes), .region(_, let nodes):
            body(nodes)
        case .return:
            emit(.finish)
        case .break:
            let j = emit(.jump(-1))
            loops[loops.count - 1].breakJumps.append(j)
        case .continue:
            if let target = loops[loops.count - 1].continueTarget {
                emit(.jump(target))
            } else {
                loops[loops.count - 1].pendingContinues.append(emit(.jump(-1)))
            }
        case .barrier(let kind):
            emit(.barrier(kind))
        case .asyncLoad(let c), .asyncStore(let c):
            emit(.copy(source: memory(c.source), sourceOffset: resolve(c.sourceOffset),
                       destination: memory(c.destination), destinationOffset: resolve(c.destinationOffset), count: resolve(c.count)))
        case .asyncWait:
            emit(.nop)
        case .trap(let code):
            emit(.trap(resolve(code)))
        }
    }
}
