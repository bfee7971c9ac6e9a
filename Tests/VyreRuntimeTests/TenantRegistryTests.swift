import Foundation
import MetricsTestKit
import Synchronization
import Testing
@_spi(Testing) import VyreGL
import VyreConformance
import VyreIR
import VyreProtocol
@_spi(Testing) import VyreRuntime

/// Tenants registered and unregistered on a running resident kernel: private opcode ranges with
/// handlers swapped in between two dispatches (no slot lost or run twice), quotas that wait or
/// fail and keep their ring space, unregistering that drains or cancels, and typed refusals.
/// Ops are held with the driver's test seam where a test needs them pending: no assertion
/// depends on timing.
@Suite(.serialized)
struct TenantRegistryTests {
    static func kernel(slots: Int = 64, tenants: Int = 8, metrics: TestMetrics? = nil, context: GLContext? = nil) throws -> ResidentMegakernel {
        try ResidentMegakernel(context: context ?? SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 16),
                               options: ResidentOptions(slots: slots, controlWords: 1024, tenants: tenants, workgroups: 1, rounds: 8,
                                                        linger: .microseconds(200), progressDeadline: .seconds(600)),
                               metricsFactory: metrics)
    }

    /// control[arg1] = arg0 * factor.
    static func scale(_ factor: UInt32) -> TenantProgram {
        TenantProgram(handlers: [OpcodeHandler(opcode: 0, name: "SCALE\(factor)") {
            Node.store("control", at: "arg1", .binary(.mul, "arg0", .u32(factor)))
        }])
    }

    /// Waits (with no bound but the test's) until `condition` holds.
    static func eventually(_ condition: () -> Bool) async {
        while !condition() { try? await Task.sleep(for: .milliseconds(2)) }
    }

    @Test(.timeLimit(.minutes(3))) func handlersAreSwappedInWhileOpsRunAndNoneIsLostOrRepeated() async throws {
        let k = try Self.kernel()
        let compiledFirst = k.glslSource
        // A stream of increments runs through both swaps: each must run exactly once.
        let increments = 3000
        let stream = Task {
            for chunk in stride(from: 0, to: increments, by: 100) {
                _ = try await k.submit(Array(repeating: WorkItem(.atomicAdd, args: [1, 300]), count: min(100, increments - chunk)))
            }
        }
        let a = try await k.register(TenantOptions(quota: 8, program: Self.scale(3)))
        let b = try await k.register(TenantOptions(quota: 8, program: Self.scale(5)))
        #expect(a.id == 1 && b.id == 2)
        #expect(a.opcodes == 0x4010_0000..<0x4020_0000 && b.opcode(0) == 0x4020_0000)
        #expect(try await a.submit(WorkItem(opcode: a.opcode(0), args: [14, 310])).status == .done)
        #expect(try await b.submit(WorkItem(opcode: b.opcode(0), args: [14, 311])).status == .done)
        #expect(k.controlWord(310) == 42 && k.controlWord(311) == 70)
        #expect(k.glslSource != compiledFirst && k.glslSource.contains("SCALE5"))
        try await k.unregister(a, mode: .drain)
        try await stream.value
        #expect(k.controlWord(300) == UInt32(increments))
        // A's handler left the kernel: its opcode is unknown again; B's stays.
        let gone = try await k.submit(WorkItem(opcode: 0x4010_0000, args: [1, 312]))
        #expect(gone.status == .fault && gone.faultReason == FaultReason.unknownOpcode.rawValue)
        #expect(try await b.submit(WorkItem(opcode: b.opcode(0), args: [2, 313])).status == .done && k.controlWord(313) == 10)
        #expect(k.tenants.map(\.id) == [2])
        // The id and its range are free again.
        let c = try await k.register(TenantOptions(quota: 4, program: Self.scale(7)))
        #expect(c.id == 1)
        #expect(try await c.submit(WorkItem(opcode: c.opcode(0), args: [1, 314])).status == .done && k.controlWord(314) == 7)
        await k.shutdown(.drain)
    }

    @Test(.timeLimit(.minutes(2))) func aQuotaFailsOrWaitsAndKeepsItsRingSpace() async throws {
        let k = try Self.kernel(slots: 8)
        let strict = try await k.register(TenantOptions(quota: 2, overQuota: .fail))
        let patient = try await k.register(TenantOptions(quota: 4, overQuota: .wait))
        k.haltDispatches(true)
        let held = [try strict.trySubmit(WorkItem(.atomicAdd, args: [1, 300])), try strict.trySubmit(WorkItem(.atomicAdd, args: [1, 300]))]
        #expect(throws: ResidentError.self) { try strict.trySubmit(WorkItem(.atomicAdd, args: [1, 300])) }
        do { _ = try await strict.submit(WorkItem(.nop)) ; Issue.record("over quota under .fail must throw") } catch {
            guard case .overQuota(let tenant, let quota) = error else { Issue.record("\(error)"); return }
            #expect(tenant == strict.id && quota == 2 && error.diagnostics.first?.fix.isEmpty == false)
        }
        // Ops of no tenant fill only the 2 slots no quota keeps.
        let (plain, stoppedBy) = k.trySubmit(contentsOf: Array(repeating: WorkItem(.atomicAdd, args: [1, 301]), count: 5))
        #expect(plain.count == 2)
        guard case .ringFull(let room)? = stoppedBy else { Issue.record("\(String(describing: stoppedBy))"); return }
        #expect(room == 2)
        // The patient tenant's 6 submits: 4 go in at once, 2 wait for its own ops to end.
        let patientOps = Task {
            try await withThrowingTaskGroup(of: Completion.self) { group in
                for _ in 0..<6 { group.addTask { try await patient.submit(WorkItem(.atomicAdd, args: [1, 302])) } }
                return try await group.reduce(into: 0) { n, c in n += c.status == .done ? 1 : 0 }
            }
        }
        await Self.eventually { patient.telemetry.submitted == 4 }
        #expect(patient.telemetry.inFlight == 4 && k.telemetry.inFlight == 8)
        k.haltDispatches(false)
        #expect(try await patientOps.value == 6)
        for t in held + plain { #expect(try await t.completion().status == .done) }
        #expect(k.controlWord(300) == 2 && k.controlWord(301) == 2 && k.controlWord(302) == 6)
        #expect(patient.telemetry == TenantTelemetry(submitted: 6, completed: 6, faulted: 0, notRun: 0, inFlight: 0))
        await k.shutdown(.drain)
    }

    @Test(.timeLimit(.minutes(2))) func unregisteringCancelsUnclaimedOpsAndRefusesNewOnes() async throws {
        let k = try Self.kernel()
        let t = try await k.register(TenantOptions(quota: 16, program: Self.scale(3)))
        let other = try await k.register(TenantOptions(quota: 16))
        k.haltDispatches(true)
        let pending = try (0..<5).map { _ in try t.trySubmit(WorkItem(opcode: t.opcode(0), args: [1, 320])) }
        let stays = try other.trySubmit(WorkItem(.atomicAdd, args: [1, 321]))
        // Served between two dispatches even while they run nothing.
        try await k.unregister(t, mode: .cancel)
        do { _ = try t.trySubmit(WorkItem(.nop)); Issue.record("an unregistered tenant took an op") } catch {
            guard case .tenantUnregistered(t.id) = error else { Issue.record("\(error)"); return }
        }
        for ticket in pending {
            do { _ = try await ticket.completion(); Issue.record("a cancelled op ran") } catch {
                guard case .notRun(.tenantUnregistered) = error else { Issue.record("\(error)"); continue }
            }
        }
        #expect(t.telemetry.notRun == 5 && t.telemetry.inFlight == 0)
        k.haltDispatches(false)
        // Another tenant's op is untouched, and the control word the cancelled ops aimed at is too.
        #expect(try await stays.completion().status == .done && k.controlWord(321) == 1 && k.controlWord(320) == 0)
        #expect(throws: ResidentError.self) { try t.setEnabled(true) }
        do { try await k.unregister(t, mode: .drain); Issue.record("unregistered twice") } catch {
            guard case .notRegistered = error else { Issue.record("\(error)"); return }
        }
        await k.shutdown(.drain)
    }

    /// Producers still submitting while the tenant is cancelled: each op ends (ran, or not run
    /// as unregistered), every producer stops with `.tenantUnregistered`, and unregistering returns.
    @Test(.timeLimit(.minutes(2))) func unregisteringWhileProducersSubmitLeavesNothingBehind() async throws {
        let k = try Self.kernel()
        for mode in [UnregisterMode.cancel, .drain] {
            let t = try await k.register(TenantOptions(quota: 8))
            let producers = (0..<4).map { _ in
                Task { () -> Int in
                    var ran = 0
                    while true {
                        do throws(ResidentError) { if try await t.submit(WorkItem(.atomicAdd, args: [1, 360])).status == .done { ran += 1 } } catch {
                            if case .tenantUnregistered = error { return ran }
                            if case .notRun(.tenantUnregistered) = error { continue }
                            Issue.record("\(error)")
                            return ran
                        }
                    }
                }
            }
            await Self.eventually { t.telemetry.completed >= 50 }
            try await k.unregister(t, mode: mode)
            var ran = 0
            for p in producers { ran += await p.value }
            let counts = t.telemetry
            #expect(counts.inFlight == 0 && counts.completed == ran && counts.submitted == counts.completed + counts.notRun, "\(mode): \(counts)")
            if mode == .drain { #expect(counts.notRun == 0) }
        }
        await k.shutdown(.drain)
    }

    @Test(.timeLimit(.minutes(2))) func aDisabledTenantIsHeldAndAnEnabledOneRuns() async throws {
        let k = try Self.kernel()
        let t = try await k.register(TenantOptions(quota: 4, enabled: false))
        let ticket = try t.trySubmit(WorkItem(.atomicAdd, args: [1, 330]))
        await Self.eventually { k.telemetry.parked == 1 }
        #expect(!ticket.isFinished && k.controlWord(330) == 0)
        try t.setEnabled(true)
        #expect(try await ticket.completion().status == .done && k.controlWord(330) == 1)
        // Draining a disabled tenant cannot wait for ops that never run: they fail as unregistered.
        try t.setEnabled(false)
        let held = try t.trySubmit(WorkItem(.atomicAdd, args: [1, 331]))
        try await k.unregister(t, mode: .drain)
        do { _ = try await held.completion(); Issue.record("a held op ran") } catch {
            guard case .notRun(.tenantUnregistered) = error else { Issue.record("\(error)"); return }
        }
        await k.shutdown(.drain)
    }

    @Test func registrationsThatCannotBeAreRefusedTypedAndChangeNothing() async throws {
        let k = try Self.kernel(slots: 16, tenants: 3)
        let before = k.glslSource
        func refused(_ options: TenantOptions, _ check: (TenantError) -> Bool) async {
            do { _ = try await k.register(options); Issue.record("registered: \(options)") } catch {
                #expect(check(error), "\(error)")
                #expect(error.diagnostics.allSatisfy { $0.description.contains("Fix:") })
            }
        }
        await refused(TenantOptions(quota: 0)) { if case .invalidQuota(0) = $0 { true } else { false } }
        await refused(TenantOptions(quota: 17)) { if case .quotaUnavailable(17, 16, 16) = $0 { true } else { false } }
        await refused(TenantOptions(quota: 1, program: TenantProgram(handlers: [OpcodeHandler(opcode: 1 << 20, name: "FAR", body: [])]))) {
            if case .opcodeOutsideRange(1 << 20, "FAR") = $0 { true } else { false }
        }
        // A buffer at a protocol binding: the kernel with it does not build.
        let clash = TenantProgram(handlers: [], buffers: [BufferDecl("mine", binding: MegakernelBindings.ring, access: .readWrite, type: .u32, count: 4)])
        await refused(TenantOptions(quota: 1, program: clash)) { if case .program = $0 { true } else { false } }
        #expect(k.tenants.isEmpty && k.glslSource == before)
        let a = try await k.register(TenantOptions(quota: 4, program: Self.scale(3)))
        let b = try await k.register(TenantOptions(quota: 4))
        await refused(TenantOptions(quota: 1)) { if case .noFreeTenant(2) = $0 { true } else { false } }
        #expect(throws: ResidentError.self) { try b.trySubmit(WorkItem(opcode: a.opcode(0), args: [1, 300])) }
        await k.shutdown(.drain)
        await refused(TenantOptions(quota: 1)) { if case .kernel(.shutDown) = $0 { true } else { false } }
        // A table of tenant 0 alone holds no tenant to register.
        let bare = try Self.kernel(tenants: 1)
        do { _ = try await bare.register(TenantOptions(quota: 1)); Issue.record("registered on a table of 1") } catch {
            guard case .noFreeTenant(0) = error else { Issue.record("\(error)"); return }
            #expect(error.diagnostics.first?.fix.contains("ResidentOptions.tenants") == true)
        }
        await bare.shutdown(.drain)
    }

    @Test(.timeLimit(.minutes(2))) func aTenantsBuffersStartGivenAndItsCountsAreMetrics() async throws {
        let metrics = TestMetrics()
        let k = try Self.kernel(metrics: metrics)
        // Adds arg0 into its own buffer's word arg1; the buffer starts at [100, 200].
        let program = TenantProgram(handlers: [OpcodeHandler(opcode: 5, name: "BUMP") {
            Node.store("tally", at: "arg1", .binary(.add, .load("tally", at: "arg1"), "arg0"))
            Node.store("control", at: 340, .load("tally", at: "arg1"))
        }], buffers: [BufferDecl("tally", binding: MegakernelBindings.firstExtra, access: .readWrite, type: .u32, count: 2)],
            bufferWords: ["tally": [100, 200]])
        let t = try await k.register(TenantOptions(quota: 4, program: program))
        #expect(try await t.submit(WorkItem(opcode: t.opcode(5), args: [7, 1])).status == .done)
        #expect(k.controlWord(340) == 207)
        let faulty = try await t.submit(WorkItem(.atomicAdd, args: [1, 1 << 30]))
        #expect(faulty.status == .fault)
        let dims = [("tenant", "\(t.id)")]
        #expect(metrics.counterTotal(label: "vyre_gl_resident_tenant_ops_submitted_total", dimensions: dims) == 2)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_tenant_ops_completed_total", dimensions: dims + [("status", "done")]) == 1)
        #expect(metrics.counterTotal(label: "vyre_gl_resident_tenant_ops_completed_total", dimensions: dims + [("status", "fault")]) == 1)
        // The per-opcode counts are sampled from the kernel's own (every 250 ms, and as it goes idle).
        #expect(try await t.submit(WorkItem(.atomicAdd, args: [1, 341])).status == .done)
        await Self.eventually { metrics.counterTotal(label: "vyre_gl_resident_opcode_ops_total", dimensions: [("opcode", "ATOMIC_ADD")]) >= 1 }
        await k.shutdown(.drain)
    }

    /// A kernel lost after a registration is rebuilt with the tenant's handlers.
    @Test(.timeLimit(.minutes(2))) func aRebuiltKernelKeepsTheRegisteredHandlers() async throws {
        let context = try GLContext(programCache: nil)
        let k = try Self.kernel(context: context)
        let t = try await k.register(TenantOptions(quota: 4, program: Self.scale(3)))
        #expect(try await t.submit(WorkItem(opcode: t.opcode(0), args: [2, 350])).status == .done)
        context.simulateReset()
        // An op may still end on the old kernel before the loss is found, and ops pending when it is
        // fail with it; once the kernel is rebuilt on a new context, the handler runs there.
        var rebuiltRan = false
        while !rebuiltRan {
            do throws(ResidentError) {
                let c = try await t.submit(WorkItem(opcode: t.opcode(0), args: [3, 351]))
                #expect(c.status == .done)
                rebuiltRan = k.context !== context && k.controlWord(351) == 9
            } catch {
                guard case .deviceLost = error else { throw error }
            }
        }
        #expect(k.glslSource.contains("SCALE3"))
        await k.shutdown(.drain)
    }
}
