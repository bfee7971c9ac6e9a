import Foundation
import Testing
import VyreTesting
import VyreGLSL
import VyreIR
import VyreProtocol

/// A seeded fuzzer over every JSON input, in process, through the same decoding and validation
/// path as the command line: each mutated document is either valid all the way (decoded,
/// checked, lowered) or refused with a typed error whose message has a Fix. Nothing may trap.
struct InputFuzzTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func example(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: root.appendingPathComponent(path))) }

    @Test func twoThousandFiveHundredMutatedDocuments() throws {
        let batches = try ["hello", "faults", "packed", "tenants", "custom/histogram"].map { try Self.example("examples/\($0).json") }
        var programs = try ["double", "histogram", "prefix_sum", "saxpy", "checked_convert"].map { try Self.example("examples/programs/\($0).json") }
        for seed in 0..<20 as Range<UInt64> {
            var g = ProgramGenerator(seed: 31_000 + seed, options: .init(mode: .anyValid, capabilities: Set(Capability.allCases)))
            programs.append(g.generate().program.jsonBytes())
        }
        let opcodePrograms = [try Self.example("examples/custom/histogram_opcodes.json")]
        var accepted = [0, 0, 0]
        var refused = [0, 0, 0]
        for i in 0..<2500 {
            var mutator = JSONMutator(seed: 0xF0_0000 &+ UInt64(i))
            switch i % 5 {
            case 0, 1:
                let ok = Self.batchPath(mutator.mutate(batches[i % batches.count]), seed: i)
                if ok { accepted[0] += 1 } else { refused[0] += 1 }
            case 2, 3:
                let ok = Self.programPath(mutator.mutate(programs[i % programs.count]), seed: i)
                if ok { accepted[1] += 1 } else { refused[1] += 1 }
            default:
                let ok = Self.opcodeProgramPath(mutator.mutate(opcodePrograms[0]), seed: i)
                if ok { accepted[2] += 1 } else { refused[2] += 1 }
            }
        }
        // Both outcomes happen for every input kind: the fuzzer reaches past the parser.
        #expect(accepted.allSatisfy { $0 > 0 } && refused.allSatisfy { $0 > 0 }, "accepted \(accepted), refused \(refused)")
    }

    static func expectFix(_ message: String, _ seed: Int) {
        #expect(message.contains("Fix:"), "seed \(seed): \(message.prefix(400))")
    }

    /// Runs one path over fuzzed input: true when it accepts the input; a refusal must be a typed
    /// diagnostic whose every line has a Fix.
    static func accepts(seed: Int, _ path: () throws -> Void) -> Bool {
        do {
            try path()
            return true
        } catch let e as any DiagnosticError {
            expectFix(e.description, seed)
            #expect(!e.diagnostics.isEmpty && e.diagnostics.allSatisfy { !$0.problem.isEmpty && !$0.fix.isEmpty }, "seed \(seed): \(e)")
        } catch {
            Issue.record("seed \(seed): untyped error \(error)")
        }
        return false
    }

    /// `vyre-gl run`: decode, then the host-side checks of the batch (custom/histogram's buffer declared).
    static func batchPath(_ bytes: [UInt8], seed: Int) -> Bool {
        accepts(seed: seed) {
            _ = try Batch(json: bytes).plan(extraBuffers: [BufferDecl("histogram", binding: 6, access: .readWrite, type: .u32, count: 16)])
        }
    }

    /// `vyre-gl exec` and `glsl`: decode, validate for a GL 4.3 device, lower.
    static func programPath(_ bytes: [UInt8], seed: Int) -> Bool {
        accepts(seed: seed) {
            _ = try Program(json: bytes).validated(limits: .gl43).lowerToGLSL(target: .gl43Full)
        }
    }

    /// `vyre-gl run --program`: decode, then build the megakernel program for a GL 4.3 device.
    static func opcodeProgramPath(_ bytes: [UInt8], seed: Int) -> Bool {
        accepts(seed: seed) { _ = try MegakernelConfiguration(json: bytes).program(limits: .gl43) }
    }
}
