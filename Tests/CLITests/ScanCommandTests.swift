import Foundation
import Testing

/// `vyre-gl scan` against `grep -F -c -f` on the same files: the same standard output and exit status.
@Suite("vyre-gl scan", .serialized)
struct ScanCommandTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-scan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func grep(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["grep", "-F", "-c"] + arguments
        process.environment = ["LC_ALL": "C", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
        if let stdin, let input {
            try stdin.fileHandleForWriting.write(contentsOf: input)
            try stdin.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs both with `-f patterns` and `files` (and `input` on standard input), and checks they
    /// print and exit alike.
    func agree(_ patterns: String, _ files: [String], _ comment: Comment, input: Data? = nil, tuning: [String] = [],
               environment: [String: String] = [:]) throws {
        let ours = try CLIRunner.run(["scan", "-f", patterns] + files + tuning, environment: environment, input: input)
        let theirs = try grep(["-f", patterns] + files, input: input)
        #expect(ours.stdout == theirs.stdout && ours.status == theirs.status, "\(comment): ours \(ours.status) [\(ours.stdout)] \(ours.stderr), grep \(theirs.status) [\(theirs.stdout)]")
    }

    @Test("--devices 0,0: the files shared by two devices, grep's output and exit status, pattern counts as one device's")
    func acrossTwoDevices() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let patterns = try file("patterns", "needle\nab\r\n")
        var files: [String] = []
        for i in 0..<9 {
            var text = ""
            for j in 0..<(300 * (i + 1)) { text += j % (i + 3) == 0 ? "a needle \(j)\n" : "hay \(j) ab\r\n" }
            files.append(try file("f\(i)", text))
        }
        let devices = ["--devices", "0,0"]
        try agree(patterns, files, "nine files", tuning: devices)
        try agree(patterns, [files[0], dir.appendingPathComponent("missing").path, dir.path, files[1]], "a missing file and a directory", tuning: devices)
        try agree(patterns, [try file("none", "nothing")], "no match", tuning: devices)
        let one = try CLIRunner.run(["scan", "-f", patterns, "--count-patterns"] + files)
        let two = try CLIRunner.run(["scan", "-f", patterns, "--count-patterns"] + files + devices)
        #expect(one.stdout == two.stdout && one.status == two.status)
        let json = try #require(CLIRunner.json(try CLIRunner.run(["scan", "-f", patterns, "--json"] + files + devices).stdout))
        #expect((json["device"] as? String)?.contains(" + ") == true)
    }

    @Test("one file, several files, no match, a missing file and a directory: grep's output and exit status")
    func likeGrep() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let patterns = try file("patterns", "needle\nab\r\n")
        let a = try file("a", "a needle\nnone\nab\r\nab\n")
        let b = try file("b", "nothing here")
        let c = try file("c", "needle\0needle\nneedle")
        try agree(patterns, [a], "one file")
        try agree(patterns, [a, b, c], "several files")
        try agree(patterns, [b], "no match")
        try agree(patterns, [a, dir.appendingPathComponent("missing").path, b], "a missing file")
        try agree(patterns, [a, dir.path], "a directory")
        try agree(try file("none", ""), [a], "no patterns at all")
        try agree(try file("empty-pattern", "\n"), [a, b, c], "an empty pattern")
        let missing = try CLIRunner.run(["scan", "-f", patterns, a, dir.appendingPathComponent("missing").path])
        #expect(missing.stderr.contains("missing: No such file or directory (ENOENT). Fix: check the path."))
    }

    /// 4 storage blocks: the scan's IO buffer joins the megakernel's mapped protocol block, and the
    /// table copy in shared memory gets what 16 KiB leaves.
    @Test("within OpenGL ES 3.1's minimum limits, on both APIs: grep's output", arguments: ["gl", "gles"])
    func withinTheES31MinimumLimits(api: String) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let minimum = ["VYRE_GL_LIMITS": "es31-minimum"]
        let patterns = try file("patterns", "needle\nab\r\nline 7\n")
        var lines = ""
        for i in 0..<3000 { lines += "line \(i)\(i % 13 == 0 ? " needle" : "")\n" }
        let a = try file("a", lines)
        let b = try file("b", "a needle\nnone\nab\r\nab\n")
        try agree(patterns, [a, b], "several files", tuning: ["--api", api], environment: minimum)
        try agree(patterns, [a], "many chunks", tuning: ["--api", api, "--chunk-bytes", "4096", "--segment-bytes", "256"], environment: minimum)
        let counts = try CLIRunner.run(["scan", "-f", patterns, a, b, "--count-patterns", "--api", api], environment: minimum)
        let device = try CLIRunner.run(["scan", "-f", patterns, a, b, "--count-patterns"])
        #expect(counts.status == 0 && counts.stdout == device.stdout, "\(counts.stdout) \(counts.stderr) against \(device.stdout)")
    }

    @Test("--json and --count-patterns")
    func json() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let patterns = try file("patterns", "aa\na\n")
        let a = try file("a", "aaa\nb\na")
        let result = try CLIRunner.run(["scan", "-f", patterns, a, "--json", "--count-patterns"])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let files = object?["files"] as? [[String: Any]]
        #expect(files?.first?["count"] as? Int == 2 && object?["bytes"] as? Int == 7)
        let counts = (object?["patterns"] as? [[String: Any]])?.map { $0["count"] as? Int }
        #expect(counts == [2, 4])
        let text = try CLIRunner.run(["scan", "-f", patterns, a, "--count-patterns"])
        #expect(text.stdout == "2\n2\taa\n4\ta\n")
        // A pattern holding a backslash and one holding a tab stay apart in the text form.
        let tricky = try CLIRunner.run(["scan", "-f", try file("tricky", "a\\u{9}b\na\tb\n"), a, "--count-patterns"])
        #expect(tricky.stdout.contains("\ta\\\\u{9}b\n") && tricky.stdout.contains("\ta\\u{9}b\n"))
    }

    @Test("bad input: a missing pattern file, no files, a bad chunk size or count")
    func badInput() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try file("a", "x\n")
        let noPatterns = try CLIRunner.run(["scan", "-f", dir.appendingPathComponent("nope").path, a])
        #expect(noPatterns.status == 2 && noPatterns.stderr.contains("Fix:"))
        let chunk = try CLIRunner.run(["scan", "-f", a, a, "--chunk-bytes", "1000"])
        #expect(chunk.status == 2 && chunk.stderr.contains("multiple of 4096"))
        let long = try file("long", String(repeating: "x", count: 5000) + "\n")
        let tooLong = try CLIRunner.run(["scan", "-f", long, a, "--chunk-bytes", "4096"])
        #expect(tooLong.status == 2 && tooLong.stderr.contains("give --chunk-bytes of at least 8192"))
        let chunks = try CLIRunner.run(["scan", "-f", a, a, "--chunks", "0"])
        #expect(chunks.status == 2 && chunks.stderr.contains("outside 1...65536"))
        for groups in ["0", "3000000000"] {
            let r = try CLIRunner.run(["scan", "-f", a, a, "--workgroups", groups])
            #expect(r.status == 2 && !r.signaled && r.stderr.contains("--workgroups \(groups) is outside 1 to") && r.stderr.contains("Fix:"), "\(groups): \(r.stderr)")
        }
    }

    /// Standard input (no FILE, `-`, `-f -`), a pipe longer than many chunks with matches across
    /// their boundaries, and files whose size is not known before their end (/proc, /dev/null):
    /// read to their end, as grep reads them.
    @Test("standard input, pipes and files of unknown size: read to their end, like grep")
    func streams() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let patterns = try file("patterns", "needle\nab\r\nLinux\n")
        let a = try file("a", "a needle\nab\r\n")
        var text = ""
        for i in 0..<3000 { text += i % 7 == 0 ? "xx nee" : "line \(i) "; text += i % 5 == 0 ? "dle\n" : "ab\r\n" }
        let input = Data(text.utf8)
        try agree(patterns, [], "no FILE", input: input)
        try agree(patterns, ["-"], "-", input: input)
        try agree(patterns, [a, "-", a], "- among files", input: input)
        try agree(patterns, ["-"], "a pipe over many 4 KiB chunks", input: input, tuning: ["--chunk-bytes", "4096", "--segment-bytes", "256"])
        try agree("-", [a], "-f -", input: Data("needle\n".utf8))
        try agree(patterns, ["/proc/version", "/dev/null", a], "/proc and /dev/null")
        // sysfs says 4096 bytes for a file of a few.
        let sys = ["/sys/kernel/mm/transparent_hugepage/enabled", "/sys/devices/system/cpu/online"].filter { FileManager.default.isReadableFile(atPath: $0) }
        if !sys.isEmpty { try agree(try file("digits", "0\n1\nnever\n"), sys + [a], "/sys files") }
        try agree(patterns, [], "empty standard input")
        try agree("/dev/null", [a], "-f /dev/null: no patterns")
        // Standard input that is a directory: grep's words for it, the same exit status.
        let dirIn = try CLIRunner.run(["scan", "-f", patterns, "-"], stdin: FileHandle(forReadingAtPath: dir.path))
        #expect(dirIn.status == 2 && dirIn.stderr.contains("(standard input): Is a directory") && dirIn.stdout == "0\n", "\(dirIn)")
    }
}
