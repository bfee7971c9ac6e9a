#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The meaning of every operator, written once.
///
/// The CPU interpreter calls these functions; the GLSL lowering reproduces them explicitly instead
/// of relying on what a driver happens to do (see `docs/semantics.md`). Operands are assumed to have
/// passed ``Typing``.
public enum Semantics {
    /// `op` applied to `a`: integers wrap, and `abs` of the most negative integer is itself.
    /// Requires an operand type ``Typing`` accepts for `op` (anything else is a precondition failure).
    public static func unary(_ op: UnaryOp, _ a: Value) -> Value {
        switch (op, a) {
        case (.negate, .u32(let x)): return .u32(0 &- x)
        case (.negate, .i32(let x)): return .i32(0 &- x)
        case (.negate, .u64(let x)): return .u64(0 &- x)
        case (.negate, .i64(let x)): return .i64(0 &- x)
        case (.negate, .f32(let x)): return .f32(-x)
        case (.negate, .f64(let x)): return .f64(-x)
        case (.not, .bool(let x)): return .bool(!x)
        case (.bitNot, _): return Value(type: a.type, bits: ~a.bits)
        case (.popcount, _): return .u32(UInt32(UInt32(truncatingIfNeeded: a.bits).nonzeroBitCount))
        case (.countLeadingZeros, _): return .u32(UInt32(UInt32(truncatingIfNeeded: a.bits).leadingZeroBitCount))
        case (.countTrailingZeros, _): return .u32(UInt32(UInt32(truncatingIfNeeded: a.bits).trailingZeroBitCount))
        case (.reverseBits, _): return Value(type: a.type, bits: UInt64(reverse32(UInt32(truncatingIfNeeded: a.bits))))
        case (.abs, .i32(let x)): return .i32(x == .min ? x : Swift.abs(x))
        case (.abs, .i64(let x)): return .i64(x == .min ? x : Swift.abs(x))
        case (.abs, .f32(let x)): return .f32(Swift.abs(x))
        case (.abs, .f64(let x)): return .f64(Swift.abs(x))
        case (_, .f32(let x)): return .f32(Float(floatFunction(op, Double(x), single: true)))
        case (_, .f64(let x)): return .f64(floatFunction(op, x, single: false))
        default: preconditionFailure("unary \(op) on \(a.type) passed validation")
        }
    }

    private static func floatFunction(_ op: UnaryOp, _ x: Double, single: Bool) -> Double {
        // Rounding functions are exact in either width; the others are computed in the operand's width.
        switch op {
        case .floor: return x.rounded(.down)
        case .ceil: return x.rounded(.up)
        case .trunc: return x.rounded(.towardZero)
        case .round: return x.rounded(.toNearestOrEven)
        case .fract:
            if single { let f = Float(x); return Double(f - f.rounded(.down)) }
            return x - x.rounded(.down)
        case .sqrt: return single ? Double(Float(x).squareRoot()) : x.squareRoot()
        case .exp: return Double(expf(Float(x)))
        case .exp2: return Double(exp2f(Float(x)))
        case .log: return Double(logf(Float(x)))
        case .log2: return Double(log2f(Float(x)))
        case .sin: return Double(sinf(Float(x)))
        case .cos: return Double(cosf(Float(x)))
        default: preconditionFailure("\(op) is not a float function")
        }
    }

    static func reverse32(_ v: UInt32) -> UInt32 {
        var x = v
        x = ((x >> 1) & 0x5555_5555) | ((x & 0x5555_5555) << 1)
        x = ((x >> 2) & 0x3333_3333) | ((x & 0x3333_3333) << 2)
        x = ((x >> 4) & 0x0F0F_0F0F) | ((x & 0x0F0F_0F0F) << 4)
        x = ((x >> 8) & 0x00FF_00FF) | ((x & 0x00FF_00FF) << 8)
        return (x >> 16) | (x << 16)
    }

