import Foundation
import Testing
import VyreProtocol

/// `vyre-gl run --record LOG` and `vyre-gl replay LOG`, spawned as a user runs them.
@Suite(.serialized)
struct ReplayCommandTests {
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).log").path
    }

    @Test func aRecordedRunReplaysIdenticallyInBothModes() throws {
        let oneShot = Self.temporary("hello")
        defer { try? FileManager.default.removeItem(atPath: oneShot) }
        let r = try CLIRunner.run(["run", "examples/hello.json", "--record", oneShot])
        #expect(r.status == 0, "\(r.stderr)")
        let replay = try CLIRunner.run(["replay", oneShot])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("6 ops (one-shot) recorded on ") && replay.stdout.hasSuffix(": identical\n"), "\(replay.stdout)")

        // Custom handlers and an extra buffer, through the resident kernel; faults are outcomes too.
        let resident = Self.temporary("histogram")
        defer { try? FileManager.default.removeItem(atPath: resident) }
        let h = try CLIRunner.run(["run", "examples/custom/histogram.json", "--program", "examples/custom/histogram_opcodes.json", "--resident", "--record", resident])
        #expect(h.status == 1, "\(h.stderr)")
        let log = try RingLog(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: resident))))
        #expect(log.mode == .resident && !log.opcodeProgram.isEmpty && log.finalBuffers["histogram"] != nil)
        #expect(log.records.contains { if case .fault = $0.outcome { true } else { false } })
        let again = try CLIRunner.run(["replay", resident, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let o = try #require(CLIRunner.json(again.stdout))
        #expect(o["identical"] as? Bool == true && o["mode"] as? String == "resident" && (o["differences"] as? [Any])?.isEmpty == true)
    }

    @Test func aReplayThatDiffersListsEachDifferenceAndExitsOne() throws {
        let path = Self.temporary("differs")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try CLIRunner.run(["run", "examples/hello.json", "--record", path]).status == 0)
        // A log as another device might have left it: an op that faulted, a word that differs.
        var log = try RingLog(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        log.records[1].outcome = .fault(FaultReason.handlerFault.rawValue)
        log.finalControl[300] = 7
        try Data(log.encoded()).write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["replay", path])
        #expect(r.status == 1)
        #expect(r.stdout.contains(": 2 differences"), "\(r.stdout)")
        #expect(r.stdout.contains("op 1 (") && r.stdout.contains("recorded FAULT") && r.stdout.contains("replayed DONE"))
        #expect(r.stdout.contains("control[300]: recorded 7, replayed 42"))
        #expect(r.stderr.contains("differs from the log in 2 places") && r.stderr.contains("Fix:"))
    }

    @Test func aDamagedLogIsExitTwoWithAFixAndRunsNothing() throws {
        let path = Self.temporary("damaged")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try CLIRunner.run(["run", "examples/hello.json", "--record", path]).status == 0)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["replay", path])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(path) && r.stderr.contains("damaged") && r.stderr.contains("Fix: record the run again"), "\(r.stderr)")
        let batch = try CLIRunner.run(["replay", "examples/hello.json"])
        #expect(batch.status == 2 && batch.stderr.contains("magic"), "\(batch.stderr)")
        let missing = try CLIRunner.run(["replay", "/nonexistent/run.log"])
        #expect(missing.status == 2 && missing.stderr.contains("Fix:"), "\(missing.stderr)")
    }

    /// A log that cannot be made is found before the batch runs: exit 2, nothing dispatched.
    @Test func aLogThatCannotBeWrittenIsBadInputFoundFirst() throws {
        for (path, says) in [("/nonexistent-dir/run.log", "does not exist"), ("/tmp", "is a directory"), ("", "is empty")] {
            let r = try CLIRunner.run(["run", "examples/hello.json", "--record", path])
            #expect(r.status == 2 && r.stdout.isEmpty, "\(path): \(r.stderr)")
            #expect(r.stderr.contains(says) && r.stderr.contains("Fix:"), "\(r.stderr)")
        }
        // The input itself, under another spelling: refused, and left as it was.
        let before = try Data(contentsOf: URL(fileURLWithPath: "examples/hello.json"))
        let r = try CLIRunner.run(["run", "examples/hello.json", "--record", "examples/../examples/hello.json"])
        #expect(r.status == 2 && r.stderr.contains("is the input") && r.stderr.contains("Fix:"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "examples/hello.json")) == before)
    }

    /// The device name comes from the log: it is printed escaped, and differences are counted
    /// beyond the ones listed.
    @Test func aLogsDeviceNameCannotWriteToTheTerminal() throws {
        let path = Self.temporary("device")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try CLIRunner.run(["run", "examples/hello.json", "--record", path]).status == 0)
        var log = try RingLog(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        log.device = "\u{1B}[2Jfake\nline"
        log.finalControl = log.finalControl.map { $0 &+ 1 }
        try Data(log.encoded()).write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["replay", path])
        #expect(r.status == 1 && !r.stdout.contains("\u{1B}") && r.stdout.contains("\\u{1B}"), "\(r.stdout)")
        #expect(r.stdout.contains(": \(log.finalControl.count) differences") && r.stdout.contains("more (--json lists up to"))
    }
}
