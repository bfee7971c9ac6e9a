public import VyreProtocol

/// The protocol's meaning on the CPU: what a batch must leave behind.
///
/// Phases run in order; items of a phase run in index order here, which is one of the orders a
/// device may choose: for a batch whose items commute within each phase (see ``BatchGenerator``)
/// every order gives the same control words and statuses, and the same debug records up to order.
public struct BatchModel: Sendable {
    /// A custom opcode's meaning: mutate the control words, return 0 or a fault reason.
    public typealias Handler = @Sendable (_ control: inout [UInt32], _ item: WorkItem, _ slot: Int) -> UInt32

    /// Custom opcodes' meanings by opcode; a handler is used before any built-in of the same number.
    public var handlers: [UInt32: Handler]

    /// A model of the built-in opcodes plus `handlers`.
    public init(handlers: [UInt32: Handler] = [:]) { self.handlers = handlers }

    /// What the model says a batch leaves behind, to compare with a device's ``BatchResult``.
    public struct Outcome: Sendable {
        /// The control buffer after the batch.
        public var control: [UInt32]
        /// Slots that ended FAULT, in slot order.
        public var faults: [SlotFault]
        /// Slots left PUBLISHED (after SHUTDOWN, or of a disabled tenant), in slot order.
        public var pending: [Int]
        /// Every PRINTF record in this model's order (a device may order a phase's records differently).
        public var debugRecords: [DebugRecord]
        /// Records the batch's debug log holds.
        public var debugCapacity: Int
        /// Completed ops per opcode: items that ended DONE, plus the inner ops of packed slots.
        public var completed: [UInt32: Int]

        /// Records a device keeps: as many as the log holds.
        public var keptRecords: Int { min(debugRecords.count, debugCapacity) }
        /// Records past the log's capacity, which a device counts as lost.
        public var lostRecords: Int { debugRecords.count - keptRecords }
    }

    typealias C = RingProtocol.Control

    /// Runs `batch` on the CPU, phase by phase and items in index order: linear in its items, no GPU.
    /// Throws when its control buffer cannot be built. Items must hold at most 12 args, as in any
    /// batch that planned.
    public func run(_ batch: Batch) throws -> Outcome {
        var c = try RingEncoding.control(words: batch.controlWords, tenants: batch.tenants, initial: batch.control)
        var out = Outcome(control: [], faults: [], pending: [], debugRecords: [], debugCapacity: batch.debugRecords, completed: [:])
        for phase in batch.phases {
            let shutdownAtStart = c[C.shutdown] != 0
            for i in phase {
                let item = batch.items[i]
                let len = UInt32(c.count)
                let table = c[C.tenantBase]
                let inTable = item.tenant < c[C.tenantTableSize] && table < len && item.tenant < len - table
                let allowed = !inTable || c[Int(table + item.tenant)] != 0
                guard !shutdownAtStart && c[C.shutdown] == 0 && allowed else {
                    out.pending.append(i)
                    continue
                }
                let fault = inTable ? execute(item, slot: i, &c, &out) : FaultReason.tenantOutOfRange.rawValue
                if fault == 0 {
                    if item.opcode < UInt32(C.metricSlots) { c[C.metricsBase + Int(item.opcode)] &+= 1 }
                    c[C.doneCount] &+= 1
                    out.completed[item.opcode, default: 0] += 1
                } else {
                    c[C.faultCount] &+= 1
                    out.faults.append(SlotFault(slot: i, reason: fault))
                }
            }
        }
        out.control = c
        return out
    }

    /// Whether all control indices of a three-arg built-in are in range.
    static func inRange(_ op: Opcode, _ a: [UInt32], _ len: UInt32) -> Bool {
        let obsRoom = len > UInt32(C.observableBase) ? len - UInt32(C.observableBase) : 0
        switch op {
        case .nop: return true
        case .storeU32, .atomicAdd: return a[1] < len
        case .loadU32: return a[0] < len && a[1] < obsRoom
        case .compareSwap: return a[0] < len && a[0] < obsRoom
        case .memcpy: return a[2] <= len && a[0] <= len - a[2] && a[1] <= len - a[2]
        default: return false
        }
    }

    static func run(_ op: Opcode, _ a: [UInt32], _ c: inout [UInt32]) {
        let obs = C.observableBase
        switch op {
        case .nop: break
        case .storeU32: c[Int(a[1])] = a[0]
        case .atomicAdd: c[Int(a[1])] &+= a[0]
        case .loadU32: c[obs + Int(a[1])] = c[Int(a[0])]
        case .compareSwap:
            let previous = c[Int(a[0])]
            if previous == a[1] { c[Int(a[0])] = a[2] }
            c[obs + Int(a[0])] = previous
        case .memcpy:
            for k in 0..<Int(a[2]) { c[Int(a[1]) + k] = c[Int(a[0]) + k] }
        default: break
        }
    }

    private func execute(_ item: WorkItem, slot: Int, _ c: inout [UInt32], _ out: inout Outcome) -> UInt32 {
        // A slot holds argsPerSlot words; a planned batch never has more (the plan refuses them).
        let a = Array(item.args.prefix(RingProtocol.argsPerSlot)) + Array(repeating: 0, count: max(0, RingProtocol.argsPerSlot - item.args.count))
        let len = UInt32(c.count)
        let obsRoom = len > UInt32(C.observableBase) ? len - UInt32(C.observableBase) : 0
        let range = FaultReason.controlIndexOutOfRange.rawValue
        if let handler = handlers[item.opcode] { return handler(&c, item, slot) }
        guard let op = Opcode(rawValue: item.opcode) else { return FaultReason.unknownOpcode.rawValue }
        switch op {
        case .nop, .storeU32, .atomicAdd, .loadU32, .compareSwap, .memcpy:
            guard Self.inRange(op, a, len) else { return range }
            Self.run(op, a, &c)
        case .dfaStep:
            let (table, states, input, bytes, start, obs) = (a[0], a[1], a[2], a[3], a[4], a[5])
            let inWords = bytes / 4 + (bytes % 4 != 0 ? 1 : 0)
            guard states >= 1, states <= len / 256, table <= len - states * 256, inWords <= len, input <= len - inWords, start < states, obs < obsRoom else { return range }
            var state = start
            for i in 0..<bytes {
                let byte = (c[Int(input + i / 4)] >> ((i % 4) * 8)) & 255
                let next = c[Int(table + state * 256 + byte)]
                if next >= states { return FaultReason.badDFATable.rawValue }
                state = next
            }
            c[C.observableBase + Int(obs)] = state
        case .batchFence:
            guard obsRoom > 0 else { return range }
            c[C.epoch] &+= 1
            c[C.observableBase] = a[1]
        case .printf:
            out.debugRecords.append(DebugRecord(format: a[0], arg0: a[1], arg1: a[2], slotWordOffset: UInt32(slot * RingProtocol.slotWords)))
        case .shutdown:
            c[C.shutdown] = 1
        case .loadMiss:
            return FaultReason.ioUnavailable.rawValue
        case .packedSlot:
            switch PackedSlot.decode(a) {
            case .failure(let reason): return reason.rawValue
            case .success(let ops):
                guard ops.allSatisfy({ Self.inRange($0.opcode, $0.args, len) }) else { return range }
                for op in ops {
                    Self.run(op.opcode, op.args, &c)
                    c[C.metricsBase + Int(op.opcode.rawValue)] &+= 1
                    out.completed[op.opcode.rawValue, default: 0] += 1
                }
            }
        }
        return 0
    }
}
