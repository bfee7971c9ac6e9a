import VyreGL
import VyreProtocol
import Logging
import Foundation
import Synchronization

/// The core a resident kernel runs on now, and the rebuilding of a lost one on a new context.
///
/// Producers reach the current core with one atomic load and no reference count: a core is never
/// freed before the kernel, so a producer that loaded a core just as it was replaced still writes
/// into live memory, and that core's end fails what it publishes there (as after a shutdown).
/// A lost core refuses new ops as `recovering`; the kernel then retries on the core that replaced
/// it, or waits for the rebuild.
final class ResidentCores: Sendable {
    private let currentCore: Atomic<Unmanaged<ResidentCore>>
    /// The kernel's own configuration; registered tenants' handlers and buffers come on top.
    private let base: MegakernelConfiguration
    private let options: ResidentOptions
    private let logger: Logger
    private let metrics: ResidentMetrics
    private let replacementContext: @Sendable (GLContext) throws(VyreGLError) -> GLContext
    /// Who does the IO queue's requests (LOAD_MISS), for every core.
    private let io: (any ResidentIOService)?
    let debugRecords: AsyncStream<DebugRecord>
    private let debugSink: DebugOutput
    /// How long waiting threads spin before they sleep (the same for every core).
    let spin: Duration

    private struct State: ~Copyable {
        /// Every core the kernel has had, the current one last; kept until the kernel goes.
        var cores: [ResidentCore] = []
        var recovering = false
        var closed = false
        /// Set when rebuilding gave up: what submits are refused with.
        var gaveUp: ResidentError?
        /// Tenants switched live, applied again to a rebuilt core.
        var tenants: [UInt32: Bool] = [:]
        /// Registered tenants by id, with their handlers and buffers (opcodes absolute).
        var registered: [UInt32: (handle: TenantHandle, program: TenantProgram)] = [:]
        /// Who waits for a rebuild to end.
        var tasks: [CheckedContinuation<Void, Never>] = []
        var threads: [DispatchSemaphore] = []
    }
    private let state = Mutex(State())
    /// Entered while a rebuild runs, so closing waits for it.
    private let rebuilding = DispatchGroup()
    /// Slots kept for registered quotas, shared by every core.
    let reservation = RingReservation()
    /// One change of the opcode set at a time: a registration, an unregistration or a rebuild.
    private let opcodeSetGate = DispatchSemaphore(value: 1)

    init(context: GLContext, configuration: MegakernelConfiguration, options: ResidentOptions, logger: Logger, metrics: ResidentMetrics,
         replacementContext: @escaping @Sendable (GLContext) throws(VyreGLError) -> GLContext, printfLogger: Logger?,
         io: (any ResidentIOService)?) throws(MegakernelError) {
        // The ring is shared with the running kernel: refused before anything is built.
        guard context.info.persistentMapping else {
            throw .device(VyreGLError.noPersistentMapping(found: context.info.mappingDescription, needs: "the resident megakernel"))
        }
        self.base = configuration
        self.io = io
        self.options = options
        self.logger = logger
        self.metrics = metrics
        self.replacementContext = replacementContext
        // Bounded: a kernel whose records nobody reads must not grow without end. The oldest
        // records go first, counted as lost.
        let (stream, continuation) = AsyncStream.makeStream(of: DebugRecord.self, bufferingPolicy: .bufferingNewest(max(DebugOutput.streamCapacity, options.debugRecords)))
        debugRecords = stream
        debugSink = DebugOutput(stream: continuation, logger: printfLogger)
        // A core's loss callback holds this weakly, and the first core is built before `self`
        // is whole: it gets its callback through a box filled in below.
        let owner = WeakOwner()
        let first = try ResidentCore(context: context, configuration: configuration, options: options, logger: logger, metrics: metrics,
                                     debugSink: debugSink, lossNumber: 1, reservation: reservation, startingWords: options.buffers, io: io,
                                     onLost: { owner.value?.lost($0) })
        spin = first.spin
        currentCore = Atomic(Unmanaged.passUnretained(first))
        state.withLock { $0.cores.append(first) }
        owner.value = self
        first.start()
    }

