import ArgumentParser
import Foundation
import Synchronization
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime
import VyreStream
import VyreTesting

/// Generated text for the scan and feed benchmarks: lines of words from a fixed list, and pattern
/// files drawn from the same list, so patterns match at a realistic rate.
enum BenchCorpus {
    static func words(seed: UInt64) -> [String] {
        var g = SeededRandom(seed: seed)
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        return (0..<5000).map { _ in String((0..<(3 + Int(g.next() % 7))).map { _ in letters[Int(g.next() % 26)] }) }
    }

    /// Writes `bytes` bytes of lines of words to `path` (reusing a file of that size already there).
    static func text(at path: String, bytes: Int, words: [String], progress: inout Progress) throws {
        if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size == bytes { return }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CLI.badInput("cannot create the benchmark corpus '\(quoteForMessage(path))'", fix: "give --corpus a writable path")
        }
        defer { try? handle.close() }
        var state: UInt64 = 0x5EED
        var written = 0
        var block: [UInt8] = []
        block.reserveCapacity(4 << 20)
        while written < bytes {
            block.removeAll(keepingCapacity: true)
            while block.count < min(4 << 20, bytes - written) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let count = 1 + Int((state >> 33) % 14)
                for w in 0..<count {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    if w > 0 { block.append(32) }
                    block.append(contentsOf: words[Int((state >> 33) % UInt64(words.count))].utf8)
                }
                block.append(10)
            }
            let piece = block.prefix(bytes - written)
            try handle.write(contentsOf: Data(piece))
            written += piece.count
            progress.update("writing the corpus: \(written >> 20) of \(bytes >> 20) MiB")
        }
    }

    /// Runs a command with its output to a pipe; its wall time and standard output.
    static func timed(_ arguments: [String]) throws -> (seconds: Double, stdout: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let start = ContinuousClock.now
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ((ContinuousClock.now - start).ms / 1000, String(decoding: data, as: UTF8.self), process.terminationStatus)
    }

    static func available(_ tool: String) -> Bool {
        (try? timed(["sh", "-c", "command -v \(tool)"]).status) == 0
    }
}

