import Testing
import VyreConformance
import VyreTesting
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

/// The megakernel on llvmpipe against the CPU model of the protocol.
struct MegakernelTests {
    static let custom: Megakernel = {
        do { return try Megakernel(context: Shared.context, configuration: MegakernelConformance.configuration(workgroupSize: 32)) } catch { fatalError("\(error)") }
    }()

    static let model = MegakernelConformance.model

    @Test func fiveHundredRandomBatchesMatchTheModel() {
        let failures = MegakernelConformance.check(Self.custom, count: 500, seed: 70_000).filter { !$0.passed }
        #expect(failures.isEmpty, "\(failures.count) of 500 differ:\n\(failures.prefix(5).map { "\($0.name): \($0.detail ?? "")" }.joined(separator: "\n"))")
    }

    @Test func randomBatchesMatchTheModelWithStateInDeviceMemory() throws {
        var config = MegakernelConformance.configuration(workgroupSize: 64)
        config.mappedStateLimit = 0
        let megakernel = try Megakernel(context: Shared.context, configuration: config)
        let failures = MegakernelConformance.check(megakernel, count: 150, seed: 170_000).filter { !$0.passed }
        #expect(failures.isEmpty, "\(failures.prefix(3).map { "\($0.name): \($0.detail ?? "")" })")
    }

    @Test func everyFaultPathFaultsWithItsReasonAndTouchesNothing() throws {
        let big = UInt32.max
        let items: [(WorkItem, FaultReason)] = [
            (WorkItem(opcode: 99), .unknownOpcode),
            (WorkItem(opcode: 0xFFF2), .unknownOpcode),
            (WorkItem(.storeU32, args: [1, 224]), .controlIndexOutOfRange),
            (WorkItem(.atomicAdd, args: [1, big]), .controlIndexOutOfRange),
            (WorkItem(.loadU32, args: [224, 0]), .controlIndexOutOfRange),
            (WorkItem(.loadU32, args: [0, 64]), .controlIndexOutOfRange),
            (WorkItem(.compareSwap, args: [64, 0, 1]), .controlIndexOutOfRange),
            (WorkItem(.memcpy, args: [200, 210, 20]), .controlIndexOutOfRange),
            (WorkItem(.memcpy, args: [0, 0, big]), .controlIndexOutOfRange),
            (WorkItem(.dfaStep, args: [0, 1, 0, 4, 0, 0]), .controlIndexOutOfRange),
            (WorkItem(.packedSlot, args: [0]), .malformedPackedSlot),
            (WorkItem(.packedSlot, args: [9]), .malformedPackedSlot),
            (WorkItem(.packedSlot, args: [1 | (6 << 16) | (3 << 24)]), .malformedPackedSlot),
            (WorkItem(.packedSlot, args: [1 | (1 << 16) | (0 << 24)]), .malformedPackedSlot),
            (WorkItem(.packedSlot, args: [1 | (1 << 16) | (10 << 24)]), .malformedPackedSlot),
            (try WorkItem.packed([PackedOp(.storeU32, [5, 170]), PackedOp(.storeU32, [5, 900])]), .controlIndexOutOfRange),
            (WorkItem(.loadMiss, args: [1]), .ioUnavailable),
            (WorkItem(opcode: BatchGenerator.customOpcode, args: [big, 1, 1]), .handlerFault),
        ]
        let batch = Batch(items: items.map(\.0), controlWords: 224, debugRecords: 4)
        let r = try Self.custom.run(batch)
        #expect(r.faults.map(\.slot) == Array(0..<items.count))
        for (i, expected) in items.enumerated() where expected.1 != .handlerFault {
            #expect(r.faults[i].reason == expected.1.rawValue, "slot \(i)")
        }
        #expect(r.faults.last?.reason == 256)
        #expect(r.doneCount == 0)
        #expect(r.control[RingProtocol.Control.faultCount] == UInt32(items.count))
        // Faulted slots touch nothing: no metrics, and the packed slot's first store did not run.
        #expect(r.control[96..<128].allSatisfy { $0 == 0 })
        #expect(r.control[170] == 0)
        #expect(try Self.model.run(batch).faults.map(\.reason) == r.faults.map(\.reason))
    }

    @Test func batchFenceWithoutObservablesFaults() throws {
        let r = try Self.custom.run(Batch(items: [WorkItem(.batchFence, args: [0, 5])], controlWords: 160))
        #expect(r.faults == [SlotFault(slot: 0, reason: FaultReason.controlIndexOutOfRange.rawValue)])
        #expect(r.epoch == 0)
    }

