import VyreIR

/// Builds the megakernel as an IR program (never as shader text).
///
/// The one-pass variant runs one dispatch per phase of a batch. Lane `i` of a dispatch owns slot
/// `first + i`: it publishes the slot from its compact item record (fields, then PUBLISHED with
/// release ordering), checks SHUTDOWN and the tenant mask, claims the slot by CAS
/// PUBLISHED -> CLAIMED, runs the opcode, counts it and stores DONE, or stores FAULT with a reason.
/// A slot that does not end DONE is appended to the exceptions list, so the host reads back only
/// the control words, the debug log and the exceptions, never the whole ring. Nothing waits for
/// another invocation, so the kernel is safe without forward-progress guarantees.
struct MegakernelBuilder {
    let opcodes: [OpcodeHandler]
    let extraBuffers: [BufferDecl]
    /// The configuration's shared arrays and the prologue that fills them.
    let extraShared: [SharedDecl]
    let prologue: [Node]
    private var counter = 0
    /// Count DONE slots and per-opcode metrics in shared memory and add them to the control
    /// buffer once per workgroup: one global atomic per counter per workgroup instead of two per
    /// slot on the same two words. Right for one-shot dispatch, where the host reads the counters
    /// only after the batch.
    var aggregateCounters = false
    /// Order a slot's field writes before its status store with a buffer memory barrier. The
    /// one-pass variant leaves it out: nobody observes a slot until the whole batch has ended.
    var releaseBarriers = true
    /// LOAD_MISS posts its request to the IO queue and the slot waits (WAIT_IO) for the host, as
    /// the resident kernel does; otherwise it faults (the one-pass kernel has no host serving it).
    var servesIO = false

    init(_ configuration: MegakernelConfiguration) {
        opcodes = configuration.opcodes
        extraBuffers = configuration.extraBuffers
        extraShared = configuration.shared
        prologue = configuration.prologue
    }

    /// The configuration's prologue and the barrier after it (nothing without one).
    var prologueNodes: [Node] {
        prologue.isEmpty ? [] : [.region("the configuration's prologue", prologue), .barrier(.workgroup)]
    }

    typealias C = RingProtocol.Control

    static func buffers(extra: [BufferDecl]) -> [BufferDecl] {
        [
            BufferDecl("control", binding: MegakernelBindings.control, access: .readWrite, type: .u32),
            BufferDecl("ring", binding: MegakernelBindings.ring, access: .readWrite, type: .u32),
            BufferDecl("debug_log", binding: MegakernelBindings.debug, access: .readWrite, type: .u32),
            BufferDecl("io_queue", binding: MegakernelBindings.io, access: .readWrite, type: .u32),
            BufferDecl("items", binding: MegakernelBindings.items, access: .readOnly, type: .u32, placement: .hostMapped),
            BufferDecl("exceptions", binding: MegakernelBindings.exceptions, access: .readWrite, type: .u32, placement: .hostMapped),
        ] + extra
    }

    // MARK: small helpers

    mutating func fresh(_ stem: String) -> String {
        counter += 1
        return "k_\(stem)\(counter)"
    }

    static func u(_ v: Int) -> Expr { .u32(UInt32(v)) }
    static func u(_ v: UInt32) -> Expr { .u32(v) }
    static let len: Expr = "k_len"
    /// Words from the observable base to the end of the control buffer.
    static let obsRoom: Expr = "k_obs_room"

    /// Adds 1 to DONE_COUNT (`metric == nil`) or to the metric of an opcode below 32.
    private mutating func count(metric opcode: Expr?) -> Node {
        if aggregateCounters {
            return .let(fresh("count"), .atomic(.add, "k_counts", at: opcode.map { 1 + $0 } ?? 0, 1))
        }
        let index: Expr = opcode.map { Self.u(C.metricsBase) + $0 } ?? Self.u(C.doneCount)
        return .let(fresh("count"), .atomic(.add, "control", at: index, 1))
    }

    /// `control[index] = value` as an atomic exchange, so concurrent readers never see a torn word.
    private mutating func exchange(_ index: Expr, _ value: Expr) -> Node {
        .let(fresh("old"), .atomic(.exchange, "control", at: index, value))
    }

    // MARK: built-in opcodes

    /// Words MEMCPY copies, and bytes DFA_STEP consumes, per loop trip.
    static let copyUnroll = 16
    static let dfaUnroll = 16

