import ArgumentParser
import CoreMetrics
import Dispatch
import Foundation
import Synchronization
import VyreConformance
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

struct PersistentBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persistent",
        abstract: "The resident megakernel: round trips, throughput by producers and batch, and a 256-slot batch, each beside one-shot dispatch in the same run.",
        discussion: """
            Round trip: one NOP in flight, from publish to the completion thread seeing DONE (raw) and to the \
            waiting task resuming (api). Throughput: P producer threads each publishing batches of B NOPs and \
            waiting for them. The one-shot figures run the same ops through 'Megakernel.run' in the same process.
            """)

    @Option(help: "Round trips timed (after 200 untimed).") var iterations: Int = 2000
    @Option(help: "Ops per throughput row (default: 200,000 on a GPU, 50,000 on a software renderer).") var ops: Int?
    @Option(help: "Workgroups of the resident dispatch (default: by device).") var workgroups: UInt32?
    @Option(name: .customLong("workgroup-size"), help: "Lanes per workgroup (default: 256, or the device's most invocations per workgroup where fewer).") var workgroupSize: UInt32?
    @Option(help: "Rounds per dispatch (default: by device, fewer in proportion with more --workgroups than its default).") var rounds: UInt32?
    @Option(name: .customLong("placement"), help: "Where the ring and its words live: driver (the driver's choice) or host (host memory).") var placementName: String = MappedPlacement.driverChoice.rawValue

    var placement: MappedPlacement { MappedPlacement(rawValue: placementName) ?? .driverChoice }
    @Option(name: .customLong("exactly-once-ops"), help: "ATOMIC_ADDs of the exactly-once check (default: 1,000,000 on a GPU, 200,000 on a software renderer).")
    var exactlyOnceOps: Int?
    @Option(help: "Metrics of the resident kernel: off (swift-metrics' no-op backend) or on (an in-process backend with a production backend's per-call cost).")
    var metrics: String = "off"
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup(title: "Several devices (instead of the single-device figures: the group beside its first device, one-shot split across them, the exactly-once check across all)")
    var devicesOption: DevicesOption

    struct Throughput: Encodable {
        var producers: Int
        var batch: Int
        var ops: Int
        var slotsPerSecond: Double
        /// Where the time goes: the producers' time inside the publish call, per op, in nanoseconds
        /// (the rest of their time they wait for the kernel and the completion thread).
        var publishNanosecondsPerOp: Double
    }

    struct BigBatch: Encodable {
        var ops: Int
        var publishMicroseconds: Double
        var drainMicroseconds: Double
        var retireMicroseconds: Double
        /// ops over the drain alone: what the kernel sustains with the host out of the way.
        var drainSlotsPerSecond: Double
    }

    struct Report: Encodable {
        var benchmark = "persistent"
        var device: String
        var glVersion: String
        var workgroups: UInt32
        var lanes: UInt32
        var rounds: UInt32
        var placement: String
        /// The resident kernel's metrics backend: off (no-op) or on.
        var metrics: String
        /// Building, compiling and allocating the resident kernel.
        var compileMilliseconds: Double
        var roundTripP50Microseconds: Double
        var roundTripP99Microseconds: Double
        var apiRoundTripP50Microseconds: Double
        var apiRoundTripP99Microseconds: Double
        /// Where the round trip goes: the producer's publish (slot, words, queue entry, tail).
        var publishP50Microseconds: Double
        /// Where the round trip goes: one round of the kernel while the round trips ran
        /// (the time over the rounds the dispatches ran); an op waits up to one round to be claimed.
        var roundMicroseconds: Double
        var oneShotP50Microseconds: Double
        var oneShotP99Microseconds: Double
        var batch256P50Microseconds: Double
        var batch256OneShotP50Microseconds: Double
        var throughput: [Throughput]
        /// Where a large batch's time goes: 65,536 NOPs published under one ticket (p50 over the
        /// repeats): the publish call, then until the kernel's DONE_COUNT shows them all (the GPU
        /// draining the ring), then until the ticket is finished (the completion thread retiring).
        var bigBatch: BigBatch
        var dispatches: Int
        /// DONE_COUNT after every measurement above, against the ops submitted: equal when every op ran once.
        var doneCount: UInt32
        var submitted: Int
        /// The exactly-once check: producers x ops ATOMIC_ADD 1 to a word each, through a kernel
        /// dispatched again every 16 rounds; every word must end at 1.
        var exactlyOnce: ResidentConformance.ExactlyOnceResult
    }

    func validate() throws {
        if !(1...1_000_000).contains(iterations) { throw ValidationError("--iterations must be 1 to 1000000.") }
        if let ops, !(1...100_000_000).contains(ops) { throw ValidationError("--ops must be 1 to 100000000.") }
        if let exactlyOnceOps, !(8...100_000_000).contains(exactlyOnceOps) { throw ValidationError("--exactly-once-ops must be 8 to 100000000.") }
        if MappedPlacement(rawValue: placementName) == nil { throw ValidationError("--placement must be driver or host.") }
        if !["off", "on"].contains(metrics) { throw ValidationError("--metrics must be off or on.") }
        if workgroupSize == 0 || workgroups == 0 || rounds == 0 { throw ValidationError("--workgroup-size, --workgroups and --rounds must be at least 1.") }
        try devicesOption.check(against: deviceOptions)
    }

    func run() throws {
        runReporting {
            if let set = try devicesOption.set { return try runAcross(set) }
            let context = try CLI.openContext(deviceOptions)
            try CLI.checkWorkgroups(workgroups, on: [context])
            // An OpenGL ES 3.1 device may run only 128 invocations per workgroup.
            let configuration = MegakernelConfiguration(workgroupSize: workgroupSize ?? min(256, context.limits.maxWorkgroupInvocations))
            var progress = Progress()
            let nop = WorkItem(.nop)
            // One-shot first, while no resident kernel holds the context thread.
            let oneShot = try Megakernel(context: context, configuration: configuration)
            progress.update("one-shot")
            let single = Batch(items: [nop])
            let many = [WorkItem](repeating: nop, count: 256)
            var once: [Double] = [], oneShot256: [Double] = []
            for i in 0..<(min(iterations, 2000) + 20) {
                let start = ContinuousClock.now
                _ = try oneShot.run(single)
                let mid = ContinuousClock.now
                _ = try oneShot.run(Batch(items: many))
                if i >= 20 {
                    once.append((mid - start).ms * 1000)
                    oneShot256.append((ContinuousClock.now - mid).ms * 1000)
                }
            }
            let opened = ContinuousClock.now
            let kernel = try ResidentMegakernel(context: context, configuration: configuration,
                                                options: ResidentOptions(slots: 65_536, workgroups: workgroups, rounds: rounds, linger: .milliseconds(50), placement: placement),
                                                metricsFactory: metrics == "on" ? BenchMetrics() : NOOPMetricsHandler.instance)
            let compile = (ContinuousClock.now - opened).ms

            progress.update("round trips")
            let (raw, api, publish, round) = try Self.roundTrips(kernel, iterations: iterations)
            progress.update("256-slot batches")
            var resident256: [Double] = []
            for i in 0..<(min(iterations, 2000) + 20) {
                let start = ContinuousClock.now
                let (batch, stoppedBy) = kernel.trySubmitBatch(many)
                if let stoppedBy { throw stoppedBy }
                _ = try batch.waitForCompletions()
                if i >= 20 { resident256.append((ContinuousClock.now - start).ms * 1000) }
            }
            let total = ops ?? (context.info.isSoftware ? 50_000 : 200_000)
            var rows: [Throughput] = []
            for producers in [1, 4, 16] {
                for batch in [1, 64, 4096] {
                    progress.update("throughput: \(producers) producers, batches of \(batch)")
                    let (rate, publish) = try Self.throughput(kernel, producers: producers, batch: batch, total: total)
                    rows.append(Throughput(producers: producers, batch: batch, ops: total, slotsPerSecond: rate, publishNanosecondsPerOp: publish))
                }
            }
            progress.update("a batch of 65,536")
            let big = try Self.bigBatch(kernel, ops: 65_536, repeats: 9)
            progress.update("exactly-once check")
            let checkOps = exactlyOnceOps ?? (context.info.isSoftware ? 200_000 : 1_000_000)
            let check = try Self.exactlyOnce(context, configuration: configuration, workgroups: workgroups, ops: checkOps) { t in
                let statuses = t.occupancy.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                progress.update("exactly-once check: \(t.completed) of \(checkOps) done, \(t.inFlight) in flight, \(t.dispatches) dispatches; ring: \(statuses)")
            }
            progress.finish()
            let geometry = kernel.geometry
            let telemetry = kernel.telemetry
            let report = Report(device: context.info.renderer, glVersion: context.info.glVersion, workgroups: geometry.workgroups, lanes: geometry.lanes,
                                rounds: geometry.rounds, placement: placement.rawValue, metrics: metrics, compileMilliseconds: compile,
                                roundTripP50Microseconds: percentile(raw, 0.5), roundTripP99Microseconds: percentile(raw, 0.99),
                                apiRoundTripP50Microseconds: percentile(api, 0.5), apiRoundTripP99Microseconds: percentile(api, 0.99),
                                publishP50Microseconds: percentile(publish, 0.5), roundMicroseconds: round,
                                oneShotP50Microseconds: percentile(once, 0.5), oneShotP99Microseconds: percentile(once, 0.99),
                                batch256P50Microseconds: percentile(resident256, 0.5), batch256OneShotP50Microseconds: percentile(oneShot256, 0.5),
                                throughput: rows, bigBatch: big, dispatches: telemetry.dispatches, doneCount: kernel.controlWord(RingProtocol.Control.doneCount),
                                submitted: telemetry.submitted, exactlyOnce: check)
            await_(kernel)
            if json { try Output.json(report) } else { try Self.printText(report) }
            guard check.passed, report.doneCount == UInt32(truncatingIfNeeded: report.submitted) else {
                throw CLIFailure(status: .ranWithFailures, "the resident kernel did not run every op exactly once (see the report)", fix: "report it with 'vyre-gl info'; it is a vyre-gl or driver bug")
            }
        }
    }

    /// The figures across the devices of `set` (``GroupBench``).
    private func runAcross(_ set: DeviceSet) throws {
        let contexts = try CLI.openContexts(set, deviceOptions)
        try CLI.checkWorkgroups(workgroups, on: contexts)
        let lanes = workgroupSize ?? contexts.map { min(256, $0.limits.maxWorkgroupInvocations) }.min() ?? 256
        let software = contexts.contains { $0.info.isSoftware }
        let bench = GroupBench(contexts: contexts, configuration: MegakernelConfiguration(workgroupSize: lanes),
                               options: ResidentOptions(slots: 65_536, workgroups: workgroups, rounds: rounds, linger: .milliseconds(50), placement: placement),
                               ops: ops ?? (software ? 50_000 : 200_000), checkOps: exactlyOnceOps ?? (software ? 200_000 : 1_000_000))
        var progress = Progress()
        let report = try bench.run(progress: &progress)
        progress.finish()
        if json { try Output.json(report) } else { try GroupBench.printText(report) }
        guard report.exactlyOncePassed else {
            throw CLIFailure(status: .ranWithFailures, "the resident kernels did not run every op exactly once across the devices (see the report)", fix: "report it with 'vyre-gl info'; it is a vyre-gl or driver bug")
        }
    }

    /// `iterations` round trips of one NOP (after 200 untimed): raw, api and publish times, and
    /// one kernel round's time over the dispatches that ended meanwhile, in microseconds.
    static func roundTrips(_ kernel: ResidentMegakernel, iterations: Int) throws -> (raw: [Double], api: [Double], publish: [Double], round: Double) {
        let nop = WorkItem(.nop)
        var raw: [Double] = [], api: [Double] = [], publish: [Double] = []
        var roundsFrom = (kernel.telemetry.dispatches, kernel.telemetry.dispatchTime)
        for i in 0..<(iterations + 200) {
            if i == 200 { roundsFrom = (kernel.telemetry.dispatches, kernel.telemetry.dispatchTime) }
            let start = ContinuousClock.now
            let ticket = try kernel.trySubmit(nop)
            let published = ContinuousClock.now
            _ = try ticket.wait()
            let end = ContinuousClock.now
            guard i >= 200, let retired = ticket.retiredAt else { continue }
            raw.append((retired - start).ms * 1000)
            api.append((end - start).ms * 1000)
            publish.append((published - start).ms * 1000)
        }
        // Dispatches that ended during the round trips, over the rounds they ran.
        let after = kernel.telemetry
        let roundsRun = Double(after.dispatches - roundsFrom.0) * Double(kernel.geometry.rounds)
        let round = roundsRun > 0 ? (after.dispatchTime - roundsFrom.1).ms * 1000 / roundsRun : 0
        return (raw, api, publish, round)
    }

    /// Ends the kernel before the report is printed (its threads stop polling).
    private func await_(_ kernel: ResidentMegakernel) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await kernel.shutdown(.drain)
            done.signal()
        }
        done.wait()
    }

    /// 8 threads publish `ops` ATOMIC_ADDs of 1, each to its own control word, in batches of 500,
    /// through a kernel that ends every 16 rounds (the check `selftest` runs, larger).
    static func exactlyOnce(_ context: GLContext, configuration: MegakernelConfiguration, workgroups: UInt32?, ops: Int,
                            watch: @escaping (ResidentTelemetry) -> Void) throws -> ResidentConformance.ExactlyOnceResult {
        let producers = 8, first = 1000
        let kernel = try ResidentMegakernel(context: context, configuration: configuration,
                                            options: ResidentOptions(slots: 4096, controlWords: first + ops, workgroups: workgroups, rounds: 16))
        return try ResidentConformance.exactlyOnce(kernel, producers: producers, perProducer: ops / producers, firstWord: first, batch: 500, watch: watch)
    }

    /// `producers` threads each publish batches of `batch` NOPs and wait for each batch, until
    /// `total` ops ran; ops per second over the whole run, and the producers' nanoseconds inside
    /// the publish call per op.
    static func throughput(_ kernel: ResidentMegakernel, producers: Int, batch: Int, total: Int) throws -> (Double, Double) {
        try throughput(producers: producers, batch: batch, total: total) { items in
            let (published, stoppedBy) = kernel.trySubmitBatch(items)
            return (published, stoppedBy)
        }
    }

    /// The same through any publisher of batches (a kernel, a group of kernels): `submit`
    /// publishes what it can of the items and says why it stopped.
    static func throughput(producers: Int, batch: Int, total: Int,
                           submit: @escaping @Sendable (ArraySlice<WorkItem>) -> (ResidentBatchTicket?, ResidentError?)) throws -> (Double, Double) {
        let perProducer = max(batch, total / producers / batch * batch)
        let failures = Mutex<[ResidentError]>([])
        let publishing = Atomic<Int>(0)
        let group = DispatchGroup()
        let items = [WorkItem](repeating: WorkItem(.nop), count: batch)
        let start = ContinuousClock.now
        for _ in 0..<producers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var tickets: [ResidentBatchTicket] = []
                var sent = 0
                while sent < perProducer {
                    tickets.removeAll(keepingCapacity: true)
                    // The batch is published at once under one ticket, each queue's tail moved
                    // once; what does not fit waits for room, under a ticket of its own.
                    var placed = 0
                    while placed < batch {
                        let began = ContinuousClock.now
                        let (published, stoppedBy) = submit(items.prefix(batch - placed))
                        publishing.add(Int((ContinuousClock.now - began) / .nanoseconds(1)), ordering: .relaxed)
                        if let published {
                            tickets.append(published)
                            placed += published.count
                        }
                        if let stoppedBy {
                            guard case .ringFull = stoppedBy else { failures.withLock { $0.append(stoppedBy) }; return }
                            sched_yield()
                        }
                    }
                    for t in tickets {
                        do throws(ResidentError) { _ = try t.waitForCompletions() } catch { failures.withLock { $0.append(error) }; return }
                    }
                    sent += batch
                }
            }
        }
        group.wait()
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        if let first = failures.withLock({ $0.first }) { throw first }
        let ops = perProducer * producers
        return (Double(ops) / seconds, Double(publishing.load(ordering: .relaxed)) / Double(ops))
    }

    /// `repeats` batches of `ops` NOPs, each published at once under one ticket: the p50 of the
    /// publish call, of the wait until DONE_COUNT shows them all, and of the wait for the ticket after.
    static func bigBatch(_ kernel: ResidentMegakernel, ops: Int, repeats: Int) throws -> BigBatch {
        let items = [WorkItem](repeating: WorkItem(.nop), count: ops)
        var publish: [Double] = [], drain: [Double] = [], retire: [Double] = []
        for _ in 0..<repeats {
            let before = kernel.controlWord(RingProtocol.Control.doneCount)
            let start = ContinuousClock.now
            let (batch, stoppedBy) = kernel.trySubmitBatch(items)
            if let stoppedBy { throw stoppedBy }
            let published = ContinuousClock.now
            while kernel.controlWord(RingProtocol.Control.doneCount) &- before < UInt32(ops) { sched_yield() }
            let drained = ContinuousClock.now
            _ = try batch.waitForCompletions()
            let retired = ContinuousClock.now
            publish.append((published - start).ms * 1000)
            drain.append((drained - published).ms * 1000)
            retire.append((retired - drained).ms * 1000)
        }
        let drainP50 = percentile(drain, 0.5)
        return BigBatch(ops: ops, publishMicroseconds: percentile(publish, 0.5), drainMicroseconds: drainP50,
                        retireMicroseconds: percentile(retire, 0.5), drainSlotsPerSecond: Double(ops) / max(drainP50, 1e-9) * 1e6)
    }

    static func printText(_ r: Report) throws {
        try Output.line("persistent on \(r.device) (\(r.glVersion)): \(r.workgroups) workgroups x \(r.lanes) lanes, \(r.rounds) rounds per dispatch, \(r.dispatches) dispatches, placement \(r.placement)")
        try Output.line(String(format: "round trip, 1 op in flight: raw p50 %.2f us p99 %.2f us; api p50 %.2f us p99 %.2f us", r.roundTripP50Microseconds, r.roundTripP99Microseconds,
                               r.apiRoundTripP50Microseconds, r.apiRoundTripP99Microseconds))
        try Output.line(String(format: "where it goes: publish p50 %.2f us; one kernel round %.2f us", r.publishP50Microseconds, r.roundMicroseconds))
        try Output.line(String(format: "one-shot, the same op: p50 %.2f us p99 %.2f us (api round trip / one-shot: %.2f)", r.oneShotP50Microseconds, r.oneShotP99Microseconds,
                               r.apiRoundTripP50Microseconds / max(r.oneShotP50Microseconds, 1e-9)))
        try Output.line(String(format: "256-slot batch: resident p50 %.1f us, one-shot p50 %.1f us (ratio %.2f)", r.batch256P50Microseconds, r.batch256OneShotP50Microseconds,
                               r.batch256P50Microseconds / max(r.batch256OneShotP50Microseconds, 1e-9)))
        try Output.line("producers  batch        ops    slots/s  publish ns/op")
        for t in r.throughput {
            try Output.line(String(format: "%9d %6d %10d %9.3gM %14.0f", t.producers, t.batch, t.ops, t.slotsPerSecond / 1e6, t.publishNanosecondsPerOp))
        }
        let b = r.bigBatch
        try Output.line(String(format: "%d-op batch, p50: publish %.0f us, kernel drains it %.0f us (%.3gM slots/s), completion thread retires it %.0f us later",
                               b.ops, b.publishMicroseconds, b.drainMicroseconds, b.drainSlotsPerSecond / 1e6, b.retireMicroseconds))
        try Output.line("DONE_COUNT \(r.doneCount) for \(r.submitted) ops submitted\(r.doneCount == UInt32(truncatingIfNeeded: r.submitted) ? "" : " (MISMATCH)")")
        let e = r.exactlyOnce
        try Output.line("exactly once: \(e.ops) ATOMIC_ADDs over \(e.dispatches) dispatches, \(e.wordsNotOne) words not 1, DONE_COUNT \(e.doneCount): \(e.passed ? "passed" : "FAILED")")
    }
}
