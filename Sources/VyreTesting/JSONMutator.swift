/// Seeded mutations of JSON documents, for fuzzing every JSON input of vyre-gl with the inputs a
/// hostile user would write: broken syntax, duplicate keys, values of the wrong kind or far out of
/// range, huge strings and numbers, deep nesting, control characters and stray bytes.
///
/// A seed always gives the same document, so a failing case can be reproduced from its seed.
public struct JSONMutator {
    private var rng: SeededRandom

    /// A mutator whose mutations follow from `seed`.
    public init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    /// Replacement values, from harmless to hostile.
    static let values: [String] = [
        "0", "1", "-1", "4294967295", "4294967296", "-2147483649", "18446744073709551616", "1.5", "1e3", "1e400", "-0", "0.0",
        "true", "false", "null", "\"\"", "\"200\"", "\"0200\"", "\"NOP\"", "\"nan\"", "\"inf\"", "[]", "{}", "[[[[[[1]]]]]]",
        "{\"op\": \"NOP\"}", "\"\\u0000\"", "\"\\ud800\"", "\"region \\\\\"", "\"\u{1F600}\"", "99999999999999999999999999",
    ]

    /// `document` after one to three random mutations; each call continues the sequence. The input
    /// need not be valid JSON.
    public mutating func mutate(_ document: [UInt8]) -> [UInt8] {
        var bytes = document
        for _ in 0..<rng.int(1...3) { bytes = mutateOnce(bytes) }
        return bytes
    }

    private mutating func mutateOnce(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return Array(rng.pick(Self.values).utf8) }
        var b = bytes
        let at = rng.int(0...(b.count - 1))
        switch rng.int(0...11) {
        case 0:
            // Delete a short range.
            b.removeSubrange(at..<min(b.count, at + rng.int(1...8)))
        case 1:
            // Insert JSON punctuation or a stray byte.
            let pool: [UInt8] = Array("{}[]\",:\\ 0-e.tfn".utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xFF]
            b.insert(rng.pick(pool), at: at)
        case 2:
            // Duplicate a range (repeats keys, elements, whole members).
            let end = min(b.count, at + rng.int(1...40))
            b.insert(contentsOf: b[at..<end], at: end)
        case 3, 4, 5:
            // Replace a value (a number or string token) by another kind or an extreme one.
            if let token = valueToken(in: b, near: at) { b.replaceSubrange(token, with: Array(rng.pick(Self.values).utf8)) }
        case 6:
            // Truncate.
            b.removeSubrange(at..<b.count)
        case 7:
            // A huge string value.
            if let token = valueToken(in: b, near: at) { b.replaceSubrange(token, with: Array(("\"" + String(repeating: "x", count: rng.int(1000...200_000)) + "\"").utf8)) }
        case 8:
            // Deep nesting.
            let depth = rng.int(100...2000)
            b.insert(contentsOf: Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8), at: at)
        case 9:
            // A key repeated inside its object.
            if let key = keyToken(in: b, near: at) { b.insert(contentsOf: b[key] + Array(": 1, ".utf8), at: key.lowerBound) }
        case 10:
            // An unknown key.
            if let brace = b[at...].firstIndex(of: UInt8(ascii: "{")) { b.insert(contentsOf: Array("\"unknwon\": 1, ".utf8), at: brace + 1) }
        default:
            // Swap two bytes.
            let other = rng.int(0...(b.count - 1))
            b.swapAt(at, other)
        }
        return b
    }

    /// The number or string token nearest after `at` (strings include their quotes).
    private func valueToken(in b: [UInt8], near at: Int) -> Range<Int>? {
        var i = at
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < b.count, b[j] != UInt8(ascii: "\"") { j += b[j] == UInt8(ascii: "\\") ? 2 : 1 }
                return i..<min(b.count, j + 1)
            }
            if (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") {
                var j = i
                while j < b.count, "0123456789.eE+-".utf8.contains(b[j]) { j += 1 }
                return i..<j
            }
            i += 1
        }
        return nil
    }

    /// A `"key"` token (a string followed by a colon) after `at`.
    private func keyToken(in b: [UInt8], near at: Int) -> Range<Int>? {
        var i = at
        while let token = valueToken(in: b, near: i) {
            var j = token.upperBound
            while j < b.count, b[j] == UInt8(ascii: " ") { j += 1 }
            if b[token.lowerBound] == UInt8(ascii: "\""), j < b.count, b[j] == UInt8(ascii: ":") { return token }
            i = token.upperBound
        }
        return nil
    }
}
