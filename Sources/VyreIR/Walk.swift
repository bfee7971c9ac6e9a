/// The one way to walk a program: every pass that visits nodes or expressions goes through the
/// child lists and paths here, so the path a diagnostic prints, the path the analysis records a
/// type under, and the path the GLSL writer looks it up by are the same string.
///
/// A path names a place from the entry: `entry[3]` is a statement, `entry[3].then[0]` one nested
/// in its then-branch, `entry[3].then[0].value.lhs` an expression inside that statement.
/// The labels paths give the parts of statements and expressions: the keys and indices of the
/// program's JSON form, so the path in a diagnostic (`entry[2].while`, `entry[0].value.args[1]`)
/// can be followed in the file as written. Every pass builds paths from these.
public enum PathLabel {
    public static let value = "value"
    public static let index = "index"
    public static let ifCondition = "if"
    public static let then = "then"
    public static let `else` = "else"
    public static let from = "from"
    public static let to = "to"
    public static let body = "body"
    public static let whileCondition = "while"
    public static let maxIterations = "max_iterations"
    public static let forever = "forever"
    public static let block = "block"
    public static let trapCode = "trap"
    public static let expected = "expected"
    public static let desired = "desired"
    /// Operand `i` of an operator (`{"op": ..., "args": [...]}`).
    public static func argument(_ i: Int) -> String { "args[\(i)]" }
    /// Item `i` of `{"select": [condition, if_true, if_false]}`.
    public static func select(_ i: Int) -> String { "select[\(i)]" }
    /// Item `i` of `{"fma": [a, b, c]}`.
    public static func fma(_ i: Int) -> String { "fma[\(i)]" }
    /// A field of an async copy (`async_load.source_offset`).
    public static func copy(_ isLoad: Bool, _ field: String) -> String { "\(isLoad ? "async_load" : "async_store").\(field)" }
}

extension Expr {
    /// Direct sub-expressions with their path labels, in evaluation order.
    public var labeledChildren: [(label: String, expr: Expr)] {
        switch self {
        case .literal, .variable, .length, .builtin, .parameter: []
        case .load(_, let i): [(PathLabel.index, i)]
        case .unary(_, let a): [(PathLabel.argument(0), a)]
        case .cast(_, let a), .bitcast(_, let a): [(PathLabel.value, a)]
        case .binary(_, let a, let b): [(PathLabel.argument(0), a), (PathLabel.argument(1), b)]
        case .select(let c, let a, let b): [(PathLabel.select(0), c), (PathLabel.select(1), a), (PathLabel.select(2), b)]
        case .fma(let a, let b, let c): [(PathLabel.fma(0), a), (PathLabel.fma(1), b), (PathLabel.fma(2), c)]
        case .atomic(_, _, let i, let v): [(PathLabel.index, i), (PathLabel.value, v)]
        case .compareExchange(_, let i, let e, let d): [(PathLabel.index, i), (PathLabel.expected, e), (PathLabel.desired, d)]
        }
    }

    /// Direct sub-expressions, in evaluation order.
    public var children: [Expr] { labeledChildren.map(\.expr) }

    /// The expression with every direct sub-expression replaced by `transform` of it, in
    /// evaluation order; the operator, names and types stay.
    public func mapChildren(_ transform: (Expr) throws -> Expr) rethrows -> Expr {
        switch self {
        case .literal, .variable, .length, .builtin, .parameter: self
        case .load(let m, let i): .load(m, index: try transform(i))
        case .unary(let op, let a): .unary(op, try transform(a))
        case .binary(let op, let a, let b): .binary(op, try transform(a), try transform(b))
        case .select(let c, let a, let b): .select(try transform(c), try transform(a), try transform(b))
        case .cast(let t, let a): .cast(t, try transform(a))
        case .bitcast(let t, let a): .bitcast(t, try transform(a))
        case .fma(let a, let b, let c): .fma(try transform(a), try transform(b), try transform(c))
        case .atomic(let op, let m, let i, let v): .atomic(op, m, index: try transform(i), value: try transform(v))
        case .compareExchange(let m, let i, let x, let d):
            .compareExchange(m, index: try transform(i), expected: try transform(x), desired: try transform(d))
        }
    }
}

