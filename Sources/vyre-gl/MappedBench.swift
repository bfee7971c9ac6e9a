import ArgumentParser
import Foundation
import VyreGL

/// What the host pays to touch persistently mapped memory, by placement: the costs under every
/// resident publish and completion, measured apart from the kernel.
struct MappedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapped",
        abstract: "Host access to persistently mapped coherent memory, by placement: loads, polls, slot writes and atomics.",
        discussion: """
            For each placement (the driver's choice, and host memory through GL_CLIENT_STORAGE_BIT) a 1 MiB \
            buffer is mapped and the host times: loads of distinct 64-byte lines, loads of one word again and \
            again (a poll), writes of 16-word slots, and atomic adds on one word. Nothing runs on the GPU \
            meanwhile, so the figures are the bus's and the memory's, not contention's.
            """)

    @Option(help: "Repetitions of each timing; the median is reported.") var repeats: Int = 7
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Row: Encodable {
        var placement: String
        /// One acquiring load of a line not read before, in nanoseconds.
        var lineLoadNanoseconds: Double
        /// One acquiring load of the same word again (what a poll costs), in nanoseconds.
        var pollNanoseconds: Double
        /// Sixteen relaxed stores of one slot, in nanoseconds per slot.
        var slotWriteNanoseconds: Double
        /// One atomic add on one word, in nanoseconds.
        var atomicAddNanoseconds: Double
    }

    struct Report: Encodable {
        var benchmark = "mapped"
        var device: String
        var glVersion: String
        var rows: [Row]
    }

    func validate() throws {
        if !(1...101).contains(repeats) { throw ValidationError("--repeats must be 1 to 101.") }
    }

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            var rows: [Row] = []
            var progress = Progress()
            for placement in MappedPlacement.allCases {
                progress.update("placement \(placement.rawValue)")
                let buffer = try context.makeMappedBuffer(bytes: 1 << 20, placement: placement)
                rows.append(Self.measure(buffer, placement: placement, repeats: repeats))
            }
            progress.finish()
            let report = Report(device: context.info.renderer, glVersion: context.info.glVersion, rows: rows)
            if json { try Output.json(report) } else {
                try Output.line("mapped memory on \(report.device) (\(report.glVersion)), host side, ns")
                try Output.line("placement   line load      poll  slot write  atomic add")
                for r in rows {
                    try Output.line(String(format: "%-9@ %11.1f %9.1f %11.1f %11.1f", r.placement as NSString, r.lineLoadNanoseconds, r.pollNanoseconds,
                                           r.slotWriteNanoseconds, r.atomicAddNanoseconds))
                }
            }
        }
    }

    /// The median over `repeats` of each timing on `buffer`.
    static func measure(_ buffer: borrowing MappedBuffer, placement: MappedPlacement, repeats: Int) -> Row {
        let lines = buffer.wordCount / 16
        var sink: UInt32 = 0
        func median(_ body: () -> Double) -> Double {
            let samples = (0..<repeats).map { _ in body() }.sorted()
            return samples[samples.count / 2]
        }
        func perOp(_ count: Int, _ body: () -> Void) -> Double {
            let start = ContinuousClock.now
            body()
            return (ContinuousClock.now - start) / .nanoseconds(1) / Double(count)
        }
        let lineLoad = median {
            perOp(lines) { for l in 0..<lines { sink &+= buffer.load(l * 16) } }
        }
        let polls = 10_000
        let poll = median { perOp(polls) { for _ in 0..<polls { sink &+= buffer.load(0) } } }
        let slotWrite = median {
            perOp(lines) {
                for l in 0..<lines {
                    for k in 0..<16 { buffer.storeRelaxed(UInt32(truncatingIfNeeded: k), at: l * 16 + k) }
                }
                buffer.store(1, at: 0)
            }
        }
        let adds = 10_000
        let atomicAdd = median { perOp(adds) { for _ in 0..<adds { sink &+= buffer.add(1, at: 16) } } }
        // Keeps the loads from being optimized away.
        if sink == 0x5eed_5eed { FileHandle.standardError.write(Data([0])) }
        return Row(placement: placement.rawValue, lineLoadNanoseconds: lineLoad, pollNanoseconds: poll, slotWriteNanoseconds: slotWrite, atomicAddNanoseconds: atomicAdd)
    }
}
