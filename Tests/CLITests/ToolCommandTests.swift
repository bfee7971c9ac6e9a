import Foundation
import Testing

/// The `info`, `glsl`, `exec` and `selftest` commands, spawned as a user would run them.
@Suite(.serialized)
struct ToolCommandTests {
    @Test func infoDescribesTheDevice() throws {
        let r = try CLIRunner.run(["info"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("GL:"))
        #expect(r.stdout.contains("Renderer:"))
        #expect(r.stdout.contains("Workgroup size:"))
        let j = try CLIRunner.run(["info", "--json"])
        #expect(j.status == 0)
        let object = try #require(CLIRunner.json(j.stdout))
        let context = try #require(object["context"] as? [String: Any])
        #expect((context["glVersion"] as? String)?.contains("4.") == true)
    }

    @Test func aMissingDeviceIsExitStatusThree() throws {
        let r = try CLIRunner.run(["info"], environment: ["VYRE_GL_DEVICE": "99"])
        #expect(r.status == 3)
        #expect(r.stdout.contains("Fix:"))
    }

    /// Every error reaches stderr in one shape, one line per problem: `vyre-gl: path: problem. Fix: fix.`
    @Test func everyProblemIsOneLineWithItsPathAndFix() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-diag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = dir.appendingPathComponent("bad.json")
        try Data("""
        {"workgroup_size": [4], "buffers": [{"name": "data", "binding": 0, "access": "read", "type": "u32", "count": 4}],
         "entry": [{"store": "data", "index": 0, "value": 1}, {"assign": "nowhere", "value": 2}]}
        """.utf8).write(to: program)
        let r = try CLIRunner.run(["glsl", program.path])
        #expect(r.status == 2, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(r.stderr)")
        // The file, then the JSON path inside it.
        #expect(lines.first?.hasPrefix("vyre-gl: \(program.path): entry[0]: store into read-only buffer 'data'. Fix: ") == true, "\(r.stderr)")
        #expect(lines.last?.hasPrefix("vyre-gl: \(program.path): entry[1]: assignment to undefined variable 'nowhere'. Fix: ") == true, "\(r.stderr)")
        for line in lines { #expect(line.hasSuffix(".") && line.components(separatedBy: ". Fix: ").count == 2, "\(line)") }
    }

    @Test func glslPrintsTheGoldenSource() throws {
        let r = try CLIRunner.run(["glsl", "examples/programs/histogram.json"])
        #expect(r.status == 0, "\(r.stderr)")
        let golden = try String(contentsOf: CLIRunner.root.appendingPathComponent("glsl/golden/program_histogram.comp"), encoding: .utf8)
        #expect(r.stdout == golden)
    }

    @Test func execRunsAndChecksAgainstTheReference() throws {
        let r = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=[1,2,3,4]", "--check"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("data (u32, 4 elements): 2 4 6 8"))
        #expect(r.stdout.contains("reference interpreter: match"))
    }

    @Test func execPrintsJSONAndWritesFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-exec-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["exec", "examples/programs/saxpy.json", "--groups", "1", "--json", "--output-dir", dir.path,
                                   "--buffer", "x=[1,2,3]", "--buffer", "y=[10,20,30]", "--buffer", "params=[0.5]"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(CLIRunner.json(r.stdout))
        let buffers = try #require(object["buffers"] as? [String: Any])
        #expect((buffers["y"] as? [Double]) == [10.5, 21, 31.5])
        let bytes = try Data(contentsOf: dir.appendingPathComponent("y.bin"))
        #expect(bytes.count == 12)
    }

    /// `exec` keeps the linked program in VYRE_GL_CACHE_DIR; `cache stats` counts it and
    /// `cache clear` removes the cache's files and nothing else.
    @Test func cacheStatsAndClear() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["VYRE_GL_CACHE_DIR": dir.path]
        let run = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=[1,2,3,4]"], environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        let info = try CLIRunner.run(["info", "--json"], environment: env)
        let context = try #require(CLIRunner.json(info.stdout)?["context"] as? [String: Any])
        let formats = try #require(context["programBinaryFormats"] as? Int)
        try Data("not a cache file".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let stats = try CLIRunner.run(["cache", "stats", "--json"], environment: env)
        #expect(stats.status == 0, "\(stats.stderr)")
        let before = try #require(CLIRunner.json(stats.stdout))
        #expect(before["directory"] as? String == dir.path)
        // One program compiled, one file, where the driver offers binaries at all.
        #expect(before["files"] as? Int == (formats > 0 ? 1 : 0))
        #expect((before["bytes"] as? Int ?? 0) > 0 || formats == 0)
        let text = try CLIRunner.run(["cache", "stats"], environment: env)
        #expect(text.stdout.contains("directory: \(dir.path)"))
        let clear = try CLIRunner.run(["cache", "clear", "--json"], environment: env)
        #expect(clear.status == 0, "\(clear.stderr)")
        let after = try #require(CLIRunner.json(clear.stdout))
        #expect(after["removed"] as? Int == (formats > 0 ? 1 : 0))
        #expect(after["files"] as? Int == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("notes.txt").path))
        let extra = try CLIRunner.run(["cache", "stats", "extra"], environment: env)
        #expect(extra.status == 2 && extra.stderr.contains("Fix:"))
    }

    /// A cache directory that is a file holds nothing: `stats` says so, with a Fix, and a run
    /// still works (it compiles every time).
    @Test func anUnusableCacheDirectoryIsShownNotFatal() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-cache-file-\(UUID().uuidString)")
        try Data("a file".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let env = ["VYRE_GL_CACHE_DIR": file.path]
        let stats = try CLIRunner.run(["cache", "stats", "--json"], environment: env)
        let report = try #require(CLIRunner.json(stats.stdout))
        #expect(stats.status == 0 && report["usable"] as? Bool == false)
        #expect((report["problem"] as? String)?.contains("is not a directory") == true && (report["problem"] as? String)?.contains("Fix:") == true)
        #expect(try CLIRunner.run(["cache", "stats"], environment: env).stdout.contains("unusable:"))
        #expect(try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=[1,2]"], environment: env).status == 0)
        let good = try CLIRunner.run(["cache", "stats", "--json"], environment: ["VYRE_GL_CACHE_DIR": file.path + "-new/sub"])
        #expect(try #require(CLIRunner.json(good.stdout))["usable"] as? Bool == true)
    }

    @Test func aTrappingProgramIsExitStatusOne() throws {
        let r = try CLIRunner.run(["exec", "examples/programs/checked_convert.json", "--buffer", "input=[1.5,-7.2,\"nan\",8]",
                                   "--buffer", "as_int=zeros:4", "--buffer", "quotient=zeros:4"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("code 1001 at invocation 1"))
        #expect(r.stdout.contains("quotient (i32, 4 elements): 100 0 0 12"))
    }

    @Test(arguments: [
        (["exec", "no/such/program.json"], "does not exist"),
        (["exec", "examples/programs/double.json", "--buffer", "nope=[1]"], "does not declare"),
        (["exec", "examples/programs/double.json", "--buffer", "data=[1,-2]"], "-2 is outside 0...4294967295"),
        (["exec", "examples/programs/double.json", "--groups", "0"], "positive whole numbers"),
        (["exec", "examples/programs/double.json"], "runtime-sized buffer 'data'"),
        (["exec", "Package.swift"], "invalid program JSON at (top level): not valid JSON at line 1, column 1"),
    ])
    func badInputIsExitStatusTwoWithAFix(_ arguments: [String], _ mentions: String) throws {
        let r = try CLIRunner.run(arguments)
        #expect(r.status == 2, "stdout: \(r.stdout) stderr: \(r.stderr)")
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
        #expect(r.stderr.contains("Fix:"))
    }

    @Test func programsBeyondTheDeviceAreRejectedBeforeDispatch() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wide-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"{"workgroup_size": [4096], "buffers": [], "entry": []}"#.utf8).write(to: file)
        let r = try CLIRunner.run(["exec", file.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("4096 invocations"))
    }

    @Test func selftestPassesOnThisDevice() throws {
        let r = try CLIRunner.run(["selftest", "--random", "10", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let object = try #require(CLIRunner.json(r.stdout))
        #expect(object["failed"] as? Int == 0)
        #expect((object["passed"] as? Int ?? 0) > 100)
        // Each suite counts its own cases: the resident megakernel's five checks and 20 batches
        // run as `run --resident` does.
        let suites = try #require(object["suites"] as? [String: [String: Int]])
        #expect(suites["resident"] == ["passed": 25, "failed": 0], "\(suites)")
        #expect(suites["batches"]?["failed"] == 0 && (suites["batches"]?["passed"] ?? 0) > 0)
        #expect(suites["programs"]?["failed"] == 0 && (suites["programs"]?["passed"] ?? 0) > 100)
    }
}
