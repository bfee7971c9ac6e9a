import Foundation
import Testing
import VyreIR

/// The strict decoder every JSON input goes through.
struct StrictJSONTests {
    struct Numbers: Decodable, Equatable {
        var u: UInt32
        var i: Int32?
        var f: Float?
        var b: Bool?
        var list: [UInt32]?
    }

    static func decode(_ text: String) -> Result<Numbers, ProgramJSONError> {
        do { return .success(try StrictJSONDecoder().decode(Numbers.self, from: Array(text.utf8))) } catch let e as DecodingError {
            return .failure(ProgramJSONError(e))
        } catch {
            return .failure(ProgramJSONError(path: "?", problem: "\(error)", fix: ""))
        }
    }

    @Test func exactValuesDecode() throws {
        let n = try Self.decode(#"{"u": 4294967295, "i": -2147483648, "f": 0.1, "b": true, "list": [0, 1]}"#).get()
        #expect(n == Numbers(u: .max, i: .min, f: Float(0.1), b: true, list: [0, 1]))
        // Floats are read from the text as floats: no double rounding.
        #expect(try Self.decode(#"{"u": 0, "f": 1.00000005960464477539062500001}"#).get().f == Float("1.00000005960464477539062500001"))
    }

    @Test(arguments: [
        (#"{"u": true}"#, "u", "expected an integer in 0...4294967295, found true"),
        (#"{"u": "200"}"#, "u", "found the string \"200\""),
        (#"{"u": 1.0}"#, "u", "is not a whole number"),
        (#"{"u": 1e3}"#, "u", "is not a whole number"),
        (#"{"u": 4294967296}"#, "u", "4294967296 is outside 0...4294967295"),
        (#"{"u": -1}"#, "u", "-1 is outside 0...4294967295"),
        (#"{"u": 1, "b": 1}"#, "b", "expected true or false, found the number 1"),
        (#"{"u": 1, "list": "1,200"}"#, "list", "expected an array, found the string"),
        (#"{"u": 1, "f": 1e39}"#, "f", "does not fit a 32-bit float"),
        (#"{"u": 1, "u": 2}"#, "u", "the key 'u' appears twice"),
        (#"{"u": 1, "\u0075": 2}"#, "u", "appears twice"),
        (#"{"u": 01}"#, "u", "may not start with 0"),
        (#"{"u": 1,}"#, "(top level)", "expected a key"),
        (#"{"u": [1, 2,]}"#, "u", "trailing commas"),
        (#"{"u": 1} x"#, "(top level)", "unexpected text after"),
        (#"{"u": 1 // comment"#, "(top level)", "expected ',' or '}'"),
        (#"{"u": "\ud800"}"#, "u", "surrogate"),
        (#"{"u": "a\qb"}"#, "u", "unknown escape"),
        ("", "(top level)", "the text is empty"),
        (#"{"u": NaN}"#, "u", "expected a value"),
    ])
    func everyLooseInputIsRefusedWithItsPath(_ text: String, _ path: String, _ problem: String) {
        switch Self.decode(text) {
        case .success(let n): Issue.record("accepted \(text) as \(n)")
        case .failure(let e):
            #expect(e.path == path, "\(e)")
            #expect(e.problem.contains(problem), "\(e)")
            #expect(e.description.contains("Fix: "))
        }
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        guard case .failure(let e) = Self.decode("{\n  \"u\": 1,\n  \"list\": [1, 2\n}") else { Issue.record("accepted"); return }
        #expect(e.problem.contains("line 4, column 1"), "\(e)")
        #expect(e.path == "list[1]" || e.path == "list", "\(e)")
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = Array(#"{"u": 1, "s": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: DecodingError.self) { try StrictJSONDecoder().decode([String: String].self, from: bytes) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        do {
            _ = try StrictJSONDecoder().decode([UInt32].self, from: Array(deep.utf8))
            Issue.record("accepted 100,000 levels")
        } catch let e as DecodingError {
            #expect(ProgramJSONError(e).problem.contains("nest deeper than 512"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func hugeValuesAreQuotedShort() {
        let long = String(repeating: "9", count: 1_000_000)
        guard case .failure(let e) = Self.decode(#"{"u": \#(long)}"#) else { Issue.record("accepted"); return }
        #expect(e.description.count < 400)
        #expect(e.problem.contains("(1000000 characters)"))
    }

    @Test func aMillionSmallObjectsDecodeInProportion() throws {
        struct Op: Decodable { var op: String }
        let text = "[" + Array(repeating: #"{"op": "NOP"}"#, count: 1 << 20).joined(separator: ",") + "]"
        let ops = try StrictJSONDecoder().decode([Op].self, from: Array(text.utf8))
        #expect(ops.count == 1 << 20 && ops.last?.op == "NOP")
    }
}
