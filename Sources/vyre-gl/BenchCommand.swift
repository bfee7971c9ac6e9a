import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure vyre-gl on this device.",
        subcommands: [OneShotBench.self, GuardsBench.self, PersistentBench.self, MappedBench.self, CompileBench.self, TenantsBench.self, ScanBench.self, FeedBench.self])
}

struct OneShotBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oneshot",
        abstract: "One-shot megakernel batches: p50/p99 end to end (encode to typed result) and slots/s.",
        discussion: "Each size runs warm-up batches first, then timed ones; the megakernel is bootstrapped once (its compile time is reported apart).")

    @Option(help: "Batch sizes in slots, comma-separated.") var sizes: String = "1,256,65536,1048576"
    @Option(help: "Timed batches per size (default: about 2 s of work per size, 5 to 500).") var iterations: Int?
    @Option(help: "The op every slot runs: nop, add (ATOMIC_ADD into 64 words), store (STORE_U32 to distinct words).") var op: String = "nop"
    @Option(name: .customLong("workgroup-size"), help: "Lanes per workgroup.") var workgroupSize: UInt32 = 128
    @Option(name: .customLong("mapped-limit"), help: "Batches up to this many items keep control and debug in mapped memory (0: never; default: by device).") var mappedLimit: Int?
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Row: Encodable {
        var slots: Int
        var iterations: Int
        var p50Microseconds: Double
        var p99Microseconds: Double
        var minMicroseconds: Double
        var slotsPerSecond: Double
        var encodeP50Microseconds: Double
        var gpuP50Microseconds: Double
        var decodeP50Microseconds: Double
    }

    struct Report: Encodable {
        var benchmark = "oneshot"
        var device: String
        var glVersion: String
        var op: String
        var workgroupSize: UInt32
        var mappedStateLimit: Int
        var megakernelCompileMilliseconds: Double
        /// An empty program's dispatch and fence wait through the same path: the floor under every row.
        var baselineDispatchP50Microseconds: Double
        var baselineDispatchP99Microseconds: Double
        var rows: [Row]
    }

    func validate() throws {
        if let iterations, !(1...100_000).contains(iterations) { throw ValidationError("--iterations must be 1 to 100000.") }
        if workgroupSize == 0 { throw ValidationError("--workgroup-size must be at least 1.") }
        if let mappedLimit, mappedLimit < 0 || mappedLimit > RingProtocol.maxSlots { throw ValidationError("--mapped-limit must be 0 to \(RingProtocol.maxSlots).") }
    }

    func run() throws {
        runReporting {
            let list = sizes.split(separator: ",", omittingEmptySubsequences: false).map { Decimal32.parse($0.trimmingCharacters(in: .whitespaces)).map(Int.init) }
            guard !list.isEmpty, list.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= RingProtocol.maxSlots }) else {
                throw CLI.badInput("--sizes '\(quoteForMessage(sizes))' must be whole numbers from 1 to \(RingProtocol.maxSlots)", fix: "write e.g. --sizes 1,256,65536")
            }
            guard ["nop", "add", "store"].contains(op) else { throw CLI.badInput("--op '\(quoteForMessage(op))' is not nop, add or store", fix: "pick one of those") }
            let context = try CLI.openContext(deviceOptions)
            let megakernel = try Megakernel(context: context, configuration: MegakernelConfiguration(workgroupSize: workgroupSize, mappedStateLimit: mappedLimit))
            let floor = try Self.floor(on: context)
            if !json {
                try Output.line(String(format: "baseline: empty dispatch + fence wait p50 %.1f us, p99 %.1f us", percentile(floor, 0.5), percentile(floor, 0.99)))
            }
            var rows: [Row] = []
            for size in list.map({ $0! }) {
                rows.append(try measure(size: size, on: megakernel))
                guard !json else { continue }
                if rows.count == 1 {
                    try Output.line("oneshot on \(context.info.renderer) (\(context.info.glVersion)), op \(op), workgroup \(workgroupSize), mapped state up to \(megakernel.mappedStateLimit) items, megakernel compile \(String(format: "%.1f", megakernel.compileTime.ms)) ms")
                    try Output.line("     slots  iters      p50 us      p99 us   slots/s      encode p50  gpu p50  decode p50 (us)")
                }
                let row = rows.last!
                try Output.line(String(format: "%10d %6d %11.1f %11.1f %10.3gM %10.1f %9.1f %9.1f", row.slots, row.iterations, row.p50Microseconds, row.p99Microseconds,
                                       row.slotsPerSecond / 1e6, row.encodeP50Microseconds, row.gpuP50Microseconds, row.decodeP50Microseconds))
            }
            if json {
                try Output.json(Report(device: context.info.renderer, glVersion: context.info.glVersion, op: op, workgroupSize: workgroupSize, mappedStateLimit: megakernel.mappedStateLimit,
                                     megakernelCompileMilliseconds: megakernel.compileTime.ms, baselineDispatchP50Microseconds: percentile(floor, 0.5),
                                     baselineDispatchP99Microseconds: percentile(floor, 0.99), rows: rows))
            }
        }
    }

    /// The floor, measured in the same run: an empty program dispatched and waited for, 500 times
    /// after 20 untimed; microseconds.
    static func floor(on context: GLContext) throws -> [Double] {
        let empty = try context.makePipeline(VyreIR.Program(buffers: [], workgroupSize: VyreIR.WorkgroupSize(1)))
        var times: [Double] = []
        let clock = ContinuousClock()
        for i in 0..<520 {
            let start = clock.now
            _ = try context.dispatch(empty, groups: VyreIR.WorkgroupSize(1), buffers: [:])
            if i >= 20 { times.append((clock.now - start).ms * 1000) }
        }
        return times
    }

    /// A batch of `size` items of `--op`.
    func batch(size: Int) -> Batch {
        let items: [WorkItem] = (0..<size).map { i in
            switch op {
            case "add": return WorkItem(.atomicAdd, args: [1, 160 + UInt32(i % 64)])
            case "store": return WorkItem(.storeU32, args: [UInt32(i), 160 + UInt32(i)])
            default: return WorkItem(.nop)
            }
        }
        return Batch(items: items, controlWords: op == "store" ? 160 + size : 224)
    }

    /// Times a batch of `size` items: three warm-up runs that must complete (the first
    /// dispatches compile and allocate), then `--iterations` runs (default: about 2 s worth).
    func measure(size: Int, on megakernel: Megakernel) throws -> Row {
        let batch = batch(size: size)
        let clock = ContinuousClock()
        var probe = Duration.zero
        for _ in 0..<3 {
            let start = clock.now
            let r = try megakernel.run(batch)
            probe = clock.now - start
            guard r.allDone, r.doneCount == UInt32(size) else {
                throw CLIFailure(status: .ranWithFailures, "benchmark batch of \(size) did not complete (done \(r.doneCount), faults \(r.faults.count)); the one-shot megakernel does not work on this device", fix: "run 'vyre-gl selftest' to find what fails")
            }
        }
        let n = iterations ?? max(5, min(500, Int(2.0 / max(probe.ms / 1000, 1e-6))))
        var (totals, encodes, gpus, decodes) = ([Double](), [Double](), [Double](), [Double]())
        for _ in 0..<n {
            let start = clock.now
            let r = try megakernel.run(batch)
            totals.append((clock.now - start).ms * 1000)
            encodes.append(r.timing.encode.ms * 1000)
            gpus.append(r.timing.gpu.ms * 1000)
            decodes.append(r.timing.decode.ms * 1000)
        }
        let p50 = percentile(totals, 0.5)
        return Row(slots: size, iterations: n, p50Microseconds: p50, p99Microseconds: percentile(totals, 0.99), minMicroseconds: totals.min() ?? 0,
                   slotsPerSecond: Double(size) / (p50 / 1e6), encodeP50Microseconds: percentile(encodes, 0.5),
                   gpuP50Microseconds: percentile(gpus, 0.5), decodeP50Microseconds: percentile(decodes, 0.5))
    }

}

/// The `p` quantile of `values` (nearest rank; 0 for none), as every bench reports it.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}
