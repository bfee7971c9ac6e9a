public import VyreIR
public import VyreGL
public import VyreProtocol

/// How a resident megakernel is laid out and driven.
public struct ResidentOptions: Sendable, Hashable {
    /// Slots in the ring: at most this many ops are in flight at once (1 to 1,048,576).
    public var slots: Int
    /// Words of the control buffer (at least 160; the observable region follows word 160).
    public var controlWords: Int
    /// Tenants enabled at start, from tenant 0.
    public var tenants: Int
    /// Records the debug log holds.
    public var debugRecords: Int
    /// Workgroups of the resident dispatch; nil picks by device (1 on a software renderer,
    /// whose two or so threads the host shares; 8 otherwise).
    public var workgroups: UInt32?
    /// Rounds each dispatch runs before it ends by itself and is dispatched again; nil picks by
    /// device: 64 where the driver has a per-invocation loop budget, which the rounds share with
    /// handler loops (at most half of it); 4096 otherwise, the loop lowering's chunk, so no
    /// invocation polls the abort word between barriers (the most allowed there). On the H200
    /// both gave a 16 us round trip p50 in one run, and 4096 a p99 of 22 us against 82 us: each
    /// re-dispatch is a gap (BENCHMARKS.md). With more ``workgroups`` than the device's default,
    /// the default rounds shrink in proportion (to 1 at least), so a dispatch holds no more
    /// workgroup rounds than the default geometry's: on the H200, 16,896 workgroups of 4096 rounds
    /// ran past the 10 s progress deadline, while 100,000 of 8 rounds did not.
    public var rounds: UInt32?
    /// After this many rounds in which a lower priority waited behind a higher one, the lowest
    /// waiting priority is served (the starvation guard).
    public var starvationGuard: UInt32
    /// How long the kernel keeps being dispatched after the last op completed, so a next op
    /// finds it running; then it is dispatched again only when an op arrives.
    public var linger: Duration
    /// The longest one dispatch may run before it is stopped and every pending op fails.
    public var dispatchTimeout: Duration
    /// Initial control words by index, applied after the tenant table (as a batch's `control`).
    public var control: [Int: UInt32]
    /// Initial contents of the megakernel's extra buffers, by name (left out: zeroed at the
    /// declared count; a runtime-sized one left out gets one element).
    public var buffers: [String: [UInt32]]
    /// Where the ring, queues, control words, debug log and IO queue live (the host writes and
    /// polls them, the kernel reads and writes them), and the extra buffers declared
    /// ``BufferPlacement/hostMapped``.
    public var placement: MappedPlacement
    /// How long a thread that waits for an op (``ResidentTicket/wait()``,
    /// ``ResidentBatchTicket/wait()``) spins before it sleeps, and whether the completion thread
    /// stays awake while the kernel lingers; nil picks by device: 50 us on a GPU, where sleeping
    /// and waking cost more than a round trip, and none on a software renderer, whose cores the
    /// spinning would take from the kernel (a round of it took 85 us instead of a few on 2 cores).
    public var spin: Duration?
    /// How long ops that can run may be in flight with none ending before the kernel is taken for
    /// stuck (the completion thread's watchdog), provided one dispatch has run that long or 64
    /// dispatches ran in a row meanwhile (so a kernel merely waiting for a busy machine's cores is
    /// not stuck): the kernel's dispatch is stopped, every pending op fails with
    /// ``ResidentError/deviceLost(_:mayHaveRun:)``, and the kernel is rebuilt. Ops held by a
    /// disabled tenant do not count. nil: only ``dispatchTimeout`` bounds a dispatch.
    public var progressDeadline: Duration?
    /// How many times in a row a lost kernel (a reset, a stall, a failed dispatch) is rebuilt on a
    /// new context before the kernel gives up and refuses ops with
    /// ``ResidentError/unrecoverable(_:)``; 0 never rebuilds.
    public var recoveryAttempts: Int
    /// The memory LOAD_MISS requests read into and write from, by handle: the region at index `i`
    /// has handle `i + 1` (0 names none). Each lies in the control buffer or in a host-mapped
    /// extra buffer (see ``IORegion``).
    public var ioRegions: [IORegion]

