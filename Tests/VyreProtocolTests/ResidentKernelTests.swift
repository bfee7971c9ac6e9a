import Testing
import VyreIR
import VyreProtocol

/// The resident megakernel's claim, run on the CPU reference interpreter against ring states
/// set up by hand: what a workgroup may take, whatever order its leader's loads land in.
struct ResidentKernelTests {
    static let slots = 8
    static let lanes: UInt32 = 4
    let layout = ResidentLayout(slots: ResidentKernelTests.slots)

    /// Buffers with slots `published` PUBLISHED as NOPs of tenant 0 (generation 1), queued in that
    /// order at the CRITICAL queue's sequences from `firstSequence`, with the queue's tail and the
    /// doorbell moved over them; the head and the claimed total are `head`.
    func buffers(published: [Int], firstSequence: UInt32, head: UInt32) throws -> [String: [UInt32]] {
        var ring = try RingEncoding.emptyRing(slots: Self.slots)
        var queues = [UInt32](repeating: 0, count: layout.queueBufferWords)
        for (i, slot) in published.enumerated() {
            ring[slot * RingProtocol.slotWords] = SlotStatus.published.rawValue
            queues[layout.generationWord(slot: slot)] = 1
            let entry = layout.entryWord(priority: 0, sequence: firstSequence &+ UInt32(i))
            queues[entry] = UInt32(slot)
            queues[entry + 1] = 1
        }
        let tail = firstSequence &+ UInt32(published.count)
        queues[ResidentLayout.tailWord(0)] = tail
        queues[ResidentLayout.doorbellWord] = tail
        var claims = [UInt32](repeating: 0, count: ResidentLayout.claimsWords)
        claims[0] = head
        claims[ResidentLayout.claimedWord] = head
        return ["control": try RingEncoding.control(observables: 16, tenants: 1), "ring": ring, "queues": queues, "claims": claims,
                "debug_log": try RingEncoding.emptyDebugLog(records: 4), "io_queue": [UInt32](repeating: 0, count: RingProtocol.IO.words)]
    }

    func run(_ buffers: [String: [UInt32]], rounds: UInt32 = 1) throws -> [String: [UInt32]] {
        let program = MegakernelPrograms.resident(configuration: MegakernelConfiguration(workgroupSize: Self.lanes))
        let interpreter = Interpreter(options: .init(parameters: ["iterations": rounds, "starvation": 16]))
        return try interpreter.run(program, grid: WorkgroupSize(1), buffers: buffers).buffers
    }

    func statuses(_ ring: [UInt32]) -> [UInt32] {
        (0..<Self.slots).map { ring[$0 * RingProtocol.slotWords] }
    }

    @Test func aWorkgroupRunsThePublishedEntriesAndMovesTheHead() throws {
        let out = try run(buffers(published: [2, 5, 6], firstSequence: 0, head: 0))
        #expect(statuses(out["ring"]!) == [0, 0, 3, 0, 0, 3, 3, 0])
        #expect(out["claims"]![0] == 3)
        #expect(out["queues"]![ResidentLayout.completedWord] == 3)
        #expect(out["control"]![RingProtocol.Control.doneCount] == 3)
    }

    /// Another workgroup may claim between a leader's load of the head and of the tail, so the
    /// tail it read can lie behind the head. Such a leader must see nothing waiting: taken as an
    /// unsigned distance it is close to 2^32, and the workgroup would claim entries not yet
    /// published, whose lap-old words name slots that may be republished under it.
    @Test func aTailBehindTheHeadClaimsNothing() throws {
        // Entries at sequences 0 and 1 are published and waiting; the head says 5 were claimed.
        var state = try buffers(published: [1, 3], firstSequence: 0, head: 5)
        // A lap-old entry beyond the tail names slot 3 with its current generation.
        let old = layout.entryWord(priority: 0, sequence: 2)
        state["queues"]![old] = 3
        state["queues"]![old + 1] = 1
        let out = try run(state)
        #expect(out["claims"]![0] == 5, "the head moved past a tail it was already ahead of")
        #expect(statuses(out["ring"]!) == statuses(state["ring"]!), "a slot changed though nothing was waiting")
        #expect(out["queues"]![ResidentLayout.completedWord] == 0)
    }

    /// The same across the 2^32 wrap of the sequences: a tail just past the wrap is ahead of a head
    /// just before it.
    @Test func theDistanceIsTakenAcrossTheWrap() throws {
        let out = try run(buffers(published: [0, 4], firstSequence: UInt32.max, head: UInt32.max))
        #expect(statuses(out["ring"]!) == [3, 0, 0, 0, 3, 0, 0, 0])
        #expect(out["claims"]![0] == 1)
    }

    /// An entry whose generation is no longer its slot's (the slot was republished since) is
    /// consumed without touching the slot.
    @Test func aStaleEntryLeavesItsSlotAlone() throws {
        var state = try buffers(published: [2], firstSequence: 0, head: 0)
        state["queues"]![layout.generationWord(slot: 2)] = 2
        let out = try run(state)
        #expect(statuses(out["ring"]!)[2] == SlotStatus.published.rawValue)
        #expect(out["claims"]![0] == 1)
        #expect(out["queues"]![layout.generationWord(slot: 2) + 1] == 0, "a stale entry marked its slot parked")
    }
}
