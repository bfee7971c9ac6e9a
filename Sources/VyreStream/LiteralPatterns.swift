public import VyreIR
public import VyreGL

/// The fixed strings of a search, in the order given, as `grep -F -f FILE` reads them: one per
/// line of the file, split at `\n` (a final `\n` ends the last pattern rather than adding an empty
/// one), every other byte kept as it is (a `\r` before the `\n` is part of the pattern).
public struct LiteralPatterns: Sendable, Hashable {
    public let patterns: [[UInt8]]

    public init(_ patterns: [[UInt8]]) { self.patterns = patterns }

    /// The patterns of a `-f` file's bytes: none for an empty file.
    public init(grepFile bytes: [UInt8]) {
        var out = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        if bytes.last == UInt8(ascii: "\n") || bytes.isEmpty { out.removeLast() }
        patterns = out
    }

    public var isEmpty: Bool { patterns.isEmpty }
    /// An empty pattern matches every line.
    public var matchesEveryLine: Bool { patterns.contains { $0.isEmpty } }
    /// The longest pattern's length.
    public var maxLength: Int { patterns.map(\.count).max() ?? 0 }

    /// Whether `pattern` can ever match: one holding NUL cannot, since a file with NUL in it is
    /// searched as grep searches a binary file, with NUL ending lines.
    static func canMatch(_ pattern: [UInt8]) -> Bool { !pattern.contains(0) }
}

/// A dense Aho-Corasick automaton over byte classes for a set of literal patterns: one table
/// lookup per byte, no failure links to follow at run time.
///
/// Bytes fall into classes: 0 for bytes no pattern holds, 1 for line terminators (`\n`, and NUL,
/// which ends lines in any file that has it: grep's rule for binary files), then one class per
/// byte some pattern holds. A table entry is the next state times ``classes`` (so the next lookup
/// is `entry & stateMask` plus a class), with ``outputFlag`` when a pattern ends at the next state
/// and ``terminatorFlag`` on the terminator class.
public struct LiteralDFA: Sendable {
    public static let outputFlag: UInt32 = 1 << 31
    public static let terminatorFlag: UInt32 = 1 << 30
    public static let stateMask: UInt32 = (1 << 30) - 1
    /// `ownPattern` value of a state where no pattern ends, and `suffixOutput` of a state with no
    /// shorter output.
    public static let none: UInt32 = 0xFFFF_FFFF

    public let states: Int
    public let classes: Int
    /// The class of each byte.
    public let classOf: [UInt32]
    /// `states * classes` entries.
    public let next: [UInt32]
    /// Per state (by index, not premultiplied): the distinct pattern that ends exactly there, or ``none``.
    public let ownPattern: [UInt32]
    /// Per state: the nearest shorter suffix state where a pattern ends, or ``none``.
    public let suffixOutput: [UInt32]
    /// For each given pattern, its distinct pattern's index (duplicates share one; patterns that
    /// cannot match have none).
    public let distinct: [Int?]
    public let distinctCount: Int
    /// The longest pattern that can match.
    public let maxLength: Int

