import Foundation
import Logging
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

    /// The ring's occupancy by status is sampled into gauges while ops are in flight.
    @Test(.timeLimit(.minutes(2))) func ringOccupancyIsSampledByStatus() async throws {
        let metrics = TestMetrics()
        let k = try ResidentMegakernel(context: SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 16),
                                       options: ResidentOptions(slots: 64, controlWords: 1024, tenants: 4, workgroups: 1, rounds: 8, linger: .microseconds(200)),
                                       metricsFactory: metrics)
        // Held by a disabled tenant, so ops stay in flight until the gauges are seen.
        try k.setTenant(1, enabled: false)
        let held = try k.trySubmit(WorkItem(.nop, tenant: 1))
        func published() -> Double? { try? metrics.expectGauge("vyre_gl_resident_ring_slots", [("status", "PUBLISHED")]).lastValue }
        // Sampled every 250 ms: the bound only keeps a broken build from hanging.
        for _ in 0..<20_000 where published() != 1 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(published() == 1)
        #expect(try metrics.expectGauge("vyre_gl_resident_ring_slots", [("status", "EMPTY")]).lastValue == 63)
        await k.shutdown(.cancel)
        _ = try? await held.completion()
    }

    /// With a Logger given, PRINTF records are logged with their words, not kept for the stream.
    @Test(.timeLimit(.minutes(2))) func printfRecordsGoToTheLoggerGiven() async throws {
        let captured = CapturedLogs()
        let logger = Logger(label: "printf") { _ in CapturingLogHandler(captured) }
        let k = try ResidentMegakernel(context: SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 16),
                                       options: ResidentOptions(slots: 64, controlWords: 1024, workgroups: 1, rounds: 8, linger: .microseconds(200)),
                                       printfLogger: logger)
        #expect(try await k.submit(WorkItem(.printf, args: [7, 1, 2])).status == .done)
        await k.shutdown(.drain)
        let lines = captured.lines
        #expect(lines.count == 1)
        #expect(lines.first?.message == "PRINTF" && lines.first?.metadata["format"] == "7" && lines.first?.metadata["arg0"] == "1"
                && lines.first?.metadata["arg1"] == "2")
        var streamed = 0
        for await _ in k.debugRecords { streamed += 1 }
        #expect(streamed == 0)
    }
}

/// Log lines a test handler kept.
final class CapturedLogs: @unchecked Sendable {
    struct Line {
        var message: String
        var metadata: [String: String]
    }
    private let lock = NSLock()
    private var kept: [Line] = []
    var lines: [Line] { lock.withLock { kept } }
    func append(_ line: Line) { lock.withLock { kept.append(line) } }
}

struct CapturingLogHandler: LogHandler {
    let captured: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(_ captured: CapturedLogs) { self.captured = captured }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        captured.append(CapturedLogs.Line(message: event.message.description, metadata: (event.metadata ?? [:]).mapValues { "\($0)" }))
    }
}
