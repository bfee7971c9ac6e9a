import VyreIR

/// Puts together the results of a batch's pieces (``BatchSplit``) run on several devices, phase
/// by phase, into the result one device would give: each word is the phase's starting word plus
/// what every piece changed (wrapping, as the device's atomics do), slots and debug records are
/// mapped back to the batch's, and the debug log keeps the batch's `debugRecords` first records
/// in slot order, counting the rest as lost. Pieces of a phase may be added in any order, and on
/// any thread into a ``PhasePart`` of its own that the phase then absorbs.
public struct BatchMerge: Sendable {
    public let plan: BatchPlan
    /// The control words and extra buffers the current phase starts from.
    public private(set) var control: [UInt32]
    public private(set) var buffers: [[UInt32]]
    /// What the current phase's pieces added so far.
    private var current: PhasePart
    /// What the ended phases left.
    private var total: PhasePart

    public init(_ plan: BatchPlan) {
        self.plan = plan
        control = plan.control
        buffers = plan.extra.map { $0.contents.words }
        current = PhasePart(controlWords: control.count, bufferWords: buffers.map(\.count))
        total = PhasePart(controlWords: 0, bufferWords: [])
    }

    /// The plan of a piece: `items` of the batch (one phase's) from the current phase's words.
    /// `asBatchControl`: the words also as the batch's `control` dictionary, which a resident
    /// kernel started for the plan takes them from (one-shot dispatch reads the plan's).
    public func piece(_ items: [Int], asBatchControl: Bool = false) -> BatchPlan {
        let batch = plan.batch
        // Room for every record the piece may print: the merge, not the piece, keeps the batch's
        // first records by slot (a piece's own full log would drop by the order they came in).
        var printing = 0
        for i in items where batch.items[i].opcode == Opcode.printf.rawValue { printing += 1 }
        let records = min(RingProtocol.Debug.maxRecords, max(batch.debugRecords, printing))
        var sub = Batch(items: items.map { batch.items[$0] }, controlWords: batch.controlWords, tenants: batch.tenants, debugRecords: records)
        if asBatchControl { sub.control = Dictionary(uniqueKeysWithValues: control.enumerated().map { ($0.offset, $0.element) }) }
        sub.buffers = Dictionary(uniqueKeysWithValues: zip(plan.extra, buffers).map { ($0.0.decl.name, $0.1) })
        let shape = RecordShape(sub.items)
        return BatchPlan(batch: sub, slots: max(1, items.count), layout: shape.layout, maxArgs: shape.maxArgs, phases: [0..<items.count],
                         control: control, extra: zip(plan.extra, buffers).map { ($0.0.decl, .words($0.1)) },
                         shared: (shape.opcode, shape.tenant, shape.priority))
    }

    /// An empty part of the current phase, to add pieces into apart from the others.
    public func part() -> PhasePart { PhasePart(controlWords: control.count, bufferWords: buffers.map(\.count)) }

    /// Adds what the piece of `items` changed (its result from ``piece(_:asBatchControl:)``'s plan) to `part`.
    public func add(_ result: BatchResult, items: [Int], to part: inout PhasePart) {
        for w in part.change.indices { part.change[w] &+= result.control[w] &- control[w] }
        for (k, words) in buffers.enumerated() {
            guard let after = result.buffers[plan.extra[k].decl.name] else { continue }
            for w in words.indices { part.bufferChange[k][w] &+= after[w] &- words[w] }
        }
        for f in result.faults { part.faults.append(SlotFault(slot: items[f.slot], reason: f.reason)) }
        part.pending += result.pending.map { items[$0] }
        part.unexpected += result.unexpected.map { (items[$0.slot], $0.status) }
        for (op, n) in result.completed { part.completed[op, default: 0] += n }
        for var r in result.debug.records {
            r.slotWordOffset = UInt32(items[r.slot] * RingProtocol.slotWords)
            part.records.append(r)
        }
        part.lost += result.debug.lost
    }

    /// Adds what the piece of `items` changed to the current phase.
    public mutating func add(_ result: BatchResult, items: [Int]) {
        var part = current
        add(result, items: items, to: &part)
        current = part
    }

    /// Adds a part's pieces to the current phase.
    public mutating func absorb(_ part: PhasePart) { current.absorb(part) }

    /// Ends the phase: the next one starts from the words every piece's changes give.
    public mutating func endPhase() {
        for w in control.indices { control[w] &+= current.change[w] }
        for k in buffers.indices {
            for w in buffers[k].indices { buffers[k][w] &+= current.bufferChange[k][w] }
        }
        // A device keeps the first records appended; of a phase's, those of the lowest slots here.
        var records = current.records
        records.sort { ($0.slotWordOffset, $0.format, $0.arg0, $0.arg1) < ($1.slotWordOffset, $1.format, $1.arg0, $1.arg1) }
        let room = max(0, plan.batch.debugRecords - total.records.count)
        current.records = Array(records.prefix(room))
        current.lost += max(0, records.count - room)
        current.change = []
        current.bufferChange = []
        total.absorb(current)
        current = part()
    }

    /// The batch's result, once every phase has ended, with the times the caller measured.
    public func result(timing: BatchTiming) -> BatchResult {
        BatchResult(itemCount: plan.batch.items.count, slots: plan.slots, phases: plan.phases.count, control: control,
                    debug: DebugLog(records: total.records, lost: total.lost), faults: total.faults.sorted { $0.slot < $1.slot },
                    pending: total.pending.sorted(), unexpected: total.unexpected.sorted { $0.slot < $1.slot },
                    buffers: Dictionary(uniqueKeysWithValues: zip(plan.extra, buffers).map { ($0.0.decl.name, $0.1) }),
                    completed: total.completed, timing: timing)
    }
}

/// What some pieces of one phase changed and reported, in the batch's slots (see
/// ``BatchMerge/part()``).
public struct PhasePart: Sendable {
    fileprivate var change: [UInt32]
    fileprivate var bufferChange: [[UInt32]]
    fileprivate var records: [DebugRecord] = []
    fileprivate var lost = 0
    fileprivate var faults: [SlotFault] = []
    fileprivate var pending: [Int] = []
    fileprivate var unexpected: [(slot: Int, status: UInt32)] = []
    fileprivate var completed: [UInt32: Int] = [:]

    fileprivate init(controlWords: Int, bufferWords: [Int]) {
        change = [UInt32](repeating: 0, count: controlWords)
        bufferChange = bufferWords.map { [UInt32](repeating: 0, count: $0) }
    }

    fileprivate mutating func absorb(_ other: PhasePart) {
        for w in other.change.indices { change[w] &+= other.change[w] }
        for k in other.bufferChange.indices {
            for w in other.bufferChange[k].indices { bufferChange[k][w] &+= other.bufferChange[k][w] }
        }
        records += other.records
        lost += other.lost
        faults += other.faults
        pending += other.pending
        unexpected += other.unexpected
        for (op, n) in other.completed { completed[op, default: 0] += n }
    }
}

extension BufferContents {
    /// Every word, zeros made.
    var words: [UInt32] {
        switch self {
        case .words(let w): w
        case .zeros(let n): [UInt32](repeating: 0, count: n)
        }
    }
}
