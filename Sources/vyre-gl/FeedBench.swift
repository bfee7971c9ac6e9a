#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreStream
import VyreRuntime

/// `vyre-gl bench feed`: the io_uring feeder beside `cat FILE > /dev/null` and plain `read()` into
/// the same persistently mapped GL buffer, on a page-cached file, in one run.
struct FeedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "The feeder alone beside cat and plain read() into the same mapped GL buffer.",
        discussion: """
            Reads --file (or a generated corpus of --size MiB) once to put it in the page cache, then runs, interleaved, \
            --iterations times: cat FILE > /dev/null; a loop of pread() of one chunk at a time into the mapped buffer's \
            slots; the feeder through io_uring (fixed buffers where the kernel accepts the mapping); the feeder through pread.
            """)

    @Option(help: "File to read (default: a generated corpus).") var file: String?
    @Option(help: "MiB of the generated corpus.") var size: Int = 1024
    @Option(help: "Timed runs of each reader.") var iterations: Int = 5
    @Option(name: .customLong("chunk-bytes"), help: "Bytes per read.") var chunkBytes: Int = 1 << 20
    @Option(name: .customLong("queue-depth"), help: "The feeder's reads in flight.") var queueDepth: Int = 16
    @Option(help: "Slots of the mapped buffer.") var slots: Int = 32
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Reader: Encodable {
        var reader: String
        var p50Seconds: Double
        var p99Seconds: Double
        var megabytesPerSecond: Double
    }

    struct Report: Encodable {
        var benchmark = "feed"
        var device: String
        var bytes: Int
        var readers: [Reader]
        /// The feeder's throughput over cat's (p50 against p50).
        var feederOverCat: Double
        var fixedBuffers: Bool
        var notes: [String]
    }

    func validate() throws {
        guard (1...65536).contains(size), (1...100).contains(iterations), (1...4096).contains(slots) else {
            throw ValidationError("--size must be 1 to 65536 MiB, --iterations 1 to 100 and --slots 1 to 4096.")
        }
    }

    func run() throws {
        runReporting {
            // Refused before a corpus is written where the feeder's slots cannot be mapped.
            let context = try CLI.openContext(deviceOptions)
            try CLI.requireMapping(context, for: "bench feed")
            var progress = Progress()
            let path = file ?? NSTemporaryDirectory() + "vyre-gl-bench-corpus.txt"
            if file == nil { try BenchCorpus.text(at: path, bytes: size << 20, words: BenchCorpus.words(seed: 7), progress: &progress) }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            _ = try BenchCorpus.timed(["cat", path])
            let options = FeedOptions(chunkBytes: chunkBytes, queueDepth: queueDepth)
            let buffer = try context.makeMappedBuffer("feed", .zeros(words: slots * options.slotBytes / 4))
            let memory = ChunkMemory(base: buffer.view.exclusiveBytes(0..<(slots * options.slotBytes)).baseAddress!, slotBytes: options.slotBytes, slots: slots)
            var times: [String: [Double]] = [:]
            var report = FeedReport()
            for i in 0..<iterations {
                progress.update("bench feed: run \(i + 1)/\(iterations)")
                times["cat", default: []].append(try BenchCorpus.timed(["sh", "-c", "cat \"$0\" > /dev/null", path]).seconds)
                times["read()", default: []].append(try Self.plainReads(path, memory: memory, chunkBytes: chunkBytes))
                let (seconds, r) = try Self.feed(path, memory: memory, options: options)
                times["feeder io_uring", default: []].append(seconds)
                report = r
                var pread = options
                pread.ioUring = false
                times["feeder pread", default: []].append(try Self.feed(path, memory: memory, options: pread).seconds)
            }
            progress.finish()
            let readers = ["cat", "read()", "feeder io_uring", "feeder pread"].map { name in
                Reader(reader: name, p50Seconds: percentile(times[name]!, 0.5), p99Seconds: percentile(times[name]!, 0.99), megabytesPerSecond: Double(bytes) / percentile(times[name]!, 0.5) / 1e6)
            }
            let out = Report(device: context.info.renderer, bytes: bytes, readers: readers, feederOverCat: readers[2].megabytesPerSecond / readers[0].megabytesPerSecond,
                             fixedBuffers: report.fixedBuffers, notes: report.notes)
            if json { try Output.json(out); return }
            try Output.line("bench feed on \(out.device): \(bytes >> 20) MiB, \(chunkBytes >> 10) KiB chunks, \(slots) slots of a mapped GL buffer")
            for r in readers {
                try Output.line("  \(r.reader.padding(toLength: 16, withPad: " ", startingAt: 0))" + String(format: "p50 %7.3f s  p99 %7.3f s  %8.0f MB/s", r.p50Seconds, r.p99Seconds, r.megabytesPerSecond))
            }
            try Output.line(String(format: "  feeder over cat %.2fx", out.feederOverCat) + "; \(report.fixedBuffers ? "fixed buffers" : "unregistered reads")\(report.notes.isEmpty ? "" : "; " + report.notes.joined(separator: "; "))")
        }
    }

    /// pread() one chunk at a time into the slots in turn; seconds.
    static func plainReads(_ path: String, memory: ChunkMemory, chunkBytes: Int) throws -> Double {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLI.badInput("cannot open '\(quoteForMessage(path))': \(String(cString: strerror(errno)))", fix: "check the path") }
        defer { close(fd) }
        let start = ContinuousClock.now
        var offset = 0
        var slot = 0
        while true {
            let got = pread(fd, memory.slot(slot), chunkBytes, off_t(offset))
            if got <= 0 { break }
            offset += got
            slot = (slot + 1) % memory.slots
        }
        return (ContinuousClock.now - start).ms / 1000
    }

    /// The feeder over `path`, each chunk released as it arrives; seconds and its report.
    static func feed(_ path: String, memory: ChunkMemory, options: FeedOptions) throws -> (seconds: Double, report: FeedReport) {
        let start = ContinuousClock.now
        let feeder = try FileFeeder(paths: [path], memory: memory, options: options)
        let failure: String? = Blocking.wait {
            for await event in feeder.events {
                switch event {
                case .chunk(let c): if !c.isHole { feeder.release(slot: c.slot) }
                case .failed(_, let e): return e.description
                case .opened: break
                }
            }
            return nil
        }
        if let failure { throw CLI.badInput(failure, fix: "check the file") }
        return ((ContinuousClock.now - start).ms / 1000, feeder.report)
    }

    /// The feeder alone into a scanner's data buffer (idle between scans); MB/s.
    static func feedOnce(_ path: String, scanner: LiteralScanner) throws -> Double {
        let g = scanner.geometry
        let options = FeedOptions(chunkBytes: g.chunkBytes, queueDepth: scanner.options.queueDepth, lookbehind: g.lookbehindBytes, ioUring: scanner.options.ioUring)
        let view = scanner.kernel.mappedBuffer("scan_io")!
        let memory = ChunkMemory(base: view.exclusiveBytes(0..<(g.chunkSlots * options.slotBytes)).baseAddress!, slotBytes: options.slotBytes, slots: g.chunkSlots)
        let (seconds, report) = try feed(path, memory: memory, options: options)
        return Double(report.bytes) / seconds / 1e6
    }
}
