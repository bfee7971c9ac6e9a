/// The ring protocol of vyre-runtime 0.6, word for word: slot layout, status values, control words,
/// opcodes, debug log and IO queue. Every buffer is an array of little-endian u32 words.
public enum RingProtocol {
    // MARK: slots

    /// Words per slot (64 bytes).
    public static let slotWords = 16
    /// Slot word holding its ``SlotStatus``.
    public static let statusWord = 0
    /// Slot word holding its opcode.
    public static let opcodeWord = 1
    /// Slot word holding its tenant id.
    public static let tenantWord = 2
    /// Slot word holding its ``Priority`` (or, once FAULT, its reason).
    public static let priorityWord = 3
    /// Slot word holding its first arg; the args fill the rest of the slot.
    public static let firstArgWord = 4
    /// Args a slot holds.
    public static let argsPerSlot = 12
    /// Most slots a ring may have (2^20).
    public static let maxSlots = 1_048_576
    /// A FAULT slot carries its ``FaultReason`` here, in place of its priority (a vyre-gl rule:
    /// vyre kept no reason).
    public static let faultReasonWord = priorityWord

    // MARK: control buffer

    /// Indices of the control buffer's words (vyre 0.6's layout, plus the vyre-gl words noted).
    public enum Control {
        /// Non-zero once SHUTDOWN has run: items of later phases stay PUBLISHED.
        public static let shutdown = 0
        /// DONE_COUNT: slots that ended DONE.
        public static let doneCount = 1
        /// Holds the index of the tenant-mask table (3 unless the host moves it).
        public static let tenantBase = 2
        /// Where the tenant-mask table starts unless the host moves it: one word per tenant, non-zero
        /// enables it.
        public static let defaultTenantTable = 3
        /// vyre's per-tenant quota words (tenants 0 to 31). Kept in the layout; the one-shot
        /// megakernel does not read them.
        public static let tenantQuotaBase = 32
        /// vyre's per-tenant fairness words (tenants 0 to 31). Kept in the layout; the one-shot
        /// megakernel does not read them.
        public static let tenantFairnessBase = 64
        /// One execution counter per opcode below 32.
        public static let metricsBase = 96
        /// Opcodes with a metric counter: 0 to 31.
        public static let metricSlots = 32
        /// EPOCH: advanced by each BATCH_FENCE that runs.
        public static let epoch = 128
        /// vyre's priority scheduling words (129 to 134). Kept in the layout; the one-shot megakernel
        /// does not read them.
        public static let priorityOffsetsBase = 129
        /// vyre's priority starvation counter. Kept in the layout; the one-shot megakernel does not
        /// use it.
        public static let priorityStarvationCounter = 135
        /// vyre's per-priority fairness words. Kept in the layout; the one-shot megakernel does not
        /// read them.
        public static let priorityFairnessBase = 136
        /// Slots that ended as FAULT (a vyre-gl word, in the range vyre leaves unused).
        public static let faultCount = 141
        /// Non-zero while a host serves the IO queue (a vyre-gl word, set by the resident runtime
        /// when it has an IO service): LOAD_MISS posts its request only then, and faults
        /// (``FaultReason/ioUnavailable``) otherwise, so no slot waits for a host that is not there.
        public static let ioServed = 143
        /// Entries in the tenant table at `control[TENANT_BASE]` (a vyre-gl word, 29 by default:
        /// the default table's room before the quota region). A slot whose tenant id is not below
        /// it never runs: it ends as FAULT (``FaultReason/tenantOutOfRange``), whatever word lies
        /// past the table. The quota and fairness tables hold tenants 0 to 31.
        public static let tenantTableSize = 142
        /// The first observable word, where ops such as LOAD_U32, COMPARE_SWAP and DFA_STEP leave
        /// their results.
        public static let observableBase = 160
        /// The fixed region; the observable region follows it.
        public static let minWords = 160
        /// The largest control buffer vyre-gl makes (256 MiB).
        public static let maxWords = 1 << 26
        /// Tenants whose masks fit between the default table and the quota region.
        public static let maxTableTenants = tenantQuotaBase - defaultTenantTable
    }

    // MARK: debug log

    /// Layout of the debug log that PRINTF appends to.
    public enum Debug {
        /// Word 0 counts words appended (including lost ones); records start at word 1.
        public static let cursorWord = 0
        /// Words per record: format, two args, and the printing slot's word offset.
        public static let recordWords = 4
        /// Records a batch's debug log holds unless it says otherwise.
        public static let defaultRecords = 64
        /// Most records a debug log may hold.
        public static let maxRecords = 1 << 20
        /// Words of a log with room for `records` records: the cursor, then the records.
        public static func words(records: Int) -> Int { 1 + records * recordWords }
    }

