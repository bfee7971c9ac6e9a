public import VyreGL
import VyreProtocol
public import VyreRuntime
import Foundation
import Synchronization

/// How a scan reads and splits its work; nil fields are picked by device.
public struct ScanOptions: Sendable, Hashable {
    /// Bytes of a file read at once (a multiple of 4096): 1 MiB on a software renderer, 4 MiB on a GPU.
    public var chunkBytes: Int?
    /// Bytes one slot scans (a multiple of 32): 64 KiB on a software renderer, 16 KiB on a GPU.
    public var segmentBytes: Int?
    /// Chunks in memory at once (read, being scanned, or waiting): enough to fill every lane, but
    /// at most twice the queue depth (mapping more cost the H200 more at start than it gained:
    /// 148 chunks of 4 MiB took a 1 GiB scan 1.26 s end to end, 32 took 0.80 s), and no more than
    /// ``expectedBytes`` fill.
    public var chunkSlots: Int?
    /// The bytes the scans will read, when known (the files' sizes): the default chunk count
    /// maps no more memory than they fill.
    public var expectedBytes: UInt64?
    /// Reads in flight.
    public var queueDepth: Int
    public var direct: Bool
    public var ioUring: Bool
    /// Counts every pattern's occurrences too (``ScanReport/patternCounts``).
    public var countPatterns: Bool
    /// Resident kernel geometry: workgroups (software: the host's cores; GPU: 264) and lanes per
    /// workgroup (software: 64; GPU: 128).
    public var workgroups: UInt32?
    public var lanes: UInt32?
    /// Registers the data buffer with io_uring as fixed buffers where the kernel accepts it.
    public var fixedBuffers: Bool
    /// Where the data and results buffers live.
    public var placement: MappedPlacement
    /// Where lanes read the automaton: nil picks shared memory on a GPU when the table fits, and
    /// the table's buffer on a software renderer (whose shared memory is the same memory).
    public var tableMemory: TableMemory?

    public init(chunkBytes: Int? = nil, segmentBytes: Int? = nil, chunkSlots: Int? = nil, queueDepth: Int = 16, direct: Bool = false,
                ioUring: Bool = true, countPatterns: Bool = false, workgroups: UInt32? = nil, lanes: UInt32? = nil,
                fixedBuffers: Bool = true, placement: MappedPlacement = .driverChoice) {
        self.fixedBuffers = fixedBuffers
        self.placement = placement
        self.chunkBytes = chunkBytes
        self.segmentBytes = segmentBytes
        self.chunkSlots = chunkSlots
        self.queueDepth = queueDepth
        self.direct = direct
        self.ioUring = ioUring
        self.countPatterns = countPatterns
        self.workgroups = workgroups
        self.lanes = lanes
    }
}

/// The geometry a scanner settled on.
public struct ScanGeometry: Sendable, Hashable, Codable {
    public var chunkBytes: Int
    public var segmentBytes: Int
    public var chunkSlots: Int
    public var lookbehindBytes: Int
    public var workgroups: UInt32
    public var lanes: UInt32
    public var rounds: UInt32
    public var ringSlots: Int
    /// Where lanes read the automaton.
    public var tableMemory: TableMemory
    public var segmentsPerChunk: Int { (chunkBytes + segmentBytes - 1) / segmentBytes }
}

/// Where the scan's lanes read the automaton.
public enum TableMemory: String, Sendable, Hashable, Codable, CaseIterable {
    /// Each workgroup copies the table into shared memory at the start of each dispatch.
    case shared
    /// From the table's storage buffer (cached by the device).
    case global
}

/// One file's outcome: its matching lines, or why it could not be read.
public struct ScanFileResult: Sendable, Hashable {
    public var path: String
    public var lines: UInt64
    /// The file's size.
    public var bytes: UInt64
    public var error: FeedFileError?
    /// The bytes scanned: the whole file, or the part asked for.
    public var scanned: Range<UInt64> = 0..<0
    /// The lines of the bytes scanned, to join with the parts scanned apart (``LineSpan/append(_:)``).
    public var span = LineSpan()

    public init(path: String, lines: UInt64, bytes: UInt64, error: FeedFileError? = nil) {
        self.path = path
        self.lines = lines
        self.bytes = bytes
        self.error = error
    }
}

/// What a scan found and how it went.
public struct ScanReport: Sendable {
    public var files: [ScanFileResult]
    /// Occurrences of each given pattern (every start offset, overlaps included), with
    /// ``ScanOptions/countPatterns``; an empty pattern counts the lines it matched.
    public var patternCounts: [UInt64]?
    /// File bytes scanned (holes of sparse files included).
    public var bytes: UInt64
    public var elapsed: Duration
    public var feed: FeedReport
    public var segments: Int
}

/// Progress of a scan, for a progress bar.
public struct ScanProgress: Sendable {
    public var bytes: UInt64
    /// Files done of all, or parts where a ``ScanGroup`` cut files into parts.
    public var files: Int
    public var totalFiles: Int
}

