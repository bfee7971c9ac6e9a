public import VyreIR
public import VyreProtocol

/// The resident megakernel's SCAN opcode for one automaton: a slot scans one segment of a chunk in
/// the data buffer and leaves the segment's ``SegmentSummary`` in the results buffer.
///
/// Args: `[first word, warm-up bytes, segment bytes, result index, flags]`. The lane runs the
/// automaton over the warm-up bytes (the lookbehind before the segment, so a match that crosses
/// into the segment is found) without counting, then over the segment, reading a word at a time
/// and `bytesPerTrip` bytes per loop trip. Results: `[terminators, complete matched lines,
/// head | tail << 1, bytes scanned]` at `resultsBase + 4 * result index`. With flag 1, each byte
/// that ends a match adds 1 to its state's 64-bit counter at ``counterWord(state:)`` (the host turns states
/// into patterns), so no lane walks output chains.
///
/// Two buffers beside the protocol's six, so the kernel fits the 8 storage blocks GL 4.3
/// guarantees: the automaton (`scan_table`, device-local, read-only) and `scan_io`, host-mapped:
/// the chunk data the feeder reads into, then the results, then the counters.
///
/// Both are runtime-sized, and every size and offset comes from the table's header
/// (``tableWords``), not from the program: one program serves every pattern set and geometry,
/// so the driver compiles it once and the program binary cache has it after (a cold compile
/// took 17 s on the H200's driver).
public struct ScanKernel: Sendable {
    public static let opcode: UInt32 = 0x5C4E
    public static let bytesPerTrip = 32
    /// Fault reasons of the handler.
    public static let faultArgs: UInt32 = 256

    public static let tableBinding = MegakernelBindings.firstExtra
    public static let ioBinding = MegakernelBindings.firstExtra + 1

    public let dfa: LiteralDFA
    public let dataWords: Int
    public let resultSlots: Int
    /// Words of shared memory the table is copied into at the start of each dispatch, each
    /// workgroup its own copy (0: the lanes read it from `scan_table`). A size per device, not per
    /// table, so one program still serves every table that fits (``fitsShared(_:)``).
    public let sharedWords: Int

    public init(dfa: LiteralDFA, dataWords: Int, resultSlots: Int, sharedWords: Int = 0) {
        self.dfa = dfa
        self.dataWords = dataWords
        self.resultSlots = resultSlots
        self.sharedWords = sharedWords
    }

    /// The words a scan reads from the table: the header, the byte classes and the transitions
    /// (the outputs after them are for the host).
    public static func scanWords(_ dfa: LiteralDFA) -> Int { headerWords + dfa.outputBase }

    /// Shared-memory words for the table on a device with `maxSharedBytes` per workgroup: what is
    /// left after the megakernel's own arrays (1 KiB kept for them), at most 12,288 (48 KiB).
    public static func sharedWords(maxSharedBytes: UInt32) -> Int { min(12_288, max(0, (Int(maxSharedBytes) - 1024) / 4)) }

    /// Whether `dfa`'s scan words fit `sharedWords` words.
    public static func fitsShared(_ dfa: LiteralDFA, sharedWords: Int) -> Bool { sharedWords > 0 && scanWords(dfa) <= sharedWords }

    /// Where lanes read the table.
    private var table: String { sharedWords > 0 ? "s_tab" : "scan_table" }

    /// Words of `scan_table`'s header: the next-state table's start (in `scan_table`), the byte
    /// classes, the data words, the result slots, where the results and where the counters start
    /// (in `scan_io`); then two spare words.
    public static let headerWords = 8

    /// `scan_table`'s words: the header, then the automaton's table.
    public var tableWords: [UInt32] {
        let header = [Self.headerWords + dfa.nextBase, dfa.classes, dataWords, resultSlots, resultsBase, countsBase, 0, 0].map { UInt32($0) }
        return header + dfa.tableWords
    }

    /// Where the results and the counters start in `scan_io`, and its size, in words.
    public var resultsBase: Int { dataWords }
    public var countsBase: Int { dataWords + resultSlots * 4 }
    public var ioWords: Int { countsBase + dfa.states * dfa.classes * 2 }

    /// Where state `s`'s counter lies in `scan_io` (two words, low first).
    public func counterWord(state s: Int) -> Int { countsBase + 2 * s * dfa.classes }

    /// The configuration to build the resident kernel from, with `lanes` lanes per workgroup.
    public func configuration(lanes: UInt32) -> MegakernelConfiguration {
        var c = MegakernelConfiguration(workgroupSize: lanes, opcodes: [OpcodeHandler(opcode: Self.opcode, name: "SCAN", body: body())], extraBuffers: buffers)
        if sharedWords > 0 {
            // Lane i copies words i, i + lanes, ...: the table's scan words, once per dispatch.
            let copied: Expr = .binary(.min, .length("scan_table"), Self.u(sharedWords))
            c.shared = [SharedDecl("s_tab", type: .u32, count: UInt32(sharedWords))]
            c.prologue = [
                .for("s_copy", from: 0, to: Self.u((sharedWords + Int(lanes) - 1) / Int(lanes)), body: [
                    .let("s_word", "s_copy" * Self.u(Int(lanes)) + .localIndex),
                    .if("s_word" < copied, then: [.store("s_tab", at: "s_word", .load("scan_table", at: "s_word"))], else: []),
                ]),
            ]
        }
        return c
    }

