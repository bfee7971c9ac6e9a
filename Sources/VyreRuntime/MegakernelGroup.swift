import Dispatch
import Foundation
public import VyreGL
public import VyreProtocol
import Synchronization

/// How a ``MegakernelGroup`` runs a batch's pieces.
public enum GroupMode: Sendable, Hashable {
    /// Each piece one-shot on its device's ``Megakernel``.
    case oneShot
    /// Each piece through a resident kernel started for it on its device (`run --resident`).
    case resident
}

/// Options of a ``MegakernelGroup``.
public struct GroupOptions: Sendable, Hashable {
    /// The fewest items a piece of a phase gets (unless less is left): a piece costs a dispatch
    /// and a round trip of the control words, so small pieces only pay where devices differ.
    public var minimumPieceItems: Int

    public init(minimumPieceItems: Int = 4096) {
        self.minimumPieceItems = minimumPieceItems
    }
}

/// What one device of a group did in a run.
public struct DeviceShare: Sendable, Hashable {
    /// The device's renderer, as ``GLContextInfo/renderer``.
    public var renderer: String
    /// Items and pieces whose results counted.
    public var items: Int
    public var pieces: Int
    /// Why the device was given up on (this run or an earlier one); nil while it works.
    public var lost: String?
}

/// A batch's result from a group, and each device's share of it.
public struct GroupResult: Sendable {
    /// The result one device would give (see ``BatchMerge``).
    public var result: BatchResult
    /// Each device's share, in the group's order.
    public var devices: [DeviceShare]
}

/// One megakernel per device, and batches split across them: each phase is cut into pieces
/// (``BatchSplit``) that the devices take while they have work left (``PieceScheduler``), every
/// piece runs on exactly one device from the words the phase starts with, and their results add
/// up to the result one device would give (``BatchMerge``), in the batch's op order.
///
/// A device that fails (a lost context, a GL failure) is given up on for this run and later
/// ones; the piece it was running goes to the others, and counts only once, since nothing a
/// piece did counts until its results are merged. The run fails only when no device is left.
public final class MegakernelGroup: Sendable {
    /// The megakernels, one per context, in the order given.
    public let megakernels: [Megakernel]
    public let configuration: MegakernelConfiguration
    public let options: GroupOptions
    private let lost: Mutex<[Int: String]>

    /// Builds and compiles the megakernel on every context (one compile each, on each context's
    /// thread, in turn).
    public init(contexts: [GLContext], configuration: MegakernelConfiguration = MegakernelConfiguration(),
                options: GroupOptions = GroupOptions()) throws(MegakernelError) {
        guard !contexts.isEmpty else {
            throw .invalidOptions(problem: "a megakernel group was given no contexts", fix: "open at least one (GLContext.open(.all))")
        }
        var kernels: [Megakernel] = []
        for context in contexts { kernels.append(try Megakernel(context: context, configuration: configuration)) }
        megakernels = kernels
        self.configuration = configuration
        self.options = options
        lost = Mutex([:])
    }

    /// Plans `batch` and runs it (see ``run(_:mode:)-(BatchPlan,_)``).
    public func run(_ batch: Batch, mode: GroupMode = .oneShot) throws(MegakernelError) -> GroupResult {
        try run(try batch.plan(extraBuffers: configuration.extraBuffers), mode: mode)
    }

    /// Runs `plan` split across the devices that work, phase after phase; blocks the caller.
    public func run(_ plan: BatchPlan, mode: GroupMode = .oneShot) throws(MegakernelError) -> GroupResult {
        let clock = ContinuousClock()
        let start = clock.now
        let split = BatchSplit(plan, configuration: configuration)
        var merge = BatchMerge(plan)
        var items = [Int](repeating: 0, count: megakernels.count)
        var pieces = items
        for phase in split.phases {
            let live = megakernels.indices.filter { k in lost.withLock { $0[k] == nil } }
            guard !live.isEmpty else { throw .invalidOptions(problem: "every device of the group was lost", fix: "open the devices again and make a new group") }
            let scheduler = PieceScheduler(phase: phase, merge: merge, devices: megakernels.count, live: live.count, minimumItems: options.minimumPieceItems)
            let phaseStart = merge
            // A thread per device: libdispatch's concurrentPerform ran both on one thread here.
            let finished = DispatchGroup()
            for k in live {
                finished.enter()
                let thread = Thread { [self] in
                    work(device: k, scheduler: scheduler, from: phaseStart, mode: mode)
                    finished.leave()
                }
                thread.name = "vyre-gl group device \(k)"
                thread.start()
            }
            finished.wait()
            if let failure = scheduler.failure { throw failure }
            merge = scheduler.merged
            merge.endPhase()
            for k in items.indices {
                items[k] += scheduler.items[k]
                pieces[k] += scheduler.pieces[k]
            }
        }
        let result = merge.result(timing: BatchTiming(encode: .zero, gpu: clock.now - start, decode: .zero))
        let gone = lost.withLock { $0 }
        let shares = megakernels.indices.map { k in
            DeviceShare(renderer: megakernels[k].context.info.renderer, items: items[k], pieces: pieces[k], lost: gone[k])
        }
        return GroupResult(result: result, devices: shares)
    }

    /// One device's loop: pieces until the phase has none left, or the device fails.
    private func work(device k: Int, scheduler: PieceScheduler, from phaseStart: BatchMerge, mode: GroupMode) {
        while let piece = scheduler.take() {
            let plan = phaseStart.piece(piece)
            do throws(MegakernelError) {
                scheduler.completed(piece, try runPiece(plan, on: k, mode: mode), on: k)
            } catch {
                guard case .device(let failure) = error else {
                    scheduler.fail(error)
                    return
                }
                lost.withLock { $0[k] = MegakernelError.device(failure).diagnostics.first?.problem ?? "\(failure)" }
                megakernels[k].logger.warning("device lost; its piece goes to the others", metadata: ["renderer": "\(megakernels[k].context.info.renderer)", "error": "\(failure)"])
                _ = scheduler.lost(piece, error)
                return
            }
        }
    }

    private func runPiece(_ plan: BatchPlan, on k: Int, mode: GroupMode) throws(MegakernelError) -> BatchResult {
        let megakernel = megakernels[k]
        switch mode {
        case .oneShot:
            return try megakernel.run(plan)
        case .resident:
            let kernel = try ResidentMegakernel(context: megakernel.context, configuration: configuration, options: ResidentOptions(plan: plan))
            return try Blocking.wait { () async throws(MegakernelError) in try await kernel.run(plan) }
        }
    }
}

/// Waits on a thread that may block for async work.
enum Blocking {
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws(MegakernelError) -> T) throws(MegakernelError) -> T {
        let box = Mutex<Result<T, MegakernelError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let r: Result<T, MegakernelError>
            do throws(MegakernelError) { r = .success(try await body()) } catch { r = .failure(error) }
            box.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }
}
