import Synchronization

/// One submission watched from another thread: whether it has begun on the context thread (and
/// not merely waits behind other jobs there), and a way to stop that submission and no other.
///
/// Pass it to ``GLContext/submit(_:steps:buffers:uploads:copies:options:monitor:)``; one monitor
/// serves one submission at a time and may be reused for the next. ``abort()`` is what the
/// submission's own timeout does: the status block's abort word is set, every guarded loop
/// stops at its next poll, and the submission throws ``VyreGLError/timeout(seconds:what:stopped:)``.
/// Stopping the context's running submission whoever made it would stop another caller's work
/// on a shared context.
public final class SubmissionMonitor: Sendable {
    /// The status block while the watched submission is armed; nil before and after. Aborts
    /// happen under the lock, and the submission lets go under it before it disarms, so an
    /// abort never reaches a later submission.
    private let armedBlock = Mutex<StatusBlock?>(nil)
    /// When the watched submission began on the context thread; nil while none runs.
    private let began = Mutex<ContinuousClock.Instant?>(nil)
    private let abortWanted = Atomic<Bool>(false)

    public init() {}

    /// Since when the watched submission has been on the context thread (not merely queued
    /// there); nil while none is.
    public var runningSince: ContinuousClock.Instant? { began.withLock { $0 } }

    /// Stops the watched submission: now if it runs, else as soon as it begins. Only a program
    /// that loops polls the abort word; one that does not runs to its end (bounded by its grid).
    public func abort() {
        abortWanted.store(true, ordering: .sequentiallyConsistent)
        armedBlock.withLock { $0?.abortArmed() }
    }

    /// The submission has armed `block` (context thread); an abort asked for before it began
    /// takes effect now.
    func began(_ block: StatusBlock?) {
        armedBlock.withLock { $0 = block }
        began.withLock { $0 = .now }
        if abortWanted.exchange(false, ordering: .sequentiallyConsistent) { armedBlock.withLock { $0?.abortArmed() } }
    }

    /// The submission is over (context thread, before it disarms its block).
    func ended() {
        armedBlock.withLock { $0 = nil }
        began.withLock { $0 = nil }
        abortWanted.store(false, ordering: .relaxed)
    }
}
