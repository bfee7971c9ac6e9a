import Foundation
import Testing
import VyreStream
import VyreTesting

/// grep -F -c's answer, written the plain way: split into lines (at `\n`, and at NUL in a file
/// that has one), count lines holding some pattern.
func naiveCount(_ text: [UInt8], _ patterns: LiteralPatterns) -> UInt64 {
    let binary = text.contains(0)
    var lines = text.split(omittingEmptySubsequences: false) { $0 == 10 || (binary && $0 == 0) }.map { Array($0) }
    if text.last == 10 || (binary && text.last == 0) || text.isEmpty { lines.removeLast() }
    return UInt64(lines.filter { line in patterns.patterns.contains { $0.isEmpty || contains(line, $0) } }.count)
}

func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool { occurrences(hay, needle) > 0 }

/// Start offsets of `needle` in `hay`, overlaps included.
func occurrences(_ hay: [UInt8], _ needle: [UInt8]) -> Int {
    guard !needle.isEmpty, needle.count <= hay.count else { return 0 }
    return (0...(hay.count - needle.count)).filter { i in hay[i..<(i + needle.count)].elementsEqual(needle) }.count
}

/// Random text over a small alphabet that has terminators, CR, NUL and high bytes, and patterns drawn
/// from it (some of them pieces of the text, so they match).
func corpus(_ rng: inout SystemRandomNumberGenerator, seed: UInt64, bytes: Int, patterns: Int, nul: Bool) -> ([UInt8], LiteralPatterns) {
    var g = SeededRandom(seed: seed)
    let alphabet: [UInt8] = [97, 98, 99, 98, 97, 10, 13, 0x80, 0xff] + (nul ? [0] : [])
    let text = (0..<bytes).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
    var pats: [[UInt8]] = []
    for _ in 0..<patterns {
        let len = 1 + Int(g.next() % 6)
        if g.next() % 2 == 0, text.count > len {
            let at = Int(g.next() % UInt64(text.count - len))
            pats.append(Array(text[at..<(at + len)]).filter { $0 != 10 })
        } else {
            pats.append((0..<len).map { _ in [97, 98, 99, 13][Int(g.next() % 4)] })
        }
    }
    return (text, LiteralPatterns(pats.filter { !$0.isEmpty }))
}

/// Counts lines by scanning `text` in segments of `segment` bytes, each warmed by the bytes
/// before it, as the GPU does.
func segmentedCount(_ text: [UInt8], _ dfa: LiteralDFA, segment: Int, counts: UnsafeMutablePointer<UInt64>? = nil) -> UInt64 {
    var counter = LineSpan()
    text.withUnsafeBytes { raw in
        var start = 0
        while start < text.count {
            let end = min(text.count, start + segment)
            counter.add(dfa.scan(raw, warmStart: max(0, start - max(0, dfa.maxLength - 1)), start: start, end: end, counts: counts))
            start = end
        }
    }
    return counter.lines
}

@Suite("Literal automaton")
struct LiteralDFATests {
    @Test("grep's pattern file: a final newline ends the last pattern, an empty line is an empty pattern")
    func patternFile() {
        #expect(LiteralPatterns(grepFile: []).patterns.isEmpty)
        #expect(LiteralPatterns(grepFile: Array("\n".utf8)).patterns == [[]])
        #expect(LiteralPatterns(grepFile: Array("ab\r\ncd".utf8)).patterns == [Array("ab\r".utf8), Array("cd".utf8)])
        #expect(LiteralPatterns(grepFile: Array("ab\n\n".utf8)).patterns == [Array("ab".utf8), []])
    }

    @Test("line counts and pattern counts agree with the plain model over every segment size", arguments: [1, 2, 3, 5, 8, 64, 1000])
    func segments(segment: Int) throws {
        var rng = SystemRandomNumberGenerator()
        for seed in 0..<30 as Range<UInt64> {
            let (text, patterns) = corpus(&rng, seed: seed, bytes: 300 + Int(seed) * 7, patterns: 1 + Int(seed % 7), nul: seed % 3 == 0)
            let dfa = try LiteralDFA(patterns, maxTableWords: 1 << 24)
            let counts = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, dfa.distinctCount))
            counts.initialize(repeating: 0, count: max(1, dfa.distinctCount))
            defer { counts.deallocate() }
            #expect(segmentedCount(text, dfa, segment: segment, counts: counts) == naiveCount(text, patterns), "seed \(seed)")
            // Occurrences are counted in the text as grep searches it: NUL ends a line, so a pattern never spans it.
            for (i, p) in patterns.patterns.enumerated() {
                let expected = text.split(separator: 0, omittingEmptySubsequences: false).map { occurrences(Array($0), p) }.reduce(0, +)
                #expect(Int(dfa.distinct[i].map { counts[$0] } ?? 0) == expected, "seed \(seed) pattern \(p)")
            }
        }
    }

    @Test("self-overlapping patterns, prefixes of others, the empty pattern, NUL in a pattern")
    func shapes() throws {
        let text = Array("aaaa\nabab\n\nxyz\0aab".utf8)
        for pats in [["aa"], ["a", "aa", "aaa"], ["ab", "aba", "bab"], [""], ["", "zz"], ["b\0a"], ["zz"]] {
            let patterns = LiteralPatterns(pats.map { Array($0.utf8) })
            let dfa = try LiteralDFA(patterns, maxTableWords: 1 << 20)
            for segment in [1, 3, 7, 100] { #expect(segmentedCount(text, dfa, segment: segment) == naiveCount(text, patterns), "\(pats) segment \(segment)") }
        }
    }

    @Test("a table larger than the device allows is refused")
    func tooLarge() {
        let patterns = LiteralPatterns((0..<100).map { i in Array("pattern number \(i) is long".utf8) })
        #expect(throws: ScanError.self) { try LiteralDFA(patterns, maxTableWords: 10_000) }
    }
}