    public var buffers: [BufferDecl] {
        [BufferDecl("scan_table", binding: Self.tableBinding, access: .readOnly, type: .u32),
         BufferDecl("scan_io", binding: Self.ioBinding, access: .readWrite, type: .u32, placement: .hostMapped)]
    }

    private static func u(_ v: Int) -> Expr { .u32(UInt32(v)) }

    /// One automaton step on byte `j` of word `word`; `record` adds the line bookkeeping.
    private func step(_ word: Expr, byte j: Int, record: Bool) -> [Node] {
        let b = "s_b\(j)", e = "s_e\(j)"
        var nodes: [Node] = [
            .let(b, .load(table, at: Self.u(Self.headerWords) + ((word >> Self.u(8 * j)) & 255))),
            .let(e, .load(table, at: "s_next" + "s_state" + .variable(b))),
            .assign("s_state", .variable(e) & Self.u(Int(LiteralDFA.stateMask))),
        ]
        guard record else { return nodes }
        let out: Expr = .variable(e) >> 31
        let term: Expr = (.variable(e) >> 30) & 1
        nodes += [
            .assign("s_m", Expr.variable("s_m") | out),
            // Branch-free line bookkeeping: lanes stay in step on SIMD renderers.
            .assign("s_head", Expr.variable("s_head") | (term & .select(Expr.variable("s_t").equals(0), "s_m", 0))),
            .assign("s_complete", Expr.variable("s_complete") + (term & .select(Expr.variable("s_t").notEquals(0), "s_m", 0))),
            .assign("s_t", Expr.variable("s_t") + term),
            .assign("s_m", Expr.variable("s_m") & (term ^ 1)),
            .if(Expr.variable("s_count").notEquals(0) && out.notEquals(0), then: [
                // Indexed by the premultiplied state (the host reads every classes-th pair): a
                // division by the class count here made llvmpipe's scan 18 % slower, counting or not.
                .let("s_at\(j)", "s_counts" + "s_state" * 2),
                .let("s_old\(j)", .atomic(.add, "scan_io", at: .variable("s_at\(j)"), 1)),
                .if(Expr.variable("s_old\(j)").equals(0xFFFF_FFFF), then: [.let("s_carry\(j)", .atomic(.add, "scan_io", at: .variable("s_at\(j)") + 1, 1))], else: []),
            ], else: []),
        ]
        return nodes
    }

    func body() -> [Node] {
        let (first, warm, bytes, result, flags): (Expr, Expr, Expr, Expr, Expr) = ("arg0", "arg1", "arg2", "arg3", "arg4")
        let wordsPerTrip = Self.bytesPerTrip / 4
        // Args in range: the words read lie in the data buffer, the result slot in the results.
        let aligned: Expr = (warm % Expr.u32(4)).equals(0)
        let small: Expr = warm <= Self.u(1 << 20) && bytes <= Self.u(1 << 28)
        let wordsRead: Expr = (warm + bytes + Expr.u32(3)) / Expr.u32(4)
        let inData: Expr = first <= "s_data" && wordsRead <= "s_data" - first
        let ok: Expr = aligned && small && inData && result < "s_results"
        var main: [Node] = [.let("s_base", "arg0" + warm / 4 + "s_trip" * Self.u(wordsPerTrip))]
        for w in 0..<wordsPerTrip {
            let word = "s_w\(w)"
            let at: Expr = ("s_trip" * Self.u(wordsPerTrip) + Self.u(w)) * 4
            var steps: [Node] = []
            for j in 0..<4 {
                steps.append(.if(at + Self.u(j) < bytes, then: step(.variable(word), byte: j, record: true), else: []))
            }
            main.append(.if(at < bytes, then: [.let(word, .load("scan_io", at: "s_base" + Self.u(w)))] + steps, else: []))
        }
        let trips: Expr = (bytes + Self.u(Self.bytesPerTrip - 1)) / Self.u(Self.bytesPerTrip)
        let none: Expr = Expr.variable("s_t").equals(0)
        let flagsWord: Expr = .select(none, "s_m", "s_head") | (.select(none, 0, "s_m") << Expr.u32(1))
        let warmBody: [Node] = [.let("s_ww", .load("scan_io", at: first + "s_warm"))] + (0..<4).flatMap { step("s_ww", byte: $0, record: false) }
        let header: [Node] = ["s_next", "", "s_data", "s_results", "s_results_at", "s_counts"].enumerated().compactMap { k, name in
            name.isEmpty ? nil : .let(name, .load(table, at: Self.u(k)))
        }
        return header + [
            .if(!ok, then: [.assign("fault", .u32(Self.faultArgs))], else: [
                .let("s_state", .u32(0)),
                .let("s_m", .u32(0)), .let("s_t", .u32(0)), .let("s_head", .u32(0)), .let("s_complete", .u32(0)),
                .let("s_count", flags & 1),
                .for("s_warm", from: 0, to: warm / Expr.u32(4), body: warmBody),
                .for("s_trip", from: 0, to: trips, body: main),
                .let("s_at", "s_results_at" + result * 4),
                .store("scan_io", at: "s_at", "s_t"),
                .store("scan_io", at: "s_at" + 1, "s_complete"),
                .store("scan_io", at: "s_at" + 2, flagsWord),
                .store("scan_io", at: "s_at" + 3, bytes),
            ]),
        ]
    }

    /// Loop trips one slot of `segmentBytes` bytes after a warm-up of `warmBytes` takes.
    public static func trips(segmentBytes: Int, warmBytes: Int) -> Int {
        (segmentBytes + bytesPerTrip - 1) / bytesPerTrip + warmBytes / 4
    }
}