    /// `a op b`. Integer arithmetic wraps; division or remainder by zero gives 0, the most negative
    /// integer divided by -1 gives itself (remainder 0); shift counts are taken modulo the width and
    /// `shr` is arithmetic on signed types. Requires operand types ``Typing`` accepts for `op`
    /// (anything else is a precondition failure).
    public static func binary(_ op: BinaryOp, _ a: Value, _ b: Value) -> Value {
        switch (a, b) {
        case (.u32(let x), .u32(let y)): return integer(op, x, y)
        case (.i32(let x), .i32(let y)): return integer(op, x, y)
        case (.u64(let x), .u64(let y)): return integer(op, x, y)
        case (.i64(let x), .i64(let y)): return integer(op, x, y)
        case (_, .u32(let count)) where op == .shl || op == .shr:
            switch a {
            case .i32(let x): return .i32(op == .shl ? x &<< Int32(bitPattern: count) : x &>> Int32(bitPattern: count))
            case .u64(let x): return .u64(op == .shl ? x &<< UInt64(count) : x &>> UInt64(count))
            case .i64(let x): return .i64(op == .shl ? x &<< Int64(count) : x &>> Int64(count))
            default: preconditionFailure("shift of \(a.type) passed validation")
            }
        case (.f32(let x), .f32(let y)): return float(op, x, y)
        case (.f64(let x), .f64(let y)): return float(op, x, y)
        case (.bool(let x), .bool(let y)):
            switch op {
            case .eq: return .bool(x == y)
            case .ne: return .bool(x != y)
            case .logicalAnd: return .bool(x && y)
            case .logicalOr: return .bool(x || y)
            default: preconditionFailure("\(op) on bool passed validation")
            }
        default: preconditionFailure("\(op) on \(a.type), \(b.type) passed validation")
        }
    }

    private static func integer<T: FixedWidthInteger>(_ op: BinaryOp, _ x: T, _ y: T) -> Value {
        func wrap(_ v: T) -> Value { value(v) }
        switch op {
        case .add: return wrap(x &+ y)
        case .sub: return wrap(x &- y)
        case .mul: return wrap(x &* y)
        case .div:
            if y == 0 { return wrap(0) }
            if T.isSigned && x == T.min && y == -1 as T { return wrap(x) }
            return wrap(x / y)
        case .rem:
            if y == 0 { return wrap(0) }
            if T.isSigned && x == T.min && y == -1 as T { return wrap(0) }
            return wrap(x % y)
        case .and: return wrap(x & y)
        case .or: return wrap(x | y)
        case .xor: return wrap(x ^ y)
        case .shl: return wrap(x &<< y)
        case .shr: return wrap(x &>> y)
        case .eq, .ne, .lt, .le, .gt, .ge, .min, .max: return ordered(op, x, y)
        case .logicalAnd, .logicalOr: preconditionFailure("logical op on integers passed validation")
        }
    }

    private static func float<T: BinaryFloatingPoint>(_ op: BinaryOp, _ x: T, _ y: T) -> Value {
        switch op {
        case .add: return value(x + y)
        case .sub: return value(x - y)
        case .mul: return value(x * y)
        case .div: return value(x / y)
        case .eq, .ne, .lt, .le, .gt, .ge, .min, .max: return ordered(op, x, y)
        default: preconditionFailure("\(op) on floats passed validation")
        }
    }

    /// Comparisons, min and max, one definition for every ordered type. For floats these are
    /// GLSL's definitions written literally, so NaN and signed zero behave the same everywhere.
    private static func ordered<T: Comparable>(_ op: BinaryOp, _ x: T, _ y: T) -> Value {
        switch op {
        case .eq: return .bool(x == y)
        case .ne: return .bool(x != y)
        case .lt: return .bool(x < y)
        case .le: return .bool(x <= y)
        case .gt: return .bool(x > y)
        case .ge: return .bool(x >= y)
        case .min: return value(y < x ? y : x)
        case .max: return value(x < y ? y : x)
        default: preconditionFailure("\(op) is not a comparison, min or max")
        }
    }

    private static func value<T>(_ v: T) -> Value {
        switch v {
        case let v as UInt32: return .u32(v)
        case let v as Int32: return .i32(v)
        case let v as UInt64: return .u64(v)
        case let v as Int64: return .i64(v)
        case let v as Float: return .f32(v)
        case let v as Double: return .f64(v)
        default: preconditionFailure("no Value for \(T.self)")
        }
    }

    /// Multiply-add. f32: the product is exact in double precision, the sum is rounded to double
    /// and then to float (the fused result, except where the exact sum needs more than 53 bits).
    /// f64: the product is rounded, then the sum (GL has no fused double multiply-add that every
    /// driver honours).
    public static func fma(_ a: Value, _ b: Value, _ c: Value) -> Value {
        switch (a, b, c) {
        case (.f32(let x), .f32(let y), .f32(let z)): return .f32(Float(Double(x) * Double(y) + Double(z)))
        case (.f64(let x), .f64(let y), .f64(let z)):
            let product = x * y
            return .f64(product + z)
        default: preconditionFailure("fma on \(a.type) passed validation")
        }
    }

