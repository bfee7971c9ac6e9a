import VyreIR

/// Puts together the results of a batch's pieces (``BatchSplit``) run on several devices, phase
/// by phase, into the result one device would give: each word is the phase's starting word plus
/// what every piece changed (wrapping, as the device's atomics do), slots and debug records are
/// mapped back to the batch's, and the debug log keeps the batch's `debugRecords` first records
/// in slot order, counting the rest as lost. Pieces of a phase may be added in any order.
public struct BatchMerge: Sendable {
    public let plan: BatchPlan
    /// The control words and extra buffers the current phase starts from.
    public private(set) var control: [UInt32]
    public private(set) var buffers: [[UInt32]]
    private var change: [UInt32]
    private var bufferChange: [[UInt32]]
    private var records: [DebugRecord] = []
    private var phaseRecords: [DebugRecord] = []
    private var lost = 0
    private var faults: [SlotFault] = []
    private var pending: [Int] = []
    private var unexpected: [(slot: Int, status: UInt32)] = []
    private var completed: [UInt32: Int] = [:]

    public init(_ plan: BatchPlan) {
        self.plan = plan
        control = plan.control
        buffers = plan.extra.map { $0.contents.words }
        change = [UInt32](repeating: 0, count: plan.control.count)
        bufferChange = buffers.map { [UInt32](repeating: 0, count: $0.count) }
    }

    /// The plan of a piece: `items` of the batch (one phase's) from the current phase's words.
    public func piece(_ items: [Int]) -> BatchPlan {
        let batch = plan.batch
        // The words as a dictionary too: a resident kernel is started from the batch's.
        var sub = Batch(items: items.map { batch.items[$0] }, controlWords: batch.controlWords, tenants: batch.tenants, debugRecords: batch.debugRecords,
                        control: Dictionary(uniqueKeysWithValues: control.enumerated().map { ($0.offset, $0.element) }))
        sub.buffers = Dictionary(uniqueKeysWithValues: zip(plan.extra, buffers).map { ($0.0.decl.name, $0.1) })
        let shape = RecordShape(sub.items)
        return BatchPlan(batch: sub, slots: max(1, items.count), layout: shape.layout, maxArgs: shape.maxArgs, phases: [0..<items.count],
                         control: control, extra: zip(plan.extra, buffers).map { ($0.0.decl, .words($0.1)) },
                         shared: (shape.opcode, shape.tenant, shape.priority))
    }

    /// Adds what the piece of `items` changed (its result from ``piece(_:)``'s plan).
    public mutating func add(_ result: BatchResult, items: [Int]) {
        for w in change.indices { change[w] &+= result.control[w] &- control[w] }
        for (k, words) in buffers.enumerated() {
            guard let after = result.buffers[plan.extra[k].decl.name] else { continue }
            for w in words.indices { bufferChange[k][w] &+= after[w] &- words[w] }
        }
        for f in result.faults { faults.append(SlotFault(slot: items[f.slot], reason: f.reason)) }
        pending += result.pending.map { items[$0] }
        unexpected += result.unexpected.map { (items[$0.slot], $0.status) }
        for (op, n) in result.completed { completed[op, default: 0] += n }
        for var r in result.debug.records {
            r.slotWordOffset = UInt32(items[r.slot] * RingProtocol.slotWords)
            phaseRecords.append(r)
        }
        lost += result.debug.lost
    }

    /// Ends the phase: the next one starts from the words every piece's changes give.
    public mutating func endPhase() {
        for w in control.indices { control[w] &+= change[w] }
        change = [UInt32](repeating: 0, count: control.count)
        for k in buffers.indices {
            for w in buffers[k].indices { buffers[k][w] &+= bufferChange[k][w] }
            bufferChange[k] = [UInt32](repeating: 0, count: buffers[k].count)
        }
        // A device keeps the first records appended; of a phase's, those of the lowest slots here.
        phaseRecords.sort { ($0.slotWordOffset, $0.format, $0.arg0, $0.arg1) < ($1.slotWordOffset, $1.format, $1.arg0, $1.arg1) }
        let room = max(0, plan.batch.debugRecords - records.count)
        records += phaseRecords.prefix(room)
        lost += max(0, phaseRecords.count - room)
        phaseRecords = []
    }

    /// The batch's result, once every phase has ended, with the times the caller measured.
    public func result(timing: BatchTiming) -> BatchResult {
        BatchResult(itemCount: plan.batch.items.count, slots: plan.slots, phases: plan.phases.count, control: control,
                    debug: DebugLog(records: records, lost: lost), faults: faults.sorted { $0.slot < $1.slot }, pending: pending.sorted(),
                    unexpected: unexpected.sorted { $0.slot < $1.slot },
                    buffers: Dictionary(uniqueKeysWithValues: zip(plan.extra, buffers).map { ($0.0.decl.name, $0.1) }),
                    completed: completed, timing: timing)
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
