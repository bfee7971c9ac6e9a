public import VyreIR

/// Host-side protocol problems: bad work items, full rings, short or malformed buffers.
/// Each message ends with a Fix.
public enum ProtocolError: DiagnosticError, Sendable, Hashable {
    /// Publishing starts at a slot outside the ring.
    case slotOutOfRange(slot: Int, slots: Int)
    /// A work item has more args than a slot holds.
    case tooManyArgs(item: Int, count: Int)
    /// Publishing into a slot that is neither EMPTY nor DONE.
    case slotBusy(slot: Int, status: UInt32)
    /// More items than the ring has slots (from the first slot published into).
    case ringFull(items: Int, slots: Int)
    /// A packed slot's inner ops cannot be encoded: their count, an opcode, or their args.
    case invalidPacked(item: Int, detail: String)
    /// A work item sets an arg the kernel keeps for itself (LOAD_MISS's resume word).
    case reservedArg(item: Int, opcode: UInt32, arg: Int)
    /// A ring or debug log size outside the protocol's range.
    case invalidGeometry(problem: String, fix: String)
    /// A control buffer that cannot be built: its size, tenants, quotas or initial words out of range.
    case invalidControl(problem: String, fix: String)
    /// A buffer read back ends before the word asked for.
    case bufferTooShort(what: String, words: Int, needed: Int)
    /// A buffer read back is inconsistent, such as a debug log whose cursor points inside a record.
    case malformed(what: String, detail: String)

    /// The error as diagnostics: the one ``diagnostic``.
    public var diagnostics: [Diagnostic] { [diagnostic] }

    /// The error as one diagnostic: the problem and a Fix.
    public var diagnostic: Diagnostic {
        switch self {
        case .slotOutOfRange(let s, let n):
            return Diagnostic("slot \(s) is outside the ring of \(counted(n, "slot"))", fix: "publish into slots 0 to \(n - 1)")
        case .tooManyArgs(let i, let c):
            return Diagnostic("work item \(i) has \(c) args; a slot holds \(RingProtocol.argsPerSlot)", fix: "split the work or pack small ops into a PACKED_SLOT")
        case .slotBusy(let s, let status):
            return Diagnostic("slot \(s) is \(SlotStatus(rawValue: status)?.name ?? "status \(status)"), and only EMPTY or DONE slots may be published", fix: "wait until the kernel marks it DONE (or reset a FAULT slot to EMPTY) before reusing it")
        case .ringFull(let items, let slots):
            return Diagnostic("\(counted(items, "work item")) do not fit a ring of \(counted(slots, "slot"))", fix: "use a larger ring (at most \(RingProtocol.maxSlots) slots) or split the batch")
        case .invalidPacked(let i, let d):
            return Diagnostic("work item \(i) is not a valid packed slot: \(d)", fix: "pack 1 to \(RingProtocol.maxPackedOps) ops of \(Opcode.packable.map(\.name).joined(separator: ", ")) whose args fit the slot")
        case .reservedArg(let i, let op, let arg):
            return Diagnostic("work item \(i) (\(Opcode.name(of: op))) sets arg \(arg), which the kernel keeps for itself", fix: "leave arg \(arg) 0 (give at most \(arg) args)")
        case .invalidGeometry(let problem, let fix):
            return Diagnostic("invalid ring geometry: \(problem)", fix: fix)
        case .invalidControl(let problem, let fix):
            return Diagnostic("invalid control buffer: \(problem)", fix: fix)
        case .bufferTooShort(let what, let w, let need):
            return Diagnostic("\(what) has \(counted(w, "word")), at least \(need) are needed", fix: "read back the whole buffer the kernel was given")
        case .malformed(let what, let d):
            return Diagnostic("\(what) is malformed: \(d)", fix: "read back the buffer after the dispatch has finished, and do not write it from the host meanwhile")
        }
    }
}