    /// The core in use, retained (for callers that keep it across suspensions).
    var current: ResidentCore { currentCore.load(ordering: .acquiring).takeUnretainedValue() }

    /// Runs a publish (`body`, which returns what it published and why it stopped) on the current
    /// core; when that core refused as lost and has been replaced, on the new one. A refusal
    /// while the rebuild runs comes back as `recovering`, or as what ended the kernel.
    func publishing<R>(_ body: (ResidentCore) -> (R, ResidentError?)) -> (R, ResidentError?) {
        while true {
            let used = currentCore.load(ordering: .acquiring)
            let (result, error) = used._withUnsafeGuaranteedRef(body)
            guard case .recovering? = error else { return (result, error) }
            if currentCore.load(ordering: .acquiring).toOpaque() != used.toOpaque() { continue }
            return (result, state.withLock { s in s.closed ? .shutDown : s.gaveUp ?? (s.recovering ? .recovering : nil) } ?? .recovering)
        }
    }

    /// Blocks the calling thread until a rebuild under way has ended.
    func waitForRecovery() {
        let semaphore = DispatchSemaphore(value: 0)
        let waiting = state.withLock { s -> Bool in
            guard s.recovering else { return false }
            s.threads.append(semaphore)
            return true
        }
        if waiting { semaphore.wait() }
    }

