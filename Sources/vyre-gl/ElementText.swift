import Foundation
import VyreIR

/// Buffer elements as the command line reads and writes them: typed values from JSON, and text
/// for tables and JSON output, formatted a chunk of words at a time.
enum ElementText {
    /// One element of `type` from a JSON value, strictly (floats also take "nan", "inf", "-inf").
    static func decode(_ decoder: any Decoder, _ type: DataType) throws -> Value {
        let c = try decoder.singleValueContainer()
        switch type {
        case .u32: return .u32(try c.decode(UInt32.self))
        case .i32: return .i32(try c.decode(Int32.self))
        case .u64: return .u64(try c.decode(UInt64.self))
        case .i64: return .i64(try c.decode(Int64.self))
        case .bool: return .bool(try c.decode(Bool.self))
        case .f32, .f64:
            if let name = try? c.decode(String.self) {
                guard let special = Double(special: name) else {
                    throw Diagnostic("'\(quoteForMessage(name))' is not a float", fix: "write a number, or \"nan\", \"inf\" or \"-inf\"").error(at: decoder.codingPath)
                }
                return type == .f32 ? .f32(Float(special)) : .f64(special)
            }
            return type == .f32 ? .f32(try c.decode(Float.self)) : .f64(try c.decode(Double.self))
        }
    }

    /// Each element of `words` for a table: floats in shortest round-trip form.
    static func plain(_ words: [UInt32], _ type: DataType) -> [String] { elements(words, type, text) }

    /// Each element of `words` as JSON: numbers stay numbers; non-finite floats are "nan", "inf", "-inf".
    static func json(_ words: [UInt32], _ type: DataType) -> [String] {
        elements(words, type) { v in
            switch v {
            case .f32(let x) where !x.isFinite: x.isNaN ? "\"nan\"" : (x < 0 ? "\"-inf\"" : "\"inf\"")
            case .f64(let x) where !x.isFinite: x.isNaN ? "\"nan\"" : (x < 0 ? "\"-inf\"" : "\"inf\"")
            default: text(v)
            }
        }
    }

    static func text(_ v: Value) -> String {
        switch v {
        case .u32(let x): "\(x)"
        case .i32(let x): "\(x)"
        case .u64(let x): "\(x)"
        case .i64(let x): "\(x)"
        case .bool(let x): "\(x)"
        case .f32(let x): "\(x)"
        case .f64(let x): "\(x)"
        }
    }

    /// A string as a JSON string literal.
    static func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    private static func elements(_ words: [UInt32], _ type: DataType, _ text: (Value) -> String) -> [String] {
        stride(from: 0, to: words.count - (type.wordCount - 1), by: type.wordCount).map { i in
            text(Value(type: type, bits: type.is64Bit ? UInt64(words[i]) | UInt64(words[i + 1]) << 32 : UInt64(words[i])))
        }
    }
}
