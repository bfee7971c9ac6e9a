import Testing
import VyreConformance
@_spi(Testing) import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime
import VyreTesting

/// Batches split across two devices, as `--devices 0,0` runs them on llvmpipe: two contexts, each
/// on its own thread, give the result one device gives, every op counted once, and a lost device's
/// work goes to the other.
@Suite(.serialized)
struct MegakernelGroupTests {
    static func contexts() throws -> [GLContext] {
        try GLContext.open(.list([.index(0), .index(0)]))
    }

    static let group: MegakernelGroup = {
        do {
            return try MegakernelGroup(contexts: try contexts(), configuration: MegakernelConformance.configuration(workgroupSize: 32),
                                       options: GroupOptions(minimumPieceItems: 1))
        } catch { fatalError("no group of two llvmpipe contexts: \(error)") }
    }()

    @Test func deviceListsParse() throws {
        #expect(try DeviceSet(parsing: "all") == .all)
        #expect(try DeviceSet(parsing: " 0, 1 ") == .list([.index(0), .index(1)]))
        #expect(try DeviceSet(parsing: "0,/dev/dri/renderD129") == .list([.index(0), .renderNode("/dev/dri/renderD129")]))
        for bad in ["", "0,,1", "one", "-1", "0;1"] {
            #expect(throws: VyreGLError.badDeviceList(value: bad)) { try DeviceSet(parsing: bad) }
        }
        #expect(DeviceSet.all.selections(among: GLContext.availableDevices()).count == 1)
    }

    @Test func randomBatchesMatchTheModel() throws {
        var shared = 0
        for seed in UInt64(400_000)..<400_080 {
            var g = BatchGenerator(seed: seed, customOpcodes: true)
            let batch = g.generate()
            let run = try Self.group.run(batch)
            let d = MegakernelConformance.difference(run.result, try MegakernelConformance.model.run(batch))
            #expect(d == nil, "seed \(seed): \(d ?? "")")
            #expect(run.devices.map(\.items).reduce(0, +) == batch.items.count)
            if run.devices.allSatisfy({ $0.items > 0 }) { shared += 1 }
        }
        // Both devices took part in most batches.
        #expect(shared > 40)
    }

    @Test func residentPiecesMatchTheModel() throws {
        for seed in UInt64(410_000)..<410_006 {
            var g = BatchGenerator(seed: seed, customOpcodes: true)
            let batch = g.generate()
            let run = try Self.group.run(batch, mode: .resident)
            let d = MegakernelConformance.difference(run.result, try MegakernelConformance.model.run(batch))
            #expect(d == nil, "seed \(seed): \(d ?? "")")
        }
    }

    /// Each op exactly once: 30,000 adds of distinct amounts to 64 words and a count per op, in
    /// three phases, through pieces of at least 500 items.
    @Test func everyOpRunsExactlyOnce() throws {
        let group = try MegakernelGroup(contexts: try Self.contexts(), options: GroupOptions(minimumPieceItems: 500))
        var items: [WorkItem] = []
        var expected = [UInt32](repeating: 0, count: 64)
        for i in 0..<30_000 {
            if i == 10_000 || i == 20_000 { items.append(WorkItem(.batchFence, args: [0, 0])) }
            items.append(WorkItem(.atomicAdd, args: [UInt32(i % 1000 + 1), UInt32(170 + i % 64)]))
            expected[i % 64] &+= UInt32(i % 1000 + 1)
        }
        let run = try group.run(Batch(items: items, controlWords: 256))
        #expect(run.result.allDone)
        #expect(Array(run.result.control[170..<234]) == expected)
        #expect(run.result.doneCount == UInt32(items.count) && run.result.completed[Opcode.atomicAdd.rawValue] == 30_000)
        #expect(run.devices.map(\.items).reduce(0, +) == items.count)
        #expect(run.devices.allSatisfy { $0.items > 0 && $0.lost == nil })
    }

    /// A full debug log keeps the first records by slot: a piece whose own log filled would have
    /// kept those that came in first.
    @Test func aFullDebugLogKeepsTheFirstRecordsBySlot() throws {
        let group = try MegakernelGroup(contexts: try Self.contexts(), options: GroupOptions(minimumPieceItems: 500))
        var items: [WorkItem] = []
        for i in 0..<10_000 { items.append(i % 50 == 7 ? WorkItem(.printf, args: [1, UInt32(i), 0]) : WorkItem(.atomicAdd, args: [1, 170])) }
        for _ in 0..<4 {
            let run = try group.run(Batch(items: items, debugRecords: 64))
            #expect(run.result.debug.records.map(\.slot) == (0..<64).map { $0 * 50 + 7 })
            #expect(run.result.debug.lost == 200 - 64 && run.devices.allSatisfy { $0.items > 0 })
        }
    }

    /// A device lost before the run: its first piece goes to the other, which does everything,
    /// and the result is whole; the lost device stays out of later runs.
    @Test func aLostDeviceFailsOverToTheOther() throws {
        let contexts = try Self.contexts()
        let group = try MegakernelGroup(contexts: contexts, configuration: MegakernelConformance.configuration(workgroupSize: 32),
                                        options: GroupOptions(minimumPieceItems: 1))
        contexts[1].simulateReset()
        for seed in UInt64(420_000)..<420_004 {
            var g = BatchGenerator(seed: seed, customOpcodes: true)
            let batch = g.generate()
            let run = try group.run(batch)
            let d = MegakernelConformance.difference(run.result, try MegakernelConformance.model.run(batch))
            #expect(d == nil, "seed \(seed): \(d ?? "")")
            #expect(run.devices[1].lost != nil && run.devices[1].items == 0 && run.devices[0].items == batch.items.count)
        }
        contexts[0].simulateReset()
        var g = BatchGenerator(seed: 420_010, customOpcodes: true)
        let batch = g.generate()
        #expect(throws: MegakernelError.self) { try group.run(batch) }
    }
}
