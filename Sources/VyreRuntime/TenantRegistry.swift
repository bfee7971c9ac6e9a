public import VyreIR
public import VyreProtocol
import CoreMetrics
import Foundation
import Synchronization

/// A tenant's own opcodes: handlers for its private range and the extra buffers they use.
public struct TenantProgram: Sendable, Hashable {
    /// Handlers, each `opcode` an offset into the tenant's range (`0 ..< 1 << 20`): the handler
    /// runs for ``TenantHandle/opcode(_:)`` of it.
    public var handlers: [OpcodeHandler]
    /// Extra buffers the handlers use, at bindings no other tenant's or the kernel's buffers take.
    public var buffers: [BufferDecl]
    /// Starting words of those buffers by name (left out: zeroed at the declared count).
    public var bufferWords: [String: [UInt32]]

    public init(handlers: [OpcodeHandler] = [], buffers: [BufferDecl] = [], bufferWords: [String: [UInt32]] = [:]) {
        self.handlers = handlers
        self.buffers = buffers
        self.bufferWords = bufferWords
    }
}

/// What a tenant's submit does when the tenant already has its quota of ops in flight.
public enum OverQuotaPolicy: Sendable, Hashable {
    /// `submit` waits until one of the tenant's ops ends (`trySubmit` still throws).
    case wait
    /// Every submit throws ``ResidentError/overQuota(tenant:quota:)``.
    case fail
}

/// How ``ResidentMegakernel/unregister(_:mode:)`` ends a tenant's pending ops.
public enum UnregisterMode: Sendable, Hashable {
    /// Every accepted op of the tenant runs first (ops held by a disabled tenant fail with
    /// ``NotRunReason/tenantUnregistered``).
    case drain
    /// Ops no lane has claimed fail with ``NotRunReason/tenantUnregistered``; claimed ones end first.
    case cancel
}

/// How a tenant is registered.
public struct TenantOptions: Sendable, Hashable {
    /// Most ops of the tenant in flight at once (at least 1). The ring keeps this many slots for
    /// the tenant: registered quotas together are at most the ring's slots, and ops submitted
    /// through no tenant handle fill only the slots no quota keeps.
    public var quota: Int
    public var overQuota: OverQuotaPolicy
    /// The tenant's handlers; nil or empty for a tenant that runs the kernel's opcodes only
    /// (registering it rebuilds nothing).
    public var program: TenantProgram?
    /// Whether the kernel runs the tenant's ops from the start (see ``TenantHandle/setEnabled(_:)``).
    public var enabled: Bool

    public init(quota: Int, overQuota: OverQuotaPolicy = .wait, program: TenantProgram? = nil, enabled: Bool = true) {
        self.quota = quota
        self.overQuota = overQuota
        self.program = program
        self.enabled = enabled
    }
}

/// Why registering or unregistering a tenant failed; nothing about the kernel changed.
public enum TenantError: DiagnosticError, Sendable {
    /// Every tenant id the kernel's tenant table holds is taken (ids 1 to `capacity`).
    case noFreeTenant(capacity: Int)
    /// The quota is below 1.
    case invalidQuota(Int)
    /// The quota does not fit beside the quotas registered already.
    case quotaUnavailable(asked: Int, free: Int, slots: Int)
    /// A handler's opcode is not an offset into the tenant's range.
    case opcodeOutsideRange(offset: UInt32, handler: String)
    /// The kernel with the tenant's handlers does not build (a binding or buffer name taken, a
    /// handler that does not validate, a program past the device's limits).
    indirect case program(MegakernelError)
    /// The kernel cannot take the change now (shut down, lost, recording).
    case kernel(ResidentError)
    /// The handle is not a tenant of this kernel (unregistered already, or another kernel's).
    case notRegistered(UInt32)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .noFreeTenant(0):
            [Diagnostic("the kernel's tenant table holds only tenant 0, the ops of no tenant, so no tenant can be registered",
                        fix: "start the kernel with a larger table (ResidentOptions.tenants: one more than the tenants to register, up to \(TenantHandle.maxTenants))")]
        case .noFreeTenant(let capacity):
            [Diagnostic("every tenant id the kernel's tenant table holds is registered (\(counted(capacity, "tenant")), ids 1 to \(capacity))",
                        fix: "unregister a tenant first, or start the kernel with a larger table (ResidentOptions.tenants, up to \(TenantHandle.maxTenants))")]
        case .invalidQuota(let quota):
            [Diagnostic("a quota of \(quota) ops in flight lets the tenant run nothing", fix: "use a quota of 1 or more")]
        case .quotaUnavailable(let asked, let free, let slots):
            [Diagnostic("a quota of \(asked) slots does not fit: registered quotas keep \(slots - free) of the ring's \(slots), \(free) are free",
                        fix: "ask for at most \(free), unregister a tenant, or start the kernel with more slots (ResidentOptions.slots)")]
        case .opcodeOutsideRange(let offset, let handler):
            [Diagnostic("handler '\(quoteForMessage(handler))' has opcode offset \(offset), past the tenant's range of \(TenantHandle.rangeSize)",
                        fix: "give each handler an offset from 0 to \(TenantHandle.rangeSize - 1); TenantHandle.opcode(_:) turns it into the opcode to submit")]
        case .program(let e):
            e.diagnostics.map { $0.within("the kernel with the tenant's handlers does not build") }
        case .kernel(let e):
            e.diagnostics
        case .notRegistered(let id):
            [Diagnostic("tenant \(id) is not registered on this kernel", fix: "unregister a tenant once, on the kernel that registered it")]
        }
    }
}

