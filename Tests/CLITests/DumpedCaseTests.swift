import Foundation
import Testing
import VyreIR
import VyreTesting

/// A case `selftest --dump-failures` writes can be run again with `exec --inputs`, including a
/// generated program that reads fewer parameters than its case carries (seed 24484 under GLES
/// could not be: its inputs named `p0`, which its program never reads).
struct DumpedCaseTests {
    struct InputsFile: Encodable {
        var grid: [UInt32]
        var foreverBudget: UInt32
        var buffers: [String: [UInt32]]
        var parameters: [String: UInt32]
    }

    static func write(_ c: ConformanceCase, parameters: [String: UInt32]) throws -> (program: URL, inputs: URL) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("dumped-\(UUID().uuidString)")
        let program = base.appendingPathExtension("json")
        try Data(c.program.jsonBytes()).write(to: program)
        let inputs = base.appendingPathExtension("inputs.json")
        let file = InputsFile(grid: [c.grid.x, c.grid.y, c.grid.z], foreverBudget: c.foreverBudget, buffers: c.inputs, parameters: parameters)
        try JSONEncoder().encode(file).write(to: inputs)
        return (program, inputs)
    }

    @Test func aGeneratedCaseWithUnreadParametersReplays() throws {
        var found: ConformanceCase? = nil
        for seed in UInt64(24_400)..<24_600 {
            let c = Conformance.randomCase(seed: seed, capabilities: [])
            if c.parametersTheProgramReads.count < c.parameters.count { found = c; break }
        }
        let c = try #require(found, "no generated program in 200 seeds leaves a parameter unread")
        let dumped = try Self.write(c, parameters: c.parametersTheProgramReads)
        let r = try CLIRunner.run(["exec", dumped.program.path, "--inputs", dumped.inputs.path, "--check"])
        #expect(r.status == 0 && r.stdout.contains("check against the reference interpreter: match"), "\(r.stdout.suffix(500))\n\(r.stderr)")
        // The unfiltered parameters are what exec refuses: the case this guards against.
        let unfiltered = try Self.write(c, parameters: c.parameters)
        let refused = try CLIRunner.run(["exec", unfiltered.program.path, "--inputs", unfiltered.inputs.path, "--check"])
        #expect(refused.status == 2 && refused.stderr.contains("is not a parameter the program reads"))
    }
}
