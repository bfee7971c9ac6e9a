public import VyreIR

/// Why bytes are not a ring log this build can replay. Each names the byte offset where the
/// problem is; the Fix is to record the run again (nothing in a damaged log is trusted).
public enum RingLogError: DiagnosticError, Sendable, Hashable {
    case badMagic
    case unsupportedVersion(UInt32)
    case checksumMismatch
    case truncated(offset: Int, reading: String)
    case invalid(offset: Int, problem: String)
    case trailingBytes(offset: Int, count: Int)
    /// The log decodes, but its opcode program or its batch does not (``RingLog/plan()``).
    case unrunnable(what: String, [Diagnostic])

    public var diagnostics: [Diagnostic] {
        let again = "record the run again with 'vyre-gl run --record LOG'"
        return switch self {
        case .badMagic:
            [Diagnostic("the file does not start with the ring log magic VYRERLOG", fix: "pass a log written by 'vyre-gl run --record', not a batch or other data")]
        case .unsupportedVersion(let v):
            [Diagnostic("ring log format version \(v) is not supported (this build reads version \(RingLog.version))", fix: "replay it with the vyre-gl that recorded it, or \(again)")]
        case .checksumMismatch:
            [Diagnostic("the ring log is damaged: its checksum does not match its bytes", fix: again)]
        case .truncated(let offset, let what):
            [Diagnostic("the ring log ends at byte \(offset) while reading \(what)", fix: "the file was cut short; \(again)")]
        case .invalid(let offset, let problem):
            [Diagnostic("the ring log is invalid at byte \(offset): \(problem)", fix: again)]
        case .trailingBytes(let offset, let count):
            [Diagnostic("\(count) bytes follow the ring log's end at byte \(offset)", fix: again)]
        case .unrunnable(let what, let diagnostics):
            diagnostics.map { $0.within("the ring log's \(what)") }
        }
    }
}

extension RingLog {
    /// Decodes a log written by ``encoded()``: the magic, the version and the checksum first,
    /// then every field, count and value against what the protocol allows and against each other
    /// (each record's phase and epoch must be the ones its batch gives). Nothing is trusted
    /// before it is checked.
    public init(bytes: [UInt8]) throws(RingLogError) {
        guard bytes.count >= Self.magic.count, Array(bytes.prefix(Self.magic.count)) == Self.magic else { throw .badMagic }
        var r = RingLogReader(bytes: bytes, end: bytes.count, offset: Self.magic.count)
        let version = try r.u32("the version")
        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard bytes.count >= Self.magic.count + 12 else { throw .truncated(offset: bytes.count, reading: "the checksum") }
        let body = bytes.count - 8
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(bytes[body + i]) << (8 * UInt64(i)) }
        guard RingLogWriter.checksum(bytes[0..<body]) == stored else { throw .checksumMismatch }
        r.end = body
        try self.init(reading: &r)
        guard r.offset == body else { throw .trailingBytes(offset: r.offset, count: body - r.offset) }
    }

    private init(reading r: inout RingLogReader) throws(RingLogError) {
        let modeAt = r.offset
        guard let mode = Mode(rawValue: try r.u32("the mode")) else { throw .invalid(offset: modeAt, problem: "unknown run mode") }
        self.mode = mode
        device = try r.string("the device name", limit: 4096)
        workgroupSize = try r.u32("the workgroup size", in: 1...UInt32.max)
        slots = Int(try r.u32("the slot count", in: 1...UInt32(RingProtocol.maxSlots)))
        controlWords = Int(try r.u32("the control word count", in: UInt32(RingProtocol.Control.observableBase)...(1 << 24)))
        tenants = Int(try r.u32("the tenant count", in: 0...UInt32(controlWords)))
        debugRecords = Int(try r.u32("the debug record count", in: 0...(1 << 24)))
        var control: [Int: UInt32] = [:]
        var previous = -1
        for _ in 0..<(try r.count("initial control words", each: 8)) {
            let at = r.offset
            let index = Int(try r.u32("a control index", in: 0...UInt32(controlWords - 1)))
            // The encoder writes them in ascending order; anything else was not written by it.
            guard index > previous else { throw .invalid(offset: at, problem: "control word \(index) follows word \(previous): the words must be in ascending order, each once") }
            previous = index
            control[index] = try r.u32("a control value")
        }
        initialControl = control
        initialBuffers = try r.buffers("initial buffers")
        opcodeProgram = try r.bytes(Int(try r.u32("the opcode program's length")), "the opcode program")
        var records: [Record] = []
        for _ in 0..<(try r.count("records", each: 32)) { records.append(try r.record()) }
        self.records = records
        finalControl = try r.words("final control words")
        guard finalControl.count == controlWords else {
            throw .invalid(offset: r.offset, problem: "\(finalControl.count) final control words where the ring has \(controlWords)")
        }
        finalBuffers = try r.buffers("final buffers")
        try checkPhases(at: r.offset)
    }

    /// Phases are numbered from 0 and go up by one, a fence alone in its own; each record's epoch
    /// must be the one its batch and outcomes give.
    private func checkPhases(at offset: Int) throws(RingLogError) {
        var batch = Batch(items: records.map(\.item))
        batch.phaseCuts = Self.cuts(records)
        let expected = Self.records(batch.items, phases: batch.phases, outcomes: records.map(\.outcome))
        for (i, (got, want)) in zip(records, expected).enumerated() where got.phase != want.phase || got.epoch != want.epoch {
            throw .invalid(offset: offset, problem: "record \(i) says phase \(got.phase), epoch \(got.epoch), but its batch puts it in phase \(want.phase) at epoch \(want.epoch)")
        }
    }
}

