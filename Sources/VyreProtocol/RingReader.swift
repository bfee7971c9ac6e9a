import VyreIR
/// One PRINTF record.
public struct DebugRecord: Sendable, Hashable, Codable {
    /// The PRINTF op's arg 0: a format id for the host to interpret.
    public var format: UInt32
    /// The PRINTF op's arg 1.
    public var arg0: UInt32
    /// The PRINTF op's arg 2.
    public var arg1: UInt32
    /// Word offset of the slot that printed (slot index times 16).
    public var slotWordOffset: UInt32
    /// Index of the slot that printed.
    public var slot: Int { Int(slotWordOffset) / RingProtocol.slotWords }

    /// A record as the kernel writes it (the CPU model and tests build these).
    public init(format: UInt32, arg0: UInt32, arg1: UInt32, slotWordOffset: UInt32) {
        self.format = format
        self.arg0 = arg0
        self.arg1 = arg1
        self.slotWordOffset = slotWordOffset
    }
}

/// The debug log: the records kept, and how many did not fit.
public struct DebugLog: Sendable, Hashable {
    /// The records kept, in the order the kernel appended them (which is unspecified within a phase).
    public var records: [DebugRecord]
    /// Records appended after the log was full: counted, not kept.
    public var lost: Int

    package init(records: [DebugRecord], lost: Int) {
        self.records = records
        self.lost = lost
    }
}

/// How many slots are in each state.
public struct SlotCounts: Sendable, Hashable {
    /// Slots in each known status; a status no slot is in is absent.
    public var byStatus: [SlotStatus: Int]
    /// Slots whose status word is no ``SlotStatus``.
    public var unknown: Int
    /// Slots in status `s`; 0 when none.
    public func count(_ s: SlotStatus) -> Int { byStatus[s] ?? 0 }
}

/// Strict decoders of protocol buffers read back from a device: a short or inconsistent buffer
/// is a typed error, never a silently wrong number.
public enum RingReader {
    static func word(_ control: [UInt32], _ index: Int, _ what: String) throws(ProtocolError) -> UInt32 {
        guard control.count > index else { throw .bufferTooShort(what: "control buffer (reading \(what))", words: control.count, needed: index + 1) }
        return control[index]
    }

    /// The DONE_COUNT word (slots that ended DONE); throws if `control` is too short to hold it.
    public static func doneCount(control: [UInt32]) throws(ProtocolError) -> UInt32 { try word(control, RingProtocol.Control.doneCount, "DONE_COUNT") }
    /// The EPOCH word (advanced by each BATCH_FENCE that runs); throws if `control` is too short to
    /// hold it.
    public static func epoch(control: [UInt32]) throws(ProtocolError) -> UInt32 { try word(control, RingProtocol.Control.epoch, "EPOCH") }
    /// Whether the SHUTDOWN word is set; throws if `control` is too short to hold it.
    public static func shutdown(control: [UInt32]) throws(ProtocolError) -> Bool { try word(control, RingProtocol.Control.shutdown, "SHUTDOWN") != 0 }
    /// The FAULT_COUNT word (slots that ended FAULT); throws if `control` is too short to hold it.
    public static func faultCount(control: [UInt32]) throws(ProtocolError) -> UInt32 { try word(control, RingProtocol.Control.faultCount, "FAULT_COUNT") }

    /// Observable word `index` (control word 160 + `index`); throws for a negative index or a buffer
    /// too short to hold it.
    public static func observable(control: [UInt32], index: Int) throws(ProtocolError) -> UInt32 {
        guard index >= 0 else { throw .malformed(what: "observable index", detail: "\(index) is negative") }
        return try word(control, RingProtocol.Control.observableBase + index, "observable \(index)")
    }

    /// Non-zero per-opcode counters (opcodes below 32).
    public static func metrics(control: [UInt32]) throws(ProtocolError) -> [UInt32: UInt32] {
        let end = RingProtocol.Control.metricsBase + RingProtocol.Control.metricSlots
        guard control.count >= end else { throw .bufferTooShort(what: "control buffer (reading metrics)", words: control.count, needed: end) }
        var out: [UInt32: UInt32] = [:]
        for op in 0..<RingProtocol.Control.metricSlots where control[RingProtocol.Control.metricsBase + op] != 0 {
            out[UInt32(op)] = control[RingProtocol.Control.metricsBase + op]
        }
        return out
    }

    /// Decodes a debug log read back from a device into the records kept and the count lost. Throws
    /// when it is not 1 + 4n words or its cursor points inside a record.
    public static func debugLog(_ words: [UInt32]) throws(ProtocolError) -> DebugLog {
        guard !words.isEmpty else { throw .bufferTooShort(what: "debug log", words: 0, needed: 1) }
        guard (words.count - 1) % RingProtocol.Debug.recordWords == 0 else {
            throw .malformed(what: "debug log", detail: "\(counted(words.count, "word")) is not 1 + 4 per record")
        }
        let cursor = Int(words[RingProtocol.Debug.cursorWord])
        guard cursor % RingProtocol.Debug.recordWords == 0 else {
            throw .malformed(what: "debug log", detail: "cursor \(cursor) points inside a record")
        }
        let capacity = (words.count - 1) / RingProtocol.Debug.recordWords
        let written = cursor / RingProtocol.Debug.recordWords
        let kept = min(written, capacity)
        let records = (0..<kept).map { r in
            let b = 1 + r * RingProtocol.Debug.recordWords
            return DebugRecord(format: words[b], arg0: words[b + 1], arg1: words[b + 2], slotWordOffset: words[b + 3])
        }
        return DebugLog(records: records, lost: written - kept)
    }

    /// Status counts over the first `slots` slots of a ring read back from a device.
    public static func slotCounts(ring: [UInt32], slots: Int) throws(ProtocolError) -> SlotCounts {
        guard ring.count % RingProtocol.slotWords == 0 else {
            throw .malformed(what: "ring", detail: "\(counted(ring.count, "word")) is not a whole number of 16-word slots")
        }
        guard slots >= 0, slots * RingProtocol.slotWords <= ring.count else {
            throw .bufferTooShort(what: "ring", words: ring.count, needed: slots * RingProtocol.slotWords)
        }
        var counts = SlotCounts(byStatus: [:], unknown: 0)
        for s in 0..<slots {
            if let status = SlotStatus(rawValue: ring[s * RingProtocol.slotWords]) { counts.byStatus[status, default: 0] += 1 } else { counts.unknown += 1 }
        }
        return counts
    }
}
