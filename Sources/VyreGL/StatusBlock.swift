import CEGL
import Dispatch
import Synchronization
import VyreGLSL

/// The host side of a context's status block (``LoweredProgram/StatusWord``): a small persistently
/// mapped buffer bound to every program that loops or traps. The host clears it before each
/// submission and reads the trap and driver-cut records after the fence; a watchdog sets its abort
/// word when a submission runs past its timeout, which every guarded loop polls.
///
/// The watchdog is what makes timeouts work on every driver: llvmpipe runs a dispatch on the
/// calling thread and returns only when it has ended, so only code inside the kernel can stop it.
final class StatusBlock: @unchecked Sendable {
    typealias W = LoweredProgram.StatusWord

    let buffer: UInt32
    /// Valid while the buffer exists; touched by the watchdog only while armed (see `fire`).
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    /// The submission the watchdog may abort, if any.
    private let armed = Mutex<UInt64?>(nil)
    private let generations = Atomic<UInt64>(0)

    init(buffer: UInt32, base: UnsafeMutableRawPointer) {
        self.buffer = buffer
        self.words = base.bindMemory(to: Atomic<UInt32>.self, capacity: W.words)
    }

    /// Clears every word. Only while no submitted GPU work uses the block (on the context thread,
    /// between submissions).
    func reset() {
        for i in 0..<W.words { words[i].store(0, ordering: .relaxed) }
    }

    /// Sets the abort word now (the fence wait timed out).
    func abort() {
        armed.withLock { _ in words[W.abort].store(1, ordering: .releasing) }
    }

    /// Arms the watchdog: at `deadline` it sets the abort word, unless `disarm` came first.
    func arm(after timeout: Duration) {
        let generation = generations.wrappingAdd(1, ordering: .relaxed).newValue
        armed.withLock { $0 = generation }
        // A year stands for "never": DispatchTime arithmetic must not overflow.
        let nanoseconds = min(max(0, timeout.nanosecondsClamped), 365 * 86_400 * 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in fire(generation) }
    }

    private func fire(_ generation: UInt64) {
        // Under the lock: once `disarm` has returned, the mapping is never touched again, so the
        // context may delete the buffer.
        armed.withLock { current in
            if current == generation { words[W.abort].store(1, ordering: .releasing) }
        }
    }

    func disarm() {
        armed.withLock { $0 = nil }
    }

    /// The words the GPU wrote, after the submission's fence has signalled.
    func snapshot() -> [UInt32] {
        (0..<W.words).map { words[$0].load(ordering: .acquiring) }
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
