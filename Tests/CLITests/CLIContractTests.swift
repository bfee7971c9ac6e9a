import Foundation
import Testing

/// The command line's promises, checked as a user meets them: documented exit codes, a Fix on
/// every error, write errors reported, inputs named for what they are, short messages in the
/// command line's own words, and no silently wrong answer.
@Suite(.serialized)
struct CLIContractTests {
    /// Swift API names that must never reach a user of the command line.
    static let apiWords = ["Options.", "extraBuffers", "DispatchOptions", "Interpreter.", "MegakernelConfiguration", "GLContext", "WorkItem",
                           "stepBudget", "VyreGLError", "DecodingError", "Swift.", "Fatal error"]

    static func temporary(_ name: String, _ contents: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-\(UUID().uuidString)-\(name)")
        try Data(contents.utf8).write(to: url)
        return url
    }

    static func expectCleanFailure(_ r: CLIRunner.Result, status: Int32, mentions: String, _ what: String) {
        #expect(!r.signaled, "\(what) crashed: \(r.stderr)")
        #expect(r.status == status, "\(what): exit \(r.status), stderr: \(r.stderr)")
        #expect(r.stderr.contains(mentions), "\(what): \(r.stderr)")
        #expect(r.stderr.contains("Fix:"), "\(what): \(r.stderr)")
        for word in apiWords { #expect(!r.stderr.contains(word), "\(what) speaks Swift ('\(word)'): \(r.stderr)") }
    }

    @Test(arguments: [
        (["run", "--bogus", "x"], "Unknown option '--bogus'"),
        (["run"], "Missing expected argument"),
        (["run", "examples/hello.json", "extra"], "Unexpected argument 'extra'"),
        (["exec", "examples/programs/double.json", "--timeout", "nan"], "'nan' is invalid"),
        (["exec", "examples/programs/double.json", "--timeout", "inf"], "'inf' is invalid"),
        (["exec", "examples/programs/double.json", "--timeout", "-1"], "--timeout"),
        (["exec", "examples/programs/double.json", "--timeout", "0"], "'0' is invalid"),
        (["exec", "examples/programs/double.json", "--budget", "-3"], "--budget"),
        (["exec", "examples/programs/double.json", "--budget", "4294967296"], "'4294967296' is invalid"),
        (["exec", "examples/programs/double.json", "--groups"], "Missing value for '--groups"),
        (["selftest", "--random", "-5"], "--random"),
        (["selftest", "--random", "99999999999"], "--random and --batches must be 0 to 1000000"),
        (["bench", "oneshot", "--iterations", "0"], "--iterations must be 1 to 100000"),
        (["bench", "persistent", "--workgroups", "100000"], "--workgroups 100000 is outside 1 to"),
        (["bench", "persistent", "--devices", "0,0", "--workgroups", "100000"], "--workgroups 100000 is outside 1 to"),
        (["scan", "--workgroups", "100000", "-f", "Package.swift", "README.md"], "--workgroups 100000 is outside 1 to"),
        (["run", "examples/hello.json", "--workgroup-size", "0"], "--workgroup-size must be at least 1"),
        (["info", "--json", "--extra"], "Unknown option '--extra'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
        (["bench", "oneshot", "--bogus"], "'vyre-gl bench oneshot --help'"),
        (["exec", "examples/programs/double.json", "--device", "abc"], "neither a device index"),
    ])
    func usageErrorsExitTwoWithAFix(_ arguments: [String], _ mentions: String) throws {
        let r = try CLIRunner.run(arguments)
        Self.expectCleanFailure(r, status: 2, mentions: mentions, arguments.joined(separator: " "))
        // One line, one period before the Fix, and no usage block.
        #expect(r.stderr.split(separator: "\n").count == 1 && !r.stderr.contains("..") && !r.stderr.contains("Usage:"), "\(r.stderr)")
    }

    @Test func helpAndVersionExitZero() throws {
        let help = try CLIRunner.run(["run", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE") && help.stderr.isEmpty)
        let version = try CLIRunner.run(["--version"])
        #expect(version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test func aFullDiskIsAnErrorNotLostOutput() throws {
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        for arguments in [["glsl", "examples/programs/double.json"], ["run", "examples/hello.json", "--json"], ["info"]] {
            let r = try CLIRunner.run(arguments, stdout: full)
            Self.expectCleanFailure(r, status: 1, mentions: "No space left on device", arguments.joined(separator: " "))
        }
    }

    @Test func aClosedPipeIsAnErrorWithAMessage() throws {
        let pipe = Pipe()
        // 100,000 elements of text (about 200 KB) cannot all fit the pipe before its reader is gone.
        let r = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=zeros:100000", "--all"],
                                  stdout: pipe.fileHandleForWriting) { try? pipe.fileHandleForReading.close() }
        Self.expectCleanFailure(r, status: 1, mentions: "Broken pipe", "exec into a closed pipe")
    }

    @Test(arguments: [
        (["run", "examples"], "is a directory"),
        (["run", "/dev/zero"], "is a device file"),
        (["exec", "/dev/null"], "is a device file"),
        (["glsl", "examples/programs"], "is a directory"),
        (["run", "examples/hello.json", "--program", "/dev/urandom"], "is a device file"),
        (["exec", "examples/programs/double.json", "--buffer", "data=@/dev/zero"], "is a device file"),
        (["run", "no/such/file.json"], "does not exist"),
    ])
    func inputsAreNamedForWhatTheyAre(_ arguments: [String], _ mentions: String) throws {
        Self.expectCleanFailure(try CLIRunner.run(arguments), status: 2, mentions: mentions, arguments.joined(separator: " "))
    }

    @Test func hugeValuesAreNotEchoedBack() throws {
        let name = String(repeating: "Q", count: 10_000_000)
        let batch = try Self.temporary("huge.json", #"{"ops": [{"op": "\#(name)"}]}"#)
        defer { try? FileManager.default.removeItem(at: batch) }
        let r = try CLIRunner.run(["run", batch.path])
        Self.expectCleanFailure(r, status: 2, mentions: "unknown op name", "a 10 MB op name")
        #expect(r.stderr.utf8.count < 2000)
        // Command-line arguments are capped by the OS at 128 KiB each; that much is not echoed either.
        let big = String(repeating: "7,", count: 60_000)
        let g = try CLIRunner.run(["exec", "examples/programs/double.json", "--groups", big])
        Self.expectCleanFailure(g, status: 2, mentions: "--groups", "a 120 KB --groups")
        #expect(g.stderr.utf8.count < 2000)
    }

    @Test(arguments: [
        (#"{"ops": [{"op": "NOP", "args": [true]}]}"#, "ops[0].args[0]"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": [{"op": "STORE_U32", "args": [1, 300], "extra": 1}]}]}"#, "ops[0].ops[0].extra"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": [{"op": "STORE_U32", "args": "1,200"}]}]}"#, "ops[0].ops[0].args"),
        (#"{"control": {"0200": 1}, "ops": []}"#, "control.0200"),
        (#"{"ops": [{"op": "NOP"}], "ops": []}"#, "'ops' appears twice"),
        (#"{"control": {"300": 5, "300": 6}, "ops": []}"#, "'300' appears twice"),
        (#"{"ops": [{"op": "PACKED_SLOT", "ops": []}]}"#, "a PACKED_SLOT with no inner ops"),
        (#"{"ops": [{"op": "NOP", "priority": null}]}"#, "ops[0].priority"),
        (#"{"ops": [{"op": "NOP"}], "buffers": null}"#, "buffers: expected an object, found null"),
    ])
    func looseBatchesAreRefused(_ json: String, _ mentions: String) throws {
        let file = try Self.temporary("loose.json", json)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["run", file.path])
        Self.expectCleanFailure(r, status: 2, mentions: mentions, json)
        #expect(r.stdout.isEmpty)
    }

    @Test func opcodeProgramsRefuseUnknownKeys() throws {
        let file = try Self.temporary("ops.json", #"{"opcodes": [{"opcode": 1073741824, "nmae": "X", "body": []}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        Self.expectCleanFailure(try CLIRunner.run(["run", "examples/hello.json", "--program", file.path]), status: 2, mentions: "opcodes[0].nmae", "a misspelled key")
    }

    /// A declared count of 2^32 - 1 u64 elements is 34 GB: it must be refused against the device's
    /// limit before anything of that size exists (it used to abort in a host allocation).
    @Test(arguments: [false, true])
    func aHugeDeclaredExtraBufferIsRefusedBeforeAllocating(_ resident: Bool) throws {
        let file = try Self.temporary("huge.json", """
            {"buffers": [{"name": "big", "binding": 6, "access": "read_write", "type": "u64", "count": 4294967295}],
             "opcodes": [{"opcode": 1073741824, "name": "X", "body": []}]}
            """)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["run", "examples/hello.json", "--program", file.path] + (resident ? ["--resident"] : []))
        Self.expectCleanFailure(r, status: 2, mentions: "'big' needs 34359738360 bytes", "a 34 GB extra buffer")
    }

    @Test func bufferValuesAreStrict() throws {
        for (value, mentions) in [("data=[1,true]", "found true"), ("data=[1.5]", "not a whole number"), ("data=[1,]", "trailing commas"),
                                  ("data=zeros:0200", "zeros:N"), ("data=zeros:-1", "zeros:N")] {
            Self.expectCleanFailure(try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", value]), status: 2, mentions: mentions, value)
        }
        Self.expectCleanFailure(try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=[1]", "--buffer", "data=[2]"]),
                                status: 2, mentions: "given twice", "a buffer given twice")
    }

    @Test func aLoopTheDriverCutsIsExitOneNeverAWrongAnswer() throws {
        let program = try Self.temporary("loop.json", """
            {"workgroup_size": [1], "buffers": [{"name": "o", "binding": 0, "access": "read_write", "type": "u32", "count": 1}],
             "entry": [{"for": "i", "from": 0, "to": 100000, "body": [{"store": "o", "index": 0, "value": {"op": "add", "args": [{"load": "o", "index": 0}, 1]}}]}]}
            """)
        defer { try? FileManager.default.removeItem(at: program) }
        let r = try CLIRunner.run(["exec", program.path])
        if r.status == 0 {
            // A device without a loop limit: the whole count, nothing less.
            #expect(r.stdout.contains("o (u32, 1 element): 100000"))
        } else {
            Self.expectCleanFailure(r, status: 1, mentions: "stopped the loop at IR node entry[0]", "a 100,000-iteration loop")
            #expect(!r.stdout.contains("65535"))
        }
    }

    @Test func aRunawayExecStopsAtItsTimeout() throws {
        let program = try Self.temporary("runaway.json", """
            {"workgroup_size": [64], "buffers": [{"name": "o", "binding": 0, "access": "read_write", "type": "u32", "count": 1}],
             "entry": [{"let": "n", "value": 0}, {"for": "i", "from": 0, "to": 60000, "body": [{"assign": "n", "value": {"op": "add", "args": ["n", {"op": "mul", "args": ["i", "i"]}]}}]},
                       {"if": {"op": "eq", "args": ["n", 7]}, "then": [{"store": "o", "index": 0, "value": "n"}]}]}
            """)
        defer { try? FileManager.default.removeItem(at: program) }
        let r = try CLIRunner.run(["exec", program.path, "--groups", "65535", "--timeout", "1"])
        Self.expectCleanFailure(r, status: 1, mentions: "did not finish within 1.0 s (--timeout)", "a runaway exec")
    }

    @Test func aTenantPastTheTableFaultsInsteadOfRunning() throws {
        let file = try Self.temporary("tenants.json", #"{"tenants": 1, "ops": [{"op": "STORE_U32", "args": [9, 300], "tenant": 125}, {"op": "NOP"}]}"#)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["run", file.path, "--json"])
        #expect(r.status == 1)
        let o = try #require(CLIRunner.json(r.stdout))
        #expect((o["faults"] as? [String: Any])?["count"] as? Int == 1)
        #expect(((o["faults"] as? [String: Any])?["slots"] as? [[String: Any]])?.first?["reason"] as? String == "tenant id outside the tenant table")
        #expect((o["control"] as? [String: Int])?["300"] == nil)
    }

    @Test func aMillionOpBatchStaysWithinItsMemoryBudget() throws {
        let text = #"{"ops": ["# + Array(repeating: #"{"op": "NOP"}"#, count: 1 << 20).joined(separator: ",") + "]}"
        let file = try Self.temporary("nop1m.json", text)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["run", file.path], environment: ["VYRE_GL_PEAK_MEMORY": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("done 1048576, faults 0"))
        let kib = try #require(Self.peakKiB(r.stderr))
        #expect(kib < 300 * 1024, "peak resident memory \(kib / 1024) MiB")
    }

    @Test func aLargeZeroBufferIsMadeOnTheDeviceOrRefusedCleanly() throws {
        let r = try CLIRunner.run(["exec", "examples/programs/double.json", "--buffer", "data=zeros:268435456"], environment: ["VYRE_GL_PEAK_MEMORY": "1"])
        #expect(!r.signaled)
        if r.status == 2 {
            #expect(r.stderr.contains("binds at most") && r.stderr.contains("nothing was allocated"))
        } else {
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("data (u32, 268435456 elements): 0 0"))
            // The buffer is 1 GiB on the device; the host never holds it, let alone 4 GiB of text.
            #expect(try #require(Self.peakKiB(r.stderr)) < 1536 * 1024)
        }
    }

    static func peakKiB(_ stderr: String) -> Int? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.contains("peak resident memory") }) else { return nil }
        return Int(line.split(separator: " ").dropLast().last ?? "")
    }
}
