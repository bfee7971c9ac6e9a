public import VyreIR

/// The JSON form of a batch (what `vyre-gl run BATCH.json` reads), decoded strictly: unknown keys,
/// duplicate keys and values of the wrong kind are errors that name their JSON path, and ops are
/// decoded straight into ``WorkItem``s, so a million-op file costs its bytes plus the items.
///
/// ```json
/// {"slots": 256, "controlWords": 1024, "tenants": 1, "debugRecords": 64,
///  "control": {"300": 5},
///  "ops": [{"op": "STORE_U32", "args": [42, 300], "tenant": 0, "priority": "HIGH"},
///          {"op": "PACKED_SLOT", "ops": [{"op": "ATOMIC_ADD", "args": [1, 301]}]}],
///  "buffers": {"hits": [0, 0]}}
/// ```
extension Batch {
    /// Keys a batch document may have; any other is an error.
    public static let jsonKeys: Set<String> = ["slots", "controlWords", "tenants", "debugRecords", "control", "ops", "buffers"]
    /// Keys an op may have.
    public static let opKeys: Set<String> = ["op", "args", "tenant", "priority", "ops"]
    /// Keys an inner op of a PACKED_SLOT may have.
    public static let innerOpKeys: Set<String> = ["op", "args"]

    /// Parses and checks a batch document; every error names the JSON path and has a Fix.
    public init(json: some Collection<UInt8>) throws(ProgramJSONError) {
        self = try ProgramJSONError.decode(BatchDocument.self, from: json, otherwise: "check the document against the batch form in the README").batch
    }
}

