import ArgumentParser
import Foundation
import Synchronization
import VyreGL
import VyreIR
import VyreStream
import VyreRuntime

/// Geometry and reading options a scan and its benchmark share.
struct ScanTuning: ParsableArguments {
    @Option(name: .customLong("chunk-bytes"), help: "Bytes of a file read at once, a multiple of 4096 (default: 1 MiB on a software renderer, 4 MiB on a GPU).")
    var chunkBytes: Int?
    @Option(name: .customLong("segment-bytes"), help: "Bytes one lane scans, a multiple of 32 (default: 64 KiB on a software renderer, 16 KiB on a GPU).")
    var segmentBytes: Int?
    @Option(name: .customLong("chunks"), help: "Chunks held in memory at once (default: enough to keep every lane busy, at most twice the queue depth, and no more than the files fill).")
    var chunks: Int?
    @Option(name: .customLong("queue-depth"), help: "Reads in flight (1 to 4096).")
    var queueDepth: Int = 16
    @Flag(help: "Read with O_DIRECT, around the page cache (a file system that refuses it gets buffered reads).")
    var direct = false
    @Flag(name: .customLong("no-io-uring"), help: "Read with pread instead of io_uring.")
    var noIOUring = false
    @Option(help: "Workgroups of the resident kernel (default: the host's cores on a software renderer, 264 on a GPU).")
    var workgroups: UInt32?
    @Flag(name: .customLong("no-fixed-buffers"), help: "Read into the mapped buffer without registering it with io_uring.")
    var noFixedBuffers = false
    @Option(name: .customLong("table-memory"), help: "Where lanes read the automaton: shared (copied into each workgroup's shared memory), global (its storage buffer) or auto (shared on a GPU when it fits).")
    var tableMemory: String = "auto"
    @Option(help: "Where the mapped data buffer lives: driver (the driver picks) or host (host memory, GL_CLIENT_STORAGE_BIT).")
    var placement: String = "driver"

    func validate() throws {
        guard MappedPlacement(rawValue: placement) != nil else { throw ValidationError("--placement must be driver or host.") }
        guard tableMemory == "auto" || TableMemory(rawValue: tableMemory) != nil else { throw ValidationError("--table-memory must be shared, global or auto.") }
    }

