public import VyreIR
public import VyreGL
public import VyreProtocol
public import Logging
import Synchronization
import Dispatch

/// The megakernel bootstrapped on one context: the IR program built from its configuration,
/// compiled once, and resident buffers reused (and grown) across batches.
///
/// Bootstrapping costs one shader compile. ``run(_:)`` dispatches a batch one-shot (one dispatch
/// per fence-delimited phase, one fence wait for the whole batch) and returns typed results;
/// concurrent callers are served one batch at a time.
public final class Megakernel: Sendable {
    public let context: GLContext
    public let configuration: MegakernelConfiguration
    /// The one-pass megakernel program (its GLSL is `pipeline.lowered.source`).
    public let program: Program
    let pipeline: ComputePipeline
    private let resident: Mutex<ResidentBuffers>
    let logger: Logger
    /// The mapped-state limit in force (see ``MegakernelConfiguration/mappedStateLimit``).
    public let mappedStateLimit: Int

    public init(context: GLContext, configuration: MegakernelConfiguration = MegakernelConfiguration(), logger: Logger? = nil) throws(MegakernelError) {
        self.context = context
        self.configuration = configuration
        self.logger = logger ?? context.logger
        self.mappedStateLimit = configuration.mappedStateLimit ?? (context.info.isSoftware ? 0 : 1024)
        let program = try configuration.program(limits: context.limits)
        self.program = program
        do {
            pipeline = try context.makePipeline(program)
        } catch {
            throw .device(error)
        }
        resident = Mutex(ResidentBuffers())
        self.logger.debug("megakernel bootstrapped", metadata: ["compile_ms": "\(pipeline.compileTime)", "opcodes": "\(configuration.opcodes.count)"])
    }

    /// Compile time of the megakernel program.
    public var compileTime: Duration { pipeline.compileTime }
    public var glslSource: String { pipeline.lowered.source }

    // MARK: one-shot

    /// Control buffers larger than this are read back by the driver's copy (see `run`).
    static let largeControlWords = 16_384

    /// ``run(_:)`` without blocking the calling task: the batch runs as one job on the context
    /// thread (batches from concurrent tasks are served in order).
    public func run(_ batch: Batch) async throws(MegakernelError) -> BatchResult {
        let result: Result<BatchResult, MegakernelError>
        do {
            result = try await context.perform { _ in
                do throws(MegakernelError) { return .success(try self.run(batch)) } catch { return .failure(error) }
            }
        } catch {
            throw .device(error)
        }
        return try result.get()
    }

