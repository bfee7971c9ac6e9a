public import VyreIR
public import VyreGL
public import VyreProtocol
public import Logging
public import CoreMetrics
import Foundation
import Synchronization

/// A megakernel that stays on the GPU: one dispatch claims and runs the slots that producers
/// publish into a ring in persistently mapped memory, ends by itself after a bounded number of
/// rounds, and is dispatched again at once while work is pending (see ``MegakernelPrograms/resident(configuration:)``
/// and ``ResidentLayout``).
///
/// Producers (tasks or threads, any number) reserve a slot with one compare-and-swap, write it,
/// store PUBLISHED last and append it to its priority's queue: no lock on that path. A driver
/// thread keeps the kernel dispatched; a completion thread watches the slots' status words and
/// hands each op its ``Completion``. No GL call is made per op.
///
/// A kernel that is lost (the driver reports a reset, no op ends within
/// ``ResidentOptions/progressDeadline``, or a dispatch fails) fails every pending op with
/// ``ResidentError/deviceLost(_:mayHaveRun:)`` and is rebuilt on a new context; submits wait for
/// the rebuild (``trySubmit(_:)`` throws ``ResidentError/recovering``) and then go on.
public final class ResidentMegakernel: Sendable {
    let cores: ResidentCores

    /// Builds the resident program from `configuration`, compiles it on `context` (one compile),
    /// allocates the ring, control, queue and debug buffers, and starts the driver and completion
    /// threads. The kernel is first dispatched when the first op arrives.
    /// Metrics go to `metricsFactory` (by default swift-metrics' bootstrapped backend, a no-op
    /// one until the process bootstraps one), each with `metricsDimensions` (a `device`, say);
    /// the README lists their names. A lost kernel is rebuilt on the context `replacementContext`
    /// makes from the lost one (by default ``GLContext/reopened()``: the same device and settings).
    /// With `printfLogger`, PRINTF records are logged there (at info, with the format id, both
    /// args and the slot as metadata) instead of kept for ``debugRecords``.
    /// With `io`, LOAD_MISS ops post their requests to the IO queue and `io` does them (see
    /// ``ResidentIOService``; the memory they name is ``ResidentOptions/ioRegions``); without it,
    /// LOAD_MISS faults with ``FaultReason/ioUnavailable``.
    public init(context: GLContext, configuration: MegakernelConfiguration = MegakernelConfiguration(),
                options: ResidentOptions = ResidentOptions(), logger: Logger? = nil,
                metricsFactory: (any MetricsFactory)? = nil, metricsDimensions: [(String, String)] = [],
                replacementContext: (@Sendable (GLContext) throws(VyreGLError) -> GLContext)? = nil,
                printfLogger: Logger? = nil, io: (any ResidentIOService)? = nil) throws(MegakernelError) {
        let metrics = ResidentMetrics(factory: metricsFactory ?? MetricsSystem.factory, dimensions: metricsDimensions)
        // Not `??`: an autoclosure of a typed-throws function type crashes Swift 6.3's SIL generation.
        var replacement: @Sendable (GLContext) throws(VyreGLError) -> GLContext = Self.reopen
        if let replacementContext { replacement = replacementContext }
        cores = try ResidentCores(context: context, configuration: configuration, options: options, logger: logger ?? context.logger,
                                  metrics: metrics, replacementContext: replacement, printfLogger: printfLogger, io: io)
    }

    @Sendable private static func reopen(_ lost: GLContext) throws(VyreGLError) -> GLContext {
        try lost.reopened()
    }

    deinit {
        // Nothing outlives the kernel: ops not yet run fail, and the threads end before the
        // buffers (freed on the context thread) go.
        cores.close(.cancel)
    }

    /// The resident program (its GLSL is ``glslSource``).
    public var program: Program { cores.current.current.program }
    /// The GLSL the resident kernel was compiled from.
    public var glslSource: String { cores.current.current.pipeline.lowered.source }
    /// How long compiling and linking the resident program took (the last build: after a loss,
    /// or a tenant's handlers registered or unregistered).
    public var compileTime: Duration { cores.current.current.pipeline.compileTime }
    /// The geometry in use: workgroups per dispatch, lanes per workgroup, rounds per dispatch.
    public var geometry: (workgroups: UInt32, lanes: UInt32, rounds: UInt32) {
        let core = cores.current
        return (core.workgroups, core.lanes, core.rounds)
    }
    /// The context the kernel runs on now: the one it was started on until a loss, then the one it
    /// was rebuilt on.
    public var context: GLContext { cores.current.context }

    /// Publishes `item` without waiting: throws ``ResidentError/ringFull(slots:)`` when every slot
    /// is in flight, ``ResidentError/recovering`` while a lost kernel is rebuilt,
    /// ``ResidentError/shutDown`` after a shutdown.
    public func trySubmit(_ item: WorkItem) throws(ResidentError) -> ResidentTicket {
        let (ticket, error) = cores.publishing { core -> (ResidentTicket?, ResidentError?) in
            do throws(ResidentError) { return (try core.publish(item), nil) } catch { return (nil, error) }
        }
        if let error { throw error }
        return ticket!
    }

    /// Publishes `items` in order without waiting, each priority's queue tail moved once, so the
    /// kernel takes them up together. Stops at the first item that cannot be published (a full
    /// ring, a shutdown, a bad item): `tickets` are those of the items before it, which were
    /// published, and `stoppedBy` says why the rest were not.
    public func trySubmit(contentsOf items: some Collection<WorkItem>) -> (tickets: [ResidentTicket], stoppedBy: ResidentError?) {
        contiguous(items) { items in cores.publishing { core in core.publish(items) } }
    }

    /// Publishes `items` in order without waiting, like ``trySubmit(contentsOf:)``, under one
    /// ticket: the completion thread wakes its waiter once, when the last op ends, rather than
    /// once per op. `batch` covers the items published (``ResidentBatchTicket/count``, possibly
    /// none); `stoppedBy` says why the rest were not.
    public func trySubmitBatch(_ items: some Collection<WorkItem>) -> (batch: ResidentBatchTicket, stoppedBy: ResidentError?) {
        let batch = ResidentBatchTicket(capacity: items.count, spin: cores.spin)
        let (published, stoppedBy) = contiguous(items) { items in cores.publishing { core in core.publish(items, into: batch, from: 0) } }
        batch.seal(unpublished: items.count - published)
        return (batch, stoppedBy)
    }

    /// `items` as one buffer (copied only when they are not stored contiguously): the publish
    /// path then runs specialized, not through the generic collection's witnesses per item.
    private func contiguous<R>(_ items: some Collection<WorkItem>, _ body: (UnsafeBufferPointer<WorkItem>) -> R) -> R {
        if let r = items.withContiguousStorageIfAvailable(body) { return r }
        return Array(items).withUnsafeBufferPointer(body)
    }

    /// Publishes `item`, waiting for room while the ring is full (and for a lost kernel's
    /// rebuild), and returns its completion.
    public func submit(_ item: WorkItem) async throws(ResidentError) -> Completion {
        try await publishWaiting(item).completion()
    }

    /// Publishes every item (waiting for room as needed, and for a lost kernel's rebuild) and
    /// returns their completions in order. One ticket covers them all, so the task is resumed once.
    public func submit(_ items: [WorkItem]) async throws(ResidentError) -> [Completion] {
        let batch = ResidentBatchTicket(capacity: items.count, spin: cores.spin)
        var rest = items[...]
        while !rest.isEmpty {
            // As many as fit at once, each queue's tail moved once; then wait for room.
            let first = items.count - rest.count
            let (published, error) = rest.withUnsafeBufferPointer { part in
                cores.publishing { core in core.publish(part, into: batch, from: first) }
            }
            rest = rest.dropFirst(published)
            if let error {
                do throws(ResidentError) { try await waitToRetry(after: error) } catch {
                    batch.seal(unpublished: rest.count)
                    throw error
                }
            }
        }
        return try await batch.completions()
    }

    /// Publishes `item` from a thread, blocking while the ring is full and until it completes.
    public func submitAndWait(_ item: WorkItem) throws(ResidentError) -> Completion {
        try trySubmitWaitingForRoom(item).wait()
    }

    /// Publishes `item` from a thread, blocking while the ring is full (and while a lost kernel is
    /// rebuilt), and returns its ticket without waiting for it to run.
    public func trySubmitWaitingForRoom(_ item: WorkItem) throws(ResidentError) -> ResidentTicket {
        while true {
            do throws(ResidentError) { return try trySubmit(item) } catch {
                switch error {
                case .ringFull: cores.current.waitForRoom()
                case .recovering: cores.waitForRecovery()
                default: throw error
                }
            }
        }
    }

    private func publishWaiting(_ item: WorkItem) async throws(ResidentError) -> ResidentTicket {
        while true {
            do throws(ResidentError) { return try trySubmit(item) } catch { try await waitToRetry(after: error) }
        }
    }

    /// Waits after a refusal that passes (a full ring, a rebuild); rethrows any other. A cancelled
    /// task stops waiting with ``ResidentError/waitCancelled``.
    private func waitToRetry(after error: ResidentError) async throws(ResidentError) {
        switch error {
        case .ringFull: await cores.current.waitForRoomAsync()
        case .recovering: await cores.waitForRecoveryAsync()
        default: throw error
        }
        if Task.isCancelled { throw .waitCancelled }
    }

    /// Enables or disables `tenant` live (kept across a rebuild after a loss). A disabled
    /// tenant's new ops stay PUBLISHED (see ``telemetry``); enabling it again runs them.
    /// Throws ``ResidentError/tenantOutsideTable(_:tableSize:)`` for a tenant the table does not hold
    /// (whose ops fault with ``FaultReason/tenantOutOfRange`` whatever is set).
    public func setTenant(_ tenant: UInt32, enabled: Bool) throws(ResidentError) {
        try cores.setTenant(tenant, enabled: enabled)
    }