    func options(countPatterns: Bool) -> ScanOptions {
        var options = ScanOptions(chunkBytes: chunkBytes, segmentBytes: segmentBytes, chunkSlots: chunks, queueDepth: queueDepth, direct: direct,
                                  ioUring: !noIOUring, countPatterns: countPatterns, workgroups: workgroups, fixedBuffers: !noFixedBuffers,
                                  placement: MappedPlacement(rawValue: placement) ?? .driverChoice)
        options.tableMemory = TableMemory(rawValue: tableMemory)
        return options
    }
}

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Count the lines of files that hold any of a set of fixed strings, on the GPU.",
        discussion: """
        Prints what 'LC_ALL=C grep -F -c -f PATTERNS FILE...' prints: per file, the number of lines that hold at least \
        one pattern (FILE:COUNT with several files, a bare count for one), with grep's rules for CRLF, NUL bytes (a file \
        with NUL in it is searched as grep searches a binary file: NUL ends lines too), a missing final newline, empty \
        files and empty patterns. No FILE, or -, searches standard input; files whose size is not known before their end \
        (pipes, FIFOs, devices, /proc files) are read to their end. Exit status: 0 when a line matched, 1 when none did, \
        2 when a file could not be read (the others are still counted).
        """)

    @Option(name: [.customShort("f"), .customLong("file")], help: "The patterns, one per line (as grep -f reads them; - reads standard input).")
    var patternFile: String
    @Argument(help: "Files to search (- or none: standard input).")
    var files: [String] = []
    @Flag(name: .customLong("count-patterns"), help: "Also print each pattern's occurrences (every start offset, overlaps included) as COUNT<TAB>PATTERN lines.")
    var countPatterns = false
    @Flag(help: "Print one JSON object: per-file and per-pattern counts, bytes, seconds, the device and how the files were read.")
    var json = false
    @OptionGroup var tuning: ScanTuning
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var devicesOption: DevicesOption

    func validate() throws { try devicesOption.check(against: deviceOptions) }

    /// What is searched, as grep names it: no FILE is standard input, `-` too.
    private var searched: [String] { files.isEmpty ? ["-"] : files }
    /// Where each searched file is read from.
    private static func path(_ name: String) -> String { name == "-" ? "/dev/stdin" : name }
    /// How output names each searched file.
    private static func shown(_ name: String) -> String { name == "-" ? "(standard input)" : name }

    struct Report: Encodable {
        struct File: Encodable {
            var path: String
            var count: UInt64?
            var bytes: UInt64
            var error: String?
        }
        struct Pattern: Encodable {
            var pattern: String
            var count: UInt64
        }
        var files: [File]
        var patterns: [Pattern]?
        var bytes: UInt64
        var seconds: Double
        var bytesPerSecond: Double
        var device: String
        var feed: [String: String]
        var geometry: ScanGeometry
    }

    func run() throws {
        runReporting {
            let patterns = LiteralPatterns(grepFile: try InputFile.read(Self.path(patternFile), what: "--file", devices: true))
            // grep with no patterns selects nothing and reads no file.
            guard !patterns.isEmpty else { throw CLIFailure(status: .ranWithFailures, diagnostics: []) }
            let contexts = try devicesOption.set.map { try CLI.openContexts($0, deviceOptions) } ?? [try CLI.openContext(deviceOptions)]
            try CLI.checkWorkgroups(tuning.workgroups, on: contexts)
            let paths = searched.map(Self.path)
            let total = paths.reduce(UInt64(0)) { $0 + (FeedSource.plan($1)?.size ?? 0) }
            var options = tuning.options(countPatterns: countPatterns)
            options.expectedBytes = total
            let group = try ScanGroup(contexts: contexts, patterns: patterns, options: options)
            let progress = Mutex(Progress())
            let started = ContinuousClock.now
            let report = try Blocking.wait { () async throws(ScanError) -> ScanReport in
                let update: @Sendable (ScanProgress) -> Void = { p in progress.withLock { $0.update(Self.progressLine(p.bytes, of: total, since: started)) } }
                // One device scans the files in order, chunk by chunk; several share them, large files cut into parts.
                let report = contexts.count == 1 ? try await group.scanners[0].scan(paths, progress: update) : try await group.scan(paths, progress: update).report
                await group.shutdown()
                return report
            }
            progress.withLock { $0.finish() }
            try printReport(report, patterns: patterns, device: contexts.map(\.info.renderer).joined(separator: " + "), geometry: group.scanners[0].geometry)
            // Errors name standard input as grep does, not by the path it was read through.
            let failed = zip(searched, report.files).compactMap { name, f in f.error.map { e in var e = e; e.path = Self.shown(name); return e } }
            if !failed.isEmpty {
                throw CLIFailure(status: .badInput, diagnostics: failed.flatMap(\.diagnostics))
            }
            if !report.files.contains(where: { $0.lines > 0 }) { throw CLIFailure(status: .ranWithFailures, diagnostics: []) }
        }
    }

    static func progressLine(_ bytes: UInt64, of total: UInt64, since started: ContinuousClock.Instant) -> String {
        let seconds = max(1e-9, (ContinuousClock.now - started).ms / 1000)
        return "scan: \(bytes >> 20) of \(total >> 20) MiB, \(Int(Double(bytes) / seconds / 1e6)) MB/s"
    }

    private func printReport(_ report: ScanReport, patterns: LiteralPatterns, device: String, geometry: ScanGeometry) throws {
        let seconds = report.elapsed.ms / 1000
        if json {
            let feed = report.feed
            try Output.json(Report(
                files: zip(searched, report.files).map { name, f in
                    Report.File(path: Self.shown(name), count: f.error == nil || f.error?.kind == .isDirectory ? f.lines : nil, bytes: f.bytes, error: f.error.map { e in var e = e; e.path = Self.shown(name); return e.description })
                },
                patterns: report.patternCounts.map { counts in zip(patterns.patterns, counts).map { Report.Pattern(pattern: String(decoding: $0, as: UTF8.self), count: $1) } },
                bytes: report.bytes, seconds: seconds, bytesPerSecond: Double(report.bytes) / max(seconds, 1e-9), device: device,
                feed: ["backend": feed.backend, "fixedBuffers": "\(feed.fixedBuffers)", "bounced": "\(feed.bounced)", "direct": "\(feed.direct)",
                       "holeChunks": "\(feed.holeChunks)", "streams": "\(feed.streams)", "notes": feed.notes.joined(separator: "; ")],
                geometry: geometry))
            return
        }
        for (name, file) in zip(searched, report.files) {
            // grep prints a count for a directory (0) beside its error, and none for a file it could not open.
            guard file.error == nil || file.error?.kind == .isDirectory else { continue }
            try Output.line(searched.count == 1 ? "\(file.lines)" : "\(Self.shown(name)):\(file.lines)")
        }
        if let counts = report.patternCounts {
            // Backslashes doubled first, so an escaped control character cannot be mistaken for pattern text.
            for (p, c) in zip(patterns.patterns, counts) {
                try Output.line("\(c)\t\(escapingControlCharacters(String(decoding: p, as: UTF8.self).replacingOccurrences(of: "\\", with: "\\\\")))")
            }
        }
    }
}