    // MARK: IO queue

    /// Layout of vyre 0.6's IO queue, which LOAD_MISS uses in the resident kernel. The one-shot
    /// megakernel binds a queue of ``words`` words but faults LOAD_MISS (``FaultReason/ioUnavailable``).
    ///
    /// An entry's life (its ``statusWord``): ``free`` -> the kernel reserves it (``reserved``, one
    /// compare-and-swap), writes the request and posts it (``posted``) -> the host takes it
    /// (``serving``), does the I/O and stores ``statusOK`` or ``statusError`` -> the kernel, running
    /// the waiting slot again, reads the outcome and frees the entry.
    public enum IO {
        /// Entries in the queue.
        public static let entries = 64
        /// Words per entry.
        public static let entryWords = 8
        /// Words of the whole queue.
        public static let words = entries * entryWords
        /// Entry word: the request kind (``read``, ``write``, ``fence``).
        public static let opWord = 0
        /// Entry word: the source handle (a file for READ, a memory region for WRITE).
        public static let sourceWord = 1
        /// Entry word: the destination handle (a memory region for READ, a file for WRITE and FENCE).
        public static let destinationWord = 2
        /// Entry words: the file offset, low and high 32 bits.
        public static let offsetLowWord = 3
        public static let offsetHighWord = 4
        /// Entry word: the bytes asked for; once served, the bytes moved (OK) or the errno (ERROR).
        public static let bytesWord = 5
        /// Entry word: the entry's status.
        public static let statusWord = 6
        /// Entry word: the tag, the index of the slot waiting for the request.
        public static let tagWord = 7
        /// Request kind: read.
        public static let read: UInt32 = 1
        /// Request kind: write.
        public static let write: UInt32 = 2
        /// Request kind: fence.
        public static let fence: UInt32 = 3
        /// Entry status: free for a request.
        public static let free: UInt32 = 0
        /// Entry status: the kernel posted a request; the host may take it.
        public static let posted: UInt32 = 1
        /// Entry status: reserved by a lane that is writing its request.
        public static let reserved: UInt32 = 2
        /// Entry status: the host is doing the request.
        public static let serving: UInt32 = 3
        /// Entry status: the request completed.
        public static let statusOK: UInt32 = 0x10
        /// Entry status: the request failed.
        public static let statusError: UInt32 = 0x11
        /// The LOAD_MISS arg that holds the entry (plus one) while its slot waits: the kernel writes
        /// it, so a submitted LOAD_MISS leaves it 0.
        public static let resumeArg = 11
    }

    // MARK: opcodes

    /// Start of the tenant-private opcode range (vyre's convention), a good home for custom opcodes;
    /// vyre-gl ties no opcode to a tenant.
    public static let tenantOpcodeBase: UInt32 = 0x4000_0000
    /// Opcodes in each tenant's private range (vyre's convention).
    public static let opcodesPerTenant: UInt32 = 1 << 20

    /// Inner operations a packed slot may hold: the host encoder and the kernel both enforce it.
    public static let maxPackedOps = 8

    /// Whether `opcode` is reserved by the protocol (and so cannot be a custom opcode).
    public static func isReserved(_ opcode: UInt32) -> Bool {
        opcode & 0x8000_0000 != 0 || (0xFFF0...0xFFFF).contains(opcode) || opcode <= 7
    }
}

/// Slot states. Only the host moves a slot to PUBLISHED; the kernel moves it on.
public enum SlotStatus: UInt32, Sendable, CaseIterable, Codable {
    case empty = 0, published = 1, claimed = 2, done = 3, waitIO = 4, yield = 5, requeue = 6, fault = 7

    /// The protocol's name (`PUBLISHED`, `FAULT`, ...), as reports print it.
    public var name: String {
        switch self {
        case .empty: "EMPTY"
        case .published: "PUBLISHED"
        case .claimed: "CLAIMED"
        case .done: "DONE"
        case .waitIO: "WAIT_IO"
        case .yield: "YIELD"
        case .requeue: "REQUEUE"
        case .fault: "FAULT"
        }
    }
}

/// A work item's priority: the protocol's five levels, CRITICAL (0) to IDLE (4). The one-shot
/// megakernel writes it into the slot but runs every slot in its own lane, so it orders nothing.
public enum Priority: UInt32, Sendable, CaseIterable, Codable {
    case critical = 0, high = 1, normal = 2, low = 3, idle = 4

