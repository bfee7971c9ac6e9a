import Foundation
import VyreIR
import VyreRuntime

/// BATCH.json, parsed strictly: every problem names its JSON path and exits with status 2 before
/// anything is dispatched.
struct BatchFile {
    var batch: Batch
    /// Control words the file set explicitly.
    var initialControl: [Int: UInt32]

    static let keys: Set<String> = ["slots", "controlWords", "tenants", "debugRecords", "control", "ops", "buffers"]
    static let opKeys: Set<String> = ["op", "args", "tenant", "priority", "ops"]

    static func parse(_ data: Data, source: String) throws -> BatchFile {
        func bad(_ path: String, _ problem: String, _ fix: String) -> CLIFailure {
            CLI.badInput("\(source): \(path): \(problem). Fix: \(fix).")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw bad("(top level)", "not valid JSON (\(error.localizedDescription))", "check brackets, commas and quotes")
        }
        guard let top = object as? [String: Any] else { throw bad("(top level)", "not a JSON object", "write {\"ops\": [...]}") }
        if let unknown = top.keys.sorted().first(where: { !keys.contains($0) }) {
            throw bad(unknown, "unknown key", "use only \(keys.sorted().joined(separator: ", "))")
        }
        func u32(_ value: Any?, _ path: String) throws -> UInt32 {
            guard let n = value as? NSNumber, !(value is String) else { throw bad(path, "expected a number in 0...4294967295, found \(value.map { "\($0)" } ?? "nothing")", "write a whole number in that range") }
            let d = n.doubleValue
            guard d.rounded() == d, d >= 0, d <= 4_294_967_295 else { throw bad(path, "\(n) is not a whole number in 0...4294967295", "write a value in that range") }
            return UInt32(d)
        }
        func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let raw = top[key] else { return value }
            let v = Int(try u32(raw, key))
            guard range.contains(v) else { throw bad(key, "\(v) is outside \(range.lowerBound)...\(range.upperBound)", "choose a value in that range") }
            return v
        }
        guard let rawOps = top["ops"] else { throw bad("ops", "missing", "add \"ops\": [{\"op\": \"NOP\"}, ...]") }
        guard let ops = rawOps as? [Any] else { throw bad("ops", "expected an array of ops", "write \"ops\": [{\"op\": \"STORE_U32\", \"args\": [42, 300]}]") }
        var items: [WorkItem] = []
        for (i, raw) in ops.enumerated() {
            let path = "ops[\(i)]"
            guard let op = raw as? [String: Any] else { throw bad(path, "expected an object", "write {\"op\": NAME, \"args\": [...]}") }
            if let unknown = op.keys.sorted().first(where: { !opKeys.contains($0) }) {
                throw bad("\(path).\(unknown)", "unknown key", "use only \(opKeys.sorted().joined(separator: ", "))")
            }
            let opcode: UInt32
            switch op["op"] {
            case let name as String:
                guard let known = Opcode(name: name) else {
                    throw bad("\(path).op", "unknown op name '\(name)'", "use one of \(Opcode.allCases.map(\.name).joined(separator: ", ")), or a number")
                }
                opcode = known.rawValue
            case nil:
                throw bad("\(path).op", "missing", "name the op, e.g. \"op\": \"NOP\"")
            case let other:
                opcode = try u32(other, "\(path).op")
            }
            let tenant = try op["tenant"].map { try u32($0, "\(path).tenant") } ?? 0
            var priority = Priority.normal
            if let p = op["priority"] {
                if let name = p as? String {
                    guard let parsed = Priority(name: name) else { throw bad("\(path).priority", "unknown priority '\(name)'", "use CRITICAL, HIGH, NORMAL, LOW or IDLE") }
                    priority = parsed
                } else {
                    let v = try u32(p, "\(path).priority")
                    guard let parsed = Priority(rawValue: v) else { throw bad("\(path).priority", "\(v) is not a priority", "use 0 (CRITICAL) to 4 (IDLE)") }
                    priority = parsed
                }
            }
            if let inner = op["ops"] {
                guard opcode == Opcode.packedSlot.rawValue else { throw bad("\(path).ops", "only a PACKED_SLOT holds inner ops", "remove \"ops\" or use \"op\": \"PACKED_SLOT\"") }
                guard op["args"] == nil else { throw bad(path, "a PACKED_SLOT takes either \"ops\" or raw \"args\", not both", "keep one") }
                guard let list = inner as? [Any] else { throw bad("\(path).ops", "expected an array", "write [{\"op\": \"STORE_U32\", \"args\": [1, 300]}]") }
                var packed: [PackedOp] = []
                for (k, rawInner) in list.enumerated() {
                    let ipath = "\(path).ops[\(k)]"
                    guard let io = rawInner as? [String: Any], let name = io["op"] as? String, let code = Opcode(name: name) else {
                        throw bad(ipath, "expected {\"op\": NAME, \"args\": [...]} with a built-in op name", "use one of \(Opcode.packable.map(\.name).joined(separator: ", "))")
                    }
                    let args = try (io["args"] as? [Any] ?? []).enumerated().map { try u32($0.element, "\(ipath).args[\($0.offset)]") }
                    packed.append(PackedOp(code, args))
                }
                do { items.append(try WorkItem.packed(packed, tenant: tenant, priority: priority)) } catch {
                    throw bad("\(path).ops", "\(error)".replacingOccurrences(of: "work item 0 ", with: ""), "see the packed-slot rules in the README")
                }
                continue
            }
            var args: [UInt32] = []
            if let raw = op["args"] {
                guard let list = raw as? [Any] else { throw bad("\(path).args", "expected an array of numbers", "write \"args\": [42, 300]") }
                guard list.count <= RingProtocol.argsPerSlot else {
                    throw bad("\(path).args", "\(list.count) args; a slot holds \(RingProtocol.argsPerSlot)", "split the op or pack small ops into a PACKED_SLOT")
                }
                args = try list.enumerated().map { try u32($0.element, "\(path).args[\($0.offset)]") }
            }
            items.append(WorkItem(opcode: opcode, args: args, tenant: tenant, priority: priority))
        }
        let controlWords = try int("controlWords", default: 224, range: RingProtocol.Control.minWords...(1 << 26))
        let slots = try int("slots", default: max(1, items.count), range: 1...RingProtocol.maxSlots)
        guard slots >= items.count else { throw bad("slots", "\(slots) slots cannot hold \(items.count) ops", "use at least \(items.count) slots, or leave slots out") }
        let tenants = try int("tenants", default: 1, range: 0...RingProtocol.Control.maxTableTenants)
        let debugRecords = try int("debugRecords", default: RingProtocol.Debug.defaultRecords, range: 1...(1 << 20))
        var control: [Int: UInt32] = [:]
        if let raw = top["control"] {
            guard let dict = raw as? [String: Any] else { throw bad("control", "expected an object from word index to value", "write \"control\": {\"300\": 5}") }
            for (key, value) in dict {
                guard let index = Int(key), index >= 0 else { throw bad("control.\(key)", "'\(key)' is not a word index", "use decimal indices such as \"300\"") }
                guard index < controlWords else {
                    throw bad("control.\(key)", "word \(index) is outside the \(controlWords)-word control buffer", "raise controlWords above \(index) or fix the index")
                }
                control[index] = try u32(value, "control.\(key)")
            }
        }
        var buffers: [String: [UInt32]] = [:]
        if let raw = top["buffers"] {
            guard let dict = raw as? [String: Any] else { throw bad("buffers", "expected an object from buffer name to an array of words", "write \"buffers\": {\"hits\": [0, 0]}") }
            for (name, value) in dict {
                guard let list = value as? [Any] else { throw bad("buffers.\(name)", "expected an array of words", "write [0, 0, ...]") }
                buffers[name] = try list.enumerated().map { try u32($0.element, "buffers.\(name)[\($0.offset)]") }
            }
        }
        return BatchFile(batch: Batch(items: items, slots: slots, controlWords: controlWords, tenants: tenants, debugRecords: debugRecords,
                                      control: control, buffers: buffers), initialControl: control)
    }
}

/// Custom opcode handlers for `vyre-gl run --program FILE`.
struct OpcodeFile: Decodable {
    struct Handler: Decodable {
        var opcode: UInt32
        var name: String?
        var body: [Node]
    }
    var buffers: [BufferDecl]?
    var opcodes: [Handler]
    var workgroupSize: UInt32?

    static func load(_ path: String) throws -> MegakernelConfiguration {
        let data = try CLI.read(path, what: "opcode program file")
        let file: OpcodeFile
        do { file = try JSONDecoder().decode(OpcodeFile.self, from: data) } catch let error as DecodingError {
            throw CLI.badInput("\(path): \(ProgramJSONError(error).description)")
        }
        return MegakernelConfiguration(workgroupSize: file.workgroupSize ?? 128,
                                       opcodes: file.opcodes.map { OpcodeHandler(opcode: $0.opcode, name: $0.name ?? "opcode \($0.opcode)", body: $0.body) },
                                       extraBuffers: file.buffers ?? [])
    }
}
