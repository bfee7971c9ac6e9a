/// Collects statements written one per line inside a closure.
@resultBuilder
public enum NodeBuilder {
    public static func buildExpression(_ node: Node) -> [Node] { [node] }
    public static func buildExpression(_ nodes: [Node]) -> [Node] { nodes }
    public static func buildBlock(_ parts: [Node]...) -> [Node] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [Node]?) -> [Node] { part ?? [] }
    public static func buildEither(first: [Node]) -> [Node] { first }
    public static func buildEither(second: [Node]) -> [Node] { second }
    public static func buildArray(_ parts: [[Node]]) -> [Node] { parts.flatMap { $0 } }
}

extension Program {
    /// Builds a program whose entry reads like the kernel:
    /// ```swift
    /// let doubler = Program(buffers: [.init("data", binding: 0, access: .readWrite, type: .u32)],
    ///                       workgroupSize: WorkgroupSize(64)) {
    ///     Node.let("i", .globalID(.x))
    ///     Node.store("data", at: "i", .load("data", at: "i") * 2)
    /// }
    /// ```
    public init(buffers: [BufferDecl], shared: [SharedDecl] = [], workgroupSize: WorkgroupSize, @NodeBuilder entry: () -> [Node]) {
        self.init(buffers: buffers, shared: shared, workgroupSize: workgroupSize, entry: entry())
    }
}

extension Node {
    public static func store(_ memory: String, at index: Expr, _ value: Expr) -> Node { .store(memory, index: index, value: value) }

    public static func `if`(_ condition: Expr, @NodeBuilder then: () -> [Node], @NodeBuilder else otherwise: () -> [Node] = { [] }) -> Node {
        .if(condition, then: then(), else: otherwise())
    }

    public static func `for`(_ variable: String, from: Expr, to: Expr, @NodeBuilder body: () -> [Node]) -> Node {
        .for(variable, from: from, to: to, body: body())
    }

    public static func `while`(_ condition: Expr, maxIterations: Expr, @NodeBuilder body: () -> [Node]) -> Node {
        .while(condition, maxIterations: maxIterations, body: body())
    }

    public static func forever(@NodeBuilder _ body: () -> [Node]) -> Node { .forever(body()) }
    public static func block(@NodeBuilder _ body: () -> [Node]) -> Node { .block(body()) }
    public static func region(_ name: String, @NodeBuilder _ body: () -> [Node]) -> Node { .region(name, body()) }
}

extension Expr: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByStringLiteral {
    /// Integer literals are u32; use ``i32(_:)`` and friends for other types.
    public init(integerLiteral value: UInt32) { self = .literal(.u32(value)) }
    public init(floatLiteral value: Float) { self = .literal(.f32(value)) }
    public init(booleanLiteral value: Bool) { self = .literal(.bool(value)) }
    /// A string literal names a variable.
    public init(stringLiteral value: String) { self = .variable(value) }

    public static func u32(_ v: UInt32) -> Expr { .literal(.u32(v)) }
    public static func i32(_ v: Int32) -> Expr { .literal(.i32(v)) }
    public static func f32(_ v: Float) -> Expr { .literal(.f32(v)) }
    public static func u64(_ v: UInt64) -> Expr { .literal(.u64(v)) }
    public static func i64(_ v: Int64) -> Expr { .literal(.i64(v)) }
    public static func f64(_ v: Double) -> Expr { .literal(.f64(v)) }
    public static func bool(_ v: Bool) -> Expr { .literal(.bool(v)) }

    public static func globalID(_ axis: Axis) -> Expr { .builtin(.globalInvocationID(axis)) }
    public static func localID(_ axis: Axis) -> Expr { .builtin(.localInvocationID(axis)) }
    public static func workgroupID(_ axis: Axis) -> Expr { .builtin(.workgroupID(axis)) }
    public static func numWorkgroups(_ axis: Axis) -> Expr { .builtin(.numWorkgroups(axis)) }
    public static var localIndex: Expr { .builtin(.localInvocationIndex) }

    public static func load(_ memory: String, at index: Expr) -> Expr { .load(memory, index: index) }
    public static func min(_ a: Expr, _ b: Expr) -> Expr { .binary(.min, a, b) }
    public static func max(_ a: Expr, _ b: Expr) -> Expr { .binary(.max, a, b) }
    public static func atomic(_ op: AtomicOp, _ memory: String, at index: Expr, _ value: Expr) -> Expr {
        .atomic(op, memory, index: index, value: value)
    }
    public static func compareExchange(_ memory: String, at index: Expr, expected: Expr, desired: Expr) -> Expr {
        .compareExchange(memory, index: index, expected: expected, desired: desired)
    }

    public func cast(to type: DataType) -> Expr { .cast(type, self) }
    public func bitcast(to type: DataType) -> Expr { .bitcast(type, self) }
    public func equals(_ other: Expr) -> Expr { .binary(.eq, self, other) }
    public func notEquals(_ other: Expr) -> Expr { .binary(.ne, self, other) }
    public func apply(_ op: UnaryOp) -> Expr { .unary(op, self) }

    public static func + (a: Expr, b: Expr) -> Expr { .binary(.add, a, b) }
    public static func - (a: Expr, b: Expr) -> Expr { .binary(.sub, a, b) }
    public static func * (a: Expr, b: Expr) -> Expr { .binary(.mul, a, b) }
    public static func / (a: Expr, b: Expr) -> Expr { .binary(.div, a, b) }
    public static func % (a: Expr, b: Expr) -> Expr { .binary(.rem, a, b) }
    public static func & (a: Expr, b: Expr) -> Expr { .binary(.and, a, b) }
    public static func | (a: Expr, b: Expr) -> Expr { .binary(.or, a, b) }
    public static func ^ (a: Expr, b: Expr) -> Expr { .binary(.xor, a, b) }
    public static func << (a: Expr, b: Expr) -> Expr { .binary(.shl, a, b) }
    public static func >> (a: Expr, b: Expr) -> Expr { .binary(.shr, a, b) }
    public static func < (a: Expr, b: Expr) -> Expr { .binary(.lt, a, b) }
    public static func <= (a: Expr, b: Expr) -> Expr { .binary(.le, a, b) }
    public static func > (a: Expr, b: Expr) -> Expr { .binary(.gt, a, b) }
    public static func >= (a: Expr, b: Expr) -> Expr { .binary(.ge, a, b) }
    public static func && (a: Expr, b: Expr) -> Expr { .binary(.logicalAnd, a, b) }
    public static func || (a: Expr, b: Expr) -> Expr { .binary(.logicalOr, a, b) }
    public static prefix func - (a: Expr) -> Expr { .unary(.negate, a) }
    public static prefix func ! (a: Expr) -> Expr { .unary(.not, a) }
    public static prefix func ~ (a: Expr) -> Expr { .unary(.bitNot, a) }
}