    /// For a built-in that reads three args: the condition under which all its control indices are
    /// in range, and the statements that run it. Used by plain slots and by packed inner ops.
    mutating func builtin(_ op: Opcode, _ a: [Expr]) -> (ok: Expr, run: [Node]) {
        let obs = Self.u(C.observableBase)
        switch op {
        case .nop:
            return (true, [])
        case .storeU32:
            return (a[1] < Self.len, [exchange(a[1], a[0])])
        case .atomicAdd:
            return (a[1] < Self.len, [.let(fresh("old"), .atomic(.add, "control", at: a[1], a[0]))])
        case .loadU32:
            let v = fresh("value")
            return (a[0] < Self.len && a[1] < Self.obsRoom, [.let(v, .load("control", at: a[0])), exchange(obs + a[1], .variable(v))])
        case .compareSwap:
            let p = fresh("previous")
            return (a[0] < Self.len && a[0] < Self.obsRoom,
                    [.let(p, .compareExchange("control", at: a[0], expected: a[1], desired: a[2])), exchange(obs + a[0], .variable(p))])
        case .memcpy:
            // Element by element upward: overlapping ranges behave like that loop. Each trip copies
            // `copyUnroll` words, so a lane stays far inside llvmpipe's 65,535 loop iterations
            // (about a million words per slot); a longer copy is cut and faults, never half done silently.
            let trip = fresh("trip")
            let done = fresh("done")
            let words: [Node] = (0..<Self.copyUnroll).map { j in
                .if(Expr.variable(done) + Self.u(j) < a[2], then: [
                    .store("control", at: a[1] + .variable(done) + Self.u(j), .load("control", at: a[0] + .variable(done) + Self.u(j))),
                ], else: [])
            }
            return (a[2] <= Self.len && a[0] <= Self.len - a[2] && a[1] <= Self.len - a[2],
                    [.for(trip, from: 0, to: (a[2] + Self.u(Self.copyUnroll - 1)) / Self.u(Self.copyUnroll),
                          body: [.let(done, .variable(trip) * Self.u(Self.copyUnroll))] + words)])
        default:
            preconditionFailure("\(op) is not a three-arg built-in")
        }
    }

    /// DFA_STEP: args [table, states, input word, input bytes, start state, observable]. The
    /// table holds `states * 256` next-state words; the input is bytes packed four to a word,
    /// little-endian. The final state goes to the observable; a next state out of range faults.
    mutating func dfaStep() -> [Node] {
        let (table, states, input, bytes, start, out): (Expr, Expr, Expr, Expr, Expr, Expr) = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5")
        let inWords: Expr = bytes / 4 + .select((bytes % 4).notEquals(0), 1, 0)
        let ok = states >= 1 && states <= Self.len / 256 && table <= Self.len - states * 256
            && inWords <= Self.len && input <= Self.len - inWords && start < states && out < Self.obsRoom
        // Each trip reads `dfaUnroll` bytes (whole input words), so common inputs stay far inside
        // llvmpipe's loop limit; a byte past the input or after a bad state is skipped.
        let perTrip = Self.u(Self.dfaUnroll)
        let steps: [Node] = (0..<Self.dfaUnroll).map { j in
            .if(!Expr.variable("k_bad") && Expr.variable("k_at") + Self.u(j) < bytes, then: [
                .let("k_byte\(j)", (.load("control", at: input + ("k_at" + Self.u(j)) / 4) >> (Self.u((j % 4) * 8))) & 255),
                .let("k_next\(j)", .load("control", at: table + "k_state" * 256 + .variable("k_byte\(j)"))),
                .if(.variable("k_next\(j)") >= states, then: [.assign("k_bad", true)], else: [.assign("k_state", .variable("k_next\(j)"))]),
            ], else: [])
        }
        return [
            .if(!ok, then: [.assign("fault", Self.u(FaultReason.controlIndexOutOfRange.rawValue))], else: [
                .let("k_state", start),
                .let("k_bad", false),
                .for("k_i", from: 0, to: (bytes + perTrip - 1) / perTrip, body: [.let("k_at", "k_i" * perTrip)] + steps + [
                    .if("k_bad", then: [.break], else: []),
                ]),
                .if("k_bad", then: [.assign("fault", Self.u(FaultReason.badDFATable.rawValue))],
                    else: [exchange(Self.u(C.observableBase) + out, "k_state")]),
            ]),
        ]
    }