/// `vyre-gl bench scan`: the scan beside GNU grep and ripgrep on the same page-cached text, in one run.
struct ScanBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "vyre-gl scan beside grep -F -c and rg -F -c on generated text, and where the scan's time goes.",
        discussion: """
            Writes --size MiB of generated lines (once; kept at --corpus), reads it once so it is in the page cache, \
            then for each pattern count runs, interleaved, --iterations times: grep -F -c -f, rg -F -c -f (when on \
            PATH), and the scan (a resident kernel built once per pattern set; its build is reported apart). Every \
            tool's count must agree. Where the time goes: the feeder alone over the same file (I/O), and the kernel \
            alone over data already in its buffer (publish, kernel, results), beside the whole scan.
            """)

    @Option(help: "MiB of text to scan.") var size: Int = 1024
    @Option(help: "Pattern counts, comma-separated.") var patterns: String = "100,1000"
    @Option(help: "Timed runs of each tool per pattern count.") var iterations: Int = 3
    @Option(help: "Where the corpus is written (reused when it has the size).") var corpus: String = NSTemporaryDirectory() + "vyre-gl-bench-corpus.txt"
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var tuning: ScanTuning
    @OptionGroup var deviceOptions: DeviceOptions

    struct Tool: Encodable {
        var tool: String
        var p50Seconds: Double
        var p99Seconds: Double
        var megabytesPerSecond: Double
        var count: UInt64?
    }

    struct Row: Encodable {
        var patterns: Int
        var tools: [Tool]
        var kernelBuildSeconds: Double
        /// The scan's throughput over grep's and over ripgrep's (p50 against p50).
        var overGrep: Double
        var overRipgrep: Double?
        var feedOnlyMegabytesPerSecond: Double
        var kernelOnlyMegabytesPerSecond: Double
        var geometry: ScanGeometry
        var feed: [String: String]
    }

    struct Report: Encodable {
        var benchmark = "scan"
        var device: String
        var bytes: Int
        var rows: [Row]
    }

    func validate() throws {
        guard (1...65536).contains(size), (1...100).contains(iterations) else { throw ValidationError("--size must be 1 to 65536 MiB and --iterations 1 to 100.") }
    }

    func run() throws {
        runReporting {
            let counts = patterns.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 5000 }) else {
                throw CLI.badInput("--patterns '\(quoteForMessage(patterns))' must be counts from 1 to 5000", fix: "write e.g. --patterns 100,1000")
            }
            // Refused before a corpus is written where the scan's memory cannot be mapped.
            let context = try CLI.openContext(deviceOptions)
            try CLI.requireMapping(context, for: "bench scan")
            try CLI.checkWorkgroups(tuning.workgroups, on: [context])
            var progress = Progress()
            let words = BenchCorpus.words(seed: 7)
            try BenchCorpus.text(at: corpus, bytes: size << 20, words: words, progress: &progress)
            _ = try BenchCorpus.timed(["cat", corpus])
            var rows: [Row] = []
            for n in counts.map({ $0! }) {
                let patternFile = corpus + ".patterns\(n)"
                try Data((stride(from: 0, to: n * 5, by: 5).map { words[$0 % words.count] }.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: patternFile))
                rows.append(try measure(patterns: n, file: patternFile, context: context, progress: &progress))
            }
            progress.finish()
            let report = Report(device: context.info.renderer, bytes: size << 20, rows: rows)
            if json { try Output.json(report) } else { try printText(report) }
        }
    }

    private func measure(patterns n: Int, file: String, context: GLContext, progress: inout Progress) throws -> Row {
        let given = LiteralPatterns(grepFile: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
        let buildStart = ContinuousClock.now
        let scanner = try LiteralScanner(context: context, patterns: given, options: tuning.options(countPatterns: false))
        let build = (ContinuousClock.now - buildStart).ms / 1000
        var times: [String: [Double]] = [:]
        var answers: [String: UInt64] = [:]
        let tools = ["grep", "rg"].filter(BenchCorpus.available)
        var feedReport = FeedReport()
        for i in 0..<iterations {
            progress.update("bench scan: \(n) patterns, run \(i + 1)/\(iterations)")
            for tool in tools {
                let r = try BenchCorpus.timed([tool, "-F", "-c", "-f", file, corpus])
                times[tool, default: []].append(r.seconds)
                answers[tool] = UInt64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let start = ContinuousClock.now
            let report = try Blocking.wait { () async throws(ScanError) -> ScanReport in try await scanner.scan([corpus]) }
            times["vyre-gl", default: []].append((ContinuousClock.now - start).ms / 1000)
            if let error = report.files[0].error { throw error }
            answers["vyre-gl"] = report.files[0].lines
            feedReport = report.feed
        }
        if Set(answers.values).count != 1 {
            throw CLIFailure(status: .ranWithFailures, "the tools disagree on \(n) patterns: \(answers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))",
                             fix: "report this with the corpus and pattern file (\(corpus), \(file))")
        }
        let feedOnly = try FeedBench.feedOnce(corpus, scanner: scanner)
        let kernelOnly = try kernelOnly(scanner, bytes: min(size << 20, 1 << 30))
        let shutdown: @Sendable () async -> Void = { await scanner.shutdown() }
        Blocking.wait { await shutdown() }
        let bytes = Double(size << 20)
        let rows = (tools + ["vyre-gl"]).map { t in
            Tool(tool: t, p50Seconds: percentile(times[t]!, 0.5), p99Seconds: percentile(times[t]!, 0.99),
                 megabytesPerSecond: bytes / percentile(times[t]!, 0.5) / 1e6, count: answers[t])
        }
        let ours = rows.last!.megabytesPerSecond
        return Row(patterns: n, tools: rows, kernelBuildSeconds: build, overGrep: ours / (rows.first { $0.tool == "grep" }?.megabytesPerSecond ?? .nan),
                   overRipgrep: rows.first { $0.tool == "rg" }.map { ours / $0.megabytesPerSecond }, feedOnlyMegabytesPerSecond: feedOnly,
                   kernelOnlyMegabytesPerSecond: kernelOnly, geometry: scanner.geometry,
                   feed: ["backend": feedReport.backend, "fixedBuffers": "\(feedReport.fixedBuffers)", "bounced": "\(feedReport.bounced)", "notes": feedReport.notes.joined(separator: "; ")])
    }

    /// The kernel alone: SCAN ops over whatever the data buffer holds (the last scan's chunks),
    /// one op per segment of every chunk slot, from two submitters at once so the ring stays full
    /// (each waits for room as ops end), until `bytes` bytes were scanned; MB/s.
    private func kernelOnly(_ scanner: LiteralScanner, bytes: Int) throws -> Double {
        let g = scanner.geometry
        let slotBytes = g.lookbehindBytes + g.chunkBytes
        var items: [WorkItem] = []
        for slot in 0..<g.chunkSlots {
            for k in 0..<g.segmentsPerChunk {
                let first = (slot * slotBytes + g.lookbehindBytes + k * g.segmentBytes) / 4
                items.append(WorkItem(opcode: ScanKernel.opcode, args: [UInt32(first), 0, UInt32(min(g.segmentBytes, g.chunkBytes - k * g.segmentBytes)), UInt32(slot * g.segmentsPerChunk + k), 0]))
            }
        }
        let perRound = g.chunkSlots * g.chunkBytes
        let rounds = max(2, bytes / perRound)
        let kernel = scanner.kernel
        let batch = items
        let start = ContinuousClock.now
        try Blocking.wait { () async throws(ResidentError) in
            let failure = FirstError()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        for _ in 0..<(rounds / 2) {
                            do throws(ResidentError) { _ = try await kernel.submit(batch) } catch { failure.record(error); return }
                        }
                    }
                }
            }
            if let error = failure.error { throw error }
        }
        return Double(rounds / 2 * 2 * perRound) / ((ContinuousClock.now - start).ms / 1000) / 1e6
    }

    private func printText(_ r: Report) throws {
        try Output.line("bench scan on \(r.device): \(r.bytes >> 20) MiB of page-cached text")
        for row in r.rows {
            try Output.line("\(row.patterns) patterns (kernel build \(String(format: "%.2f", row.kernelBuildSeconds)) s; chunk \(row.geometry.chunkBytes >> 10) KiB, segment \(row.geometry.segmentBytes >> 10) KiB, \(row.geometry.workgroups)x\(row.geometry.lanes) lanes):")
            for t in row.tools {
                let name = t.tool.padding(toLength: 8, withPad: " ", startingAt: 0)
                try Output.line("  \(name)" + String(format: " p50 %8.3f s  p99 %8.3f s  %9.1f MB/s", t.p50Seconds, t.p99Seconds, t.megabytesPerSecond) + "  count \(t.count.map { "\($0)" } ?? "-")")
            }
            let rg = row.overRipgrep.map { String(format: ", over ripgrep %.2fx", $0) } ?? ""
            try Output.line(String(format: "  scan over grep %.2fx", row.overGrep) + rg + String(format: "; feed alone %.0f MB/s, kernel alone %.0f MB/s", row.feedOnlyMegabytesPerSecond, row.kernelOnlyMegabytesPerSecond)
                            + " (reads: \(row.feed["backend"] ?? "")\(row.feed["fixedBuffers"] == "true" ? ", fixed buffers" : ""))")
        }
    }
}

/// The first error of several tasks.
private final class FirstError: Sendable {
    private let first = Mutex<ResidentError?>(nil)
    func record(_ error: ResidentError) { first.withLock { $0 = $0 ?? error } }
    var error: ResidentError? { first.withLock { $0 } }
}