    public func run(_ batch: Batch) throws(MegakernelError) -> BatchResult {
        let clock = ContinuousClock()
        let start = clock.now
        let plan = try batch.plan(extraBuffers: configuration.extraBuffers)
        let (slots, shape, control, extra) = (plan.slots, plan.shape, plan.control, plan.extra)

        let maxArgs = shape.maxArgs
        let stride = shape.header + maxArgs
        let debugWords = RingProtocol.Debug.words(records: batch.debugRecords)
        let exceptionWords = 1 + 3 * max(1, batch.items.count)

        return try resident.withLock { (buffers: inout ResidentBuffers) throws(MegakernelError) -> BatchResult in
            do throws(VyreGLError) {
                try buffers.ensure(context: context, ringWords: slots * RingProtocol.slotWords, controlWords: batch.controlWords,
                                   debugWords: debugWords, itemWords: max(1, batch.items.count * stride), exceptionWords: exceptionWords,
                                   mappedState: batch.items.count <= mappedStateLimit)
            } catch {
                throw .device(error)
            }
            // Item records go straight into mapped memory: [opcode, tenant, priority, args...]. The
            // buffer is idle (the previous batch's fence has signalled), so large batches are written
            // with plain stores from several threads.
            let items = buffers.items!
            batch.items.withUnsafeBufferPointer { source in
                items.value.withUnsafeWordsWhileIdle { words in
                    ItemRecords.encode(source, into: words, stride: stride, header: shape.header, maxArgs: maxArgs)
                }
            }
            let exceptions = buffers.exceptions!
            exceptions.value.store(0, at: 0)
            let mappedState = batch.items.count <= mappedStateLimit
            if mappedState {
                control.withUnsafeBufferPointer { source in
                    buffers.mappedControl!.value.withUnsafeWordsWhileIdle { $0.baseAddress!.update(from: source.baseAddress!, count: source.count) }
                }
                buffers.mappedDebug!.value.store(0, at: 0)
            }
            let encoded = clock.now

            var arena = BufferArena(context: context)
            let controlHandle = mappedState ? buffers.mappedControl!.value.handle : buffers.control!.value.handle
            let debugHandle = mappedState ? buffers.mappedDebug!.value.handle : buffers.debug!.value.handle
            var handles: [UInt32: BufferHandle] = [
                MegakernelBindings.control: controlHandle.prefix(bytes: batch.controlWords * 4),
                MegakernelBindings.ring: buffers.ring!.value.handle.prefix(bytes: slots * RingProtocol.slotWords * 4),
                MegakernelBindings.debug: debugHandle.prefix(bytes: debugWords * 4),
                MegakernelBindings.io: buffers.io!.value.handle,
                MegakernelBindings.items: items.value.handle.prefix(bytes: max(1, batch.items.count * stride) * 4),
                MegakernelBindings.exceptions: exceptions.value.handle.prefix(bytes: exceptionWords * 4),
            ]
            var extraIndex: [String: Int] = [:]
            do throws(VyreGLError) {
                for (decl, words) in extra {
                    let index = try arena.add(words: words, mapped: false)
                    extraIndex[decl.name] = index
                    handles[decl.binding] = arena.handle(index)
                }
            } catch {
                throw .device(error)
            }
            let steps = batch.phases.map { phase in
                DispatchStep(groups: WorkgroupSize(UInt32((phase.count + Int(configuration.workgroupSize) - 1) / Int(configuration.workgroupSize))),
                             parameters: ["first": UInt32(phase.lowerBound), "count": UInt32(phase.count), "stride": UInt32(stride),
                                          "layout": shape.layout, "opcode": shape.opcode, "tenant": shape.tenant, "priority": shape.priority])
            }
            let results = buffers.results!
            // Mapped memory can be write-combined (slow to read), so big control buffers come back
            // by the driver's copy from device memory instead of through the results mapping.
            let readControlFromDevice = !mappedState && batch.controlWords > Self.largeControlWords
            do throws(VyreGLError) {
                if mappedState {
                    _ = try context.submit(pipeline, steps: steps, buffers: handles)
                } else {
                    var copies = [BufferCopy(from: handles[MegakernelBindings.debug]!, to: results.value.handle, atWord: batch.controlWords, words: debugWords)]
                    if !readControlFromDevice {
                        copies.append(BufferCopy(from: handles[MegakernelBindings.control]!, to: results.value.handle, words: batch.controlWords))
                    }
                    _ = try context.submit(pipeline, steps: steps, buffers: handles,
                                           uploads: [BufferUpload(handles[MegakernelBindings.control]!, control),
                                                     BufferUpload(handles[MegakernelBindings.debug]!, [0])],
                                           copies: copies)
                }
            } catch {
                throw .device(error)
            }
            let submitted = clock.now

            let controlOut: [UInt32]
            let debugWordsOut: [UInt32]
            if mappedState {
                controlOut = buffers.mappedControl!.value.copyWhileIdle(words: 0..<batch.controlWords)
                debugWordsOut = buffers.mappedDebug!.value.copyWhileIdle(words: 0..<debugWords)
            } else {
                if readControlFromDevice {
                    do throws(VyreGLError) { controlOut = try buffers.control!.value.read(words: 0..<batch.controlWords) } catch { throw .device(error) }
                } else {
                    controlOut = results.value.copyWhileIdle(words: 0..<batch.controlWords)
                }
                debugWordsOut = results.value.copyWhileIdle(words: batch.controlWords..<(batch.controlWords + debugWords))
            }
            let debug: DebugLog
            do throws(ProtocolError) { debug = try RingReader.debugLog(debugWordsOut) } catch { throw .invalidBatch(error) }
            let reported = Int(exceptions.value.load(0))
            let kept = min(reported, (exceptionWords - 1) / 3)
            let records = exceptions.value.read(words: 1..<(1 + 3 * kept))
            var faults: [SlotFault] = []
            var pending: [Int] = []
            var unexpected: [(Int, UInt32)] = []
            var notDone = Set<Int>()
            for r in 0..<kept {
                let slot = Int(records[3 * r])
                notDone.insert(slot)
                switch SlotStatus(rawValue: records[3 * r + 1]) {
                case .fault: faults.append(SlotFault(slot: slot, reason: records[3 * r + 2]))
                case .published: pending.append(slot)
                default: unexpected.append((slot, records[3 * r + 1]))
                }
            }
            faults.sort { $0.slot < $1.slot }
            pending.sort()
            let completed = ItemRecords.countCompleted(batch.items, excluding: notDone)
            var extraOut: [String: [UInt32]] = [:]
            do throws(VyreGLError) {
                for (decl, words) in extra { extraOut[decl.name] = try arena.read(extraIndex[decl.name]!, words: words.count) }
            } catch {
                throw .device(error)
            }
            let end = clock.now
            return BatchResult(itemCount: batch.items.count, slots: slots, phases: steps.count, control: controlOut, debug: debug,
                               faults: faults, pending: pending, unexpected: unexpected, buffers: extraOut, completed: completed,
                               timing: BatchTiming(encode: encoded - start, gpu: submitted - encoded, decode: end - submitted))
        }
    }
}

/// GL failures are what a megakernel's device reports (``MegakernelError/device(_:)``).
extension VyreGLError: DeviceFailure {}

/// A persistently mapped buffer is ring memory the protocol's publisher writes into directly.
extension MappedBuffer: RingMemory {}
