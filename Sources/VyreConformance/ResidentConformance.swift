import Foundation
import Synchronization
public import VyreGL
import VyreProtocol
import VyreRuntime
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
        let producers = 8, perProducer = 5000, first = 1000
        let errors = Mutex<[String]>([])
        let group = DispatchGroup()
        for p in 0..<producers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for start in stride(from: 0, to: perProducer, by: 100) {
                    do throws(ResidentError) {
                        var tickets: [ResidentTicket] = []
                        for i in start..<(start + 100) {
                            let item = WorkItem(.atomicAdd, args: [1, UInt32(first + p * perProducer + i)])
                            while true {
                                do throws(ResidentError) { tickets.append(try k.trySubmit(item)); break } catch {
                                    guard case .ringFull = error else { throw error }
                                    sched_yield()
                                }
                            }
                        }
                        for t in tickets where try t.wait().status != .done { errors.withLock { $0.append("an ATOMIC_ADD did not end DONE") } }
                    } catch {
                        errors.withLock { $0.append("\(error)") }
                        return
                    }
                }
            }
        }
        group.wait()
        if let e = errors.withLock({ $0.first }) { throw Failed(description: e) }
        let total = producers * perProducer
        let wrong = (0..<total).filter { k.controlWord(first + $0) != 1 }
        try expect(wrong.isEmpty, "\(wrong.count) of \(total) words are not exactly 1 (first at \(wrong.first.map { $0 + first } ?? 0): \(wrong.first.map { k.controlWord($0 + first) } ?? 0))")
        try expect(k.controlWord(C.doneCount) == UInt32(total), "DONE_COUNT \(k.controlWord(C.doneCount)) for \(total) ops")
        let t = k.telemetry
        try expect(t.dispatches >= 10, "only \(t.dispatches) dispatches; the check needs at least 10")
    }

    /// Waits until `condition` holds (bounded, so a broken driver cannot hang selftest).
    private static func eventually(_ what: String, _ condition: () -> Bool) throws {
        for _ in 0..<20_000 where !condition() { usleep(1000) }
        try expect(condition(), "never: \(what)")
    }

    private static func tenantLive(_ k: ResidentMegakernel) throws {
        k.setTenant(2, enabled: false)
        let held = try k.trySubmit(WorkItem(.storeU32, args: [7, 500], tenant: 2))
        _ = try k.submitAndWait(WorkItem(.storeU32, args: [9, 501]))
        try eventually("the disabled tenant's op parked") { k.telemetry.parked == 1 }
        try expect(k.controlWord(500) == 0, "a disabled tenant's op ran")
        k.setTenant(2, enabled: true)
        try expect(try held.wait().status == .done && k.controlWord(500) == 7, "the op did not run once its tenant was enabled")
    }

    private static func priorities(_ k: ResidentMegakernel) throws {
        k.setTenant(1, enabled: false)
        func op(_ i: UInt32, _ priority: Priority) throws -> WorkItem {
            try .packed([PackedOp(.atomicAdd, [1, 700, 0]), PackedOp(.loadU32, [700, i, 0])], tenant: 1, priority: priority)
        }
        let idle = try (0..<3).map { i in try k.trySubmit(try op(UInt32(i), .idle)) }
        let critical = try (0..<9).map { i in try k.trySubmit(try op(UInt32(10 + i), .critical)) }
        try eventually("12 ops parked") { k.telemetry.parked == 12 }
        k.setTenant(1, enabled: true)
        for t in idle + critical { try expect(try t.wait().status == .done, "an op did not end DONE") }
        let ran = { (i: Int) in k.controlWord(C.observableBase + i) }
        let criticalOrder = (10..<19).map(ran), idleOrder = (0..<3).map(ran)
        try expect(criticalOrder == criticalOrder.sorted(), "CRITICAL ran out of order: \(criticalOrder)")
        try expect(idleOrder.min()! < criticalOrder.max()!, "the starvation guard never served IDLE: idle \(idleOrder), critical \(criticalOrder)")
        try expect(criticalOrder.filter { $0 < idleOrder.min()! }.count >= 2, "CRITICAL did not go first: idle \(idleOrder), critical \(criticalOrder)")
    }

    private static func cancel(_ k: ResidentMegakernel) throws {
        k.setTenant(3, enabled: false)
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
