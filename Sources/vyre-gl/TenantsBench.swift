import ArgumentParser
import Foundation
import Synchronization
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

/// `vyre-gl bench tenants`: how registered tenants share a resident kernel under contention, with
/// and without quotas in the same run, and what swapping a tenant's handlers in costs the ops
/// that run meanwhile.
struct TenantsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants",
        abstract: "Tenants on one resident kernel: fairness with and without quotas, and the cost of a handler swap.",
        discussion: """
            Contention: T tenants each keep ops in flight from worker threads (one op in flight per worker); \
            the last tenant is greedy, with --greed times as many workers. With quotas every tenant is registered \
            with the same quota (the others' worker count); without, the same workers submit through the plain API. \
            Fairness is Jain's index over the tenants' throughputs (1 is equal shares, 1/T one tenant taking all). \
            Swap: one worker streams NOPs while a tenant with a handler registers (cold: a program not seen \
            before; warm: the same one again, from the program binary cache); the longest gap between two of \
            the stream's completions shows what the swap cost the running ops.
            """)

    @Option(help: "Tenants contending.") var tenants: Int = 3
    @Option(help: "Each tenant's quota, and its worker threads.") var quota: Int = 4
    @Option(help: "How many times more workers the greedy tenant runs.") var greed: Int = 4
    @Option(help: "Seconds each contention phase runs.") var seconds: Double = 2
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Share: Encodable {
        var tenant: Int
        var workers: Int
        var ops: Int
        var opsPerSecond: Double
        var p50Microseconds: Double
        var p99Microseconds: Double
    }

    struct Phase: Encodable {
        var quotas: Bool
        var shares: [Share]
        var jainIndex: Double
        /// The greedy tenant's throughput over the mean of the others'.
        var greedyOverOthers: Double
    }

    struct Swap: Encodable {
        var registerMilliseconds: Double
        var compileMilliseconds: Double
        var longestGapMilliseconds: Double
        var streamP50Microseconds: Double
        var lostOrRepeated: Int
    }

    struct Report: Encodable {
        var benchmark = "tenants"
        var device: String
        var phases: [Phase]
        var coldSwap: Swap
        var warmSwap: Swap
    }

    func validate() throws {
        if !(2...64).contains(tenants) { throw ValidationError("--tenants must be 2 to 64.") }
        if !(1...256).contains(quota) { throw ValidationError("--quota must be 1 to 256.") }
        if !(1...64).contains(greed) { throw ValidationError("--greed must be 1 to 64.") }
        if !(seconds > 0 && seconds <= 600) { throw ValidationError("--seconds must be above 0 and at most 600.") }
    }

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            var progress = Progress()
            let kernel = try ResidentMegakernel(context: context, options: ResidentOptions(slots: 4096, tenants: tenants + 2, linger: .milliseconds(50)))
            var phases: [Phase] = []
            for quotas in [false, true] {
                progress.update("contention \(quotas ? "with" : "without") quotas")
                phases.append(try contend(kernel, quotas: quotas))
            }
            progress.update("handler swap, cold")
            let salt = UInt32(truncatingIfNeeded: UInt64(Date().timeIntervalSince1970 * 1000))
            let cold = try swap(kernel, salt: salt, unregisterAfter: true)
            progress.update("handler swap, warm")
            let warm = try swap(kernel, salt: salt, unregisterAfter: false)
            progress.finish()
            kernel.shutdownAndWait(.drain)
            let report = Report(device: context.info.renderer, phases: phases, coldSwap: cold, warmSwap: warm)
            if json { try Output.json(report) } else { try Self.printText(report) }
            guard cold.lostOrRepeated == 0, warm.lostOrRepeated == 0 else {
                throw CLIFailure(status: .ranWithFailures, "a handler swap lost or repeated ops (see the report)", fix: "report it with 'vyre-gl info'; it is a vyre-gl bug")
            }
        }
    }

    /// Every tenant's workers submit NOPs for `seconds`, each waiting for its op.
    private func contend(_ kernel: ResidentMegakernel, quotas: Bool) throws -> Phase {
        var handles: [TenantHandle] = []
        if quotas {
            for _ in 0..<tenants {
                let options = TenantOptions(quota: quota)
                handles.append(try Blocking.wait { () async throws(TenantError) in try await kernel.register(options) })
            }
        }
        let registered = handles
        let workers = (0..<tenants).map { $0 == tenants - 1 ? quota * greed : quota }
        let latencies = Mutex([[Double]](repeating: [], count: tenants))
        let failure = Mutex<ResidentError?>(nil)
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let group = DispatchGroup()
        for (tenant, count) in workers.enumerated() {
            for _ in 0..<count {
                group.enter()
                Thread.detachNewThread {
                    defer { group.leave() }
                    var mine: [Double] = []
                    while ContinuousClock.now < end {
                        let start = ContinuousClock.now
                        do throws(ResidentError) {
                            if quotas {
                                _ = try registered[tenant].submitAndWait(WorkItem(.nop))
                            } else {
                                _ = try kernel.submitAndWait(WorkItem(.nop, tenant: 0))
                            }
                        } catch {
                            failure.withLock { $0 = $0 ?? error }
                            break
                        }
                        mine.append((ContinuousClock.now - start).ms * 1000)
                    }
                    latencies.withLock { $0[tenant] += mine }
                }
            }
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        for handle in handles { try Blocking.wait { () async throws(TenantError) in try await kernel.unregister(handle, mode: .drain) } }
        let all = latencies.withLock { $0 }
        let shares = all.enumerated().map { tenant, l in
            Share(tenant: tenant + 1, workers: workers[tenant], ops: l.count, opsPerSecond: Double(l.count) / seconds,
                  p50Microseconds: percentile(l, 0.5), p99Microseconds: percentile(l, 0.99))
        }
        let rates = shares.map(\.opsPerSecond)
        let sum = rates.reduce(0, +), squares = rates.reduce(0) { $0 + $1 * $1 }
        let others = rates.dropLast().reduce(0, +) / Double(tenants - 1)
        return Phase(quotas: quotas, shares: shares, jainIndex: squares > 0 ? sum * sum / (Double(tenants) * squares) : 0,
                     greedyOverOthers: others > 0 ? rates.last! / others : 0)
    }

    /// One worker streams ATOMIC_ADDs to a word while a tenant with a handler registers; returns
    /// what the registration took, the longest gap in the stream, and how far the word is off.
    private func swap(_ kernel: ResidentMegakernel, salt: UInt32, unregisterAfter: Bool) throws -> Swap {
        let word = 200
        let before = kernel.controlWord(word)
        let stop = Atomic<Bool>(false)
        let stream = Mutex<(done: Int, gaps: [Double], error: ResidentError?)>((0, [], nil))
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var last = ContinuousClock.now
            var gaps: [Double] = []
            var done = 0
            var failed: ResidentError? = nil
            while !stop.load(ordering: .acquiring) {
                do throws(ResidentError) { _ = try kernel.submitAndWait(WorkItem(.atomicAdd, args: [1, UInt32(word)])) } catch { failed = error; break }
                let now = ContinuousClock.now
                gaps.append((now - last).ms * 1000)
                last = now
                done += 1
            }
            stream.withLock { $0 = (done, gaps, failed) }
            finished.signal()
        }
        // Let the stream run, register, let it run again.
        Thread.sleep(forTimeInterval: 0.2)
        let handler = OpcodeHandler(opcode: 0, name: "SALTED") { Node.store("control", at: "arg1", .binary(.add, "arg0", .u32(salt))) }
        let options = TenantOptions(quota: 4, program: TenantProgram(handlers: [handler]))
        let started = ContinuousClock.now
        let handle = try Blocking.wait { () async throws(TenantError) in try await kernel.register(options) }
        let took = (ContinuousClock.now - started).ms
        Thread.sleep(forTimeInterval: 0.2)
        stop.store(true, ordering: .releasing)
        finished.wait()
        let (done, gaps, error) = stream.withLock { $0 }
        if let error { throw error }
        let compile = kernel.compileTime.ms
        if unregisterAfter { try Blocking.wait { () async throws(TenantError) in try await kernel.unregister(handle, mode: .drain) } }
        let off = Int(kernel.controlWord(word) &- before) - done
        return Swap(registerMilliseconds: took, compileMilliseconds: compile, longestGapMilliseconds: (gaps.max() ?? 0) / 1000,
                    streamP50Microseconds: percentile(gaps, 0.5), lostOrRepeated: abs(off))
    }

    static func printText(_ r: Report) throws {
        try Output.line("tenants on \(r.device)")
        for p in r.phases {
            try Output.line(String(format: "%@: Jain's index %.3f, greedy tenant / others %.2f", p.quotas ? "with quotas" : "without quotas", p.jainIndex, p.greedyOverOthers))
            for s in p.shares {
                try Output.line(String(format: "  tenant %d, %d workers: %.0f ops/s, p50 %.1f us, p99 %.1f us", s.tenant, s.workers, s.opsPerSecond, s.p50Microseconds, s.p99Microseconds))
            }
        }
        for (name, s) in [("cold", r.coldSwap), ("warm", r.warmSwap)] {
            try Output.line(String(format: "%@ handler swap: register %.1f ms (compile %.1f ms); longest gap in a running stream %.1f ms (its p50 %.1f us); lost or repeated: %d",
                                   name, s.registerMilliseconds, s.compileMilliseconds, s.longestGapMilliseconds, s.streamP50Microseconds, s.lostOrRepeated))
        }
    }
}
