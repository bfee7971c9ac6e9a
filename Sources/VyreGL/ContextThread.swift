#if canImport(Glibc)
import Glibc
#endif
import DequeModule
import Foundation

/// The one thread that owns a GL context: every GL call of that context runs here, in order.
///
/// Work arrives as closures. `sync` blocks the caller until its closure has run (like a serial
/// queue's sync); `async` and `enqueue` do not block. A closure that runs on this thread and asks
/// for `sync` runs inline, so nested calls cannot deadlock.
final class ContextThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs = Deque<@Sendable () -> Void>()
    private var stopping = false
    private var finished = false
    private var threadID: pthread_t?

    init(name: String) {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = name
        // Shader compilers recurse deeply; give them room.
        thread.stackSize = 16 << 20
        thread.start()
        condition.lock()
        while threadID == nil { condition.wait() }
        condition.unlock()
    }

    var isCurrent: Bool {
        guard let id = threadID else { return false }
        return pthread_equal(pthread_self(), id) != 0
    }

    private func loop() {
        condition.lock()
        threadID = pthread_self()
        condition.broadcast()
        while true {
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping { break }
            var job: (@Sendable () -> Void)? = jobs.removeFirst()
            condition.unlock()
            job?()
            // What the job captured is released here, outside the lock: it may hold the last
            // reference to an object whose deinit queues its GL cleanup on this very thread.
            job = nil
            condition.lock()
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Queues `job`; returns false if the thread is shutting down.
    @discardableResult
    func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Runs `body` on the context thread and returns its result; nil if the thread has stopped.
    func sync<T>(_ body: () throws -> T) rethrows -> T? {
        if isCurrent { return try body() }
        return try withoutActuallyEscaping(body) { escapable in
            // The caller waits below until the closure has run, so handing the non-Sendable
            // closure and its result across threads is safe (the same contract as DispatchQueue.sync).
            let box = UncheckedBox(escapable)
            let done = DispatchSemaphore(value: 0)
            let accepted = enqueue {
                box.result = Result { try box.value!() }
                // withoutActuallyEscaping checks that nothing holds the closure once it returns.
                box.value = nil
                done.signal()
            }
            guard accepted else {
                box.value = nil
                return nil
            }
            done.wait()
            return try box.result!.get()
        }
    }

    /// Finishes queued jobs, then ends the thread. Blocks until it has ended.
    func stop(finalJob: (@Sendable () -> Void)? = nil) {
        condition.lock()
        if let finalJob, !stopping { jobs.append(finalJob) }
        stopping = true
        condition.broadcast()
        if !isCurrent { while !finished { condition.wait() } }
        condition.unlock()
    }
}

/// Carries a closure and its result across the sync boundary (see `ContextThread.sync`).
final class UncheckedBox<T>: @unchecked Sendable {
    var value: (() throws -> T)?
    var result: Result<T, any Error>?
    init(_ value: @escaping () throws -> T) { self.value = value }
}
