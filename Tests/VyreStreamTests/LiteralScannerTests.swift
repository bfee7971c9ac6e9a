import Foundation
import Testing
import VyreConformance
import VyreStream
import VyreTesting

/// GNU grep's answer, from the grep on this machine: `LC_ALL=C grep -F -c -f PATTERNS FILE` per file.
func grepCounts(patterns: String, files: [String]) throws -> [UInt64?] {
    try files.map { file in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["grep", "-F", "-c", "-f", patterns, file]
        process.environment = ["LC_ALL": "C", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return UInt64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Test corpora: the shapes the scan must get right, each as a file.
func shapedFiles(in dir: TemporaryDirectory) throws -> [(path: String, bytes: [UInt8])] {
    var rng = SystemRandomNumberGenerator()
    var files: [(String, [UInt8])] = []
    func add(_ name: String, _ bytes: [UInt8]) throws { files.append((try dir.file(name, bytes), bytes)) }
    try add("empty", [])
    try add("no-final-newline", Array("abab\nxx aba\nlast abab".utf8))
    try add("crlf", Array("ab\r\naba\r\n\r\nba\r\nb".utf8))
    try add("nul", Array("ab\0aba\nzz\0\0ab\n\0".utf8))
    try add("high-bytes", [0xC3, 0xA9, 0x0A, 0x80, 0xFF, 0x61, 0x62, 0x0A, 0xC3, 0xA9, 0xC3, 0xA9])
    for (i, size) in [1, 4095, 4096, 4097, 9000, 20_000].enumerated() {
        try add("random\(i)", corpus(&rng, seed: UInt64(100 + i), bytes: size, patterns: 1, nul: i == 3).0)
    }
    // One line across many chunks, with matches only where chunks meet.
    var long = [UInt8](repeating: UInt8(ascii: "x"), count: 5 * 4096 + 17)
    for boundary in stride(from: 4096, to: long.count, by: 4096) { long.replaceSubrange((boundary - 2)..<(boundary + 1), with: Array("aba".utf8)) }
    try add("long-line", long)
    var lines = [UInt8](repeating: UInt8(ascii: "y"), count: 3 * 4096)
    for boundary in stride(from: 4096, to: lines.count, by: 4096) {
        lines.replaceSubrange((boundary - 1)..<(boundary + 1), with: Array("ab".utf8))
        lines[boundary - 40] = 10
    }
    try add("boundary-lines", lines)
    return files
}

@Suite("Literal scanner", .serialized)
struct LiteralScannerTests {
    static let shapes = ["ab", "aba", "abab", "b", "ba\r", "\u{e9}", "aaa", "\u{ff}a"]

    /// Scans `files` with `patterns` under `options` and checks every count against grep and the plain model.
    func check(_ patterns: [String], options: ScanOptions, files: [(path: String, bytes: [UInt8])], dir: TemporaryDirectory) async throws {
        let given = LiteralPatterns(patterns.map { Array($0.utf8) })
        let patternFile = try dir.file("patterns-\(patterns.count)", Array((patterns.joined(separator: "\n") + "\n").utf8))
        let scanner = try LiteralScanner(context: SharedDevice.context, patterns: given, options: options)
        let report = try await scanner.scan(files.map(\.path))
        await scanner.shutdown()
        let grep = try grepCounts(patterns: patternFile, files: files.map(\.path))
        for (i, file) in files.enumerated() {
            #expect(report.files[i].error == nil)
            #expect(report.files[i].lines == naiveCount(file.bytes, given), "\(file.path) against the model")
            #expect(grep[i] == report.files[i].lines, "\(file.path) against grep")
        }
    }

    @Test("every shape agrees with grep when chunks are 4 KiB and segments 64 bytes, the table in shared memory or not",
          arguments: TableMemory.allCases)
    func smallGeometry(table: TableMemory) async throws {
        let dir = try TemporaryDirectory()
        var options = ScanOptions(chunkBytes: 4096, segmentBytes: 64, chunkSlots: 3, queueDepth: 2)
        options.tableMemory = table
        try await check(Self.shapes, options: options, files: try shapedFiles(in: dir), dir: dir)
        // A match across every segment boundary, split there at each of its inner positions, one per line:
        // found only if each segment starts from the bytes before it.
        var split = [UInt8](repeating: UInt8(ascii: "."), count: 3 * 4096 + 100)
        for boundary in stride(from: 64, to: split.count - 64, by: 64) {
            let start = boundary - 1 - (boundary / 64) % 4
            split.replaceSubrange(start..<(start + 5), with: Array("xyzzy".utf8))
            split[boundary + 40] = 10
        }
        try await check(["xyzzy"], options: options, files: [(try dir.file("split", split), split)], dir: dir)
    }

    @Test("one pattern, 1,000 patterns and an empty pattern agree with grep at the default geometry")
    func patternCounts() async throws {
        let dir = try TemporaryDirectory()
        let files = try shapedFiles(in: dir)
        var g = SeededRandom(seed: 9)
        let thousand = (0..<1000).map { _ in String((0..<(2 + Int(g.next() % 5))).map { _ in "abcxy\r".randomElement(using: &g)! }) }
        try await check(["aba"], options: ScanOptions(), files: files, dir: dir)
        try await check(thousand, options: ScanOptions(chunkBytes: 8192, segmentBytes: 1024), files: files, dir: dir)
        var shared = ScanOptions(chunkBytes: 8192, segmentBytes: 1024)
        shared.tableMemory = .shared
        // As many as fit GL 4.3's minimum of shared memory.
        try await check(Array(thousand.prefix(200)), options: shared, files: files, dir: dir)
        try await check(["", "zz"], options: ScanOptions(chunkBytes: 4096, segmentBytes: 256), files: files, dir: dir)
    }

    @Test("pattern occurrences, overlaps included, across segments")
    func occurrencesCounted() async throws {
        let dir = try TemporaryDirectory()
        let files = try shapedFiles(in: dir)
        let patterns = LiteralPatterns(Self.shapes.map { Array($0.utf8) } + [Array("ab".utf8), Array("a\0b".utf8)])
        let scanner = try LiteralScanner(context: SharedDevice.context, patterns: patterns, options: ScanOptions(chunkBytes: 4096, segmentBytes: 96, countPatterns: true))
        let report = try await scanner.scan(files.map(\.path))
        await scanner.shutdown()
        for (i, p) in patterns.patterns.enumerated() {
            let expected = files.map { file in file.bytes.split(separator: 0, omittingEmptySubsequences: false).map { occurrences(Array($0), p) }.reduce(0, +) }.reduce(0, +)
            #expect(report.patternCounts?[i] == UInt64(expected), "pattern \(p)")
        }
    }

    @Test("missing files and directories are reported while the others are counted")
    func errors() async throws {
        let dir = try TemporaryDirectory()
        let good = try dir.file("good", Array("ab\nzz\nab\n".utf8))
        let scanner = try LiteralScanner(context: SharedDevice.context, patterns: LiteralPatterns([Array("ab".utf8)]))
        let report = try await scanner.scan([dir.url.appendingPathComponent("missing").path, good, dir.url.path, good])
        await scanner.shutdown()
        #expect(report.files.map(\.lines) == [0, 2, 0, 2])
        #expect(report.files[0].error?.brief == "No such file or directory" && report.files[2].error?.kind == .isDirectory)
        #expect(report.files[1].error == nil && report.files[3].error == nil)
    }

    @Test("a sparse 5 GiB file: lines at its start, past 4 GiB and at its end; the holes are lines of NUL")
    func sparse() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.url.appendingPathComponent("sparse").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let text = Data("needle one\nno\nneedle two needle\n".utf8)
        let offsets: [UInt64] = [0, (9 << 29) + 4093, (5 << 30) - UInt64(text.count)]
        for offset in offsets {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: text)
        }
        try handle.truncate(atOffset: 5 << 30)
        try handle.close()
        let cases: [([String], UInt64)] = [(["needle"], 6), (["", "x"], UInt64(5 << 30) - 3 * UInt64(text.count) + 9)]
        for (patterns, expected) in cases {
            let scanner = try LiteralScanner(context: SharedDevice.context, patterns: LiteralPatterns(patterns.map { Array($0.utf8) }))
            let report = try await scanner.scan([path])
            await scanner.shutdown()
            #expect(report.files[0].lines == expected, "\(patterns)")
            #expect(report.bytes == 5 << 30 && report.feed.holeChunks > 0)
        }
    }
}
