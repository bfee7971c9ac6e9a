import ArgumentParser
import Foundation
import VyreConformance
import VyreTesting
import VyreGL
import VyreGLSL
import VyreIR

/// What the loop guards cost: every program compiled with each guard alone, with all of them, and
/// with none (twice: the second is the noise control), run in rotation in one process, and
/// compared by GPU time.
struct GuardsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guards",
        abstract: "The cost of the loop guards (abort polling for timeouts, driver-cut detection): the conformance suite, a loop-heavy kernel and a wide grid of short loops, with and without them.",
        discussion: """
            Each program is compiled with every guard set (the abort poll that makes timeouts work, the cut \
            detection that drivers with a loop limit need, both), without guards, and without guards again (the \
            control, whose difference is noise); the variants run in rotated order and each keeps its median \
            submit-to-fence time. The suite figure sums the medians over the curated construct cases (long-loop \
            cases excluded: without guards they would be cut silently) and the generated programs. The other two \
            are worst cases: a kernel that does nothing but loop (what a guard costs per trip), and a wide grid \
            whose lanes loop once (what it costs per invocation). Cut detection is measured only on devices with \
            a loop limit; elsewhere the lowering leaves it out.
            """)

    @Option(help: "Generated programs added to the curated cases.") var random: Int = 100
    @Option(help: "Runs of each variant per program (the median is kept).") var runs: Int = 8
    @Option(name: .customLong("loop-groups"), help: "Workgroups of 64 lanes in the loop-heavy kernel (each lane loops 16,384 times).") var loopGroups: UInt32 = 256
    @Option(name: .customLong("grid-groups"), help: "Workgroups of 64 lanes in the wide grid (each lane loops once).") var gridGroups: UInt32 = 16_384
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    /// A guard set that is measured, and its name in the report.
    struct Variant {
        var name: String
        var guards: LoopGuards
    }

    struct Row: Encodable {
        var guards: String
        var microseconds: Double
        var overheadPercent: Double
    }

    struct Comparison: Encodable {
        var name: String
        var plainMicroseconds: Double
        /// The same unguarded program compiled a second time: its difference from `plain` is noise.
        var controlMicroseconds: Double
        var noisePercent: Double
        var variants: [Row]

        init(name: String, variants: [Variant], times: [Double]) {
            // `times` follows `variants`, then plain, then control.
            let plain = times[variants.count]
            let control = times[variants.count + 1]
            func percent(_ t: Double) -> Double { plain > 0 ? (t / plain - 1) * 100 : 0 }
            self.name = name
            plainMicroseconds = plain
            controlMicroseconds = control
            noisePercent = percent(control)
            self.variants = zip(variants, times).map { Row(guards: $0.name, microseconds: $1, overheadPercent: percent($1)) }
        }
    }

    struct Report: Encodable {
        var benchmark = "guards"
        var device: String
        var glVersion: String
        var loopLimit: UInt32?
        var programs: Int
        var runs: Int
        var suite: Comparison
        var loopKernel: Comparison
        var wideGrid: Comparison
    }

    func validate() throws {
        guard (0...100_000).contains(random) else { throw ValidationError("--random must be 0 to 100000.") }
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be 1 to 1000.") }
        guard (1...65_535).contains(loopGroups) else { throw ValidationError("--loop-groups must be 1 to 65535.") }
        guard (1...65_535).contains(gridGroups) else { throw ValidationError("--grid-groups must be 1 to 65535.") }
    }

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            let limit = context.info.limits.maxLoopIterations
            var variants = [Variant(name: "abort poll", guards: .pollAbort)]
            if limit != nil { variants.append(Variant(name: "cut detection", guards: .detectDriverCuts)) }
            variants.append(Variant(name: "all guards", guards: .all))
            var progress = Progress()
            // Programs that need more than the device's limits (an ES 3.1 device's 4 blocks and
            // 128 invocations) are left out, as selftest leaves them out.
            let cases = (ConstructCases.all(capabilities: context.limits.capabilities).filter { !$0.longLoops }
                + Conformance.randomCases(count: random, seed: 0x5EED, capabilities: context.limits.capabilities))
                .filter { Conformance.outsideLimits($0, on: context) == nil }
            var suite = [Double](repeating: 0, count: variants.count + 2)
            for (i, c) in cases.enumerated() {
                progress.update("bench guards: program \(i + 1)/\(cases.count)")
                let options = DispatchOptions(foreverBudget: c.foreverBudget, parameters: c.parameters)
                let medians = try Self.compare(c.program, variants: variants, on: context, runs: runs) { context, pipeline in
                    try context.run(pipeline, grid: c.grid, buffers: c.inputs, options: options).gpuTime
                }
                for k in suite.indices { suite[k] += medians[k] }
            }
            progress.update("bench guards: loop-heavy kernel")
            let loop = try loopKernel(groups: loopGroups, trips: 16_384, variants: variants, on: context)
            progress.update("bench guards: wide grid")
            let grid = try loopKernel(groups: gridGroups, trips: 1, variants: variants, on: context)
            progress.finish()
            let report = Report(device: context.info.renderer, glVersion: context.info.glVersion, loopLimit: limit, programs: cases.count, runs: runs,
                                suite: Comparison(name: "conformance suite (\(cases.count) programs, sum of medians)", variants: variants, times: suite),
                                loopKernel: Comparison(name: "loop-heavy kernel (\(loopGroups * 64) lanes x 16384 iterations)", variants: variants, times: loop),
                                wideGrid: Comparison(name: "wide grid (\(gridGroups * 64) lanes x 1 iteration)", variants: variants, times: grid))
            if json { try Output.json(report); return }
            try print(report)
        }
    }

    /// Medians of a kernel whose lanes each loop `trips` times over `groups` workgroups of 64.
    func loopKernel(groups: UInt32, trips: UInt32, variants: [Variant], on context: GLContext) throws -> [Double] {
        let kernel = Program(buffers: [BufferDecl("out", binding: 0, access: .writeOnly, type: .u32)], workgroupSize: WorkgroupSize(64)) {
            Node.let("n", .globalID(.x))
            Node.for("k", from: 0, to: .parameter("trips")) { Node.assign("n", "n" * 1_664_525 + 1_013_904_223) }
            Node.store("out", at: .globalID(.x), "n")
        }
        let options = DispatchOptions(timeout: .seconds(600), parameters: ["trips": trips])
        let out = [UInt32](repeating: 0, count: Int(groups) * 64)
        return try Self.compare(kernel, variants: variants, on: context, runs: runs) { context, pipeline in
            try context.run(pipeline, grid: WorkgroupSize(groups), buffers: ["out": out], options: options).gpuTime
        }
    }

    func print(_ report: Report) throws {
        let limit = report.loopLimit.map { "\($0) iterations" } ?? "none"
        try Output.line("guards on \(report.device) (\(report.glVersion)), loop limit: \(limit), \(runs) runs of each variant, medians:")
        for comparison in [report.suite, report.loopKernel, report.wideGrid] {
            try Output.line(String(format: "  %@: without guards %.1f us (noise: the unguarded program compiled again %+.2f %%)",
                                   comparison.name, comparison.plainMicroseconds, comparison.noisePercent))
            for row in comparison.variants {
                // Padded here: `%-14@` does not pad on Linux.
                let label = (row.guards + ":").padding(toLength: 15, withPad: " ", startingAt: 0)
                try Output.line(String(format: "    %@ %10.1f us  overhead %+.2f %%", label, row.microseconds, row.overheadPercent))
            }
        }
    }

    /// Median times (microseconds) of `program` compiled with each of `variants`, then without
    /// guards, then without guards again (a second compile of the same source: the control that
    /// shows the noise floor). The variants run in rotated order, so each takes each position in
    /// the sequence equally often.
    static func compare(_ program: Program, variants: [Variant], on context: GLContext, runs: Int,
                        _ time: (GLContext, borrowing ComputePipeline) throws -> Duration) throws -> [Double] {
        // A pipeline cannot be copied, so an array holds each in a box.
        final class Compiled {
            let pipeline: ComputePipeline
            init(_ pipeline: consuming ComputePipeline) { self.pipeline = pipeline }
        }
        var pipelines: [Compiled] = []
        let validated = try context.validated(program)
        for guards in variants.map(\.guards) + [.none, .none] { pipelines.append(Compiled(try context.makePipeline(validated, guards: guards))) }
        let n = pipelines.count
        func run(_ k: Int) throws -> Double { try time(context, pipelines[k].pipeline).ms * 1000 }
        // One untimed run of each first: the first dispatch of a pipeline pays for driver set-up.
        for k in 0..<n { _ = try run(k) }
        var times = [[Double]](repeating: [], count: n)
        for r in 0..<runs {
            for i in 0..<n {
                let k = (r + i) % n
                times[k].append(try run(k))
            }
        }
        return times.map(median)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
