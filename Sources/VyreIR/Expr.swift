/// An expression: a typed value computed by one invocation.
///
/// Operands are evaluated left to right, all of them: `select` and the logical operators do not
/// short-circuit, so a side effect (an atomic) in any operand always happens exactly once.
/// The meaning of every operator is in `docs/semantics.md` and in ``Semantics``.
public indirect enum Expr: Sendable, Hashable {
    case literal(Value)
    case variable(String)
    /// Element `index` of a buffer or workgroup-shared array; out of bounds gives zero.
    case load(String, index: Expr)
    /// Element count of a buffer or shared array, as u32.
    case length(String)
    case builtin(Builtin)
    /// A u32 the host sets for each dispatch (a uniform): window offsets, sizes, flags.
    case parameter(String)
    case unary(UnaryOp, Expr)
    case binary(BinaryOp, Expr, Expr)
    /// `condition ? ifTrue : ifFalse`, both arms evaluated.
    case select(Expr, Expr, Expr)
    /// Value conversion (float to int truncates toward zero and saturates; NaN gives 0).
    case cast(DataType, Expr)
    /// Reinterprets the bits of a value of the same width.
    case bitcast(DataType, Expr)
    /// `a * b + c` (f32: exact product, one rounding to double, one to float; f64: two roundings).
    case fma(Expr, Expr, Expr)
    /// Read-modify-write of one u32/i32 element; evaluates to the element's previous value.
    case atomic(AtomicOp, String, index: Expr, value: Expr)
    /// Stores `desired` if the element equals `expected`; evaluates to the previous value.
    case compareExchange(String, index: Expr, expected: Expr, desired: Expr)
}

/// An axis of the three-dimensional grid; the raw value indexes x, y, z.
public enum Axis: Int, Sendable, Hashable, CaseIterable, Codable {
    case x = 0, y = 1, z = 2
    /// `x`, `y` or `z`, as builtin names and diagnostics spell it.
    public var name: String { ["x", "y", "z"][rawValue] }
}

/// Invocation and grid identifiers (all u32).
public enum Builtin: Sendable, Hashable {
    case globalInvocationID(Axis)
    case localInvocationID(Axis)
    case workgroupID(Axis)
    case numWorkgroups(Axis)
    /// The invocation's linear index inside its workgroup.
    case localInvocationIndex
    /// Loops of this invocation that the driver ended before their own exit (Mesa's llvmpipe stops
    /// an invocation's loops after 65,535 iterations in all). Always 0 in the interpreter and on
    /// drivers without such a limit. A program that reads it handles the cut itself; one that does
    /// not gets a typed error from the runtime instead of its results.
    case loopCuts

    /// The name used in JSON and in diagnostics, e.g. `global_id.x`.
    public var name: String {
        switch self {
        case .globalInvocationID(let a): "global_id.\(a.name)"
        case .localInvocationID(let a): "local_id.\(a.name)"
        case .workgroupID(let a): "workgroup_id.\(a.name)"
        case .numWorkgroups(let a): "num_workgroups.\(a.name)"
        case .localInvocationIndex: "local_index"
        case .loopCuts: "loop_cuts"
        }
    }

    /// Every builtin, grouped by axis, then the two without one: for name lookup and error messages.
    public static let all: [Builtin] = Axis.allCases.flatMap {
        [.globalInvocationID($0), .localInvocationID($0), .workgroupID($0), .numWorkgroups($0)]
    } + [.localInvocationIndex, .loopCuts]

    /// The builtin whose ``name`` is `name`, or nil (a linear search of ``all``).
    public init?(name: String) {
        guard let match = Builtin.all.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Whether every invocation of a workgroup sees the same value.
    public var isWorkgroupUniform: Bool {
        switch self {
        case .workgroupID, .numWorkgroups: true
        case .globalInvocationID, .localInvocationID, .localInvocationIndex, .loopCuts: false
        }
    }
}

/// A one-operand operator; the raw value is its JSON name. What each computes is in
/// ``Semantics/unary(_:_:)``, which operand types it takes in ``Typing``.
public enum UnaryOp: String, Sendable, Hashable, CaseIterable, Codable {
    case negate, not, bitNot = "bit_not", popcount
    case countLeadingZeros = "clz", countTrailingZeros = "ctz", reverseBits = "reverse_bits"
    case abs, sqrt, floor, ceil, trunc, round, fract, exp, exp2, log, log2, sin, cos

    /// Float functions whose result GLSL does not pin to the correctly rounded value.
    public var isApproximate: Bool {
        switch self {
        case .sqrt, .exp, .exp2, .log, .log2, .sin, .cos: true
        default: false
        }
    }

    /// Operators that only exist for 32-bit floats in GLSL 4.30.
    public var isF32Only: Bool {
        switch self {
        case .exp, .exp2, .log, .log2, .sin, .cos: true
        default: false
        }
    }

    /// Operators defined only on floats (`abs` and `negate` also take integers, so they are not).
    public var isFloatFunction: Bool {
        switch self {
        case .sqrt, .floor, .ceil, .trunc, .round, .fract, .exp, .exp2, .log, .log2, .sin, .cos: true
        default: false
        }
    }

    /// The bit operators that take only a 32-bit integer: `popcount`, `clz`, `ctz` and `reverse_bits`.
    public var isBitCounting: Bool {
        self == .popcount || self == .countLeadingZeros || self == .countTrailingZeros || self == .reverseBits
    }
}

/// A two-operand operator; the raw value is its JSON name. What each computes is in
/// ``Semantics/binary(_:_:_:)``, which operand types it takes in ``Typing``.
public enum BinaryOp: String, Sendable, Hashable, CaseIterable, Codable {
    case add, sub, mul, div, rem
    case and, or, xor, shl, shr
    case eq, ne, lt, le, gt, ge
    case logicalAnd = "logical_and", logicalOr = "logical_or"
    case min, max

    /// `a op b == b op a` for every pair of values of the operand type.
    public var isCommutative: Bool {
        switch self {
        case .add, .mul, .and, .or, .xor, .eq, .ne, .logicalAnd, .logicalOr, .min, .max: true
        default: false
        }
    }

    /// Operators that compare two values of one type and give a bool.
    public var isComparison: Bool {
        switch self {
        case .eq, .ne, .lt, .le, .gt, .ge: true
        default: false
        }
    }
}

/// The update of an atomic read-modify-write: the new element is `old op value`, or `value` for
/// `exchange` (``Semantics/atomic(_:old:operand:)``).
public enum AtomicOp: String, Sendable, Hashable, CaseIterable, Codable {
    case add, and, or, xor, min, max, exchange
}

extension Expr {
    /// Whether evaluating the expression can change memory (it contains an atomic).
    public var hasSideEffects: Bool {
        switch self {
        case .atomic, .compareExchange: true
        default: children.contains { $0.hasSideEffects }
        }
    }

    /// The number of expression nodes in the tree.
    public var size: Int { 1 + children.reduce(0) { $0 + $1.size } }
}
