import Dispatch
import Foundation
import Synchronization

/// One accepted op's result, handed from the completion thread to whoever waits for it: a task
/// (`completion()`) or a thread (`wait()`).
public final class ResidentTicket: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Result<Completion, ResidentError>, Never>?)
        case finished(Result<Completion, ResidentError>)
    }

    private let state = Mutex<State>(.waiting(nil))
    private let finished = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let retired = Mutex<ContinuousClock.Instant?>(nil)
    private let spin: Duration
    /// When the ticket was made, just before its op was published (for the round-trip metric).
    let publishedAt = ContinuousClock.now
    /// The tenant whose quota the op counts against, told when it ends.
    private let account: TenantAccount?

    init(spin: Duration, account: TenantAccount? = nil) {
        self.spin = spin
        self.account = account
    }

    /// When the completion thread saw the op end (nil until then, and for an op that did not
    /// run): the raw round trip ends here, before any waiter is woken.
    public var retiredAt: ContinuousClock.Instant? { retired.withLock { $0 } }

    /// Whether the op has ended (its completion or error is ready).
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Ends the op; the first result wins.
    func finish(_ result: Result<Completion, ResidentError>, at instant: ContinuousClock.Instant? = nil) {
        if let instant { retired.withLock { $0 = instant } }
        let (first, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Result<Completion, ResidentError>, Never>?) in
            guard case .waiting(let c) = s else { return (false, nil) }
            s = .finished(result)
            return (true, c)
        }
        guard first else { return }
        // Before the waiter wakes: a submit it makes next finds the quota given back.
        account?.ended(result, publishedAt: publishedAt)
        finished.store(true, ordering: .releasing)
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

    /// The op's completion, blocking the calling thread until the kernel has run it (after a
    /// short spin: see ``spinThenWait(until:on:)``).
    public func wait() throws(ResidentError) -> Completion {
        spinThenWait(until: finished, on: done, spin: spin)
        let result = state.withLock { s -> Result<Completion, ResidentError> in
            guard case .finished(let r) = s else { preconditionFailure("signalled before finished") }
            return r
        }
        return try result.get()
    }
}

/// One ticket for a batch of ops: the completion thread fills in each op's result and wakes the
/// waiter once, when the last one ends, instead of once per op.
public final class ResidentBatchTicket: @unchecked Sendable {
    /// Ops the ticket covers (those published; fixed once ``seal(unpublished:)`` ran).
    public var count: Int { expected.load(ordering: .acquiring) }

    private let expected: Atomic<Int>
    /// Ops not yet ended plus the unpublished ones not yet sealed off; whoever takes it to zero
    /// finishes the ticket.
    private let remaining: Atomic<Int>
    /// Each written once, by whoever ends that op, before it counts `remaining` down (releasing);
    /// read only after `remaining` reached zero (acquiring).
    private let results: UnsafeMutablePointer<Result<Completion, ResidentError>?>
    private let capacity: Int
    private let finished = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let spin: Duration
    /// When the ticket was made, just before its ops were published (for the round-trip metric).
    let publishedAt = ContinuousClock.now

    /// A ticket for up to `capacity` ops; a thread waiting for it spins for `spin` first.
    init(capacity: Int, spin: Duration) {
        self.capacity = capacity
        self.spin = spin
        expected = Atomic(capacity)
        remaining = Atomic(capacity)
        results = .allocate(capacity: max(1, capacity))
        results.initialize(repeating: nil, count: max(1, capacity))
        if capacity == 0 {
            finished.store(true, ordering: .releasing)
            done.signal()
        }
    }

    deinit {
        results.deinitialize(count: max(1, capacity))
        results.deallocate()
    }

    /// Whether every op of the batch has ended.
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Op `index` ended with `result` (once per index).
    func finish(_ index: Int, _ result: Result<Completion, ResidentError>) {
        record(index, result)
        countDown(1)
    }

    /// Op `index` ended with `result` (once per index); it counts once ``countDown(_:)`` says so,
    /// on the same thread.
    func record(_ index: Int, _ result: Result<Completion, ResidentError>) {
        results[index] = result
    }

    /// The last `unpublished` of the ops the ticket was made for were not published and never end.
    func seal(unpublished: Int) {
        guard unpublished > 0 else { return }
        expected.subtract(unpublished, ordering: .acquiringAndReleasing)
        countDown(unpublished)
    }

    /// `n` recorded (or sealed-off) ops ended; the last one wakes the waiter.
    func countDown(_ n: Int) {
        guard remaining.subtract(n, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        finished.store(true, ordering: .releasing)
        let c = waiter.withLock { w in
            defer { w = nil }
            return w
        }
        c?.resume()
        done.signal()
    }

    /// Each op's result, in publication order, once every op has ended.
    public func results() async -> [Result<Completion, ResidentError>] {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = waiter.withLock { w -> Bool in
                if finished.load(ordering: .acquiring) { return true }
                w = c
                return false
            }
            if ready { c.resume() }
        }
        return collected()
    }

    /// Each op's result, in publication order, blocking the calling thread until every op has
    /// ended (after a short spin: see ``spinThenWait(until:on:)``).
    public func wait() -> [Result<Completion, ResidentError>] {
        spinThenWait(until: finished, on: done, spin: spin)
        return collected()
    }

    /// The completions in publication order; throws the first op's error if any op did not run.
    public func completions() async throws(ResidentError) -> [Completion] {
        try Self.unwrap(await results())
    }

    /// ``completions()`` for a thread.
    public func waitForCompletions() throws(ResidentError) -> [Completion] {
        try Self.unwrap(wait())
    }

    private static func unwrap(_ results: [Result<Completion, ResidentError>]) throws(ResidentError) -> [Completion] {
        var out: [Completion] = []
        out.reserveCapacity(results.count)
        for r in results { out.append(try r.get()) }
        return out
    }

    private func collected() -> [Result<Completion, ResidentError>] {
        (0..<expected.load(ordering: .acquiring)).map { results[$0]! }
    }
}

/// Blocks until `flag` is set, spinning (yielding the core) for up to `spin` first: on a GPU a
/// resident op ends microseconds after it is published, and parking the thread and waking it
/// again costs more than that. Then waits on `semaphore`, which the finisher signals once, and
/// signals it again so a second waiter passes too.
func spinThenWait(until flag: borrowing Atomic<Bool>, on semaphore: DispatchSemaphore, spin: Duration) {
    let deadline = ContinuousClock.now + spin
    var spins = 0
    while !flag.load(ordering: .acquiring) {
        spins += 1
        if spins & 15 == 0, ContinuousClock.now >= deadline {
            semaphore.wait()
            semaphore.signal()
            return
        }
        sched_yield()
    }
}
