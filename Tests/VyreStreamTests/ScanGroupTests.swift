import Foundation
import Testing
import VyreConformance
import VyreGL
@testable import VyreStream
import VyreTesting

/// Scans shared across two llvmpipe contexts (as `scan --devices 0,0` runs them), with parts small
/// enough that files are cut: the counts are grep's and one scanner's, whatever each device took.
@Suite("Scan group", .serialized)
struct ScanGroupTests {
    @Test("a file's parts cover it once, in byte order, on 4 KiB boundaries; the last runs to wherever the file ends")
    func partsCoverEachFileOnce() {
        let sizes: [UInt64] = [0, 4095, 8191, 8192, 8193, 1 << 20, 10_000_000, 5 << 30]
        for devices in 1...4 {
            for minimum: UInt64 in [4096, 64 << 20] {
                // Each size twice: as a regular file, and as one that cannot be read in parts.
                let files = sizes.map { ($0, true) } + sizes.map { ($0, false) }
                let parts = ScanGroup.parts(files: files, devices: devices, minimum: minimum)
                for (file, (size, splittable)) in files.enumerated() {
                    let mine = parts.filter { $0.file == file }
                    #expect(mine.reduce(0) { $0 + $1.length } == size, "\(size) bytes on \(devices) devices")
                    guard devices > 1, splittable, size >= 2 * minimum else {
                        #expect(mine.count == 1 && mine[0].bytes == nil)
                        continue
                    }
                    var next: UInt64 = 0
                    for part in mine {
                        let bytes = part.bytes!
                        #expect(bytes.lowerBound == next && bytes.lowerBound % 4096 == 0 && part.length >= 1)
                        next = bytes.upperBound
                    }
                    #expect(next == .max && mine.count >= 2 && mine.dropLast().allSatisfy { $0.length >= minimum })
                }
            }
        }
    }

    @Test("the plan follows symbolic links, and cuts neither devices, FIFOs nor files of /proc; it opens nothing")
    func plans() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.file("f", [UInt8](repeating: 97, count: 10_000))
        let link = dir.url.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        let fifo = dir.url.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(FeedSource.plan(file)! == (10_000, true) && FeedSource.plan(link)! == (10_000, true))
        #expect(FeedSource.plan("/dev/null")?.splittable == false && FeedSource.plan(fifo)?.splittable == false)
        #expect(FeedSource.plan("/proc/self/status")?.splittable == false)
        #expect(FeedSource.plan(dir.url.appendingPathComponent("missing").path) == nil)
    }

    @Test("parts that saw different sizes make the file's error, not a count")
    func partsOfAChangedFile() {
        var a = ScanFileResult(path: "f", lines: 1, bytes: 8192)
        a.scanned = 0..<4096
        var b = ScanFileResult(path: "f", lines: 1, bytes: 9000)
        b.scanned = 4096..<9000
        let joined = ScanGroup.joined([a, b], path: "f")
        #expect(joined.error?.kind == .changed(size: 8192, then: 9000) && joined.error?.brief == "file changed while read")
        #expect(joined.error?.diagnostics.first?.fix.isEmpty == false)
    }

    @Test("files cut into 4 KiB parts across two contexts count as grep and one scanner count them, pattern occurrences too",
          arguments: [false, true])
    func partsAcrossTwoContexts(emptyPattern: Bool) async throws {
        let dir = try TemporaryDirectory()
        var files = try shapedFiles(in: dir)
        var rng = SystemRandomNumberGenerator()
        let (big, given) = corpus(&rng, seed: 77, bytes: 150_000, patterns: 30, nul: false)
        files.append((try dir.file("big", big), big))
        // Through a symbolic link too: planned by the file it names.
        let link = dir.url.appendingPathComponent("big-link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: files[files.count - 1].path)
        files.append((link, big))
        // An empty pattern matches every line: its count comes from the joined files, not the parts.
        let patterns = emptyPattern ? LiteralPatterns([[], Array("ba\r".utf8)]) : LiteralPatterns(given.patterns + [Array("aba".utf8)])
        let patternFile = try dir.file("patterns", Array(patterns.patterns.joined(separator: [10])) + [10])
        let options = ScanOptions(chunkBytes: 4096, segmentBytes: 256, chunkSlots: 4, queueDepth: 2, countPatterns: true)
        let group = try ScanGroup(contexts: try GLContext.open(.list([.index(0), .index(0)])), patterns: patterns, options: options,
                                  minimumPartBytes: 4096)
        let (report, shares) = try await group.scan(files.map(\.path))
        await group.shutdown()
        let planned = ScanGroup.parts(files: files.map { FeedSource.plan($0.path)! }, devices: 2, minimum: 4096)
        #expect(planned.filter { $0.file == files.count - 1 }.count >= 7 && shares.reduce(0, +) == planned.count)
        let single = try LiteralScanner(context: SharedDevice.context, patterns: patterns, options: options)
        let alone = try await single.scan(files.map(\.path))
        await single.shutdown()
        let grep = try grepCounts(patterns: patternFile, files: files.map(\.path))
        for (i, file) in files.enumerated() {
            #expect(report.files[i].error == nil && report.files[i].path == file.path)
            #expect(report.files[i].lines == naiveCount(file.bytes, patterns), "\(file.path) against the model")
            #expect(report.files[i].lines == grep[i] && report.files[i].lines == alone.files[i].lines, "\(file.path)")
            #expect(report.files[i].bytes == UInt64(file.bytes.count))
        }
        #expect(report.patternCounts == alone.patternCounts && report.bytes == alone.bytes)
    }
}
