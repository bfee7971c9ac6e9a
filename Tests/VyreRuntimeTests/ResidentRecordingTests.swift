import Testing
import VyreConformance
import VyreGL
import VyreProtocol
import VyreRuntime

/// Recording a resident kernel's live traffic (`startRecording`), and replaying the log on a
/// fresh kernel: the same outcomes and words, with causality kept in the phases.
@Suite(.serialized)
struct ResidentRecordingTests {
    static func kernel() throws -> ResidentMegakernel {
        try ResidentMegakernel(context: SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 16),
                               options: ResidentOptions(slots: 64, controlWords: 1024, tenants: 4, workgroups: 1, rounds: 8, linger: .microseconds(200)))
    }

    @Test(.timeLimit(.minutes(2))) func liveTrafficReplaysIdentically() async throws {
        let k = try Self.kernel()
        // Before the recording: its effects are in the log's starting words.
        _ = try await k.submit(WorkItem(.storeU32, args: [5, 300]))
        try k.setTenant(2, enabled: false)
        let recording = try k.startRecording()
        #expect(throws: ResidentError.self) { _ = try k.startRecording() }
        _ = try await k.submit(WorkItem(.storeU32, args: [7, 301]))
        // Published after the store's completion: a later phase, so the replay reads 7 too.
        let load = try await k.submit(WorkItem(.loadU32, args: [301, 10]))
        #expect(load.observed[10] == 7)
        _ = try await k.submit((0..<40).map { _ in WorkItem(.atomicAdd, args: [1, 302]) })
        _ = try await k.submit(WorkItem(.batchFence, args: [0, 11]))
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 1 << 30])).status == .fault)
        let held = try k.trySubmit(WorkItem(.atomicAdd, args: [1, 303], tenant: 2))
        let recorded = await recording.finish()
        let log = recorded.log
        #expect(recorded.notRecorded == 0 && log.records.count == 45 && log.mode == .resident)
        #expect(log.initialControl[300] == 5)
        let phases = log.records.map(\.phase)
        #expect(phases[0] < phases[1] && phases[1] < phases[2] && phases[2] == phases[41] && phases[41] < phases[42] && phases[42] < phases[43])
        #expect(log.records[43].outcome != .done && log.records[44].outcome == .notRun)
        #expect(log.records[44].epoch == 1)

        let decoded = try RingLog(bytes: log.encoded())
        let (plan, configuration) = try decoded.plan()
        let replay = try await decoded.replay(plan, configuration, on: SharedDevice.context)
        #expect(decoded.differences(from: replay) == [])
        // The recording is over: another may start.
        _ = try k.startRecording()
        await k.shutdown(.cancel)
        _ = try? await held.completion()
    }
}
