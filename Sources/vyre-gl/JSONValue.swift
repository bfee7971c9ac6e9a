import VyreIR

/// A JSON value for output whose shape is only known at run time (buffers of any type).
enum JSONValue: Encodable, Equatable {
    case number(Double)
    case integer(Int64)
    case unsigned(UInt64)
    case string(String)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .integer(let i): try c.encode(i)
        case .unsigned(let u): try c.encode(u)
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    /// A typed element as JSON: numbers stay numbers; non-finite floats become "nan", "inf", "-inf".
    init(_ value: Value) {
        switch value {
        case .u32(let v): self = .unsigned(UInt64(v))
        case .i32(let v): self = .integer(Int64(v))
        case .u64(let v): self = .unsigned(v)
        case .i64(let v): self = .integer(v)
        case .bool(let v): self = .bool(v)
        case .f32(let v): self = v.isFinite ? .number(Double(v)) : .string(v.isNaN ? "nan" : (v < 0 ? "-inf" : "inf"))
        case .f64(let v): self = v.isFinite ? .number(v) : .string(v.isNaN ? "nan" : (v < 0 ? "-inf" : "inf"))
        }
    }
}

extension Value {
    /// Splits little-endian words into elements of `type`.
    static func elements(_ words: [UInt32], as type: DataType) -> [Value] {
        stride(from: 0, to: words.count - (type.wordCount - 1), by: type.wordCount).map { i in
            Value(type: type, bits: type.is64Bit ? UInt64(words[i]) | UInt64(words[i + 1]) << 32 : UInt64(words[i]))
        }
    }

    /// Short text for tables: floats in shortest round-trip form, others as numbers.
    var plain: String {
        switch self {
        case .u32(let v): "\(v)"
        case .i32(let v): "\(v)"
        case .u64(let v): "\(v)"
        case .i64(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .f32(let v): "\(v)"
        case .f64(let v): "\(v)"
        }
    }
}