    /// Ends the kernel (see ``ShutdownMode``). Later submits throw ``ResidentError/shutDown``.
    public func shutdown(_ mode: ShutdownMode) async {
        let cores = self.cores
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                cores.close(mode)
                c.resume()
            }
        }
    }

    /// ``shutdown(_:)`` for a thread: blocks the calling thread until the kernel has ended.
    public func shutdownAndWait(_ mode: ShutdownMode) {
        cores.close(mode)
    }

    /// A snapshot of the ring, the counters and the dispatches (the counters span every rebuild).
    public var telemetry: ResidentTelemetry { cores.telemetry() }
    /// Ops published and not yet retired, as ``ResidentTelemetry/inFlight`` counts them, read with
    /// one atomic load rather than the ring scan `telemetry` does: cheap enough to ask per submit.
    public var opsInFlight: Int { cores.current.opsInFlight }

    /// The PRINTF records, in the order the kernel appended them, while the kernel runs: the log
    /// is drained at every dispatch boundary (so a record arrives within one dispatch of its op),
    /// and records that found the log full are counted in ``ResidentTelemetry/debugRecordsLost``,
    /// never waited for. The stream keeps the newest 65,536 records (or the debug log's size,
    /// where larger) for a consumer that lags: older ones are dropped and counted as lost too. The sequence goes on across a rebuild and ends when the kernel does. One
    /// consumer.
    public var debugRecords: AsyncStream<DebugRecord> { cores.debugRecords }

    /// Control word `index` as the kernel left it (an acquiring load of mapped memory).
    public func controlWord(_ index: Int) -> UInt32 { cores.current.control.view.load(index) }

    /// The mapping of an extra buffer declared ``BufferPlacement/hostMapped``: the host writes
    /// what ops read there before it submits them, and reads what they wrote after their
    /// completion (whose acquiring load orders it), with the ordering ``MappedView`` gives. nil
    /// for a device-local buffer or a name the program does not declare. Valid while the kernel
    /// lives; after a rebuild (``ResidentError/deviceLost(_:mayHaveRun:)``) or a swap of the
    /// opcode set that changed the buffer's declaration, the kernel binds another buffer: ask again.
    public func mappedBuffer(_ name: String) -> MappedView? { cores.current.current.mappedView(name) }

    /// The words of the extra buffer `name` as they are now (a device-local one read on the
    /// context thread, between two dispatches); nil for a name the program does not declare.
    public func bufferWords(_ name: String) throws(MegakernelError) -> [UInt32]? {
        for (n, buffer) in cores.current.current.extras where n == name { return try buffer.read(words: 0..<buffer.wordCount) }
        return nil
    }

    /// Starts recording every op published from now on, with its outcome, and the control words
    /// and extra buffers as they are now (see ``ResidentRecording``); ``ResidentRecording/finish()``
    /// gives the ``RingLog`` that `vyre-gl replay` runs again. One recording at a time: throws
    /// ``ResidentError/recordingInProgress`` while one is going. Start it while no op is in flight
    /// (and stop submitting before finishing it) for a log whose words replay exactly.
    public func startRecording() throws(ResidentError) -> ResidentRecording {
        try cores.current.startRecording()
    }

    /// A test seam: the driver stops dispatching (or starts again), so in-flight ops stop making
    /// progress as under a hung kernel, and the progress watchdog can be seen to fire. Halting
    /// returns once no dispatch runs: ops published after it are certainly not run.
    @_spi(Testing) public func haltDispatches(_ halted: Bool) {
        cores.current.halt(halted)
    }

    /// The most rounds one dispatch runs on a device without a loop budget (the GLSL lowering's
    /// chunk of loop trips between two abort polls), and the default there for the default
    /// workgroups.
    package static var roundsPerChunk: UInt32 { ResidentCore.roundsPerChunk }

    /// A test seam: whether ``shutdown(_:)`` (or the kernel's end) has begun, so a test can hold
    /// a rebuild until the kernel is closing under it.
    @_spi(Testing) public var isClosing: Bool { cores.isClosed }
}

final class ResidentCore: @unchecked Sendable {
    // Set up once, read by every thread.
    let context: GLContext
    let layout: ResidentLayout
    let options: ResidentOptions
    let workgroups: UInt32
    let lanes: UInt32
    let rounds: UInt32
    /// How long waiting threads spin before they sleep (``ResidentOptions/spin``, resolved).
    let spin: Duration
    let logger: Logger
    let control: MappedRegion
    let ring: MappedRegion
    let debug: MappedRegion
    let io: MappedRegion
    let queues: MappedRegion
    let claims: Owned<DeviceBuffer>
    /// The protocol buffers' bindings, which every program of this core shares.
    let protocolBinding: ProtocolBinding
    /// What the driver dispatches; replaced between two dispatches by ``swap(to:)``.
    private let installed: Mutex<ResidentProgram>
    /// What the driver does at its next dispatch boundary, where no lane runs: install a program
    /// (`done(true)`; `done(false)` when the core ended first), and fail the unclaimed ops of
    /// tenants being unregistered.
    private struct Mailbox {
        var program: (program: ResidentProgram, done: @Sendable (Bool) -> Void)?
        var withdrawals: [(tenant: UInt32, done: @Sendable () -> Void)] = []
        /// Set when the driver has ended: nothing posted after it would be served.
        var closed = false
    }
    private let mailbox = Mutex(Mailbox())
    private let mailboxFull = Atomic<Bool>(false)
    /// Slots the ring keeps for registered tenants' quotas: ops of no tenant handle may fill
    /// only the rest (shared by every core of the kernel).
    let reservation: RingReservation
    private let started = ContinuousClock.now
    /// Where PRINTF records go (``ResidentMegakernel/debugRecords`` or a Logger), shared by every core.
    private let debugSink: DebugOutput
    private let debugDelivered = Atomic<Int>(0)
    private let debugLost = Atomic<Int>(0)
    /// Trips of a guarded loop between two abort polls on a device without a loop budget (the
    /// GLSL lowering's chunk).
    static let roundsPerChunk: UInt32 = 4096

    // Host-side slot state (`slotFree`, `slotWriting`, `slotInFlight`), one atomic per slot;
    // the generation and queue sequence each slot was last published with; the ticket waiting on it.
    static let slotFree: UInt32 = 0, slotWriting: UInt32 = 1, slotInFlight: UInt32 = 2
    let slotState: UnsafeMutablePointer<Atomic<UInt32>>
    let slotGeneration: UnsafeMutablePointer<Atomic<UInt32>>
    private let slotSequence: UnsafeMutablePointer<Atomic<UInt32>>
    /// Who waits for each slot's op. A slot's entry is touched only by whoever holds the slot
    /// in `slotState` (the producer while `writing`, then whoever moves it out of `inFlight`), so
    /// the state's ordering covers it.
    private let holders: UnsafeMutablePointer<TicketHolder?>
    /// Per priority: the next queue sequence to hand out, the tail published to the kernel, and
    /// the ready mark of each entry (`sequence + 1` once its words are written).
    private let queueNext: UnsafeMutablePointer<Atomic<UInt32>>
    private let queueTail: UnsafeMutablePointer<Atomic<UInt32>>
    private let queueReady: UnsafeMutablePointer<Atomic<UInt32>>
    private let nextSequence = Atomic<UInt32>(0)

    private let inFlight = Atomic<Int>(0)
    private let submitted = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let dispatches = Atomic<Int>(0)
    private let dispatchNanoseconds = Atomic<Int>(0)
    private let accepting = Atomic<Bool>(true)
    /// 0 running, 1 drain requested, 2 cancel requested, 3 driver ended.
    let stopState = Atomic<Int>(0)
    static let running = 0, draining = 1, cancelling = 2, ended = 3
    private let shutdownByOp = Atomic<Bool>(false)

    // Loss: set once, by the driver, when it finds the kernel lost; then it ends, the completion
    // thread fails what is pending, and `onLost` has the kernel rebuilt.
    private let loss = Mutex<(cause: DeviceLoss.Cause, ringReadable: Bool)?>(nil)
    /// Which loss of the kernel this core's would be (its losses before it, plus one).
    let lossNumber: Int
    private let onLost: @Sendable (ResidentCore) -> Void
    /// Set by the completion thread's progress watchdog; the driver takes the kernel for lost.
    private let stalled = Atomic<Bool>(false)
    /// In-flight ops that can run, as of the driver's last count (what the watchdog watches).
    private let runnableOps = Atomic<Int>(0)
    /// The kernel's dispatch on the context thread (the watchdog stops only that), and the
    /// dispatches that ended since an op last did.
    private let dispatchMonitor = SubmissionMonitor()
    private let dispatchesSinceProgress = Atomic<Int>(0)
    /// Dispatches that end in a row, with ops that could run and none ending, before the
    /// watchdog may call the kernel stuck: a lane's lost claim is queued again within 16.
    static let fruitlessDispatches = 64
    /// The test seam ``ResidentMegakernel/haltDispatches(_:)``: the driver dispatches nothing.
    /// `dispatching` is set while the driver is past its look at `halted` (Dekker-style, both
    /// sequentially consistent), so halting can wait out a dispatch already under way.
    private let halted = Atomic<Bool>(false)
    private let dispatching = Atomic<Bool>(false)

    /// Stops (or resumes) dispatching; once halting returns, no dispatch runs until resumed.
    func halt(_ on: Bool) {
        halted.store(on, ordering: .sequentiallyConsistent)
        while on, dispatching.load(ordering: .sequentiallyConsistent) { usleep(100) }
    }

    // Recording (``ResidentMegakernel/startRecording()``): new ops are recorded while
    // `recordingOn`; the recording stays until its last recorded op has ended. Each slot's record
    // index (-1 for none) is touched only by whoever holds the slot, like its ticket.
    private let recordingOn = Atomic<Bool>(false)
    private let recording = Mutex<ResidentRecording?>(nil)
    private let recordings = Atomic<Int>(0)
    private let slotRecord: UnsafeMutablePointer<Int>
    /// The program the driver dispatches now.
    var current: ResidentProgram { installed.withLock { $0 } }
    var configuration: MegakernelConfiguration { current.configuration }

    // Parking: a thread sets its flag, re-checks for work, then waits; a waker that clears the
    // flag signals. So a wake-up is never lost and nobody signals a thread that is not waiting.
    let driverIdle = Atomic<Bool>(false)
    let driverWake = DispatchSemaphore(value: 0)
    private let completerIdle = Atomic<Bool>(false)
    private let completerWake = DispatchSemaphore(value: 0)
    private let driverDone = DispatchSemaphore(value: 0)
    private let completerDone = DispatchSemaphore(value: 0)
    /// 0 built, 1 started, 2 stopped before it started: a core built by a rebuild that the
    /// kernel's close overtook never gets its threads, so its stop must not wait for them.
    private let lifecycle = Atomic<Int>(0)
    private let roomWaiters = Atomic<Int>(0)
    private let room = DispatchSemaphore(value: 0)

    let metrics: ResidentMetrics

    // The IO queue (see ResidentIO.swift): who does the requests, the requests under way, and the
    // outcome of each served op until its completion takes it.
    let ioService: (any ResidentIOService)?
    let ioOutstanding = Atomic<Int>(0)
    let ioOutcomes = Mutex<[Int: IOOutcome]>([:])
    let ioOutcomeCount = Atomic<Int>(0)
    /// Set when a request's slot is published again: the driver looks at every in-flight slot.
    let ioResumed = Atomic<Bool>(false)

