import Foundation
public import VyreGL
import Synchronization

/// One ``LiteralScanner`` per device, sharing the files of a scan: each device takes the next
/// part when it has finished one, the largest first so that the last ones to start are small and
/// no device waits long on another. A file of at least two ``minimumPartBytes`` is cut into parts
/// (about a quarter of its share per device, on 4 KiB boundaries) that the devices scan apart, so
/// one large file keeps every device busy; the parts' line spans are joined in file order, so the
/// count is one scanner's. Each part is scanned exactly once, and the report lists the files in
/// the order given, as one scanner's would. A device whose kernel fails stops taking parts; the
/// part it was scanning goes to the others (nothing of it was counted), and the scan fails only
/// when no device is left.
public final class ScanGroup: Sendable {
    /// The scanners, one per context, in the order given.
    public let scanners: [LiteralScanner]
    /// The smallest part a file is cut into; a file smaller than two is scanned whole.
    public let minimumPartBytes: UInt64
    /// Scanners whose kernel failed: left out of later scans too.
    private let failed = Mutex<Set<Int>>([])

    /// Builds the automaton and a resident kernel on every context (see
    /// ``LiteralScanner/init(context:patterns:options:)``). `minimumPartBytes` is rounded up to
    /// a multiple of 4,096.
    public init(contexts: [GLContext], patterns: LiteralPatterns, options: ScanOptions = ScanOptions(),
                minimumPartBytes: UInt64 = 64 << 20) throws(ScanError) {
        guard !contexts.isEmpty else { throw .options("a scan group was given no contexts", fix: "open at least one (GLContext.open(.all))") }
        var scanners: [LiteralScanner] = []
        for context in contexts { scanners.append(try LiteralScanner(context: context, patterns: patterns, options: options)) }
        self.scanners = scanners
        // At most 1 TiB, so that rounding and doubling it stay far from overflow.
        self.minimumPartBytes = max(4096, (min(minimumPartBytes, 1 << 40) + 4095) / 4096 * 4096)
    }

    /// Scans `paths` across the devices; `parts` per device says how many parts (whole files or
    /// pieces of one) each scanned. Throws when a device's kernel fails (then no count is given).
    public func scan(_ paths: [String], progress: (@Sendable (ScanProgress) -> Void)? = nil) async throws(ScanError) -> (report: ScanReport, parts: [Int]) {
        let started = ContinuousClock.now
        // The sizes only plan the parts (a file that cannot be read says so when scanned).
        let files = paths.map { FeedSource.plan($0) ?? (0, false) }
        let parts = Self.parts(files: files, devices: scanners.count, minimum: minimumPartBytes)
        let sources = parts.map { FeedSource(path: paths[$0.file], bytes: $0.bytes) }
        let state = SharedScan(order: parts.indices.sorted { (parts[$0].length, -$0) < (parts[$1].length, -$1) }, parts: parts.count,
                               devices: scanners.count, failed: failed.withLock { $0 })
        // Rounds: a part a failed device gave back after the others stopped asking gets a round of its own.
        repeat {
            await withTaskGroup(of: Void.self) { group in
                for k in state.live {
                    let scanner = scanners[k]
                    group.addTask {
                        while let i = state.next() {
                            do throws(ScanError) {
                                let r = try await scanner.scan(sources: [sources[i]]) { p in
                                    let whole = state.scanning(p.bytes, on: k)
                                    progress?(whole)
                                }
                                // Recorded whether or not anyone watches the progress.
                                let whole = state.done(i, r, on: k)
                                progress?(whole)
                            } catch {
                                // The kernel failed: the part goes to the others, this device stops.
                                // Anything else (the feeder refusing its options) fails the scan.
                                guard Self.isDeviceFailure(error) else { return state.fail(error) }
                                self.failed.withLock { _ = $0.insert(k) }
                                state.lost(i, error, on: k)
                                return
                            }
                        }
                    }
                }
            }
        } while state.unfinished
        let (results, shares, error) = state.outcome
        if let error { throw error }
        return (merged(results.map { $0! }, parts: parts, paths: paths, elapsed: ContinuousClock.now - started), shares)
    }

    /// A part of the scan: file `file`, all of it (`bytes` nil) or the bytes of one piece.
    struct Part: Hashable {
        var file: Int
        var bytes: Range<UInt64>?
        /// Bytes it holds as planned, which orders the queue.
        var length: UInt64
    }

    /// The parts of `files` (each one's size and whether it can be read in parts), in file
    /// order, each file's parts in byte order. A file that can, of at least two `minimum` bytes,
    /// when there are several devices, is cut into parts of about a quarter of its share per
    /// device, no smaller than `minimum`, on multiples of 4 KiB; its last part runs to wherever
    /// the file ends when read.
    static func parts(files: [(size: UInt64, splittable: Bool)], devices: Int, minimum: UInt64) -> [Part] {
        var parts: [Part] = []
        for (file, (size, splittable)) in files.enumerated() {
            guard devices > 1, splittable, size / 2 >= minimum else {
                parts.append(Part(file: file, bytes: nil, length: size))
                continue
            }
            let share = size / UInt64(devices * 4)
            let length = max(minimum, (share + 4095) / 4096 * 4096)
            var start: UInt64 = 0
            while start < size {
                let end = size - start <= length ? UInt64.max : start + length
                parts.append(Part(file: file, bytes: start..<end, length: min(length, size - start)))
                start += length
            }
        }
        return parts
    }

    /// Whether `error` is the device's (its kernel failed), which another device may not repeat.
    static func isDeviceFailure(_ error: ScanError) -> Bool {
        switch error {
        case .kernel, .device: true
        case .options, .patternsTooLarge: false
        }
    }

