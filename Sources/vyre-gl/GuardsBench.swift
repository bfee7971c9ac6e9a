import ArgumentParser
import Foundation
import VyreConformance
import VyreGL
import VyreGLSL
import VyreIR

/// What the loop guards cost: every program compiled twice, with the guards (cut detection and
/// abort polling) and without, run alternately in one process, and compared by GPU time.
struct GuardsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guards",
        abstract: "The cost of the loop guards (driver-cut detection and abort polling): the conformance suite and a loop-heavy kernel, with and without them.",
        discussion: """
            Each program is compiled with the guards, without them, and without them again (the control, whose \
            difference is noise); the three run in rotated order and each keeps its median submit-to-fence time. \
            The suite figure sums the medians over the curated \
            construct cases (long-loop cases excluded: without guards they would be cut silently) and the \
            generated programs. The loop figure is the worst case: a kernel that does nothing but loop.
            """)

    @Option(help: "Generated programs added to the curated cases.") var random: Int = 100
    @Option(help: "Runs of each variant per program (the median is kept).") var runs: Int = 8
    @Option(name: .customLong("loop-groups"), help: "Workgroups of 64 lanes in the loop-heavy kernel (each lane loops 16,384 times).") var loopGroups: UInt32 = 256
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Comparison: Encodable {
        var name: String
        var guardedMicroseconds: Double
        var plainMicroseconds: Double
        /// The same unguarded program compiled a second time: its difference from `plain` is noise.
        var controlMicroseconds: Double
        var overheadPercent: Double { plainMicroseconds > 0 ? (guardedMicroseconds / plainMicroseconds - 1) * 100 : 0 }
        var noisePercent: Double { plainMicroseconds > 0 ? (controlMicroseconds / plainMicroseconds - 1) * 100 : 0 }

        enum CodingKeys: String, CodingKey { case name, guardedMicroseconds, plainMicroseconds, controlMicroseconds, overheadPercent, noisePercent }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(guardedMicroseconds, forKey: .guardedMicroseconds)
            try c.encode(plainMicroseconds, forKey: .plainMicroseconds)
            try c.encode(controlMicroseconds, forKey: .controlMicroseconds)
            try c.encode(overheadPercent, forKey: .overheadPercent)
            try c.encode(noisePercent, forKey: .noisePercent)
        }
    }

    struct Report: Encodable {
        var benchmark = "guards"
        var device: String
        var glVersion: String
        var programs: Int
        var runs: Int
        var suite: Comparison
        var loopKernel: Comparison
    }

    func validate() throws {
        guard (0...100_000).contains(random) else { throw ValidationError("--random must be 0 to 100000.") }
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be 1 to 1000.") }
        guard loopGroups >= 1 else { throw ValidationError("--loop-groups must be at least 1.") }
    }

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            let cases = ConstructCases.all(capabilities: context.limits.capabilities).filter { !$0.longLoops }
                + Conformance.randomCases(count: random, seed: 0x5EED, capabilities: context.limits.capabilities)
            var guarded = 0.0
            var plain = 0.0
            var control = 0.0
            var progress = Progress()
            for (i, c) in cases.enumerated() {
                progress.update("bench guards: program \(i + 1)/\(cases.count)")
                let options = DispatchOptions(foreverBudget: c.foreverBudget, parameters: c.parameters)
                let (g, p, n) = try Self.compare(c.program, on: context, runs: runs) { context, pipeline in
                    try context.run(pipeline, grid: c.grid, buffers: c.inputs, options: options).gpuTime
                }
                guarded += g
                plain += p
                control += n
            }
            progress.update("bench guards: loop-heavy kernel")
            let loop = Program(buffers: [BufferDecl("out", binding: 0, access: .writeOnly, type: .u32)], workgroupSize: WorkgroupSize(64)) {
                Node.let("n", .globalID(.x))
                Node.for("k", from: 0, to: .parameter("trips")) { Node.assign("n", "n" * 1_664_525 + 1_013_904_223) }
                Node.store("out", at: .globalID(.x), "n")
            }
            let lanes = Int(loopGroups) * 64
            let loopOptions = DispatchOptions(timeout: .seconds(600), parameters: ["trips": 16_384])
            let (lg, lp, ln) = try Self.compare(loop, on: context, runs: runs) { context, pipeline in
                try context.run(pipeline, grid: WorkgroupSize(loopGroups), buffers: ["out": [UInt32](repeating: 0, count: lanes)], options: loopOptions).gpuTime
            }
            progress.finish()
            let report = Report(device: context.info.renderer, glVersion: context.info.glVersion, programs: cases.count, runs: runs,
                                suite: Comparison(name: "conformance suite (\(cases.count) programs, sum of medians)", guardedMicroseconds: guarded, plainMicroseconds: plain, controlMicroseconds: control),
                                loopKernel: Comparison(name: "loop-heavy kernel (\(lanes) lanes x 16384 iterations)", guardedMicroseconds: lg, plainMicroseconds: lp, controlMicroseconds: ln))
            if json { try Output.json(report); return }
            try Output.line("guards on \(report.device) (\(report.glVersion)), \(runs) runs of each variant, medians:")
            for row in [report.suite, report.loopKernel] {
                try Output.line(String(format: "  %@: with guards %.1f us, without %.1f us: overhead %+.2f %% (noise: the unguarded program compiled again %+.2f %%)",
                                       row.name, row.guardedMicroseconds, row.plainMicroseconds, row.overheadPercent, row.noisePercent))
            }
        }
    }

    /// Median times (microseconds) of `program` with guards, without, and without again (a
    /// second compile of the same source: the control that shows the noise floor). The three run
    /// in rotated order, so each takes each position in the sequence equally often.
    static func compare(_ program: Program, on context: GLContext, runs: Int,
                        _ time: (GLContext, borrowing ComputePipeline) throws -> Duration) throws -> (Double, Double, Double) {
        let guarded = try context.makePipeline(program)
        let plain = try context.makePipeline(program, guards: .none)
        let control = try context.makePipeline(program, guards: .none)
        func run(_ variant: Int) throws -> Double {
            switch variant {
            case 0: try time(context, guarded).ms * 1000
            case 1: try time(context, plain).ms * 1000
            default: try time(context, control).ms * 1000
            }
        }
        // One untimed run of each first: the first dispatch of a pipeline pays for driver set-up.
        for v in 0..<3 { _ = try run(v) }
        var times: [[Double]] = [[], [], []]
        for r in 0..<runs {
            for k in 0..<3 {
                let v = (r + k) % 3
                times[v].append(try run(v))
            }
        }
        return (median(times[0]), median(times[1]), median(times[2]))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
