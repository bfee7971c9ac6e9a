/// Collects statements written one per line inside a closure.
@resultBuilder
public enum NodeBuilder {
    /// One statement line: a list of one.
    public static func buildExpression(_ node: Node) -> [Node] { [node] }
    /// A line that is already a list of statements (a helper returning `[Node]`), spliced in.
    public static func buildExpression(_ nodes: [Node]) -> [Node] { nodes }
    /// The lines of the closure, joined in order.
    public static func buildBlock(_ parts: [Node]...) -> [Node] { parts.flatMap { $0 } }
    /// A Swift `if` without `else` in the closure: its statements, or none. The Swift condition is
    /// decided when the program is built; `Node.if` makes a condition the kernel tests.
    public static func buildOptional(_ part: [Node]?) -> [Node] { part ?? [] }
    /// The first branch of a Swift `if`/`else` or `switch`, chosen when the program is built.
    public static func buildEither(first: [Node]) -> [Node] { first }
    /// The second branch of a Swift `if`/`else` or `switch`, chosen when the program is built.
    public static func buildEither(second: [Node]) -> [Node] { second }
    /// A Swift `for` loop in the closure: its statements once per iteration, so the loop is unrolled
    /// into the program.
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
    /// `memory[index] = value` as a ``Node/store(_:index:value:)`` statement.
    public static func store(_ memory: String, at index: Expr, _ value: Expr) -> Node { .store(memory, index: index, value: value) }

    /// An `if` statement with builder branches; `else` may be left out.
    public static func `if`(_ condition: Expr, @NodeBuilder then: () -> [Node], @NodeBuilder else otherwise: () -> [Node] = { [] }) -> Node {
        .if(condition, then: then(), else: otherwise())
    }

    /// `for variable in from ..< to` with a builder body.
    public static func `for`(_ variable: String, from: Expr, to: Expr, @NodeBuilder body: () -> [Node]) -> Node {
        .for(variable, from: from, to: to, body: body())
    }

    /// A `while` loop with a builder body, run at most `maxIterations` times.
    public static func `while`(_ condition: Expr, maxIterations: Expr, @NodeBuilder body: () -> [Node]) -> Node {
        .while(condition, maxIterations: maxIterations, body: body())
    }

    /// A `forever` loop with a builder body: it ends by `break`, `return` or the host's budget.
    public static func forever(@NodeBuilder _ body: () -> [Node]) -> Node { .forever(body()) }
    /// A nested scope with a builder body.
    public static func block(@NodeBuilder _ body: () -> [Node]) -> Node { .block(body()) }
    /// A named region with a builder body; the name shows in diagnostics and generated source.
    public static func region(_ name: String, @NodeBuilder _ body: () -> [Node]) -> Node { .region(name, body()) }
}

extension Expr: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByStringLiteral {
    /// Integer literals are u32; use ``i32(_:)`` and friends for other types.
    public init(integerLiteral value: UInt32) { self = .literal(.u32(value)) }
    /// Float literals are f32; use ``f64(_:)`` for doubles.
    public init(floatLiteral value: Float) { self = .literal(.f32(value)) }
    /// `true` and `false` are bool literals.
    public init(booleanLiteral value: Bool) { self = .literal(.bool(value)) }
    /// A string literal names a variable.
    public init(stringLiteral value: String) { self = .variable(value) }

    /// A u32 literal.
    public static func u32(_ v: UInt32) -> Expr { .literal(.u32(v)) }
    /// An i32 literal (bare integer literals are u32).
    public static func i32(_ v: Int32) -> Expr { .literal(.i32(v)) }
    /// An f32 literal.
    public static func f32(_ v: Float) -> Expr { .literal(.f32(v)) }
    /// A u64 literal; the program then needs the int64 capability.
    public static func u64(_ v: UInt64) -> Expr { .literal(.u64(v)) }
    /// An i64 literal; the program then needs the int64 capability.
    public static func i64(_ v: Int64) -> Expr { .literal(.i64(v)) }
    /// An f64 literal; the program then needs the float64 capability.
    public static func f64(_ v: Double) -> Expr { .literal(.f64(v)) }
    /// A bool literal.
    public static func bool(_ v: Bool) -> Expr { .literal(.bool(v)) }

    /// The invocation's id in the whole grid along `axis` (u32).
    public static func globalID(_ axis: Axis) -> Expr { .builtin(.globalInvocationID(axis)) }
    /// The invocation's id inside its workgroup along `axis` (u32).
    public static func localID(_ axis: Axis) -> Expr { .builtin(.localInvocationID(axis)) }
    /// The id of the invocation's workgroup along `axis` (u32).
    public static func workgroupID(_ axis: Axis) -> Expr { .builtin(.workgroupID(axis)) }
    /// Workgroups dispatched along `axis` (u32).
    public static func numWorkgroups(_ axis: Axis) -> Expr { .builtin(.numWorkgroups(axis)) }
    /// The invocation's linear index inside its workgroup (u32).
    public static var localIndex: Expr { .builtin(.localInvocationIndex) }

