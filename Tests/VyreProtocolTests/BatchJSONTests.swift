import Testing
import VyreIR
import VyreProtocol

/// Batches and opcode programs are read as strictly as programs: every loose input the hostile
/// review found (and the class around it) is refused with its JSON path and a Fix.
struct BatchJSONTests {
    static func batch(_ text: String) -> Result<Batch, ProgramJSONError> {
        do { return .success(try Batch(json: Array(text.utf8))) } catch { return .failure(error) }
    }

    @Test func theReadmeBatchDecodes() throws {
        let b = try Self.batch("""
            {"slots": 256, "controlWords": 1024, "tenants": 1, "debugRecords": 64, "control": {"300": 5, "0": 0},
             "ops": [{"op": "STORE_U32", "args": [42, 300]}, {"op": "ATOMIC_ADD", "args": [1, 301], "tenant": 0, "priority": "HIGH"},
                     {"op": 2, "args": [5, 302], "priority": 4},
                     {"op": "PACKED_SLOT", "ops": [{"op": "STORE_U32", "args": [1, 300]}, {"op": "NOP"}]}],
             "buffers": {"hits": [0, 0]}}
            """).get()
        #expect(b.slots == 256 && b.controlWords == 1024 && b.control == [300: 5, 0: 0])
        #expect(b.items.count == 4)
        #expect(b.items[1].priority == .high && b.items[2].priority == .idle && b.items[2].opcode == 2)
        #expect(b.items[3] == (try WorkItem.packed([PackedOp(.storeU32, [1, 300]), PackedOp(.nop, [])])))
        #expect(b.buffers == ["hits": [0, 0]])
    }

    @Test(arguments: [
        (#"{"ops": [{"op": "NOP", "args": [true]}]}"#, "ops[0].args[0]", "found true"),
        (#"{"ops": [{"op": "NOP", "tenant": true}]}"#, "ops[0].tenant", "found true"),
        (#"{"slots": true, "ops": []}"#, "slots", "found true"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": [{"op": "NOP", "argz": [1]}]}]}"#, "ops[0].ops[0].argz", "unknown key"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": [{"op": "STORE_U32", "args": "1,200"}]}]}"#, "ops[0].ops[0].args", "expected an array"),
        (#"{"ops": [{"op": "NOP", "args": "1,200"}]}"#, "ops[0].args", "expected an array"),
        (#"{"control": {"0200": 1}, "ops": []}"#, "control.0200", "not a word index"),
        (#"{"control": {"+200": 1}, "ops": []}"#, "control.+200", "not a word index"),
        (#"{"control": {"200": 1, "200": 2}, "ops": []}"#, "control.200", "appears twice"),
        (#"{"ops": [], "ops": []}"#, "ops", "appears twice"),
        (#"{"ops": [{"op": "NOP", "op": "STORE_U32"}]}"#, "ops[0].op", "appears twice"),
        (#"{"ops": [{"op": "NOP", "priority": "high"}]}"#, "ops[0].priority", "unknown priority"),
        (#"{"ops": [{"op": "NOP", "priority": 5}]}"#, "ops[0].priority", "not a priority"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": [{"op": "DFA_STEP"}]}]}"#, "ops[0].ops[0].op", "unknown op name"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": [{"op": 7}]}]}"#, "ops[0].ops[0].op", "cannot be packed"),
        (#"{"ops": [{"op": "NOP", "ops": []}]}"#, "ops[0].ops", "only a PACKED_SLOT"),
        (#"{"ops": [{"args": [1]}]}"#, "ops[0]", "'op' is missing"),
        (#"{"tenants": 30, "ops": []}"#, "tenants", "outside 0...29"),
        (#"{"buffers": {"a b": [1]}, "ops": []}"#, "buffers.a b", "not a buffer name"),
        (#"{"buffers": {"hits": [1.5]}, "ops": []}"#, "buffers.hits[0]", "not a whole number"),
    ])
    func looseBatchesAreRefusedWithTheirPath(_ text: String, _ path: String, _ problem: String) {
        switch Self.batch(text) {
        case .success: Issue.record("accepted \(text)")
        case .failure(let e):
            #expect(e.path == path, "\(e)")
            #expect(e.problem.contains(problem), "\(e)")
            #expect(e.description.contains("Fix: "))
        }
    }

    @Test func opcodeProgramsRefuseUnknownAndDuplicateKeys() {
        let cases: [(String, String)] = [
            (#"{"opcodes": [{"opcode": 1073741824, "body": [], "nmae": "X"}]}"#, "opcodes[0].nmae"),
            (#"{"opcodes": [], "workgroupsize": 64}"#, "workgroupsize"),
            (#"{"opcodes": [{"opcode": 1073741824, "opcode": 1073741825, "body": []}]}"#, "opcodes[0].opcode"),
            (#"{"opcodes": [{"opcode": "1073741824", "body": []}]}"#, "opcodes[0].opcode"),
            (#"{"opcodes": [{"opcode": 1073741824, "name": "two\nlines", "body": []}]}"#, "opcodes[0].name"),
            (#"{"opcodes": [], "workgroupSize": 0}"#, "workgroupSize"),
        ]
        for (text, path) in cases {
            do {
                _ = try MegakernelConfiguration(json: Array(text.utf8))
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.path == path, "\(error)")
                #expect(error.description.contains("Fix: "))
            }
        }
    }
}