struct RingLogReader {
    let bytes: [UInt8]
    var end: Int
    var offset: Int

    mutating func u32(_ what: String) throws(RingLogError) -> UInt32 {
        guard end - offset >= 4 else { throw .truncated(offset: offset, reading: what) }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    mutating func u32(_ what: String, in range: ClosedRange<UInt32>) throws(RingLogError) -> UInt32 {
        let at = offset
        let v = try u32(what)
        guard range.contains(v) else { throw .invalid(offset: at, problem: "\(what) is \(v), outside \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    /// A count of entries of at least `each` bytes, checked against the bytes left.
    mutating func count(_ what: String, each: Int) throws(RingLogError) -> Int {
        let at = offset
        let n = Int(try u32("the number of \(what)"))
        guard n <= (end - offset) / each else { throw .invalid(offset: at, problem: "\(n) \(what) cannot fit in the \(end - offset) bytes left") }
        return n
    }

    mutating func bytes(_ n: Int, _ what: String) throws(RingLogError) -> [UInt8] {
        guard n <= end - offset else { throw .truncated(offset: offset, reading: what) }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    mutating func string(_ what: String, limit: Int) throws(RingLogError) -> String {
        let at = offset
        let n = Int(try u32("the length of \(what)"))
        guard n <= limit else { throw .invalid(offset: at, problem: "\(what) is \(n) bytes, more than \(limit)") }
        guard let s = String(validating: try bytes(n, what), as: UTF8.self) else { throw .invalid(offset: at + 4, problem: "\(what) is not valid UTF-8") }
        return s
    }

    mutating func words(_ what: String) throws(RingLogError) -> [UInt32] {
        let n = try count(what, each: 4)
        var words: [UInt32] = []
        words.reserveCapacity(n)
        for _ in 0..<n { words.append(try u32(what)) }
        return words
    }

    mutating func buffers(_ what: String) throws(RingLogError) -> [String: [UInt32]] {
        var buffers: [String: [UInt32]] = [:]
        var last: String? = nil
        for _ in 0..<(try count(what, each: 8)) {
            let at = offset
            let name = try string("a buffer name", limit: 1024)
            // Written sorted: out of order or repeated means the bytes were not written by a recorder.
            guard !name.isEmpty, last.map({ $0 < name }) ?? true else { throw .invalid(offset: at, problem: "buffer name '\(quoteForMessage(name))' is empty, repeated or out of order") }
            last = name
            buffers[name] = try words("the words of buffer '\(quoteForMessage(name))'")
        }
        return buffers
    }

    mutating func record() throws(RingLogError) -> RingLog.Record {
        let at = offset
        let opcode = try u32("an opcode")
        let tenant = try u32("a tenant")
        guard let priority = Priority(rawValue: try u32("a priority")) else { throw .invalid(offset: at + 8, problem: "unknown priority") }
        let args = try words("an op's args")
        guard args.count <= RingProtocol.argsPerSlot else { throw .invalid(offset: at + 12, problem: "an op with \(args.count) args; a slot holds \(RingProtocol.argsPerSlot)") }
        let phase = Int(try u32("a phase"))
        let epoch = try u32("an epoch")
        let outcomeAt = offset
        let code = try u32("an outcome")
        let detail = try u32("an outcome's detail")
        let outcome: RingLog.Outcome
        switch (code, detail) {
        case (0, 0): outcome = .done
        case (1, _): outcome = .fault(detail)
        case (2, 0): outcome = .notRun
        // DONE, FAULT and PUBLISHED have outcomes of their own: an "unexpected" one is none of them.
        case (3, let status) where ![SlotStatus.done, .fault, .published].contains(where: { $0.rawValue == status }):
            outcome = .unexpected(status: status)
        default: throw .invalid(offset: outcomeAt, problem: "unknown outcome \(code) (\(detail))")
        }
        return RingLog.Record(item: WorkItem(opcode: opcode, args: args, tenant: tenant, priority: priority), phase: phase, epoch: epoch, outcome: outcome)
    }
}

extension RingLog {
    /// The log's opcode program and batch, checked as `vyre-gl run` checks its input: a log whose
    /// program or batch does not decode or plan cannot be replayed, and nothing is dispatched.
    public func plan() throws(RingLogError) -> (plan: BatchPlan, configuration: MegakernelConfiguration) {
        var configuration = MegakernelConfiguration()
        if !opcodeProgram.isEmpty {
            do throws(ProgramJSONError) { configuration = try MegakernelConfiguration(json: opcodeProgram) } catch {
                throw .unrunnable(what: "opcode program", error.diagnostics)
            }
        }
        configuration.workgroupSize = workgroupSize
        do throws(MegakernelError) { return (try batch.plan(extraBuffers: configuration.extraBuffers), configuration) } catch {
            throw .unrunnable(what: "batch", error.diagnostics)
        }
    }
}
