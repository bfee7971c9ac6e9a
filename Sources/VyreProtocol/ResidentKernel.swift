import VyreIR

/// The resident megakernel, built as IR like the one-pass one.
///
/// One dispatch runs `iterations` rounds (a parameter, so the host bounds each dispatch's life
/// well inside the GPU watchdogs and llvmpipe's loop budget), then ends by itself; the host
/// dispatches again while work is pending. Each round:
/// 1. The workgroup's leader reads the doorbell (the published total, one word of host memory)
///    and compares it with the device-local claimed total; only when they differ does it read the
///    five `tail`s (O(1) words per workgroup per round) and the device-local `head`s, picks the highest priority with
///    entries waiting, or the lowest waiting one when the starvation count
///    (device-local, ``ResidentLayout/starvationWord``) reaches the `starvation` parameter, and claims up to
///    one entry per lane with one compare-and-swap on that priority's `head`. It shares what it
///    claimed through shared memory and a barrier.
/// 2. Lane `i` takes entry `head + i`: when the entry's generation is its slot's, it runs the
///    slot exactly as the one-pass kernel does (tenant mask, SHUTDOWN, CAS PUBLISHED -> CLAIMED,
///    the opcode, DONE or FAULT with a reason); a slot it leaves PUBLISHED is marked parked. After
///    a won claim it reads the generation again: a different one means the slot was republished
///    between the check and the claim, and the lane hands it back untouched.
/// 3. The workgroup flushes its counters and its leader adds the entries to `completed`.
///
/// No invocation waits for another beyond the workgroup barriers every lane reaches; a lost
/// compare-and-swap only means that workgroup claims nothing this round.
extension MegakernelBuilder {
    mutating func resident(workgroupSize: UInt32) -> Program {
        aggregateCounters = true
        releaseBarriers = true
        servesIO = true
        let entryNodes: [Node] = prologueNodes + [
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
                       shared: [SharedDecl("k_counts", type: .u32, count: UInt32(1 + RingProtocol.Control.metricSlots)), SharedDecl("k_share", type: .u32, count: 6),
                                SharedDecl("k_tenants", type: .u32, count: UInt32(Self.sharedTenants))] + extraShared,
                       workgroupSize: WorkgroupSize(workgroupSize), entry: entryNodes)
    }

