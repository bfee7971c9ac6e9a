import MetricsTestKit
import Testing
import VyreConformance
import VyreGL
import VyreProtocol
import VyreRuntime

/// The resident kernel's swift-metrics instruments, through an injected test backend: counts
/// that match what ran, with the kernel's dimensions.
struct ResidentMetricsTests {
    @Test func countsMatchWhatRanWithTheKernelsDimensions() async throws {
        let metrics = TestMetrics()
        let dims = [("device", "test")]
        let k = try ResidentMegakernel(context: SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 16),
                                       options: ResidentOptions(slots: 64, controlWords: 1024, tenants: 4, debugRecords: 4, workgroups: 2, rounds: 8,
                                                                linger: .microseconds(200)),
                                       metricsFactory: metrics, metricsDimensions: dims)
        for _ in 0..<10 { #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 300])).status == .done) }
        // A control index past the words: FAULT.
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 1_000_000])).status == .fault)
        let batch = try await k.submit(Array(repeating: WorkItem(.nop), count: 20))
        #expect(batch.count == 20)
        try k.setTenant(1, enabled: false)
        let held = try k.trySubmit(WorkItem(.nop, tenant: 1))
        await k.shutdown(.cancel)
        _ = try? await held.completion()

        #expect(metrics.counterTotal(label: "vyre_gl_resident_ops_submitted_total", dimensions: dims) == 32)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_ops_completed_total", dimensions: dims + [("status", "done")]) == 30)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_ops_completed_total", dimensions: dims + [("status", "fault")]) == 1)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_ops_not_run_total", dimensions: dims) == 1)
        let dispatches = metrics.counterTotal(label: "vyre_gl_resident_dispatches_total", dimensions: dims)
        #expect(dispatches >= 1 && dispatches == Int64(k.telemetry.dispatches))
        #expect(try metrics.expectTimer("vyre_gl_resident_dispatch_seconds", dims).values.count == Int(dispatches))
        // One per single-op ticket that ran, and one for the batch.
        #expect(try metrics.expectTimer("vyre_gl_resident_round_trip_seconds", dims).values.count == 11)
        #expect(try metrics.expectTimer("vyre_gl_resident_batch_round_trip_seconds", dims).values.count == 1)
        #expect(try metrics.expectTimer("vyre_gl_resident_round_trip_seconds", dims).values.allSatisfy { $0 > 0 })
        #expect(try metrics.expectGauge("vyre_gl_resident_ring_in_flight", dims).lastValue != nil)
    }
}
