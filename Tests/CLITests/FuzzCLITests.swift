import Foundation
import Testing
import VyreTesting

/// Mutated documents through the real binary: each gives a documented exit code with a message,
/// never a trap or a crash.
@Suite(.serialized)
struct FuzzCLITests {
    @Test func sixtyMutatedDocumentsThroughTheBinary() throws {
        let batches = try ["hello", "faults", "packed", "tenants"].map { try Data(contentsOf: CLIRunner.root.appendingPathComponent("examples/\($0).json")) }
        let programs = try ["double", "histogram", "prefix_sum", "saxpy", "checked_convert"].map {
            try Data(contentsOf: CLIRunner.root.appendingPathComponent("examples/programs/\($0).json"))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var statuses: [Int32: Int] = [:]
        for i in 0..<60 {
            var mutator = JSONMutator(seed: 0xF022 &+ UInt64(i))
            let isBatch = i % 2 == 0
            let source = isBatch ? batches[i / 2 % batches.count] : programs[i / 2 % programs.count]
            let file = dir.appendingPathComponent("case\(i).json")
            try Data(mutator.mutate(Array(source))).write(to: file)
            let r = try CLIRunner.run(isBatch ? ["run", file.path] : ["glsl", file.path])
            statuses[r.status, default: 0] += 1
            #expect(!r.signaled, "seed \(0xF022 + i) crashed: \(r.stderr.prefix(2000))")
            #expect([0, 1, 2].contains(r.status), "seed \(0xF022 + i): exit \(r.status)")
            if r.status != 0 { #expect(r.stderr.contains("Fix:"), "seed \(0xF022 + i): \(r.stderr.prefix(500))") }
            #expect(r.stderr.utf8.count < 10_000)
        }
        // The mutations must reach past the parser, not only break the syntax.
        #expect(statuses[2, default: 0] > 0 && statuses[2, default: 0] < 60, "exit statuses: \(statuses)")
    }
}
