import Foundation
import Synchronization
public import VyreGL
import VyreProtocol
public import VyreRuntime
public import VyreTesting

/// The resident megakernel's checks, small enough for any driver (what `selftest` runs as its
/// "resident" suite): every op exactly once across forced re-dispatches and wrap-arounds under
/// concurrent producers, the built-ins and their fault reasons, a tenant disabled and enabled live,
/// priorities with the starvation guard, and cancel. No check depends on timing.
public enum ResidentConformance {
    typealias C = RingProtocol.Control

    /// Every check on `context`, in order.
    public static func checks(on context: GLContext) -> [ConformanceOutcome] {
        [
            run("resident built-ins", context, exactlyOnce: false) { k in try builtins(k) },
            run("resident exactly once: 8 producers x 5000 ops, 64 slots, 4 rounds per dispatch", context) { k in try exactlyOnce(k) },
            run("resident tenant disabled and enabled live", context) { k in try tenantLive(k) },
            run("resident priorities and the starvation guard", context, lanes: 1, workgroups: 1, starvation: 3) { k in try priorities(k) },
            run("resident cancel", context) { k in try cancel(k) },
        ]
    }

    private struct Failed: Error, CustomStringConvertible { let description: String }

    private static func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw Failed(description: what()) }
    }

    private static func run(_ name: String, _ context: GLContext, exactlyOnce: Bool = true, lanes: UInt32 = 16, workgroups: UInt32 = 2,
                            starvation: UInt32 = 16, _ body: (ResidentMegakernel) throws -> Void) -> ConformanceOutcome {
        let start = ContinuousClock.now
        do {
            let k = try ResidentMegakernel(context: context, configuration: MegakernelConfiguration(workgroupSize: lanes),
                                           options: ResidentOptions(slots: 64, controlWords: 50_000, tenants: 4, workgroups: workgroups, rounds: 4,
                                                                    starvationGuard: starvation, linger: .microseconds(200)))
            try body(k)
            k.shutdownAndWait(.drain)
            return ConformanceOutcome(name: name, passed: true, detail: nil, gpuTime: ContinuousClock.now - start)
        } catch {
            return ConformanceOutcome(name: name, passed: false, detail: "\(error)", gpuTime: ContinuousClock.now - start)
        }
    }

    private static func builtins(_ k: ResidentMegakernel) throws {
        let store = try k.submitAndWait(WorkItem(.storeU32, args: [41, 300]))
        try expect(store.status == .done && k.controlWord(300) == 41, "STORE_U32 ended \(store.status.name), word \(k.controlWord(300))")
        _ = try k.submitAndWait(WorkItem(.atomicAdd, args: [1, 300]))
        let load = try k.submitAndWait(WorkItem(.loadU32, args: [300, 5]))
        try expect(load.observed == [5: 42], "LOAD_U32 observed \(load.observed), expected [5: 42]")
        let bad = try k.submitAndWait(WorkItem(.storeU32, args: [1, 1 << 30]))
        try expect(bad.status == .fault && bad.faultReason == FaultReason.controlIndexOutOfRange.rawValue, "an out-of-range store ended \(bad.status.name) (\(bad.faultReason ?? 0))")
        let outside = try k.submitAndWait(WorkItem(.nop, tenant: 125))
        try expect(outside.status == .fault && outside.faultReason == FaultReason.tenantOutOfRange.rawValue, "tenant 125 ended \(outside.status.name)")
    }

    private static func exactlyOnce(_ k: ResidentMegakernel) throws {
        let r = try exactlyOnce(k, producers: 8, perProducer: 5000, firstWord: 1000, batch: 100)
        try expect(r.wordsNotOne == 0, "\(r.wordsNotOne) of \(r.ops) words are not exactly 1")
        try expect(r.doneCount == UInt32(r.ops), "DONE_COUNT \(r.doneCount) for \(r.ops) ops")
        try expect(r.dispatches >= 10, "only \(r.dispatches) dispatches; the check needs at least 10")
    }

    /// What ``exactlyOnce(_:producers:perProducer:firstWord:batch:)`` found.
    public struct ExactlyOnceResult: Sendable, Hashable, Encodable {
        /// ATOMIC_ADDs published.
        public var ops: Int
        /// Dispatches of the kernel so far.
        public var dispatches: Int
        /// Target words that did not end at exactly 1.
        public var wordsNotOne: Int
        /// `control[DONE_COUNT]` afterwards.
        public var doneCount: UInt32
        /// Every word 1 and DONE_COUNT equal to the ops.
        public var passed: Bool

        init(ops: Int, dispatches: Int, wordsNotOne: Int, doneCount: UInt32) {
            self.ops = ops
            self.dispatches = dispatches
            self.wordsNotOne = wordsNotOne
            self.doneCount = doneCount
            self.passed = wordsNotOne == 0 && doneCount == UInt32(truncatingIfNeeded: ops)
        }
    }

    /// `producers` threads each publish `perProducer` ATOMIC_ADDs of 1, each to its own control word
    /// from `firstWord`, `batch` at a time (waiting for each batch), on a fresh kernel `k`; then
    /// counts the words that did not end at 1. Throws the first error a producer met.
    /// `watch`, when given, is called about once a second with the kernel's telemetry while the
    /// producers run (for progress).
    public static func exactlyOnce(_ k: ResidentMegakernel, producers: Int, perProducer: Int, firstWord: Int, batch: Int,
                                   watch: ((ResidentTelemetry) -> Void)? = nil) throws -> ExactlyOnceResult {
        let errors = Mutex<[ResidentError]>([])
        let group = DispatchGroup()
        for p in 0..<producers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do throws(ResidentError) {
                    for start in stride(from: 0, to: perProducer, by: batch) {
                        var tickets: [ResidentTicket] = []
                        for i in start..<min(perProducer, start + batch) {
                            tickets.append(try k.trySubmitWaitingForRoom(WorkItem(.atomicAdd, args: [1, UInt32(firstWord + p * perProducer + i)])))
                        }
                        for t in tickets { _ = try t.wait() }
                    }
                } catch {
                    errors.withLock { $0.append(error) }
                }
            }
        }
        // A kernel that stops completing ops must not hang the check: after 20 s without one
        // ending, it is cancelled (the producers' waits fail) and the check fails with what the
        // ring looked like.
        var lastCompleted = -1, still = 0
        var stalled: ResidentTelemetry? = nil
        while group.wait(timeout: .now() + .seconds(1)) == .timedOut {
            let t = k.telemetry
            watch?(t)
            if t.completed == lastCompleted { still += 1 } else { (lastCompleted, still) = (t.completed, 0) }
            if still >= 20, stalled == nil {
                stalled = t
                k.shutdownAndWait(.cancel)
            }
        }
        if let t = stalled {
            let ring = t.occupancy.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            throw Failed(description: "no op completed for 20 s: \(t.completed) of \(producers * perProducer) done, \(t.inFlight) in flight, "
                + "\(t.dispatches) dispatches, ring \(ring); the kernel was cancelled")
        }
        if let e = errors.withLock({ $0.first }) { throw e }
        let total = producers * perProducer
        return ExactlyOnceResult(ops: total, dispatches: k.telemetry.dispatches,
                                 wordsNotOne: (0..<total).filter { k.controlWord(firstWord + $0) != 1 }.count,
                                 doneCount: k.controlWord(C.doneCount))
    }

    /// Waits until `condition` holds (bounded, so a broken driver cannot hang selftest).
    private static func eventually(_ what: String, _ condition: () -> Bool) throws {
        for _ in 0..<20_000 where !condition() { usleep(1000) }
        try expect(condition(), "never: \(what)")
    }

    private static func tenantLive(_ k: ResidentMegakernel) throws {
        try k.setTenant(2, enabled: false)
        let held = try k.trySubmit(WorkItem(.storeU32, args: [7, 500], tenant: 2))
        _ = try k.submitAndWait(WorkItem(.storeU32, args: [9, 501]))
        try eventually("the disabled tenant's op parked") { k.telemetry.parked == 1 }
        try expect(k.controlWord(500) == 0, "a disabled tenant's op ran")
        try k.setTenant(2, enabled: true)
        try expect(try held.wait().status == .done && k.controlWord(500) == 7, "the op did not run once its tenant was enabled")
    }

    private static func priorities(_ k: ResidentMegakernel) throws {
        try k.setTenant(1, enabled: false)
        func op(_ i: UInt32, _ priority: Priority) throws -> WorkItem {
            try .packed([PackedOp(.atomicAdd, [1, 700, 0]), PackedOp(.loadU32, [700, i, 0])], tenant: 1, priority: priority)
        }
        let idle = try (0..<3).map { i in try k.trySubmit(try op(UInt32(i), .idle)) }
        let critical = try (0..<9).map { i in try k.trySubmit(try op(UInt32(10 + i), .critical)) }
        try eventually("12 ops parked") { k.telemetry.parked == 12 }
        try k.setTenant(1, enabled: true)
        for t in idle + critical { try expect(try t.wait().status == .done, "an op did not end DONE") }
        let ran = { (i: Int) in k.controlWord(C.observableBase + i) }
        let criticalOrder = (10..<19).map(ran), idleOrder = (0..<3).map(ran)
        try expect(criticalOrder == criticalOrder.sorted(), "CRITICAL ran out of order: \(criticalOrder)")
        try expect(idleOrder.min()! < criticalOrder.max()!, "the starvation guard never served IDLE: idle \(idleOrder), critical \(criticalOrder)")
        try expect(criticalOrder.filter { $0 < idleOrder.min()! }.count >= 2, "CRITICAL did not go first: idle \(idleOrder), critical \(criticalOrder)")
    }

    private static func cancel(_ k: ResidentMegakernel) throws {
        try k.setTenant(3, enabled: false)
        let held = try k.trySubmit(WorkItem(.nop, tenant: 3))
        _ = try k.submitAndWait(WorkItem(.nop))
        k.shutdownAndWait(.cancel)
        do {
            _ = try held.wait()
            throw Failed(description: "a held op completed after cancel")
        } catch let e as ResidentError {
            guard case .notRun(.cancelled) = e else { throw Failed(description: "a held op ended with \(e), not 'not run: cancelled'") }
        }
    }
}