    /// Ends every scanner's kernel.
    public func shutdown() async {
        for scanner in scanners { await scanner.shutdown() }
    }

    /// One report from the parts' own: each file's parts joined, the files in their order.
    func merged(_ reports: [ScanReport], parts: [Part], paths: [String], elapsed: Duration) -> ScanReport {
        var feed = reports.first?.feed ?? FeedReport()
        var counts = reports.first?.patternCounts
        for report in reports.dropFirst() {
            feed.add(report.feed)
            if let c = report.patternCounts, counts != nil { for j in c.indices { counts![j] += c[j] } }
        }
        var byFile = [[ScanFileResult]](repeating: [], count: paths.count)
        for (part, report) in zip(parts, reports) { byFile[part.file].append(report.files[0]) }
        let files = zip(paths, byFile).map { Self.joined($1, path: $0) }
        // An empty pattern counts matching lines, which only whole files tell.
        if counts != nil {
            let lines = files.reduce(0) { $0 + $1.lines }
            for (j, p) in scanners[0].patterns.patterns.enumerated() where p.isEmpty { counts![j] = lines }
        }
        return ScanReport(files: files, patternCounts: counts, bytes: reports.reduce(0) { $0 + $1.bytes },
                          elapsed: elapsed, feed: feed, segments: reports.reduce(0) { $0 + $1.segments })
    }

    /// A file's result from its parts' results, in byte order: the first part's error if any
    /// failed, an error if the parts saw different sizes, else their spans joined.
    static func joined(_ parts: [ScanFileResult], path: String) -> ScanFileResult {
        guard parts.count > 1 else { return parts[0] }
        if let failed = parts.first(where: { $0.error != nil }) { return failed }
        let size = parts[0].bytes
        if let other = parts.first(where: { $0.bytes != size }) {
            return ScanFileResult(path: path, lines: 0, bytes: size, error: FeedFileError(path: path, kind: .changed(size: size, then: other.bytes)))
        }
        var result = ScanFileResult(path: path, lines: 0, bytes: size)
        for part in parts { result.span.append(part.span) }
        result.lines = result.span.lines
        result.scanned = 0..<size
        return result
    }
}

/// The parts of a group's scan: which is next, each one's report, each device's share.
final class SharedScan: Sendable {
    private struct State {
        var order: [Int]
        var results: [ScanReport?]
        var shares: [Int]
        var bytes: UInt64 = 0
        /// Bytes of the parts being scanned, by device.
        var scanning: [UInt64]
        var done = 0
        var failure: ScanError?
        var lost: Set<Int> = []
    }
    private let state: Mutex<State>

    init(order: [Int], parts: Int, devices: Int, failed: Set<Int>) {
        var s = State(order: order, results: [ScanReport?](repeating: nil, count: parts), shares: [Int](repeating: 0, count: devices),
                      scanning: [UInt64](repeating: 0, count: devices))
        s.lost = failed
        if failed.count == devices { s.failure = .kernel("every device of the scan group failed in an earlier scan", fix: "open the devices again and make a new ScanGroup") }
        state = Mutex(s)
    }

    /// The scan fails with `error`, which another device would repeat.
    func fail(_ error: ScanError) { state.withLock { s in if s.failure == nil { s.failure = error } } }

    /// The next part to scan, the largest left; nil once none is left or a device failed.
    func next() -> Int? { state.withLock { $0.failure == nil ? $0.order.popLast() : nil } }

    /// Device `k` has scanned `bytes` of its part so far: the progress of the whole scan.
    func scanning(_ bytes: UInt64, on k: Int) -> ScanProgress {
        state.withLock { s in
            s.scanning[k] = bytes
            return ScanProgress(bytes: s.bytes + s.scanning.reduce(0, +), files: s.done, totalFiles: s.results.count)
        }
    }

    /// Part `i` scanned on device `k`: the progress so far.
    func done(_ i: Int, _ report: ScanReport, on k: Int) -> ScanProgress {
        state.withLock { s in
            s.results[i] = report
            s.shares[k] += 1
            s.bytes += report.bytes
            s.scanning[k] = 0
            s.done += 1
            return ScanProgress(bytes: s.bytes + s.scanning.reduce(0, +), files: s.done, totalFiles: s.results.count)
        }
    }

    /// A device failed scanning part `i`: the part goes back for the others (none of it was
    /// counted); with no device left, the scan fails with `error`.
    func lost(_ i: Int, _ error: ScanError, on k: Int) {
        state.withLock { s in
            s.order.append(i)
            s.lost.insert(k)
            s.scanning[k] = 0
            if s.lost.count == s.shares.count { s.failure = error }
        }
    }

    /// Devices that have not failed.
    var live: [Int] { state.withLock { s in s.shares.indices.filter { !s.lost.contains($0) } } }

    /// Parts are left and a device to scan them.
    var unfinished: Bool { state.withLock { $0.failure == nil && !$0.order.isEmpty } }

    var outcome: ([ScanReport?], [Int], ScanError?) { state.withLock { ($0.results, $0.shares, $0.failure) } }
}

extension FeedReport {
    /// Adds another feed's counts; a slower path taken anywhere shows.
    mutating func add(_ other: FeedReport) {
        fixedBuffers = fixedBuffers && other.fixedBuffers
        bounced = bounced || other.bounced
        direct = direct && other.direct
        for note in other.notes where !notes.contains(note) { notes.append(note) }
        bytes += other.bytes
        bytesRead += other.bytesRead
        bytesCopied += other.bytesCopied
        reads += other.reads
        shortReads += other.shortReads
        chunks += other.chunks
        holeChunks += other.holeChunks
        files += other.files
        streams += other.streams
        failedFiles += other.failedFiles
    }
}
