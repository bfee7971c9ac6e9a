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

/// The matching lines of a run of bytes (segments, chunks, a part of a file, a whole file) in a
/// form that joins with the run after it: a file scanned in parts, on several devices and in any
/// order, counts the same as one scanned front to back once its parts are joined in file order.
public struct LineSpan: Sendable, Hashable {
    /// Whether the bytes hold a line terminator.
    public private(set) var terminated = false
    /// A match ended before the first terminator (or anywhere, with none).
    public private(set) var headMatched = false
    /// Lines that start after a terminator and end at a later one, with a match.
    public private(set) var completeMatched: UInt64 = 0
    /// A match ended after the last terminator.
    public private(set) var tailMatched = false

    public init() {}

    /// The span of one segment.
    public init(_ s: SegmentSummary) {
        terminated = s.terminators > 0
        headMatched = s.headMatched
        completeMatched = UInt64(s.completeMatched)
        tailMatched = s.tailMatched
    }

    /// Appends the segment that follows.
    public mutating func add(_ s: SegmentSummary) { append(LineSpan(s)) }

    /// Appends the run that follows: the line open at this one's end runs on into `next`.
    public mutating func append(_ next: LineSpan) {
        guard next.terminated else {
            // All of `next` lies in the open line.
            if terminated { tailMatched = tailMatched || next.headMatched } else { headMatched = headMatched || next.headMatched }
            return
        }
        if terminated {
            // The open line ends at `next`'s first terminator: a whole line now.
            completeMatched += next.completeMatched + (tailMatched || next.headMatched ? 1 : 0)
        } else {
            headMatched = headMatched || next.headMatched
            completeMatched = next.completeMatched
            terminated = true
        }
        tailMatched = next.tailMatched
    }

    /// The matching lines when the span is a whole file: a last line without a terminator counts
    /// too (a match can end in it only if it has bytes).
    public var lines: UInt64 {
        guard terminated else { return headMatched ? 1 : 0 }
        return (headMatched ? 1 : 0) + completeMatched + (tailMatched ? 1 : 0)
    }
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
