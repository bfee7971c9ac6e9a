import Foundation
import Testing

/// What the command line says is what happened: a missed deadline is said, a check that could
/// not compare is not a pass, user text cannot drive the terminal, and every problem names the
/// file and the JSON path it is at.
@Suite(.serialized)
struct HonestOutputTests {
    static func temporary(_ name: String, _ contents: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-\(UUID().uuidString)-\(name)")
        try Data(contents.utf8).write(to: url)
        return url
    }

    @Test func aLoopFreeRunPastItsTimeoutSaysSo() throws {
        // Four million invocations without a loop: nothing polls the abort word, so the grid runs
        // to the end, far past a millisecond on any device.
        let r = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=zeros:4194240", "--groups", "65535", "--timeout", "0.001", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: the dispatch took") && r.stderr.contains("past --timeout 0.001") && r.stderr.contains("its results are complete"), "\(r.stderr)")
        #expect(r.stderr.contains("Fix:"))
        let o = try #require(CLIRunner.json(r.stdout))
        #expect(o["ranPastTimeout"] as? Bool == true)
        let quick = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=[1,2]", "--json"])
        #expect(quick.status == 0 && !quick.stderr.contains("warning"), "\(quick.stderr)")
        #expect(try #require(CLIRunner.json(quick.stdout))["ranPastTimeout"] as? Bool == false)
    }

    @Test func controlCharactersInUserTextAreEscaped() throws {
        let r = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "\u{1B}[2J\u{07}bad\nname=[1]"])
        #expect(r.status == 2)
        #expect(r.stderr.contains(#"\u{1B}[2J\u{7}bad\u{A}name"#), "\(r.stderr)")
        #expect(!r.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(r.stderr.debugDescription)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        // A JSON key holding an escape sequence, quoted in a path.
        let batch = try Self.temporary("esc.json", #"{"ops": [{"op": "NOP", "\u001b]0;owned\u0007": 1}]}"#)
        defer { try? FileManager.default.removeItem(at: batch) }
        let b = try CLIRunner.run(["run", batch.path])
        #expect(b.status == 2)
        #expect(!b.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(b.stderr.debugDescription)")
    }

    @Test func validationProblemsNameTheFileAndTheJSONKeys() throws {
        let program = try Self.temporary("bad.json", """
            {"workgroup_size": [1], "buffers": [{"name": "o", "binding": 0, "access": "read_write", "type": "u32", "count": 1}],
             "entry": [{"while": {"op": "lt", "args": [1, "q"]}, "max_iterations": {"bool": true}, "body": [{"block": [{"store": "o", "index": 0, "value": {"op": "exp", "args": [1]}}]}]}]}
            """)
        defer { try? FileManager.default.removeItem(at: program) }
        let r = try CLIRunner.run(["exec", program.path])
        #expect(r.status == 2)
        for path in ["entry[0].max_iterations", "entry[0].while.args[1]", "entry[0].body[0].block[0].value.args[0]"] {
            #expect(r.stderr.contains("vyre-gl: \(program.path): \(path): "), "\(path): \(r.stderr)")
        }
        // Wire bytes that do not decode name their file too.
        let wire = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-\(UUID().uuidString).vyir")
        try Data("VYIR".utf8 + [0xFF, 0xFF, 0xFF, 0xFF, 0x63]).write(to: wire)
        defer { try? FileManager.default.removeItem(at: wire) }
        let w = try CLIRunner.run(["exec", wire.path])
        #expect(w.status == 2 && w.stderr.contains("vyre-gl: \(wire.path): "), "\(w.stderr)")
    }

    @Test func programsRefuseNullAndAMissingEntry() throws {
        for (json, mentions) in [("{}", "entry: required key 'entry' is missing"),
                                 (#"{"workgroup_size": [1], "buffers": []}"#, "required key 'entry'"),
                                 (#"{"entry": [], "shared": null}"#, "shared: null is not a value here"),
                                 (#"{"entry": [{"if": {"bool": true}, "then": [], "else": null}]}"#, "entry[0].else")] {
            let file = try Self.temporary("p.json", json)
            defer { try? FileManager.default.removeItem(at: file) }
            let r = try CLIRunner.run(["glsl", file.path])
            #expect(r.status == 2 && r.stderr.contains(mentions) && r.stderr.contains("Fix:"), "\(json): \(r.stderr)")
        }
    }

    @Test func savedInputsAreAsStrictAsFlagsAndFlagsReplaceThem() throws {
        let inputs = try Self.temporary("x.inputs.json", #"{"grid": [1], "foreverBudget": 64, "buffers": {"data": [1, 2, 3]}, "parameters": {"nope": 1}}"#)
        defer { try? FileManager.default.removeItem(at: inputs) }
        let r = try CLIRunner.run(["exec", "examples/programs/double.json", "--inputs", inputs.path])
        #expect(r.status == 2 && r.stderr.contains("parameters") && r.stderr.contains("'nope' is not a parameter the program reads"), "\(r.stderr)")

        let good = try Self.temporary("y.inputs.json", #"{"grid": [1], "foreverBudget": 64, "buffers": {"data": [1, 2, 3]}}"#)
        defer { try? FileManager.default.removeItem(at: good) }
        let g = try CLIRunner.run(["exec", "examples/programs/double.json", "--inputs", good.path, "--groups", "2", "--json"])
        #expect(g.status == 0, "\(g.stderr)")
        #expect(try #require(CLIRunner.json(g.stdout))["grid"] as? [Int] == [2, 1, 1])
    }

    @Test func aRejectedShaderShowsTheDriverLogCutToItsLimit() throws {
        let source = "#version 430\nlayout(local_size_x = 1) in;\nvoid main() {\n" + (0..<500).map { "y\($0) = 2u;\n" }.joined() + "}\n"
        let file = try Self.temporary("many.comp", source)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["compile", file.path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("rejected by the compiler:"))
        #expect(r.stdout.split(separator: "\n").count <= 202, "\(r.stdout.split(separator: "\n").count) lines")
        // A hand-written shader is not an IR program: its Fix points at the log, not at 'vyre-gl glsl'.
        #expect(r.stderr.contains("Fix: see each driver log above") && !r.stderr.contains("vyre-gl glsl"), "\(r.stderr)")
    }

    @Test func aDeeplyNestedDocumentGivesAShortPath() throws {
        let file = try Self.temporary("deep.json", String(repeating: "[", count: 600) + String(repeating: "]", count: 600))
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["run", file.path])
        #expect(r.status == 2 && r.stderr.contains("more levels") && r.stderr.utf8.count < 1000, "\(r.stderr.utf8.count) bytes")
    }
}
