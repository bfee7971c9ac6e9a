import VyreIR

/// LOAD_MISS in the resident kernel: args `[kind, source, destination, offset lo, offset hi,
/// bytes]`, as the IO queue entry holds them (``RingProtocol/IO``).
///
/// The op runs twice, and no invocation ever waits for the host:
/// 1. Posting (the resume arg is 0): the lane reserves a free entry with one compare-and-swap,
///    writes the request with the slot's index as its tag, stores the entry's index plus one in
///    the slot's resume arg, posts the entry, and leaves the slot WAIT_IO. With every entry taken,
///    it leaves the slot PUBLISHED (parked), and the host queues it again: the request is posted
///    once an entry is free.
/// 2. Resuming (the host did the request, stored its outcome in the entry and published the slot
///    again): the lane frees the entry and ends the slot DONE, or FAULT with
///    ``FaultReason/ioFailed``.
///
/// Where no host serves the queue (``RingProtocol/Control/ioServed`` is 0) it faults
/// ``FaultReason/ioUnavailable`` at once.
extension MegakernelBuilder {
    func loadMiss() -> [Node] {
        typealias IO = RingProtocol.IO
        let entries = Self.u(IO.entries)
        func word(_ entry: Expr, _ w: Int) -> Expr { entry * Self.u(IO.entryWords) + Self.u(w) }
        let resumeArg: Expr = .variable("arg\(IO.resumeArg)")
        func fault(_ reason: FaultReason) -> Node { .assign("fault", Self.u(reason.rawValue)) }
        // Starting at the slot's own entry spreads lanes over the queue instead of all racing for entry 0.
        let reserve: [Node] = [
            .let("k_io_entry", entries),
            .for("k_io_j", from: 0, to: entries, body: [
                .let("k_io_try", ("slot" + "k_io_j") % entries),
                .if(Expr.load("io_queue", at: word("k_io_try", IO.statusWord)).equals(Self.u(IO.free)), then: [
                    .let("k_io_was", .compareExchange("io_queue", at: word("k_io_try", IO.statusWord), expected: Self.u(IO.free), desired: Self.u(IO.reserved))),
                    .if(Expr.variable("k_io_was").equals(Self.u(IO.free)), then: [.assign("k_io_entry", "k_io_try"), .break], else: []),
                ], else: []),
            ]),
        ]
        let request: [Node] = (0..<6).map { k in .store("io_queue", at: word("k_io_entry", k), .variable("arg\(k)")) } + [
            .store("io_queue", at: word("k_io_entry", IO.tagWord), "slot"),
            .store("ring", at: "base" + Self.u(RingProtocol.firstArgWord + IO.resumeArg), "k_io_entry" + 1),
            // The request and the resume word are out before the entry says it is posted; the
            // caller's barrier orders the entry before the slot's WAIT_IO.
            .barrier(.bufferMemory),
            .let("k_io_posted", .atomic(.exchange, "io_queue", at: word("k_io_entry", IO.statusWord), Self.u(IO.posted))),
            .assign("k_park", Self.u(SlotStatus.waitIO.rawValue)),
        ]
        let post: [Node] = [
            .if("arg0" < Self.u(IO.read) || "arg0" > Self.u(IO.fence), then: [fault(.ioBadRequest)], else: reserve + [
                .if(Expr.variable("k_io_entry").equals(entries), then: [.assign("k_park", Self.u(SlotStatus.published.rawValue))], else: request),
            ]),
        ]
        let resume: [Node] = [
            .let("k_io_done", resumeArg - 1),
            .if("k_io_done" >= entries, then: [fault(.ioBadRequest)], else: [
                .let("k_io_status", .load("io_queue", at: word("k_io_done", IO.statusWord))),
                .if(Expr.variable("k_io_status").equals(Self.u(IO.statusOK)) || Expr.variable("k_io_status").equals(Self.u(IO.statusError)), then: [
                    .let("k_io_freed", .atomic(.exchange, "io_queue", at: word("k_io_done", IO.statusWord), Self.u(IO.free))),
                    .if(Expr.variable("k_io_status").equals(Self.u(IO.statusError)), then: [fault(.ioFailed)], else: []),
                ], else: [fault(.ioBadRequest)]),
            ]),
        ]
        return [
            .if(Expr.load("control", at: Self.u(RingProtocol.Control.ioServed)).equals(0), then: [fault(.ioUnavailable)], else: [
                .if(resumeArg.equals(0), then: post, else: resume),
            ]),
        ]
    }
}