    /// The protocol's name (`CRITICAL` ... `IDLE`), as batch documents write it.
    public var name: String { ["CRITICAL", "HIGH", "NORMAL", "LOW", "IDLE"][Int(rawValue)] }
    /// The priority with this protocol name (case-sensitive); nil for any other string.
    public init?(name: String) {
        guard let p = Priority.allCases.first(where: { $0.name == name }) else { return nil }
        self = p
    }
}

/// Built-in opcodes.
public enum Opcode: UInt32, Sendable, CaseIterable {
    case nop = 0
    case storeU32 = 1
    case atomicAdd = 2
    case loadU32 = 3
    case compareSwap = 4
    case memcpy = 5
    case dfaStep = 6
    case batchFence = 7
    case loadMiss = 0xFFFD
    case printf = 0xFFFE
    case shutdown = 0xFFFF_FFFF
    case packedSlot = 0x8000_0001

    /// The protocol's name (`STORE_U32`, ...), as batch documents write it.
    public var name: String {
        switch self {
        case .nop: "NOP"
        case .storeU32: "STORE_U32"
        case .atomicAdd: "ATOMIC_ADD"
        case .loadU32: "LOAD_U32"
        case .compareSwap: "COMPARE_SWAP"
        case .memcpy: "MEMCPY"
        case .dfaStep: "DFA_STEP"
        case .batchFence: "BATCH_FENCE"
        case .loadMiss: "LOAD_MISS"
        case .printf: "PRINTF"
        case .shutdown: "SHUTDOWN"
        case .packedSlot: "PACKED_SLOT"
        }
    }

    /// The built-in with this protocol name (case-sensitive); nil for any other string.
    public init?(name: String) {
        guard let op = Opcode.allCases.first(where: { $0.name == name }) else { return nil }
        self = op
    }

    /// Opcodes a packed slot may hold (each reads three args; DFA_STEP needs more, a fence is a
    /// phase boundary, and the others are not u8).
    public static let packable: [Opcode] = [.nop, .storeU32, .atomicAdd, .loadU32, .compareSwap, .memcpy]

    /// The name of any opcode number: a built-in's name, else the number.
    public static func name(of value: UInt32) -> String { Opcode(rawValue: value)?.name ?? "\(value)" }
}

/// Why the kernel ended a slot as FAULT (written into the slot's ``RingProtocol/faultReasonWord``).
public enum FaultReason: UInt32, Error, Sendable, CaseIterable, Codable {
    case unknownOpcode = 1
    case controlIndexOutOfRange = 2
    case malformedPackedSlot = 3
    case ioUnavailable = 4
    case badDFATable = 5
    /// A custom opcode handler asked for a fault without a more specific reason.
    case handlerFault = 6
    /// The slot's tenant id lies outside the tenant table (see ``RingProtocol/Control/tenantTableSize``).
    case tenantOutOfRange = 7
    /// The driver ended a loop of the slot's handler before its own exit (llvmpipe stops an
    /// invocation's loops after 65,535 iterations in all): the op's work is incomplete.
    case driverLoopLimit = 8
    /// The host did the slot's LOAD_MISS request and it failed (the op's completion says why).
    case ioFailed = 9
    /// A LOAD_MISS whose request kind is not READ, WRITE or FENCE, or whose resume word names no
    /// entry holding an outcome.
    case ioBadRequest = 10

    /// The reason in words, as reports print it.
    public var name: String {
        switch self {
        case .unknownOpcode: "unknown opcode"
        case .controlIndexOutOfRange: "control index out of range"
        case .malformedPackedSlot: "malformed packed slot"
        case .ioUnavailable: "LOAD_MISS needs the resident runtime's IO queue"
        case .badDFATable: "DFA table sends a state out of range"
        case .handlerFault: "custom handler fault"
        case .tenantOutOfRange: "tenant id outside the tenant table"
        case .driverLoopLimit: "the driver cut a loop of the op short (loop limit); its work is incomplete"
        case .ioFailed: "the LOAD_MISS request failed on the host"
        case .ioBadRequest: "a LOAD_MISS request of an unknown kind (READ 1, WRITE 2, FENCE 3)"
        }
    }

    /// Words for any reason value: a built-in's name, `custom handler fault N` from 256 up, else the
    /// bare number.
    public static func describe(_ raw: UInt32) -> String {
        FaultReason(rawValue: raw)?.name ?? (raw >= 0x100 ? "custom handler fault \(raw)" : "fault reason \(raw)")
    }
}
