/// One unit of work for the megakernel: an opcode, up to 12 args, a tenant and a priority.
public struct WorkItem: Sendable, Hashable {
    /// A built-in ``Opcode``'s value or a custom opcode.
    public var opcode: UInt32
    /// Up to ``RingProtocol/argsPerSlot`` args; the slot's unused args are zero.
    public var args: [UInt32]
    /// Tenant id: the item runs only if the tenant table enables it, and faults past the table.
    public var tenant: UInt32
    /// Written into the slot (see ``Priority``).
    public var priority: Priority

    /// An item with a raw opcode (built-in or custom); nothing is checked until the batch is planned.
    public init(opcode: UInt32, args: [UInt32] = [], tenant: UInt32 = 0, priority: Priority = .normal) {
        self.opcode = opcode
        self.args = args
        self.tenant = tenant
        self.priority = priority
    }

    /// An item running built-in `opcode`; nothing is checked until the batch is planned.
    public init(_ opcode: Opcode, args: [UInt32] = [], tenant: UInt32 = 0, priority: Priority = .normal) {
        self.init(opcode: opcode.rawValue, args: args, tenant: tenant, priority: priority)
    }

    /// A PACKED_SLOT holding `ops`, encoded by ``PackedSlot``.
    public static func packed(_ ops: [PackedOp], tenant: UInt32 = 0, priority: Priority = .normal) throws(ProtocolError) -> WorkItem {
        WorkItem(.packedSlot, args: try PackedSlot.encode(ops, item: 0), tenant: tenant, priority: priority)
    }
}

/// One inner operation of a packed slot: a packable opcode and its three args.
public struct PackedOp: Sendable, Hashable {
    /// One of ``Opcode/packable``.
    public var opcode: Opcode
    /// At most three args; missing ones read as zero.
    public var args: [UInt32]

    /// An inner op; ``PackedSlot/encode(_:item:)`` checks it.
    public init(_ opcode: Opcode, _ args: [UInt32]) {
        self.opcode = opcode
        self.args = args
    }
}

/// The packed-slot format, shared by the host encoder, the kernel and the CPU model.
///
/// The 12 args are read as 48 little-endian bytes: byte 0 is the inner-op count (1 to
/// ``RingProtocol/maxPackedOps``), byte 1 is reserved, then one (opcode byte, arg-word offset byte)
/// pair per inner op from byte 2. Each inner op reads three args at its offset, which must lie past
/// the header words and inside the slot. vyre's host accepted up to 23 ops while its kernel ran 4;
/// here both sides accept exactly the same slots, and the kernel faults the rest
/// (``FaultReason/malformedPackedSlot``) without running any of their ops.
public enum PackedSlot {
    /// Header words for `count` inner ops: 2 bytes of count, 2 bytes per op.
    public static func headerWords(_ count: Int) -> Int { (2 + 2 * count + 3) / 4 }

    static func byte(_ args: [UInt32], _ i: Int) -> UInt32 { (args[i / 4] >> UInt32(8 * (i % 4))) & 0xFF }

    /// The 12 slot args holding `ops`: the header, then each distinct arg triple once. Throws
    /// ``ProtocolError/invalidPacked(item:detail:)``, naming `item`, when the ops cannot be packed.
    public static func encode(_ ops: [PackedOp], item: Int) throws(ProtocolError) -> [UInt32] {
        guard (1...RingProtocol.maxPackedOps).contains(ops.count) else {
            throw .invalidPacked(item: item, detail: "\(ops.count) inner ops")
        }
        let h = headerWords(ops.count)
        var args = [UInt32](repeating: 0, count: RingProtocol.argsPerSlot)
        var used = h
        var offsets: [Int] = []
        for (k, op) in ops.enumerated() {
            guard Opcode.packable.contains(op.opcode) else { throw .invalidPacked(item: item, detail: "inner op \(k) is \(op.opcode.name), which cannot be packed") }
            guard op.args.count <= 3 else { throw .invalidPacked(item: item, detail: "inner op \(k) has \(op.args.count) args (at most 3)") }
            let triple = op.args + Array(repeating: 0, count: 3 - op.args.count)
            // Reuse an identical triple already placed, so ops sharing args take less room.
            if let at = (h...max(h, used - 3)).first(where: { $0 + 3 <= used && Array(args[$0..<($0 + 3)]) == triple }) {
                offsets.append(at)
                continue
            }
            guard used + 3 <= RingProtocol.argsPerSlot else {
                throw .invalidPacked(item: item, detail: "the args of \(ops.count) ops need more than the \(RingProtocol.argsPerSlot - h) words left after the header")
            }
            args.replaceSubrange(used..<(used + 3), with: triple)
            offsets.append(used)
            used += 3
        }
        var header = [UInt8](repeating: 0, count: h * 4)
        header[0] = UInt8(ops.count)
        for (k, op) in ops.enumerated() {
            header[2 + 2 * k] = UInt8(op.opcode.rawValue)
            header[3 + 2 * k] = UInt8(offsets[k])
        }
        for w in 0..<h {
            args[w] = UInt32(header[4 * w]) | UInt32(header[4 * w + 1]) << 8 | UInt32(header[4 * w + 2]) << 16 | UInt32(header[4 * w + 3]) << 24
        }
        return args
    }

    /// The opcodes of the inner ops `item` runs besides its own: those of a well-formed packed
    /// slot, none for any other item (a malformed packed slot faults and runs nothing).
    public static func innerOpcodes(of item: WorkItem) -> [UInt32] {
        guard item.opcode == Opcode.packedSlot.rawValue, case .success(let ops) = decode(item.args) else { return [] }
        return ops.map(\.opcode.rawValue)
    }

    /// The inner ops of a packed slot's args, or why the kernel must fault it.
    public static func decode(_ args: [UInt32]) -> Result<[PackedOp], FaultReason> {
        let a = args + Array(repeating: 0, count: max(0, RingProtocol.argsPerSlot - args.count))
        let count = Int(byte(a, 0))
        guard (1...RingProtocol.maxPackedOps).contains(count) else { return .failure(.malformedPackedSlot) }
        let h = headerWords(count)
        var ops: [PackedOp] = []
        for k in 0..<count {
            let code = byte(a, 2 + 2 * k)
            let offset = Int(byte(a, 3 + 2 * k))
            guard let op = Opcode(rawValue: code), Opcode.packable.contains(op), offset >= h, offset + 3 <= RingProtocol.argsPerSlot else {
                return .failure(.malformedPackedSlot)
            }
            ops.append(PackedOp(op, Array(a[offset..<(offset + 3)])))
        }
        return .success(ops)
    }
}