    /// PACKED_SLOT: check every inner op (format, then control indices) before running any.
    mutating func packed() -> [Node] {
        let innerCount: Expr = "arg0" & 255
        func argWord(_ index: Expr) -> Expr { .load("ring", at: "base" + Self.u(RingProtocol.firstArgWord) + index) }
        func byte(_ position: Expr) -> Expr { (argWord(position / 4) >> ((position % 4) * 8)) & 255 }
        func decode(_ k: String) -> [Node] {
            [.let("p_code", byte(2 + 2 * .variable(k))),
             .let("p_off", byte(3 + 2 * .variable(k))),
             .let("p_a0", argWord("p_off")), .let("p_a1", argWord("p_off" + 1)), .let("p_a2", argWord("p_off" + 2))]
        }
        let args: [Expr] = ["p_a0", "p_a1", "p_a2"]
        var checks: [Node] = []
        var runs: [Node] = []
        for op in Opcode.packable {
            let body = builtin(op, args)
            checks.append(.if(Expr.variable("p_code").equals(Self.u(op.rawValue)) && !body.ok, then: [.assign("p_range", true)], else: []))
            runs.append(.if(Expr.variable("p_code").equals(Self.u(op.rawValue)), then: body.run, else: []))
        }
        runs.append(count(metric: "p_code"))
        return [
            .if(innerCount.equals(0) || innerCount > Self.u(RingProtocol.maxPackedOps), then: [.assign("fault", Self.u(FaultReason.malformedPackedSlot.rawValue))], else: [
                .let("p_header", (2 + 2 * innerCount + 3) / 4),
                .let("p_malformed", false),
                .let("p_range", false),
                .for("p_k", from: 0, to: innerCount, body: decode("p_k") + [
                    .if("p_off" < "p_header" || "p_off" > Self.u(RingProtocol.argsPerSlot - 3) || "p_code" > Self.u(Opcode.memcpy.rawValue),
                        then: [.assign("p_malformed", true)], else: checks),
                ]),
                .if("p_malformed", then: [.assign("fault", Self.u(FaultReason.malformedPackedSlot.rawValue))], else: [
                    .if("p_range", then: [.assign("fault", Self.u(FaultReason.controlIndexOutOfRange.rawValue))], else: [
                        .for("p_j", from: 0, to: innerCount, body: decode("p_j") + runs),
                    ]),
                ]),
            ]),
        ]
    }

    /// The opcode dispatch: a flat sequence of `if opcode == X` (no else-chains, so the nesting
    /// depth does not grow with the number of opcodes), then unknown opcodes fault.
    mutating func dispatch() -> [Node] {
        var nodes: [Node] = [.let("handled", false)]
        func handler(_ op: UInt32, _ body: [Node]) -> Node {
            .if(Expr.variable("opcode").equals(Self.u(op)), then: [.assign("handled", true)] + body, else: [])
        }
        let a: [Expr] = ["arg0", "arg1", "arg2"]
        for op in [Opcode.nop, .storeU32, .atomicAdd, .loadU32, .compareSwap, .memcpy] {
            let b = builtin(op, a)
            nodes.append(handler(op.rawValue, op == .nop ? [] : [.if(b.ok, then: b.run, else: [.assign("fault", Self.u(FaultReason.controlIndexOutOfRange.rawValue))])]))
        }
        nodes.append(handler(Opcode.dfaStep.rawValue, dfaStep()))
        nodes.append(handler(Opcode.batchFence.rawValue, [
            .if(Self.obsRoom > 0, then: [
                .let("k_epoch", .atomic(.add, "control", at: Self.u(C.epoch), 1)),
                exchange(Self.u(C.observableBase), "arg1"),
            ], else: [.assign("fault", Self.u(FaultReason.controlIndexOutOfRange.rawValue))]),
        ]))
        nodes.append(handler(Opcode.printf.rawValue, [
            .let("k_cursor", .atomic(.add, "debug_log", at: 0, Self.u(RingProtocol.Debug.recordWords))),
            .let("k_capacity", (.length("debug_log") - 1) / 4 * 4),
            // Past capacity the cursor keeps rising and the record is skipped: the host sees the loss.
            .if("k_cursor" < "k_capacity", then: [
                .store("debug_log", at: "k_cursor" + 1, "arg0"),
                .store("debug_log", at: "k_cursor" + 2, "arg1"),
                .store("debug_log", at: "k_cursor" + 3, "arg2"),
                .store("debug_log", at: "k_cursor" + 4, "base"),
            ], else: []),
        ]))
        nodes.append(handler(Opcode.shutdown.rawValue, [exchange(Self.u(C.shutdown), 1)]))
        nodes.append(handler(Opcode.loadMiss.rawValue, servesIO ? loadMiss() : [.assign("fault", Self.u(FaultReason.ioUnavailable.rawValue))]))
        nodes.append(handler(Opcode.packedSlot.rawValue, packed()))
        for h in opcodes { nodes.append(handler(h.opcode, [.region(OpcodeHandler.regionName(opcode: h.opcode, name: h.name), h.body)])) }
        nodes.append(.if(!Expr.variable("handled"), then: [.assign("fault", Self.u(FaultReason.unknownOpcode.rawValue))], else: []))
        return nodes
    }

