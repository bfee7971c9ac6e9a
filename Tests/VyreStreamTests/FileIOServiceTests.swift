import Foundation
import Testing
import VyreConformance
import VyreGL
import VyreProtocol
import VyreRuntime
@testable import VyreStream

/// The file IO service alone (requests as a resident kernel would make them, into plain memory),
/// through io_uring, `pread`, and simulated short and reordered operations; then LOAD_MISS end to
/// end on llvmpipe.
@Suite(.serialized)
struct FileIOServiceTests {
    static let backends: [FileIOService.Options] = [FileIOService.Options(), FileIOService.Options(ioUring: false),
                                                    FileIOService.Options(queueDepth: 4, simulatedShortIO: 7)]

    /// Serves one request and waits for its outcome.
    static func serve(_ service: FileIOService, _ kind: IORequest.Kind, file: UInt32, offset: UInt64 = 0,
                      memory: UnsafeMutableRawBufferPointer?) async -> IOOutcome {
        let request = IORequest(kind: kind, file: file, region: 1, offset: offset, bytes: memory?.count ?? 0, slot: 0)
        nonisolated(unsafe) let m = memory
        return await withCheckedContinuation { c in service.serve(request, memory: m) { c.resume(returning: $0) } }
    }

    @Test(arguments: backends)
    func readsWritesAndFencesMoveTheRightBytes(options: FileIOService.Options) async throws {
        let dir = try TemporaryDirectory()
        let data = patterned(10_000, seed: 3)
        let service = FileIOService(options: options)
        defer { service.close() }
        let input = try service.register(path: try dir.file("in.bin", data))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4000, alignment: 64)
        defer { buffer.deallocate() }
        // Reads at odd offsets, many at once: each request gets its own bytes, whatever the order.
        let outcomes = await withTaskGroup(of: (Int, IOOutcome).self) { group in
            for k in 0..<8 {
                let part = UnsafeMutableRawBufferPointer(rebasing: buffer[(k * 500)..<((k + 1) * 500)])
                nonisolated(unsafe) let p = part
                group.addTask { (k, await Self.serve(service, .read, file: input, offset: UInt64(k * 1111 + 3), memory: p)) }
            }
            var all: [Int: IOOutcome] = [:]
            for await (k, o) in group { all[k] = o }
            return all
        }
        for k in 0..<8 {
            #expect(outcomes[k] == .completed(bytes: 500))
            #expect(Array(buffer[(k * 500)..<((k + 1) * 500)]) == Array(data[(k * 1111 + 3)..<(k * 1111 + 503)]), "read \(k)")
        }
        // Past the end: the bytes that are there.
        let tail = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1000])
        #expect(await Self.serve(service, .read, file: input, offset: 9500, memory: tail) == .completed(bytes: 500))
        #expect(Array(buffer[0..<500]) == Array(data[9500...]))
        // A write, a fence on its file and one on every file; then the file holds the bytes.
        let outPath = dir.url.appendingPathComponent("out.bin").path
        let output = try service.register(path: outPath, access: .create)
        let source = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<3000])
        for i in 0..<3000 { source[i] = UInt8(truncatingIfNeeded: i &* 7) }
        #expect(await Self.serve(service, .write, file: output, offset: 100, memory: source) == .completed(bytes: 3000))
        #expect(await Self.serve(service, .fence, file: output, memory: nil) == .completed(bytes: 0))
        #expect(await Self.serve(service, .fence, file: 0, memory: nil) == .completed(bytes: 0))
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: outPath)))
        #expect(written.count == 3100 && written[0..<100].allSatisfy { $0 == 0 } && Array(written[100...]) == Array(source))
        let report = service.report
        #expect(report.failed == 0 && report.bytesRead == 4500 && report.bytesWritten == 3000)
        if options.simulatedShortIO != nil { #expect(report.resubmitted > 0) }
        if options.ioUring && options.simulatedShortIO == nil, case .success = ioUringProbe() { #expect(report.backend == "io_uring") }
    }

    @Test func badHandlesAndFilesFailWithTheirErrno() async throws {
        let dir = try TemporaryDirectory()
        let service = FileIOService()
        defer { service.close() }
        let readOnly = try service.register(path: try dir.file("a.bin", patterned(64, seed: 1)))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
        defer { buffer.deallocate() }
        func errno(_ o: IOOutcome) -> Int32? {
            if case .failed(let f) = o, f.description.contains("Fix: ") { return f.errno }
            return nil
        }
        #expect(errno(await Self.serve(service, .read, file: 99, memory: buffer)) == 9)
        #expect(errno(await Self.serve(service, .write, file: readOnly, memory: buffer)) == 9)
        #expect(throws: FeedFileError.self) { _ = try service.register(path: dir.url.appendingPathComponent("missing").path) }
        #expect(throws: FeedFileError(path: dir.url.path, kind: .isDirectory)) { _ = try service.register(path: dir.url.path) }
        #expect(throws: FeedFileError.self) { _ = try service.register(path: "/dev/null") }
        service.unregister(readOnly)
        #expect(errno(await Self.serve(service, .read, file: readOnly, memory: buffer)) == 9)
        service.close()
        let late = try? service.register(path: try dir.file("b.bin", [1]))
        #expect(errno(await Self.serve(service, .read, file: late ?? 1, memory: buffer)) == 9)
        #expect(service.report.failed == 4)
    }

    /// LOAD_MISS on llvmpipe: 64 reads of a file into the control buffer at once (the whole IO
    /// queue), a later op reading what they brought; a WRITE back out and a FENCE; a request for
    /// an unregistered file faulting with its errno.
    @Test func loadMissReadsAndWritesFilesThroughTheResidentKernel() async throws {
        let dir = try TemporaryDirectory()
        let words = 64 * 16
        let data = patterned(words * 4, seed: 9)
        let service = FileIOService()
        defer { service.close() }
        let input = try service.register(path: try dir.file("table.bin", data))
        let outPath = dir.url.appendingPathComponent("copy.bin").path
        let output = try service.register(path: outPath, access: .create)
        let base = 1024
        let regions = (0..<64).map { IORegion(buffer: "control", byteOffset: (base + $0 * 16) * 4, bytes: 64) }
            + [IORegion(buffer: "control", byteOffset: base * 4, bytes: words * 4)]
        let kernel = try ResidentMegakernel(context: SharedDevice.context, configuration: MegakernelConfiguration(workgroupSize: 32),
                                            options: ResidentOptions(slots: 256, controlWords: base + words + 64, workgroups: 2, rounds: 4,
                                                                     linger: .microseconds(200), ioRegions: regions),
                                            io: service)
        typealias IO = RingProtocol.IO
        // Region r + 1 gets the file's 64 bytes at 64 * (63 - r): the control buffer ends up holding
        // the file's 64-byte blocks in reverse order.
        var reads: [WorkItem] = []
        for r in 0..<64 {
            let args: [UInt32] = [IO.read, input, UInt32(r + 1), UInt32(64 * (63 - r)), 0, 64]
            reads.append(WorkItem(.loadMiss, args: args))
        }
        let completions: [Completion] = try await kernel.submit(reads)
        #expect(completions.allSatisfy { $0.status == .done && $0.io == .completed(bytes: 64) })
        for r in 0..<64 {
            let expected = (0..<16).map { w in data.withUnsafeBytes { $0.load(fromByteOffset: 64 * (63 - r) + 4 * w, as: UInt32.self) } }
            #expect((0..<16).map { kernel.controlWord(base + r * 16 + $0) } == expected, "region \(r + 1)")
        }
        let load = try await kernel.submit(WorkItem(.loadU32, args: [UInt32(base + 5), 0]))
        #expect(load.observed[0] == kernel.controlWord(base + 5))
        let write = try await kernel.submit(WorkItem(.loadMiss, args: [IO.write, 65, output, 0, 0, UInt32(words * 4)]))
        #expect(write.status == .done && write.io == .completed(bytes: words * 4))
        #expect(try await kernel.submit(WorkItem(.loadMiss, args: [IO.fence, 0, output])).status == .done)
        let copy = try [UInt8](Data(contentsOf: URL(fileURLWithPath: outPath)))
        let blocks = stride(from: 63, through: 0, by: -1).flatMap { data[(64 * $0)..<(64 * $0 + 64)] }
        #expect(copy == blocks)
        let missing = try await kernel.submit(WorkItem(.loadMiss, args: [IO.read, 77, 1, 0, 0, 64]))
        #expect(missing.status == .fault && missing.faultReason == FaultReason.ioFailed.rawValue)
        if case .failed(let f)? = missing.io { #expect(f.errno == 9) } else { Issue.record("no failure: \(missing)") }
        await kernel.shutdown(.drain)
    }
}
