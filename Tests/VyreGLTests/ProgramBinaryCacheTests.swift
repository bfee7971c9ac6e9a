import Foundation
import MetricsTestKit
import Testing
import VyreGL
import VyreIR

/// The program binary cache: a new context loads what another compiled, every kind of damaged
/// file is compiled again and replaced (never an error), and the directory keeps its bound by
/// removing the least recently used files.
struct ProgramBinaryCacheTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vyre-gl-cache-\(UUID().uuidString)").path
    }

    static func files(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".vpb") }.sorted()
    }

    /// Loops a number of trips that depends on the lane, so a wrong program gives other words.
    static func program(_ multiplier: UInt32) -> Program {
        Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 64)], workgroupSize: WorkgroupSize(64)) {
            Node.let("n", 0)
            Node.for("k", from: 0, to: Expr.localIndex + 3) { Node.assign("n", "n" + "k" * .u32(multiplier)) }
            Node.store("out", at: .localIndex, "n")
        }
    }

    /// Builds `program` on `context` and checks its results against the interpreter.
    static func build(_ program: Program, on context: GLContext, sourceLocation: SourceLocation = #_sourceLocation) throws -> (fromCache: Bool, source: String) {
        let pipeline = try context.makePipeline(program)
        let gpu = try context.run(pipeline, grid: WorkgroupSize(1), buffers: [:]).buffers
        let reference = try Interpreter().run(program, grid: WorkgroupSize(1), buffers: [:]).buffers
        #expect(gpu == reference, sourceLocation: sourceLocation)
        return (pipeline.fromCache, pipeline.lowered.source)
    }

    @Test func aNewContextLoadsWhatAnotherCompiled() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try GLContext(programCache: ProgramBinaryCache(path: path))
        guard first.info.programBinaryFormats > 0 else {
            // The driver keeps no binaries (Mesa with its shader cache disabled): everything
            // compiles, and nothing is written.
            #expect(try !Self.build(Self.program(7), on: first).fromCache)
            #expect(Self.files(path).isEmpty)
            return
        }
        #expect(try !Self.build(Self.program(7), on: first).fromCache)
        #expect(Self.files(path).count == 1)
        // The same context, again: from the memory layer.
        #expect(try Self.build(Self.program(7), on: first).fromCache)
        // A new context with a new cache object on the same directory: from disk.
        let cache = ProgramBinaryCache(path: path)
        let second = try GLContext(programCache: cache)
        #expect(try Self.build(Self.program(7), on: second).fromCache)
        #expect(cache.statistics().hits == 1)
        // Another program is another entry.
        #expect(try !Self.build(Self.program(9), on: second).fromCache)
        #expect(Self.files(path).count == 2)
        // No cache: always compiled.
        let none = try GLContext(programCache: nil)
        #expect(try !Self.build(Self.program(7), on: none).fromCache)
    }

    enum Damage: CaseIterable {
        case empty, garbage, truncatedHeader, truncatedBinary, flippedBinaryByte, flippedChecksum, otherVersion, foreignFile, rewrittenKey, refusedByDriver, hugeSparse
    }

    @Test func everyDamagedFileIsCompiledAgainAndReplaced() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // No memory layer, so every build reads the file.
        let cache = ProgramBinaryCache(path: path, maxMemoryBytes: 0)
        let context = try GLContext(programCache: cache)
        guard context.info.programBinaryFormats > 0 else { return }
        let (_, source) = try Self.build(Self.program(5), on: context)
        _ = try Self.build(Self.program(11), on: context)
        let key = ProgramBinaryCache.Key(source: source, identity: context.driverIdentity)
        let file = URL(fileURLWithPath: path).appendingPathComponent("\(key).vpb")
        let other = Self.files(path).map { URL(fileURLWithPath: path).appendingPathComponent($0) }.first { $0 != file }!
        let good = try Data(contentsOf: file)
        #expect(try Self.build(Self.program(5), on: context).fromCache)
        for damage in Damage.allCases {
            var bytes = [UInt8](good)
            switch damage {
            case .empty: bytes = []
            case .garbage: bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            case .truncatedHeader: bytes = Array(bytes.prefix(40))
            case .truncatedBinary: bytes.removeLast(7)
            case .flippedBinaryByte: bytes[bytes.count - 1] ^= 0x40
            case .flippedChecksum: bytes[60] ^= 1
            case .otherVersion: bytes[8] = 2
            case .foreignFile: bytes = [UInt8](try Data(contentsOf: other))
            case .rewrittenKey:
                // Another program's file with this entry's key written into its header.
                bytes = [UInt8](try Data(contentsOf: other))
                bytes.replaceSubrange(24..<56, with: key.digest)
            case .refusedByDriver:
                // A well-formed file whose binary the driver cannot load.
                cache.store(key, ProgramBinaryCache.Binary(format: 0x1234, bytes: Array(repeating: 0xAB, count: 512)))
                bytes = [UInt8](try Data(contentsOf: file))
            case .hugeSparse: break
            }
            try Data(bytes).write(to: file)
            if damage == .hugeSparse {
                // 64 GiB of holes: refused from its size, since reading it would exhaust memory.
                let handle = try FileHandle(forWritingTo: file)
                try handle.truncate(atOffset: 1 << 36)
                try handle.close()
            }
            let rejectedBefore = cache.statistics().rejected
            #expect(try !Self.build(Self.program(5), on: context).fromCache, "\(damage)")
            if damage != .refusedByDriver { #expect(cache.statistics().rejected == rejectedBefore + 1, "\(damage)") }
            // Replaced by the compile: the next build loads it.
            #expect(try Self.build(Self.program(5), on: context).fromCache, "\(damage)")
        }
    }

    @Test func theDirectoryKeepsItsBoundByRemovingTheLeastRecentlyUsed() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let identity = DriverIdentity(vendor: "v", renderer: "r", glVersion: "4.3")
        let keys = (0..<4).map { ProgramBinaryCache.Key(source: "program \($0)", identity: identity) }
        let binary = ProgramBinaryCache.Binary(format: 1, bytes: Array(repeating: 7, count: 1000))
        // Room for three files (each 1,000 bytes plus its header).
        let writer = ProgramBinaryCache(path: path, maxDiskBytes: 3_300, maxMemoryBytes: 0)
        for key in keys.prefix(3) { writer.store(key, binary) }
        #expect(Self.files(path).count == 3)
        // Ages set by hand: 0 oldest. Then 0 is used, so 1 is the least recently used.
        for (i, key) in keys.prefix(3).enumerated() {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: Double(i) * 10 - 100)],
                                                  ofItemAtPath: "\(path)/\(key).vpb")
        }
        #expect(writer.load(keys[0]) == binary)
        writer.store(keys[3], binary)
        #expect(Self.files(path) == [keys[0], keys[2], keys[3]].map { "\($0).vpb" }.sorted())
        #expect(writer.statistics().bytes <= 3_300)
        // A binary larger than the whole bound is kept in memory only.
        let big = ProgramBinaryCache(path: path, maxDiskBytes: 3_300)
        let huge = ProgramBinaryCache.Binary(format: 1, bytes: Array(repeating: 1, count: 5_000))
        let hugeKey = ProgramBinaryCache.Key(source: "huge", identity: identity)
        big.store(hugeKey, huge)
        #expect(big.load(hugeKey) == huge)
        #expect(!Self.files(path).contains("\(hugeKey).vpb"))
    }

    /// Only regular files are entries: a directory, or a link, named like one is neither counted,
    /// loaded, nor removed (by `clear` or by eviction).
    @Test func onlyRegularFilesAreEntries() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let identity = DriverIdentity(vendor: "v", renderer: "r", glVersion: "4.3")
        let key = ProgramBinaryCache.Key(source: "p", identity: identity)
        let keep = "\(path)/photos.vpb/sub"
        try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: "\(keep)/p.txt"))
        try FileManager.default.createDirectory(atPath: "\(path)/\(key).vpb", withIntermediateDirectories: true)
        let target = "\(path)/target.txt"
        try Data("target".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: "\(path)/link.vpb", withDestinationPath: target)
        let cache = ProgramBinaryCache(path: path, maxDiskBytes: 1_000, maxMemoryBytes: 0)
        #expect(cache.load(key) == nil)
        // Over the bound, eviction runs: it may remove only the regular file it wrote.
        for name in ["q", "r"] {
            cache.store(ProgramBinaryCache.Key(source: name, identity: identity), ProgramBinaryCache.Binary(format: 1, bytes: Array(repeating: 3, count: 450)))
        }
        #expect(cache.statistics().files == 1)
        #expect(try cache.clear() == 1)
        #expect(FileManager.default.fileExists(atPath: "\(keep)/p.txt"))
        #expect(FileManager.default.fileExists(atPath: "\(path)/\(key).vpb"))
        #expect(FileManager.default.fileExists(atPath: target))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(path)/link.vpb")) == target)
    }

    @Test func theKeyNamesTheDriverAndTheVersion() {
        let base = DriverIdentity(vendor: "Mesa", renderer: "llvmpipe", glVersion: "4.5 (Core Profile) Mesa 22.3.6")
        let key = ProgramBinaryCache.Key(source: "s", identity: base)
        var renderer = base
        renderer.renderer = "llvmpipe (LLVM 16)"
        var version = base
        version.vyreGLVersion = "9.9.9"
        var driver = base
        driver.glVersion = "4.5 (Core Profile) Mesa 23.0"
        for other in [renderer, version, driver] { #expect(ProgramBinaryCache.Key(source: "s", identity: other) != key) }
        #expect(ProgramBinaryCache.Key(source: "t", identity: base) != key)
        // Fields cannot run into each other.
        var shifted = base
        shifted.vendor = "Mesal"
        shifted.renderer = "lvmpipe"
        #expect(ProgramBinaryCache.Key(source: "s", identity: shifted) != key)
    }

    /// Hits, misses and rejected files, as metrics.
    @Test func hitsMissesAndRejectionsAreCounted() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metrics = TestMetrics()
        let cache = ProgramBinaryCache(path: path, maxMemoryBytes: 0, metricsFactory: metrics)
        let key = ProgramBinaryCache.Key(source: "m", identity: DriverIdentity(vendor: "v", renderer: "r", glVersion: "g"))
        #expect(cache.load(key) == nil)
        cache.store(key, ProgramBinaryCache.Binary(format: 1, bytes: [1, 2, 3]))
        #expect(cache.load(key) != nil)
        try Data([0, 1, 2]).write(to: URL(fileURLWithPath: "\(path)/\(key).vpb"))
        #expect(cache.load(key) == nil)
        #expect(metrics.counterTotal(label: "vyre_gl_program_cache_hits_total") == 1)
        #expect(metrics.counterTotal(label: "vyre_gl_program_cache_misses_total") == 2)
        #expect(metrics.counterTotal(label: "vyre_gl_program_cache_rejected_total") == 1)
    }

    @Test func theEnvironmentNamesTheDirectory() {
        #expect(ProgramBinaryCache.defaultPath(environment: ["VYRE_GL_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/c"]) == "/a")
        #expect(ProgramBinaryCache.defaultPath(environment: ["XDG_CACHE_HOME": "/b", "HOME": "/c"]) == "/b/vyre-gl")
        // XDG requires an absolute path; a relative one is ignored.
        #expect(ProgramBinaryCache.defaultPath(environment: ["XDG_CACHE_HOME": "rel", "HOME": "/c"]) == "/c/.cache/vyre-gl")
        #expect(ProgramBinaryCache.defaultPath(environment: [:]) == nil)
        let memoryOnly = ProgramBinaryCache(path: nil)
        let key = ProgramBinaryCache.Key(source: "x", identity: DriverIdentity(vendor: "v", renderer: "r", glVersion: "g"))
        memoryOnly.store(key, ProgramBinaryCache.Binary(format: 2, bytes: [1, 2, 3]))
        #expect(memoryOnly.load(key)?.bytes == [1, 2, 3])
        #expect(memoryOnly.statistics().directory == nil)
    }
}
