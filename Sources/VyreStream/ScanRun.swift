import VyreIR
import VyreProtocol
import VyreRuntime
import Synchronization

/// Per-chunk summaries of a scan, by file and chunk index, filled in any order.
private final class SummaryStore: Sendable {
    private struct State {
        var chunks: [Int: [Int: [SegmentSummary]]] = [:]
        var opened: [Int: FeedFile] = [:]
        var errors: [Int: FeedFileError] = [:]
        var bytes: UInt64 = 0
        var segments = 0
        var failure: ScanError?
    }
    private let state = Mutex(State())

    /// The first failure of the kernel, which ends the scan.
    var failure: ScanError? {
        get { state.withLock { $0.failure } }
        set { state.withLock { $0.failure = $0.failure ?? newValue } }
    }

    func opened(_ f: FeedFile) { state.withLock { $0.opened[f.file] = f } }
    func failed(_ file: Int, _ e: FeedFileError) { state.withLock { $0.errors[file] = e } }

    /// Records a chunk's summaries; returns the bytes scanned so far.
    func add(_ c: FeedChunk, _ summaries: [SegmentSummary]) -> UInt64 {
        state.withLock {
            $0.chunks[c.file, default: [:]][c.index] = summaries
            $0.bytes += UInt64(c.length)
            $0.segments += summaries.count
            return $0.bytes
        }
    }

    /// Each file's count, merged in file order.
    func results(_ sources: [FeedSource]) -> (files: [ScanFileResult], bytes: UInt64, segments: Int) {
        state.withLock { s in
            let files = sources.enumerated().map { i, source in
                var result = ScanFileResult(path: source.path, lines: 0, bytes: s.opened[i]?.size ?? 0, error: s.errors[i])
                guard result.error == nil, let opened = s.opened[i] else { return result }
                var span = LineSpan()
                for chunk in 0..<opened.chunks {
                    guard let summaries = s.chunks[i]?[chunk] else {
                        // Every chunk of a file that did not fail is scanned: a gap is a bug, never a count.
                        preconditionFailure("chunk \(chunk) of \(source.path) was never scanned")
                    }
                    for summary in summaries { span.add(summary) }
                }
                result.span = span
                result.scanned = opened.bytes
                result.lines = span.lines
                return result
            }
            return (files, s.bytes, s.segments)
        }
    }
}

extension LiteralScanner {
    /// Scans `paths` in order; files that cannot be read are reported in their result while the
    /// others are counted. Throws only when the kernel fails (then no count is given).
    public func scan(_ paths: [String], progress: (@Sendable (ScanProgress) -> Void)? = nil) async throws(ScanError) -> ScanReport {
        try await scan(sources: paths.map { FeedSource(path: $0) }, progress: progress)
    }

    /// Scans `sources` in order, whole files or parts of them. A part's result has its
    /// ``ScanFileResult/span`` to join with the parts around it; its `lines` count it as if it
    /// were a file of its own.
    public func scan(sources: [FeedSource], progress: (@Sendable (ScanProgress) -> Void)? = nil) async throws(ScanError) -> ScanReport {
        let started = ContinuousClock.now
        let countsBefore = options.countPatterns ? stateCounts() : []
        let memory = ChunkMemory(base: io.exclusiveBytes(0..<(geometry.chunkSlots * feedOptions.slotBytes)).baseAddress!,
                                 slotBytes: feedOptions.slotBytes, slots: geometry.chunkSlots)
        let feeder: FileFeeder
        do throws(FeedError) { feeder = try FileFeeder(sources: sources, memory: memory, options: feedOptions) } catch {
            throw .options(error.diagnostics[0].problem, fix: error.diagnostics[0].fix)
        }
        let store = SummaryStore()
        await withTaskGroup(of: Void.self) { group in
            for await event in feeder.events {
                switch event {
                case .opened(let f): store.opened(f)
                case .failed(let file, let e): store.failed(file, e)
                case .chunk(let c):
                    if c.isHole {
                        let done = store.add(c, [.zeros(c.length, matchesEveryLine: patterns.matchesEveryLine)])
                        progress?(ScanProgress(bytes: done, files: 0, totalFiles: sources.count))
                        continue
                    }
                    group.addTask {
                        do {
                            let summaries = try await self.scanChunk(c)
                            feeder.release(slot: c.slot)
                            let done = store.add(c, summaries)
                            progress?(ScanProgress(bytes: done, files: 0, totalFiles: sources.count))
                        } catch {
                            store.failure = error as? ScanError
                            feeder.cancel()
                        }
                    }
                }
            }
        }
        if let error = store.failure { throw error }
        let (files, bytes, segments) = store.results(sources)
        var counts: [UInt64]?
        if options.countPatterns {
            counts = patternCounts(states: zip(stateCounts(), countsBefore).map { $0 &- $1 }, files: files)
        }
        return ScanReport(files: files, patternCounts: counts, bytes: bytes, elapsed: ContinuousClock.now - started, feed: feeder.report, segments: segments)
    }