    init(context: GLContext, configuration: MegakernelConfiguration, options: ResidentOptions, logger: Logger, metrics: ResidentMetrics,
         debugSink: DebugOutput, lossNumber: Int, reservation: RingReservation, startingWords: [String: [UInt32]],
         io ioService: (any ResidentIOService)?, onLost: @escaping @Sendable (ResidentCore) -> Void) throws(MegakernelError) {
        self.ioService = ioService
        self.metrics = metrics
        self.debugSink = debugSink
        self.lossNumber = lossNumber
        self.onLost = onLost
        self.reservation = reservation
        let controlWords: [UInt32]
        let debugWords: [UInt32]
        do throws(ProtocolError) {
            // The kernel posts IO requests only where a host does them, whatever the options say.
            var initial = options.control
            initial[RingProtocol.Control.ioServed] = ioService == nil ? 0 : 1
            controlWords = try RingEncoding.control(words: options.controlWords, tenants: options.tenants, initial: initial)
            debugWords = try RingEncoding.emptyDebugLog(records: options.debugRecords)
        } catch { throw .invalidBatch(error) }
        (workgroups, rounds) = try Self.geometry(options, on: context)
        spin = options.spin ?? (context.info.isSoftware ? .zero : .microseconds(50))
        self.context = context
        self.options = options
        self.logger = logger
        self.layout = ResidentLayout(slots: options.slots)
        self.lanes = configuration.workgroupSize
        let regions = try Self.protocolBuffers(context: context, configuration: configuration, options: options, controlWords: controlWords,
                                               debugWords: debugWords.count, startingWords: startingWords)
        (control, ring, debug, io, queues, claims, protocolBinding) = regions
        control.view.write(controlWords, atWord: 0)
        installed = Mutex(try ResidentProgram(configuration: configuration, context: context, protocol: protocolBinding,
                                              startingWords: startingWords, previous: nil, placement: options.placement))
        let n = options.slots
        slotState = .allocate(capacity: n)
        slotGeneration = .allocate(capacity: n)
        slotSequence = .allocate(capacity: n)
        for i in 0..<n {
            (slotState + i).initialize(to: Atomic(Self.slotFree))
            (slotGeneration + i).initialize(to: Atomic(0))
            (slotSequence + i).initialize(to: Atomic(0))
        }
        holders = .allocate(capacity: n)
        holders.initialize(repeating: nil, count: n)
        slotRecord = .allocate(capacity: n)
        slotRecord.initialize(repeating: -1, count: n)
        let p = ResidentLayout.priorities
        queueNext = .allocate(capacity: p)
        queueTail = .allocate(capacity: p)
        for i in 0..<p {
            (queueNext + i).initialize(to: Atomic(0))
            (queueTail + i).initialize(to: Atomic(0))
        }
        queueReady = .allocate(capacity: p * n)
        for i in 0..<(p * n) { (queueReady + i).initialize(to: Atomic(UInt32.max)) }
        try checkIORegions()
    }

    /// Checks the sizes in `options` and picks workgroups and rounds for `context`'s device.
    private static func geometry(_ options: ResidentOptions, on context: GLContext) throws(MegakernelError) -> (workgroups: UInt32, rounds: UInt32) {
        func invalid(_ problem: String, _ fix: String) -> MegakernelError {
            .invalidOptions(problem: "resident options: \(problem)", fix: fix)
        }
        guard (1...RingProtocol.maxSlots).contains(options.slots) else { throw invalid("\(options.slots) slots", "use 1 to \(RingProtocol.maxSlots)") }
        guard options.starvationGuard >= 1 else { throw invalid("a starvation guard of 0 rounds", "use 1 or more") }
        let loopBudget = context.info.limits.maxLoopIterations.map { Int($0) }
        let defaultWorkgroups: UInt32 = context.info.isSoftware ? 1 : 8
        let workgroups = options.workgroups ?? defaultWorkgroups
        // More workgroups than the default run in waves: fewer rounds each keep a dispatch as long.
        let defaultRounds = loopBudget == nil ? roundsPerChunk : 64
        let scaled = UInt64(defaultRounds) * UInt64(defaultWorkgroups) / UInt64(max(1, workgroups))
        let rounds = options.rounds ?? UInt32(max(1, min(UInt64(defaultRounds), scaled)))
        guard rounds >= 1 else { throw invalid("0 rounds per dispatch", "use 1 or more") }
        // Where loops run in chunks with an abort poll between them (no driver loop budget), a
        // dispatch of more rounds than one chunk would poll between barriers, and lanes that read
        // the abort word at different moments could leave the loop apart: one chunk at most.
        if loopBudget == nil, rounds > roundsPerChunk {
            throw invalid("\(rounds) rounds per dispatch: past \(roundsPerChunk) the kernel's loop would poll its abort word between workgroup barriers", "use at most \(roundsPerChunk) rounds")
        }
        if let loopBudget, Int(rounds) * 2 > loopBudget {
            throw invalid("\(rounds) rounds per dispatch: this driver ends an invocation's loops after \(loopBudget) iterations, which the rounds share with handler loops", "use at most \(loopBudget / 2) rounds")
        }
        guard options.workgroups != 0 else { throw invalid("0 workgroups", "use 1 or more") }
        // Checked here, not at the first dispatch: there it would read as a lost kernel.
        let most = context.info.limits.maxWorkgroupCount[0]
        if let workgroups = options.workgroups, workgroups > most {
            throw invalid("\(workgroups) workgroups: this device dispatches at most \(most)", "use 1 to \(most) workgroups")
        }
        return (workgroups, rounds)
    }

    deinit {
        holders.deinitialize(count: layout.slots)
        holders.deallocate()
        slotRecord.deallocate()
        slotState.deallocate()
        slotGeneration.deallocate()
        slotSequence.deallocate()
        queueNext.deallocate()
        queueTail.deallocate()
        queueReady.deallocate()
    }

    func start() {
        guard lifecycle.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged else { return }
        let driver = Thread { [self] in self.drive() }
        driver.name = "vyre-gl resident driver"
        driver.start()
        let completer = Thread { [self] in self.complete() }
        completer.name = "vyre-gl resident completions"
        completer.start()
    }

    // MARK: producers

    func publish(_ item: WorkItem) throws(ResidentError) -> ResidentTicket {
        let ticket = ResidentTicket(spin: spin)
        try publish(item, ticket: ticket, forTenant: false)
        return ticket
    }

    /// Publishes `item` under `ticket`; `forTenant` (a tenant handle's op, within its quota) may
    /// take the slots kept for quotas.
    func publish(_ item: WorkItem, ticket: ResidentTicket, forTenant: Bool) throws(ResidentError) {
        let failed = withUnsafePointer(to: item) {
            publish(UnsafeBufferPointer(start: $0, count: 1), forTenant: forTenant, holder: { _ in .single(ticket) })
        }
        if let failed { throw failed }
    }

    /// Publishes `items` in order, each queue's tail moved once at the end, so the kernel sees
    /// them together. Stops at the first item that cannot be published (a full ring, a shutdown,
    /// a bad item): returns the tickets of those before it and that error.
    func publish(_ items: UnsafeBufferPointer<WorkItem>) -> (tickets: [ResidentTicket], stoppedBy: ResidentError?) {
        var tickets: [ResidentTicket] = []
        tickets.reserveCapacity(items.count)
        let failed = publish(items) { _ in
            let ticket = ResidentTicket(spin: spin)
            tickets.append(ticket)
            return .single(ticket)
        }
        return (tickets, failed)
    }

    /// Publishes `items` in order under one batch ticket (members `first ..< first + count`),
    /// each queue's tail moved once at the end. Stops at the first item that cannot be published;
    /// returns how many were, and why the rest were not.
    func publish(_ items: UnsafeBufferPointer<WorkItem>, into batch: ResidentBatchTicket, from first: Int) -> (published: Int, stoppedBy: ResidentError?) {
        var n = 0
        let failed = publish(items) { i in
            n = i + 1
            return .member(batch, first + i)
        }
        return (n, failed)
    }