/// Counts of one tenant's ops since it was registered.
public struct TenantTelemetry: Sendable, Hashable {
    public var submitted: Int
    public var completed: Int
    public var faulted: Int
    /// Accepted ops that never ran (cancelled, unregistered, the kernel lost or shut down).
    public var notRun: Int
    public var inFlight: Int

    public init(submitted: Int, completed: Int, faulted: Int, notRun: Int, inFlight: Int) {
        self.submitted = submitted
        self.completed = completed
        self.faulted = faulted
        self.notRun = notRun
        self.inFlight = inFlight
    }
}

/// One tenant's quota and counts. Its ops' tickets give the quota back when they end.
final class TenantAccount: Sendable {
    let id: UInt32
    let quota: Int
    let policy: OverQuotaPolicy
    let inFlight = Atomic<Int>(0)
    /// Set when unregistering begins: no op is accepted after it.
    let closed = Atomic<Bool>(false)
    /// Submits between their look at `closed` and the end of their publish (a Dekker pair with
    /// `closed`, both sequentially consistent): unregistering waits them out, so no op of the
    /// tenant is published after it withdrew the tenant's ops.
    let entering = Atomic<Int>(0)

    /// Refuses new ops, and returns once every submit that got past the check has published.
    func close() {
        closed.store(true, ordering: .sequentiallyConsistent)
        while entering.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
        wakeAll()
    }
    private let submitted = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let faulted = Atomic<Int>(0)
    private let notRun = Atomic<Int>(0)
    /// Who waits for the tenant's ops to end: tasks over quota, threads over quota or draining.
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let threadWaiters = Atomic<Int>(0)
    private let released = DispatchSemaphore(value: 0)
    private let metrics: TenantMetrics
    private let reservation: RingReservation

    init(id: UInt32, quota: Int, policy: OverQuotaPolicy, reservation: RingReservation, metrics: TenantMetrics) {
        self.reservation = reservation
        self.id = id
        self.quota = quota
        self.policy = policy
        self.metrics = metrics
    }

    /// Takes one of the quota's slots; false when all are in flight.
    func acquire() -> Bool {
        var current = inFlight.load(ordering: .acquiring)
        while current < quota {
            let (won, seen) = inFlight.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if won {
                reservation.tenantInFlight.add(1, ordering: .acquiringAndReleasing)
                metrics.inFlight.record(current + 1)
                return true
            }
            current = seen
        }
        return false
    }

    /// Gives back a slot taken for an op that was not published.
    func unpublished() {
        give()
    }

    /// An op of the tenant ended (from its ticket, once).
    func ended(_ result: Result<Completion, ResidentError>, publishedAt: ContinuousClock.Instant) {
        switch result {
        case .success(let c) where c.status == .fault:
            faulted.add(1, ordering: .relaxed)
            metrics.faulted.increment()
        case .success:
            completed.add(1, ordering: .relaxed)
            metrics.done.increment()
        case .failure:
            notRun.add(1, ordering: .relaxed)
            metrics.notRun.increment()
        }
        if case .success = result { metrics.roundTrip.recordNanoseconds(Int64((ContinuousClock.now - publishedAt) / .nanoseconds(1))) }
        give()
    }

    func countSubmitted() {
        submitted.add(1, ordering: .relaxed)
        metrics.submitted.increment()
    }

    private func give() {
        let left = inFlight.subtract(1, ordering: .acquiringAndReleasing).newValue
        reservation.tenantInFlight.subtract(1, ordering: .acquiringAndReleasing)
        metrics.inFlight.record(left)
        wakeAll()
    }

