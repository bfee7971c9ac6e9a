import Testing
import VyreConformance
import VyreTesting
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

/// The megakernel under driver limits and odd shapes: counters exact at every workgroup size,
/// long built-in ops shaped to stay inside llvmpipe's loop limit, and a handler loop that the
/// driver cuts ending as FAULT with its own reason, never as DONE with work left undone.
struct MegakernelLimitsTests {
    static let limit = Shared.context.info.limits.maxLoopIterations
    typealias C = RingProtocol.Control

    /// One op of every built-in opcode below 32, plus packed and faulting ones; within a phase no
    /// op reads a word another writes, so every order gives the model's result.
    static func everyOpcode() throws -> Batch {
        let items: [WorkItem] = [
            WorkItem(.nop), WorkItem(.storeU32, args: [5, 300]), WorkItem(.atomicAdd, args: [2, 301]), WorkItem(.loadU32, args: [305, 10]),
            WorkItem(.compareSwap, args: [20, 0, 9]), WorkItem(.memcpy, args: [320, 310, 2]), WorkItem(.printf, args: [1, 2, 3]),
            try WorkItem.packed([PackedOp(.atomicAdd, [1, 302, 0]), PackedOp(.nop, [])]), WorkItem(opcode: 99),
            WorkItem(.batchFence, args: [0, 4]), WorkItem(.loadU32, args: [301, 11]), WorkItem(.nop), WorkItem(.atomicAdd, args: [1, 303]),
        ]
        return Batch(items: items, controlWords: 400, control: [305: 77, 320: 8, 321: 9])
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 64, 100, 1024] as [UInt32])
    func countersAreExactForEveryWorkgroupSize(_ size: UInt32) throws {
        let megakernel = try Megakernel(context: Shared.context, configuration: MegakernelConfiguration(workgroupSize: size))
        let batch = try Self.everyOpcode()
        let r = try megakernel.run(batch)
        let m = try BatchModel().run(batch)
        #expect(r.control == m.control, "workgroup size \(size): control differs at \(zip(r.control, m.control).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        #expect(r.doneCount == 12)
        #expect(r.faults == [SlotFault(slot: 8, reason: FaultReason.unknownOpcode.rawValue)])
        #expect(r.control[C.metricsBase + 3] == 2, "LOAD_U32 metric")
        #expect(r.control[C.metricsBase + 7] == 1, "BATCH_FENCE metric")
    }

    @Test func aLongMemcpyCompletes() throws {
        // 200,000 words: three times llvmpipe's loop limit at one word per trip.
        let n = 200_000
        var control: [Int: UInt32] = [:]
        for i in stride(from: 0, to: n, by: 997) { control[200 + i] = UInt32(i &* 31 + 1) }
        let batch = Batch(items: [WorkItem(.memcpy, args: [200, UInt32(200 + n), UInt32(n)])], controlWords: 200 + 2 * n, control: control)
        let r = try Shared.megakernel.run(batch)
        #expect(r.allDone)
        #expect(r.control == (try BatchModel().run(batch)).control)
    }

    @Test func aCopyPastTheLoopLimitFaultsWithItsOwnReason() throws {
        // 2,000,000 words at 16 words per trip is 125,000 trips: past llvmpipe's 65,535.
        let n = 2_000_000
        let batch = Batch(items: [WorkItem(.memcpy, args: [160, UInt32(160 + n), UInt32(n)]), WorkItem(.storeU32, args: [1, 159])],
                          controlWords: 160 + 2 * n, control: [160 + n - 1: 42])
        let r = try Shared.megakernel.run(batch)
        if let limit = Self.limit, limit < 125_000 {
            #expect(r.faults == [SlotFault(slot: 0, reason: FaultReason.driverLoopLimit.rawValue)])
            #expect(r.doneCount == 1)
            #expect(r.control[Int(C.faultCount)] == 1)
        } else {
            #expect(r.allDone)
            #expect(r.control[160 + 2 * n - 1] == 42)
        }
    }

    @Test func aLongDFAStepCompletes() throws {
        // 300,000 input bytes through the 2-state parity machine.
        let bytes = 300_000
        let table = 200
        var control: [Int: UInt32] = [:]
        for s in 0..<2 { for b in 0..<256 { control[table + s * 256 + b] = UInt32(s ^ (b & 1)) } }
        let input = table + 512
        for w in 0..<(bytes / 4) { control[input + w] = UInt32(truncatingIfNeeded: w &* 2_654_435_761) }
        let batch = Batch(items: [WorkItem(.dfaStep, args: [UInt32(table), 2, UInt32(input), UInt32(bytes), 0, 0])],
                          controlWords: input + bytes / 4 + 8, control: control)
        let r = try Shared.megakernel.run(batch)
        #expect(r.allDone)
        #expect(r.control == (try BatchModel().run(batch)).control)
    }

    @Test func aHandlerLoopTheDriverCutsEndsAsFault() throws {
        let handler = OpcodeHandler(opcode: 0x4000_0009, name: "SPIN") {
            Node.let("n", 0)
            Node.for("k", from: 0, to: "arg0") { Node.assign("n", "n" + 1) }
            Node.let("old", .atomic(.add, "control", at: "arg1", "n"))
        }
        let megakernel = try Megakernel(context: Shared.context, configuration: MegakernelConfiguration(workgroupSize: 8, opcodes: [handler]))
        let batch = Batch(items: [WorkItem(opcode: 0x4000_0009, args: [300_000, 200]), WorkItem(opcode: 0x4000_0009, args: [10, 201])])
        let r = try megakernel.run(batch)
        #expect(r.control[201] == 10)
        if Self.limit != nil {
            #expect(r.faults == [SlotFault(slot: 0, reason: FaultReason.driverLoopLimit.rawValue)])
            #expect(r.faults.first?.reasonText.contains("loop limit") == true)
        } else {
            #expect(r.allDone)
            #expect(r.control[200] == 300_000)
        }
    }
}
