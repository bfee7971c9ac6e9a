import Foundation
import Testing
import VyreConformance
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

enum Shared {
    static var context: GLContext { SharedDevice.context }
    static let megakernel: Megakernel = {
        do { return try Megakernel(context: context, configuration: MegakernelConfiguration(workgroupSize: 64)) } catch { fatalError("\(error)") }
    }()
}

struct SmokeTests {
    /// Blocking and async runs on one megakernel at once: each run is one job on the context
    /// thread, so neither can hold the resident buffers while waiting for a job behind the other.
    @Test(.timeLimit(.minutes(1))) func blockingAndAsyncRunsShareAMegakernel() async throws {
        // A context of its own: were they to deadlock, only this test's context would be stuck.
        let megakernel = try Megakernel(context: try GLContext(), configuration: MegakernelConfiguration(workgroupSize: 64))
        let batch = Batch(items: [WorkItem(.atomicAdd, args: [1, 300])], controlWords: 1024)
        try await withThrowingTaskGroup(of: UInt32.self) { group in
            for i in 0..<16 {
                group.addTask {
                    if i % 2 == 0 { return try await megakernel.run(batch).doneCount }
                    return try await withCheckedThrowingContinuation { continuation in
                        Thread.detachNewThread {
                            continuation.resume(with: Result { () throws(MegakernelError) in try megakernel.run(batch).doneCount })
                        }
                    }
                }
            }
            for try await done in group { #expect(done == 1) }
        }
        // A blocking run from a job on the context thread runs there when no other batch holds
        // the megakernel.
        let fromJob = try await megakernel.context.perform { _ in
            Result { () throws(MegakernelError) in try megakernel.run(batch).doneCount }
        }
        #expect(try fromJob.get() == 1)
    }

    @Test func issueExampleBatch() throws {
        let batch = Batch(items: [
            WorkItem(.storeU32, args: [42, 300]),
            WorkItem(.atomicAdd, args: [1, 301]),
            WorkItem(.printf, args: [7, 1, 2]),
            WorkItem(.batchFence, args: [0, 99]),
            WorkItem(.loadU32, args: [300, 4]),
            WorkItem(opcode: 2, args: [5, 302]),
        ], slots: 256, controlWords: 1024, control: [300: 5])
        let r = try Shared.megakernel.run(batch)
        #expect(r.allDone)
        #expect(r.doneCount == 6)
        #expect(r.epoch == 1)
        #expect(r.control[300] == 42)
        #expect(r.control[301] == 1)
        #expect(r.control[302] == 5)
        #expect(r.control[160] == 99)
        #expect(r.control[164] == 42)
        #expect(r.debug.records == [DebugRecord(format: 7, arg0: 1, arg1: 2, slotWordOffset: 32)])
        #expect(r.phases == 3)
        print(r.timing)
    }
}

/// The megakernel a context compiles is the program whose GLSL is checked in (VyreProtocolTests).
struct RunningMegakernelTests {
    @Test func theRunningMegakernelIsTheGoldenProgram() {
        let config = MegakernelConfiguration(workgroupSize: 64)
        #expect(Shared.megakernel.program == MegakernelPrograms.oneShot(configuration: config))
    }
}
