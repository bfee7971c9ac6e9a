import VyreIR

/// A recorded run of a batch: every published slot with its phase, its epoch and its outcome,
/// with what it takes to run the batch again (the ring's settings, the initial control words and
/// buffers, the opcode program) and the words the run left. `vyre-gl run --record` writes one and
/// `vyre-gl replay` runs it again, on any device, and compares.
///
/// The bytes (``encoded()``) are little-endian 32-bit words after an 8-byte magic, ending in a
/// 64-bit FNV-1a checksum of everything before it; ``init(bytes:)`` checks all of it as strictly
/// as the IR's wire format: a damaged, truncated or foreign log is a ``RingLogError`` naming the
/// byte offset, never a wrong replay.
public struct RingLog: Sendable, Hashable {
    /// How the batch was run.
    public enum Mode: UInt32, Sendable, Hashable {
        /// One dispatch per phase of the one-shot megakernel.
        case oneShot = 0
        /// Published phase by phase into a resident kernel's live ring.
        case resident = 1

        public var name: String { self == .oneShot ? "one-shot" : "resident" }
    }

    /// How one op ended.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        case done
        /// FAULT, with its reason (``FaultReason`` or a custom handler's number).
        case fault(UInt32)
        /// Accepted but never run (a SHUTDOWN op ran before it, or its tenant was disabled).
        case notRun
        /// The slot ended in another status (the one-shot run reports these).
        case unexpected(status: UInt32)

        public var description: String {
            switch self {
            case .done: "DONE"
            case .fault(let reason): "FAULT (\(FaultReason.describe(reason)))"
            case .notRun: "not run"
            case .unexpected(let status): "status \(SlotStatus(rawValue: status)?.name ?? "\(status)")"
            }
        }
    }

    /// One published slot.
    public struct Record: Sendable, Hashable {
        public var item: WorkItem
        /// The batch phase it was published in (phases are cut at BATCH_FENCE ops).
        public var phase: Int
        /// EPOCH when its phase was published: the BATCH_FENCE ops of earlier phases that ran.
        public var epoch: UInt32
        public var outcome: Outcome
    }

    public static let magic: [UInt8] = Array("VYRERLOG".utf8)
    /// The format version this build writes and reads.
    public static let version: UInt32 = 1

    public var mode: Mode
    /// The renderer it ran on.
    public var device: String
    public var workgroupSize: UInt32
    public var slots: Int
    public var controlWords: Int
    public var tenants: Int
    public var debugRecords: Int
    public var initialControl: [Int: UInt32]
    public var initialBuffers: [String: [UInt32]]
    /// The opcode program's JSON as given (`--program`); empty for the built-in opcodes only.
    public var opcodeProgram: [UInt8]
    public var records: [Record]
    /// Every control word, and every extra buffer, as the run left them.
    public var finalControl: [UInt32]
    public var finalBuffers: [String: [UInt32]]

    /// The log of `result`, a run of `plan` in `mode` on `device`.
    public init(mode: Mode, device: String, workgroupSize: UInt32, opcodeProgram: [UInt8], plan: BatchPlan, result: BatchResult) {
        let batch = plan.batch
        var outcomes = [Outcome](repeating: .done, count: batch.items.count)
        for f in result.faults where outcomes.indices.contains(f.slot) { outcomes[f.slot] = .fault(f.reason) }
        for p in result.pending where outcomes.indices.contains(p) { outcomes[p] = .notRun }
        for u in result.unexpected where outcomes.indices.contains(u.slot) { outcomes[u.slot] = .unexpected(status: u.status) }
        self.mode = mode
        self.device = device
        self.workgroupSize = workgroupSize
        slots = plan.slots
        controlWords = plan.controlWords
        tenants = batch.tenants
        debugRecords = batch.debugRecords
        initialControl = batch.control
        initialBuffers = batch.buffers
        self.opcodeProgram = opcodeProgram
        records = Self.records(batch.items, phases: batch.phases, outcomes: outcomes)
        finalControl = result.control
        finalBuffers = result.buffers
    }

    /// Each item with its phase and epoch: a phase's epoch counts the fences of earlier phases that ran.
    static func records(_ items: [WorkItem], phases: [Range<Int>], outcomes: [Outcome]) -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(items.count)
        var epoch: UInt32 = 0
        for (p, phase) in phases.enumerated() {
            for i in phase { records.append(Record(item: items[i], phase: p, epoch: epoch, outcome: outcomes[i])) }
            for i in phase where items[i].opcode == Opcode.batchFence.rawValue && outcomes[i] == .done { epoch &+= 1 }
        }
        return records
    }

    /// A log of a live recording (a resident kernel's traffic): `items` in publish order with
    /// their phases (numbered from 0, fences alone in theirs) and outcomes.
    public init(mode: Mode, device: String, workgroupSize: UInt32, opcodeProgram: [UInt8], slots: Int, controlWords: Int, tenants: Int,
                debugRecords: Int, initialControl: [Int: UInt32], initialBuffers: [String: [UInt32]],
                items: [WorkItem], phaseCuts: [Int], outcomes: [Outcome], finalControl: [UInt32], finalBuffers: [String: [UInt32]]) {
        self.mode = mode
        self.device = device
        self.workgroupSize = workgroupSize
        self.opcodeProgram = opcodeProgram
        self.slots = slots
        self.controlWords = controlWords
        self.tenants = tenants
        self.debugRecords = debugRecords
        self.initialControl = initialControl
        self.initialBuffers = initialBuffers
        var batch = Batch(items: items)
        batch.phaseCuts = phaseCuts
        records = Self.records(items, phases: batch.phases, outcomes: outcomes)
        self.finalControl = finalControl
        self.finalBuffers = finalBuffers
    }

    /// The batch the log ran, to run again, phase for phase.
    public var batch: Batch {
        var batch = Batch(items: records.map(\.item), slots: slots, controlWords: controlWords, tenants: tenants, debugRecords: debugRecords,
                          control: initialControl, buffers: initialBuffers)
        batch.phaseCuts = Self.cuts(records)
        return batch
    }

    /// Where the records' phase numbers change.
    static func cuts(_ records: [Record]) -> [Int] {
        records.indices.dropFirst().filter { records[$0].phase != records[$0 - 1].phase }
    }
}

