import Foundation
public import VyreGL
import Synchronization

/// One ``LiteralScanner`` per device, sharing the files of a scan: each device takes the next
/// file when it has finished one, the largest files first so that the last ones to start are
/// small and no device waits long on another. Each file is scanned whole on one device, exactly
/// once, and the report lists the files in the order given, as one scanner's would. A device
/// whose kernel fails stops taking files; the file it was scanning goes to the others (nothing of
/// it was counted), and the scan fails only when no device is left.
public final class ScanGroup: Sendable {
    /// The scanners, one per context, in the order given.
    public let scanners: [LiteralScanner]
    /// Scanners whose kernel failed: left out of later scans too.
    private let failed = Mutex<Set<Int>>([])

    /// Builds the automaton and a resident kernel on every context (see
    /// ``LiteralScanner/init(context:patterns:options:)``).
    public init(contexts: [GLContext], patterns: LiteralPatterns, options: ScanOptions = ScanOptions()) throws(ScanError) {
        guard !contexts.isEmpty else { throw .options("a scan group was given no contexts", fix: "open at least one (GLContext.open(.all))") }
        var scanners: [LiteralScanner] = []
        for context in contexts { scanners.append(try LiteralScanner(context: context, patterns: patterns, options: options)) }
        self.scanners = scanners
    }

    /// Scans `paths` across the devices; `files` per device says how many each scanned. Throws
    /// when a device's kernel fails (then no count is given).
    public func scan(_ paths: [String], progress: (@Sendable (ScanProgress) -> Void)? = nil) async throws(ScanError) -> (report: ScanReport, files: [Int]) {
        let started = ContinuousClock.now
        // Largest first; the size only orders the queue (a file that cannot be read says so when scanned).
        let sizes = paths.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? UInt64) ?? 0 }
        let state = SharedScan(order: paths.indices.sorted { (sizes[$0], -$0) < (sizes[$1], -$1) }, files: paths.count, devices: scanners.count,
                               failed: failed.withLock { $0 })
        // Rounds: a file a failed device gave back after the others stopped asking gets a round of its own.
        repeat {
            await withTaskGroup(of: Void.self) { group in
                for k in state.live {
                    let scanner = scanners[k]
                    group.addTask {
                        while let i = state.next() {
                            do throws(ScanError) {
                                let r = try await scanner.scan([paths[i]])
                                progress?(state.done(i, r, on: k))
                            } catch {
                                // The kernel failed: the file goes to the others, this device stops.
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
        let (parts, shares, error) = state.outcome
        if let error { throw error }
        return (Self.merged(parts.map { $0! }, elapsed: ContinuousClock.now - started), shares)
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

    /// One report from the files' own, in their order.
    static func merged(_ parts: [ScanReport], elapsed: Duration) -> ScanReport {
        var feed = parts.first?.feed ?? FeedReport()
        var counts = parts.first?.patternCounts
        for part in parts.dropFirst() {
            feed.add(part.feed)
            if let c = part.patternCounts, counts != nil { for j in c.indices { counts![j] += c[j] } }
        }
        return ScanReport(files: parts.flatMap(\.files), patternCounts: counts, bytes: parts.reduce(0) { $0 + $1.bytes },
                          elapsed: elapsed, feed: feed, segments: parts.reduce(0) { $0 + $1.segments })
    }
}

/// The files of a group's scan: which is next, each one's report, each device's share.
final class SharedScan: Sendable {
    private struct State {
        var order: [Int]
        var results: [ScanReport?]
        var shares: [Int]
        var bytes: UInt64 = 0
        var done = 0
        var failure: ScanError?
        var lost: Set<Int> = []
    }
    private let state: Mutex<State>

    init(order: [Int], files: Int, devices: Int, failed: Set<Int>) {
        var s = State(order: order, results: [ScanReport?](repeating: nil, count: files), shares: [Int](repeating: 0, count: devices))
        s.lost = failed
        if failed.count == devices { s.failure = .kernel("every device of the scan group failed in an earlier scan", fix: "open the devices again and make a new ScanGroup") }
        state = Mutex(s)
    }

    /// The scan fails with `error`, which another device would repeat.
    func fail(_ error: ScanError) { state.withLock { s in if s.failure == nil { s.failure = error } } }

    /// The next file to scan, the largest left; nil once none is left or a device failed.
    func next() -> Int? { state.withLock { $0.failure == nil ? $0.order.popLast() : nil } }

    /// File `i` scanned on device `k`: the progress so far.
    func done(_ i: Int, _ report: ScanReport, on k: Int) -> ScanProgress {
        state.withLock { s in
            s.results[i] = report
            s.shares[k] += 1
            s.bytes += report.bytes
            s.done += 1
            return ScanProgress(bytes: s.bytes, files: s.done, totalFiles: s.results.count)
        }
    }

    /// A device failed scanning file `i`: the file goes back for the others (none of it was
    /// counted); with no device left, the scan fails with `error`.
    func lost(_ i: Int, _ error: ScanError, on k: Int) {
        state.withLock { s in
            s.order.append(i)
            s.lost.insert(k)
            if s.lost.count == s.shares.count { s.failure = error }
        }
    }

    /// Devices that have not failed.
    var live: [Int] { state.withLock { s in s.shares.indices.filter { !s.lost.contains($0) } } }

    /// Files are left and a device to scan them.
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
