/// A batch for one-shot dispatch: work items in order, and the buffers' geometry.
///
/// Item `i` goes into slot `i`. Items between two BATCH_FENCEs form a phase and run concurrently
/// in unspecified order; every item before a fence completes before the fence, and the fence
/// before any item after it. Once SHUTDOWN has run, items of later phases are not executed and
/// stay PUBLISHED; so do items of a tenant whose mask is zero, and items of SHUTDOWN's own phase
/// claimed after it ran (which those are is a race).
public struct Batch: Sendable {
    /// The work items; item `i` goes into slot `i`.
    public var items: [WorkItem]
    /// Ring size: at least `items.count` (default), at most 1,048,576.
    public var slots: Int?
    /// Control buffer words: at least 160 (the observables follow word 160).
    public var controlWords: Int
    /// Tenant ids `0 ..< tenants` are enabled in the default tenant table.
    public var tenants: Int
    /// PRINTF records the debug log holds (1 to 1,048,576); later ones are counted as lost, not kept.
    public var debugRecords: Int
    /// Initial control words by index (applied after the tenant table, so they can override it).
    public var control: [Int: UInt32]
    /// Contents of the megakernel's extra buffers, by name (left out: zeroed at the declared count).
    public var buffers: [String: [UInt32]]
    /// Item indices where a phase begins besides the cuts at fences: a live recording's phases
    /// (an op published after another's completion was seen runs in a later phase). Not part of
    /// the JSON form.
    public var phaseCuts: [Int] = []

    /// A batch of `items`. The defaults fit any items: one slot per item, 224 control words (64
    /// observables), one tenant, 64 debug records. Nothing is checked until the batch is planned.
    public init(items: [WorkItem], slots: Int? = nil, controlWords: Int = 224, tenants: Int = 1, debugRecords: Int = RingProtocol.Debug.defaultRecords,
                control: [Int: UInt32] = [:], buffers: [String: [UInt32]] = [:]) {
        self.items = items
        self.slots = slots
        self.controlWords = controlWords
        self.tenants = tenants
        self.debugRecords = debugRecords
        self.control = control
        self.buffers = buffers
    }

    /// Consecutive item ranges that run as one dispatch each: fences stand alone, and a phase
    /// also begins at each of ``phaseCuts``.
    public var phases: [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        let fence = Opcode.batchFence.rawValue
        var cuts = phaseCuts.sorted()[...]
        // Opcodes are read in place: copying an item would retain its args array, a million times
        // for a large batch.
        items.withUnsafeBufferPointer { items in
            for i in items.indices {
                while let c = cuts.first, c <= i {
                    if c == i, start < i {
                        out.append(start..<i)
                        start = i
                    }
                    cuts.removeFirst()
                }
                guard items[i].opcode == fence else { continue }
                if start < i { out.append(start..<i) }
                out.append(i..<(i + 1))
                start = i + 1
            }
        }
        if start < items.count { out.append(start..<items.count) }
        return out
    }
}

/// A slot that ended as FAULT.
public struct SlotFault: Sendable, Hashable, Codable {
    /// The slot, which is also the item's index in the batch.
    public var slot: Int
    /// A ``FaultReason`` value, or a custom handler's own reason (256 and up).
    public var reason: UInt32
    /// The reason in words, custom reasons included.
    public var reasonText: String { FaultReason.describe(reason) }

    /// A fault of `slot` with a raw `reason`.
    public init(slot: Int, reason: UInt32) {
        self.slot = slot
        self.reason = reason
    }
}

/// Where the time of one batch went.
public struct BatchTiming: Sendable, Hashable {
    /// Validating the batch and writing its item records into mapped memory.
    public var encode: Duration
    /// Uploads, dispatches and copies submitted, until the fence signalled.
    public var gpu: Duration
    /// Decoding the results.
    public var decode: Duration
    /// Encode, GPU and decode together.
    public var total: Duration { encode + gpu + decode }

    package init(encode: Duration, gpu: Duration, decode: Duration) {
        self.encode = encode
        self.gpu = gpu
        self.decode = decode
    }
}

/// The typed outcome of one batch.
public struct BatchResult: Sendable {
    /// Items in the batch.
    public var itemCount: Int
    /// Ring slots the batch used.
    public var slots: Int
    /// Dispatches submitted: one per phase, each fence a phase of its own.
    public var phases: Int
    /// The whole control buffer after the batch.
    public var control: [UInt32]
    /// PRINTF records the kernel kept, and how many it lost.
    public var debug: DebugLog
    /// Slots that ended FAULT, with their reasons, sorted by slot.
    public var faults: [SlotFault]
    /// Slots left PUBLISHED (after SHUTDOWN, or of a disabled tenant).
    public var pending: [Int]
    /// Slots in any other state (never expected; reported rather than hidden).
    public var unexpected: [(slot: Int, status: UInt32)]
    /// Extra buffers after the batch, by name.
    public var buffers: [String: [UInt32]]
    /// Completed operations per opcode: slots that ended DONE, plus the inner ops of DONE packed slots.
    public var completed: [UInt32: Int]
    /// Where the batch's time went.
    public var timing: BatchTiming

    /// The DONE_COUNT control word: slots that ended DONE (plus any initial value the batch set).
    public var doneCount: UInt32 { control[RingProtocol.Control.doneCount] }
    /// The EPOCH control word, which each BATCH_FENCE that runs advances.
    public var epoch: UInt32 { control[RingProtocol.Control.epoch] }
    /// Whether the SHUTDOWN control word is set: a SHUTDOWN op ran, or the batch set the word.
    public var shutdown: Bool { control[RingProtocol.Control.shutdown] != 0 }
    /// Every item ended DONE: no faults, nothing left PUBLISHED, no unexpected states.
    public var allDone: Bool { faults.isEmpty && pending.isEmpty && unexpected.isEmpty }

    package init(itemCount: Int, slots: Int, phases: Int, control: [UInt32], debug: DebugLog, faults: [SlotFault], pending: [Int],
                 unexpected: [(slot: Int, status: UInt32)], buffers: [String: [UInt32]], completed: [UInt32: Int], timing: BatchTiming) {
        self.itemCount = itemCount
        self.slots = slots
        self.phases = phases
        self.control = control
        self.debug = debug
        self.faults = faults
        self.pending = pending
        self.unexpected = unexpected
        self.buffers = buffers
        self.completed = completed
        self.timing = timing
    }
}
