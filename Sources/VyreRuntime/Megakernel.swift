public import VyreIR
public import VyreGL
public import VyreProtocol
public import Logging
import Synchronization

/// The megakernel bootstrapped on one context: the IR program built from its configuration,
/// compiled once, and resident buffers reused (and grown) across batches.
///
/// Bootstrapping costs one shader compile. `run(_:)` dispatches a batch one-shot (one dispatch
/// per fence-delimited phase, one fence wait for the whole batch) and returns typed results;
/// concurrent callers are served one batch at a time.
public final class Megakernel: Sendable {
    /// The context the megakernel is compiled on and runs its batches on.
    public let context: GLContext
    /// What the megakernel was built from; a plan it runs must have its `extraBuffers`.
    public let configuration: MegakernelConfiguration
    /// The one-pass megakernel program (its GLSL is `pipeline.lowered.source`), packed where
    /// ``blocks`` says so.
    public let program: Program
    /// How its buffers are bound on this device: packed into fewer storage blocks where the device
    /// has too few for them.
    public let blocks: MegakernelBlocks
    let pipeline: ComputePipeline
    /// Only the batch holding `gate` takes this lock, so it never waits.
    private let resident: Mutex<ResidentBuffers>
    private let gate = BatchGate()
    let logger: Logger
    /// The mapped-state limit in force (see `MegakernelConfiguration.mappedStateLimit`).
    public let mappedStateLimit: Int

    /// Builds the megakernel program from `configuration`, validates it for `context`'s limits and
    /// compiles it: one shader compile, blocking on the context thread. The resident buffers are made
    /// by the first batch. `logger` defaults to the context's.
    public init(context: GLContext, configuration: MegakernelConfiguration = MegakernelConfiguration(), logger: Logger? = nil) throws(MegakernelError) {
        self.context = context
        self.configuration = configuration
        self.logger = logger ?? context.logger
        let fitted = try configuration.oneShotKernel(limits: context.limits)
        blocks = fitted.blocks
        // Packed control words and debug log live in the device block, never in mapped memory.
        self.mappedStateLimit = fitted.blocks.isPacked ? 0 : configuration.mappedStateLimit ?? (context.info.isSoftware ? 0 : 1024)
        let validated = fitted.validated
        self.program = validated.program
        pipeline = try onDevice { () throws(VyreGLError) in try context.makePipeline(validated) }
        resident = Mutex(ResidentBuffers())
        self.logger.debug("megakernel bootstrapped", metadata: ["compile_ms": "\(pipeline.compileTime / .milliseconds(1))", "opcodes": "\(configuration.opcodes.count)"])
    }

    /// Compile time of the megakernel program (or the time to load its cached binary).
    public var compileTime: Duration { pipeline.compileTime }
    /// The program was loaded from the context's program binary cache rather than compiled.
    public var pipelineFromCache: Bool { pipeline.fromCache }
    /// The GLSL the megakernel was compiled from (no GL call).
    public var glslSource: String { pipeline.lowered.source }

    // MARK: one-shot

    /// The same batch path without blocking the calling task: the batch is planned on the caller's task,
    /// waits its turn without holding a thread, then runs as one job on the context thread.
    public func run(_ batch: Batch) async throws(MegakernelError) -> BatchResult {
        let start = ContinuousClock.now
        return try await run(try batch.plan(extraBuffers: configuration.extraBuffers), since: start)
    }

    /// A batch planned already, without blocking the calling task (see ``run(_:)-swift.method``).
    public func run(_ plan: BatchPlan) async throws(MegakernelError) -> BatchResult {
        try await run(plan, since: .now)
    }

    private func run(_ plan: BatchPlan, since start: ContinuousClock.Instant) async throws(MegakernelError) -> BatchResult {
        await gate.enter()
        defer { gate.leave() }
        let result: Result<BatchResult, MegakernelError>
        do {
            result = try await context.perform { _ in
                do throws(MegakernelError) { return .success(try self.runHere(plan, since: start)) } catch { return .failure(error) }
            }
        } catch {
            throw .device(error)
        }
        return try result.get()
    }

    /// Runs `batch` one-shot: plan (on the host; a bad batch fails here), encode the item records
    /// into mapped memory, bind, submit one dispatch per phase and wait, then decode the control
    /// words, debug log and exception records into typed results. Batches are served one at a time,
    /// in arrival order; this one blocks the calling thread while it waits and runs.
    public func run(_ batch: Batch) throws(MegakernelError) -> BatchResult {
        let start = ContinuousClock.now
        return try run(try batch.plan(extraBuffers: configuration.extraBuffers), since: start)
    }

    /// Runs a batch planned already (`Batch.plan(extraBuffers:)` with this megakernel's extra
    /// buffers), so a caller that checked it before opening a device does not check it again.
    public func run(_ plan: BatchPlan) throws(MegakernelError) -> BatchResult {
        try run(plan, since: .now)
    }

    private func run(_ plan: BatchPlan, since start: ContinuousClock.Instant) throws(MegakernelError) -> BatchResult {
        if context.isContextThread {
            // A job on the context thread cannot wait for a batch that needs that thread.
            guard gate.tryEnter() else {
                throw .blockedOnContextThread
            }
        } else {
            gate.enter()
        }
        defer { gate.leave() }
        return try runHere(plan, since: start)
    }

    private func runHere(_ plan: BatchPlan, since start: ContinuousClock.Instant) throws(MegakernelError) -> BatchResult {
        guard plan.extra.map(\.decl) == configuration.extraBuffers else {
            throw .invalidExtraBuffer(problem: "set of the plan differs from this megakernel's", fix: "plan the batch with the megakernel's configuration.extraBuffers")
        }
        let clock = ContinuousClock()
        let batch = plan.batch
        let residency = StateResidency(itemCount: batch.items.count, controlWords: plan.controlWords, mappedStateLimit: mappedStateLimit)
        return try resident.withLock { (buffers: inout ResidentBuffers) throws(MegakernelError) -> BatchResult in
            let mappedState = residency == .mapped
            try onDevice { () throws(VyreGLError) in try buffers.ensure(for: plan, mappedState: mappedState, blocks: blocks, on: context) }
            let places = buffers.places(for: plan, blocks: blocks, mappedState: mappedState)
            encode(batch, plan, into: buffers, places, residency: residency)
            let encoded = clock.now
            var arena = BufferArena(context: context)
            let bound = try onDevice { () throws(VyreGLError) in try bind(plan, places, arena: &arena) }
            let phases = try onDevice { () throws(VyreGLError) in try submit(plan, bound, buffers, places, residency: residency) }
            let submitted = clock.now
            var result = try decode(batch, plan, bound, buffers, places, arena: arena, residency: residency, phases: phases)
            result.timing = BatchTiming(encode: encoded - start, gpu: submitted - encoded, decode: clock.now - submitted)
            return result
        }
    }
}

/// GL failures are what a megakernel's device reports (`MegakernelError.device(_:)`).
extension VyreGLError: DeviceFailure {}

/// A persistently mapped buffer is ring memory the protocol's publisher writes into directly.
extension MappedBuffer: RingMemory {}