    /// The defaults: 1024 slots, 224 control words (64 observables), tenant 0 enabled, 64 debug
    /// records, device-picked geometry, a starvation guard of 16 rounds, a 2 ms linger, a 10 s
    /// dispatch timeout, no initial control words beyond the tenant table, zeroed extra buffers,
    /// a 20 s progress deadline, 3 rebuilds after a loss and no IO regions.
    public init(slots: Int = 1024, controlWords: Int = 224, tenants: Int = 1, debugRecords: Int = 64, workgroups: UInt32? = nil,
                rounds: UInt32? = nil, starvationGuard: UInt32 = 16, linger: Duration = .milliseconds(2), dispatchTimeout: Duration = .seconds(10),
                control: [Int: UInt32] = [:], buffers: [String: [UInt32]] = [:], placement: MappedPlacement = .driverChoice, spin: Duration? = nil,
                progressDeadline: Duration? = .seconds(20), recoveryAttempts: Int = 3, ioRegions: [IORegion] = []) {
        self.slots = slots
        self.controlWords = controlWords
        self.tenants = tenants
        self.debugRecords = debugRecords
        self.workgroups = workgroups
        self.rounds = rounds
        self.starvationGuard = starvationGuard
        self.linger = linger
        self.dispatchTimeout = dispatchTimeout
        self.control = control
        self.buffers = buffers
        self.placement = placement
        self.spin = spin
        self.progressDeadline = progressDeadline
        self.recoveryAttempts = recoveryAttempts
        self.ioRegions = ioRegions
    }
}

/// How a resident op ended.
public struct Completion: Sendable, Hashable {
    /// ``SlotStatus/done`` or ``SlotStatus/fault``.
    public var status: SlotStatus
    /// For a FAULT, its reason (``FaultReason`` or a custom handler's number).
    public var faultReason: UInt32?
    /// The observable words the op wrote (LOAD_U32, COMPARE_SWAP, BATCH_FENCE, DFA_STEP), by
    /// index from the observable base, as the completion thread read them when it saw the slot
    /// end. Ops that share an observable index may overwrite each other's words.
    public var observed: [Int: UInt32]
    /// For a LOAD_MISS the host served: what its request did (bytes moved, or why it failed).
    public var io: IOOutcome? = nil
}

/// How ``ResidentMegakernel/shutdown(_:)`` ends the kernel.
public enum ShutdownMode: Sendable, Hashable {
    /// Every accepted op that can run completes first; ops held back by a disabled tenant or an
    /// earlier SHUTDOWN op fail with ``ResidentError/notRun(_:)``.
    case drain
    /// Ops the kernel has not claimed fail with ``ResidentError/notRun(_:)``; the one dispatch in
    /// progress ends first, so nothing is left half run. A cancel while a drain is under way takes
    /// it over (a drain past its deadline).
    case cancel
}

/// Why a resident op did not run.
public enum NotRunReason: String, Sendable, Hashable {
    /// The kernel was shut down (cancel) before it claimed the op.
    case cancelled = "the resident kernel was cancelled before the op ran"
    /// A SHUTDOWN op ran before it.
    case shutdownOp = "a SHUTDOWN op ran before it"
    /// Its tenant was disabled when the kernel was drained.
    case tenantDisabled = "its tenant was disabled when the kernel shut down"
    /// Its tenant was unregistered with ``UnregisterMode/cancel`` (or disabled when unregistered)
    /// before the kernel claimed it.
    case tenantUnregistered = "its tenant was unregistered before the op ran"
}