    /// Publishes the longest prefix of `items` that can be (every item checked, as many as the
    /// ring has room for), with the holder `holder(i)` gives for the `i`-th; returns why the rest
    /// were not, if any were left.
    ///
    /// The shared counters are touched once per call, not once per item: room is reserved with
    /// one compare-and-swap on `inFlight`, each priority's queue entries with one add, runs of
    /// free slots with one compare-and-swap on `nextSequence`, and each touched queue's tail
    /// moves once at the end, so the kernel takes the items up together.
    private func publish(_ items: UnsafeBufferPointer<WorkItem>, forTenant: Bool = false, holder: (Int) -> TicketHolder) -> ResidentError? {
        guard !items.isEmpty else { return nil }
        // A lost core refuses as `recovering`: the kernel retries on the core that replaces it.
        guard accepting.load(ordering: .acquiring) else { return isLost ? .recovering : .shutDown }
        // Checked first: what stops the batch is the first item that cannot go, in order.
        var failed: ResidentError? = nil
        var valid = 0
        for item in items {
            do throws(ProtocolError) { try RingEncoding.check(item, index: 0) } catch { failed = .invalidItem(error); break }
            valid += 1
        }
        let count = reserveRoom(valid, forTenant: forTenant)
        if count < valid { failed = .ringFull(slots: forTenant ? layout.slots : layout.slots - reservation.slots.load(ordering: .relaxed)) }
        guard count > 0 else { return failed }
        let priorities = ResidentLayout.priorities
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: priorities) { next in
            // Each priority's queue entries, reserved as one block: fixed before any slot is
            // PUBLISHED, so the driver never takes an earlier use's sequence for these.
            next.initialize(repeating: 0)
            for i in 0..<count { next[Int(items[i].priority.rawValue)] &+= 1 }
            var touched = 0
            for p in 0..<priorities where next[p] > 0 {
                next[p] = queueNext[p].add(next[p], ordering: .acquiringAndReleasing).oldValue
                touched |= 1 << p
            }
            var i = 0
            takeSlots(count) { run in
                if recordingOn.load(ordering: .acquiring) { record(UnsafeBufferPointer(rebasing: items[i..<(i + run.count)]), in: run) }
                for slot in run {
                    let p = Int(items[i].priority.rawValue)
                    place(items[i], in: slot, sequence: next[p], holder: holder(i))
                    next[p] &+= 1
                    i += 1
                }
            }
            submitted.add(count, ordering: .relaxed)
            metrics.submitted.increment(by: count)
            for p in 0..<priorities where touched & (1 << p) != 0 { advanceTail(p) }
        }
        // Sequentially consistent with the shutdown's store of `ended` and its final pass: either
        // that pass sees these slots in flight, or `published()` sees `ended` and fails them.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        published()
        return failed
    }

    /// Hands `items` (about to be placed into `slots`) to the recording, and notes each one's
    /// record index with its slot before the slot is PUBLISHED, so its outcome finds it.
    private func record(_ items: UnsafeBufferPointer<WorkItem>, in slots: UnsafeBufferPointer<Int>) {
        guard let recording = recording.withLock({ $0 }) else { return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: items.count) { indices in
            recording.append(items, into: indices)
            for (k, slot) in slots.enumerated() { slotRecord[slot] = indices[k] }
        }
    }

    /// How many more ops may go in flight, with `current` in flight: up to the ring's slots for
    /// a tenant handle's op (its quota keeps its room), and for any other op only while the ops
    /// of no tenant stay within the slots no quota keeps.
    private func room(forTenant: Bool, current: Int) -> Int {
        let free = layout.slots - current
        guard !forTenant else { return free }
        let untenanted = max(0, current - reservation.tenantInFlight.load(ordering: .acquiring))
        return min(free, layout.slots - reservation.slots.load(ordering: .acquiring) - untenanted)
    }

    /// Reserves room for up to `wanted` ops in one compare-and-swap on `inFlight` (which counts
    /// slots taken or promised); returns how many fit.
    private func reserveRoom(_ wanted: Int, forTenant: Bool) -> Int {
        var current = inFlight.load(ordering: .acquiring)
        while true {
            let count = min(wanted, room(forTenant: forTenant, current: current))
            guard count > 0 else { return 0 }
            let (won, seen) = inFlight.compareExchange(expected: current, desired: current + count, ordering: .acquiringAndReleasing)
            if won { return count }
            current = seen
        }
    }

    /// After ops are visible to the kernel: wake both threads, and fail what a shutdown that began
    /// meanwhile may have missed in its final pass.
    private func published() {
        wake(driverIdle, driverWake)
        wake(completerIdle, completerWake)
        if stopState.load(ordering: .sequentiallyConsistent) == Self.ended { failRemaining(.cancelled) }
    }

    /// Writes `item` into `slot` (taken by this producer), stores PUBLISHED and writes its queue
    /// entry at `sequence` of its priority; the queue's tail is left for the caller to move.
    private func place(_ item: WorkItem, in slot: Int, sequence: UInt32, holder: TicketHolder) {
        // The slot is this producer's (writing) until the state store below hands it on.
        holders[slot] = holder
        // Only the slot's holder changes its generation: no read-modify-write needed.
        let generation = slotGeneration[slot].load(ordering: .relaxed) &+ 1
        slotGeneration[slot].store(generation, ordering: .relaxed)
        let priority = Int(item.priority.rawValue)
        slotSequence[slot].store(sequence, ordering: .relaxed)
        let state = layout.generationWord(slot: slot)
        queues.view.storeRelaxed(generation, at: state)
        queues.view.storeRelaxed(0, at: state + 1)
        let base = slot * RingProtocol.slotWords
        ring.view.storeRelaxed(item.opcode, at: base + RingProtocol.opcodeWord)
        ring.view.storeRelaxed(item.tenant, at: base + RingProtocol.tenantWord)
        ring.view.storeRelaxed(item.priority.rawValue, at: base + RingProtocol.priorityWord)
        item.args.withUnsafeBufferPointer { args in
            for k in 0..<RingProtocol.argsPerSlot {
                ring.view.storeRelaxed(k < args.count ? args[k] : 0, at: base + RingProtocol.firstArgWord + k)
            }
        }
        ring.view.store(SlotStatus.published.rawValue, at: base + RingProtocol.statusWord)
        // Ordered before `published()`'s look at the stop state by the caller's fence.
        slotState[slot].store(Self.slotInFlight, ordering: .releasing)
        writeEntry(slot: slot, generation: generation, priority: priority, sequence: sequence)
    }

    /// Takes `count` free slots (room for them was reserved), in runs, and hands each run to
    /// `place` as soon as it is this producer's: a run of free slots from the next sequence is
    /// taken (free -> writing) before the sequence moves over it, with one compare-and-swap. A
    /// slot still in flight (an op held by a disabled tenant, or a slow one) is skipped, its
    /// sequence given up, so one held op never blocks the ring. The completion thread's window
    /// then spans more than a ring of sequences and is cut to the last `slots` of them, which
    /// still name every slot once.
    ///
    /// `place` must leave each slot in flight before the next run is looked for: a producer that
    /// walks a whole lap of a nearly full ring comes back to the runs it took, and would wait
    /// forever for a slot of its own still `writing`; two producers would wait for each other's.
    /// A slot is `writing` only between two steps of one producer, or of a retire.
    private func takeSlots(_ count: Int, place: (UnsafeBufferPointer<Int>) -> Void) {
        let n = UInt32(layout.slots)
        var got = 0
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { out in
            while got < count {
                let reserved = nextSequence.load(ordering: .acquiring)
                var run = 0
                while got + run < count {
                    let slot = Int((reserved &+ UInt32(run)) % n)
                    let (took, seen) = slotState[slot].compareExchange(expected: Self.slotFree, desired: Self.slotWriting, ordering: .acquiringAndReleasing)
                    guard took else {
                        // In flight at the run's start: skip its sequence (whoever wins the
                        // compare-and-swap, the sequence moves on). `writing` is another
                        // producer or a retire between its two steps: look again.
                        if run == 0, seen == Self.slotInFlight {
                            _ = nextSequence.compareExchange(expected: reserved, desired: reserved &+ 1, ordering: .acquiringAndReleasing)
                        }
                        break
                    }
                    out[run] = slot
                    run += 1
                }
                guard run > 0 else { continue }
                if nextSequence.compareExchange(expected: reserved, desired: reserved &+ UInt32(run), ordering: .acquiringAndReleasing).exchanged {
                    got += run
                    place(UnsafeBufferPointer(rebasing: out[0..<run]))
                } else {
                    // A stale sequence (another producer moved it meanwhile): give the run back.
                    for slot in out[0..<run] { slotState[slot].store(Self.slotFree, ordering: .releasing) }
                }
            }
        }
    }

    /// Appends `slot` to its priority's queue and advances the published tail (lock-free).
    func enqueue(slot: Int, generation: UInt32, priority p: Int) {
        writeEntry(slot: slot, generation: generation, priority: p, sequence: reserveEntry(slot: slot, priority: p))
        advanceTail(p)
    }

    func reserveEntry(slot: Int, priority p: Int) -> UInt32 {
        let sequence = queueNext[p].add(1, ordering: .acquiringAndReleasing).oldValue
        slotSequence[slot].store(sequence, ordering: .relaxed)
        return sequence
    }

    /// Writes the entry and marks it ready; the kernel sees it once the tail passes it.
    func writeEntry(slot: Int, generation: UInt32, priority p: Int, sequence: UInt32) {
        let n = layout.slots
        let entry = layout.entryWord(priority: p, sequence: sequence)
        queues.view.storeRelaxed(UInt32(slot), at: entry)
        queues.view.storeRelaxed(generation, at: entry + 1)
        queueReady[p * n + Int(sequence % UInt32(n))].store(sequence, ordering: .releasing)
    }

    /// Moves priority `p`'s published tail over every ready entry, whoever wrote it.
    func advanceTail(_ p: Int) {
        let n = layout.slots
        var moved: UInt32 = 0
        // The doorbell goes up by the entries this call moved the tail over, after the tail:
        // a workgroup that sees the doorbell move finds the tail already there.
        defer { if moved > 0 { _ = queues.view.add(moved, at: ResidentLayout.doorbellWord) } }
        while true {
            // Over the run of ready entries from the tail at once (at most a queue's worth).
            let tail = queueTail[p].load(ordering: .acquiring)
            var end = tail
            while end &- tail < UInt32(n), queueReady[p * n + Int(end % UInt32(n))].load(ordering: .acquiring) == end { end &+= 1 }
            guard end != tail else { return }
            guard queueTail[p].compareExchange(expected: tail, desired: end, ordering: .acquiringAndReleasing).exchanged else { continue }
            moved &+= end &- tail
            // The mapped tail only moves forward, whichever producer stores last (a locked
            // operation, which also drains the CPU's write-combining buffers, so the slot's and
            // the entry's words are out before the tail says they are there).
            while true {
                let shown = queues.view.load(ResidentLayout.tailWord(p))
                if Int32(bitPattern: end &- shown) <= 0 { break }
                if queues.view.compareExchange(at: ResidentLayout.tailWord(p), expected: shown, desired: end).exchanged { break }
            }
        }
    }

    func wake(_ idle: borrowing Atomic<Bool>, _ semaphore: DispatchSemaphore) {
        if idle.load(ordering: .acquiring), idle.exchange(false, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    /// Parks the calling thread until woken, unless `hasWork` turns true after the flag is set.
    private func park(_ idle: borrowing Atomic<Bool>, _ semaphore: DispatchSemaphore, timeout: DispatchTime = .distantFuture, hasWork: () -> Bool) {
        idle.store(true, ordering: .sequentiallyConsistent)
        if hasWork() {
            // Work came in between: take the flag back, unless a waker took it and will signal.
            if idle.exchange(false, ordering: .acquiringAndReleasing) { return }
        }
        if semaphore.wait(timeout: timeout) == .timedOut, !idle.exchange(false, ordering: .acquiringAndReleasing) {
            // A waker took the flag as the wait ended: take its signal so the next wait is not spurious.
            semaphore.wait()
        }
    }

    func waitForRoom(forTenant: Bool = false) {
        if room(forTenant: forTenant, current: inFlight.load(ordering: .acquiring)) > 0 { return }
        roomWaiters.add(1, ordering: .acquiringAndReleasing)
        _ = room.wait(timeout: .now() + .milliseconds(1))
        roomWaiters.subtract(1, ordering: .acquiringAndReleasing)
    }

    /// Tasks waiting for room, by id, resumed when a slot is freed.
    private let asyncRoomWaiters = Mutex<[Int: CheckedContinuation<Void, Never>]>([:])
    private let nextRoomWaiter = Atomic<Int>(0)

    /// Returns once a slot may be free: at once when one is (or the kernel has ended, or the task
    /// is cancelled), else when the completion thread frees one. The caller tries again.
    func waitForRoomAsync(forTenant: Bool = false) async {
        let id = nextRoomWaiter.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                // Checked under the lock the freeing side takes after it frees: no wake-up is lost.
                let now = asyncRoomWaiters.withLock { w -> Bool in
                    if Task.isCancelled || room(forTenant: forTenant, current: inFlight.load(ordering: .acquiring)) > 0 || stopState.load(ordering: .acquiring) == Self.ended { return true }
                    w[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            asyncRoomWaiters.withLock { $0.removeValue(forKey: id) }?.resume()
        }
    }

    /// A slot was freed (or the kernel ended): waiting threads and tasks try again.
    private func roomMade() {
        if roomWaiters.load(ordering: .acquiring) > 0 { room.signal() }
        let waiting = asyncRoomWaiters.withLock { w in
            defer { w = [:] }
            return Array(w.values)
        }
        for c in waiting { c.resume() }
    }

    func setTenant(_ tenant: UInt32, enabled: Bool) throws(ResidentError) {
        let table = Int(control.view.load(RingProtocol.Control.tenantBase))
        let size = Int(control.view.load(RingProtocol.Control.tenantTableSize))
        guard Int(tenant) < size, table + Int(tenant) < control.view.wordCount else {
            throw .tenantOutsideTable(tenant, tableSize: min(size, max(0, control.view.wordCount - table)))
        }
        control.view.store(enabled ? 1 : 0, at: table + Int(tenant))
        tenantsChanged.store(true, ordering: .releasing)
        wake(driverIdle, driverWake)
    }

    /// Has the driver install `program` at its next dispatch boundary (the ring, queues and
    /// control words stay as they are, so no slot is lost or run twice); `done(true)` once it
    /// runs, `done(false)` if the core ended first.
    func swap(to program: ResidentProgram, done: @escaping @Sendable (Bool) -> Void) {
        let posted = mailbox.withLock { m -> Bool in
            guard !m.closed else { return false }
            m.program?.done(false)
            m.program = (program, done)
            return true
        }
        guard posted else { return done(false) }
        mailboxFull.store(true, ordering: .releasing)
        wake(driverIdle, driverWake)
    }

    /// Has the driver fail, at its next dispatch boundary, every op of `tenant` no lane has
    /// claimed, with ``NotRunReason/tenantUnregistered``; `done` once it has (or the core ended).
    func withdraw(tenant: UInt32, done: @escaping @Sendable () -> Void) {
        let posted = mailbox.withLock { m -> Bool in
            guard !m.closed else { return false }
            m.withdrawals.append((tenant, done))
            return true
        }
        guard posted else { return done() }
        mailboxFull.store(true, ordering: .releasing)
        wake(driverIdle, driverWake)
    }

    /// On the driver, between dispatches: what ``swap(to:done:)`` and ``withdraw(tenant:done:)`` posted.
    private func serveMailbox() {
        let (swap, withdrawals) = mailbox.withLock { m in
            mailboxFull.store(false, ordering: .releasing)
            defer { m.program = nil; m.withdrawals = [] }
            return (m.program, m.withdrawals)
        }
        if let swap {
            installed.withLock { $0 = swap.program }
            swap.done(true)
        }
        guard !withdrawals.isEmpty else { return }
        let tenants = Set(withdrawals.map(\.tenant))
        forEachInFlightSlot { slot in
            let base = slot * RingProtocol.slotWords
            guard ring.view.load(base) == SlotStatus.published.rawValue, tenants.contains(ring.view.load(base + RingProtocol.tenantWord)) else { return }
            fail(slot, with: .notRun(.tenantUnregistered))
        }
        for w in withdrawals { w.done() }
    }

    /// Set by ``setTenant(_:enabled:)``: the driver looks at every in-flight slot again.
    private let tenantsChanged = Atomic<Bool>(false)
    /// Slots WAIT_IO as of the driver's last full look (driver thread only).
    private var waitingIO = 0

    // MARK: the driver thread

    /// Keeps the kernel dispatched while ops can run (and for the linger after), queues again the
    /// slots a dispatch claimed but did not run, and ends when shut down or found lost.
    private func drive() {
        var lingerUntil = ContinuousClock.now
        let step = DispatchStep(groups: WorkgroupSize(workgroups), parameters: ["iterations": rounds, "starvation": options.starvationGuard])
        var sinceLostCheck = 0
        var lastRan = queues.view.load(ResidentLayout.completedWord)
        // In-flight ops that cannot run (parked behind a disabled tenant or SHUTDOWN), as of the
        // last full look: between looks, the rest are taken to be runnable.
        var held = 0
        while true {
            if mailboxFull.load(ordering: .acquiring) { serveMailbox() }
            if stalled.load(ordering: .acquiring) {
                // The watchdog fired between dispatches: nothing runs, so the ring can be read.
                lose(.stalled(options.progressDeadline ?? options.dispatchTimeout), ringReadable: true)
                break
            }
            // Lanes lose a claim only when the driver ends their loop early: look for such slots
            // every 16 dispatches, or at once when a dispatch ran nothing while ops wait.
            let ran = queues.view.load(ResidentLayout.completedWord)
            sinceLostCheck += 1
            let look = sinceLostCheck >= 16 || ran == lastRan
            if look { sinceLostCheck = 0 }
            lastRan = ran
            // A full look walks every in-flight slot, which at tens of thousands in flight costs
            // more than a dispatch: only when something may have changed, or every 16 dispatches.
            let runnable: Int
            let settling = !settleWaiters.withLock { $0.isEmpty }
            if look || settling || tenantsChanged.exchange(false, ordering: .acquiringAndReleasing) || ioResumed.exchange(false, ordering: .acquiringAndReleasing)
                || stopState.load(ordering: .acquiring) != Self.running {
                runnable = reconcile(lookForLostClaims: look)
                held = max(0, inFlight.load(ordering: .acquiring) - runnable)
            } else {
                runnable = max(0, inFlight.load(ordering: .acquiring) - held)
            }
            runnableOps.store(runnable, ordering: .releasing)
            let stop = stopState.load(ordering: .acquiring)
            // Ops waiting for I/O run again once it is done: a drain and a settle wait for them.
            if stop == Self.cancelling || (stop == Self.draining && runnable == 0 && waitingIO == 0) { break }
            if settling && runnable == 0 && waitingIO == 0 {
                withdrawHeld()
                continue
            }
            if runnable > 0 {
                lingerUntil = .now + options.linger
            } else if ContinuousClock.now >= lingerUntil {
                // A drain that waits only for I/O parks too (the I/O's end wakes it): only a new
                // stop request is news, not the drain it is already in.
                park(driverIdle, driverWake) {
                    reconcileCount() > 0 || stopState.load(ordering: .acquiring) != stop || !settleWaiters.withLock { $0.isEmpty }
                        || mailboxFull.load(ordering: .acquiring)
                }
                continue
            }
            dispatching.store(true, ordering: .sequentiallyConsistent)
            if halted.load(ordering: .sequentiallyConsistent) {
                // The test seam: dispatches that run nothing, as a kernel that makes no progress.
                dispatching.store(false, ordering: .sequentiallyConsistent)
                usleep(1000)
                dispatchesSinceProgress.add(1, ordering: .relaxed)
                continue
            }
            let dispatched = dispatch(step)
            dispatching.store(false, ordering: .sequentiallyConsistent)
            guard dispatched else { break }
        }
        drainDebugLog()
        stopState.store(Self.ended, ordering: .sequentiallyConsistent)
        let (swap, withdrawals) = mailbox.withLock { m in
            m.closed = true
            defer { m.program = nil; m.withdrawals = [] }
            return (m.program, m.withdrawals)
        }
        swap?.done(false)
        // The completion thread fails what is left in flight, these tenants' ops among them.
        for w in withdrawals { w.done() }
        wake(completerIdle, completerWake)
        // Settling callers go on: the completion thread fails what is left.
        for waiter in settleWaiters.withLock({ w in defer { w = [] }; return w }) { waiter.resume() }
        driverDone.signal()
    }

    /// The protocol buffers of a core: a mapped buffer for each of control, ring, debug log, IO
    /// queue and queues and a device-local one for the claims, or, where the device has too few
    /// storage blocks for them (``MegakernelBlocks``), those five as regions of one mapped block
    /// and the claims in a device-local one, with the extra buffers that had to join them.
    private static func protocolBuffers(context: GLContext, configuration: MegakernelConfiguration, options: ResidentOptions, controlWords: [UInt32],
                                        debugWords: Int, startingWords: [String: [UInt32]]) throws(MegakernelError)
        -> (MappedRegion, MappedRegion, MappedRegion, MappedRegion, MappedRegion, Owned<DeviceBuffer>, ProtocolBinding) {
        let layout = ResidentLayout(slots: options.slots)
        func mapped(_ words: Int) throws(MegakernelError) -> Owned<MappedBuffer> {
            try onDevice { () throws(VyreGLError) in Owned(try context.makeMappedBuffer(bytes: words * 4, placement: options.placement)) }
        }
        var lengths: [String: UInt32] = ["control": UInt32(controlWords.count), "ring": UInt32(layout.ringWords), "debug_log": UInt32(debugWords),
                                         "io_queue": UInt32(RingProtocol.IO.words), "queues": UInt32(layout.queueBufferWords),
                                         "claims": UInt32(ResidentLayout.claimsWords)]
        let names = ["control", "ring", "debug_log", "io_queue", "queues"]
        // The program is built (and validated) only where it may be packed, to learn how.
        let blocks = MegakernelBlocks.fitsUnpacked(extras: configuration.extraBuffers, limits: context.limits)
            ? .unpacked(extras: configuration.extraBuffers) : try configuration.residentKernel(limits: context.limits).blocks
        guard blocks.isPacked else {
            var r: [MappedRegion] = []
            for name in names {
                let buffer = try mapped(Int(lengths[name]!))
                r.append(MappedRegion(buffer: buffer, view: buffer.value.view))
            }
            let claims = try onDevice { () throws(VyreGLError) in Owned(try context.makeDeviceBuffer(bytes: ResidentLayout.claimsWords * 4)) }
            let handles: [UInt32: BufferHandle] = [
                MegakernelBindings.control: r[0].buffer.value.handle, MegakernelBindings.ring: r[1].buffer.value.handle,
                MegakernelBindings.debug: r[2].buffer.value.handle, MegakernelBindings.io: r[3].buffer.value.handle,
                MegakernelBindings.queues: r[4].buffer.value.handle, MegakernelBindings.claims: claims.value.handle,
            ]
            return (r[0], r[1], r[2], r[3], r[4], claims, ProtocolBinding(handles: handles, blocks: blocks))
        }
        let joinedNames = Set(blocks.joined.map(\.name))
        let joined = try Batch.extraStartingContents(blocks.joined, startingWords.filter { joinedNames.contains($0.key) })
        for (decl, contents) in joined { lengths[decl.name] = UInt32(contents.wordCount) }
        let (bases, words) = blocks.layout(lengths: lengths)
        for (k, packing) in blocks.packings.enumerated() {
            try onDevice { () throws(VyreGLError) in try context.checkBindable(packing.block.name, words: words[k]) }
        }
        // The resident kernel's mapped block comes first, its device block second.
        let block = try mapped(words[0])
        let device = try onDevice { () throws(VyreGLError) in Owned(try context.makeDeviceBuffer(bytes: words[1] * 4)) }
        func region(_ name: String) -> MappedRegion {
            MappedRegion(buffer: block, view: block.value.view.slice(words: bases[name]!..<(bases[name]! + Int(lengths[name]!))))
        }
        var binding = ProtocolBinding(handles: [0: block.value.handle, 1: device.value.handle], blocks: blocks, lengths: lengths, bases: bases)
        for (decl, contents) in joined {
            let words = bases[decl.name]!..<(bases[decl.name]! + contents.wordCount)
            if decl.placement == .hostMapped {
                let r = region(decl.name)
                r.view.write(contents.materialized, atWord: 0)
                binding.joined[decl.name] = .mappedRegion(r)
            } else {
                try onDevice { () throws(VyreGLError) in try device.value.upload(contents.materialized, atWord: words.lowerBound) }
                binding.joined[decl.name] = .deviceRegion(device, words)
            }
        }
        return (region("control"), region("ring"), region("debug_log"), region("io_queue"), region("queues"), device, binding)
    }

    /// Runs one dispatch of the kernel and what follows it (the debug log; a SHUTDOWN op's stop).
    /// Returns false when the dispatch failed, and the kernel is lost.
    private func dispatch(_ step: DispatchStep) -> Bool {
        do throws(VyreGLError) {
            let began = ContinuousClock.now
            let program = current
            // The packed regions' bases and lengths are the program's: a swap may change the set.
            let step = program.parameters.isEmpty ? step : DispatchStep(groups: step.groups, parameters: step.parameters.merging(program.parameters) { a, _ in a })
            _ = try context.submit(program.pipeline, steps: [step], buffers: program.handles, options: DispatchOptions(timeout: options.dispatchTimeout), monitor: dispatchMonitor)
            let took = ContinuousClock.now - began
            let nanoseconds = Int(took.components.seconds) * 1_000_000_000 + Int(took.components.attoseconds / 1_000_000_000)
            dispatchNanoseconds.add(nanoseconds, ordering: .relaxed)
            metrics.dispatchDuration.recordNanoseconds(Int64(nanoseconds))
        } catch {
            switch error {
            case .contextLost(let status):
                lose(.reset(status: status), ringReadable: false)
            case .timeout(_, _, let stopped):
                // Stopped by the progress watchdog, or by the dispatch's own timeout; a dispatch that
                // would not stop may still write the ring.
                let deadline = stalled.load(ordering: .acquiring) ? options.progressDeadline ?? options.dispatchTimeout : options.dispatchTimeout
                lose(.stalled(deadline), ringReadable: stopped)
            default:
                lose(.dispatchFailed(error), ringReadable: false)
            }
            return false
        }
        dispatches.add(1, ordering: .relaxed)
        dispatchesSinceProgress.add(1, ordering: .relaxed)
        metrics.dispatches.increment()
        drainDebugLog()
        // SHUTDOWN set while no shutdown was asked for: an op set it (cancel sets it too).
        if control.view.load(RingProtocol.Control.shutdown) != 0, stopRequested == 0, !shutdownByOp.exchange(true, ordering: .acquiringAndReleasing) {
            // A SHUTDOWN op ran: later ops stay PUBLISHED; stop taking new ones.
            accepting.store(false, ordering: .releasing)
            _ = stopState.compareExchange(expected: Self.running, desired: Self.draining, ordering: .acquiringAndReleasing)
        }
        return true
    }

    /// Takes the kernel for lost (the driver, which then ends): new ops are refused as
    /// `recovering`, and what is pending fails with the loss once the driver has ended.
    /// `ringReadable`: no dispatch runs or can run, so the slots' status words are the truth.
    private func lose(_ cause: DeviceLoss.Cause, ringReadable: Bool) {
        loss.withLock { if $0 == nil { $0 = (cause, ringReadable) } }
        accepting.store(false, ordering: .releasing)
        logger.error("the resident kernel was lost; pending ops fail and it is rebuilt", metadata: ["cause": "\(cause)", "loss": "\(lossNumber)"])
        metrics.lost(cause)
        // The rebuild begins now (waiting submits wait for it rather than retry); it first waits
        // for this driver and the completion thread to end.
        onLost(self)
    }

    /// Whether the driver found the kernel lost.
    var isLost: Bool { loss.withLock { $0 != nil } }
    /// Why the kernel was lost, if it was.
    var lossCause: DeviceLoss.Cause? { loss.withLock { $0?.cause } }

    /// Callers of ``settle()`` waiting for the driver.
    private let settleWaiters = Mutex<[CheckedContinuation<Void, Never>]>([])

    /// Returns once no accepted op can run: each has ended, or is held (its tenant disabled, or a
    /// SHUTDOWN op ran), and the held ones have failed with ``ResidentError/notRun(_:)`` and given
    /// their slots back. Ops published meanwhile are waited for too.
    func settle() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ended = settleWaiters.withLock { w -> Bool in
                guard stopState.load(ordering: .acquiring) != Self.ended else { return true }
                w.append(c)
                return false
            }
            if ended { c.resume() } else { wake(driverIdle, driverWake) }
        }
    }

    /// On the driver, between dispatches, once no in-flight op can run: fails the held ones and
    /// resumes the settling callers.
    private func withdrawHeld() {
        let shutdownSet = control.view.load(RingProtocol.Control.shutdown) != 0
        forEachInFlightSlot { slot in
            // Held: SHUTDOWN is set, or the kernel parked it and its tenant is still disabled. An
            // op published since the look is neither, and stays.
            let base = slot * RingProtocol.slotWords
            guard ring.view.load(base) == SlotStatus.published.rawValue else { return }
            let parked = queues.view.load(layout.generationWord(slot: slot) + 1) != 0
            if shutdownSet {
                fail(slot, with: .notRun(.shutdownOp))
            } else if parked && !tenantEnabled(ring.view.load(base + RingProtocol.tenantWord)) {
                fail(slot, with: .notRun(.tenantDisabled))
            }
        }
        for waiter in settleWaiters.withLock({ w in defer { w = [] }; return w }) { waiter.resume() }
    }

    /// Between dispatches (nothing of the kernel runs, so plain reads and a reset are safe): hands
    /// the log's records to the stream in append order, counts those that found it full, and
    /// empties it for the next dispatch.
    private func drainDebugLog() {
        let words = RingProtocol.Debug.recordWords
        let cursor = Int(debug.view.load(RingProtocol.Debug.cursorWord))
        guard cursor != 0 else { return }
        let capacity = (debug.view.wordCount - 1) / words
        let written = cursor / words
        let kept = min(written, capacity)
        let records = debug.view.read(words: 1..<(1 + kept * words))
        var dropped = 0
        for r in 0..<kept {
            let b = r * words
            if !debugSink.deliver(DebugRecord(format: records[b], arg0: records[b + 1], arg1: records[b + 2], slotWordOffset: records[b + 3])) { dropped += 1 }
        }
        // A record the stream dropped for a new one was delivered and then lost: both counts hold
        // what nobody will read.
        let delivered = kept - dropped
        let lost = written - kept + dropped
        debugDelivered.add(delivered, ordering: .relaxed)
        debugLost.add(lost, ordering: .relaxed)
        if delivered > 0 { metrics.debugDelivered.increment(by: delivered) }
        if lost > 0 { metrics.debugLost.increment(by: lost) }
        debug.view.store(0, at: RingProtocol.Debug.cursorWord)
    }

    /// Between dispatches (nothing of the kernel runs): queues again every in-flight slot that is
    /// still PUBLISHED though its entry was claimed (its lane did not run it) and every parked
    /// slot whose tenant is enabled again. Returns how many in-flight ops can run.
    private func reconcile(lookForLostClaims: Bool) -> Int {
        // Counted afresh at every look, with nothing in flight too: a count left from a look
        // while ops waited for I/O would hold a drain forever once they had ended.
        waitingIO = 0
        guard inFlight.load(ordering: .acquiring) > 0 else { return 0 }
        var heads: [UInt32]? = nil
        var runnable = 0
        let shutdownSet = control.view.load(RingProtocol.Control.shutdown) != 0
        forEachInFlightSlot { slot in
            let base = slot * RingProtocol.slotWords
            let status = ring.view.load(base)
            // Waiting for the host's I/O: it runs again once published, not before.
            if status == SlotStatus.waitIO.rawValue { waitingIO += 1; return }
            guard status == SlotStatus.published.rawValue else { runnable += 1; return }
            let state = layout.generationWord(slot: slot)
            let parked = queues.view.load(state + 1) != 0
            let priority = Int(ring.view.load(base + RingProtocol.priorityWord))
            if parked {
                guard !shutdownSet, tenantEnabled(ring.view.load(base + RingProtocol.tenantWord)) else { return }
                queues.view.store(0, at: state + 1)
                enqueue(slot: slot, generation: slotGeneration[slot].load(ordering: .relaxed), priority: priority)
                runnable += 1
                return
            }
            if shutdownSet { return }
            runnable += 1
            guard lookForLostClaims else { return }
            if heads == nil {
                // A failed read back leaves lost claims for the next look; the device's failure
                // itself surfaces at the next dispatch, which fails every pending op with it.
                do throws(VyreGLError) { heads = try claims.value.read(words: 0..<ResidentLayout.priorities) } catch {
                    logger.error("reading the resident kernel's claim heads failed", metadata: ["error": "\(error)"])
                    heads = []
                }
            }
            let sequence = slotSequence[slot].load(ordering: .relaxed)
            if let heads, priority < heads.count, Int32(bitPattern: heads[priority] &- sequence) > 0 {
                // Claimed by a lane that never ran it (the driver ended its loop): run it again.
                enqueue(slot: slot, generation: slotGeneration[slot].load(ordering: .relaxed), priority: priority)
            }
        }
        return runnable
    }

    /// The oldest sequence that may still be in flight; only the completion thread moves it.
    private let oldest = Atomic<UInt32>(0)

    /// Calls `body` with each in-flight slot, oldest first: the window from ``oldest`` to the next
    /// sequence, at most one ring's worth, so no slot comes twice.
    private func forEachInFlightSlot(_ body: (Int) -> Void) {
        let n = UInt32(layout.slots)
        let next = nextSequence.load(ordering: .acquiring)
        var s = oldest.load(ordering: .acquiring)
        if next &- s > n { s = next &- n }
        while s != next {
            let slot = Int(s % n)
            if slotState[slot].load(ordering: .acquiring) == Self.slotInFlight { body(slot) }
            s &+= 1
        }
    }

    /// Moves ``oldest`` over the slots retired since (completion thread only).
    private func advanceOldest() {
        let n = UInt32(layout.slots)
        let next = nextSequence.load(ordering: .acquiring)
        var s = oldest.load(ordering: .relaxed)
        if next &- s > n { s = next &- n }
        while s != next, slotState[Int(s % n)].load(ordering: .acquiring) == Self.slotFree { s &+= 1 }
        oldest.store(s, ordering: .releasing)
    }

    /// Whether some op in flight can still run (a recording's finish waits for those).
    var hasRunnableOps: Bool { reconcileCount() > 0 }

    /// Whether any in-flight op could run now (for the idle check; reads no GPU buffer).
    private func reconcileCount() -> Int {
        guard inFlight.load(ordering: .acquiring) > 0 else { return 0 }
        let shutdownSet = control.view.load(RingProtocol.Control.shutdown) != 0
        var runnable = 0
        forEachInFlightSlot { slot in
            let base = slot * RingProtocol.slotWords
            let status = ring.view.load(base)
            if status == SlotStatus.waitIO.rawValue { return }
            if status != SlotStatus.published.rawValue { runnable += 1; return }
            if shutdownSet { return }
            let parked = queues.view.load(layout.generationWord(slot: slot) + 1) != 0
            if !parked || tenantEnabled(ring.view.load(base + RingProtocol.tenantWord)) { runnable += 1 }
        }
        return runnable
    }

    private func tenantEnabled(_ tenant: UInt32) -> Bool {
        let table = Int(control.view.load(RingProtocol.Control.tenantBase))
        guard tenant < control.view.load(RingProtocol.Control.tenantTableSize), table + Int(tenant) < control.view.wordCount else { return false }
        return control.view.load(table + Int(tenant)) != 0
    }

    // MARK: the completion thread

    /// Watches every in-flight slot's status word and completes the op once it is DONE or FAULT.
    private func complete() {
        var quiet = 0
        var quietSince = ContinuousClock.now
        var seen: UInt32 = 0
        var lastBusy = ContinuousClock.now
        // Since when runnable ops have been in flight with none ending (the progress watchdog).
        var progressSince = ContinuousClock.now
        var sampledAt = ContinuousClock.now
        var sampledAtCompleted = -1
        while true {
            var progressed = false
            // The kernel adds every entry it ran to `completed` after the round: while that word
            // stands still, no slot ended, and the slots need no look.
            let ran = queues.view.load(ResidentLayout.completedWord)
            if inFlight.load(ordering: .acquiring) > 0, ran != seen || quiet & 63 == 0 {
                seen = ran
                var pass = RetirePass()
                forEachInFlightSlot { slot in
                    let status = ring.view.load(slot * RingProtocol.slotWords)
                    if status == SlotStatus.done.rawValue || status == SlotStatus.fault.rawValue {
                        retire(slot, status: status, in: &pass)
                    } else if status == SlotStatus.waitIO.rawValue {
                        serveIO(slot: slot)
                    }
                }
                progressed = end(pass)
                advanceOldest()
            }
            if stopState.load(ordering: .acquiring) == Self.ended {
                finalPass()
                break
            }
            let now = ContinuousClock.now
            if now - sampledAt >= Self.occupancyInterval {
                sampledAt = now
                sampleOccupancy()
            }
            // Not stuck: an op ended, or none can run.
            // Requests under way on the host count as progress: ops may wait for an IO entry.
            if progressed || runnableOps.load(ordering: .acquiring) == 0 || ioOutstanding.load(ordering: .acquiring) > 0 {
                progressSince = now
                dispatchesSinceProgress.store(0, ordering: .relaxed)
            }
            if progressed {
                quiet = 0
                lastBusy = now
                roomMade()
            } else if inFlight.load(ordering: .acquiring) == 0 {
                progressSince = now
                dispatchesSinceProgress.store(0, ordering: .relaxed)
                // While the kernel lingers for a next op, stay awake (yielding the core): a
                // parked thread costs the next publish a wake-up call, and its round trip the
                // wake-up itself, each longer than the round trip.
                if spin > .zero, ContinuousClock.now - lastBusy < options.linger {
                    sched_yield()
                } else {
                    sampleOnceIdle(&sampledAtCompleted)
                    park(completerIdle, completerWake) { inFlight.load(ordering: .acquiring) > 0 || stopState.load(ordering: .acquiring) == Self.ended }
                }
            } else {
                lastBusy = .now
                // Ops in flight but none ended: spin (yielding) for the first 200 us, since a round
                // trip takes microseconds and a sleep costs tens of them; then back off, so ops held
                // by a disabled tenant do not keep a core busy.
                quiet += 1
                if quiet == 1 { quietSince = now }
                watch(noProgressFor: now - progressSince)
                let waited = now - quietSince
                if waited < .microseconds(200) { sched_yield() } else { usleep(waited < .milliseconds(20) ? 20 : 500) }
            }
        }
        roomMade()
        completerDone.signal()
    }

    /// The completion thread's last pass, once the driver has ended (so no dispatch runs): the I/O
    /// under way ends first (its memory must outlive it), then one last look, then the rest fails.
    private func finalPass() {
        var pass = RetirePass()
        finishServedIO(in: &pass)
        for slot in 0..<layout.slots where slotState[slot].load(ordering: .acquiring) == Self.slotInFlight {
            let status = ring.view.load(slot * RingProtocol.slotWords)
            if status == SlotStatus.done.rawValue || status == SlotStatus.fault.rawValue { retire(slot, status: status, in: &pass) }
        }
        _ = end(pass)
        failRemaining(shutdownByOp.load(ordering: .acquiring) ? .shutdownOp : stopRequested == Self.cancelling ? .cancelled : .tenantDisabled)
    }

    /// How often the completion thread counts the ring's slots by status for the occupancy gauges
    /// (a walk over every slot's status word).
    static let occupancyInterval: Duration = .milliseconds(250)

    /// The gauges and opcode counts as the kernel goes idle (they hold still until it wakes), once
    /// per idle spell: `sampledAt` is the completed count of the last such sample.
    private func sampleOnceIdle(_ sampledAt: inout Int) {
        let done = completed.load(ordering: .relaxed)
        guard done != sampledAt else { return }
        sampledAt = done
        sampleOccupancy()
    }

    /// Records how many slots hold each status (completion thread).
    private func sampleOccupancy() {
        var counts = [Int](repeating: 0, count: SlotStatus.allCases.count)
        for slot in 0..<layout.slots {
            let status = Int(ring.view.load(slot * RingProtocol.slotWords))
            if status < counts.count { counts[status] += 1 }
        }
        for (gauge, count) in zip(metrics.occupancy, counts) { gauge.record(count) }
        // The kernel counts each built-in opcode it ran in control words that only grow (and
        // wrap): the counters move by the difference since the last sample.
        for (index, (opcode, counter)) in metrics.opcodeOps.enumerated() {
            let now = control.view.load(RingProtocol.Control.metricsBase + Int(opcode))
            let delta = now &- opcodeSampled[index]
            opcodeSampled[index] = now
            if delta > 0 { counter.increment(by: Int(delta)) }
        }
    }

    /// The kernel's per-opcode counts at the last sample (completion thread only).
    private var opcodeSampled = [UInt32](repeating: 0, count: RingProtocol.Control.metricSlots)

    /// The progress watchdog (completion thread): once ops that can run have gone `waited` with none
    /// ending, past ``ResidentOptions/progressDeadline``, stops the kernel's dispatch (its loops
    /// poll the abort word; another caller's work on a shared context is left be) and has the
    /// driver take the kernel for lost.
    ///
    /// Wall time alone is not enough: on a machine whose cores are all taken (a software renderer
    /// among other work) the kernel can wait that long for a core. So it is stuck only when, on
    /// top of that, one dispatch has itself been running for the deadline, or
    /// ``fruitlessDispatches`` dispatches ended in a row with none of the ops ending. Time the
    /// dispatch waits behind other jobs on a shared context counts for neither.
    private func watch(noProgressFor waited: Duration) {
        guard let deadline = options.progressDeadline, waited >= deadline, runnableOps.load(ordering: .acquiring) > 0 else { return }
        let hung = dispatchMonitor.runningSince.map { ContinuousClock.now - $0 >= deadline } ?? false
        let spinning = dispatchesSinceProgress.load(ordering: .relaxed) >= Self.fruitlessDispatches
        guard hung || spinning, !stalled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.error("the resident kernel made no progress; stopping it", metadata: ["deadline": "\(deadline)", "inFlight": "\(inFlight.load(ordering: .relaxed))"])
        dispatchMonitor.abort()
        wake(driverIdle, driverWake)
    }

    /// Ends a pass of the completion thread: counts its batch tickets down and hands back the
    /// room it freed. Returns whether it retired anything.
    /// The counters move first, so a waiter that resumes finds its op counted in the telemetry.
    func end(_ pass: consuming RetirePass) -> Bool {
        guard pass.freed > 0 else { return false }
        let left = inFlight.subtract(pass.freed, ordering: .acquiringAndReleasing).newValue
        completed.add(pass.freed, ordering: .relaxed)
        metrics.done.increment(by: pass.freed - pass.faulted)
        if pass.faulted > 0 { metrics.faulted.increment(by: pass.faulted) }
        metrics.inFlight.record(left)
        // Before the waiters wake: an op published after they see their results is recorded
        // in a later phase.
        if !pass.recorded.isEmpty || recordingOn.load(ordering: .acquiring) { recording.withLock { $0 }?.passEnded(pass.recorded) }
        pass.wakeWaiters(metrics)
        return true
    }

    func retire(_ slot: Int, status: UInt32, in pass: inout RetirePass) {
        // Taken out of flight first: a producer's `failRemaining` after the kernel ended may be
        // failing the same slot, and only one of them may hand its waiter a result.
        guard slotState[slot].compareExchange(expected: Self.slotInFlight, desired: Self.slotWriting, ordering: .acquiringAndReleasing).exchanged else { return }
        let base = slot * RingProtocol.slotWords
        let reason = status == SlotStatus.fault.rawValue ? ring.view.load(base + RingProtocol.faultReasonWord) : nil
        let completion = Completion(status: SlotStatus(rawValue: status)!, faultReason: reason,
                                    observed: status == SlotStatus.done.rawValue ? observed(base) : [:], io: takeIOOutcome(slot))
        ring.view.store(SlotStatus.empty.rawValue, at: base)
        let holder = takeHolder(slot)
        if let index = takeRecord(slot) { pass.recorded.append((index, reason.map { .fault($0) } ?? .done)) }
        slotState[slot].store(Self.slotFree, ordering: .releasing)
        pass.freed += 1
        if status == SlotStatus.fault.rawValue { pass.faulted += 1 }
        pass.hand(holder, .success(completion))
    }

    /// The tagged record index of the op in `slot`, taken out (by whoever moved the slot out of `inFlight`).
    private func takeRecord(_ slot: Int) -> Int? {
        let index = slotRecord[slot]
        guard index >= 0 else { return nil }
        slotRecord[slot] = -1
        return index
    }

    /// The waiter of the op in `slot`, taken out (by whoever moved the slot out of `inFlight`).
    private func takeHolder(_ slot: Int) -> TicketHolder? {
        defer { holders[slot] = nil }
        return holders[slot]
    }

    /// The observable words the op in the slot at `base` writes.
    private func observed(_ base: Int) -> [Int: UInt32] {
        let arg = { (k: Int) in Int(self.ring.view.load(base + RingProtocol.firstArgWord + k)) }
        let index: Int? = switch Opcode(rawValue: ring.view.load(base + RingProtocol.opcodeWord)) {
        case .loadU32: arg(1)
        case .compareSwap: arg(0)
        case .batchFence: 0
        case .dfaStep: arg(5)
        default: nil
        }
        guard let index, RingProtocol.Control.observableBase + index < control.view.wordCount else { return [:] }
        return [index: control.view.load(RingProtocol.Control.observableBase + index)]
    }

    /// Fails every op still in flight (only once no dispatch runs): with the loss, if the kernel
    /// was lost, else as not run for `reason`.
    private func failRemaining(_ reason: NotRunReason) {
        guard let lost = loss.withLock({ $0 }) else {
            for slot in 0..<layout.slots { fail(slot, with: .notRun(reason)) }
            return
        }
        let loss = DeviceLoss(cause: lost.cause, number: lossNumber)
        for slot in 0..<layout.slots {
            // Lanes move a slot from PUBLISHED before they run it: where the ring can be trusted,
            // an op still PUBLISHED never started.
            let untouched = lost.ringReadable && ring.view.load(slot * RingProtocol.slotWords) == SlotStatus.published.rawValue
            fail(slot, with: .deviceLost(loss, mayHaveRun: !untouched))
        }
    }

    /// Fails the op in `slot` with `error` and frees the slot, if an op is in flight there (only
    /// while no dispatch can run it).
    private func fail(_ slot: Int, with error: ResidentError) {
        guard slotState[slot].compareExchange(expected: Self.slotInFlight, desired: Self.slotWriting, ordering: .acquiringAndReleasing).exchanged else { return }
        ring.view.store(SlotStatus.empty.rawValue, at: slot * RingProtocol.slotWords)
        _ = takeIOOutcome(slot)
        let holder = takeHolder(slot)
        let index = takeRecord(slot)
        slotState[slot].store(Self.slotFree, ordering: .releasing)
        if let index { recording.withLock { $0 }?.passEnded([(index, .notRun)]) }
        inFlight.subtract(1, ordering: .acquiringAndReleasing)
        metrics.notRun.increment()
        holder?.finish(.failure(error))
        roomMade()
    }

    /// What shutdown asked for (cancel or drain), kept after the driver ends.
    private let stopRequest = Atomic<Int>(0)
    private var stopRequested: Int { stopRequest.load(ordering: .acquiring) }

    // MARK: shutdown and telemetry

    /// Stops accepting, ends the kernel as `mode` says and waits for both threads (blocking).
    func stop(_ mode: ShutdownMode) {
        accepting.store(false, ordering: .releasing)
        // Never started (now or at an earlier stop): no thread to wait for, and nothing was published to it.
        let (stoppedUnstarted, was) = lifecycle.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing)
        if stoppedUnstarted || was == 2 { return }
        let wanted = mode == .cancel ? Self.cancelling : Self.draining
        let (first, before) = stopRequest.compareExchange(expected: 0, desired: wanted, ordering: .acquiringAndReleasing)
        // A cancel while a drain is in progress takes over (a drain that ran past its deadline);
        // anything else waits for the stop already under way.
        let escalates = !first && before == Self.draining && wanted == Self.cancelling
            && stopRequest.compareExchange(expected: Self.draining, desired: Self.cancelling, ordering: .acquiringAndReleasing).exchanged
        guard first || escalates else {
            waitEnded()
            return
        }
        // Cancel: the dispatch in progress claims nothing more.
        if mode == .cancel { control.view.store(1, at: RingProtocol.Control.shutdown) }
        var state = stopState.load(ordering: .acquiring)
        while state < wanted {
            let (won, seen) = stopState.compareExchange(expected: state, desired: wanted, ordering: .acquiringAndReleasing)
            if won { break }
            state = seen
        }
        wake(driverIdle, driverWake)
        waitEnded()
    }

    private let endedOnce = Mutex<Bool>(false)

    private func waitEnded() {
        endedOnce.withLock { done in
            guard !done else { return }
            driverDone.wait()
            completerDone.wait()
            done = true
        }
    }

    /// Starts a recording (see ``ResidentRecording``), with the words as they are now.
    func startRecording() throws(ResidentError) -> ResidentRecording {
        try recording.withLock { r throws(ResidentError) -> ResidentRecording in
            guard r == nil else { throw .recordingInProgress }
            let now = control.view.read(words: 0..<options.controlWords)
            // Only the words that differ from a fresh kernel's: the tenant table and the rest follow.
            let fresh = (try? RingEncoding.control(words: options.controlWords, tenants: options.tenants, initial: [:])) ?? []
            var initial: [Int: UInt32] = [:]
            for (i, word) in now.enumerated() where i >= fresh.count || fresh[i] != word { initial[i] = word }
            let setup = ResidentRecording.Setup(device: context.info.renderer, configuration: configuration, options: options,
                                                initialControl: initial, initialBuffers: extraBufferWords())
            let recording = ResidentRecording(core: self, setup: setup, serial: recordings.add(1, ordering: .relaxed).newValue)
            r = recording
            recordingOn.store(true, ordering: .releasing)
            return recording
        }
    }

    /// Whether a recording is going (the opcode set may not change under it).
    var isRecording: Bool { recording.withLock { $0 != nil } }

    /// No op published from now on is recorded.
    func stopRecording(_ recording: ResidentRecording) {
        if self.recording.withLock({ $0 === recording }) { recordingOn.store(false, ordering: .releasing) }
    }

    /// The recording has every outcome it waits for: a new one may start.
    func recordingEnded(_ recording: ResidentRecording) {
        self.recording.withLock { if $0 === recording { $0 = nil } }
    }

    /// Every extra buffer's words, by name, as they are now (read on the context thread, between
    /// dispatches); a buffer that cannot be read is left out.
    func extraBufferWords() -> [String: [UInt32]] {
        current.extraBufferWords()
    }

    /// Ops published and not yet retired: one atomic load (``telemetry()`` scans the ring).
    var opsInFlight: Int { inFlight.load(ordering: .relaxed) }

    func telemetry() -> ResidentTelemetry {
        var occupancy: [SlotStatus: Int] = [:]
        var parked = 0
        for slot in 0..<layout.slots {
            let status = ring.view.load(slot * RingProtocol.slotWords)
            if let s = SlotStatus(rawValue: status) { occupancy[s, default: 0] += 1 }
            if status == SlotStatus.published.rawValue && queues.view.load(layout.generationWord(slot: slot) + 1) != 0 { parked += 1 }
        }
        var counts: [UInt32: UInt32] = [:]
        for op in 0..<RingProtocol.Control.metricSlots {
            let v = control.view.load(RingProtocol.Control.metricsBase + op)
            if v != 0 { counts[UInt32(op)] = v }
        }
        let done = completed.load(ordering: .relaxed)
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        return ResidentTelemetry(occupancy: occupancy, parked: parked, opcodeCounts: counts, epoch: control.view.load(RingProtocol.Control.epoch),
                                 dispatches: dispatches.load(ordering: .relaxed),
                                 dispatchTime: .nanoseconds(dispatchNanoseconds.load(ordering: .relaxed)), submitted: submitted.load(ordering: .relaxed), completed: done,
                                 inFlight: inFlight.load(ordering: .relaxed), opsPerSecond: seconds > 0 ? Double(done) / seconds : 0,
                                 debugRecordsDelivered: debugDelivered.load(ordering: .relaxed), debugRecordsLost: debugLost.load(ordering: .relaxed),
                                 recoveries: 0)
    }
}