    /// Suspends until a rebuild under way has ended.
    func waitForRecoveryAsync() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let waiting = state.withLock { s -> Bool in
                guard s.recovering else { return false }
                s.tasks.append(c)
                return true
            }
            if !waiting { c.resume() }
        }
    }

    func setTenant(_ tenant: UInt32, enabled: Bool) throws(ResidentError) {
        // Under the lock a rebuild swaps cores under, so the new core gets every switch.
        let result = state.withLock { s -> ResidentError? in
            do throws(ResidentError) { try current.setTenant(tenant, enabled: enabled) } catch { return error }
            s.tenants[tenant] = enabled
            return nil
        }
        if let result { throw result }
    }

    // MARK: loss and rebuild

    /// A core's driver found it lost (on its driver thread): rebuild on a new context.
    private func lost(_ core: ResidentCore) {
        let rebuild = state.withLock { s -> Bool in
            guard !s.closed, s.gaveUp == nil, !s.recovering, s.cores.last === core else { return false }
            s.recovering = true
            rebuilding.enter()
            return true
        }
        guard rebuild else { return }
        Thread.detachNewThread { [self] in
            defer { rebuilding.leave() }
            self.rebuild(after: core)
        }
    }

    /// Ends the lost core (every op pending on it fails), then builds and starts a core on a new
    /// context, up to ``ResidentOptions/recoveryAttempts`` times; gives up after that.
    private func rebuild(after lost: ResidentCore) {
        lost.stop(.cancel)
        let loss = DeviceLoss(cause: lost.lossCause ?? .stalled(options.dispatchTimeout), number: lost.lossNumber)
        var lastError: MegakernelError? = nil
        opcodeSetGate.wait()
        defer { opcodeSetGate.signal() }
        for attempt in 0..<options.recoveryAttempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.1 * Double(1 << min(attempt - 1, 6))) }
            if state.withLock({ $0.closed }) { break }
            do throws(MegakernelError) {
                let core = try build(after: lost)
                if swapIn(core) {
                    metrics.recoveries.increment()
                    logger.notice("the resident kernel was rebuilt on a new context", metadata: ["loss": "\(loss.number)", "renderer": "\(core.context.info.renderer)"])
                } else {
                    core.stop(.cancel)
                }
                return
            } catch {
                lastError = error
                logger.error("rebuilding the lost resident kernel failed", metadata: ["attempt": "\(attempt + 1)", "error": "\(error)"])
            }
        }
        finishRecovery(gaveUp: .unrecoverable(loss, rebuildError: lastError))
    }

    private func build(after lost: ResidentCore) throws(MegakernelError) -> ResidentCore {
        let context: GLContext
        do throws(VyreGLError) { context = try replacementContext(lost.context) } catch { throw .device(error) }
        // With every tenant registered now (a registration waits for the rebuild, or the rebuild for it).
        let registered = state.withLock { $0.registered }
        return try ResidentCore(context: context, configuration: configuration(with: registered), options: options, logger: logger,
                                metrics: metrics, debugSink: debugSink, lossNumber: lost.lossNumber + 1, reservation: reservation,
                                startingWords: startingWords(with: registered), io: io, onLost: { [weak self] in self?.lost($0) })
    }

    /// Makes `core` the current one, with the tenants switched live, and wakes who waited for it;
    /// false when the kernel was closed meanwhile.
    private func swapIn(_ core: ResidentCore) -> Bool {
        let (swapped, tasks, threads) = state.withLock { s -> (Bool, [CheckedContinuation<Void, Never>], [DispatchSemaphore]) in
            guard !s.closed else { return (false, [], []) }
            for (tenant, enabled) in s.tenants { try? core.setTenant(tenant, enabled: enabled) }
            core.start()
            s.cores.append(core)
            currentCore.store(Unmanaged.passUnretained(core), ordering: .releasing)
            s.recovering = false
            defer { s.tasks = []; s.threads = [] }
            return (true, s.tasks, s.threads)
        }
        for c in tasks { c.resume() }
        for t in threads { t.signal() }
        return swapped
    }

    private func finishRecovery(gaveUp: ResidentError?) {
        let (tasks, threads) = state.withLock { s -> ([CheckedContinuation<Void, Never>], [DispatchSemaphore]) in
            s.recovering = false
            if let gaveUp, !s.closed { s.gaveUp = gaveUp }
            defer { s.tasks = []; s.threads = [] }
            return (s.tasks, s.threads)
        }
        if let gaveUp { logger.critical("the resident kernel was lost and could not be rebuilt", metadata: ["error": "\(gaveUp)"]) }
        for c in tasks { c.resume() }
        for t in threads { t.signal() }
    }

    // MARK: tenants

    /// The kernel's configuration with the handlers and buffers of `registered`, in id order.
    private func configuration(with registered: [UInt32: (handle: TenantHandle, program: TenantProgram)]) -> MegakernelConfiguration {
        var c = base
        for id in registered.keys.sorted() {
            c.opcodes += registered[id]!.program.handlers
            c.extraBuffers += registered[id]!.program.buffers
        }
        return c
    }

    /// The starting words of every extra buffer given any: the kernel's, then the tenants'.
    private func startingWords(with registered: [UInt32: (handle: TenantHandle, program: TenantProgram)]) -> [String: [UInt32]] {
        var words = options.buffers
        for (_, r) in registered { words.merge(r.program.bufferWords) { first, _ in first } }
        return words
    }

    func registeredTenants() -> [TenantHandle] {
        state.withLock { s in s.registered.keys.sorted().map { s.registered[$0]!.handle } }
    }

    /// Registers a tenant (blocking: see ``ResidentMegakernel/register(_:)``).
    func register(_ tenantOptions: TenantOptions) throws(TenantError) -> TenantHandle {
        guard tenantOptions.quota >= 1 else { throw .invalidQuota(tenantOptions.quota) }
        opcodeSetGate.wait()
        defer { opcodeSetGate.signal() }
        let capacity = min(options.tenants, TenantHandle.maxTenants) - 1
        let (id, registered) = try state.withLock { s throws(TenantError) -> (UInt32, [UInt32: (handle: TenantHandle, program: TenantProgram)]) in
            if let refusal = s.closed ? .shutDown : s.gaveUp ?? (s.recovering ? .recovering : nil) { throw .kernel(refusal) }
            guard let id = (1...max(1, capacity)).first(where: { s.registered[UInt32($0)] == nil && $0 <= capacity }) else { throw .noFreeTenant(capacity: max(0, capacity)) }
            let kept = s.registered.values.reduce(0) { $0 + $1.handle.quota }
            guard kept + tenantOptions.quota <= options.slots else {
                throw .quotaUnavailable(asked: tenantOptions.quota, free: options.slots - kept, slots: options.slots)
            }
            return (UInt32(id), s.registered)
        }
        let program = try Self.rebased(tenantOptions.program ?? TenantProgram(), id: id)
        let handle = TenantHandle(account: TenantAccount(id: id, quota: tenantOptions.quota, policy: tenantOptions.overQuota, reservation: reservation,
                                                         metrics: TenantMetrics(factory: metrics.factory, dimensions: metrics.dimensions, tenant: id)),
                                  cores: self)
        var next = registered
        next[id] = (handle, program)
        if !program.handlers.isEmpty || !program.buffers.isEmpty {
            try install(next)
        } else {
            state.withLock { $0.registered = next }
        }
        reservation.slots.add(tenantOptions.quota, ordering: .acquiringAndReleasing)
        do throws(ResidentError) { try setTenant(id, enabled: tenantOptions.enabled) } catch {
            logger.error("enabling a registered tenant failed", metadata: ["tenant": "\(id)", "error": "\(error)"])
        }
        logger.info("tenant registered", metadata: ["tenant": "\(id)", "quota": "\(tenantOptions.quota)", "handlers": "\(program.handlers.count)"])
        return handle
    }

    /// `program` with each handler's opcode moved from an offset to tenant `id`'s range.
    private static func rebased(_ program: TenantProgram, id: UInt32) throws(TenantError) -> TenantProgram {
        var out = program
        for i in out.handlers.indices {
            let offset = out.handlers[i].opcode
            guard offset < TenantHandle.rangeSize else { throw .opcodeOutsideRange(offset: offset, handler: out.handlers[i].name) }
            out.handlers[i].opcode = TenantHandle.rangeBase + (id << 20) + offset
        }
        return out
    }

    /// Builds the kernel for the tenants `registered` on the current core's context (the kernel
    /// runs meanwhile), records them, and has the core install it between two dispatches. A core
    /// lost meanwhile is rebuilt with them. Throws, changing nothing, when the kernel does not build.
    private func install(_ registered: [UInt32: (handle: TenantHandle, program: TenantProgram)]) throws(TenantError) {
        let core = current
        if core.isRecording { throw .kernel(.recordingInProgress) }
        ResidentProgram.warm(configuration(with: registered), like: core.context, protocol: core.protocolBinding,
                             startingWords: startingWords(with: registered), logger: logger)
        let program: ResidentProgram
        do throws(MegakernelError) {
            program = try ResidentProgram(configuration: configuration(with: registered), context: core.context, protocol: core.protocolBinding,
                                          startingWords: startingWords(with: registered), previous: core.current, placement: options.placement)
        } catch {
            throw .program(error)
        }
        state.withLock { $0.registered = registered }
        let installed = DispatchSemaphore(value: 0)
        core.swap(to: program) { _ in installed.signal() }
        // Installed, or the core ended first: lost (its rebuild, which waits for this, builds
        // from the tenants just recorded) or closed (nothing runs any more).
        installed.wait()
    }

    /// Unregisters `handle` (blocking: see ``ResidentMegakernel/unregister(_:mode:)``).
    func unregister(_ handle: TenantHandle, mode: UnregisterMode) throws(TenantError) {
        opcodeSetGate.wait()
        defer { opcodeSetGate.signal() }
        let id = handle.id
        let (registered, enabled) = try state.withLock { s throws(TenantError) -> ([UInt32: (handle: TenantHandle, program: TenantProgram)], Bool) in
            guard let r = s.registered[id], r.handle === handle else { throw .notRegistered(id) }
            return (s.registered, s.tenants[id] ?? true)
        }
        let account = handle.account
        account.close()
        if mode == .cancel || !enabled {
            // Held from now on, then the unclaimed ones fail between two dispatches.
            try? setTenant(id, enabled: false)
            let withdrawn = DispatchSemaphore(value: 0)
            current.withdraw(tenant: id) { withdrawn.signal() }
            withdrawn.wait()
        }
        account.waitUntil { account.inFlight.load(ordering: .acquiring) == 0 }
        var rest = registered
        rest[id] = nil
        let program = registered[id]!.program
        if !program.handlers.isEmpty || !program.buffers.isEmpty {
            do throws(TenantError) { try install(rest) } catch {
                // Its handlers stay compiled in (its range is free again all the same).
                logger.error("removing an unregistered tenant's handlers failed; they stay", metadata: ["tenant": "\(id)", "error": "\(error)"])
                state.withLock { $0.registered = rest }
            }
        } else {
            state.withLock { $0.registered = rest }
        }
        reservation.slots.subtract(handle.quota, ordering: .acquiringAndReleasing)
        // Back as the table started: ops of that id from no handle run again.
        try? setTenant(id, enabled: true)
        state.withLock { $0.tenants[id] = nil }
        logger.info("tenant unregistered", metadata: ["tenant": "\(id)", "mode": "\(mode)"])
    }

    // MARK: shutdown and telemetry

    /// Whether the kernel's close has begun.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Ends the kernel: a rebuild under way is let finish (or give up), then the current core
    /// ends as `mode` says, and the PRINTF stream ends.
    func close(_ mode: ShutdownMode) {
        state.withLock { $0.closed = true }
        rebuilding.wait()
        current.stop(mode)
        finishRecovery(gaveUp: nil)
        debugSink.stream.finish()
    }

    /// The current core's snapshot, with the counters of every core before it added.
    func telemetry() -> ResidentTelemetry {
        let cores = state.withLock { $0.cores }
        var t = cores.last!.telemetry()
        for core in cores.dropLast() {
            let old = core.telemetry()
            t.dispatches += old.dispatches
            t.dispatchTime += old.dispatchTime
            t.submitted += old.submitted
            t.completed += old.completed
            t.debugRecordsDelivered += old.debugRecordsDelivered
            t.debugRecordsLost += old.debugRecordsLost
        }
        t.recoveries = cores.count - 1
        return t
    }
}

