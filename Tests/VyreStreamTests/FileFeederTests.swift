import Foundation
import Testing
@testable import VyreStream

/// A directory of test files, removed at the end.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Bytes that differ at every offset, so a chunk read from the wrong place shows.
func patterned(_ count: Int, seed: UInt32) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: (UInt32($0) &* 2_654_435_761 &+ seed) >> 13) }
}

/// Runs a feeder to its end, checking every chunk's bytes against the files and releasing it.
func feedAll(_ paths: [String], contents: [[UInt8]?], options: FeedOptions, slots: Int,
             onChunk: (FeedChunk) -> Void = { _ in }) async throws -> (chunks: [FeedChunk], events: [FeedEvent], report: FeedReport) {
    try await feedAll(sources: paths.map { FeedSource(path: $0) }, contents: contents, options: options, slots: slots, onChunk: onChunk)
}

/// The same for whole files or parts of them.
func feedAll(sources: [FeedSource], contents: [[UInt8]?], options: FeedOptions, slots: Int,
             onChunk: (FeedChunk) -> Void = { _ in }) async throws -> (chunks: [FeedChunk], events: [FeedEvent], report: FeedReport) {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: options.slotBytes * slots, alignment: 4096)
    defer { memory.deallocate() }
    let chunkMemory = ChunkMemory(base: memory, slotBytes: options.slotBytes, slots: slots)
    let feeder = try FileFeeder(sources: sources, memory: chunkMemory, options: options)
    var chunks: [FeedChunk] = []
    var events: [FeedEvent] = []
    var held = Set<Int>()
    for await event in feeder.events {
        events.append(event)
        guard case .chunk(let c) = event else { continue }
        if c.isHole {
            chunks.append(c)
            continue
        }
        #expect(held.insert(c.slot).inserted, "slot \(c.slot) handed out twice without a release")
        if let bytes = contents[c.file] {
            let start = Int(c.offset) - c.lookbehind
            let got = Array(UnsafeRawBufferPointer(start: chunkMemory.slot(c.slot), count: c.lookbehind + c.length))
            #expect(got == Array(bytes[start..<(Int(c.offset) + c.length)]), "file \(c.file) chunk \(c.index)")
        }
        chunks.append(c)
        onChunk(c)
        held.remove(c.slot)
        feeder.release(slot: c.slot)
    }
    return (chunks, events, feeder.report)
}

@Suite("File feeder")
struct FileFeederTests {
    static let sizes = [0, 1, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 5, 40_000]

    /// Every chunk of every file arrives once, with its lookbehind, in whatever order.
    func checkCoverage(_ options: FeedOptions, slots: Int) async throws -> FeedReport {
        let dir = try TemporaryDirectory()
        let contents = Self.sizes.enumerated().map { patterned($1, seed: UInt32($0)) }
        let paths = try contents.enumerated().map { try dir.file("f\($0)", $1) }
        let (chunks, events, report) = try await feedAll(paths, contents: contents, options: options, slots: slots)
        for (i, bytes) in contents.enumerated() {
            let expected = (bytes.count + options.chunkBytes - 1) / options.chunkBytes
            let mine = chunks.filter { $0.file == i }
            #expect(Set(mine.map(\.index)) == Set(0..<expected) && mine.count == expected, "file \(i)")
            #expect(mine.reduce(0) { $0 + $1.length } == bytes.count)
            #expect(events.contains(.opened(FeedFile(file: i, size: UInt64(bytes.count), chunks: expected))))
        }
        #expect(report.bytes == UInt64(Self.sizes.reduce(0, +)) && report.failedFiles == 0 && report.files == Self.sizes.count)
        return report
    }

    @Test("io_uring reads every chunk once, lookbehind included")
    func ioUring() async throws {
        let report = try await checkCoverage(FeedOptions(chunkBytes: 4096, queueDepth: 3, lookbehind: 9), slots: 4)
        #expect(report.backend == "io_uring" || report.notes.contains { $0.contains("io_uring is unavailable") })
    }

