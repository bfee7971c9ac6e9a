/// Host-side protocol problems: bad work items, full rings, short or malformed buffers.
/// Each message ends with a Fix.
public enum ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    case slotOutOfRange(slot: Int, slots: Int)
    case tooManyArgs(item: Int, count: Int)
    case slotBusy(slot: Int, status: UInt32)
    case ringFull(items: Int, slots: Int)
    case invalidPacked(item: Int, detail: String)
    case invalidGeometry(String)
    case invalidControl(String)
    case bufferTooShort(what: String, words: Int, needed: Int)
    case malformed(what: String, detail: String)

    public var description: String {
        switch self {
        case .slotOutOfRange(let s, let n):
            return "slot \(s) is outside the ring of \(n) slots. Fix: publish into slots 0 to \(n - 1)."
        case .tooManyArgs(let i, let c):
            return "work item \(i) has \(c) args; a slot holds \(RingProtocol.argsPerSlot). Fix: split the work or pack small ops into a PACKED_SLOT."
        case .slotBusy(let s, let status):
            return "slot \(s) is \(SlotStatus(rawValue: status)?.name ?? "status \(status)"), and only EMPTY or DONE slots may be published. Fix: wait until the kernel marks it DONE (or reset a FAULT slot to EMPTY) before reusing it."
        case .ringFull(let items, let slots):
            return "\(items) work items do not fit a ring of \(slots) slots. Fix: use a larger ring (at most \(RingProtocol.maxSlots) slots) or split the batch."
        case .invalidPacked(let i, let d):
            return "work item \(i) is not a valid packed slot: \(d). Fix: pack 1 to \(RingProtocol.maxPackedOps) ops of \(Opcode.packable.map(\.name).joined(separator: ", ")) whose args fit the slot."
        case .invalidGeometry(let d):
            return "invalid ring geometry: \(d)."
        case .invalidControl(let d):
            return "invalid control buffer: \(d)."
        case .bufferTooShort(let what, let w, let need):
            return "\(what) has \(w) words, at least \(need) are needed. Fix: read back the whole buffer the kernel was given."
        case .malformed(let what, let d):
            return "\(what) is malformed: \(d). Fix: read back the buffer after the dispatch has finished, and do not write it from the host meanwhile."
        }
    }
}
