/// The flat form the interpreter runs: expressions with variables resolved to registers and
/// memories resolved to indices, statements turned into jumps so an invocation can stop at a
/// barrier and resume later.
indirect enum RExpr {
    case constant(Value)
    case register(Int)
    case load(memory: Int, index: RExpr)
    case length(memory: Int)
    case builtin(Builtin)
    case parameter(String)
    case unary(UnaryOp, RExpr)
    case binary(BinaryOp, RExpr, RExpr)
    case select(RExpr, RExpr, RExpr)
    case cast(DataType, RExpr)
    case bitcast(DataType, RExpr)
    case fma(RExpr, RExpr, RExpr)
    case atomic(AtomicOp, memory: Int, index: RExpr, value: RExpr)
    case compareExchange(memory: Int, index: RExpr, expected: RExpr, desired: RExpr)
}

enum Instruction {
    case set(Int, RExpr)
    case store(memory: Int, index: RExpr, value: RExpr)
    case branchIfFalse(RExpr, target: Int)
    case jump(Int)
    /// Evaluates both bounds once into the loop variable and its hidden end register.
    case forInit(variable: Int, end: Int, from: RExpr, to: RExpr)
    case forCheck(variable: Int, end: Int, exit: Int)
    case increment(Int)
    case counterInit(counter: Int, limit: Int, limitValue: RExpr?)
    /// Exits when the counter reached its limit or the condition is false, else counts one iteration.
    case loopCheck(counter: Int, limit: Int, condition: RExpr?, exit: Int)
    case barrier(BarrierKind)
    case copy(source: Int, sourceOffset: RExpr, destination: Int, destinationOffset: RExpr, count: RExpr)
    case finish
    case trap(RExpr)
    /// Marks the end of an async wait; the interpreter copies eagerly, so nothing is left to do.
    case nop
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
    let memoryIndex: [String: Int]
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

    init(program: Program, memoryIndex: [String: Int]) {
        self.program = program
        self.memoryIndex = memoryIndex
        out.foreverBudgetRegister = newRegister()
    }

    static func compile(_ validated: ValidatedProgram, memoryIndex: [String: Int]) -> CompiledProgram {
        var c = InterpreterCompiler(program: validated.program, memoryIndex: memoryIndex)
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

    private func resolve(_ e: Expr) -> RExpr {
        switch e {
        case .literal(let v): return .constant(v)
        case .variable(let n): return .register(register(of: n))
        case .load(let m, let i): return .load(memory: memoryIndex[m]!, index: resolve(i))
        case .length(let m): return .length(memory: memoryIndex[m]!)
        case .builtin(let b): return .builtin(b)
        case .parameter(let n): return .parameter(n)
        case .unary(let op, let a): return .unary(op, resolve(a))
        case .binary(let op, let a, let b): return .binary(op, resolve(a), resolve(b))
        case .select(let c, let a, let b): return .select(resolve(c), resolve(a), resolve(b))
        case .cast(let t, let a): return .cast(t, resolve(a))
        case .bitcast(let t, let a): return .bitcast(t, resolve(a))
        case .fma(let a, let b, let c): return .fma(resolve(a), resolve(b), resolve(c))
        case .atomic(let op, let m, let i, let v): return .atomic(op, memory: memoryIndex[m]!, index: resolve(i), value: resolve(v))
        case .compareExchange(let m, let i, let x, let d):
            return .compareExchange(memory: memoryIndex[m]!, index: resolve(i), expected: resolve(x), desired: resolve(d))
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
            emit(.store(memory: memoryIndex[m]!, index: resolve(i), value: resolve(v)))
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
            emit(.copy(source: memoryIndex[c.source]!, sourceOffset: resolve(c.sourceOffset),
                       destination: memoryIndex[c.destination]!, destinationOffset: resolve(c.destinationOffset), count: resolve(c.count)))
        case .asyncWait:
            emit(.nop)
        case .trap(let code):
            emit(.trap(resolve(code)))
        }
    }
}
