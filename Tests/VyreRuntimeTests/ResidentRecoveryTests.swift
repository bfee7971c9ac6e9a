import Foundation
import MetricsTestKit
import Synchronization
import Testing
@_spi(Testing) import VyreGL
import VyreProtocol
@_spi(Testing) import VyreRuntime

/// A lost resident kernel: a reset (simulated through the context's test seam) and a kernel that
/// makes no progress (the driver's test seam stops its dispatches) fail every pending op with a
/// typed error that says whether it may have run, and the kernel is rebuilt on a new context where
/// new submits run. Each test owns its contexts: a context that was reset stays lost.
/// No assertion depends on timing: the watchdog's deadline only bounds how soon it fires.
@Suite(.serialized)
struct ResidentRecoveryTests {
    static func kernel(on context: GLContext, progressDeadline: Duration? = .seconds(600), recoveryAttempts: Int = 3, metrics: TestMetrics? = nil,
                       replacement: (@Sendable (GLContext) throws(VyreGLError) -> GLContext)? = nil) throws -> ResidentMegakernel {
        try ResidentMegakernel(context: context, configuration: MegakernelConfiguration(workgroupSize: 16),
                               options: ResidentOptions(slots: 64, controlWords: 1024, tenants: 4, workgroups: 1, rounds: 8, linger: .microseconds(200),
                                                        progressDeadline: progressDeadline, recoveryAttempts: recoveryAttempts),
                               metricsFactory: metrics, replacementContext: replacement)
    }

    /// The results of `batch`, each the loss it failed with (nil for one that did not fail so).
    static func losses(_ batch: ResidentBatchTicket) async -> [(DeviceLoss.Cause, Bool)?] {
        await batch.results().map { result in
            guard case .failure(.deviceLost(let loss, let mayHaveRun)) = result else { return nil }
            return (loss.cause, mayHaveRun)
        }
    }