    /// Element `index` of a buffer or shared array; out of bounds reads zero.
    public static func load(_ memory: String, at index: Expr) -> Expr { .load(memory, index: index) }
    /// The smaller of `a` and `b`, as ``Semantics/binary(_:_:_:)`` defines it for NaN and signed zero.
    public static func min(_ a: Expr, _ b: Expr) -> Expr { .binary(.min, a, b) }
    /// The larger of `a` and `b`, as ``Semantics/binary(_:_:_:)`` defines it for NaN and signed zero.
    public static func max(_ a: Expr, _ b: Expr) -> Expr { .binary(.max, a, b) }
    /// An atomic read-modify-write of `memory[index]` (a read_write u32 or i32 buffer or shared
    /// array); evaluates to the element's previous value.
    public static func atomic(_ op: AtomicOp, _ memory: String, at index: Expr, _ value: Expr) -> Expr {
        .atomic(op, memory, index: index, value: value)
    }
    /// Stores `desired` in `memory[index]` if the element equals `expected`; evaluates to the previous
    /// value.
    public static func compareExchange(_ memory: String, at index: Expr, expected: Expr, desired: Expr) -> Expr {
        .compareExchange(memory, index: index, expected: expected, desired: desired)
    }

    /// This value converted to `type` by the rules of ``Semantics/cast(_:_:)``.
    public func cast(to type: DataType) -> Expr { .cast(type, self) }
    /// These bits read as `type`, which must have the same width and neither type be bool.
    public func bitcast(to type: DataType) -> Expr { .bitcast(type, self) }
    /// `self == other` as an `eq` comparison (a bool); `==` on `Expr` compares expression trees.
    public func equals(_ other: Expr) -> Expr { .binary(.eq, self, other) }
    /// `self != other` as an `ne` comparison (a bool); `!=` on `Expr` compares expression trees.
    public func notEquals(_ other: Expr) -> Expr { .binary(.ne, self, other) }
    /// `op` applied to this expression: for unary operators without a Swift operator (`sqrt`, `clz`).
    public func apply(_ op: UnaryOp) -> Expr { .unary(op, self) }

    /// `a + b` as an `add` expression (integers wrap).
    public static func + (a: Expr, b: Expr) -> Expr { .binary(.add, a, b) }
    /// `a - b` as a `sub` expression (integers wrap).
    public static func - (a: Expr, b: Expr) -> Expr { .binary(.sub, a, b) }
    /// `a * b` as a `mul` expression (integers wrap).
    public static func * (a: Expr, b: Expr) -> Expr { .binary(.mul, a, b) }
    /// `a / b` as a `div` expression (integer division by zero gives 0).
    public static func / (a: Expr, b: Expr) -> Expr { .binary(.div, a, b) }
    /// `a % b` as a `rem` expression (integers only; by zero gives 0).
    public static func % (a: Expr, b: Expr) -> Expr { .binary(.rem, a, b) }
    /// `a & b` as an `and` expression (integers only; use `&&` for bools).
    public static func & (a: Expr, b: Expr) -> Expr { .binary(.and, a, b) }
    /// `a | b` as an `or` expression (integers only; use `||` for bools).
    public static func | (a: Expr, b: Expr) -> Expr { .binary(.or, a, b) }
    /// `a ^ b` as a `xor` expression (integers only).
    public static func ^ (a: Expr, b: Expr) -> Expr { .binary(.xor, a, b) }
    /// `a << b` as a `shl` expression; `b` is a u32 shift count.
    public static func << (a: Expr, b: Expr) -> Expr { .binary(.shl, a, b) }
    /// `a >> b` as a `shr` expression; `b` is a u32 shift count.
    public static func >> (a: Expr, b: Expr) -> Expr { .binary(.shr, a, b) }
    /// `a < b` as an `lt` comparison (a bool).
    public static func < (a: Expr, b: Expr) -> Expr { .binary(.lt, a, b) }
    /// `a <= b` as an `le` comparison (a bool).
    public static func <= (a: Expr, b: Expr) -> Expr { .binary(.le, a, b) }
    /// `a > b` as a `gt` comparison (a bool).
    public static func > (a: Expr, b: Expr) -> Expr { .binary(.gt, a, b) }
    /// `a >= b` as a `ge` comparison (a bool).
    public static func >= (a: Expr, b: Expr) -> Expr { .binary(.ge, a, b) }
    /// `a && b` as a `logical_and` expression; both operands are always evaluated.
    public static func && (a: Expr, b: Expr) -> Expr { .binary(.logicalAnd, a, b) }
    /// `a || b` as a `logical_or` expression; both operands are always evaluated.
    public static func || (a: Expr, b: Expr) -> Expr { .binary(.logicalOr, a, b) }
    /// `-a` as a `negate` expression (integers wrap).
    public static prefix func - (a: Expr) -> Expr { .unary(.negate, a) }
    /// `!a` as a `not` expression (bools only).
    public static prefix func ! (a: Expr) -> Expr { .unary(.not, a) }
    /// `~a` as a `bit_not` expression (integers only).
    public static prefix func ~ (a: Expr) -> Expr { .unary(.bitNot, a) }
}
