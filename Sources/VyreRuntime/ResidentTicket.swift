import Dispatch
import Synchronization

/// One accepted op's result, handed from the completion thread to whoever waits for it: a task
/// (`completion()`) or a thread (`wait()`).
public final class ResidentTicket: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Result<Completion, ResidentError>, Never>?)
        case finished(Result<Completion, ResidentError>)
    }

    private let state = Mutex<State>(.waiting(nil))
    private let done = DispatchSemaphore(value: 0)
    private let retired = Mutex<ContinuousClock.Instant?>(nil)

    init() {}

    /// When the completion thread saw the op end (nil until then, and for an op that did not
    /// run): the raw round trip ends here, before any waiter is woken.
    public var retiredAt: ContinuousClock.Instant? { retired.withLock { $0 } }

    /// Ends the op; the first result wins.
    func finish(_ result: Result<Completion, ResidentError>, at instant: ContinuousClock.Instant? = nil) {
        if let instant { retired.withLock { $0 = instant } }
        let (first, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Result<Completion, ResidentError>, Never>?) in
            guard case .waiting(let c) = s else { return (false, nil) }
            s = .finished(result)
            return (true, c)
        }
        guard first else { return }
        waiter?.resume(returning: result)
        done.signal()
    }

    /// The op's completion, once the kernel has run it.
    public func completion() async throws(ResidentError) -> Completion {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<Completion, ResidentError>, Never>) in
            let ready = state.withLock { s -> Result<Completion, ResidentError>? in
                switch s {
                case .finished(let r): return r
                case .waiting: s = .waiting(c); return nil
                }
            }
            if let ready { c.resume(returning: ready) }
        }
        return try result.get()
    }

    /// The op's completion, blocking the calling thread until the kernel has run it.
    public func wait() throws(ResidentError) -> Completion {
        done.wait()
        done.signal()
        let result = state.withLock { s -> Result<Completion, ResidentError> in
            guard case .finished(let r) = s else { preconditionFailure("signalled before finished") }
            return r
        }
        return try result.get()
    }
}
