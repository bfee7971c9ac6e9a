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
/// A device that is lost (its context reset or closed) is given up on for this run and later
/// ones; the piece it was running goes to the others, and counts only once, since nothing a
/// piece did counts until its results are merged. The run fails when no device is left, and on
/// any other failure (bad input, a piece past its timeout), which another device would repeat.
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

    /// Runs `plan` split across the devices that work, phase after phase; blocks the caller (in
    /// `.resident` mode each piece waits on a task, so call it from a thread that may block, not
    /// from Swift concurrency's pool).
    public func run(_ plan: BatchPlan, mode: GroupMode = .oneShot) throws(MegakernelError) -> GroupResult {
        let clock = ContinuousClock()
        let start = clock.now
        let split = BatchSplit(plan, configuration: configuration)
        var merge = BatchMerge(plan)
        var items = [Int](repeating: 0, count: megakernels.count)
        var pieces = items
        for phase in split.phases {
            let live = megakernels.indices.filter { k in lost.withLock { $0[k] == nil } }
            guard !live.isEmpty else { throw .device(VyreGLError.contextLost(status: "every device of the group was lost before")) }
            let scheduler = PieceScheduler(phase: phase, devices: megakernels.count, live: live.count, minimumItems: options.minimumPieceItems)
            let phaseStart = merge
            let parts = Mutex<[PhasePart]>([])
            // A thread per device: libdispatch's concurrentPerform ran both on one thread here.
            let finished = DispatchGroup()
            for k in live {
                finished.enter()
                let thread = Thread { [self] in
                    let part = work(device: k, scheduler: scheduler, from: phaseStart, mode: mode)
                    parts.withLock { $0.append(part) }
                    finished.leave()
                }
                thread.name = "vyre-gl group device \(k)"
                thread.start()
            }
            finished.wait()
            if let failure = scheduler.failure { throw failure }
            for part in parts.withLock({ $0 }) { merge.absorb(part) }
            merge.endPhase()
            let shares = scheduler.shares
            for k in items.indices {
                items[k] += shares.items[k]
                pieces[k] += shares.pieces[k]
            }
        }
        let result = merge.result(timing: BatchTiming(encode: .zero, gpu: clock.now - start, decode: .zero))
        let gone = lost.withLock { $0 }
        let shares = megakernels.indices.map { k in
            DeviceShare(renderer: megakernels[k].context.info.renderer, items: items[k], pieces: pieces[k], lost: gone[k])
        }
        return GroupResult(result: result, devices: shares)
    }

    /// One device's loop: pieces until the phase has none left, or the device is lost; their
    /// results added into a part of the phase of its own, off every lock.
    private func work(device k: Int, scheduler: PieceScheduler, from phaseStart: BatchMerge, mode: GroupMode) -> PhasePart {
        var part = phaseStart.part()
        while let piece = scheduler.take() {
            let plan = phaseStart.piece(piece, asBatchControl: mode == .resident)
            do throws(MegakernelError) {
                phaseStart.add(try runPiece(plan, on: k, mode: mode), items: piece, to: &part)
                scheduler.completed(piece, on: k)
            } catch {
                guard let reason = Self.loss(error) else {
                    scheduler.fail(error)
                    break
                }
                lost.withLock { $0[k] = reason }
                megakernels[k].logger.warning("device lost; its piece goes to the others", metadata: ["renderer": "\(megakernels[k].context.info.renderer)", "error": "\(reason)"])
                _ = scheduler.lost(piece, error)
                break
            }
        }
        return part
    }

    /// Why `error` means the device is gone (its context was lost or closed), or nil: any
    /// other failure (a piece too large, a timeout, no persistent mapping) fails the run, since
    /// another device would fail it alike.
    static func loss(_ error: MegakernelError) -> String? {
        guard case .device(let failure) = error else { return nil }
        switch failure {
        case let gl as VyreGLError:
            switch gl {
            case .contextLost, .contextClosed: return error.diagnostics.first?.problem ?? "\(gl)"
            default: return nil
            }
        case let resident as ResidentError:
            switch resident {
            case .deviceLost, .unrecoverable: return error.diagnostics.first?.problem ?? "\(resident)"
            default: return nil
            }
        default: return nil
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
