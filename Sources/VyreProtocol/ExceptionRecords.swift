/// The megakernel's exceptions buffer: word 0 counts the slots that did not end DONE, then one
/// record per slot, `[slot, final status, reason]`, while there is room. The builder writes this
/// layout and `decode(records:)` reads it, so the host reads back only these slots and
/// never the whole ring.
public enum ExceptionRecords {
    /// Words before the first record (the count).
    public static let headerWords = 1
    /// Words per record.
    public static let recordWords = 3
    /// Offsets within a record.
    public static let slotWord = 0
    /// Offset of the slot's final ``SlotStatus`` value.
    public static let statusWord = 1
    /// Offset of the ``FaultReason`` value of a FAULT slot.
    public static let reasonWord = 2

    /// A buffer with room for `records` records.
    public static func words(records: Int) -> Int { headerWords + recordWords * records }

    /// Records a buffer of `words` words holds.
    public static func capacity(words: Int) -> Int { max(0, (words - headerWords) / recordWords) }

    /// What the records say.
    package struct Decoded {
        package var faults: [SlotFault] = []
        package var pending: [Int] = []
        package var unexpected: [(slot: Int, status: UInt32)] = []
        /// Every slot with a record (none of them ended DONE).
        package var notDone = Set<Int>()
    }

    /// Decodes `records` (the words after the header, whole records only): FAULT slots with their
    /// reasons, slots left PUBLISHED, and any other state, each sorted by slot.
    package static func decode(records: [UInt32]) -> Decoded {
        var d = Decoded()
        for r in 0..<(records.count / recordWords) {
            let base = r * recordWords
            let slot = Int(records[base + slotWord])
            let status = records[base + statusWord]
            d.notDone.insert(slot)
            switch SlotStatus(rawValue: status) {
            case .fault: d.faults.append(SlotFault(slot: slot, reason: records[base + reasonWord]))
            case .published: d.pending.append(slot)
            default: d.unexpected.append((slot, status))
            }
        }
        d.faults.sort { $0.slot < $1.slot }
        d.pending.sort()
        d.unexpected.sort { $0.slot < $1.slot }
        return d
    }
}