    /// Claim, run and retire the slot at `base`; sets `k_final` and `k_reason`. `cutsBefore` is
    /// the invocation's count of driver-cut loops before this slot (an invocation of the resident
    /// kernel runs many slots, and only a cut during this one faults it).
    mutating func claimAndRun(cutsBefore: Expr = 0, state: ClaimState = .perLane) -> [Node] {
        // A tenant id must index the table: one past it would be authorized by whatever word lies
        // beyond (a quota, the epoch). Such a slot is claimed and faulted, never run.
        let inTable: Expr = "tenant" < state.tableSize && "k_table" < Self.len && "tenant" < Self.len - "k_table"
        return [
            .let("tenant", .load("ring", at: "base" + Self.u(RingProtocol.tenantWord))),
            .let("k_table", state.table),
        ] + state.reads + [
            .let("k_in_table", inTable),
            // A disabled tenant's slot stays PUBLISHED and visible to the host; it is not stolen.
            .let("k_allowed", !Expr.variable("k_in_table") || state.tenantWord.notEquals(0)),
            .if(state.shutdown.equals(0) && "k_allowed", then: [
                .let("k_claim", .compareExchange("ring", at: "base", expected: Self.u(SlotStatus.published.rawValue), desired: Self.u(SlotStatus.claimed.rawValue))),
            ] + ownership(state) + [
                .if(Expr.variable("k_claim").equals(Self.u(SlotStatus.published.rawValue)), then: state.slotLoads + [.let("fault", 0)] + (servesIO ? [.let("k_park", 0)] : []) + [
                    .if("k_in_table", then: dispatch(), else: [.assign("fault", Self.u(FaultReason.tenantOutOfRange.rawValue))]),
                    // A loop the driver cut short left the op's work undone: the slot faults.
                    .if(Expr.builtin(.loopCuts).notEquals(cutsBefore), then: [.assign("fault", Self.u(FaultReason.driverLoopLimit.rawValue))], else: []),
                ] + parkOrRetire(), else: [.assign("k_final", "k_claim")]),
            ], else: []),
        ]
    }

    /// After the op ran: a slot its handler parked (``servesIO`` only) takes the status it asked
    /// for; otherwise DONE with its counters, or FAULT with its reason.
    private mutating func parkOrRetire() -> [Node] {
        let retire = retireNodes()
        guard servesIO else { return retire }
        return [
            .if(Expr.variable("fault").equals(0) && Expr.variable("k_park").notEquals(0), then: [.barrier(.bufferMemory),
                .let("k_parked", .atomic(.exchange, "ring", at: "base", "k_park")),
                .assign("k_final", "k_park"),
            ], else: retire),
        ]
    }

    /// DONE with its counters, or FAULT with its reason (each after a release barrier where asked).
    private mutating func retireNodes() -> [Node] {
        [
            .if(Expr.variable("fault").equals(0), then: [
                .if("opcode" < Self.u(C.metricSlots), then: [count(metric: "opcode")], else: []),
                count(metric: nil),
            ] + (releaseBarriers ? [.barrier(.bufferMemory)] : []) + [
                .let("k_retire", .atomic(.exchange, "ring", at: "base", Self.u(SlotStatus.done.rawValue))),
                .assign("k_final", Self.u(SlotStatus.done.rawValue)),
            ], else: [
                .store("ring", at: "base" + Self.u(RingProtocol.faultReasonWord), "fault"),
                .let("k_faults", .atomic(.add, "control", at: Self.u(C.faultCount), 1)),
            ] + (releaseBarriers ? [.barrier(.bufferMemory)] : []) + [
                .let("k_retire", .atomic(.exchange, "ring", at: "base", Self.u(SlotStatus.fault.rawValue))),
                .assign("k_final", Self.u(SlotStatus.fault.rawValue)),
                .assign("k_reason", "fault"),
            ]),
        ]
    }

