/// The ring protocol of vyre-runtime 0.6, word for word: slot layout, status values, control words,
/// opcodes, debug log and IO queue. Every buffer is an array of little-endian u32 words.
public enum RingProtocol {
    // MARK: slots

    /// Words per slot (64 bytes).
    public static let slotWords = 16
    public static let statusWord = 0
    public static let opcodeWord = 1
    public static let tenantWord = 2
    public static let priorityWord = 3
    public static let firstArgWord = 4
    public static let argsPerSlot = 12
    public static let maxSlots = 1_048_576
    /// A FAULT slot carries its ``FaultReason`` here, in place of its priority (a vyre-gl rule:
    /// vyre kept no reason).
    public static let faultReasonWord = priorityWord

    // MARK: control buffer

    public enum Control {
        public static let shutdown = 0
        public static let doneCount = 1
        /// Holds the index of the tenant-mask table (3 unless the host moves it).
        public static let tenantBase = 2
        public static let defaultTenantTable = 3
        public static let tenantQuotaBase = 32
        public static let tenantFairnessBase = 64
        /// One execution counter per opcode below 32.
        public static let metricsBase = 96
        public static let metricSlots = 32
        public static let epoch = 128
        public static let priorityOffsetsBase = 129
        public static let priorityStarvationCounter = 135
        public static let priorityFairnessBase = 136
        /// Slots that ended as FAULT (a vyre-gl word, in the range vyre leaves unused).
        public static let faultCount = 141
        /// Entries in the tenant table at `control[TENANT_BASE]` (a vyre-gl word, 29 by default:
        /// the default table's room before the quota region). A slot whose tenant id is not below
        /// it never runs: it ends as FAULT (``FaultReason/tenantOutOfRange``), whatever word lies
        /// past the table. The quota and fairness tables hold tenants 0 to 31.
        public static let tenantTableSize = 142
        public static let observableBase = 160
        /// The fixed region; the observable region follows it.
        public static let minWords = 160
        /// The largest control buffer vyre-gl makes (256 MiB).
        public static let maxWords = 1 << 26
        /// Tenants whose masks fit between the default table and the quota region.
        public static let maxTableTenants = tenantQuotaBase - defaultTenantTable
    }

    // MARK: debug log

    public enum Debug {
        /// Word 0 counts words appended (including lost ones); records start at word 1.
        public static let cursorWord = 0
        public static let recordWords = 4
        public static let defaultRecords = 64
        public static let maxRecords = 1 << 20
        public static func words(records: Int) -> Int { 1 + records * recordWords }
    }

    // MARK: IO queue

    public enum IO {
        public static let entries = 64
        public static let entryWords = 8
        public static let words = entries * entryWords
        public static let read: UInt32 = 1
        public static let write: UInt32 = 2
        public static let fence: UInt32 = 3
        public static let statusOK: UInt32 = 0x10
        public static let statusError: UInt32 = 0x11
    }

    // MARK: opcodes

    public static let tenantOpcodeBase: UInt32 = 0x4000_0000
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

public enum Priority: UInt32, Sendable, CaseIterable, Codable {
    case critical = 0, high = 1, normal = 2, low = 3, idle = 4

    public var name: String { ["CRITICAL", "HIGH", "NORMAL", "LOW", "IDLE"][Int(rawValue)] }
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
        }
    }

    public static func describe(_ raw: UInt32) -> String {
        FaultReason(rawValue: raw)?.name ?? (raw >= 0x100 ? "custom handler fault \(raw)" : "fault reason \(raw)")
    }
}
