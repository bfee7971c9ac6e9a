import Logging
import ServiceLifecycle
import Testing
import VyreConformance
import VyreGL
import VyreProtocol
import VyreRuntime

/// The resident megakernel under swift-service-lifecycle: a graceful shutdown drains what was
/// accepted, and cancelling the group's task cancels the kernel. No assertion depends on timing:
/// the drain deadlines are far away.
@Suite(.serialized)
struct ResidentServiceTests {
    static func kernel() throws -> ResidentMegakernel {
        try ResidentMegakernel(context: SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 16),
                               options: ResidentOptions(slots: 256, controlWords: 4096, tenants: 4, workgroups: 2, rounds: 8, linger: .microseconds(200)))
    }

    static func group(_ service: ResidentMegakernelService) -> ServiceGroup {
        ServiceGroup(configuration: ServiceGroupConfiguration(services: [service], gracefulShutdownSignals: [], logger: Logger(label: "test")))
    }

    @Test(.timeLimit(.minutes(2))) func aGracefulShutdownDrainsEveryAcceptedOp() async throws {
        let k = try Self.kernel()
        let group = Self.group(ResidentMegakernelService(k, drainDeadline: .seconds(600)))
        let running = Task { try await group.run() }
        // Accepted but not awaited when the shutdown begins.
        let (batch, stoppedBy) = k.trySubmitBatch(Array(repeating: WorkItem(.atomicAdd, args: [1, 300]), count: 200))
        #expect(stoppedBy == nil)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try await batch.completions().allSatisfy { $0.status == .done })
        #expect(k.controlWord(300) == 200)
        do { _ = try await k.submit(WorkItem(.nop)); Issue.record("a submit after the shutdown was accepted") } catch {
            guard case .shutDown = error else { Issue.record("\(error)"); return }
        }
    }

    /// A drain does not wait for ops a disabled tenant holds: they fail with a typed error
    /// that says why, and the service ends well before its deadline.
    @Test(.timeLimit(.minutes(2))) func aDrainFailsTheOpsADisabledTenantHolds() async throws {
        let k = try Self.kernel()
        try k.setTenant(1, enabled: false)
        let group = Self.group(ResidentMegakernelService(k, drainDeadline: .seconds(600)))
        let running = Task { try await group.run() }
        let ran = try await k.submit(WorkItem(.atomicAdd, args: [1, 310]))
        #expect(ran.status == .done)
        let held = try k.trySubmit(WorkItem(.atomicAdd, args: [1, 311], tenant: 1))
        await group.triggerGracefulShutdown()
        try await running.value
        do { _ = try await held.completion(); Issue.record("the held op completed") } catch {
            guard case .notRun(.tenantDisabled) = error else { Issue.record("\(error)"); return }
        }
        #expect(k.controlWord(310) == 1 && k.controlWord(311) == 0)
    }

    @Test(.timeLimit(.minutes(2))) func cancellingTheGroupCancelsTheKernel() async throws {
        let k = try Self.kernel()
        try k.setTenant(1, enabled: false)
        let group = Self.group(ResidentMegakernelService(k, drainDeadline: .seconds(600)))
        let running = Task { try await group.run() }
        let held = try k.trySubmit(WorkItem(.atomicAdd, args: [1, 321], tenant: 1))
        #expect(try await k.submit(WorkItem(.nop)).status == .done)
        running.cancel()
        _ = try? await running.value
        do { _ = try await held.completion(); Issue.record("the held op completed") } catch {
            guard case .notRun(.cancelled) = error else { Issue.record("\(error)"); return }
        }
    }
}
