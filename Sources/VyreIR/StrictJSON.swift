/// Decodes untrusted JSON text into `Decodable` values, strictly.
///
/// Every JSON input of vyre-gl (programs, batches, opcode files, buffer values) goes through this
/// decoder, so they all follow one set of rules:
/// - the text is checked against the JSON grammar first (RFC 8259: no comments, no trailing commas,
///   no leading zeros, valid UTF-8, paired surrogates) and a syntax error names its JSON path,
///   line and column;
/// - a key that appears twice in one object is an error (other decoders keep one silently);
/// - no value changes kind: `true` is never 1, `"200"` is never 200, a string is never an array;
/// - integers are read exactly from their digits, must be written without a fraction or exponent,
///   and must fit the target type; floats must be finite in the target type.
///
/// Values are decoded straight from the text: no tree of generic JSON objects is built, so a
/// document of a million small objects costs its own bytes plus what the decoded values take.
/// Errors are `DecodingError`s whose context carries the JSON path and a ``Diagnostic``-style
/// problem and Fix; ``ProgramJSONError/init(_:)`` renders them.
public struct StrictJSONDecoder: Sendable {
    /// Deepest nesting of arrays and objects accepted (the decoder recurses once per level).
    public var maxDepth: Int

    /// A decoder that refuses documents nested deeper than `maxDepth`.
    public init(maxDepth: Int = 512) { self.maxDepth = maxDepth }

    /// Checks the whole text, then decodes a `T` from it: one copy of the text, one pass to check
    /// it, then the decoding.
    public func decode<T: Decodable>(_ type: T.Type, from text: some Collection<UInt8>) throws -> T {
        let document = JSONDocument(bytes: Array(text))
        var scanner = JSONSyntaxScanner(bytes: document.bytes, maxDepth: maxDepth)
        let start = try scanner.validateDocument()
        return try JSONValueDecoder(document: document, offset: start, codingPath: []).decodeValue(T.self)
    }

    /// Checks the text, then hands its top-level value to `body` as a `Decoder`: for values whose
    /// decoding depends on context (buffer elements of a given type, say).
    public func decode<T>(from text: some Collection<UInt8>, with body: (any Decoder) throws -> T) throws -> T {
        let document = JSONDocument(bytes: Array(text))
        var scanner = JSONSyntaxScanner(bytes: document.bytes, maxDepth: maxDepth)
        let start = try scanner.validateDocument()
        return try body(JSONValueDecoder(document: document, offset: start, codingPath: []))
    }
}

/// A coding key for JSON paths: an object key or an array index.
public struct JSONPathKey: CodingKey, Sendable, Hashable {
    public var stringValue: String
    public var intValue: Int?
    /// An object key.
    public init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }
    /// An array index.
    public init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// Renders a coding path the way error messages show it: `ops[3].args[0]`.
public func renderJSONPath(_ keys: [any CodingKey]) -> String {
    // A path hundreds of levels deep is shown by its two ends: the message stays one short line.
    let shown = 12
    var s = ""
    for (n, k) in keys.enumerated() {
        if keys.count > 2 * shown, n >= shown, n < keys.count - shown {
            if n == shown { s += "...(\(keys.count - 2 * shown) more levels)..." }
            continue
        }
        let name = quoteForMessage(k.stringValue, limit: 40)
        if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? name : ".\(name)" }
    }
    return s.isEmpty ? "(top level)" : s
}

/// `text` for a one-line message: at most `limit` characters (a longer one is cut, with its
/// length), and every control character written as `\u{XX}`, so input that holds an escape
/// sequence, a NUL or a newline cannot rewrite the reader's terminal or split the message.
public func quoteForMessage(_ text: some StringProtocol, limit: Int = 48) -> String {
    let count = text.count
    guard count > limit else { return escapingControlCharacters(text) }
    return "\(escapingControlCharacters(text.prefix(limit)))... (\(count) characters)"
}

