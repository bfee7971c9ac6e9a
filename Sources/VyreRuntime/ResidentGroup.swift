public import VyreGL
public import VyreProtocol
public import Logging
import Synchronization

/// One resident megakernel per device, fed as one: what a server with several GPUs keeps.
///
/// Each op (or batch of ops published together) goes to the live kernel with the fewest ops in
/// flight, so a device that drains faster takes more, and runs there exactly once: a published op
/// belongs to its ring and is never moved, which is what keeps it from running twice. Each kernel
/// keeps its own control words; an op's completion comes back to its submitter.
///
/// An op a lost kernel had not started (``ResidentError/deviceLost(_:mayHaveRun:)`` with
/// `mayHaveRun` false) is submitted again to the least loaded kernel; a kernel that takes no ops
/// any more (lost for good, or shut down by a SHUTDOWN op) is left out from then on and its op
/// goes to another, as does one refused while its kernel is rebuilt. An op that may have run
/// fails with the kernel's error and never runs twice.
public final class ResidentGroup: Sendable {
    /// The kernels, one per context, in the order given.
    public let kernels: [ResidentMegakernel]
    /// Kernels left out: lost for good, or shut down.
    private let out: Mutex<Set<Int>>
    /// Where the search for the least loaded kernel starts: ties go round.
    private let next = Atomic<Int>(0)

    /// Starts a resident kernel on every context (see ``ResidentMegakernel/init(context:configuration:options:logger:metricsFactory:metricsDimensions:replacementContext:printfLogger:io:)``);
    /// each reports its metrics with a `device` dimension of its index.
    public init(contexts: [GLContext], configuration: MegakernelConfiguration = MegakernelConfiguration(),
                options: ResidentOptions = ResidentOptions(), logger: Logger? = nil) throws(MegakernelError) {
        guard !contexts.isEmpty else {
            throw .invalidOptions(problem: "a resident group was given no contexts", fix: "open at least one (GLContext.open(.all))")
        }
        var kernels: [ResidentMegakernel] = []
        for (k, context) in contexts.enumerated() {
            kernels.append(try ResidentMegakernel(context: context, configuration: configuration, options: options, logger: logger,
                                                  metricsDimensions: [("device", "\(k)")]))
        }
        self.kernels = kernels
        out = Mutex([])
    }

    /// The live kernel with the fewest ops in flight; nil when none is left.
    public func leastLoaded() -> Int? {
        let excluded = out.withLock { $0 }
        let start = next.add(1, ordering: .relaxed).oldValue
        var best: (index: Int, load: Int)? = nil
        for step in 0..<kernels.count {
            let k = (start + step) % kernels.count
            guard !excluded.contains(k) else { continue }
            let load = kernels[k].opsInFlight
            if best == nil || load < best!.load { best = (k, load) }
        }
        return best?.index
    }

    /// Publishes `items` at once on the least loaded kernel, like
    /// ``ResidentMegakernel/trySubmitBatch(_:)``: `device` is the kernel's index, nil when every
    /// kernel is out (then nothing was published).
    public func trySubmitBatch(_ items: some Collection<WorkItem>) -> (device: Int?, batch: ResidentBatchTicket?, stoppedBy: ResidentError?) {
        var last: (Int?, ResidentBatchTicket?, ResidentError?) = (nil, nil, .shutDown)
        // A kernel that refuses every op goes out and the next is tried; one that published some keeps them.
        for _ in 0..<kernels.count {
            guard let k = leastLoaded() else { break }
            let (batch, stoppedBy) = kernels[k].trySubmitBatch(items)
            last = (k, batch, stoppedBy)
            guard batch.count == 0, let stoppedBy, takesNoOps(stoppedBy, k) else { break }
        }
        return last
    }

    /// Whether `error` says the op did not run because kernel `k` takes none now (refused, or
    /// published and then not run as the kernel stopped): it is left out when it will take none
    /// again (shut down, lost for good), not while it is rebuilt.
    private func takesNoOps(_ error: ResidentError, _ k: Int) -> Bool {
        switch error {
        case .shutDown, .unrecoverable, .notRun(.shutdownOp), .notRun(.cancelled):
            leaveOut(k)
            return true
        case .recovering: return true
        default: return false
        }
    }

    /// Runs `item` on the least loaded kernel, waiting for room, and returns its completion and
    /// the kernel it ran on; fails over to another kernel while the op has not started.
    public func submit(_ item: WorkItem) async throws(ResidentError) -> (device: Int, completion: Completion) {
        var lastError = ResidentError.shutDown
        // Bounded: each kernel may lose the op once while rebuilding, or be left out.
        for _ in 0..<(2 * kernels.count) {
            guard let k = leastLoaded() else { break }
            do throws(ResidentError) {
                return (k, try await kernels[k].submit(item))
            } catch {
                lastError = error
                // Lost before it started (the kernel is rebuilt), or refused before it was published:
                // the op goes wherever is least loaded now.
                if case .deviceLost(_, mayHaveRun: false) = error { continue }
                guard takesNoOps(error, k) else { throw error }
            }
        }
        throw lastError
    }

    /// Ends every kernel (see ``ResidentMegakernel/shutdown(_:)``).
    public func shutdown(_ mode: ShutdownMode) async {
        for kernel in kernels { await kernel.shutdown(mode) }
    }

    /// Each kernel's telemetry, in order.
    public var telemetry: [ResidentTelemetry] { kernels.map(\.telemetry) }

    /// Indices of the kernels left out: lost for good, or shut down.
    public var lostDevices: Set<Int> { out.withLock { $0 } }

    private func leaveOut(_ k: Int) {
        out.withLock { _ = $0.insert(k) }
        kernels[k].context.logger.warning("resident kernel left out of its group after a loss", metadata: ["device": "\(k)"])
    }
}