/// Slots of the ring kept for registered tenants' quotas (see ``TenantOptions/quota``).
final class RingReservation: Sendable {
    /// The registered quotas together.
    let slots = Atomic<Int>(0)
    /// Tenant handles' ops in flight (each counted from its quota's take to its ticket's end).
    let tenantInFlight = Atomic<Int>(0)
}

/// A weak reference filled in after the fact (the first core's loss callback).
private final class WeakOwner: @unchecked Sendable {
    // Written once, in `ResidentCores.init`, before the core it serves is started.
    weak var value: ResidentCores?
}

/// Where a kernel's PRINTF records go: the `debugRecords` stream, or a Logger the embedder gave.
struct DebugOutput: Sendable {
    let stream: AsyncStream<DebugRecord>.Continuation
    let logger: Logger?

    /// Records the stream keeps for a consumer that lags behind (or the kernel's debug log's
    /// size, where larger).
    static let streamCapacity = 1 << 16

    /// Hands `record` on; false when the stream's buffer was full and the oldest record it held
    /// was dropped for it.
    func deliver(_ record: DebugRecord) -> Bool {
        guard let logger else {
            if case .dropped = stream.yield(record) { return false }
            return true
        }
        logger.info("PRINTF", metadata: ["format": "\(record.format)", "arg0": "\(record.arg0)", "arg1": "\(record.arg1)",
                                         "slotWord": "\(record.slotWordOffset)"])
        return true
    }
}