/// `text` with every C0 and C1 control character and DEL written as `\u{XX}`.
public func escapingControlCharacters(_ text: some StringProtocol) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return String(text) }
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        guard isControl(scalar) else { out.append(scalar); continue }
        out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
    }
    return String(out)
}

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
}

final class JSONDocument: @unchecked Sendable {
    let bytes: [UInt8]
    init(bytes: [UInt8]) { self.bytes = bytes }
}

private enum Byte {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")

    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
    static func isDigit(_ b: UInt8) -> Bool { b >= zero && b <= nine }
}

// MARK: syntax

/// One pass over the whole text: the JSON grammar, UTF-8, nesting depth and duplicate keys. Only
/// after it succeeds does decoding start, so decoding may assume well-formed text.
struct JSONSyntaxScanner {
    private enum Component {
        case index(Int)
        case key(Range<Int>)
    }

    let bytes: [UInt8]
    let maxDepth: Int
    private var i = 0
    private var path: [Component] = []

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Validates the document; returns the offset of its top-level value.
    mutating func validateDocument() throws(DecodingError) -> Int {
        skipWhitespace()
        guard i < bytes.count else { throw error("the text is empty", fix: "write a JSON value, such as an object {...}") }
        let start = i
        try value(depth: 0)
        skipWhitespace()
        guard i == bytes.count else { throw error("unexpected text after the JSON value", fix: "remove what follows the closing bracket, or join the values into one array") }
        return start
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, Byte.isWhitespace(bytes[i]) { i += 1 }
    }

    private func codingPath() -> [any CodingKey] {
        path.map { c -> any CodingKey in
            switch c {
            case .index(let n): JSONPathKey(intValue: n)
            case .key(let r): JSONPathKey(stringValue: JSONStrings.decode(bytes, r) ?? "?")
            }
        }
    }

