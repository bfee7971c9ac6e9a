import ArgumentParser
import Foundation
import VyreConformance
import VyreGL
import VyreIR
import VyreRuntime

struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check a driver: run the conformance suite on the device and compare every result with the CPU reference interpreter.")

    @Option(help: "Generated programs to run after the curated cases.") var random: Int = 200
    @Option(help: "Seed of the first generated program (and batch).") var seed: UInt64 = 0x5EED
    @Option(help: "Random megakernel batches to run and compare with the protocol model.") var batches: Int = 100
    @Flag(help: "Print every case, not only failures.") var verbose = false
    @Option(name: .customLong("dump-failures"), help: "Write each failing case to DIR as NAME.json (the program) and NAME.inputs.json, to reproduce with 'vyre-gl exec --check'.") var dumpFailures: String?
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Summary: Encodable {
        var device: String
        var glVersion: String
        var cases: Int
        var passed: Int
        var failed: Int
        var seconds: Double
        var failures: [[String: String]]
    }

    private func dump(_ c: ConformanceCase, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = URL(fileURLWithPath: dir).appendingPathComponent(c.name.map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce("") { $0 + String($1) })
        try Data(c.program.jsonBytes()).write(to: base.appendingPathExtension("json"))
        let inputs = JSONEncoder()
        inputs.outputFormatting = [.sortedKeys]
        try inputs.encode(InputsFile(grid: [c.grid.x, c.grid.y, c.grid.z], foreverBudget: c.foreverBudget, buffers: c.inputs, parameters: c.parameters))
            .write(to: base.appendingPathExtension("inputs.json"))
    }

    struct InputsFile: Encodable {
        var grid: [UInt32]
        var foreverBudget: UInt32
        var buffers: [String: [UInt32]]
        var parameters: [String: UInt32]
    }

    func run() throws {
        runReporting {
            guard random >= 0, batches >= 0 else { throw CLI.badInput("--random and --batches must be 0 or more. Fix: pass counts.") }
            let context = try CLI.openContext(deviceOptions)
            let cases = Conformance.suite(capabilities: context.limits.capabilities, randomCount: random, seed: seed)
            if !json { print("selftest on \(context.info.renderer) (\(context.info.glVersion)): \(cases.count) programs and \(batches) megakernel batches") }
            let clock = ContinuousClock()
            let start = clock.now
            var failures: [ConformanceOutcome] = []
            for c in cases {
                let outcome = Conformance.check(c, on: context)
                if !outcome.passed {
                    failures.append(outcome)
                    if let dumpFailures { try dump(c, to: dumpFailures) }
                    if !json { print("FAIL \(outcome.name): \(outcome.detail ?? "")") }
                } else if verbose && !json {
                    print("pass \(outcome.name)")
                }
            }
            var total = cases.count
            if batches > 0 {
                let megakernel: Megakernel
                do throws(MegakernelError) { megakernel = try Megakernel(context: context, configuration: MegakernelConformance.configuration()) } catch { throw RunCommand.map(error) }
                for outcome in MegakernelConformance.check(megakernel, count: batches, seed: seed) {
                    total += 1
                    if !outcome.passed {
                        failures.append(outcome)
                        if !json { print("FAIL \(outcome.name): \(outcome.detail ?? "")") }
                    } else if verbose && !json {
                        print("pass \(outcome.name)")
                    }
                }
            }
            let seconds = (clock.now - start).ms / 1000
            let summary = Summary(device: context.info.renderer, glVersion: context.info.glVersion, cases: total,
                                  passed: total - failures.count, failed: failures.count, seconds: seconds,
                                  failures: failures.map { ["case": $0.name, "detail": $0.detail ?? ""] })
            if json {
                CLI.printJSON(summary)
            } else {
                print("\(summary.passed)/\(summary.cases) passed in \(String(format: "%.1f", seconds)) s\(failures.isEmpty ? "" : "; \(failures.count) FAILED")")
            }
            if !failures.isEmpty { throw CLIFailure(status: .ranWithFailures, message: "\(failures.count) of \(total) conformance cases failed on \(context.info.renderer)") }
        }
    }
}