    /// After a won claim, when `state` can tell: whether the slot still holds the publication the
    /// lane was sent for. If not, the lane took a later publication of the slot (the slot was run,
    /// retired and published again between the lane's check and its claim); it hands the slot
    /// back as PUBLISHED, runs nothing, and leaves `k_claim` as CLAIMED, so the slot is neither run
    /// with the earlier op's words nor marked parked.
    private func ownership(_ state: ClaimState) -> [Node] {
        guard let owned = state.owned else { return [] }
        let published = Self.u(SlotStatus.published.rawValue)
        return [
            .if(Expr.variable("k_claim").equals(published) && !owned, then: [
                .let("k_unclaim", .atomic(.exchange, "ring", at: "base", published)),
                .assign("k_claim", Self.u(SlotStatus.claimed.rawValue)),
            ], else: []),
        ]
    }

    /// Where ``claimAndRun(cutsBefore:state:)`` finds SHUTDOWN and the tenant table, and when it
    /// loads the slot's words.
    struct ClaimState {
        /// Nodes run once `tenant` and `k_table` are known (loads the expressions below use).
        var reads: [Node]
        var shutdown: Expr
        var table: Expr
        var tableSize: Expr
        /// The mask word of `tenant` in the table at `k_table`.
        var tenantWord: Expr
        /// The opcode and args loads, after the claim (empty when the caller loaded them before).
        var slotLoads: [Node]
        /// True while the slot holds the publication the lane was sent for, read again after a won
        /// claim (nil when every lane's slot is its own, as in the one-pass kernel).
        var owned: Expr? = nil

        /// The opcode and the args of the slot at `base`.
        static var slotWordLoads: [Node] {
            [.let("opcode", .load("ring", at: "base" + MegakernelBuilder.u(RingProtocol.opcodeWord)))]
                + (0..<RingProtocol.argsPerSlot).map { k in .let("arg\(k)", .load("ring", at: "base" + MegakernelBuilder.u(RingProtocol.firstArgWord + k))) }
        }

        /// Each lane reads the control words itself, and the slot's words once it has claimed it.
        static let perLane = ClaimState(reads: [.let("k_shutdown", .load("control", at: MegakernelBuilder.u(C.shutdown)))], shutdown: "k_shutdown",
                                        table: .load("control", at: MegakernelBuilder.u(C.tenantBase)),
                                        tableSize: .load("control", at: MegakernelBuilder.u(C.tenantTableSize)),
                                        tenantWord: .load("control", at: "k_table" + "tenant"), slotLoads: slotWordLoads)
    }

    /// Lanes add the workgroup's 33 counters (DONE_COUNT, then one per opcode below 32) to the
    /// control buffer, lane `i` taking counters `i`, `i + size`, ...: every counter is flushed
    /// whatever the workgroup size. Written out rather than looped, so no driver loop limit applies.
    /// `reset` zeroes each counter after it is flushed (the resident kernel counts again each
    /// iteration).
    func flushCounters(workgroupSize: UInt32, reset: Bool = false) -> [Node] {
        let counters = 1 + C.metricSlots
        let rounds = (counters + Int(workgroupSize) - 1) / Int(workgroupSize)
        return (0..<rounds).map { r in
            let index: Expr = Expr.localIndex + Self.u(r * Int(workgroupSize))
            return .if(index < Self.u(counters), then: [
                .let("k_total\(r)", .load("k_counts", at: index)),
                .if(Expr.variable("k_total\(r)").notEquals(0), then: [
                    .let("k_flush\(r)", .atomic(.add, "control",
                                               at: .select(index.equals(0), Self.u(C.doneCount), Self.u(C.metricsBase - 1) + index), .variable("k_total\(r)"))),
                ] + (reset ? [.store("k_counts", at: index, 0)] : []), else: []),
            ], else: [])
        }
    }

    /// The slot's 12 args from its record (`k_args` words after `header`), unused ones zero.
    private func publishArgs(header: Expr) -> [Node] {
        var nodes: [Node] = []
        for w in 0..<RingProtocol.argsPerSlot {
            let name = "k_arg\(w)"
            let fromRecord: Expr = .load("items", at: "k_item" + header + Self.u(w))
            nodes.append(.let(name, 0))
            nodes.append(.if(Self.u(w) < "k_args", then: [.assign(name, fromRecord)], else: []))
            nodes.append(.store("ring", at: "base" + Self.u(RingProtocol.firstArgWord + w), .variable(name)))
        }
        return nodes
    }

