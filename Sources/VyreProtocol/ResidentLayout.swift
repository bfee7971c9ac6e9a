/// The words the resident megakernel keeps beside vyre 0.6's ring, which it leaves as it is (16-word
/// slots, word 0 the status).
///
/// Two buffers:
/// - **queues** (host-mapped, binding ``MegakernelBindings/queues``): the host's doorbells and the
///   order it published in. A header of ``headerWords`` words holds one `tail` per priority (how
///   many entries the host has published into that priority's queue, wrapping at 2^32) and the
///   kernel's `completed` counter; then one queue per priority of `slots` entries of two words,
///   `[slot, generation]`; then two words per slot, `[generation, parked]`.
/// - **claims** (device memory, binding ``MegakernelBindings/claims``): one `head` per priority,
///   the entries workgroups have claimed, and the starvation count. Only the kernel touches it,
///   and it outlives every dispatch, so no entry is claimed twice across re-dispatches. The count
///   is kept here rather than in `control[PRIORITY_STARVATION_COUNTER]`: it changes on most
///   contended rounds, an atomic across the bus each time, and a batch run through the resident
///   kernel leaves the same control words as a one-shot run.
///
/// A queue entry names its slot and the generation the host gave the slot when it published: a
/// stale entry (its slot since reused) no longer matches the slot's generation and is skipped, so a
/// reused slot is never taken for its earlier use. `parked` is set by the kernel when it leaves a
/// claimed slot PUBLISHED (its tenant is disabled, or SHUTDOWN is set): the host queues such a slot
/// again once it may run.
public struct ResidentLayout: Sendable, Hashable {
    /// Priorities CRITICAL (0) to IDLE (4), one queue each.
    public static let priorities = 5
    /// Words before the first queue.
    public static let headerWords = 16
    /// Header word: the tail of priority `p`'s queue (`p` in `0 ..< priorities`).
    public static func tailWord(_ p: Int) -> Int { p }
    /// Header word the kernel adds every claimed entry to once it has run (or parked) it.
    public static let completedWord = 8
    /// Header word, the doorbell: entries published over every queue (the sum of the tails, wrapping),
    /// added to after the tails move. A workgroup reads only this word across the bus while it
    /// matches ``claimedWord``.
    public static let doorbellWord = 9
    /// Words per queue entry: slot, generation.
    public static let entryWords = 2
    /// Words per slot of the slot-state table: generation, parked.
    public static let slotStateWords = 2
    /// Claims word: rounds in which a lower priority waited behind a higher one since the
    /// starvation guard last served the lowest.
    public static let starvationWord = 5
    /// Claims word: entries claimed over every queue (the sum of the heads, wrapping).
    public static let claimedWord = 6
    /// Words of the claims buffer: a head per priority, the starvation count, the claimed total,
    /// then padding.
    public static let claimsWords = 8

    /// Slots in the ring (and entries in each queue).
    public let slots: Int

    /// The layout of a ring of `slots` slots (1 to ``RingProtocol/maxSlots``).
    public init(slots: Int) {
        precondition(slots >= 1 && slots <= RingProtocol.maxSlots, "a ring has 1 to \(RingProtocol.maxSlots) slots")
        self.slots = slots
    }

    /// The first word of the queue entry at sequence `sequence` of priority `p`.
    public func entryWord(priority p: Int, sequence: UInt32) -> Int {
        Self.headerWords + (p * slots + Int(sequence % UInt32(slots))) * Self.entryWords
    }

    /// The first word of the slot-state table.
    public var slotStateBase: Int { Self.headerWords + Self.priorities * slots * Self.entryWords }
    /// The generation word of `slot`; the parked word follows it.
    public func generationWord(slot: Int) -> Int { slotStateBase + slot * Self.slotStateWords }
    /// Words of the queues buffer.
    public var queueBufferWords: Int { slotStateBase + slots * Self.slotStateWords }
    /// Words of the ring.
    public var ringWords: Int { slots * RingProtocol.slotWords }
}