/// Errors of a resident megakernel.
public enum ResidentError: DiagnosticError, Sendable {
    /// Every slot of the ring is in flight (`trySubmit`).
    case ringFull(slots: Int)
    /// The kernel no longer accepts ops: it was shut down, or a SHUTDOWN op ran.
    case shutDown
    /// The task waiting for room in a full ring was cancelled; its op was not published.
    case waitCancelled
    /// The op was accepted but never ran.
    case notRun(NotRunReason)
    /// `setTenant` named a tenant past the tenant table.
    case tenantOutsideTable(UInt32, tableSize: Int)
    /// The item breaks the protocol (too many args).
    case invalidItem(ProtocolError)
    /// The kernel was lost while the op was pending (see ``DeviceLoss``): every pending op fails
    /// with this, and the kernel is rebuilt on a new context. `mayHaveRun` is false only where the
    /// ring shows the op was never started (it was still PUBLISHED when a stuck dispatch was
    /// stopped); after a reset nothing the device wrote is trusted, so it is true.
    // Boxed (indirect), as is `unrecoverable`: a completion's Result carries this type on the hot
    // path, where a larger inline error made every copy of it slower (the batch retire took 2x).
    indirect case deviceLost(DeviceLoss, mayHaveRun: Bool)
    /// The kernel is being rebuilt after a loss (``trySubmit(_:)`` only; the waiting submits wait
    /// for the rebuild).
    case recovering
    /// The kernel was lost and rebuilding it failed ``ResidentOptions/recoveryAttempts`` times in
    /// a row (`rebuildError`, the last failure), or rebuilding is off (nil); it accepts no more ops.
    indirect case unrecoverable(DeviceLoss, rebuildError: MegakernelError?)
    /// ``ResidentMegakernel/startRecording()`` while a recording is still going (or a tenant's
    /// handlers registered or unregistered under it).
    case recordingInProgress
    /// The tenant has its quota of ops in flight (``TenantHandle/trySubmit(_:)``, or a submit
    /// under ``OverQuotaPolicy/fail``).
    case overQuota(tenant: UInt32, quota: Int)
    /// The tenant is being unregistered, or was: it takes no more ops.
    case tenantUnregistered(UInt32)
    /// A tenant submitted an opcode from another tenant's private range.
    case foreignOpcode(UInt32, tenant: UInt32)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .ringFull(let slots):
            [Diagnostic("the resident ring is full: all \(counted(slots, "slot")) hold ops in flight", fix: "await submit(_:) to wait for room, or make the ring larger (ResidentOptions.slots)")]
        case .shutDown:
            [Diagnostic("the resident kernel is shut down (by shutdown(_:) or a SHUTDOWN op) and accepts no more ops", fix: "start a new ResidentMegakernel")]
        case .waitCancelled:
            [Diagnostic("the task was cancelled while it waited for room in the full ring; its op was not published", fix: "submit it again, or use trySubmit to decide without waiting")]
        case .notRun(let reason):
            [Diagnostic("the op was accepted but did not run: \(reason.rawValue)", fix: "submit it again to a running kernel")]
        case .tenantOutsideTable(let tenant, let size):
            [Diagnostic("tenant \(tenant) is outside the tenant table of \(counted(size, "tenant")), so it cannot be enabled or disabled (its ops fault as out of range)", fix: "use a tenant id below \(size), or a larger table (control[\(RingProtocol.Control.tenantTableSize)])")]
        case .invalidItem(let e):
            e.diagnostics
        case .deviceLost(let loss, let mayHaveRun):
            [Diagnostic("the resident kernel was lost while the op was pending (\(loss.cause.description)); the op \(mayHaveRun ? "may have run" : "did not run")",
                        fix: mayHaveRun ? "submit it again if running it twice is harmless, else check its effects first; the kernel is rebuilt on a new context"
                                        : "submit it again; the kernel is rebuilt on a new context")]
        case .recovering:
            [Diagnostic("the resident kernel is being rebuilt after it was lost, and takes no ops until it is", fix: "try again shortly, or use submit(_:) to wait for the rebuild")]
        case .recordingInProgress:
            [Diagnostic("a recording of this kernel is still going", fix: "finish() the recording in progress first")]
        case .overQuota(let tenant, let quota):
            [Diagnostic("tenant \(tenant) has its quota of \(counted(quota, "op")) in flight", fix: "await submit(_:) to wait for one to end (OverQuotaPolicy.wait), or register the tenant with a larger quota")]
        case .tenantUnregistered(let tenant):
            [Diagnostic("tenant \(tenant) is unregistered and takes no more ops", fix: "register the tenant again and submit through the new handle")]
        case .foreignOpcode(let opcode, let tenant):
            [Diagnostic("opcode \(opcode) (0x\(String(opcode, radix: 16))) is in tenant \((opcode - TenantHandle.rangeBase) >> 20)'s private range, and tenant \(tenant) may not submit it", fix: "submit opcodes from the tenant's own range (TenantHandle.opcode(_:)) or the kernel's")]
        case .unrecoverable(let loss, nil):
            [Diagnostic("the resident kernel was lost (\(loss.cause.description)) and rebuilding is off (ResidentOptions.recoveryAttempts is 0), so it takes no more ops", fix: "start a new ResidentMegakernel, or allow rebuilds with ResidentOptions.recoveryAttempts")]
        case .unrecoverable(let loss, let e?):
            e.diagnostics.map { $0.within("the resident kernel was lost (\(loss.cause.description)) and could not be rebuilt") }
        }
    }
}