    /// The one-pass program (see the type's documentation).
    mutating func oneShot(workgroupSize: UInt32) -> Program {
        aggregateCounters = true
        releaseBarriers = false
        // The record layout (see RecordLayout) comes in parameter "layout".
        let stride: Expr = .parameter("stride")
        let layout: Expr = .parameter("layout")
        func `is`(_ l: RecordLayout) -> Expr { layout.equals(Self.u(l.rawValue)) }
        let header: Expr = .select(`is`(.full), Self.u(RecordLayout.full.headerWords),
                                   .select(`is`(.opcodeAndArgs), Self.u(RecordLayout.opcodeAndArgs.headerWords), Self.u(RecordLayout.argsOnly.headerWords)))
        var slotWork: [Node] = [
            .region("publish the slot from its item record (PUBLISHED last)", [
                .let("k_item", "slot" * stride),
                .let("k_op", .parameter("opcode")),
                .let("k_tenant", .parameter("tenant")),
                .let("k_priority", .parameter("priority")),
                // Layouts below argsOnly carry the opcode; only full carries tenant and priority.
                .if(layout < Self.u(RecordLayout.argsOnly.rawValue), then: [.assign("k_op", .load("items", at: "k_item"))], else: []),
                .if(`is`(.full), then: [
                    .assign("k_tenant", .load("items", at: "k_item" + 1)),
                    .assign("k_priority", .load("items", at: "k_item" + 2)),
                ], else: []),
                .store("ring", at: "base" + Self.u(RingProtocol.opcodeWord), "k_op"),
                .store("ring", at: "base" + Self.u(RingProtocol.tenantWord), "k_tenant"),
                .store("ring", at: "base" + Self.u(RingProtocol.priorityWord), "k_priority"),
                // Unused args are zero; only the words the record holds are read (the record may
                // be in host memory across PCIe). Written out, not looped: the kernel's own loops
                // stay out of the driver's loop budget.
                .let("k_args", stride - header),
            ] + publishArgs(header: header) + [
                .let("k_publish", .atomic(.exchange, "ring", at: "base", Self.u(SlotStatus.published.rawValue))),
            ]),
            .let("k_final", Self.u(SlotStatus.published.rawValue)),
            .let("k_reason", 0),
        ]
        slotWork.append(.region("claim and run", claimAndRun()))
        typealias E = ExceptionRecords
        slotWork.append(.region("report a slot that did not end DONE", [
            .if(Expr.variable("k_final").notEquals(Self.u(SlotStatus.done.rawValue)), then: [
                .let("k_x", .atomic(.add, "exceptions", at: 0, 1)),
                .if("k_x" < (.length("exceptions") - Self.u(E.headerWords)) / Self.u(E.recordWords), then: [
                    .store("exceptions", at: Self.u(E.headerWords + E.slotWord) + "k_x" * Self.u(E.recordWords), "slot"),
                    .store("exceptions", at: Self.u(E.headerWords + E.statusWord) + "k_x" * Self.u(E.recordWords), "k_final"),
                    .store("exceptions", at: Self.u(E.headerWords + E.reasonWord) + "k_x" * Self.u(E.recordWords), "k_reason"),
                ], else: []),
            ], else: []),
        ]))
        let entry: [Node] = prologueNodes + [
            .let("k_lane", .globalID(.x)),
            .let("slot", .parameter("first") + "k_lane"),
            .let("base", "slot" * Self.u(RingProtocol.slotWords)),
            .let("k_len", .length("control")),
            .let("k_obs_room", .select(Self.len > Self.u(C.observableBase), Self.len - Self.u(C.observableBase), 0)),
            // No early return: every lane must reach the workgroup barrier below.
            .if("k_lane" < .parameter("count") && "slot" < .length("ring") / Self.u(RingProtocol.slotWords), then: slotWork, else: []),
            .region("add this workgroup's counters to the control buffer", [.barrier(.workgroup)] + flushCounters(workgroupSize: workgroupSize)),
        ]
        return Program(buffers: Self.buffers(extra: extraBuffers), shared: [SharedDecl("k_counts", type: .u32, count: UInt32(1 + C.metricSlots))] + extraShared,
                       workgroupSize: WorkgroupSize(workgroupSize), entry: entry)
    }
}