/// Counts the lines of files that hold one of a set of literal patterns, as `LC_ALL=C grep -F -c`
/// does, on a resident megakernel: the feeder reads each file in chunks into the kernel's mapped
/// data buffer, every chunk is split into segments published as SCAN ops, and the segments'
/// summaries are merged in file order. The host never reads the files' bytes.
public final class LiteralScanner: Sendable {
    public let patterns: LiteralPatterns
    public let dfa: LiteralDFA
    public let geometry: ScanGeometry
    public let options: ScanOptions
    public let kernel: ResidentMegakernel
    /// The kernel's `scan_io` buffer: chunk data, results, counters (``ScanKernel``).
    let io: MappedView
    let layout: ScanKernel

    /// Builds the automaton and the resident kernel that runs it on `context`.
    public init(context: GLContext, patterns: LiteralPatterns, options: ScanOptions = ScanOptions()) throws(ScanError) {
        // Files stream into memory the running kernel reads: refused before the automaton is built.
        guard context.info.persistentMapping else {
            throw .device(.noPersistentMapping(found: context.info.mappingDescription, needs: "scan"))
        }
        let software = context.info.isSoftware
        let maxBlock = Int(min(context.info.limits.maxStorageBlockBytes, 1 << 31))
        dfa = try LiteralDFA(patterns, maxTableWords: maxBlock / 4)
        let chunkBytes = options.chunkBytes ?? (software ? 1 << 20 : 4 << 20)
        let segmentBytes = options.segmentBytes ?? (software ? 64 << 10 : 16 << 10)
        guard segmentBytes >= 32, segmentBytes % 32 == 0, segmentBytes <= 1 << 24 else {
            throw .options("segment size \(segmentBytes) bytes is not a multiple of 32 from 32 to 16 MiB", fix: "give a segment size such as 65536")
        }
        var feed = FeedOptions(chunkBytes: chunkBytes, queueDepth: options.queueDepth, lookbehind: max(0, dfa.maxLength - 1),
                               direct: options.direct, ioUring: options.ioUring)
        if dfa.maxLength - 1 > chunkBytes {
            throw .options("the longest pattern (\(dfa.maxLength) bytes) is longer than a chunk (\(chunkBytes) bytes), so a match could span more than two chunks",
                           fix: "give --chunk-bytes of at least \((dfa.maxLength + 4095) / 4096 * 4096)")
        }
        do { try feed.check() } catch { throw .options(error.diagnostics[0].problem, fix: error.diagnostics[0].fix) }
        feed.fixedBuffers = true
        let lanes = options.lanes ?? (software ? 64 : 128)
        let workgroups = options.workgroups ?? (software ? UInt32(max(1, ProcessInfo.processInfo.activeProcessorCount)) : 264)
        if let wanted = options.chunkSlots, wanted < 1 || wanted > 65536 {
            throw .options("\(wanted) chunks in memory is outside 1...65536", fix: "give from 1 to 65536 chunks, or leave the count to the scanner")
        }
        let segmentsPerChunk = (chunkBytes + segmentBytes - 1) / segmentBytes
        let maxGroups = context.info.limits.maxWorkgroupCount[0]
        guard (1...maxGroups).contains(workgroups) else {
            throw .options("\(workgroups) workgroups is outside 1 to \(maxGroups), what this device dispatches", fix: "give from 1 to \(maxGroups) workgroups")
        }
        let busy = (Int(workgroups) * Int(lanes) + segmentsPerChunk - 1) / segmentsPerChunk + options.queueDepth
        let filled = options.expectedBytes.map { Int(min($0 / UInt64(chunkBytes), 1 << 20)) + 2 } ?? Int.max
        let wanted = options.chunkSlots ?? min(max(8, min(busy, 2 * options.queueDepth)), max(2, filled))
        // The data, with room in the same block for the results and the counters.
        let chunkSlots = min(wanted, (maxBlock - dfa.states * dfa.classes * 8 - (1 << 20)) / (feed.slotBytes + 16 * segmentsPerChunk), RingProtocol.maxSlots / segmentsPerChunk)
        guard chunkSlots >= 1 else {
            throw .options("one chunk of \(feed.slotBytes) bytes, with the results and the pattern counters beside it, does not fit the device's storage block (\(maxBlock) bytes)", fix: "give a smaller chunk size")
        }
        // A driver with a per-invocation loop budget (llvmpipe) shares it between the kernel's
        // rounds and every segment a lane scans in one dispatch: keep both inside it.
        let trips = ScanKernel.trips(segmentBytes: segmentBytes, warmBytes: feed.lookbehindBytes) + 2
        // Without a loop budget, the longest dispatch the kernel allows (its own default for 8
        // workgroups, which it shortens for more): 264 workgroups are co-resident on the GPUs
        // measured, so no workgroup waits for another's rounds to end.
        var rounds: UInt32? = ResidentMegakernel.roundsPerChunk
        if let budget = context.info.limits.maxLoopIterations {
            guard trips * 2 <= Int(budget) else {
                // The warm-up (the longest pattern less a byte) is read a word per trip.
                let warmTrips = feed.lookbehindBytes / 4
                if warmTrips * 2 >= Int(budget) / 2 {
                    throw .options("the longest pattern (\(dfa.maxLength) bytes) needs a warm-up of \(feed.lookbehindBytes) bytes before every segment, more loop trips than this driver allows an invocation (\(budget))",
                                   fix: "leave out patterns longer than \(Int(budget) / 2 * 4 / 2) bytes, or scan on a device without a loop budget")
                }
                throw .options("a segment of \(segmentBytes) bytes takes \(trips) loop trips with its warm-up, more than half of this driver's \(budget)-iteration budget per invocation",
                               fix: "give a segment size of at most \((Int(budget) / 2 - warmTrips - 2) * ScanKernel.bytesPerTrip / 32 * 32) bytes")
            }
            rounds = UInt32(max(1, min(64, Int(budget) / 2 / trips)))
        }
        let ringSlots = chunkSlots * segmentsPerChunk
        let tableMemory = try Self.tableMemory(options.tableMemory, dfa: dfa, software: software, context: context)
        let sharedWords = tableMemory == .shared ? ScanKernel.sharedWords(maxSharedBytes: context.info.limits.maxSharedMemoryBytes) : 0
        let kernelSpec = ScanKernel(dfa: dfa, dataWords: chunkSlots * feed.slotBytes / 4, resultSlots: ringSlots, sharedWords: sharedWords)
        var resident = ResidentOptions(slots: ringSlots, workgroups: workgroups, rounds: rounds, placement: options.placement)
        resident.buffers = ["scan_table": kernelSpec.tableWords, "scan_io": [UInt32](repeating: 0, count: kernelSpec.ioWords)]
        do {
            kernel = try ResidentMegakernel(context: context, configuration: kernelSpec.configuration(lanes: lanes), options: resident)
        } catch {
            throw .kernel("the scan kernel could not be built: \(error.diagnostics.map(\.problem).joined(separator: "; "))", fix: error.diagnostics.first?.fix ?? "check the device")
        }
        io = kernel.mappedBuffer("scan_io")!
        layout = kernelSpec
        self.patterns = patterns
        self.options = options
        geometry = ScanGeometry(chunkBytes: chunkBytes, segmentBytes: segmentBytes, chunkSlots: chunkSlots, lookbehindBytes: feed.lookbehindBytes,
                                workgroups: workgroups, lanes: lanes, rounds: kernel.geometry.rounds, ringSlots: ringSlots, tableMemory: tableMemory)
        try selfCheck()
    }

