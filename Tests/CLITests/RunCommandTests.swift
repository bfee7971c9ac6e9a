import Foundation
import Testing

/// `vyre-gl run BATCH.json`, spawned as a user runs it: output, JSON and exit status.
@Suite(.serialized)
struct RunCommandTests {
    static func batchFile(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return url
    }

    @Test func helloBatchRunsAndReportsJSON() throws {
        let r = try CLIRunner.run(["run", "examples/hello.json", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(CLIRunner.json(r.stdout))
        #expect(o["done"] as? Int == 6)
        #expect(o["epoch"] as? Int == 1)
        #expect(o["shutdown"] as? Int == 0)
        #expect((o["faults"] as? [String: Any])?["count"] as? Int == 0)
        #expect((o["pending"] as? [String: Any])?["count"] as? Int == 0)
        let control = try #require(o["control"] as? [String: Int])
        #expect(control["300"] == 42 && control["301"] == 1 && control["302"] == 5 && control["160"] == 99 && control["164"] == 42)
        let metrics = try #require(o["metrics"] as? [String: Int])
        #expect(metrics == ["STORE_U32": 1, "ATOMIC_ADD": 2, "PRINTF": 1, "BATCH_FENCE": 1, "LOAD_U32": 1])
        let debug = try #require(o["debug"] as? [[String: Any]])
        #expect(debug.count == 1)
        #expect(debug.first?["fmt"] as? Int == 7 && debug.first?["slot"] as? Int == 2 && debug.first?["args"] as? [Int] == [1, 2])
        #expect(o["debugLost"] as? Int == 0)
        #expect((o["timing"] as? [String: Any])?["total"] is Double)
    }

    @Test func helloBatchPrintsAReadableSummary() throws {
        let r = try CLIRunner.run(["run", "examples/hello.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("done 6, faults 0, pending 0, epoch 1, shutdown no"))
        #expect(r.stdout.contains("[300]=42"))
        #expect(r.stdout.contains("debug: fmt 7 (1, 2) from slot 2"))
    }

    @Test func faultsAndPendingOpsAreExitStatusOne() throws {
        let faults = try CLIRunner.run(["run", "examples/faults.json", "--json"])
        #expect(faults.status == 1)
        let o = try #require(CLIRunner.json(faults.stdout))
        let f = try #require(o["faults"] as? [String: Any])
        #expect(f["count"] as? Int == 5)
        #expect((f["slots"] as? [[String: Any]])?.compactMap { $0["slot"] as? Int } == [1, 2, 3, 4, 5])
        #expect(((f["slots"] as? [[String: Any]])?.first?["reason"] as? String)?.contains("out of range") == true)
        let tenants = try CLIRunner.run(["run", "examples/tenants.json", "--json"])
        #expect(tenants.status == 1)
        let t = try #require(CLIRunner.json(tenants.stdout))
        #expect((t["pending"] as? [String: Any])?["slots"] as? [Int] == [2, 4, 5])
        #expect(t["shutdown"] as? Int == 1)
    }

    @Test func customOpcodesFromAProgramFile() throws {
        let r = try CLIRunner.run(["run", "examples/custom/histogram.json", "--program", "examples/custom/histogram_opcodes.json", "--json"])
        #expect(r.status == 1)
        let o = try #require(CLIRunner.json(r.stdout))
        #expect((o["buffers"] as? [String: [Int]])?["histogram"]?[3] == 7)
        #expect((o["metrics"] as? [String: Int])?["1073741824"] == 3)
    }

    /// Every example batch gives the same JSON and exit status through a resident kernel
    /// (`--resident`) as one-shot, timing aside.
    @Test(arguments: [["examples/hello.json"], ["examples/faults.json"], ["examples/packed.json"], ["examples/tenants.json"],
                      ["examples/custom/histogram.json", "--program", "examples/custom/histogram_opcodes.json"]])
    func residentRunMatchesOneShot(_ arguments: [String]) throws {
        let once = try CLIRunner.run(["run", "--json"] + arguments)
        let resident = try CLIRunner.run(["run", "--json", "--resident"] + arguments)
        #expect(once.status == resident.status, "\(resident.stderr)")
        #expect(once.stderr == resident.stderr)
        var a = try #require(CLIRunner.json(once.stdout))
        var b = try #require(CLIRunner.json(resident.stdout))
        #expect(a.removeValue(forKey: "timing") != nil && b.removeValue(forKey: "timing") != nil)
        #expect(NSDictionary(dictionary: a).isEqual(to: b), "one-shot \(a)\nresident \(b)")
    }

    @Test func everyExampleBatchIsCoveredByTheResidentComparison() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: CLIRunner.root.appendingPathComponent("examples").path)
        #expect(Set(files.filter { $0.hasSuffix(".json") }) == ["hello.json", "faults.json", "packed.json", "tenants.json"])
    }

    @Test(arguments: [
        ("{\"ops\": [", "not valid JSON"),
        ("{\"ops\": [{\"op\": \"STORE\"}]}", "unknown op name 'STORE'"),
        ("{\"ops\": [{\"op\": \"NOP\", \"args\": [1,2,3,4,5,6,7,8,9,10,11,12,13]}]}", "13 args"),
        ("{\"ops\": [{\"op\": \"NOP\", \"args\": [-1]}]}", "ops[0].args[0]"),
        ("{\"ops\": [{\"op\": \"NOP\", \"args\": [4294967296]}]}", "ops[0].args[0]: 4294967296 is outside 0...4294967295"),
        ("{\"slots\": 1, \"ops\": [{\"op\": \"NOP\"}, {\"op\": \"NOP\"}]}", "cannot hold 2 ops"),
        ("{\"slots\": 2000000, \"ops\": [{\"op\": \"NOP\"}]}", "outside 1...1048576"),
        ("{\"control\": {\"224\": 1}, \"ops\": [{\"op\": \"NOP\"}]}", "outside the 224-word control buffer"),
        ("{\"opz\": []}", "unknown key"),
        ("{\"ops\": {\"op\": \"NOP\"}}", "expected an array"),
        ("{\"controlWords\": 100, \"ops\": []}", "controlWords"),
        ("[1, 2]", "expected an object, found an array"),
    ])
    func badBatchesAreExitStatusTwoAndDispatchNothing(_ json: String, _ mentions: String) throws {
        let file = try Self.batchFile(json)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run(["run", file.path])
        #expect(r.status == 2, "stdout: \(r.stdout) stderr: \(r.stderr)")
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
        #expect(r.stderr.contains("Fix:"))
        #expect(r.stdout.isEmpty)
    }

    @Test func aMissingBatchFileIsExitStatusTwo() throws {
        let r = try CLIRunner.run(["run", "no/such/batch.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("does not exist"))
    }

    @Test func benchPrintsPercentilesAsJSON() throws {
        let r = try CLIRunner.run(["bench", "oneshot", "--sizes", "1,64", "--iterations", "5", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(CLIRunner.json(r.stdout))
        let rows = try #require(o["rows"] as? [[String: Any]])
        #expect(rows.map { $0["slots"] as? Int } == [1, 64])
        #expect(rows.allSatisfy { ($0["p50Microseconds"] as? Double ?? 0) > 0 && ($0["p99Microseconds"] as? Double ?? 0) >= ($0["p50Microseconds"] as? Double ?? 0) })
    }

    /// `bench compile` in both driver-cache modes: with the drivers' caches off Mesa offers no
    /// binary format, so warm compiles too and says so; with a fresh driver cache the warm start
    /// loads vyre-gl's cached binary.
    @Test func benchCompileReportsColdAndWarm() throws {
        for mode in ["off", "fresh"] {
            let r = try CLIRunner.run(["bench", "compile", "--rounds", "1", "--driver-cache", mode, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let o = try #require(CLIRunner.json(r.stdout))
            #expect((o["coldMilliseconds"] as? Double ?? 0) > 0 && (o["warmMilliseconds"] as? Double ?? 0) > 0)
            #expect(o["driverCache"] as? String == mode)
            let formats = try #require(o["binaryFormats"] as? Int)
            #expect(o["warmLoadedFromCache"] as? Bool == (formats > 0), "\(mode): \(r.stdout)")
        }
    }
}
