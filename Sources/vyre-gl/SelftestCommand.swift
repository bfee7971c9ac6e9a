import ArgumentParser
import Foundation
import VyreConformance
import VyreTesting
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check a driver: run the conformance suite on the device and compare every result with the CPU reference interpreter.")

    @Option(help: "Generated programs to run after the curated cases.") var random: Int = 200
    @Option(help: "Seed of the first generated program (and batch).") var seed: UInt64 = 0x5EED
    @Option(help: "Random megakernel batches to run and compare with the protocol model (the first 20 also through a resident kernel, as run --resident does).") var batches: Int = 100
    @Flag(help: "Print every case, not only failures.") var verbose = false
    @Flag(name: .customLong("no-resident"), help: "Leave out the resident megakernel's checks.") var noResident = false
    @Option(name: .customLong("dump-failures"), help: "Write each failing case to DIR as NAME.json (the program) and NAME.inputs.json, to reproduce with 'vyre-gl exec --check'.") var dumpFailures: String?
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Summary: Encodable {
        var device: String
        var glVersion: String
        var cases: Int
        var passed: Int
        var failed: Int
        /// Programs that need more than the device's limits (storage blocks, workgroup size, shared
        /// memory), not run: the limits of an ES 3.1 device, or `VYRE_GL_LIMITS=es31-minimum`.
        var outsideLimits: Int
        /// Why the resident megakernel's checks were not run though asked for (the device cannot
        /// map buffers persistently, which the resident kernel needs); nil when they ran or
        /// `--no-resident` left them out.
        var residentNotRun: String?
        var seconds: Double
        /// Passed and failed counts per suite: "programs", "batches", "resident".
        var suites: [String: SuiteCount]
        var failures: [[String: String]]
    }

    struct SuiteCount: Encodable {
        var passed = 0
        var failed = 0
    }

    private func dump(_ c: ConformanceCase, to dir: String) throws {
        try OutputFiles.makeDirectory(dir, what: "--dump-failures")
        let base = URL(fileURLWithPath: dir).appendingPathComponent(c.name.map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce("") { $0 + String($1) })
        try OutputFiles.write(c.program.jsonBytes(), to: base.appendingPathExtension("json").path)
        let inputs = JSONEncoder()
        inputs.outputFormatting = [.sortedKeys]
        // `exec --inputs` refuses a parameter the program does not read.
        let encoded = try inputs.encode(InputsFile(grid: [c.grid.x, c.grid.y, c.grid.z], foreverBudget: c.foreverBudget, buffers: c.inputs,
                                                   parameters: c.parametersTheProgramReads))
        try OutputFiles.write(Array(encoded), to: base.appendingPathExtension("inputs.json").path)
    }

    func validate() throws {
        guard (0...1_000_000).contains(random), (0...1_000_000).contains(batches) else {
            throw ValidationError("--random and --batches must be 0 to 1000000.")
        }
    }

    struct InputsFile: Encodable {
        var grid: [UInt32]
        var foreverBudget: UInt32
        var buffers: [String: [UInt32]]
        var parameters: [String: UInt32]
    }

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            // A bare ES 3.1 driver (no persistent mapping) runs everything but the resident kernel.
            let residentNotRun = noResident || context.info.persistentMapping ? nil
                : "the device cannot map buffers persistently (no \(context.info.api == .gl ? "GL_ARB_buffer_storage" : "GL_EXT_buffer_storage")), which the resident megakernel needs"
            let resident = !noResident && residentNotRun == nil
            let curated = ConstructCases.all(capabilities: context.limits.capabilities)
            let programs = curated.count + random
            if !json { try Output.line("selftest on \(context.info.renderer) (\(context.info.glVersion)): \(programs) programs, \(batches) megakernel batches\(resident ? " and the resident megakernel's checks" : "")") }
            let clock = ContinuousClock()
            let start = clock.now
            var failures: [ConformanceOutcome] = []
            var outsideLimits = 0
            var suites: [String: SuiteCount] = [:]
            var progress = Progress()
            func record(_ outcome: ConformanceOutcome, in suite: String) throws {
                if outcome.passed { suites[suite, default: SuiteCount()].passed += 1 } else { suites[suite, default: SuiteCount()].failed += 1 }
                if !outcome.passed {
                    failures.append(outcome)
                    if !json { try Output.line("FAIL \(outcome.name): \(outcome.detail ?? "")") }
                } else if verbose && !json {
                    try Output.line("pass \(outcome.name)")
                }
            }
            for i in 0..<programs {
                progress.update("selftest: program \(i + 1)/\(programs), \(failures.count) failed")
                // Generated cases are made one at a time: a million of them never sit in memory together.
                let c = i < curated.count ? curated[i] : Conformance.randomCase(seed: seed &+ UInt64(i - curated.count), capabilities: context.limits.capabilities)
                if let why = Conformance.outsideLimits(c, on: context) {
                    outsideLimits += 1
                    if verbose && !json { try Output.line("not run \(c.name): \(why)") }
                    continue
                }
                let outcome = Conformance.check(c, on: context)
                if !outcome.passed, let dumpFailures { try dump(c, to: dumpFailures) }
                try record(outcome, in: "programs")
            }
            var total = programs - outsideLimits
            let megakernel = try Megakernel(context: context, configuration: MegakernelConformance.configuration())
            if batches > 0 {
                for b in 0..<UInt64(batches) {
                    progress.update("selftest: megakernel batch \(b + 1)/\(batches), \(failures.count) failed")
                    total += 1
                    try record(MegakernelConformance.check(megakernel, seed: seed &+ b), in: "batches")
                }
            }
            if resident {
                progress.update("selftest: resident megakernel, \(failures.count) failed")
                for outcome in ResidentConformance.checks(on: context) {
                    total += 1
                    try record(outcome, in: "resident")
                }
                // `run --resident` on the first generated batches (a kernel compiled for each).
                for b in 0..<UInt64(min(batches, 20)) {
                    progress.update("selftest: resident batch \(b + 1)/\(min(batches, 20)), \(failures.count) failed")
                    total += 1
                    try record(Blocking.wait { await MegakernelConformance.checkResident(megakernel, seed: seed &+ b) }, in: "resident")
                }
            }
            progress.finish()
            let seconds = (clock.now - start).ms / 1000
            let summary = Summary(device: context.info.renderer, glVersion: context.info.glVersion, cases: total,
                                  passed: total - failures.count, failed: failures.count, outsideLimits: outsideLimits, residentNotRun: residentNotRun, seconds: seconds, suites: suites,
                                  failures: failures.map { ["case": $0.name, "detail": $0.detail ?? ""] })
            if json {
                try Output.json(summary)
            } else {
                var notRun = outsideLimits == 0 ? "" : "; \(outsideLimits) programs need more than this device's limits and were not run"
                if let residentNotRun { notRun += "; the resident megakernel's checks were not run: \(residentNotRun)" }
                try Output.line("\(summary.passed)/\(summary.cases) passed in \(String(format: "%.1f", seconds)) s\(notRun)\(failures.isEmpty ? "" : "; \(failures.count) FAILED")")
            }
            if !failures.isEmpty { throw CLIFailure(status: .ranWithFailures, "\(failures.count) of \(total) conformance cases failed on \(context.info.renderer)", fix: "rerun with --dump-failures DIR and reproduce one with 'vyre-gl exec DIR/NAME.json --inputs DIR/NAME.inputs.json --check'; report it with the output of 'vyre-gl info'") }
        }
    }
}
