import Testing
import VyreProtocol
import VyreIR

/// The batch plan is a pure value: the record layout, the sizes every buffer gets, and the
/// exception records, all without a GPU.
struct BatchPlanTests {
    @Test func theLayoutLeavesOutWhatEveryItemShares() throws {
        let nops = try Batch(items: Array(repeating: WorkItem(.nop), count: 5)).plan()
        #expect(nops.layout == .argsOnly)
        #expect(nops.recordWords == 0)
        #expect(nops.itemWords == 1)
        #expect(nops.shared.opcode == Opcode.nop.rawValue)

        let mixed = try Batch(items: [WorkItem(.storeU32, args: [1, 300]), WorkItem(.atomicAdd, args: [2, 301, 9])]).plan()
        #expect(mixed.layout == .opcodeAndArgs)
        #expect(mixed.recordWords == 1 + 3)
        #expect(mixed.itemWords == 2 * 4)

        let tenants = try Batch(items: [WorkItem(.nop, tenant: 0), WorkItem(.nop, args: [7], tenant: 1)], tenants: 2).plan()
        #expect(tenants.layout == .full)
        #expect(tenants.recordWords == 3 + 1)
        #expect(RecordLayout.allCases.map(\.headerWords) == [3, 1, 0])
    }

    @Test func sizesFollowTheBatch() throws {
        let plan = try Batch(items: [WorkItem(.nop), WorkItem(.batchFence, args: [0, 99]), WorkItem(.nop)], slots: 8, controlWords: 300, debugRecords: 4).plan()
        #expect(plan.slots == 8)
        #expect(plan.ringWords == 8 * RingProtocol.slotWords)
        #expect(plan.controlWords == 300)
        #expect(plan.debugWords == RingProtocol.Debug.words(records: 4))
        #expect(plan.exceptionWords == ExceptionRecords.words(records: 3))
        #expect(plan.phases.map(\.count).reduce(0, +) == 3)
    }

    @Test func exceptionRecordsDecodeByStatus() {
        typealias E = ExceptionRecords
        #expect(E.words(records: 2) == 7)
        #expect(E.capacity(words: 7) == 2)
        #expect(E.capacity(words: 6) == 1)
        #expect(E.capacity(words: 0) == 0)
        let words: [UInt32] = [
            9, SlotStatus.fault.rawValue, 300,
            4, SlotStatus.published.rawValue, 0,
            2, SlotStatus.fault.rawValue, 8,
            6, 77, 0,
        ]
        let d = E.decode(records: words + [1, 2])
        #expect(d.faults == [SlotFault(slot: 2, reason: 8), SlotFault(slot: 9, reason: 300)])
        #expect(d.pending == [4])
        #expect(d.unexpected.map(\.slot) == [6])
        #expect(d.unexpected.map(\.status) == [77])
        #expect(d.notDone == [9, 4, 2, 6])
    }
}

/// Opcode programs that do not validate are blamed on the handler at fault, with paths into the
/// opcode program, or on the configuration when no handler is at fault alone.
struct HandlerBlameTests {
    @Test func everyBadHandlerIsNamedWithItsOwnPath() throws {
        let first = OpcodeHandler(opcode: 0x4000_0000, name: "FIRST") { Node.assign("fault", .f32(1)) }
        let fine = OpcodeHandler(opcode: 0x4000_0001, name: "FINE") { Node.assign("fault", 300) }
        let second = OpcodeHandler(opcode: 0x4000_0002, name: "SECOND") {
            Node.let("x", 1)
            Node.store("nowhere", at: 0, "x")
        }
        do {
            _ = try MegakernelConfiguration(opcodes: [first, fine, second]).program(limits: .gl43)
            Issue.record("bad handlers validated")
        } catch {
            guard case .invalidHandlers(let failure) = error else { Issue.record("\(error)"); return }
            #expect(failure.errors.map(\.path) == ["opcodes[0].body[0].value", "opcodes[2].body[1]"])
            #expect(failure.errors[0].problem.hasPrefix("in the handler of opcode 1073741824 (FIRST): "))
            #expect(failure.errors[1].problem.hasPrefix("in the handler of opcode 1073741826 (SECOND): "))
        }
    }

    @Test func aHandlerNameMustFitTheRegionItBecomes() throws {
        let long = OpcodeHandler(opcode: 0x4000_0000, name: String(repeating: "n", count: 111)) {}
        #expect(throws: MegakernelError.self) { try MegakernelConfiguration(opcodes: [long]).program(limits: .gl43) }
        let fits = OpcodeHandler(opcode: 0x4000_0000, name: String(repeating: "n", count: 128 - "opcode 1073741824 ".count)) {}
        _ = try MegakernelConfiguration(opcodes: [fits]).program(limits: .gl43)
    }

    @Test func aMegakernelTooWideForTheDeviceIsNotBlamedOnAHandler() {
        do {
            _ = try MegakernelConfiguration(workgroupSize: 4096).program(limits: .gl43)
            Issue.record("a 4096-lane megakernel validated for GL 4.3")
        } catch {
            guard case .invalidConfiguration = error else { Issue.record("\(error)"); return }
            #expect(error.description.contains("workgroupSize.x: the megakernel does not fit this device"), "\(error)")
        }
    }
}