    /// The bits of `a` read as `to`. Widths are not checked here (``Typing`` does): a mismatch
    /// truncates or zero-extends.
    public static func bitcast(_ to: DataType, _ a: Value) -> Value { Value(type: to, bits: a.bits) }

    /// Value conversion. Integers wrap (two's complement); float to integer truncates toward zero
    /// and saturates at the target's range, with NaN giving 0; integer to float rounds to nearest
    /// even; anything to bool is "not zero"; bool to a number is 0 or 1.
    public static func cast(_ to: DataType, _ a: Value) -> Value {
        if to == a.type { return a }
        if to == .bool {
            switch a {
            case .f32(let x): return .bool(x != 0)
            case .f64(let x): return .bool(x != 0)
            default: return .bool(a.bits != 0)
            }
        }
        switch a {
        case .f32(let x): return fromFloat(to, Double(x))
        case .f64(let x): return fromFloat(to, x)
        case .bool(let x): return cast(to, .u32(x ? 1 : 0))
        default:
            // Integer source: widen to a 64-bit two's complement pattern first.
            let signed = a.type.isSignedInteger
            let wide: Int64 = signed ? (a.type == .i32 ? Int64(Int32(truncatingIfNeeded: a.bits)) : Int64(bitPattern: a.bits)) : Int64(bitPattern: a.bits)
            switch to {
            case .u32, .i32, .u64, .i64: return Value(type: to, bits: UInt64(bitPattern: wide))
            case .f32: return .f32(signed ? Float(wide) : Float(UInt64(bitPattern: wide)))
            case .f64: return .f64(signed ? Double(wide) : Double(UInt64(bitPattern: wide)))
            case .bool: preconditionFailure("handled above")
            }
        }
    }

    private static func fromFloat(_ to: DataType, _ x: Double) -> Value {
        // f32 sources arrive widened exactly, so one Double path serves both widths.
        switch to {
        case .f32: return .f32(Float(x))
        case .f64: return .f64(x)
        case .u32: return .u32(saturate(x, UInt32.self))
        case .i32: return .i32(saturate(x, Int32.self))
        case .u64: return .u64(saturate(x, UInt64.self))
        case .i64: return .i64(saturate(x, Int64.self))
        case .bool: return .bool(x != 0)
        }
    }

    private static func saturate<T: FixedWidthInteger>(_ x: Double, _: T.Type) -> T {
        if x.isNaN { return 0 }
        let t = x.rounded(.towardZero)
        if t <= Double(T.min) { return T.min }
        // Double(T.max) rounds up to 2^bits for 64-bit types, so compare with >=.
        if t >= Double(T.max) { return T.max }
        return T(t)
    }

    /// The value of an expression that reads no variable, memory or invocation id, computed by
    /// these same rules; nil for anything else.
    public static func constantValue(of e: Expr) -> Value? {
        switch e {
        case .literal(let v): return v
        case .unary(let op, let a): return constantValue(of: a).map { unary(op, $0) }
        case .binary(let op, let a, let b):
            guard let x = constantValue(of: a), let y = constantValue(of: b) else { return nil }
            return binary(op, x, y)
        case .select(let c, let a, let b):
            guard let cv = constantValue(of: c), let x = constantValue(of: a), let y = constantValue(of: b) else { return nil }
            return cv.bits != 0 ? x : y
        case .cast(let t, let a): return constantValue(of: a).map { cast(t, $0) }
        case .bitcast(let t, let a): return constantValue(of: a).map { bitcast(t, $0) }
        case .fma(let a, let b, let c):
            guard let x = constantValue(of: a), let y = constantValue(of: b), let z = constantValue(of: c) else { return nil }
            return fma(x, y, z)
        case .variable, .load, .length, .builtin, .parameter, .atomic, .compareExchange: return nil
        }
    }

    /// The new element value of an atomic read-modify-write.
    public static func atomic(_ op: AtomicOp, old: Value, operand: Value) -> Value {
        switch op {
        case .add: return binary(.add, old, operand)
        case .and: return binary(.and, old, operand)
        case .or: return binary(.or, old, operand)
        case .xor: return binary(.xor, old, operand)
        case .min: return binary(.min, old, operand)
        case .max: return binary(.max, old, operand)
        case .exchange: return operand
        }
    }
}