    @Test func disabledTenantsStayPublishedAndTenantsPastTheTableFault() throws {
        // Tenant 125 would read control[3 + 125], the EPOCH word, as its mask; tenant 29 the first
        // quota word. Neither may run, whatever those words hold.
        let batch = Batch(items: [WorkItem(.atomicAdd, args: [1, 200], tenant: 0), WorkItem(.atomicAdd, args: [1, 200], tenant: 1),
                                  WorkItem(.atomicAdd, args: [1, 200], tenant: 2), WorkItem(.atomicAdd, args: [1, 200], tenant: .max),
                                  WorkItem(.atomicAdd, args: [1, 200], tenant: 125), WorkItem(.atomicAdd, args: [1, 200], tenant: 29)],
                          tenants: 2, control: [4: 0, 128: 7, 32: 1])
        let r = try Self.custom.run(batch)
        #expect(r.pending == [1, 2])
        #expect(r.faults == [3, 4, 5].map { SlotFault(slot: $0, reason: FaultReason.tenantOutOfRange.rawValue) })
        #expect(r.control[200] == 1)
        #expect(r.doneCount == 1)
        #expect(try Self.model.run(batch).faults == r.faults)
    }

    @Test func aMovedTenantTableBoundsTenantsByItsSize() throws {
        // The table moved to word 300 with room for 40 tenants: tenant 35 is enabled there.
        var control: [Int: UInt32] = [RingProtocol.Control.tenantBase: 300, RingProtocol.Control.tenantTableSize: 40, 300 + 35: 1]
        let items = [WorkItem(.atomicAdd, args: [1, 200], tenant: 35), WorkItem(.atomicAdd, args: [1, 200], tenant: 3),
                     WorkItem(.atomicAdd, args: [1, 200], tenant: 40)]
        var r = try Self.custom.run(Batch(items: items, controlWords: 400, control: control))
        #expect(r.control[200] == 1)
        #expect(r.pending == [1])
        #expect(r.faults == [SlotFault(slot: 2, reason: FaultReason.tenantOutOfRange.rawValue)])
        // A size that runs past the buffer faults every tenant beyond its end.
        control[RingProtocol.Control.tenantTableSize] = 200
        control[399] = 1
        r = try Self.custom.run(Batch(items: [WorkItem(.nop, tenant: 99), WorkItem(.nop, tenant: 100)], controlWords: 400, control: control))
        #expect(r.doneCount == 1)
        #expect(r.faults == [SlotFault(slot: 1, reason: FaultReason.tenantOutOfRange.rawValue)])
    }

    @Test func shutdownLeavesLaterPhasesPublished() throws {
        let batch = Batch(items: [WorkItem(.atomicAdd, args: [1, 200]), WorkItem(.shutdown), WorkItem(.batchFence, args: [0, 1]),
                                  WorkItem(.atomicAdd, args: [1, 201]), WorkItem(.printf, args: [1, 2, 3])])
        let r = try Self.custom.run(batch)
        #expect(r.shutdown)
        #expect(r.pending == [2, 3, 4])
        #expect(r.control[200] == 1 && r.control[201] == 0)
        #expect(r.completed[Opcode.shutdown.rawValue] == 1)
    }

    @Test func fencesOrderPhases() throws {
        // Phase 2 reads what phase 1 wrote; phase 3 copies what phase 2 loaded.
        let batch = Batch(items: [WorkItem(.storeU32, args: [7, 200]), WorkItem(.storeU32, args: [9, 201]),
                                  WorkItem(.batchFence, args: [0, 11]),
                                  WorkItem(.loadU32, args: [200, 50]), WorkItem(.compareSwap, args: [201, 9, 10]),
                                  WorkItem(.batchFence, args: [0, 22]),
                                  WorkItem(.memcpy, args: [210, 220, 1]), WorkItem(.packedSlot, args: try WorkItem.packed([PackedOp(.atomicAdd, [5, 202])]).args)],
                          controlWords: 400)
        let r = try Self.custom.run(batch)
        #expect(r.allDone)
        #expect(r.epoch == 2)
        #expect(r.control[160] == 22)
        #expect(r.control[210] == 7)
        #expect(r.control[201] == 10 && r.control[361] == 9)
        #expect(r.control[220] == 7)
        #expect(r.control[202] == 5)
        #expect(r.phases == 5)
    }

    @Test func debugLogOverflowCountsLostRecords() throws {
        let r = try Self.custom.run(Batch(items: Array(repeating: WorkItem(.printf, args: [3, 4, 5]), count: 10), debugRecords: 4))
        #expect(r.debug.records.count == 4)
        #expect(r.debug.lost == 6)
        #expect(r.debug.records.allSatisfy { $0.format == 3 && $0.arg0 == 4 && $0.arg1 == 5 })
        #expect(r.completed[Opcode.printf.rawValue] == 10)
    }

