import VyreIR

/// The resident megakernel, built as IR like the one-pass one.
///
/// One dispatch runs `iterations` rounds (a parameter, so the host bounds each dispatch's life
/// well inside the GPU watchdogs and llvmpipe's loop budget), then ends by itself; the host
/// dispatches again while work is pending. Each round:
/// 1. The workgroup's leader reads the five `tail` doorbells (host memory: O(1) words per
///    workgroup per round) and the device-local `head`s, picks the highest priority with
///    entries waiting, or the lowest waiting one when the starvation count
///    (device-local, ``ResidentLayout/starvationWord``) reaches the `starvation` parameter, and claims up to
///    one entry per lane with one compare-and-swap on that priority's `head`. It shares what it
///    claimed through shared memory and a barrier.
/// 2. Lane `i` takes entry `head + i`: when the entry's generation is its slot's, it runs the
///    slot exactly as the one-pass kernel does (tenant mask, SHUTDOWN, CAS PUBLISHED -> CLAIMED,
///    the opcode, DONE or FAULT with a reason); a slot it leaves PUBLISHED is marked parked.
/// 3. The workgroup flushes its counters and its leader adds the entries to `completed`.
///
/// No invocation waits for another beyond the workgroup barriers every lane reaches; a lost
/// compare-and-swap only means that workgroup claims nothing this round.
extension MegakernelBuilder {
    mutating func resident(workgroupSize: UInt32) -> Program {
        aggregateCounters = true
        releaseBarriers = true
        let entryNodes: [Node] = [
            .let("k_lane", .localIndex),
            .let("k_len", .length("control")),
            .let("k_obs_room", .select(Self.len > Self.u(RingProtocol.Control.observableBase), Self.len - Self.u(RingProtocol.Control.observableBase), 0)),
            .for("k_round", from: 0, to: .parameter("iterations"), body: residentRound(workgroupSize: workgroupSize)),
        ]
        let buffers = [
            BufferDecl("control", binding: MegakernelBindings.control, access: .readWrite, type: .u32, placement: .hostMapped),
            BufferDecl("ring", binding: MegakernelBindings.ring, access: .readWrite, type: .u32, placement: .hostMapped),
            BufferDecl("debug_log", binding: MegakernelBindings.debug, access: .readWrite, type: .u32, placement: .hostMapped),
            BufferDecl("io_queue", binding: MegakernelBindings.io, access: .readWrite, type: .u32, placement: .hostMapped),
            BufferDecl("queues", binding: MegakernelBindings.queues, access: .readWrite, type: .u32, placement: .hostMapped),
            BufferDecl("claims", binding: MegakernelBindings.claims, access: .readWrite, type: .u32, count: UInt32(ResidentLayout.claimsWords)),
        ] + extraBuffers
        return Program(buffers: buffers,
                       shared: [SharedDecl("k_counts", type: .u32, count: UInt32(1 + RingProtocol.Control.metricSlots)), SharedDecl("k_share", type: .u32, count: 3)],
                       workgroupSize: WorkgroupSize(workgroupSize), entry: entryNodes)
    }

