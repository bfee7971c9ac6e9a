import CEGL
import Foundation
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
    /// watchdog only while armed, under its lock (see ``Watchdog/disarm(_:)``).
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    /// Some word may be non-zero (context thread only): the next submission clears the block.
    private var dirty = false

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

    /// Sets the abort word (the watchdog, or the fence wait when it timed out).
    func abort() { words[W.abort].store(1, ordering: .releasing) }

    /// The words the GPU wrote, after the submission's fence has signalled.
    func snapshot() -> [UInt32] {
        // Almost always nothing happened, and one word says so (see `StatusWord.events`).
        guard words[W.events].load(ordering: .acquiring) != 0 else { return [UInt32](repeating: 0, count: W.words) }
        dirty = true
        return (0..<W.words).map { words[$0].load(ordering: .acquiring) }
    }
}

/// One thread that sets the abort word of every submission that runs past its deadline. Arming
/// and disarming only take a lock, so a dispatch pays a few hundred nanoseconds for its timeout.
final class Watchdog: @unchecked Sendable {
    static let shared = Watchdog()

    private let condition = NSCondition()
    private var armed: [ObjectIdentifier: (deadline: ContinuousClock.Instant, block: StatusBlock)] = [:]
    private var started = false
    /// When the thread will wake next (nil: only when signalled). An arm with a later deadline
    /// need not wake it, so a steady stream of dispatches costs no context switches.
    private var wakeAt: ContinuousClock.Instant?
    private let clock = ContinuousClock()

    func arm(_ block: StatusBlock, after timeout: Duration) {
        // A year stands for "never".
        let deadline = clock.now.advanced(by: min(max(timeout, .zero), .seconds(365 * 86_400)))
        condition.lock()
        armed[ObjectIdentifier(block)] = (deadline, block)
        if !started {
            started = true
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "vyre-gl watchdog"
            thread.start()
        }
        if wakeAt.map({ deadline < $0 }) ?? true { condition.signal() }
        condition.unlock()
    }

    /// After this returns the watchdog never touches `block` again (until armed anew), so its
    /// context may delete the buffer.
    func disarm(_ block: StatusBlock) {
        condition.lock()
        armed[ObjectIdentifier(block)] = nil
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            guard let next = armed.values.map(\.deadline).min() else {
                wakeAt = nil
                condition.wait()
                continue
            }
            let now = clock.now
            if now >= next {
                for (id, entry) in armed where entry.deadline <= now {
                    entry.block.abort()
                    armed[id] = nil
                }
                continue
            }
            wakeAt = next
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double((next - now).nanosecondsClamped) / 1e9))
        }
    }
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