// MARK: - Encoding

extension RingLog {
    /// The log's bytes (see the type's description).
    public func encoded() -> [UInt8] {
        var w = RingLogWriter()
        w.bytes += Self.magic
        w.u32(Self.version)
        w.u32(mode.rawValue)
        w.string(device)
        for v in [workgroupSize, UInt32(slots), UInt32(controlWords), UInt32(tenants), UInt32(debugRecords)] { w.u32(v) }
        w.u32(UInt32(initialControl.count))
        for (index, value) in initialControl.sorted(by: { $0.key < $1.key }) {
            w.u32(UInt32(index))
            w.u32(value)
        }
        w.buffers(initialBuffers)
        w.u32(UInt32(opcodeProgram.count))
        w.bytes += opcodeProgram
        w.u32(UInt32(records.count))
        for r in records { w.record(r) }
        w.words(finalControl)
        w.buffers(finalBuffers)
        let sum = RingLogWriter.checksum(w.bytes)
        for i in 0..<8 { w.bytes.append(UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i)))) }
        return w.bytes
    }
}

struct RingLogWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    mutating func string(_ s: String) {
        u32(UInt32(s.utf8.count))
        bytes += s.utf8
    }

    mutating func words(_ words: [UInt32]) {
        u32(UInt32(words.count))
        for v in words { u32(v) }
    }

    mutating func buffers(_ buffers: [String: [UInt32]]) {
        u32(UInt32(buffers.count))
        for (name, words) in buffers.sorted(by: { $0.key < $1.key }) {
            string(name)
            self.words(words)
        }
    }

    mutating func record(_ r: Record) {
        u32(r.item.opcode)
        u32(r.item.tenant)
        u32(r.item.priority.rawValue)
        words(r.item.args)
        u32(UInt32(r.phase))
        u32(r.epoch)
        switch r.outcome {
        case .done: u32(0); u32(0)
        case .fault(let reason): u32(1); u32(reason)
        case .notRun: u32(2); u32(0)
        case .unexpected(let status): u32(3); u32(status)
        }
    }

    typealias Record = RingLog.Record

    /// 64-bit FNV-1a: cheap, and any damaged byte changes it.
    static func checksum(_ bytes: some Collection<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

// MARK: - Comparing a replay

extension RingLog {
    /// Where `replay` (a run of this log's batch) ended differently: each op's outcome, phase and
    /// epoch, every control word and every extra buffer's words, in that order. Empty when they
    /// agree. Which device or mode ran each does not count.
    public func differences(from replay: RingLog) -> [String] {
        differences(from: replay, limit: .max).listed
    }

    /// The first `limit` of ``differences(from:)``, and how many there are in all (the rest are
    /// counted, not written out: a log can differ in every one of millions of words).
    public func differences(from replay: RingLog, limit: Int) -> (listed: [String], total: Int) {
        var out = DifferenceList(limit: limit)
        if replay.records.count != records.count {
            out.add("the replay ran \(replay.records.count) ops where the log has \(records.count)")
        }
        for (i, (a, b)) in zip(records, replay.records).enumerated() where a != b {
            let op = "op \(i) (\(Opcode.name(of: a.item.opcode)), phase \(a.phase))"
            if a.item != b.item {
                out.add("\(op): the replay ran a different op")
            } else if a.outcome != b.outcome {
                out.add("\(op): recorded \(a.outcome), replayed \(b.outcome)")
            } else {
                out.add("\(op): recorded at epoch \(a.epoch), replayed at epoch \(b.epoch)")
            }
        }
        if finalControl.count != replay.finalControl.count {
            out.add("the replay left \(replay.finalControl.count) control words where the log has \(finalControl.count)")
        }
        for (i, (a, b)) in zip(finalControl, replay.finalControl).enumerated() where a != b {
            out.add("control[\(i)]: recorded \(a), replayed \(b)")
        }
        for name in Set(finalBuffers.keys).union(replay.finalBuffers.keys).sorted() {
            let shown = quoteForMessage(name)
            guard let a = finalBuffers[name], let b = replay.finalBuffers[name] else {
                out.add("buffer '\(shown)' is in only one of the two runs")
                continue
            }
            if a.count != b.count { out.add("buffer '\(shown)': recorded \(a.count) words, replayed \(b.count)") }
            for (i, (x, y)) in zip(a, b).enumerated() where x != y { out.add("buffer '\(shown)'[\(i)]: recorded \(x), replayed \(y)") }
        }
        return (out.listed, out.total)
    }
}

/// Differences up to a limit, and the count of all of them; each text is built only when kept.
struct DifferenceList {
    let limit: Int
    var listed: [String] = []
    var total = 0

    mutating func add(_ text: @autoclosure () -> String) {
        total += 1
        if listed.count < limit { listed.append(text()) }
    }
}