    /// Builds the automaton; throws when it would take more than `maxTableWords` words.
    public init(_ patterns: LiteralPatterns, maxTableWords: Int) throws(ScanError) {
        var ids: [[UInt8]: Int] = [:]
        var distinct: [Int?] = []
        var texts: [[UInt8]] = []
        for p in patterns.patterns {
            guard !p.isEmpty, LiteralPatterns.canMatch(p) else { distinct.append(nil); continue }
            if let id = ids[p] { distinct.append(id); continue }
            ids[p] = texts.count
            distinct.append(texts.count)
            texts.append(p)
        }
        self.distinct = distinct
        distinctCount = texts.count
        maxLength = texts.map(\.count).max() ?? 0

        // Classes: 0 other, 1 terminators, then each byte a pattern holds.
        var classOf = [UInt32](repeating: 0, count: 256)
        classOf[0] = 1
        classOf[Int(UInt8(ascii: "\n"))] = 1
        var classes = 2
        for p in texts { for b in p where classOf[Int(b)] == 0 { classOf[Int(b)] = UInt32(classes); classes += 1 } }
        self.classOf = classOf
        self.classes = classes

        // The trie, one row of `classes` children per state (-1: none).
        var child: [Int32] = Array(repeating: -1, count: classes)
        var own: [UInt32] = [Self.none]
        for (id, p) in texts.enumerated() {
            var s = 0
            for b in p {
                let c = Int(classOf[Int(b)])
                if child[s * classes + c] < 0 {
                    child[s * classes + c] = Int32(own.count)
                    own.append(Self.none)
                    child += Array(repeating: -1, count: classes)
                }
                s = Int(child[s * classes + c])
            }
            own[s] = UInt32(id)
        }
        let states = own.count
        if states * classes > maxTableWords - 256 {
            throw .patternsTooLarge(states: states, classes: classes, limitWords: maxTableWords)
        }
        self.states = states
        ownPattern = own

        (next, suffixOutput) = Self.complete(child: child, own: own, classes: classes, matchesEveryLine: patterns.matchesEveryLine)
    }

    /// Breadth first over the trie: failure links, the full transition function as table entries
    /// (premultiplied, with the output and terminator flags), and each state's nearest shorter output.
    private static func complete(child: [Int32], own: [UInt32], classes: Int, matchesEveryLine: Bool) -> (next: [UInt32], suffix: [UInt32]) {
        let states = own.count
        var delta = [Int32](repeating: 0, count: states * classes)
        var fail = [Int](repeating: 0, count: states)
        var output = [Bool](repeating: false, count: states)
        var suffix = [UInt32](repeating: none, count: states)
        output[0] = matchesEveryLine
        var queue: [Int] = []
        for c in 2..<classes {
            let t = child[c]
            if t >= 0 { delta[c] = t; queue.append(Int(t)) }
        }
        var head = 0
        while head < queue.count {
            let s = queue[head]
            head += 1
            output[s] = own[s] != none || output[fail[s]]
            suffix[s] = own[fail[s]] != none ? UInt32(fail[s]) : suffix[fail[s]]
            for c in 2..<classes {
                let t = child[s * classes + c]
                if t >= 0 {
                    fail[Int(t)] = s == 0 ? 0 : Int(delta[fail[s] * classes + c])
                    delta[s * classes + c] = t
                    queue.append(Int(t))
                } else {
                    delta[s * classes + c] = delta[fail[s] * classes + c]
                }
            }
        }
        var next = [UInt32](repeating: 0, count: states * classes)
        for i in 0..<(states * classes) {
            let t = Int(delta[i])
            next[i] = UInt32(t * classes) | (output[t] ? outputFlag : 0) | (i % classes == 1 ? terminatorFlag : 0)
        }
        return (next, suffix)
    }

    /// The table the scan kernel reads: the byte classes, then the transitions, then per state its
    /// own pattern and its shorter output (for counting patterns).
    public var tableWords: [UInt32] {
        var words = classOf + next
        words.reserveCapacity(words.count + 2 * states)
        for s in 0..<states { words.append(ownPattern[s]); words.append(suffixOutput[s]) }
        return words
    }
    /// Where the transitions and the outputs start in ``tableWords``.
    public var nextBase: Int { 256 }
    public var outputBase: Int { 256 + states * classes }
}

/// Errors of a scan.
public enum ScanError: DiagnosticError, Sendable {
    case patternsTooLarge(states: Int, classes: Int, limitWords: Int)
    case options(String, fix: String)
    case kernel(String, fix: String)
    /// The device cannot do what a scan needs (persistent mapping, say).
    case device(VyreGLError)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .device(let error):
            error.diagnostics
        case .patternsTooLarge(let states, let classes, let limit):
            [Diagnostic("the patterns make an automaton of \(states) states and \(classes) byte classes, more than the \(limit)-word table the device can bind",
                        fix: "split the patterns over several scans, or use a device with larger storage blocks")]
        case .options(let problem, let fix), .kernel(let problem, let fix):
            [Diagnostic(problem, fix: fix)]
        }
    }
}