/// Decodes the batch form (see ``Batch/init(json:)``).
struct BatchDocument: Decodable {
    var batch: Batch

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(Batch.jsonKeys)
        let items = try c.requiredList("ops", fix: "add \"ops\": [{\"op\": \"NOP\"}, ...]", limit: RingProtocol.maxSlots,
                                       tooMany: ("more than \(RingProtocol.maxSlots) ops; a ring holds at most that many slots", "split the work into several batches"),
                                       Self.item)
        func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard c.contains(JSONKey(stringValue: key)) else { return value }
            let v = try c.integer(key, UInt32.self)
            guard range.contains(Int(v)) else { throw c.fail(key, "\(v) is outside \(range.lowerBound)...\(range.upperBound)", fix: "choose a value in that range") }
            return Int(v)
        }
        let controlWords = try int("controlWords", default: 224, range: RingProtocol.Control.minWords...RingProtocol.Control.maxWords)
        let slots = try int("slots", default: max(1, items.count), range: 1...RingProtocol.maxSlots)
        guard slots >= items.count else {
            throw c.fail("slots", "\(counted(slots, "slot")) cannot hold \(counted(items.count, "op"))", fix: "use at least \(items.count) slots, or leave slots out")
        }
        let tenants = try int("tenants", default: 1, range: 0...RingProtocol.Control.maxTableTenants)
        let debugRecords = try int("debugRecords", default: RingProtocol.Debug.defaultRecords, range: 1...RingProtocol.Debug.maxRecords)
        var control: [Int: UInt32] = [:]
        if c.contains("control") {
            let words = try c.nestedContainer(keyedBy: JSONKey.self, forKey: "control")
            for key in words.allKeys {
                guard let index = Self.wordIndex(key.stringValue) else {
                    throw words.fail(key.stringValue, "'\(quoteForMessage(key.stringValue))' is not a word index", fix: "write the index in plain decimal without leading zeros, e.g. \"300\"")
                }
                guard index < controlWords else {
                    throw words.fail(key.stringValue, "word \(index) is outside the \(controlWords)-word control buffer", fix: "raise controlWords above \(index) or fix the index")
                }
                control[index] = try words.integer(key.stringValue, UInt32.self)
            }
        }
        var buffers: [String: [UInt32]] = [:]
        if c.contains("buffers") {
            let named = try c.nestedContainer(keyedBy: JSONKey.self, forKey: "buffers")
            for key in named.allKeys {
                guard Identifier.isValid(key.stringValue) else {
                    throw named.fail(key.stringValue, "'\(quoteForMessage(key.stringValue))' is not a buffer name", fix: "use the name of an extra buffer from the opcode program")
                }
                buffers[key.stringValue] = try named.decode([UInt32].self, forKey: key)
            }
        }
        batch = Batch(items: items, slots: slots, controlWords: controlWords, tenants: tenants, debugRecords: debugRecords,
                      control: control, buffers: buffers)
    }

    /// A control-word index written canonically: decimal digits, no sign, no leading zeros.
    static func wordIndex(_ text: String) -> Int? {
        let digits = Array(text.utf8)
        guard (1...9).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits.count == 1 || digits[0] != 0x30 else { return nil }
        return Int(text)
    }

    static func item(_ decoder: any Decoder) throws -> WorkItem {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(Batch.opKeys)
        try c.require("op", fix: "name the op, e.g. \"op\": \"NOP\"")
        let opcode = try Self.opcode(c, names: Opcode.allCases)
        let tenant = try c.integerIfPresent("tenant", UInt32.self) ?? 0
        var priority = Priority.normal
        if c.contains("priority") {
            let p = try c.superDecoder(forKey: "priority").singleValueContainer()
            if let name = try? p.decode(String.self) {
                guard let parsed = Priority(name: name) else {
                    throw c.fail("priority", "unknown priority '\(quoteForMessage(name))'", fix: "use CRITICAL, HIGH, NORMAL, LOW or IDLE (or 0 to 4)")
                }
                priority = parsed
            } else {
                let v = try c.integer("priority", UInt32.self)
                guard let parsed = Priority(rawValue: v) else { throw c.fail("priority", "\(v) is not a priority", fix: "use 0 (CRITICAL) to 4 (IDLE), or a name") }
                priority = parsed
            }
        }
        if c.contains("ops") {
            guard opcode == Opcode.packedSlot.rawValue else {
                throw c.fail("ops", "only a PACKED_SLOT holds inner ops", fix: "remove \"ops\" or use \"op\": \"PACKED_SLOT\"")
            }
            guard !c.contains("args") else { throw c.fail(nil, "a PACKED_SLOT takes either \"ops\" or raw \"args\", not both", fix: "keep one") }
            var list = try c.nestedUnkeyedContainer(forKey: "ops")
            var inner: [PackedOp] = []
            while !list.isAtEnd {
                guard inner.count < RingProtocol.maxPackedOps else {
                    throw c.fail("ops", "more than \(RingProtocol.maxPackedOps) inner ops", fix: "pack 1 to \(RingProtocol.maxPackedOps) ops per slot")
                }
                let ic = try list.nestedContainer(keyedBy: JSONKey.self)
                try ic.allow(Batch.innerOpKeys)
                try ic.require("op", fix: "name the inner op, e.g. \"op\": \"STORE_U32\"")
                let code = try Self.opcode(ic, names: Opcode.packable)
                let args = try ic.decodeIfPresent([UInt32].self, forKey: "args") ?? []
                guard args.count <= 3 else { throw ic.fail("args", "\(args.count) args; an inner op takes at most 3", fix: "drop the extra args") }
                inner.append(PackedOp(Opcode(rawValue: code)!, args))
            }
            guard !inner.isEmpty else { throw c.fail("ops", "a PACKED_SLOT with no inner ops", fix: "pack 1 to \(RingProtocol.maxPackedOps) ops, or drop the slot") }
            do {
                return try WorkItem.packed(inner, tenant: tenant, priority: priority)
            } catch {
                guard case .invalidPacked(_, let detail) = error else { throw c.fail("ops", "\(error)", fix: "see the packed-slot rules in the README") }
                throw c.fail("ops", "the inner ops do not fit one slot: \(detail)", fix: "pack fewer ops, or ops that share their args")
            }
        }
        let args = try c.decodeIfPresent([UInt32].self, forKey: "args") ?? []
        guard args.count <= RingProtocol.argsPerSlot else {
            throw c.fail("args", "\(args.count) args; a slot holds \(RingProtocol.argsPerSlot)", fix: "split the op or pack small ops into a PACKED_SLOT")
        }
        return WorkItem(opcode: opcode, args: args, tenant: tenant, priority: priority)
    }

    /// `"op"`: a name from `names`, or (for plain ops) any opcode number.
    private static func opcode(_ c: KeyedDecodingContainer<JSONKey>, names: [Opcode]) throws -> UInt32 {
        let value = try c.superDecoder(forKey: "op").singleValueContainer()
        let list = names.map(\.name).joined(separator: ", ")
        if let name = try? value.decode(String.self) {
            guard let op = Opcode(name: name), names.contains(op) else {
                throw c.fail("op", "unknown op name '\(quoteForMessage(name))'", fix: "use one of \(list)\(names.count == Opcode.allCases.count ? ", or a number" : "")")
            }
            return op.rawValue
        }
        let number = try c.integer("op", UInt32.self)
        guard names.count == Opcode.allCases.count || names.contains(where: { $0.rawValue == number }) else {
            throw c.fail("op", "\(number) cannot be packed", fix: "use one of \(list)")
        }
        return number
    }
}
