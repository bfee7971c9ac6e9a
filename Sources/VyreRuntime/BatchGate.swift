import DequeModule
import Dispatch
import Synchronization

/// One batch at a time on a megakernel, in arrival order. A blocking caller waits on its own
/// thread and an async caller suspends; neither waits on the context thread. So no job on that
/// thread ever waits for the gate, and a batch holding it always gets the thread's jobs it needs
/// (a lock taken inside a context-thread job would let a blocking caller that holds it wait for a
/// job queued behind the one waiting for it).
final class BatchGate: Sendable {
    private enum Waiter: Sendable {
        case thread(DispatchSemaphore)
        case task(CheckedContinuation<Void, Never>)
    }

    private struct State: ~Copyable {
        var busy = false
        var waiters = Deque<Waiter>()
    }

    private let state = Mutex(State())

    /// Takes the gate, blocking the calling thread while another batch holds it.
    func enter() {
        let wait: DispatchSemaphore? = state.withLock { s in
            guard s.busy else {
                s.busy = true
                return nil
            }
            let semaphore = DispatchSemaphore(value: 0)
            s.waiters.append(.thread(semaphore))
            return semaphore
        }
        wait?.wait()
    }

    /// Takes the gate if no batch holds it; never waits.
    func tryEnter() -> Bool {
        state.withLock { s in
            guard !s.busy else { return false }
            s.busy = true
            return true
        }
    }

    /// Takes the gate, suspending the calling task while another batch holds it.
    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s in
                guard s.busy else {
                    s.busy = true
                    return true
                }
                s.waiters.append(.task(continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Hands the gate to the longest waiter, or opens it.
    func leave() {
        let next: Waiter? = state.withLock { s in
            guard !s.waiters.isEmpty else {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        switch next {
        case .thread(let semaphore): semaphore.signal()
        case .task(let continuation): continuation.resume()
        case nil: break
        }
    }
}
