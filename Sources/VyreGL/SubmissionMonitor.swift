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
    private let running = Atomic<Bool>(false)
    private let abortWanted = Atomic<Bool>(false)

    public init() {}

    /// Whether the watched submission is on the context thread now.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

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
        running.store(true, ordering: .releasing)
        if abortWanted.exchange(false, ordering: .sequentiallyConsistent) { armedBlock.withLock { $0?.abortArmed() } }
    }

    /// The submission is over (context thread, before it disarms its block).
    func ended() {
        armedBlock.withLock { $0 = nil }
        running.store(false, ordering: .releasing)
        abortWanted.store(false, ordering: .relaxed)
    }
}