    @Test(.timeLimit(.minutes(2))) func aResetFailsThePendingOpsAndTheKernelIsRebuiltOnANewContext() async throws {
        let context = try GLContext(programCache: nil)
        let metrics = TestMetrics()
        let k = try Self.kernel(on: context, metrics: metrics)
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 300])).status == .done)
        // Held on the host, so they are certainly pending when the reset is seen.
        k.haltDispatches(true)
        let (pending, stoppedBy) = k.trySubmitBatch(Array(repeating: WorkItem(.atomicAdd, args: [1, 301]), count: 10))
        #expect(stoppedBy == nil)
        context.simulateReset()
        k.haltDispatches(false)
        let losses = await Self.losses(pending)
        #expect(losses.count == 10)
        for loss in losses {
            // After a reset nothing the device wrote is trusted: each op may have run.
            guard case (.reset(let status), true)? = loss else { Issue.record("not a reset loss: \(String(describing: loss))"); continue }
            #expect(status.contains("simulated"))
        }
        // The rebuilt kernel runs new ops, on a new context, from the options' initial words.
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 302])).status == .done)
        #expect(k.context !== context)
        #expect(k.controlWord(302) == 1 && k.controlWord(300) == 0)
        let t = k.telemetry
        #expect(t.recoveries == 1 && t.submitted == 12 && t.completed == 2)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_losses_total", dimensions: [("cause", "reset")]) == 1)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_recoveries_total") == 1)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_ops_not_run_total") == 10)
        await k.shutdown(.drain)
    }

    @Test(.timeLimit(.minutes(2))) func theWatchdogTakesAKernelThatMakesNoProgressForLost() async throws {
        let context = try GLContext(programCache: nil)
        let k = try Self.kernel(on: context, progressDeadline: .milliseconds(200))
        // Ops of a disabled tenant are held, not stuck: the watchdog leaves them be.
        try k.setTenant(1, enabled: false)
        let held = try k.trySubmit(WorkItem(.atomicAdd, args: [1, 310], tenant: 1))
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 311])).status == .done)
        k.haltDispatches(true)
        let (stuck, _) = k.trySubmitBatch(Array(repeating: WorkItem(.atomicAdd, args: [1, 312]), count: 5))
        for loss in await Self.losses(stuck) {
            // The ring can be read (no dispatch ran): the ops still PUBLISHED never started.
            guard case (.stalled(let deadline), false)? = loss else { Issue.record("not a stall that ran nothing: \(String(describing: loss))"); continue }
            #expect(deadline == .milliseconds(200))
        }
        do { _ = try await held.completion(); Issue.record("the held op completed") } catch {
            guard case .deviceLost(_, mayHaveRun: false) = error else { Issue.record("\(error)"); return }
        }
        // The tenant switch outlives the rebuild (waited for by the submit): tenant 1 is still
        // held, tenant 0 runs.
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 314])).status == .done)
        let again = try k.trySubmit(WorkItem(.atomicAdd, args: [1, 313], tenant: 1))
        #expect(try await k.submit(WorkItem(.atomicAdd, args: [1, 315])).status == .done)
        #expect(!again.isFinished)
        try k.setTenant(1, enabled: true)
        #expect(try await again.completion().status == .done)
        #expect(k.context !== context && k.telemetry.recoveries == 1)
        #expect(k.controlWord(313) == 1 && k.controlWord(314) == 1 && k.controlWord(312) == 0)
        await k.shutdown(.drain)
    }

    /// While the new context is made, `trySubmit` is refused as recovering and a waiting submit
    /// waits, then runs on the rebuilt kernel.
    @Test(.timeLimit(.minutes(2))) func submitsWaitForTheRebuild() async throws {
        let gate = DispatchSemaphore(value: 0)
        let asked = Atomic<Int>(0)
        let context = try GLContext(programCache: nil)
        let k = try Self.kernel(on: context) { lost throws(VyreGLError) in
            asked.add(1, ordering: .relaxed)
            gate.wait()
            return try lost.reopened()
        }
        k.haltDispatches(true)
        let first = try k.trySubmit(WorkItem(.nop))
        context.simulateReset()
        k.haltDispatches(false)
        do { _ = try await first.completion(); Issue.record("an op completed on a reset context") } catch {
            guard case .deviceLost(let loss, _) = error, case .reset = loss.cause, loss.number == 1 else { Issue.record("\(error)"); return }
        }
        // The rebuild has begun (the loss is set before the pending ops fail) and waits on the gate.
        do { _ = try k.trySubmit(WorkItem(.nop)); Issue.record("accepted while rebuilding") } catch {
            guard case .recovering = error else { Issue.record("\(error)"); return }
        }
        let waiting = Task { try await k.submit(WorkItem(.atomicAdd, args: [1, 320])) }
        gate.signal()
        #expect(try await waiting.value.status == .done)
        #expect(asked.load(ordering: .relaxed) == 1 && k.controlWord(320) == 1)
        await k.shutdown(.drain)
    }

    /// A shutdown that overtakes a rebuild: the core built on the new context is never started,
    /// and the shutdown ends instead of waiting for its threads. The rebuild is held in its
    /// replacement until the close has begun, so the order is certain.
    @Test(.timeLimit(.minutes(2))) func aShutdownDuringARebuildEnds() async throws {
        let building = DispatchSemaphore(value: 0)
        let holder = Mutex<ResidentMegakernel?>(nil)
        let context = try GLContext(programCache: nil)
        let k = try Self.kernel(on: context) { lost throws(VyreGLError) in
            building.signal()
            while holder.withLock({ $0 })?.isClosing != true { usleep(1000) }
            return try lost.reopened()
        }
        holder.withLock { $0 = k }
        k.haltDispatches(true)
        let first = try k.trySubmit(WorkItem(.nop))
        context.simulateReset()
        k.haltDispatches(false)
        _ = try? await first.completion()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { building.wait(); c.resume() }
        }
        await k.shutdown(.cancel)
        holder.withLock { $0 = nil }
        do { _ = try await k.submit(WorkItem(.nop)); Issue.record("accepted after the shutdown") } catch {
            guard case .shutDown = error else { Issue.record("\(error)"); return }
        }
    }

    @Test(.timeLimit(.minutes(2))) func aRebuildThatKeepsFailingGivesUpWithATypedError() async throws {
        let context = try GLContext(programCache: nil)
        let tries = Atomic<Int>(0)
        let k = try Self.kernel(on: context, recoveryAttempts: 2) { _ throws(VyreGLError) in
            tries.add(1, ordering: .relaxed)
            throw .deviceNotFound(selection: "1", available: [])
        }
        k.haltDispatches(true)
        let first = try k.trySubmit(WorkItem(.nop))
        context.simulateReset()
        k.haltDispatches(false)
        _ = try? await first.completion()
        do { _ = try await k.submit(WorkItem(.nop)); Issue.record("accepted after the rebuild gave up") } catch {
            guard case .unrecoverable(let loss, let rebuild?) = error, case .reset = loss.cause, case .device = rebuild else { Issue.record("\(error)"); return }
            let text = error.diagnostics.map(\.problem).joined()
            #expect(text.contains("could not be rebuilt") && text.contains("not found"))
        }
        #expect(tries.load(ordering: .relaxed) == 2)
        await k.shutdown(.cancel)
    }

    @Test(.timeLimit(.minutes(2))) func withRebuildsOffALossEndsTheKernel() async throws {
        let context = try GLContext(programCache: nil)
        let k = try Self.kernel(on: context, recoveryAttempts: 0)
        k.haltDispatches(true)
        let first = try k.trySubmit(WorkItem(.nop))
        context.simulateReset()
        k.haltDispatches(false)
        _ = try? await first.completion()
        do { _ = try await k.submit(WorkItem(.nop)); Issue.record("accepted after a loss with rebuilds off") } catch {
            guard case .unrecoverable(_, nil) = error else { Issue.record("\(error)"); return }
            #expect(error.diagnostics.allSatisfy { $0.fix.contains("recoveryAttempts") })
        }
        await k.shutdown(.cancel)
    }
}
