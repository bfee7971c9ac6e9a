import Testing
import VyreProtocol

struct ProtocolTests {
    @Test func constantsMatchTheVyre06ABI() {
        #expect(RingProtocol.slotWords == 16)
        #expect([RingProtocol.statusWord, RingProtocol.opcodeWord, RingProtocol.tenantWord, RingProtocol.priorityWord, RingProtocol.firstArgWord] == [0, 1, 2, 3, 4])
        #expect(SlotStatus.allCases.map(\.rawValue) == Array(0...7))
        #expect(Priority.allCases.map(\.rawValue) == Array(0...4))
        typealias C = RingProtocol.Control
        #expect([C.shutdown, C.doneCount, C.tenantBase, C.defaultTenantTable, C.tenantQuotaBase, C.tenantFairnessBase, C.metricsBase, C.epoch,
                 C.priorityOffsetsBase, C.priorityStarvationCounter, C.priorityFairnessBase, C.observableBase] == [0, 1, 2, 3, 32, 64, 96, 128, 129, 135, 136, 160])
        #expect(Opcode.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5, 6, 7, 0xFFFD, 0xFFFE, 0xFFFF_FFFF, 0x8000_0001])
        #expect(RingProtocol.Debug.words(records: 64) == 257)
        #expect(RingProtocol.IO.words == 512)
        #expect(RingProtocol.isReserved(0x8000_0000) && RingProtocol.isReserved(0xFFF7) && RingProtocol.isReserved(5))
        #expect(!RingProtocol.isReserved(8) && !RingProtocol.isReserved(0x4000_0000))
    }

    @Test func controlEncoderPlacesTheTenantTableAndInitialWords() throws {
        let c = try RingEncoding.control(words: 224, tenants: 3, initial: [300 - 100: 7, 4: 0])
        #expect(c.count == 224)
        #expect(c[2] == 3)
        #expect(Array(c[3..<7]) == [1, 0, 1, 0])
        #expect(c[200] == 7)
        #expect(throws: ProtocolError.self) { try RingEncoding.control(words: 159, tenants: 1) }
        #expect(throws: ProtocolError.self) { try RingEncoding.control(words: 224, tenants: 30) }
        #expect(throws: ProtocolError.self) { try RingEncoding.control(words: 224, tenants: 1, initial: [224: 1]) }
        #expect(try RingEncoding.emptyRing(slots: 4).count == 64)
        #expect(throws: ProtocolError.self) { try RingEncoding.emptyRing(slots: RingProtocol.maxSlots + 1) }
        #expect(try RingEncoding.emptyDebugLog(records: 2).count == 9)
    }

    @Test func publisherWritesFieldsAndPublishesLast() throws {
        var ring = try RingEncoding.emptyRing(slots: 4)
        try RingPublisher.publish([WorkItem(.storeU32, args: [42, 300], tenant: 2, priority: .high), WorkItem(.nop)], at: 1, into: &ring)
        #expect(Array(ring[16..<32]) == [1, 1, 2, 1, 42, 300, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(ring[32..<36]) == [1, 0, 0, 2])
        #expect(ring[0] == 0 && ring[48] == 0)
    }

    @Test func publisherRejectsBadInputAndLeavesTheRingUntouched() throws {
        var ring = try RingEncoding.emptyRing(slots: 2)
        ring[16] = SlotStatus.claimed.rawValue
        let before = ring
        #expect(throws: ProtocolError.slotOutOfRange(slot: 2, slots: 2)) { try RingPublisher.publish([WorkItem(.nop)], at: 2, into: &ring) }
        #expect(throws: ProtocolError.tooManyArgs(item: 0, count: 13)) { try RingPublisher.publish([WorkItem(.nop, args: Array(repeating: 1, count: 13))], at: 0, into: &ring) }
        #expect(throws: ProtocolError.slotBusy(slot: 1, status: 2)) { try RingPublisher.publish([WorkItem(.nop), WorkItem(.nop)], at: 0, into: &ring) }
        #expect(throws: ProtocolError.ringFull(items: 3, slots: 2)) { try RingPublisher.publish([WorkItem(.nop), WorkItem(.nop), WorkItem(.nop)], at: 0, into: &ring) }
        #expect(ring == before)
        ring[16] = SlotStatus.done.rawValue
        try RingPublisher.publish([WorkItem(.nop), WorkItem(.nop)], at: 0, into: &ring)
        #expect(ring[16] == SlotStatus.published.rawValue)
    }

    @Test func packedSlotsRoundTripAndAgreeOnTheLimit() throws {
        let ops = [PackedOp(.storeU32, [1, 300]), PackedOp(.atomicAdd, [2, 301]), PackedOp(.nop, [])]
        let item = try WorkItem.packed(ops)
        #expect(item.opcode == Opcode.packedSlot.rawValue)
        #expect(item.args.count == 12)
        let decoded = try PackedSlot.decode(item.args).get()
        #expect(decoded.map(\.opcode) == [.storeU32, .atomicAdd, .nop])
        #expect(decoded[0].args == [1, 300, 0])
        // Eight identical NOPs share one arg triple: the limit, both ways.
        let eight = try WorkItem.packed(Array(repeating: PackedOp(.nop, []), count: 8))
        #expect(try PackedSlot.decode(eight.args).get().count == 8)
        #expect(throws: ProtocolError.self) { try WorkItem.packed(Array(repeating: PackedOp(.nop, []), count: 9)) }
        #expect(throws: ProtocolError.self) { try WorkItem.packed([]) }
        #expect(throws: ProtocolError.self) { try WorkItem.packed([PackedOp(.batchFence, [])]) }
        #expect(throws: ProtocolError.self) { try WorkItem.packed((0..<4).map { PackedOp(.storeU32, [UInt32($0), 200 + UInt32($0), 9]) }) }
        var bad = item.args
        bad[0] = (bad[0] & ~0xFF) | 9
        #expect(PackedSlot.decode(bad).failureReason == .malformedPackedSlot)
    }

    @Test func strictReadersDecodeAndReject() throws {
        var control = try RingEncoding.control(words: 224, tenants: 1)
        control[1] = 5
        control[128] = 2
        control[96 + 2] = 4
        control[163] = 77
        #expect(try RingReader.doneCount(control: control) == 5)
        #expect(try RingReader.epoch(control: control) == 2)
        #expect(try RingReader.observable(control: control, index: 3) == 77)
        #expect(try RingReader.metrics(control: control) == [2: 4])
        #expect(throws: ProtocolError.self) { try RingReader.observable(control: control, index: 64) }
        #expect(throws: ProtocolError.self) { try RingReader.epoch(control: Array(control.prefix(100))) }
        #expect(throws: ProtocolError.self) { try RingReader.metrics(control: Array(control.prefix(120))) }

        var log = try RingEncoding.emptyDebugLog(records: 2)
        log[0] = 12
        log.replaceSubrange(1..<9, with: [7, 1, 2, 32, 8, 3, 4, 48])
        let decoded = try RingReader.debugLog(log)
        #expect(decoded.records.count == 2)
        #expect(decoded.records[1] == DebugRecord(format: 8, arg0: 3, arg1: 4, slotWordOffset: 48))
        #expect(decoded.records[1].slot == 3)
        #expect(decoded.lost == 1)
        log[0] = 5
        #expect(throws: ProtocolError.self) { try RingReader.debugLog(log) }
        #expect(throws: ProtocolError.self) { try RingReader.debugLog([0, 1, 2]) }
        #expect(throws: ProtocolError.self) { try RingReader.debugLog([]) }

        var ring = try RingEncoding.emptyRing(slots: 3)
        ring[0] = 3
        ring[16] = 7
        ring[32] = 99
        let counts = try RingReader.slotCounts(ring: ring, slots: 3)
        #expect(counts.count(.done) == 1 && counts.count(.fault) == 1 && counts.unknown == 1)
        #expect(throws: ProtocolError.self) { try RingReader.slotCounts(ring: ring, slots: 4) }
        #expect(throws: ProtocolError.self) { try RingReader.slotCounts(ring: Array(ring.dropLast()), slots: 1) }
    }
}

extension Result {
    var failureReason: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}

struct ControlEncoderTests {
    @Test func quotasAndObservablesHaveTheirPlaces() throws {
        let c = try RingEncoding.control(observables: 8, tenants: 2, quotas: [0: 100, 1: 50])
        #expect(c.count == 168)
        #expect(c[32] == 100 && c[33] == 50)
        #expect(throws: ProtocolError.self) { try RingEncoding.control(observables: 8, tenants: 1, quotas: [40: 1]) }
        #expect(throws: ProtocolError.self) { try RingEncoding.control(observables: -1, tenants: 1) }
    }
}