    @Test func dfaStepRunsThePackedMachine() throws {
        // States: 0 = even number of odd bytes so far, 1 = odd. Bytes 1, 2, 3, 5 from state 0 end in 1;
        // bytes 1, 2, 3 from state 1 end in 1 too.
        var control: [Int: UInt32] = [300: 0x0503_0201]
        for s in 0..<2 { for b in 0..<256 { control[400 + s * 256 + b] = UInt32(s ^ (b & 1)) } }
        let r = try Self.custom.run(Batch(items: [WorkItem(.dfaStep, args: [400, 2, 300, 4, 0, 7]), WorkItem(.dfaStep, args: [400, 2, 300, 3, 1, 8])],
                                          controlWords: 1000, control: control))
        #expect(r.allDone)
        #expect(r.control[167] == 1)
        #expect(r.control[168] == 1)
    }

    @Test func customOpcodesUseExtraBuffers() throws {
        let op = BatchGenerator.customOpcode
        let r = try Self.custom.run(Batch(items: [WorkItem(opcode: op, args: [200, 1, 2]), WorkItem(opcode: op, args: [200, 3, 4])],
                                          buffers: ["hits": [10, 0, 0, 0]]))
        #expect(r.allDone)
        #expect(r.control[200] == 10)
        #expect(r.buffers["hits"] == [12, 0, 0, 0])
        #expect(r.completed[op] == 2)
    }

    @Test func residentBuffersServeBatchesOfAnySize() throws {
        for n in [1, 3000, 7, 40_000, 2] {
            let r = try Self.custom.run(Batch(items: Array(repeating: WorkItem(.atomicAdd, args: [1, 200]), count: n), slots: n + 5))
            #expect(r.allDone)
            #expect(r.control[200] == UInt32(n))
            #expect(r.doneCount == UInt32(n))
        }
    }

    @Test func largeControlBuffersComeBackWhole() throws {
        let r = try Self.custom.run(Batch(items: [WorkItem(.storeU32, args: [7, 19_999]), WorkItem(.batchFence, args: [0, 1]),
                                                  WorkItem(.loadU32, args: [19_999, 19_000])], controlWords: 20_000))
        #expect(r.allDone)
        #expect(r.control.count == 20_000)
        #expect(r.control[19_999] == 7 && r.control[19_160] == 7)
    }

    @Test func badBatchesAreTypedErrors() {
        #expect(throws: MegakernelError.self) { try Self.custom.run(Batch(items: [WorkItem(.nop)], slots: 0)) }
        #expect(throws: MegakernelError.self) { try Self.custom.run(Batch(items: [WorkItem(.nop), WorkItem(.nop)], slots: 1)) }
        #expect(throws: MegakernelError.self) { try Self.custom.run(Batch(items: [WorkItem(.nop, args: Array(repeating: 0, count: 13))])) }
        #expect(throws: MegakernelError.self) { try Self.custom.run(Batch(items: [WorkItem(.nop)], controlWords: 100)) }
        #expect(throws: MegakernelError.self) { try Self.custom.run(Batch(items: [WorkItem(.nop)], buffers: ["nope": [1]])) }
    }

    @Test func reservedCustomOpcodesAreRejected() {
        for op: UInt32 in [3, 0xFFF9, 0x8000_0005] {
            #expect(throws: MegakernelError.self) {
                try Megakernel(context: Shared.context, configuration: MegakernelConfiguration(opcodes: [OpcodeHandler(opcode: op, name: "X", body: [])]))
            }
        }
    }
}

