import CEGL
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VyreGLSL

/// The host side of a context's status block (``LoweredProgram/StatusWord``): a small persistently
/// mapped buffer bound to every program that loops or traps. The host clears it before a
/// submission when the last one left something in it, and reads the trap and driver-cut records
/// after the fence; the ``Watchdog`` sets its abort word when a submission runs past its timeout,
/// which every guarded program polls.
///
/// This is what makes timeouts work on every driver: llvmpipe runs a dispatch on the calling
/// thread and returns only when it has ended, so only code inside the kernel can stop it.
final class StatusBlock: @unchecked Sendable {
    typealias W = LoweredProgram.StatusWord

    let buffer: UInt32
    /// Valid while the buffer exists. The context thread touches it between submissions; the
    /// watchdog only while it holds `armed` at `firing`, which ``disarm()`` waits out.
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    /// Some word may be non-zero (context thread only): the next submission clears the block.
    private var dirty = false
    /// The armed submission's number (odd, so never 0 or `firing`); 0 disarmed; `firing` while
    /// the watchdog sets the abort word (a disarm waits it out, so the mapping is never touched after).
    private let armed = Atomic<UInt64>(0)
    /// The armed submission's timeout in nanoseconds.
    private let timeout = Atomic<UInt64>(0)
    /// The last number armed (context thread only).
    private var submissions: UInt64 = 1
    /// The watchdog's own view (its thread only): which submission it last saw armed, and when it
    /// first saw it. Arming reads no clock; a deadline counts from when the watchdog noticed, so it
    /// fires never early and about two ticks late at most (one to notice, one to see it expire).
    private var seenSubmission: UInt64 = 0
    private var seenAt: ContinuousClock.Instant = .now
    private static let firing = UInt64.max

    init(buffer: UInt32, base: UnsafeMutableRawPointer) {
        self.buffer = buffer
        self.words = base.bindMemory(to: Atomic<UInt32>.self, capacity: W.words)
    }

    /// Clears the block for a submission: every word when the last submission left records in
    /// it, else only the abort word (the watchdog may have set it as a submission ended). Only
    /// while no submitted GPU work uses it (on the context thread, between submissions).
    func prepare() {
        guard dirty else {
            words[W.abort].store(0, ordering: .relaxed)
            return
        }
        for i in 0..<W.words { words[i].store(0, ordering: .relaxed) }
        dirty = false
    }

    /// A submission ended without a snapshot (its wait failed), so any word may be set: the next
    /// ``prepare()`` clears them all.
    func mayHoldRecords() { dirty = true }

    /// Sets the abort word (the fence wait, when it timed out).
    func abort() { words[W.abort].store(1, ordering: .releasing) }

    /// Whether the abort word was set for this submission (read after ``disarm()``).
    var abortRequested: Bool { words[W.abort].load(ordering: .acquiring) != 0 }

    /// Arms the watchdog for the coming submission: past `timeout` it sets the abort word.
    func arm(after timeout: Duration) {
        // A year stands for "never".
        let nanoseconds = min(max(timeout.nanosecondsClamped, 0), 365 * 86_400 * 1_000_000_000)
        self.timeout.store(UInt64(nanoseconds), ordering: .relaxed)
        submissions &+= 2
        armed.store(submissions, ordering: .releasing)
    }

    /// After this returns the watchdog never touches the block again (until armed anew).
    func disarm() {
        while armed.exchange(0, ordering: .acquiringAndReleasing) == Self.firing {
            // The watchdog is storing the abort word right now: let it finish, then clear again.
            while armed.load(ordering: .acquiring) == Self.firing { sched_yield() }
        }
    }

    /// The watchdog's check (its thread only): sets the abort word once the armed submission has
    /// run past its timeout.
    func fireIfDue(_ now: ContinuousClock.Instant) {
        let submission = armed.load(ordering: .acquiring)
        guard submission != 0, submission != Self.firing else { return }
        guard submission == seenSubmission else {
            seenSubmission = submission
            seenAt = now
            return
        }
        guard now - seenAt >= .nanoseconds(Int64(timeout.load(ordering: .relaxed))),
              armed.compareExchange(expected: submission, desired: Self.firing, ordering: .acquiringAndReleasing).exchanged else { return }
        abort()
        armed.store(0, ordering: .releasing)
    }

    /// Sets the abort word of the armed submission now, whatever its timeout (another thread that
    /// found the work stuck); the same hand-off as the watchdog's, so a disarm waits it out.
    func abortArmed() {
        let submission = armed.load(ordering: .acquiring)
        guard submission != 0, submission != Self.firing,
              armed.compareExchange(expected: submission, desired: Self.firing, ordering: .acquiringAndReleasing).exchanged else { return }
        abort()
        armed.store(0, ordering: .releasing)
    }

    /// The words the GPU wrote, after the submission's fence has signalled.
    /// nil when nothing happened, which one word says (see `StatusWord.events`).
    func snapshot() -> [UInt32]? {
        guard words[W.events].load(ordering: .acquiring) != 0 else { return nil }
        dirty = true
        return (0..<W.words).map { words[$0].load(ordering: .acquiring) }
    }
}

/// One thread that sets the abort word of every submission that runs past its deadline.
///
/// Arming is two atomic stores and disarming one exchange on the block's own words, so a dispatch
/// pays nanoseconds for its timeout and never takes a lock; the thread looks at the registered
/// blocks every `tick`. Each block registers once, when its context makes it.
final class Watchdog: @unchecked Sendable {
    static let shared = Watchdog()
    static let tick: Duration = .milliseconds(10)

    private let blocks = Mutex<[WeakStatusBlock]>([])
    private let started = Atomic<Bool>(false)

    func register(_ block: StatusBlock) {
        blocks.withLock { list in
            list.removeAll { $0.block == nil }
            list.append(WeakStatusBlock(block: block))
        }
        if !started.exchange(true, ordering: .acquiringAndReleasing) {
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "vyre-gl watchdog"
            thread.start()
        }
    }

    private func loop() {
        while true {
            Thread.sleep(forTimeInterval: Double(Self.tick.nanosecondsClamped) / 1e9)
            let now = ContinuousClock.now
            let live = blocks.withLock { list in list.compactMap(\.block) }
            for block in live { block.fireIfDue(now) }
        }
    }
}

struct WeakStatusBlock {
    weak var block: StatusBlock?
}

extension Duration {
    /// The duration in nanoseconds, saturated to `Int64`.
    var nanosecondsClamped: Int64 {
        let (s, a) = components
        let (product, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        let (sum, overflow2) = product.addingReportingOverflow(a / 1_000_000_000)
        return overflow2 ? .max : sum
    }
}