/// How a resident kernel was lost.
public struct DeviceLoss: Sendable, CustomStringConvertible {
    /// What happened.
    public enum Cause: Sendable, CustomStringConvertible {
        /// The driver reported a graphics reset (`glGetGraphicsResetStatus` on the robust,
        /// lose-context-on-reset context): the GPU hung, was reset or was removed.
        case reset(status: String)
        /// No op ended for this long while ops that could run were in flight (the progress
        /// watchdog), or a dispatch ran past ``ResidentOptions/dispatchTimeout``.
        case stalled(Duration)
        /// A dispatch failed with this GL error.
        case dispatchFailed(VyreGLError)

        public var description: String {
            switch self {
            case .reset(let status): "the GL context was reset: \(status)"
            case .stalled(let d): "no op ended for \(d / .milliseconds(1) >= 1000 ? "\(Int(d / .seconds(1))) s" : "\(Int(d / .milliseconds(1))) ms") while ops could run (a hung kernel, or dispatches of more workgroups and rounds than the device runs in that time)"
            case .dispatchFailed(let e): "a dispatch failed: \(e.diagnostics.map(\.problem).joined(separator: "; "))"
            }
        }
    }

    public var cause: Cause
    /// Which loss of this kernel it was, from 1.
    public var number: Int

    public var description: String { "loss \(number): \(cause)" }
}

/// A snapshot of a resident kernel's state.
public struct ResidentTelemetry: Sendable, Hashable {
    /// Slots by status word (EMPTY, PUBLISHED, ...), over the whole ring.
    public var occupancy: [SlotStatus: Int]
    /// Slots the kernel claimed and left PUBLISHED, because their tenant is disabled or a
    /// SHUTDOWN op ran; they run when their tenant is enabled again.
    public var parked: Int
    /// Ops the kernel ran per built-in opcode below 32 (the control buffer's metrics).
    public var opcodeCounts: [UInt32: UInt32]
    /// `control[EPOCH]`.
    public var epoch: UInt32
    /// Dispatches so far (the first and every re-dispatch).
    public var dispatches: Int
    /// How long those dispatches took together, each from submit to its end.
    public var dispatchTime: Duration
    /// Ops accepted since start.
    public var submitted: Int
    /// Ops completed (DONE or FAULT) since start.
    public var completed: Int
    /// Ops in flight now.
    public var inFlight: Int
    /// Completed ops per second since start.
    public var opsPerSecond: Double
    /// PRINTF records handed to ``ResidentMegakernel/debugRecords``.
    public var debugRecordsDelivered: Int
    /// PRINTF records that found the log full (it holds ``ResidentOptions/debugRecords`` per
    /// dispatch), counted rather than waited for.
    public var debugRecordsLost: Int
    /// Times the kernel was lost and rebuilt on a new context (the counts above span them all).
    public var recoveries: Int
}