struct AsyncAPITests {
    @Test func tasksShareOneContextWithoutBlocking() async throws {
        let megakernel = Shared.megakernel
        let results = try await withThrowingTaskGroup(of: UInt32.self) { group in
            for t in 0..<8 {
                group.addTask {
                    let r = try await megakernel.run(Batch(items: Array(repeating: WorkItem(.atomicAdd, args: [UInt32(t + 1), 200]), count: 100)))
                    return r.control[200]
                }
            }
            return try await group.reduce(into: [UInt32]()) { $0.append($1) }
        }
        #expect(results.sorted() == (1...8).map { UInt32($0 * 100) })
        let p = Program(buffers: [BufferDecl("d", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(4)) {
            Node.store("d", at: .localID(.x), .localID(.x) * 10)
        }
        let run = try await Shared.context.run(p, grid: WorkgroupSize(1), buffers: [:])
        #expect(run.buffers["d"] == [0, 10, 20, 30])
    }
}

struct HandlerValidationTests {
    @Test func handlersThatReturnAreRefusedByName() {
        let early = OpcodeHandler(opcode: 0x4000_0009, name: "EARLY") {
            Node.if(Expr.variable("arg0").equals(0)) { Node.return }
        }
        do {
            _ = try Megakernel(context: Shared.context, configuration: MegakernelConfiguration(opcodes: [early]))
            Issue.record("accepted a returning handler")
        } catch {
            guard case .handlerExits(let op, let name) = error else { Issue.record("wrong error \(error)"); return }
            #expect(op == 0x4000_0009 && name == "EARLY")
            #expect(error.description.contains("Fix: set fault"))
        }
    }

    /// A prologue that returns would leave lanes short of the barrier after it: refused; one
    /// that fills a shared array runs before every slot, in both kernels.
    @Test func prologuesRunBeforeTheSlotsAndMayNotReturn() async throws {
        let early = MegakernelConfiguration(prologue: [Node.if(Expr.localIndex.equals(0), then: [.return], else: [])])
        #expect { _ = try Megakernel(context: Shared.context, configuration: early) } throws: { error in
            guard case .prologueExits = error as? MegakernelError else { return false }
            return "\(error)".contains("Fix: ")
        }
        // Lane i writes 7 * i into shared word i; the handler stores the shared word of its slot's arg0.
        let read = OpcodeHandler(opcode: 0x4000_000B, name: "READ SHARED") {
            Node.store("control", at: "arg1", .load("p_words", at: "arg0"))
        }
        let configuration = MegakernelConfiguration(workgroupSize: 16, opcodes: [read], shared: [SharedDecl("p_words", type: .u32, count: 16)],
                                                    prologue: [.store("p_words", at: .localIndex, .localIndex * 7)])
        let oneShot = try Megakernel(context: Shared.context, configuration: configuration)
        let items = (0..<16).map { WorkItem(opcode: 0x4000_000B, args: [UInt32($0), UInt32(300 + $0)]) }
        let result: BatchResult = try await oneShot.run(Batch(items: items, controlWords: 400))
        let expected: [UInt32] = (0..<16).map { UInt32(7 * $0) }
        let got: [UInt32] = (0..<16).map { result.control[300 + $0] }
        #expect(got == expected)
        let resident = try ResidentMegakernel(context: Shared.context, configuration: configuration, options: ResidentOptions(controlWords: 400))
        let done = try await resident.submit(items)
        #expect(done.allSatisfy { $0.status == .done })
        await resident.shutdown(.drain)
        let after: [UInt32] = (0..<16).map { resident.controlWord(300 + $0) }
        #expect(after == expected)
    }

    @Test func illTypedHandlersAreRefused() {
        let bad = OpcodeHandler(opcode: 0x4000_000A, name: "BAD") { Node.assign("fault", .f32(1)) }
        #expect(throws: MegakernelError.self) { try Megakernel(context: Shared.context, configuration: MegakernelConfiguration(opcodes: [bad])) }
    }
}

/// `run --resident` against one-shot `run` and the model, on generated batches.
@Suite(.serialized)
struct ResidentBatchTests {
    @Test func generatedBatchesGiveTheOneShotOutcome() async {
        var failures: [ConformanceOutcome] = []
        for seed in UInt64(81_000)..<81_200 {
            let outcome = await MegakernelConformance.checkResident(MegakernelTests.custom, seed: seed)
            if !outcome.passed { failures.append(outcome) }
        }
        #expect(failures.isEmpty, "\(failures.count) of 200 differ:\n\(failures.prefix(5).map { "\($0.name): \($0.detail ?? "")" }.joined(separator: "\n"))")
    }

    @Test func aKernelNotStartedForTheBatchRefusesIt() async throws {
        let plan = try Batch(items: [WorkItem(.nop)], slots: 8).plan()
        let other = try ResidentMegakernel(context: Shared.context, options: ResidentOptions(slots: 16))
        await #expect(throws: MegakernelError.self) { try await other.run(plan) }
        let used = try ResidentMegakernel(context: Shared.context, options: ResidentOptions(plan: plan))
        _ = try await used.submit(WorkItem(.nop))
        await #expect(throws: MegakernelError.self) { try await used.run(plan) }
        let fresh = try ResidentMegakernel(context: Shared.context, options: ResidentOptions(plan: plan))
        let r = try await fresh.run(plan)
        #expect(r.allDone && r.doneCount == 1)
        // The kernel ended with the batch.
        #expect(throws: ResidentError.self) { try fresh.trySubmit(WorkItem(.nop)) }
    }
}
