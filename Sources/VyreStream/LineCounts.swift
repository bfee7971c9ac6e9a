/// What the scan of one segment of a file found, enough to count matching lines across segments:
/// lines wholly inside it are counted there, and the line that runs in from the segment before
/// and the one that runs on into the next are described by whether a match ended in their part.
public struct SegmentSummary: Sendable, Hashable {
    /// Line terminators in the segment (`\n`, and NUL).
    public var terminators: UInt32
    /// Lines that start after a terminator of the segment and end at a later one, with a match.
    public var completeMatched: UInt32
    /// A match ended before the first terminator (or anywhere, with none).
    public var headMatched: Bool
    /// A match ended after the last terminator.
    public var tailMatched: Bool

    public init(terminators: UInt32, completeMatched: UInt32, headMatched: Bool, tailMatched: Bool) {
        self.terminators = terminators
        self.completeMatched = completeMatched
        self.headMatched = headMatched
        self.tailMatched = tailMatched
    }

    /// The summary of bytes that are all NUL (a hole of a sparse file): every byte ends a line,
    /// and those empty lines match only an empty pattern.
    public static func zeros(_ count: Int, matchesEveryLine: Bool) -> SegmentSummary {
        SegmentSummary(terminators: UInt32(count), completeMatched: matchesEveryLine ? UInt32(count - 1) : 0,
                       headMatched: matchesEveryLine, tailMatched: false)
    }
}

/// Counts a file's matching lines from its segments' summaries, taken in file order.
public struct LineCounter: Sendable, Hashable {
    /// Matching lines ended so far.
    public private(set) var lines: UInt64 = 0
    /// Whether a match ended in the line that is still open.
    private var open = false

    public init() {}

    public mutating func add(_ s: SegmentSummary) {
        if s.terminators == 0 {
            open = open || s.headMatched
            return
        }
        lines += (open || s.headMatched) ? 1 : 0
        lines += UInt64(s.completeMatched)
        open = s.tailMatched
    }

    /// The count once the file has ended: a last line without a terminator counts too (a match
    /// can end in it only if it has bytes).
    public var total: UInt64 { lines + (open ? 1 : 0) }
}

extension LiteralDFA {
    /// Scans `bytes[start..<end]` as the kernel does, after feeding it `bytes[warmStart..<start]`
    /// to reach the state a match across `start` needs; adds pattern occurrences ending in the
    /// segment to `counts` (by distinct pattern) when given. The CPU reference of the scan kernel.
    public func scan(_ bytes: UnsafeRawBufferPointer, warmStart: Int, start: Int, end: Int, counts: UnsafeMutablePointer<UInt64>? = nil) -> SegmentSummary {
        var state = 0
        for i in warmStart..<start { state = Int(next[state + Int(classOf[Int(bytes[i])])] & Self.stateMask) }
        var summary = SegmentSummary(terminators: 0, completeMatched: 0, headMatched: false, tailMatched: false)
        var matched = false
        for i in start..<end {
            let entry = next[state + Int(classOf[Int(bytes[i])])]
            state = Int(entry & Self.stateMask)
            if entry & Self.outputFlag != 0 {
                matched = true
                if let counts {
                    var s = UInt32(state / classes)
                    if ownPattern[Int(s)] == Self.none { s = suffixOutput[Int(s)] }
                    while s != Self.none {
                        counts[Int(ownPattern[Int(s)])] += 1
                        s = suffixOutput[Int(s)]
                    }
                }
            }
            if entry & Self.terminatorFlag != 0 {
                if summary.terminators == 0 { summary.headMatched = matched } else if matched { summary.completeMatched += 1 }
                summary.terminators += 1
                matched = false
            }
        }
        if summary.terminators == 0 { summary.headMatched = matched } else { summary.tailMatched = matched }
        return summary
    }
}
