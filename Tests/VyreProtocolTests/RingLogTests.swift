import Testing
import VyreIR
import VyreProtocol

/// The ring log's bytes: a log survives encoding exactly, and every damaged, truncated, crafted
/// or foreign log is refused with a typed error, never replayed.
struct RingLogTests {
    /// A log of a small batch: three phases (a fence in the middle), a fault, a held op.
    static func sample() throws -> RingLog {
        let batch = Batch(items: [WorkItem(.storeU32, args: [42, 300]), WorkItem(.atomicAdd, args: [1, 301]), WorkItem(.batchFence, args: [0, 7]),
                                  WorkItem(.nop, tenant: 1, priority: .high), WorkItem(.atomicAdd, args: [1, 1 << 30])],
                          slots: 8, controlWords: 400, tenants: 2, control: [310: 9, 305: 1], buffers: ["in": [5, 6]])
        let plan = try batch.plan(extraBuffers: [BufferDecl("in", binding: 8, access: .readWrite, type: .u32, count: 2)])
        let result = BatchResult(itemCount: 5, slots: 8, phases: 3, control: (0..<400).map { UInt32($0 * 3) }, debug: DebugLog(records: [], lost: 0),
                                 faults: [SlotFault(slot: 4, reason: FaultReason.controlIndexOutOfRange.rawValue)], pending: [3], unexpected: [],
                                 buffers: ["in": [5, 7], "out": [1, 2, 3]], completed: [:], timing: BatchTiming(encode: .zero, gpu: .zero, decode: .zero))
        return RingLog(mode: .resident, device: "llvmpipe (test)", workgroupSize: 64, opcodeProgram: Array("{\"opcodes\": []}".utf8), plan: plan, result: result)
    }

    /// `log`'s bytes with `body` applied, and the checksum made right again: damage that only the
    /// structural checks can find.
    static func crafted(_ log: RingLog, _ body: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = Array(log.encoded().dropLast(8))
        body(&bytes)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: h >> (8 * UInt64(i)))) }
        return bytes
    }

    static func word(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    @Test func aLogSurvivesEncodingExactly() throws {
        let log = try Self.sample()
        #expect(try RingLog(bytes: log.encoded()) == log)
        #expect(log.records.map(\.phase) == [0, 0, 1, 2, 2])
        // The fence ran, so the phase after it was published at epoch 1.
        #expect(log.records.map(\.epoch) == [0, 0, 0, 1, 1])
        #expect(log.records.map(\.outcome) == [.done, .done, .done, .notRun, .fault(FaultReason.controlIndexOutOfRange.rawValue)])
        #expect(log.batch.items == log.records.map(\.item) && log.batch.control == [310: 9, 305: 1])
    }

    @Test func everyDamagedByteAndEveryTruncationIsRefused() throws {
        let bytes = try Self.sample().encoded()
        for i in bytes.indices {
            var damaged = bytes
            damaged[i] ^= 0x10
            #expect(throws: RingLogError.self) { try RingLog(bytes: damaged) }
        }
        for n in 0..<bytes.count {
            #expect(throws: RingLogError.self) { try RingLog(bytes: Array(bytes.prefix(n))) }
        }
        #expect(throws: RingLogError.self) { try RingLog(bytes: bytes + [0]) }
    }

    @Test func foreignAndNewerLogsSayWhatTheyAre() throws {
        #expect(throws: RingLogError.badMagic) { try RingLog(bytes: Array("{\"ops\": []}".utf8)) }
        var newer = try Self.sample().encoded()
        newer[8] = 2
        #expect(throws: RingLogError.unsupportedVersion(2)) { try RingLog(bytes: newer) }
        #expect(RingLogError.unsupportedVersion(2).diagnostics.first?.fix.contains("vyre-gl that recorded it") == true)
    }

    /// Crafted logs with a right checksum: each structural check holds on its own.
    @Test func craftedLogsAreRefusedByTheirStructure() throws {
        let log = try Self.sample()
        func refused(_ why: String, _ body: (inout [UInt8]) -> Void) {
            #expect(throws: RingLogError.self, "\(why)") { try RingLog(bytes: Self.crafted(log, body)) }
        }
        let modeAt = 12
        refused("an unknown mode") { $0[modeAt] = 7 }
        let deviceBytes = Int(Self.word(log.encoded(), at: 16))
        let geometry = 20 + deviceBytes
        refused("a workgroup size of 0") { $0.replaceSubrange(geometry..<(geometry + 4), with: [0, 0, 0, 0]) }
        refused("a ring past the protocol's slots") { $0.replaceSubrange((geometry + 4)..<(geometry + 8), with: [0xFF, 0xFF, 0xFF, 0x7F]) }
        refused("more control words than bytes") { $0.replaceSubrange((geometry + 20)..<(geometry + 24), with: [0xFF, 0xFF, 0xFF, 0x0F]) }
        // The two initial control entries (305, 310): make the second name 305 too.
        refused("a control word given twice") { $0.replaceSubrange((geometry + 32)..<(geometry + 36), with: [49, 1, 0, 0]) }
        refused("control words out of order") { $0.replaceSubrange((geometry + 32)..<(geometry + 36), with: [44, 1, 0, 0]) }
        refused("trailing bytes inside the checksum") { $0 += [0, 0, 0, 0] }
        // An "unexpected" end in a state that has an outcome of its own.
        for status in [SlotStatus.done, .fault, .published] {
            var odd = log
            odd.records[0].outcome = .unexpected(status: status.rawValue)
            #expect(throws: RingLogError.self, "\(status)") { try RingLog(bytes: odd.encoded()) }
        }
        var claimed = log
        claimed.records[0].outcome = .unexpected(status: SlotStatus.claimed.rawValue)
        #expect(try RingLog(bytes: claimed.encoded()) == claimed)
        // A record's phase or epoch that its batch does not give.
        var moved = log
        moved.records[1].phase = 1
        #expect(throws: RingLogError.self) { try RingLog(bytes: moved.encoded()) }
        var early = log
        early.records[3].epoch = 0
        early.records[4].epoch = 0
        #expect(throws: RingLogError.self) { try RingLog(bytes: early.encoded()) }
        var long = log
        long.records[0].item.args = Array(repeating: 1, count: RingProtocol.argsPerSlot + 1)
        #expect(throws: RingLogError.self) { try RingLog(bytes: long.encoded()) }
        var short = log
        short.finalControl.removeLast()
        #expect(throws: RingLogError.self) { try RingLog(bytes: short.encoded()) }
    }

    @Test func differencesNameTheOpTheWordAndTheBuffer() throws {
        let log = try Self.sample()
        #expect(log.differences(from: log).isEmpty)
        var other = log
        other.device = "another GPU"
        other.mode = .oneShot
        #expect(log.differences(from: other).isEmpty, "the device and mode do not count")
        other.records[4].outcome = .done
        other.finalControl[301] = 1
        other.finalBuffers["out"] = [1, 2]
        let d = log.differences(from: other)
        #expect(d.count == 3)
        #expect(d[0] == "op 4 (ATOMIC_ADD, phase 2): recorded FAULT (\(FaultReason.describe(FaultReason.controlIndexOutOfRange.rawValue))), replayed DONE")
        #expect(d[1] == "control[301]: recorded 903, replayed 1")
        #expect(d[2] == "buffer 'out': recorded 3 words, replayed 2")
    }
}