    /// Where the table goes: as asked, or shared memory on a GPU where it fits.
    private static func tableMemory(_ asked: TableMemory?, dfa: LiteralDFA, software: Bool, context: GLContext) throws(ScanError) -> TableMemory {
        let words = ScanKernel.sharedWords(maxSharedBytes: context.info.limits.maxSharedMemoryBytes)
        let fits = ScanKernel.fitsShared(dfa, sharedWords: words)
        switch asked {
        case .shared?:
            guard fits else {
                throw .options("the automaton's scan table takes \(ScanKernel.scanWords(dfa) * 4) bytes, more than the \(words * 4) bytes of shared memory a workgroup gets here",
                               fix: "use --table-memory global (or auto), or fewer patterns")
            }
            return .shared
        case .global?: return .global
        case nil: return fits && !software ? .shared : .global
        }
    }

    /// Scans a known text (every pattern on a line of its own, then a line of none) on the device
    /// and compares its summaries with the CPU reference: a driver that reads the table or the
    /// data wrongly stops the scan here with an error instead of giving wrong counts.
    private func selfCheck() throws(ScanError) {
        var text: [UInt8] = []
        for p in patterns.patterns where !p.isEmpty && LiteralPatterns.canMatch(p) && text.count + p.count + 2 <= geometry.chunkBytes - 16 {
            text += p + [10]
        }
        text += Array("\u{1}no\n".utf8)
        let bytes = io.exclusiveBytes(geometry.lookbehindBytes..<(geometry.lookbehindBytes + text.count))
        bytes.copyBytes(from: text)
        let chunk = FeedChunk(file: 0, index: 0, slot: 0, offset: 0, lookbehind: geometry.lookbehindBytes, length: text.count)
        let device: [SegmentSummary]
        device = try scanChunkBlocking(chunk)
        var expected: [SegmentSummary] = []
        text.withUnsafeBytes { raw in
            var start = 0
            while start < text.count {
                let end = min(text.count, start + geometry.segmentBytes)
                expected.append(dfa.scan(raw, warmStart: max(0, start - geometry.lookbehindBytes), start: start, end: end))
                start = end
            }
        }
        guard device == expected else {
            throw .kernel("the device's scan of a known text disagrees with the CPU reference (\(device.prefix(2)) against \(expected.prefix(2)))",
                          fix: "report this with 'vyre-gl info'; the device's counts cannot be trusted")
        }
    }

    /// Ends the resident kernel.
    public func shutdown() async { await kernel.shutdown(.drain) }

    var feedOptions: FeedOptions {
        FeedOptions(chunkBytes: geometry.chunkBytes, queueDepth: options.queueDepth, lookbehind: geometry.lookbehindBytes,
                    direct: options.direct, fixedBuffers: options.fixedBuffers, ioUring: options.ioUring)
    }
}