    /// Wakes every waiter to look again (an op ended, or the tenant is being unregistered).
    func wakeAll() {
        let tasks = waiters.withLock { w in
            defer { w = [] }
            return w
        }
        for c in tasks { c.resume() }
        if threadWaiters.load(ordering: .acquiring) > 0 { released.signal() }
    }

    /// Suspends until the tenant may have room in its quota (or is closed); the caller looks again.
    func waitForQuota() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = waiters.withLock { w -> Bool in
                if inFlight.load(ordering: .acquiring) < quota || closed.load(ordering: .acquiring) { return true }
                w.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Blocks until `done()` holds, looking again whenever an op of the tenant ends (and at
    /// least every 10 ms).
    func waitUntil(_ done: () -> Bool) {
        while !done() {
            threadWaiters.add(1, ordering: .acquiringAndReleasing)
            _ = released.wait(timeout: .now() + .milliseconds(10))
            threadWaiters.subtract(1, ordering: .acquiringAndReleasing)
        }
    }

    var telemetry: TenantTelemetry {
        TenantTelemetry(submitted: submitted.load(ordering: .relaxed), completed: completed.load(ordering: .relaxed),
                        faulted: faulted.load(ordering: .relaxed), notRun: notRun.load(ordering: .relaxed),
                        inFlight: inFlight.load(ordering: .relaxed))
    }
}

/// A registered tenant of a resident megakernel: its id, its private opcode range, its quota, and
/// submits that run as the tenant. Made by ``ResidentMegakernel/register(_:)``.
public final class TenantHandle: Sendable {
    /// Tenant ids run from 1 (0 is the ops of no tenant) to below this: the private ranges
    /// `0x4000_0000 + (id << 20)` then fill the custom opcode space below bit 31.
    public static let maxTenants = 1024
    /// Opcodes in each tenant's private range.
    public static let rangeSize: UInt32 = 1 << 20
    /// Where tenant 0's range would start: the tenants' ranges fill `0x4000_0000 ..< 0x8000_0000`.
    public static let rangeBase: UInt32 = 0x4000_0000

    /// The tenant's id: the `tenant` of every op it submits.
    public let id: UInt32
    /// The tenant's private opcodes.
    public let opcodes: Range<UInt32>
    /// Most ops in flight at once.
    public var quota: Int { account.quota }

    let account: TenantAccount
    private let cores: ResidentCores

    init(account: TenantAccount, cores: ResidentCores) {
        self.id = account.id
        self.account = account
        self.cores = cores
        let first = Self.rangeBase + (account.id << 20)
        opcodes = first..<(first + Self.rangeSize)
    }

    /// The opcode to submit for the handler registered at `offset` of the tenant's range.
    public func opcode(_ offset: UInt32) -> UInt32 {
        precondition(offset < Self.rangeSize, "opcode offset \(offset) is past a tenant's range of \(Self.rangeSize)")
        return opcodes.lowerBound + offset
    }

    /// Counts of the tenant's ops.
    public var telemetry: TenantTelemetry { account.telemetry }

    /// Publishes `item` as this tenant (its `tenant` is set to ``id``) without waiting: throws
    /// ``ResidentError/overQuota(tenant:quota:)`` when the tenant has its quota in flight,
    /// ``ResidentError/foreignOpcode(_:tenant:)`` for another tenant's private opcode,
    /// ``ResidentError/tenantUnregistered(_:)`` once unregistering began, and what
    /// ``ResidentMegakernel/trySubmit(_:)`` throws.
    public func trySubmit(_ item: WorkItem) throws(ResidentError) -> ResidentTicket {
        var item = item
        item.tenant = id
        if item.opcode >= Self.rangeBase, item.opcode < 0x8000_0000, !opcodes.contains(item.opcode) { throw .foreignOpcode(item.opcode, tenant: id) }
        account.entering.add(1, ordering: .sequentiallyConsistent)
        defer { account.entering.subtract(1, ordering: .sequentiallyConsistent) }
        guard !account.closed.load(ordering: .sequentiallyConsistent) else { throw .tenantUnregistered(id) }
        guard account.acquire() else { throw .overQuota(tenant: id, quota: account.quota) }
        let ticket = ResidentTicket(spin: cores.spin, account: account)
        let (_, error) = cores.publishing { core -> (Void, ResidentError?) in
            do throws(ResidentError) { try core.publish(item, ticket: ticket, forTenant: true) } catch { return ((), error) }
            return ((), nil)
        }
        if let error {
            account.unpublished()
            throw error
        }
        account.countSubmitted()
        return ticket
    }

    /// Publishes `item` as this tenant and returns its completion. Over quota it waits for one
    /// of the tenant's ops to end (``OverQuotaPolicy/wait``) or throws (``OverQuotaPolicy/fail``);
    /// it waits for room in a full ring and for a lost kernel's rebuild too.
    public func submit(_ item: WorkItem) async throws(ResidentError) -> Completion {
        while true {
            do throws(ResidentError) { return try await trySubmit(item).completion() } catch {
                switch error {
                case .overQuota where account.policy == .wait: await account.waitForQuota()
                case .ringFull: await cores.current.waitForRoomAsync(forTenant: true)
                case .recovering: await cores.waitForRecoveryAsync()
                default: throw error
                }
                if Task.isCancelled { throw .waitCancelled }
            }
        }
    }

    /// ``submit(_:)`` for a thread: blocks while over quota (``OverQuotaPolicy/wait``), while the
    /// ring is full and until the op completes.
    public func submitAndWait(_ item: WorkItem) throws(ResidentError) -> Completion {
        while true {
            do throws(ResidentError) { return try trySubmit(item).wait() } catch {
                switch error {
                case .overQuota where account.policy == .wait:
                    account.waitUntil { account.inFlight.load(ordering: .acquiring) < account.quota || account.closed.load(ordering: .acquiring) }
                case .ringFull: cores.current.waitForRoom(forTenant: true)
                case .recovering: cores.waitForRecovery()
                default: throw error
                }
            }
        }
    }

    /// Enables or disables the tenant live: a disabled tenant's ops stay PUBLISHED until it is
    /// enabled again (they keep their quota slots meanwhile).
    public func setEnabled(_ enabled: Bool) throws(ResidentError) {
        guard !account.closed.load(ordering: .acquiring) else { throw .tenantUnregistered(id) }
        try cores.setTenant(id, enabled: enabled)
    }
}

extension ResidentMegakernel {
    /// Registers a tenant on the running kernel: the lowest free id, its private opcode range and
    /// `options.quota` slots of the ring. With handlers, the kernel with them is validated and
    /// compiled in the background (the running kernel goes on) and installed between two
    /// dispatches: no slot is lost or run twice. Throws ``TenantError`` and changes nothing when
    /// the tenant does not fit or its handlers do not build. Not while a recording runs.
    public func register(_ options: TenantOptions) async throws(TenantError) -> TenantHandle {
        let cores = self.cores
        let result = await Self.onOwnThread { () -> Result<TenantHandle, TenantError> in
            do throws(TenantError) { return .success(try cores.register(options)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Unregisters `tenant`: its submits are refused from now on, its pending ops drain or are
    /// cancelled (``UnregisterMode``), then its handlers leave the kernel (installed between two
    /// dispatches, like registering) and its id, range and quota are free again.
    public func unregister(_ tenant: TenantHandle, mode: UnregisterMode) async throws(TenantError) {
        let cores = self.cores
        let result = await Self.onOwnThread { () -> Result<Void, TenantError> in
            do throws(TenantError) { try cores.unregister(tenant, mode: mode) } catch { return .failure(error) }
            return .success(())
        }
        try result.get()
    }

    /// The registered tenants, by id.
    public var tenants: [TenantHandle] { cores.registeredTenants() }

    /// Runs blocking work (a compile, waiting for a drain) on a thread of its own, not on the
    /// task's executor.
    private static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            Thread.detachNewThread { c.resume(returning: body()) }
        }
    }
}

/// One tenant's swift-metrics instruments, with a `tenant` dimension (the README lists them).
struct TenantMetrics: Sendable {
    let submitted: Counter
    let done: Counter
    let faulted: Counter
    let notRun: Counter
    let roundTrip: CoreMetrics.Timer
    let inFlight: Gauge

    init(factory: any MetricsFactory, dimensions: [(String, String)], tenant: UInt32) {
        let prefix = ResidentMetrics.prefix + "tenant_"
        let dims = dimensions + [("tenant", "\(tenant)")]
        submitted = Counter(label: prefix + "ops_submitted_total", dimensions: dims, factory: factory)
        done = Counter(label: prefix + "ops_completed_total", dimensions: dims + [("status", "done")], factory: factory)
        faulted = Counter(label: prefix + "ops_completed_total", dimensions: dims + [("status", "fault")], factory: factory)
        notRun = Counter(label: prefix + "ops_not_run_total", dimensions: dims, factory: factory)
        roundTrip = CoreMetrics.Timer(label: prefix + "round_trip_seconds", dimensions: dims, factory: factory)
        inFlight = Gauge(label: prefix + "in_flight", dimensions: dims, factory: factory)
    }
}
