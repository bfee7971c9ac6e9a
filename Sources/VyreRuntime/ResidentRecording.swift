public import VyreProtocol
import VyreGL
import Synchronization

/// A recording of a resident kernel's traffic (``ResidentMegakernel/startRecording()``): every op
/// published while it is on, in publish order, with its outcome, and the control words and extra
/// buffers as they were when it began and as they are when it ends. ``finish()`` gives a
/// ``RingLog`` that `vyre-gl replay` runs again on any device.
///
/// Live ops have no phases of their own; the recording gives them the ones causality asks for:
/// an op published after another op's completion was handed out runs in a later phase, and a
/// BATCH_FENCE stands alone in its phase. A replay runs phase after phase, so any order the live
/// run allowed between ops of one phase may come out differently there.
public final class ResidentRecording: Sendable {
    /// The most ops one recording holds (a replay runs them in a ring of at most this many slots);
    /// later ops are counted in ``RecordedLog/notRecorded``.
    public static let capacity = RingProtocol.maxSlots

    struct Setup: Sendable {
        var device: String
        var configuration: MegakernelConfiguration
        var options: ResidentOptions
        var initialControl: [Int: UInt32]
        var initialBuffers: [String: [UInt32]]
    }

    private struct Entry {
        var item: WorkItem
        /// (completion passes seen before its publish, fence step): phases in order.
        var key: (Int, Int)
        var outcome: RingLog.Outcome?
    }

    private struct State: ~Copyable {
        var entries: [Entry] = []
        /// Completion passes that handed out results since the recording began.
        var passes = 0
        var lastKey = (-1, 0)
        var lastWasFence = false
        var awaiting = 0
        var notRecorded = 0
        var stopped = false
    }

    private let state = Mutex(State())
    let setup: Setup
    /// Weak: the kernel's core holds the recording while it runs, and a recording never finished
    /// must not keep the core (its buffers) alive.
    private let coreRef: WeakCore
    /// Tags this recording's record indices in the kernel's slots (`serial << 32 | index`), so an
    /// op that ends after its recording finished never reaches the next one.
    let serial: Int

    init(core: ResidentCore, setup: Setup, serial: Int) {
        self.coreRef = WeakCore(core)
        self.setup = setup
        self.serial = serial
    }

    // MARK: the kernel's side

    /// Records `items` (about to be placed into `slots`); writes each one's record index into
    /// `indices` (-1 when the recording is full or stopped).
    func append(_ items: UnsafeBufferPointer<WorkItem>, into indices: UnsafeMutableBufferPointer<Int>) {
        state.withLock { s in
            for (i, item) in items.enumerated() {
                guard !s.stopped, s.entries.count < Self.capacity else {
                    if !s.stopped { s.notRecorded += 1 }
                    indices[i] = -1
                    continue
                }
                let fence = item.opcode == Opcode.batchFence.rawValue
                var key = s.passes > s.lastKey.0 ? (s.passes, 0) : s.lastKey
                if (fence || s.lastWasFence) && !s.entries.isEmpty && key == s.lastKey { key.1 += 1 }
                s.lastKey = key
                s.lastWasFence = fence
                indices[i] = serial << 32 | s.entries.count
                s.entries.append(Entry(item: item, key: key, outcome: nil))
                s.awaiting += 1
            }
        }
    }

    /// A completion pass ended, handing out `outcomes` (by tagged record index), before its
    /// waiters are woken: an op published after this is in a later phase.
    func passEnded(_ outcomes: [(Int, RingLog.Outcome)]) {
        state.withLock { s in
            s.passes += 1
            for (tagged, outcome) in outcomes where tagged >> 32 == serial {
                let index = tagged & 0xFFFF_FFFF
                guard s.entries[index].outcome == nil else { continue }
                s.entries[index].outcome = outcome
                s.awaiting -= 1
            }
        }
    }

    // MARK: finishing

    /// Stops recording, waits for every recorded op's outcome, and returns the log with the
    /// words as they are then. Ops published by others meanwhile are not in it, but their effects
    /// on the words are: stop submitting first for a log that replays exactly.
    ///
    /// A recorded op that cannot run (its tenant is disabled, or a SHUTDOWN op ran) is recorded as
    /// not run, as a replay leaves it; waiting ends once every recorded op has ended or none of
    /// the kernel's ops can run. (Outcomes come from the completion thread; this polls them each
    /// millisecond rather than add a wake-up to its path.)
    public func finish() async -> RecordedLog {
        let core = coreRef.core
        core?.stopRecording(self)
        state.withLock { $0.stopped = true }
        while state.withLock({ $0.awaiting }) > 0, core?.hasRunnableOps == true {
            try? await Task.sleep(for: .milliseconds(1))
        }
        core?.recordingEnded(self)
        let (entries, notRecorded) = state.withLock { ($0.entries, $0.notRecorded) }
        var cuts: [Int] = []
        for i in entries.indices.dropFirst() where entries[i].key != entries[i - 1].key { cuts.append(i) }
        let options = setup.options
        let log = RingLog(mode: .resident, device: setup.device, workgroupSize: setup.configuration.workgroupSize,
                          opcodeProgram: setup.configuration.opcodes.isEmpty && setup.configuration.extraBuffers.isEmpty ? [] : setup.configuration.jsonBytes(),
                          slots: max(options.slots, min(entries.count, Self.capacity)), controlWords: options.controlWords, tenants: options.tenants,
                          debugRecords: options.debugRecords, initialControl: setup.initialControl, initialBuffers: setup.initialBuffers,
                          items: entries.map(\.item), phaseCuts: cuts, outcomes: entries.map { $0.outcome ?? .notRun },
                          finalControl: core?.control.view.read(words: 0..<options.controlWords) ?? [], finalBuffers: core?.extraBufferWords() ?? [:])
        return RecordedLog(log: log, notRecorded: notRecorded)
    }
}

/// What ``ResidentRecording/finish()`` gives: the log, and how many ops came after it was full.
public struct RecordedLog: Sendable {
    public var log: RingLog
    public var notRecorded: Int
}

/// A weak reference to a kernel's core.
final class WeakCore: @unchecked Sendable {
    // Set once, at init; a weak load is atomic.
    private(set) weak var core: ResidentCore?

    init(_ core: ResidentCore) { self.core = core }
}