extension Node {
    /// The node with its expressions replaced by `expression` of each and its bodies by `body` of
    /// each, in the order ``expressions`` and ``bodies`` list them.
    public func mapChildren(expression: (Expr) throws -> Expr, body: ([Node]) throws -> [Node]) rethrows -> Node {
        switch self {
        case .let(let name, let v): return .let(name, try expression(v))
        case .assign(let name, let v): return .assign(name, try expression(v))
        case .store(let m, let i, let v): return .store(m, index: try expression(i), value: try expression(v))
        case .if(let c, let t, let e): return .if(try expression(c), then: try body(t), else: try body(e))
        case .for(let name, let f, let t, let b): return .for(name, from: try expression(f), to: try expression(t), body: try body(b))
        case .while(let c, let m, let b):
            // Listed (and so evaluated) maximum first: see `expressions`.
            let max = try expression(m)
            return .while(try expression(c), maxIterations: max, body: try body(b))
        case .forever(let b): return .forever(try body(b))
        case .block(let b): return .block(try body(b))
        case .region(let name, let b): return .region(name, try body(b))
        case .asyncLoad(let c): return .asyncLoad(try c.mapOperands(expression))
        case .asyncStore(let c): return .asyncStore(try c.mapOperands(expression))
        case .trap(let c): return .trap(try expression(c))
        case .return, .break, .continue, .barrier, .asyncWait: return self
        }
    }
}

extension AsyncCopy {
    func mapOperands(_ transform: (Expr) throws -> Expr) rethrows -> AsyncCopy {
        AsyncCopy(tag: tag, source: source, sourceOffset: try transform(sourceOffset), destination: destination,
                  destinationOffset: try transform(destinationOffset), count: try transform(count))
    }
}

/// A read-only pass over a program: ``Program/walk(_:)`` calls it for every statement and every
/// expression, parents before children, with the path and nesting depth of each (a top-level
/// statement has depth 1; each statement, body and expression level below adds one).
public protocol ProgramVisitor {
    /// Called for each statement, before its expressions and bodies.
    mutating func visit(_ node: Node, at path: String, depth: Int)
    /// Called for each expression, before its operands.
    mutating func visit(_ expr: Expr, at path: String, depth: Int)
}

extension ProgramVisitor {
    /// Does nothing, so a visitor implements only the kinds it needs.
    public mutating func visit(_ node: Node, at path: String, depth: Int) {}
    /// Does nothing, so a visitor implements only the kinds it needs.
    public mutating func visit(_ expr: Expr, at path: String, depth: Int) {}
}

extension Program {
    /// Runs `visitor` over every statement and expression of the entry, in program order.
    public func walk<V: ProgramVisitor>(_ visitor: inout V) {
        Self.walk(entry, at: "entry", depth: 1, &visitor)
    }

    private static func walk<V: ProgramVisitor>(_ nodes: [Node], at path: String, depth: Int, _ visitor: inout V) {
        for (i, n) in nodes.enumerated() {
            let p = "\(path)[\(i)]"
            visitor.visit(n, at: p, depth: depth)
            for (label, e) in n.expressions { walk(e, at: "\(p).\(label)", depth: depth + 1, &visitor) }
            for (label, b) in n.bodies { walk(b, at: "\(p).\(label)", depth: depth + 1, &visitor) }
        }
    }

    private static func walk<V: ProgramVisitor>(_ e: Expr, at path: String, depth: Int, _ visitor: inout V) {
        visitor.visit(e, at: path, depth: depth)
        for (label, c) in e.labeledChildren { walk(c, at: "\(path).\(label)", depth: depth + 1, &visitor) }
    }
}

/// Nested scopes of names, innermost last: the one scope stack of the validator, the interpreter's
/// compiler and anything else that resolves variables. Programs never shadow a visible name (the
/// validator refuses it), so a lookup finds at most one binding.
public struct Scopes<Value> {
    private var stack: [[String: Value]] = [[:]]

    /// A stack holding one empty outermost scope.
    public init() {}

    /// Opens a scope, optionally with bindings already in it.
    public mutating func push(_ bindings: [String: Value] = [:]) { stack.append(bindings) }
    /// Closes the innermost scope. Pushes and pops must pair; the outermost scope stays.
    public mutating func pop() {
        precondition(stack.count > 1, "Scopes.pop() without a matching push()")
        stack.removeLast()
    }

    /// Binds `name` in the innermost scope.
    public mutating func declare(_ name: String, _ value: Value) { stack[stack.count - 1][name] = value }

    /// The innermost binding of `name`, or nil; one dictionary lookup per open scope.
    public subscript(name: String) -> Value? {
        for scope in stack.reversed() { if let v = scope[name] { return v } }
        return nil
    }

    /// Changes the innermost binding of `name`, if there is one.
    public mutating func update(_ name: String, _ change: (inout Value) -> Void) {
        for i in stack.indices.reversed() where stack[i][name] != nil {
            change(&stack[i][name]!)
            return
        }
    }
}