    /// The leader's claim: one priority picked (with the starvation guard), up to one entry per
    /// lane claimed by CAS on its head, and the claim left in `k_share`.
    private mutating func residentClaim(lanes: Expr) -> [Node] {
        typealias L = ResidentLayout
        let priorities = ResidentLayout.priorities
        func tail(_ p: Int) -> Expr { .variable("k_t\(p)") }
        func head(_ p: Int) -> Expr { .variable("k_h\(p)") }
        func waiting(_ p: Int) -> Expr { tail(p).notEquals(head(p)) }
        let none = Self.u(priorities)
        var leader: [Node] = []
        for p in 0..<priorities {
            leader.append(.let("k_t\(p)", .load("queues", at: Self.u(L.tailWord(p)))))
            leader.append(.let("k_h\(p)", .load("claims", at: Self.u(p))))
        }
        // Highest priority waiting (walked from IDLE up), and the lowest one waiting.
        leader.append(.let("k_pick", none))
        for p in (0..<priorities).reversed() { leader.append(.if(waiting(p), then: [.assign("k_pick", Self.u(p))], else: [])) }
        leader.append(.let("k_lowest", none))
        for p in 0..<priorities { leader.append(.if(waiting(p), then: [.assign("k_lowest", Self.u(p))], else: [])) }
        // A lower priority is waiting behind a higher one: count the round, and once the count
        // reaches the guard, serve the lowest waiting priority and start counting again.
        leader.append(.if(Expr.variable("k_pick").notEquals("k_lowest"), then: [
            .let("k_starved", .atomic(.add, "claims", at: Self.u(L.starvationWord), 1) + 1),
            .if("k_starved" >= .parameter("starvation"), then: [
                .assign("k_pick", "k_lowest"),
                .let("k_reset", .atomic(.exchange, "claims", at: Self.u(L.starvationWord), 0)),
            ], else: []),
        ], else: []))
        leader.append(.let("k_first", 0))
        leader.append(.let("k_n", 0))
        for p in 0..<priorities {
            leader.append(.if(Expr.variable("k_pick").equals(Self.u(p)), then: [
                .assign("k_first", head(p)),
                .assign("k_n", .binary(.min, tail(p) - head(p), lanes)),
            ], else: []))
        }
        leader.append(.if(Expr.variable("k_n").notEquals(0), then: [
            .let("k_won", .compareExchange("claims", at: "k_pick", expected: "k_first", desired: "k_first" + "k_n")),
            .if(Expr.variable("k_won").notEquals("k_first"), then: [.assign("k_n", 0)], else: []),
        ], else: []))
        leader += [.store("k_share", at: 0, "k_pick"), .store("k_share", at: 1, "k_first"), .store("k_share", at: 2, "k_n")]
        return leader
    }

    /// One round: claim, run, count.
    private mutating func residentRound(workgroupSize: UInt32) -> [Node] {
        typealias L = ResidentLayout
        let slots: Expr = .length("ring") / Self.u(RingProtocol.slotWords)
        let priorities = L.priorities
        let leader = residentClaim(lanes: Self.u(workgroupSize))

        let entry: Expr = Self.u(L.headerWords) + ("k_p" * slots + "k_seq" % slots) * Self.u(L.entryWords)
        let state: Expr = Self.u(L.headerWords) + Self.u(priorities) * slots * Self.u(L.entryWords) + "slot" * Self.u(L.slotStateWords)
        let run: [Node] = [
            .let("k_seq", "k_first" + "k_lane"),
            .let("slot", .load("queues", at: entry)),
            .let("k_generation", .load("queues", at: entry + 1)),
            // A stale entry (its slot published again since) is skipped: its slot is another op now.
            .if("slot" < slots && Expr.load("queues", at: state).equals("k_generation"), then: [
                .let("base", "slot" * Self.u(RingProtocol.slotWords)),
                .let("k_final", Self.u(SlotStatus.published.rawValue)),
                .let("k_reason", 0),
                .let("k_cuts", .builtin(.loopCuts)),
                .region("claim and run", claimAndRun(cutsBefore: "k_cuts")),
                .if(Expr.variable("k_final").equals(Self.u(SlotStatus.published.rawValue)), then: [
                    .store("queues", at: state + 1, 1),
                ], else: []),
            ], else: []),
        ]
        let round: [Node] = [
            .region("the leader claims entries of one priority", [.if(Expr.variable("k_lane").equals(0), then: leader, else: [])]),
            .barrier(.workgroup),
            .let("k_p", .load("k_share", at: 0)),
            .let("k_first", .load("k_share", at: 1)),
            .let("k_n", .load("k_share", at: 2)),
            .region("each lane runs one claimed entry", [.if("k_lane" < "k_n", then: run, else: [])]),
            .barrier(.workgroup),
            .region("add this round's counters", flushCounters(workgroupSize: workgroupSize, reset: true) + [
                .if(Expr.variable("k_lane").equals(0) && Expr.variable("k_n").notEquals(0), then: [
                    .let("k_done", .atomic(.add, "queues", at: Self.u(L.completedWord), "k_n")),
                ], else: []),
            ]),
            // The next round's leader overwrites the shared words only after every lane read them.
            .barrier(.workgroup),
        ]
        return round
    }
}
