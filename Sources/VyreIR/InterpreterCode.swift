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
    private var scopes: [[String: (register: Int, type: DataType)]] = [[:]]
    /// Per enclosing loop: where `continue` goes, and the jumps to patch with the loop's exit.
    private var loops: [(continueTarget: Int, breakJumps: [Int])] = []

    init(program: Program, memoryIndex: [String: Int]) {
        self.program = program
        self.memoryIndex = memoryIndex
        out.foreverBudgetRegister = newRegister()
    }

    static func compile(_ program: Program, memoryIndex: [String: Int]) throws(TypeIssue) -> CompiledProgram {
        var c = InterpreterCompiler(program: program, memoryIndex: memoryIndex)
        try c.body(program.entry)
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

    private var environment: TypeEnvironment {
        let scopes = self.scopes
        return TypeEnvironment(program: program) { name in
            for s in scopes.reversed() { if let v = s[name] { return v.type } }
            return nil
        }
    }

    private func register(of name: String) -> Int {
        for s in scopes.reversed() { if let v = s[name] { return v.register } }
        preconditionFailure("variable \(name) passed validation")
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

    private mutating func body(_ nodes: [Node]) throws(TypeIssue) {
        scopes.append([:])
        for n in nodes { try node(n) }
        scopes.removeLast()
    }

    private mutating func loop(continueTarget: Int, check: Int, _ nodes: [Node], step: [Instruction]) throws(TypeIssue) {
        loops.append((continueTarget, []))
        try body(nodes)
        for i in step { emit(i) }
        emit(.jump(check))
        let exit = here
        patch(check, to: exit)
        for j in loops.removeLast().breakJumps { patch(j, to: exit) }
    }

    private mutating func node(_ n: Node) throws(TypeIssue) {
        switch n {
        case .let(let name, let value):
            let t = try Typing.infer(value, in: environment)
            let r = newRegister()
            emit(.set(r, resolve(value)))
            scopes[scopes.count - 1][name] = (r, t)
        case .assign(let name, let value):
            emit(.set(register(of: name), resolve(value)))
        case .store(let m, let i, let v):
            emit(.store(memory: memoryIndex[m]!, index: resolve(i), value: resolve(v)))
        case .if(let c, let t, let e):
            let branch = emit(.branchIfFalse(resolve(c), target: -1))
            try body(t)
            if e.isEmpty {
                patch(branch, to: here)
            } else {
                let skip = emit(.jump(-1))
                patch(branch, to: here)
                try body(e)
                patch(skip, to: here)
            }
        case .for(let name, let from, let to, let nodes):
            let t = try Typing.infer(from, in: environment)
            let v = newRegister()
            let end = newRegister()
            emit(.forInit(variable: v, end: end, from: resolve(from), to: resolve(to)))
            let check = emit(.forCheck(variable: v, end: end, exit: -1))
            scopes.append([name: (v, t)])
            // `continue` must reach the increment, whose index is only known after the body.
            loops.append((-1, []))
            try body(nodes)
            let increment = emit(.increment(v))
            emit(.jump(check))
            let exit = here
            patch(check, to: exit)
            let frame = loops.removeLast()
            for j in frame.breakJumps {
                if case .jump(-2) = out.code[j] { patch(j, to: increment) } else { patch(j, to: exit) }
            }
            scopes.removeLast()
        case .while(let c, let max, let nodes):
            let counter = newRegister()
            let limit = newRegister()
            emit(.counterInit(counter: counter, limit: limit, limitValue: resolve(max)))
            let check = emit(.loopCheck(counter: counter, limit: limit, condition: resolve(c), exit: -1))
            try loop(continueTarget: check, check: check, nodes, step: [])
        case .forever(let nodes):
            let counter = newRegister()
            emit(.counterInit(counter: counter, limit: out.foreverBudgetRegister, limitValue: nil))
            let check = emit(.loopCheck(counter: counter, limit: out.foreverBudgetRegister, condition: nil, exit: -1))
            try loop(continueTarget: check, check: check, nodes, step: [])
        case .block(let nodes), .region(_, let nodes):
            try body(nodes)
        case .return:
            emit(.finish)
        case .break:
            let j = emit(.jump(-1))
            loops[loops.count - 1].breakJumps.append(j)
        case .continue:
            let target = loops[loops.count - 1].continueTarget
            if target >= 0 {
                emit(.jump(target))
            } else {
                // For-loops: a placeholder the loop patches to its increment.
                let j = emit(.jump(-2))
                loops[loops.count - 1].breakJumps.append(j)
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