    @Test("parts of files: each part's chunks cover its bytes once, the first with the bytes before it as lookbehind")
    func parts() async throws {
        let dir = try TemporaryDirectory()
        let bytes = patterned(40_000, seed: 3)
        let path = try dir.file("f", bytes)
        let parts: [Range<UInt64>] = [0..<8192, 8192..<20_480, 20_480..<UInt64.max, 36_864..<36_864, 45_056..<49_152, 4096..<4097]
        for direct in [false, true] {
            let options = FeedOptions(chunkBytes: 4096, queueDepth: 3, lookbehind: 9, direct: direct)
            let sources = parts.map { FeedSource(path: path, bytes: $0) } + [FeedSource(path: "/dev/null", bytes: 0..<4096)]
            let (chunks, events, report) = try await feedAll(sources: sources, contents: Array(repeating: bytes, count: parts.count) + [nil],
                                                             options: options, slots: 4)
            for (i, part) in parts.enumerated() {
                let cut = min(part.lowerBound, 40_000)..<min(part.upperBound, 40_000)
                let mine = chunks.filter { $0.file == i }.sorted { $0.index < $1.index }
                let expected = (cut.count + 4095) / 4096
                #expect(events.contains(.opened(FeedFile(file: i, size: 40_000, chunks: expected, bytes: cut))), "part \(part)")
                #expect(mine.map(\.index) == Array(0..<expected) && mine.reduce(0) { $0 + $1.length } == cut.count, "part \(part)")
                #expect(mine.first.map { $0.offset == cut.lowerBound && $0.lookbehind == min(Int(cut.lowerBound), options.lookbehindBytes) } ?? true)
            }
            // Only a regular file has parts.
            #expect(events.contains(.failed(file: parts.count, FeedFileError(path: "/dev/null", kind: .notRegular))))
            #expect(report.failedFiles == 1)
        }
        // A part must start on a multiple of 4096.
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 4096)
        defer { memory.deallocate() }
        #expect(throws: FeedError.self) {
            _ = try FileFeeder(sources: [FeedSource(path: path, bytes: 100..<4096)], memory: ChunkMemory(base: memory, slotBytes: 8192, slots: 1),
                               options: FeedOptions(chunkBytes: 4096))
        }
    }

    @Test("short reads are submitted again and reordered completions are taken")
    func shortReads() async throws {
        var options = FeedOptions(chunkBytes: 4096, queueDepth: 4, lookbehind: 100)
        options.simulatedShortReads = 1000
        let report = try await checkCoverage(options, slots: 5)
        #expect(report.shortReads > 0)
    }

    @Test("pread when io_uring is off, one slot")
    func pread() async throws {
        let report = try await checkCoverage(FeedOptions(chunkBytes: 8192, queueDepth: 1, lookbehind: 4096, ioUring: false), slots: 1)
        #expect(report.backend == "pread")
    }

    @Test("a read the memory refuses goes through a bounce buffer, and the report says so")
    func bounce() async throws {
        var options = FeedOptions(chunkBytes: 4096, queueDepth: 2)
        options.simulatedFault = true
        let report = try await checkCoverage(options, slots: 3)
        #expect(report.bounced && report.bytesCopied > 0 && report.notes.contains { $0.contains("EFAULT") })
    }

    @Test("O_DIRECT reads, or the file system's refusal reported")
    func direct() async throws {
        let report = try await checkCoverage(FeedOptions(chunkBytes: 8192, queueDepth: 2, lookbehind: 10, direct: true), slots: 3)
        #expect(report.direct)
    }

    @Test("missing files, directories and a file that shrinks fail alone; the others are read")
    func fileErrors() async throws {
        let dir = try TemporaryDirectory()
        let good = patterned(10_000, seed: 1)
        let shrinking = patterned(3 * 4096, seed: 2)
        let paths = [dir.url.appendingPathComponent("missing").path, try dir.file("good", good), dir.url.path, try dir.file("shrinks", shrinking), try dir.file("good2", good)]
        let (chunks, events, report) = try await feedAll(paths, contents: [nil, good, nil, nil, good], options: FeedOptions(chunkBytes: 4096, queueDepth: 1), slots: 1) { chunk in
            // One slot: the shrinking file's next chunk is read only after this one is released.
            if chunk.file == 3 && chunk.index == 0 { truncate(paths[3], 4096) }
        }
        var failures: [Int: FeedFileError.Kind] = [:]
        for case .failed(let file, let e) in events { failures[file] = e.kind }
        #expect(failures.count == 3)
        if case .system(let errno, let name, _) = failures[0] { #expect(errno == 2 && name == "ENOENT") } else { Issue.record("missing: \(String(describing: failures[0]))") }
        #expect(failures[2] == .isDirectory)
        #expect(failures[3] == .shrank(size: 3 * 4096, read: 4096))
        #expect(chunks.filter { $0.file == 1 }.count == 3 && chunks.filter { $0.file == 4 }.count == 3)
        #expect(report.failedFiles == 3)
    }

    /// FIFOs written in uneven pieces (short reads), /proc and /dev/null, among regular files:
    /// each read front to back into full chunks, the lookbehind carried from the chunk before,
    /// `opened` with the size and chunk count once the end is reached.
    @Test("streams: FIFOs, /proc and /dev/null read to their end", arguments: [true, false])
    func streams(ioUring: Bool) async throws {
        let dir = try TemporaryDirectory()
        let sizes = [0, 5, 4096, 4096 * 3 + 17, 40_000]
        let contents = sizes.enumerated().map { patterned($1, seed: UInt32(40 + $0)) }
        var paths: [String] = []
        for (i, bytes) in contents.enumerated() {
            let path = dir.url.appendingPathComponent("fifo\(i)").path
            #expect(mkfifo(path, 0o600) == 0)
            paths.append(path)
            // The writer blocks in open until the feeder opens the FIFO, then writes in pieces of
            // 1 to 3,000 bytes, so reads come back short.
            let writer = Thread {
                let fd = open(path, O_WRONLY)
                var at = 0, piece = 1
                while at < bytes.count {
                    let n = min(piece, bytes.count - at)
                    _ = bytes[at..<(at + n)].withUnsafeBytes { write(fd, $0.baseAddress, n) }
                    at += n
                    piece = piece * 7 % 3001 + 1
                }
                close(fd)
            }
            writer.start()
        }
        let regular = patterned(9000, seed: 9)
        paths.insert(try dir.file("regular", regular), at: 2)
        var all: [[UInt8]?] = contents
        all.insert(regular, at: 2)
        let proc = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/proc/version")))
        paths += ["/proc/version", "/dev/null"]
        all += [proc, []]
        let (chunks, events, report) = try await feedAll(paths, contents: all, options: FeedOptions(chunkBytes: 4096, queueDepth: 3, lookbehind: 11, ioUring: ioUring), slots: 2)
        for (i, bytes) in all.enumerated() {
            let expected = (bytes!.count + 4095) / 4096
            let mine = chunks.filter { $0.file == i }
            #expect(Set(mine.map(\.index)) == Set(0..<expected) && mine.count == expected, "file \(i)")
            #expect(events.contains(.opened(FeedFile(file: i, size: UInt64(bytes!.count), chunks: expected))), "file \(i)")
        }
        #expect(report.streams == sizes.count + 2 && report.failedFiles == 0)
    }

    @Test("offsets past 4 GiB in a sparse file, its holes not read")
    func sparse() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.url.appendingPathComponent("sparse").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let marker = Data("past four gibibytes".utf8)
        try handle.seek(toOffset: (9 << 29) + 3)
        try handle.write(contentsOf: marker)
        try handle.truncate(atOffset: 5 << 30)
        try handle.close()
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 8 * (1 << 20), alignment: 4096)
        defer { memory.deallocate() }
        let feeder = try FileFeeder(paths: [path], memory: ChunkMemory(base: memory, slotBytes: 1 << 20, slots: 8),
                                    options: FeedOptions(chunkBytes: 1 << 20, queueDepth: 4))
        var found = false
        var bytes: UInt64 = 0
        var read = 0
        for await event in feeder.events {
            guard case .chunk(let c) = event else { continue }
            bytes += UInt64(c.length)
            if c.isHole { continue }
            read += 1
            if c.offset == 9 << 29 {
                found = Data(bytes: memory + c.slot * (1 << 20) + 3, count: marker.count) == marker
            }
            feeder.release(slot: c.slot)
        }
        #expect(found && bytes == 5 << 30)
        // The marker's chunk (and the next one, whose lookbehind holds its end) are read; the holes are not.
        #expect(read <= 2 && feeder.report.holeChunks == 5120 - read)
    }
}

private func truncate(_ path: String, _ size: UInt64) {
    let handle = FileHandle(forWritingAtPath: path)!
    try! handle.truncate(atOffset: size)
    try! handle.close()
}