    /// Publishes a chunk's segments as SCAN ops and reads their summaries once they are done.
    private func scanChunk(_ c: FeedChunk) async throws(ScanError) -> [SegmentSummary] {
        let items = segmentItems(c)
        let completions: [Completion]
        do throws(ResidentError) { completions = try await kernel.submit(items) } catch { throw Self.kernelError(error) }
        return try summaries(items, completions)
    }

    /// The same, waiting on this thread (for the self-check, which runs before any task does).
    func scanChunkBlocking(_ c: FeedChunk) throws(ScanError) -> [SegmentSummary] {
        let items = segmentItems(c)
        let (batch, stopped) = kernel.trySubmitBatch(items)
        if let stopped { throw Self.kernelError(stopped) }
        let completions: [Completion]
        do throws(ResidentError) { completions = try batch.waitForCompletions() } catch { throw Self.kernelError(error) }
        return try summaries(items, completions)
    }

    private static func kernelError(_ error: ResidentError) -> ScanError {
        .kernel("the scan kernel failed: \(error.diagnostics.map(\.problem).joined(separator: "; "))", fix: error.diagnostics.first?.fix ?? "scan again")
    }

    /// One SCAN op per segment of the chunk, each warmed by the bytes before it that the slot holds.
    private func segmentItems(_ c: FeedChunk) -> [WorkItem] {
        let slotBytes = feedOptions.slotBytes
        var items: [WorkItem] = []
        var start = 0
        var k = 0
        while start < c.length {
            let length = min(geometry.segmentBytes, c.length - start)
            // The bytes before the segment that a match ending in it can start in, as far as the slot holds them.
            let warm = min(geometry.lookbehindBytes, c.lookbehind + start)
            let first = (c.slot * slotBytes + c.lookbehind + start - warm) / 4
            items.append(WorkItem(opcode: ScanKernel.opcode, args: [UInt32(first), UInt32(warm), UInt32(length),
                                                                    UInt32(c.slot * geometry.segmentsPerChunk + k), options.countPatterns ? 1 : 0]))
            start += length
            k += 1
        }
        return items
    }

    /// The segments' summaries from the results buffer, after their completions.
    private func summaries(_ items: [WorkItem], _ completions: [Completion]) throws(ScanError) -> [SegmentSummary] {
        var summaries: [SegmentSummary] = []
        for (item, completion) in zip(items, completions) {
            let at = layout.resultsBase + Int(item.args[3]) * 4
            guard completion.status == .done, io.loadRelaxed(at + 3) == item.args[2] else {
                throw .kernel("a SCAN op ended \(completion.status) (reason \(completion.faultReason ?? 0)) or reported \(io.loadRelaxed(at + 3)) bytes scanned of \(item.args[2])",
                              fix: "report this with the device (vyre-gl info); the scan's counts would not be trustworthy")
            }
            let flags = io.loadRelaxed(at + 2)
            summaries.append(SegmentSummary(terminators: io.loadRelaxed(at), completeMatched: io.loadRelaxed(at + 1),
                                            headMatched: flags & 1 != 0, tailMatched: flags & 2 != 0))
        }
        return summaries
    }

    /// Each state's 64-bit count of bytes that ended a match there (read when no op is in flight).
    private func stateCounts() -> [UInt64] {
        (0..<dfa.states).map { UInt64(io.loadRelaxed(layout.counterWord(state: $0))) | UInt64(io.loadRelaxed(layout.counterWord(state: $0) + 1)) << 32 }
    }

    /// Per given pattern: the counts of every state whose output chain holds it.
    private func patternCounts(states: [UInt64], files: [ScanFileResult]) -> [UInt64] {
        var distinct = [UInt64](repeating: 0, count: dfa.distinctCount)
        for (s, count) in states.enumerated() where count > 0 {
            var at = dfa.ownPattern[s] == LiteralDFA.none ? dfa.suffixOutput[s] : UInt32(s)
            while at != LiteralDFA.none {
                distinct[Int(dfa.ownPattern[Int(at)])] += count
                at = dfa.suffixOutput[Int(at)]
            }
        }
        let lines = files.reduce(0) { $0 + $1.lines }
        return zip(patterns.patterns, dfa.distinct).map { p, id in p.isEmpty ? lines : id.map { distinct[$0] } ?? 0 }
    }
}
