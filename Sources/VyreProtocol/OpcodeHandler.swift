public import VyreIR

/// A custom opcode: its number and an IR body spliced into the megakernel's opcode dispatch.
///
/// The body runs for a claimed slot whose opcode matches, and sees these variables: `slot` (the
/// slot index), `base` (its first word in the ring), `tenant`, `opcode`, `arg0` ... `arg11`, and
/// `fault`, a u32 that starts at 0; setting it to a non-zero reason ends the slot as FAULT (use
/// values from 256 up for your own reasons). It may read and write the protocol buffers
/// (`control`, `ring`, `debug_log`, `io_queue`) and any extra buffers the megakernel declares.
/// It may not `return` or `trap`: every lane of the megakernel meets its workgroup at a barrier
/// after its slot (validation rejects such a body and names the opcode); set `fault` instead.
public struct OpcodeHandler: Sendable, Hashable {
    /// The opcode this handler runs for; one the protocol does not reserve
    /// (``RingProtocol/isReserved(_:)``).
    public var opcode: UInt32
    /// Names the handler in errors and in the region around its body in the generated source.
    public var name: String
    /// IR statements spliced into the opcode dispatch (see the type for what they may use).
    public var body: [Node]

    /// The region the megakernel wraps a handler's body in, for diagnostics and the GLSL comments.
    public static func regionName(opcode: UInt32, name: String) -> String { "opcode \(opcode) \(name)" }

    /// A handler running `body` for `opcode`; checked when the megakernel is built.
    public init(opcode: UInt32, name: String, body: [Node]) {
        self.opcode = opcode
        self.name = name
        self.body = body
    }

    /// A handler whose body is written with the IR builder; checked when the megakernel is built.
    public init(opcode: UInt32, name: String, @NodeBuilder body: () -> [Node]) {
        self.init(opcode: opcode, name: name, body: body())
    }
}

/// Binding numbers of the megakernel's buffers.
public enum MegakernelBindings {
    /// The control buffer.
    public static let control: UInt32 = 0
    /// The ring of slots.
    public static let ring: UInt32 = 1
    /// The debug log that PRINTF appends to.
    public static let debug: UInt32 = 2
    /// The IO queue (bound, but unused by the one-shot kernel: LOAD_MISS faults).
    public static let io: UInt32 = 3
    /// One-shot dispatch: compact work items the lanes publish from.
    public static let items: UInt32 = 4
    /// One-shot dispatch: `[count, (slot, status, reason)...]` of slots that did not end DONE.
    public static let exceptions: UInt32 = 5
    /// The resident kernel: the host's doorbells, queues and slot generations (``ResidentLayout``);
    /// one-shot dispatch binds its items here.
    public static let queues: UInt32 = 4
    /// The resident kernel: its device-local claim heads (``ResidentLayout``); one-shot dispatch
    /// binds its exceptions here.
    public static let claims: UInt32 = 5
    /// Extra buffers for custom opcodes start here.
    public static let firstExtra: UInt32 = 6
    /// Names of the protocol buffers; an extra buffer may not take one.
    public static let reservedNames: Set<String> = ["control", "ring", "debug_log", "io_queue", "items", "exceptions", "queues", "claims"]
}