    private func error(_ problem: String, fix: String) -> DecodingError {
        var line = 1
        var column = 1
        for b in bytes[0..<min(i, bytes.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        let detail = Diagnostic("not valid JSON at line \(line), column \(column): \(problem)", fix: fix)
        return .dataCorrupted(.init(codingPath: codingPath(), debugDescription: detail.problem, underlyingError: detail))
    }

    private func found() -> String {
        guard i < bytes.count else { return "the end of the text" }
        let b = bytes[i]
        if b >= 0x21 && b <= 0x7E { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    private mutating func value(depth: Int) throws(DecodingError) {
        guard i < bytes.count else { throw error("expected a value, found the end of the text", fix: "complete the document (a bracket or brace may be missing)") }
        switch bytes[i] {
        case Byte.openBrace: try object(depth: depth + 1)
        case Byte.openBracket: try array(depth: depth + 1)
        case Byte.quote: _ = try string()
        case UInt8(ascii: "t"): try word("true")
        case UInt8(ascii: "f"): try word("false")
        case UInt8(ascii: "n"): try word("null")
        case Byte.minus, Byte.zero...Byte.nine: try number()
        default:
            throw error("expected a value, found \(found())", fix: "write a number, a string in double quotes, true, false, null, an array or an object")
        }
    }

    private mutating func word(_ w: StaticString) throws(DecodingError) {
        let n = w.utf8CodeUnitCount
        guard i + n <= bytes.count, (0..<n).allSatisfy({ bytes[i + $0] == w.utf8Start[$0] }) else {
            throw error("expected a value, found \(found())", fix: "write true, false or null in lower case, and strings in double quotes")
        }
        i += n
    }

    private mutating func number() throws(DecodingError) {
        if bytes[i] == Byte.minus { i += 1 }
        guard i < bytes.count, Byte.isDigit(bytes[i]) else { throw error("a number needs a digit after '-'", fix: "write a number such as -1") }
        if bytes[i] == Byte.zero {
            i += 1
            if i < bytes.count, Byte.isDigit(bytes[i]) { throw error("a number may not start with 0 followed by digits", fix: "remove the leading zeros") }
        } else {
            while i < bytes.count, Byte.isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == Byte.dot {
            i += 1
            guard i < bytes.count, Byte.isDigit(bytes[i]) else { throw error("a number needs digits after '.'", fix: "write e.g. 1.0") }
            while i < bytes.count, Byte.isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < bytes.count, bytes[i] == Byte.plus || bytes[i] == Byte.minus { i += 1 }
            guard i < bytes.count, Byte.isDigit(bytes[i]) else { throw error("a number needs digits in its exponent", fix: "write e.g. 1e3") }
            while i < bytes.count, Byte.isDigit(bytes[i]) { i += 1 }
        }
    }

    /// Validates a string; returns its byte range between the quotes and whether it has escapes.
    private mutating func string() throws(DecodingError) -> (range: Range<Int>, escaped: Bool) {
        i += 1
        let start = i
        var escaped = false
        while true {
            guard i < bytes.count else { throw error("a string is not closed", fix: "end the string with a double quote") }
            let b = bytes[i]
            if b == Byte.quote { break }
            if b < 0x20 { throw error("a string holds a raw control character (byte 0x\(String(b, radix: 16)))", fix: "write it as an escape such as \\n or \\u0009") }
            if b == Byte.backslash {
                escaped = true
                i += 1
                guard i < bytes.count else { throw error("a string ends inside an escape", fix: "complete or remove the backslash") }
                switch bytes[i] {
                case Byte.quote, Byte.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    i += 1
                    let unit = try hex4()
                    if (0xD800...0xDBFF).contains(unit) {
                        guard i + 1 < bytes.count, bytes[i] == Byte.backslash, bytes[i + 1] == UInt8(ascii: "u") else {
                            throw error("\\u\(String(unit, radix: 16)) starts a surrogate pair that is not completed", fix: "follow it with a low surrogate \\uDC00 to \\uDFFF, or write the character itself")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw error("\\u\(String(unit, radix: 16)) is followed by \\u\(String(low, radix: 16)), not a low surrogate", fix: "write a valid surrogate pair, or the character itself")
                        }
                    } else if (0xDC00...0xDFFF).contains(unit) {
                        throw error("\\u\(String(unit, radix: 16)) is a lone low surrogate", fix: "write a valid surrogate pair, or the character itself")
                    }
                default:
                    throw error("a string holds an unknown escape (a backslash before \(found()))", fix: "use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX, or write a backslash as \\\\")
                }
                continue
            }
            if b < 0x80 { i += 1; continue }
            try utf8Sequence()
        }
        let range = start..<i
        i += 1
        return (range, escaped)
    }

    private mutating func hex4() throws(DecodingError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard i < bytes.count, let d = JSONStrings.hexValue(bytes[i]) else { throw error("\\u needs four hex digits", fix: "write e.g. \\u00e9") }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// One multi-byte UTF-8 sequence (well-formed per Unicode table 3-7).
    private mutating func utf8Sequence() throws(DecodingError) {
        let b0 = bytes[i]
        let (length, low, high): (Int, UInt8, UInt8) = switch b0 {
        case 0xC2...0xDF: (2, 0x80, 0xBF)
        case 0xE0: (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
        case 0xED: (3, 0x80, 0x9F)
        case 0xF0: (4, 0x90, 0xBF)
        case 0xF1...0xF3: (4, 0x80, 0xBF)
        case 0xF4: (4, 0x80, 0x8F)
        default: (0, 0, 0)
        }
        guard length > 0, i + length <= bytes.count, (low...high).contains(bytes[i + 1]),
              (2..<length).allSatisfy({ bytes[i + $0] & 0xC0 == 0x80 }) else {
            throw error("the text is not valid UTF-8", fix: "save the file as UTF-8")
        }
        i += length
    }

    private mutating func array(depth: Int) throws(DecodingError) {
        guard depth <= maxDepth else { throw error("arrays and objects nest deeper than \(maxDepth) levels", fix: "flatten the document") }
        i += 1
        skipWhitespace()
        if i < bytes.count, bytes[i] == Byte.closeBracket { i += 1; return }
        var index = 0
        while true {
            path.append(.index(index))
            skipWhitespace()
            try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw error("an array is not closed", fix: "end it with ]") }
            if bytes[i] == Byte.comma {
                i += 1
                skipWhitespace()
                if i < bytes.count, bytes[i] == Byte.closeBracket { throw error("a comma before ] (trailing commas are not JSON)", fix: "remove the last comma") }
                index += 1
                continue
            }
            guard bytes[i] == Byte.closeBracket else { throw error("expected ',' or ']' in an array, found \(found())", fix: "separate elements with commas") }
            i += 1
            return
        }
    }

    private mutating func object(depth: Int) throws(DecodingError) {
        guard depth <= maxDepth else { throw error("arrays and objects nest deeper than \(maxDepth) levels", fix: "flatten the document") }
        i += 1
        skipWhitespace()
        if i < bytes.count, bytes[i] == Byte.closeBrace { i += 1; return }
        var keys = JSONKeySet(bytes: bytes)
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == Byte.quote else {
                throw error("expected a key in double quotes, found \(found())", fix: "write keys as strings, e.g. {\"ops\": []}; trailing commas are not JSON")
            }
            let key = try string()
            if !keys.insert(key.range, escaped: key.escaped) {
                path.append(.key(key.range))
                throw error("the key '\(quoteForMessage(JSONStrings.decode(bytes, key.range) ?? "?"))' appears twice in one object", fix: "keep one of them (decoders disagree on which one wins)")
            }
            skipWhitespace()
            guard i < bytes.count, bytes[i] == Byte.colon else { throw error("expected ':' after a key, found \(found())", fix: "write \"key\": value") }
            i += 1
            skipWhitespace()
            path.append(.key(key.range))
            try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw error("an object is not closed", fix: "end it with }") }
            if bytes[i] == Byte.comma { i += 1; continue }
            guard bytes[i] == Byte.closeBrace else { throw error("expected ',' or '}' in an object, found \(found())", fix: "separate members with commas") }
            i += 1
            return
        }
    }
}

/// The keys of one object seen so far. Keys without escapes compare by their bytes, so the common
/// case allocates nothing; large objects switch to a set.
private struct JSONKeySet {
    let bytes: [UInt8]
    private var small: [(range: Range<Int>, decoded: String?)] = []
    private var large: Set<String>? = nil

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// Adds a key; false when it was already there.
    mutating func insert(_ range: Range<Int>, escaped: Bool) -> Bool {
        if large != nil { return large!.insert(JSONStrings.decode(bytes, range) ?? "").inserted }
        let decoded = escaped ? JSONStrings.decode(bytes, range) : nil
        for k in small {
            if k.decoded == nil && decoded == nil {
                if bytes[k.range].elementsEqual(bytes[range]) { return false }
            } else if (k.decoded ?? JSONStrings.decode(bytes, k.range)) == (decoded ?? JSONStrings.decode(bytes, range)) {
                return false
            }
        }
        small.append((range, decoded))
        if small.count > 16 {
            large = Set(small.map { $0.decoded ?? JSONStrings.decode(bytes, $0.range) ?? "" })
            small = []
        }
        return true
    }
}

enum JSONStrings {
    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// The string between the quotes at `range`, escapes resolved (the text was validated).
    static func decode(_ bytes: [UInt8], _ range: Range<Int>) -> String? {
        guard bytes[range].contains(Byte.backslash) else { return String(decoding: bytes[range], as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        func hex(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 4 | (hexValue(bytes[at + $1]) ?? 0) } }
        while i < range.upperBound {
            let b = bytes[i]
            guard b == Byte.backslash else { out.append(b); i += 1; continue }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex(i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex(i + 2) - 0xDC00)
                    i += 6
                }
                guard let u = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: decoding

/// Where a value sits in the text, and how to read it. Containers hold offsets into the document;
/// nothing is copied until a leaf value is decoded.
struct JSONValueDecoder: Decoder {
    let document: JSONDocument
    let offset: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var bytes: [UInt8] { document.bytes }

    enum Kind: String {
        case object = "an object", array = "an array", string = "a string", number = "a number"
        case bool = "true or false", null = "null"
    }

    var kind: Kind {
        switch bytes[offset] {
        case Byte.openBrace: .object
        case Byte.openBracket: .array
        case Byte.quote: .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): .bool
        case UInt8(ascii: "n"): .null
        default: .number
        }
    }

    func child(_ offset: Int, _ key: any CodingKey) -> JSONValueDecoder {
        JSONValueDecoder(document: document, offset: offset, codingPath: codingPath + [key])
    }

    func mismatch(_ expected: String, fix: String? = nil) -> DecodingError {
        let detail = Diagnostic("expected \(expected), found \(describeFound())", fix: fix ?? "write \(expected) here")
        return .dataCorrupted(.init(codingPath: codingPath, debugDescription: detail.problem, underlyingError: detail))
    }

    func invalid(_ problem: String, fix: String) -> DecodingError {
        let detail = Diagnostic(problem, fix: fix)
        return .dataCorrupted(.init(codingPath: codingPath, debugDescription: problem, underlyingError: detail))
    }

    /// The value as a short quote for messages.
    func describeFound() -> String {
        switch kind {
        case .string: "the string \"\(quoteForMessage(JSONStrings.decode(bytes, stringRange) ?? ""))\""
        case .number: "the number \(quoteForMessage(numberText))"
        case .bool: bytes[offset] == UInt8(ascii: "t") ? "true" : "false"
        case .null: "null"
        case .object, .array: kind.rawValue
        }
    }

    /// Offset just past the value starting at `at` (the text is valid JSON).
    static func end(of bytes: [UInt8], at start: Int) -> Int {
        var i = start
        switch bytes[i] {
        case Byte.quote:
            i += 1
            while bytes[i] != Byte.quote { i += bytes[i] == Byte.backslash ? 2 : 1 }
            return i + 1
        case Byte.openBrace, Byte.openBracket:
            var depth = 0
            while true {
                let b = bytes[i]
                if b == Byte.quote {
                    i += 1
                    while bytes[i] != Byte.quote { i += bytes[i] == Byte.backslash ? 2 : 1 }
                } else if b == Byte.openBrace || b == Byte.openBracket {
                    depth += 1
                } else if b == Byte.closeBrace || b == Byte.closeBracket {
                    depth -= 1
                    if depth == 0 { return i + 1 }
                }
                i += 1
            }
        case UInt8(ascii: "t"), UInt8(ascii: "n"): return i + 4
        case UInt8(ascii: "f"): return i + 5
        default:
            while i < bytes.count, !Byte.isWhitespace(bytes[i]), bytes[i] != Byte.comma, bytes[i] != Byte.closeBrace, bytes[i] != Byte.closeBracket { i += 1 }
            return i
        }
    }

    static func skipWhitespace(_ bytes: [UInt8], _ at: Int) -> Int {
        var i = at
        while i < bytes.count, Byte.isWhitespace(bytes[i]) { i += 1 }
        return i
    }

    var stringRange: Range<Int> { (offset + 1)..<(Self.end(of: bytes, at: offset) - 1) }
    var numberText: String { String(decoding: bytes[offset..<Self.end(of: bytes, at: offset)], as: UTF8.self) }

    // MARK: containers

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard kind == .object else { throw mismatch("an object") }
        return KeyedDecodingContainer(JSONObjectContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard kind == .array else { throw mismatch("an array") }
        return JSONArrayContainer(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // MARK: leaves

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is Bool.Type: return try decodeBool() as! T
        case is String.Type: return try decodeString() as! T
        case is UInt32.Type: return try integer(UInt32.self) as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is UInt64.Type: return try integer(UInt64.self) as! T
        case is Int32.Type: return try integer(Int32.self) as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is UInt.Type: return try integer(UInt.self) as! T
        case is UInt8.Type: return try integer(UInt8.self) as! T
        case is UInt16.Type: return try integer(UInt16.self) as! T
        case is Int8.Type: return try integer(Int8.self) as! T
        case is Int16.Type: return try integer(Int16.self) as! T
        case is Double.Type: return try decodeDouble() as! T
        case is Float.Type: return try decodeFloat() as! T
        default: return try T(from: self)
        }
    }

    func decodeBool() throws -> Bool {
        guard kind == .bool else { throw mismatch("true or false") }
        return bytes[offset] == UInt8(ascii: "t")
    }

    func decodeString() throws -> String {
        guard kind == .string else { throw mismatch("a string") }
        guard let s = JSONStrings.decode(bytes, stringRange) else { throw invalid("the string holds an invalid escape", fix: "write the character itself") }
        return s
    }

    /// An integer read exactly from its digits.
    func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let range = "\(T.min)...\(T.max)"
        guard kind == .number else { throw mismatch("an integer in \(range)", fix: "write a whole number in \(range), without quotes") }
        let end = Self.end(of: bytes, at: offset)
        var i = offset
        let negative = bytes[i] == Byte.minus
        if negative { i += 1 }
        guard bytes[i..<end].allSatisfy(Byte.isDigit) else {
            throw invalid("\(quoteForMessage(numberText)) is not a whole number", fix: "write an integer in \(range) without a fraction or exponent")
        }
        var value: T = 0
        var overflow = false
        for b in bytes[i..<end] {
            let digit = T(b - Byte.zero)
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { overflow = true; break }
            value = s
        }
        if overflow || (negative && !T.isSigned && value != 0) {
            throw invalid("\(quoteForMessage(numberText)) is outside \(range)", fix: "write a whole number in \(range)")
        }
        return value
    }

    func decodeDouble() throws -> Double {
        guard kind == .number else { throw mismatch("a number", fix: "write a number (floats also take the strings \"nan\", \"inf\" and \"-inf\" where the form says so)") }
        guard let d = Double(numberText), d.isFinite else { throw invalid("\(quoteForMessage(numberText)) does not fit a 64-bit float", fix: "write a smaller number") }
        return d
    }

    func decodeFloat() throws -> Float {
        guard kind == .number else { throw mismatch("a number", fix: "write a number (floats also take the strings \"nan\", \"inf\" and \"-inf\" where the form says so)") }
        // Parsed from the text as a Float: going through Double would round twice.
        guard let f = Float(numberText), f.isFinite else { throw invalid("\(quoteForMessage(numberText)) does not fit a 32-bit float", fix: "write a number within about 3.4e38") }
        return f
    }
}

extension JSONValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { kind == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try decodeBool() }
    func decode(_ type: String.Type) throws -> String { try decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try decodeDouble() }
    func decode(_ type: Float.Type) throws -> Float { try decodeFloat() }
    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(T.self) }
}

/// An object's members, indexed once when the container is made.
private struct JSONObjectContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: JSONValueDecoder
    private let members: [(key: String, offset: Int)]
    private let index: [String: Int]?

    init(decoder: JSONValueDecoder) {
        self.decoder = decoder
        let bytes = decoder.bytes
        var members: [(key: String, offset: Int)] = []
        var i = JSONValueDecoder.skipWhitespace(bytes, decoder.offset + 1)
        while bytes[i] != Byte.closeBrace {
            let keyEnd = JSONValueDecoder.end(of: bytes, at: i)
            let key = JSONStrings.decode(bytes, (i + 1)..<(keyEnd - 1)) ?? ""
            i = JSONValueDecoder.skipWhitespace(bytes, keyEnd) + 1
            i = JSONValueDecoder.skipWhitespace(bytes, i)
            members.append((key: key, offset: i))
            i = JSONValueDecoder.skipWhitespace(bytes, JSONValueDecoder.end(of: bytes, at: i))
            if bytes[i] == Byte.comma { i = JSONValueDecoder.skipWhitespace(bytes, i + 1) }
        }
        self.members = members
        // Small objects are searched in place; large ones (control maps, say) get a dictionary.
        self.index = members.count > 12 ? Dictionary(members.enumerated().map { ($0.element.key, $0.offset) }, uniquingKeysWith: { a, _ in a }) : nil
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

    private func offset(_ key: Key) -> Int? {
        if let index { return index[key.stringValue].map { members[$0].offset } }
        return members.first { $0.key == key.stringValue }?.offset
    }

    private func value(_ key: Key) throws -> JSONValueDecoder {
        guard let at = offset(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required key '\(key.stringValue)' is missing"))
        }
        return decoder.child(at, key)
    }

    func contains(_ key: Key) -> Bool { offset(key) != nil }
    /// Every optional key of vyre-gl's documents is left out to take its default; `null` is
    /// refused everywhere alike, rather than read as absent by `decodeIfPresent` and as a wrong
    /// type by `decode`.
    func decodeNil(forKey key: Key) throws -> Bool {
        let v = try value(key)
        guard v.kind != .null else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "null", underlyingError: Diagnostic(
                "null is not a value here", fix: "leave '\(quoteForMessage(key.stringValue, limit: 40))' out to use its default, or give a value")))
        }
        return false
    }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try value(key).decodeBool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try value(key).decodeString() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try value(key).decodeDouble() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try value(key).decodeFloat() }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try value(key).integer(Int.self) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try value(key).integer(Int8.self) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try value(key).integer(Int16.self) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try value(key).integer(Int32.self) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try value(key).integer(Int64.self) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try value(key).integer(UInt.self) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try value(key).integer(UInt8.self) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try value(key).integer(UInt16.self) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try value(key).integer(UInt32.self) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try value(key).integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try value(key).decodeValue(T.self) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try value(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try value(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { try value(key) }
}

/// An array's elements, read front to back.
private struct JSONArrayContainer: UnkeyedDecodingContainer {
    let decoder: JSONValueDecoder
    private var cursor: Int
    private(set) var currentIndex = 0

    init(decoder: JSONValueDecoder) {
        self.decoder = decoder
        cursor = JSONValueDecoder.skipWhitespace(decoder.bytes, decoder.offset + 1)
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var isAtEnd: Bool { decoder.bytes[cursor] == Byte.closeBracket }

    var count: Int? {
        var n = currentIndex
        var i = cursor
        let bytes = decoder.bytes
        while bytes[i] != Byte.closeBracket {
            n += 1
            i = JSONValueDecoder.skipWhitespace(bytes, JSONValueDecoder.end(of: bytes, at: i))
            if bytes[i] == Byte.comma { i = JSONValueDecoder.skipWhitespace(bytes, i + 1) }
        }
        return n
    }

    private mutating func next() throws -> JSONValueDecoder {
        guard !isAtEnd else {
            let detail = Diagnostic("the array has only \(currentIndex) elements", fix: "add the missing elements")
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [JSONPathKey(intValue: currentIndex)], debugDescription: detail.problem, underlyingError: detail))
        }
        let element = decoder.child(cursor, JSONPathKey(intValue: currentIndex))
        let bytes = decoder.bytes
        cursor = JSONValueDecoder.skipWhitespace(bytes, JSONValueDecoder.end(of: bytes, at: cursor))
        if bytes[cursor] == Byte.comma { cursor = JSONValueDecoder.skipWhitespace(bytes, cursor + 1) }
        currentIndex += 1
        return element
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, decoder.bytes[cursor] == UInt8(ascii: "n") else { return false }
        _ = try next()
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeBool() }
    mutating func decode(_ type: String.Type) throws -> String { try next().decodeString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeDouble() }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decodeFloat() }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().integer(Int.self) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().integer(Int8.self) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().integer(Int16.self) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().integer(Int32.self) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().integer(Int64.self) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().integer(UInt.self) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().integer(UInt8.self) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().integer(UInt16.self) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().integer(UInt32.self) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().integer(UInt64.self) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(T.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}
