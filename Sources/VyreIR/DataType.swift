/// The scalar types a vyre program computes with.
///
/// Every type occupies whole 32-bit words in buffers and shared memory (std430 layout): `bool` is one
/// word holding 0 or 1, the 64-bit types are two little-endian words. The 64-bit types need a device
/// capability (``Capability``); validation rejects them where the device lacks it.
public enum DataType: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case u32, i32, f32, bool, u64, i64, f64

    public var description: String { rawValue }

    /// Words this type occupies in a buffer.
    public var wordCount: Int { is64Bit ? 2 : 1 }
    public var byteCount: Int { wordCount * 4 }

    public var is64Bit: Bool { self == .u64 || self == .i64 || self == .f64 }
    public var isInteger: Bool { self == .u32 || self == .i32 || self == .u64 || self == .i64 }
    public var isSignedInteger: Bool { self == .i32 || self == .i64 }
    public var isFloat: Bool { self == .f32 || self == .f64 }
    public var isNumeric: Bool { isInteger || isFloat }

    /// The capability a device must report before a program may use this type.
    public var requiredCapability: Capability? {
        switch self {
        case .u64, .i64: return .int64
        case .f64: return .float64
        default: return nil
        }
    }
}

/// Optional device features a program may depend on.
public enum Capability: String, Sendable, Hashable, CaseIterable, Codable {
    /// 64-bit integers in shaders (GL_ARB_gpu_shader_int64).
    case int64
    /// 64-bit floats in shaders (core in GLSL 4.00, but not every driver runs them).
    case float64
}

/// A typed scalar value: an IR literal, an interpreter register, a buffer element.
///
/// Floats compare and hash by bit pattern, so NaN literals round-trip and programs that differ only
/// in the payload of a NaN are different programs.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case u32(UInt32)
    case i32(Int32)
    case f32(Float)
    case bool(Bool)
    case u64(UInt64)
    case i64(Int64)
    case f64(Double)

    public var type: DataType {
        switch self {
        case .u32: .u32
        case .i32: .i32
        case .f32: .f32
        case .bool: .bool
        case .u64: .u64
        case .i64: .i64
        case .f64: .f64
        }
    }

    /// The value's bits, zero-extended to 64 bits (bool is 0 or 1).
    public var bits: UInt64 {
        switch self {
        case .u32(let v): UInt64(v)
        case .i32(let v): UInt64(UInt32(bitPattern: v))
        case .f32(let v): UInt64(v.bitPattern)
        case .bool(let v): v ? 1 : 0
        case .u64(let v): v
        case .i64(let v): UInt64(bitPattern: v)
        case .f64(let v): v.bitPattern
        }
    }

    /// Rebuilds a value of `type` from its bits (the inverse of ``bits``; for bool any non-zero is true).
    public init(type: DataType, bits: UInt64) {
        switch type {
        case .u32: self = .u32(UInt32(truncatingIfNeeded: bits))
        case .i32: self = .i32(Int32(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .f32: self = .f32(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .bool: self = .bool(bits != 0)
        case .u64: self = .u64(bits)
        case .i64: self = .i64(Int64(bitPattern: bits))
        case .f64: self = .f64(Double(bitPattern: bits))
        }
    }

    /// The value as buffer words: one word, or two little-endian words for 64-bit types.
    public var words: [UInt32] {
        type.is64Bit ? [UInt32(truncatingIfNeeded: bits), UInt32(truncatingIfNeeded: bits >> 32)] : [UInt32(truncatingIfNeeded: bits)]
    }

    /// The zero of a type: what out-of-bounds loads return.
    public static func zero(_ type: DataType) -> Value { Value(type: type, bits: 0) }

    /// Same type and same bits: equal NaN payloads are equal, `0.0` and `-0.0` are not.
    public static func == (a: Value, b: Value) -> Bool { a.type == b.type && a.bits == b.bits }
    /// Hashes the type and the bits, agreeing with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(type)
        hasher.combine(bits)
    }

    public var description: String {
        switch self {
        case .u32(let v): "\(v)u"
        case .i32(let v): "\(v)i"
        case .f32(let v): "\(v)f"
        case .bool(let v): "\(v)"
        case .u64(let v): "\(v)ul"
        case .i64(let v): "\(v)l"
        case .f64(let v): "\(v)d"
        }
    }
}