    /// The leader's claim: one priority picked (with the starvation guard), up to one entry per
    /// lane claimed by CAS on its head, and the claim left in `k_share`.
    private mutating func residentClaim(lanes: Expr) -> [Node] {
        typealias L = ResidentLayout
        let priorities = ResidentLayout.priorities
        func head(_ p: Int) -> Expr { .variable("k_h\(p)") }
        func distance(_ p: Int) -> Expr { .variable("k_d\(p)") }
        func waiting(_ p: Int) -> Expr { distance(p).notEquals(0) }
        let none = Self.u(priorities)
        var leader: [Node] = []
        // Each head is read before its tail, and the distance counts only when the tail is ahead
        // (as a signed difference): another workgroup may claim between the two loads, and a tail
        // read before that claim lies behind the head. Taken as unsigned it would look like 2^32
        // entries waiting, and the workgroup would claim entries the host has not published yet,
        // reading a lap-old entry for a slot that may be republished meanwhile.
        for p in 0..<priorities {
            leader.append(.let("k_h\(p)", .load("claims", at: Self.u(p))))
            leader.append(.let("k_d\(p)", .load("queues", at: Self.u(L.tailWord(p))) - head(p)))
            leader.append(.if(distance(p) >= Self.u(UInt32(1) << 31), then: [.assign("k_d\(p)", 0)], else: []))
        }
        // SHUTDOWN and the tenant table, read with the tails (the same trip across the bus) and
        // shared: every lane of the round sees the words as they were when it began.
        leader.append(.let("k_sd", .load("control", at: Self.u(RingProtocol.Control.shutdown))))
        leader.append(.let("k_tb", .load("control", at: Self.u(RingProtocol.Control.tenantBase))))
        leader.append(.let("k_ts", .load("control", at: Self.u(RingProtocol.Control.tenantTableSize))))
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
                .assign("k_n", .binary(.min, distance(p), lanes)),
            ], else: []))
        }
        leader.append(.if(Expr.variable("k_n").notEquals(0), then: [
            .let("k_won", .compareExchange("claims", at: "k_pick", expected: "k_first", desired: "k_first" + "k_n")),
            .if(Expr.variable("k_won").notEquals("k_first"), then: [.assign("k_n", 0)], else: [
                .let("k_counted", .atomic(.add, "claims", at: Self.u(L.claimedWord), "k_n")),
            ]),
        ], else: []))
        leader += [.store("k_share", at: 0, "k_pick"), .store("k_share", at: 1, "k_first"), .store("k_share", at: 2, "k_n"),
                   .store("k_share", at: 3, "k_sd"), .store("k_share", at: 4, "k_tb"), .store("k_share", at: 5, "k_ts")]
        // While every published entry is claimed (the doorbell matches the claimed total, a
        // device word), the round reads one word across the bus and claims nothing.
        return [
            .store("k_share", at: 2, 0),
            .if(Expr.load("queues", at: Self.u(L.doorbellWord)).notEquals(.load("claims", at: Self.u(L.claimedWord))), then: leader, else: []),
        ]
    }

    /// The tenant mask words a round copies into shared memory; tenants past them read control.
    static let sharedTenants = 32

    /// One round: claim, run, count.
    private mutating func residentRound(workgroupSize: UInt32) -> [Node] {
        typealias L = ResidentLayout
        let slots: Expr = .length("ring") / Self.u(RingProtocol.slotWords)
        let priorities = L.priorities
        let leader = residentClaim(lanes: Self.u(workgroupSize))
        let shared = Self.sharedTenants

        let entry: Expr = Self.u(L.headerWords) + ("k_p" * slots + "k_seq" % slots) * Self.u(L.entryWords)
        let state: Expr = Self.u(L.headerWords) + Self.u(priorities) * slots * Self.u(L.entryWords) + "slot" * Self.u(L.slotStateWords)
        // Lane i copies tenant masks i, i + lanes, ...: one trip across the bus, beside the entry's.
        let prefetch: [Node] = (0..<((shared + Int(workgroupSize) - 1) / Int(workgroupSize))).map { r in
            let t: Expr = "k_lane" + Self.u(r * Int(workgroupSize))
            return .if(t < Self.u(shared), then: [
                .if(t < "k_ts" && "k_tb" < Self.len && t < Self.len - "k_tb",
                    then: [.store("k_tenants", at: t, .load("control", at: "k_tb" + t))], else: [.store("k_tenants", at: t, 0)]),
            ], else: [])
        }
        let claim = ClaimState(reads: [
            .let("k_tmask", 0),
            .if("tenant" < Self.u(shared), then: [.assign("k_tmask", .load("k_tenants", at: "tenant"))],
                else: [.assign("k_tmask", .load("control", at: "k_table" + "tenant"))]),
        ], shutdown: "k_sd", table: "k_tb", tableSize: "k_ts", tenantWord: "k_tmask", slotLoads: [],
           owned: Expr.load("queues", at: state).equals("k_generation"))
        let run: [Node] = [
            // The slot's generation and words in one trip: the check, the claim and the op wait
            // for no further load. The words are this publication's: a slot is written again only
            // after its op retired, and a stale entry fails the generation check.
            .let("base", "slot" * Self.u(RingProtocol.slotWords)),
            .let("k_current", .load("queues", at: state)),
        ] + ClaimState.slotWordLoads + [
            .if(Expr.variable("k_current").equals("k_generation"), then: [
                .let("k_final", Self.u(SlotStatus.published.rawValue)),
                .let("k_reason", 0),
                .let("k_cuts", .builtin(.loopCuts)),
                .region("claim and run", claimAndRun(cutsBefore: "k_cuts", state: claim)),
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
            .let("k_sd", .load("k_share", at: 3)),
            .let("k_tb", .load("k_share", at: 4)),
            .let("k_ts", .load("k_share", at: 5)),
            .let("k_seq", "k_first" + "k_lane"),
            .let("slot", slots),
            .let("k_generation", 0),
            .region("each lane reads its entry and copies tenant masks", [
                .if("k_lane" < "k_n", then: [
                    .assign("slot", .load("queues", at: entry)),
                    .assign("k_generation", .load("queues", at: entry + 1)),
                ], else: []),
                // Only a round that claimed something reads the tenant table.
                .if(Expr.variable("k_n").notEquals(0), then: prefetch, else: []),
            ]),
            .barrier(.workgroup),
            .region("each lane runs one claimed entry", [.if("slot" < slots, then: run, else: [])]),
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