/// What one pass of the completion thread over the slots retired, handed on at its end: the
/// shared counters, and each batch ticket, are counted down once per pass (per run of one batch's
/// members), not once per op.
struct RetirePass: ~Copyable {
    var freed = 0
    /// Outcomes of recorded ops, by record index.
    var recorded: [(Int, RingLog.Outcome)] = []
    /// Of those, the ops that ended FAULT.
    var faulted = 0
    /// Batch tickets with the ops of theirs that ended, in runs.
    private var batches: [(ResidentBatchTicket, Int)] = []
    private var singles: [(ResidentTicket, Result<Completion, ResidentError>, ContinuousClock.Instant)] = []

    /// Keeps `holder`'s result for the end of the pass (a batch member's is recorded now, and
    /// counted then).
    mutating func hand(_ holder: TicketHolder?, _ result: Result<Completion, ResidentError>) {
        switch holder {
        case .single(let ticket)?:
            singles.append((ticket, result, .now))
        case .member(let batch, let index)?:
            batch.record(index, result)
            if let last = batches.last, last.0 === batch {
                batches[batches.count - 1].1 += 1
            } else {
                batches.append((batch, 1))
            }
        case nil:
            break
        }
    }

    /// Hands every kept result on, and times the tickets that ended.
    consuming func wakeWaiters(_ metrics: ResidentMetrics) {
        for (batch, ended) in batches {
            batch.countDown(ended)
            if batch.isFinished { metrics.batchRoundTrip.recordNanoseconds(Int64((ContinuousClock.now - batch.publishedAt) / .nanoseconds(1))) }
        }
        for (ticket, result, seen) in singles {
            metrics.roundTrip.recordNanoseconds(Int64((seen - ticket.publishedAt) / .nanoseconds(1)))
            ticket.finish(result, at: seen)
        }
    }
}

/// Who waits for a slot's op: its own ticket, or one member of a batch ticket.
enum TicketHolder: Sendable {
    case single(ResidentTicket)
    case member(ResidentBatchTicket, Int)

    func finish(_ result: Result<Completion, ResidentError>, at instant: ContinuousClock.Instant? = nil) {
        switch self {
        case .single(let ticket): ticket.finish(result, at: instant)
        case .member(let batch, let index): batch.finish(index, result)
        }
    }
}


