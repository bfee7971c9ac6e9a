import Crypto
public import VyreIR
import Foundation
public import Logging
public import CoreMetrics
import Synchronization
import OrderedCollections

/// Linked program binaries kept across contexts and processes, so a program the driver has
/// compiled once loads in a fraction of the time (`glProgramBinary`) instead of compiling again.
///
/// Two layers: a bounded in-memory layer in front of files in a directory, one per program. An
/// entry's key is a SHA-256 of the GLSL the program lowered to (which carries the IR program's
/// content hash and everything the lowering assumed) and the driver's identity: vendor, renderer,
/// GL version and vyre-gl's version, so a driver update or a new vyre-gl never loads an old
/// binary. Files are written whole to a temporary file and renamed into place, carry their key and
/// a SHA-256 of the binary, and are read as strictly as the wire format: a missing, truncated,
/// corrupt or foreign file is a miss (logged at debug), removed and later replaced, never an
/// error. The directory is kept under ``maxDiskBytes`` by removing the least recently used files
/// (a hit touches its file).
///
/// Safe to share between contexts and threads.
public final class ProgramBinaryCache: Sendable {
    /// Where the files go; nil for a cache kept in memory only.
    public var directoryPath: String? { directory?.path }
    let directory: URL?
    /// The most bytes of files the directory keeps.
    public let maxDiskBytes: Int
    /// The most bytes of binaries the in-memory layer keeps.
    public let maxMemoryBytes: Int
    let logger: Logger

    private let memory = Mutex(MemoryLayer())
    private let counters = Counters()

    /// Where hits, misses and rejected files are counted (`vyre_gl_program_cache_*_total`); nil
    /// counts through swift-metrics' bootstrapped backend, looked up when counting, so a cache
    /// made before the process bootstraps one still reaches it.
    let metricsFactory: (any MetricsFactory)?

    /// A cache in the directory at `path` (created when the first file is written), or in memory
    /// only when `path` is nil.
    public init(path: String?, maxDiskBytes: Int = 256 << 20, maxMemoryBytes: Int = 64 << 20, logger: Logger = Logger(label: "vyre-gl"),
                metricsFactory: (any MetricsFactory)? = nil) {
        self.metricsFactory = metricsFactory
        self.directory = path.map { URL(fileURLWithPath: $0, isDirectory: true) }
        self.maxDiskBytes = max(0, maxDiskBytes)
        self.maxMemoryBytes = max(0, maxMemoryBytes)
        self.logger = logger
    }

    /// The directory the environment names: `VYRE_GL_CACHE_DIR`, else `$XDG_CACHE_HOME/vyre-gl`,
    /// else `$HOME/.cache/vyre-gl`; nil when none of them is set.
    public static func defaultPath(environment: [String: String]) -> String? {
        if let dir = environment["VYRE_GL_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/vyre-gl" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/vyre-gl" }
        return nil
    }

    /// ``defaultPath(environment:)`` of this process's environment.
    public static var defaultPath: String? { defaultPath(environment: ProcessInfo.processInfo.environment) }

    /// The cache every context uses unless told otherwise: in ``defaultPath``.
    public static let shared = ProgramBinaryCache(path: defaultPath)

    /// A binary the driver gave for a linked program, in the driver's own format.
    public struct Binary: Sendable, Hashable {
        public var format: UInt32
        public var bytes: [UInt8]
        public init(format: UInt32, bytes: [UInt8]) {
            self.format = format
            self.bytes = bytes
        }
    }

    /// An entry's name: a SHA-256 of the GLSL and the driver's identity.
    public struct Key: Sendable, Hashable, CustomStringConvertible {
        public let digest: [UInt8]

        /// The key of `source` compiled by the driver `identity` names.
        public init(source: String, identity: DriverIdentity) {
            var hash = SHA256()
            for field in [identity.vendor, identity.renderer, identity.glVersion, identity.vyreGLVersion, source] {
                hash.update(data: Array(field.utf8))
                hash.update(data: [0])
            }
            digest = Array(hash.finalize())
        }

        public var description: String { digest.map { String(format: "%02x", $0) }.joined() }
    }

    /// Looks `key` up, in memory and then on disk. A file that fails any check is removed.
    public func load(_ key: Key) -> Binary? {
        if let hit = memory.withLock({ $0.get(key) }) {
            count(.hits)
            return hit
        }
        guard let url = fileURL(key), let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              attributes[.type] as? FileAttributeType == .typeRegular else {
            count(.misses)
            return nil
        }
        // A file larger than any the cache writes is refused unread: a huge stray file costs a
        // stat, not its size in memory.
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let decoded: Result<Binary, BinaryFile.Problem>
        if size > maxDiskBytes + BinaryFile.headerBytes {
            decoded = .failure(.tooLarge(bytes: size))
        } else if let data = try? Data(contentsOf: url) {
            decoded = BinaryFile.decode(Array(data), key: key)
        } else {
            count(.misses)
            return nil
        }
        switch decoded {
        case .success(let binary):
            count(.hits)
            // Touched, so eviction sees it as recently used.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: url.path)
            remember(key, binary)
            return binary
        case .failure(let problem):
            count(.misses)
            count(.rejected)
            logger.debug("program binary cache: unusable file, removed; the program compiles again", metadata: ["file": "\(url.path)", "problem": "\(problem)"])
            if Self.isRegularFile(url) { try? FileManager.default.removeItem(at: url) }
            return nil
        }
    }

    /// Keeps `binary` under `key`, in memory and on disk; a failed write is logged at debug.
    public func store(_ key: Key, _ binary: Binary) {
        remember(key, binary)
        guard let directory, let url = fileURL(key), binary.bytes.count <= maxDiskBytes else { return }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // `.atomic` writes a temporary file beside it and renames it into place.
            try Data(BinaryFile.encode(binary, key: key)).write(to: url, options: .atomic)
            counters.stored.add(1, ordering: .relaxed)
        } catch {
            logger.debug("program binary cache: write failed", metadata: ["file": "\(url.path)", "error": "\(error)"])
            return
        }
        evict()
    }

    /// Forgets `key` (a binary the driver refused to load).
    public func remove(_ key: Key) {
        _ = memory.withLock { $0.remove(key) }
        if let url = fileURL(key), Self.isRegularFile(url) { try? FileManager.default.removeItem(at: url) }
    }

    /// What the cache holds and how it was used in this process.
    public struct Statistics: Sendable, Hashable, Codable {
        /// The directory, or nil for a memory-only cache.
        public var directory: String?
        public var files: Int
        public var bytes: Int
        public var maxBytes: Int
        public var memoryEntries: Int
        public var memoryBytes: Int
        /// Loads served from memory or disk since the cache was made.
        public var hits: Int
        public var misses: Int
        /// Files refused (truncated, corrupt, foreign, another version) and removed.
        public var rejected: Int
        /// Files written.
        public var stored: Int
    }

    /// The cache's contents and this process's counts.
    public func statistics() -> Statistics {
        let files = diskFiles()
        let (entries, bytes) = memory.withLock { ($0.order.count, $0.bytes) }
        return Statistics(directory: directory?.path, files: files.count, bytes: files.reduce(0) { $0 + $1.bytes }, maxBytes: maxDiskBytes,
                          memoryEntries: entries, memoryBytes: bytes, hits: counters.hits.load(ordering: .relaxed),
                          misses: counters.misses.load(ordering: .relaxed), rejected: counters.rejected.load(ordering: .relaxed),
                          stored: counters.stored.load(ordering: .relaxed))
    }

    /// Why the directory cannot hold entries, with a Fix; nil when it can (or does not exist yet
    /// under a parent that does: the first store makes it). Loading and storing never fail on
    /// this, they only miss; `vyre-gl cache stats` shows it so a misspelt `VYRE_GL_CACHE_DIR` is seen.
    public func directoryProblem() -> Diagnostic? {
        guard let directory else { return nil }
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                return Diagnostic("'\(directory.path)' is not a directory, so nothing is cached", fix: "point VYRE_GL_CACHE_DIR at a directory, or remove that file")
            }
            guard manager.isWritableFile(atPath: directory.path) else {
                return Diagnostic("'\(directory.path)' is not writable, so nothing new is cached", fix: "give this user write permission there, or point VYRE_GL_CACHE_DIR elsewhere")
            }
            return nil
        }
        // Made on the first store, with any missing parents: it needs a writable ancestor.
        var ancestor = directory.deletingLastPathComponent()
        while !manager.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), ancestor.path != "/" {
            ancestor = ancestor.deletingLastPathComponent()
        }
        guard isDirectory.boolValue, manager.isWritableFile(atPath: ancestor.path) else {
            return Diagnostic("'\(directory.path)' does not exist and cannot be made under '\(ancestor.path)', so nothing is cached", fix: "create it, or point VYRE_GL_CACHE_DIR at a writable directory")
        }
        return nil
    }

    /// Removes every entry, in memory and on disk; returns how many files went. Other files in
    /// the directory are left alone.
    @discardableResult
    public func clear() throws(CacheError) -> Int {
        memory.withLock { $0 = MemoryLayer() }
        var removed = 0
        for file in diskFiles() {
            do { try FileManager.default.removeItem(at: file.url) } catch {
                throw CacheError(path: file.url.path, reason: error.localizedDescription)
            }
            removed += 1
        }
        return removed
    }

    /// A cache file could not be removed.
    public struct CacheError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        /// What happened, without the fix.
        public var problem: String { "could not remove the cached program binary \(path): \(reason)" }
        public var fix: String { "check that the cache directory is writable by this user, or point VYRE_GL_CACHE_DIR at one that is" }
        public var description: String { "\(problem). Fix: \(fix)." }
    }

    // MARK: internals

    static let fileExtension = "vpb"

    private func fileURL(_ key: Key) -> URL? {
        directory?.appendingPathComponent("\(key).\(Self.fileExtension)")
    }

    /// Whether `url` names a regular file (not a link, directory, device or pipe).
    static func isRegularFile(_ url: URL) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType == .typeRegular
    }

    private func remember(_ key: Key, _ binary: Binary) {
        let limit = maxMemoryBytes
        memory.withLock { $0.put(key, binary, limit: limit) }
    }

    private func diskFiles() -> [(url: URL, bytes: Int, used: Date)] {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        // Only regular files are entries: a directory or a link that happens to carry the
        // extension is not the cache's to count or remove.
        return names.filter { $0.hasSuffix(".\(Self.fileExtension)") }.compactMap { name in
            let url = directory.appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { return nil }
            return (url, (attributes[.size] as? NSNumber)?.intValue ?? 0, attributes[.modificationDate] as? Date ?? .distantPast)
        }
    }

    /// Removes the least recently used files until the directory holds at most ``maxDiskBytes``.
    private func evict() {
        var files = diskFiles()
        var total = files.reduce(0) { $0 + $1.bytes }
        guard total > maxDiskBytes else { return }
        files.sort { $0.used < $1.used }
        for file in files where total > maxDiskBytes {
            try? FileManager.default.removeItem(at: file.url)
            total -= file.bytes
        }
    }

    private enum Event: String { case hits, misses, rejected }

    /// Counts one event in this process's statistics and as a metric.
    private func count(_ event: Event) {
        switch event {
        case .hits: counters.hits.add(1, ordering: .relaxed)
        case .misses: counters.misses.add(1, ordering: .relaxed)
        case .rejected: counters.rejected.add(1, ordering: .relaxed)
        }
        Counter(label: "vyre_gl_program_cache_\(event.rawValue)_total", factory: metricsFactory ?? MetricsSystem.factory).increment()
    }

    private final class Counters: Sendable {
        let hits = Atomic<Int>(0)
        let misses = Atomic<Int>(0)
        let rejected = Atomic<Int>(0)
        let stored = Atomic<Int>(0)
    }

    /// The in-memory layer: least recently used first.
    private struct MemoryLayer {
        var order = OrderedDictionary<Key, Binary>()
        var bytes = 0

        mutating func get(_ key: Key) -> Binary? {
            guard let binary = order.removeValue(forKey: key) else { return nil }
            order[key] = binary
            return binary
        }

        mutating func put(_ key: Key, _ binary: Binary, limit: Int) {
            remove(key)
            guard binary.bytes.count <= limit else { return }
            order[key] = binary
            bytes += binary.bytes.count
            while bytes > limit, let oldest = order.keys.first { remove(oldest) }
        }

        @discardableResult
        mutating func remove(_ key: Key) -> Binary? {
            guard let binary = order.removeValue(forKey: key) else { return nil }
            bytes -= binary.bytes.count
            return binary
        }
    }
}

/// What names the driver a binary came from.
public struct DriverIdentity: Sendable, Hashable, Codable {
    public var vendor: String
    public var renderer: String
    public var glVersion: String
    public var vyreGLVersion: String

    public init(vendor: String, renderer: String, glVersion: String, vyreGLVersion: String = VyreGLVersion.string) {
        self.vendor = vendor
        self.renderer = renderer
        self.glVersion = glVersion
        self.vyreGLVersion = vyreGLVersion
    }
}

/// vyre-gl's version, as the CLI prints it and program binaries are keyed by.
public enum VyreGLVersion {
    public static let string = "0.1.0"
}

/// The file format of one cached binary: a fixed header, then the driver's bytes.
///
/// `VYREGLPB` (8 bytes), the format version (u32, little-endian), the driver's binary format (u32),
/// the binary's length (u64), the entry's key (32 bytes), a SHA-256 of everything before it and the
/// binary (32 bytes), the binary. The checksum catches damage, not forgery: like the drivers' own
/// caches, the cache trusts whoever can write its directory.
enum BinaryFile {
    static let magic = Array("VYREGLPB".utf8)
    static let version: UInt32 = 1
    static let headerBytes = 8 + 4 + 4 + 8 + 32 + 32

    enum Problem: Error, CustomStringConvertible {
        case truncated(Int), tooLarge(bytes: Int), notACacheFile, otherVersion(UInt32), foreign, lengthMismatch, checksum
        var description: String {
            switch self {
            case .tooLarge(let n): "\(n) bytes, more than the cache ever writes (left unread)"
            case .truncated(let n): "\(n) bytes, shorter than the header"
            case .notACacheFile: "not a vyre-gl program binary file"
            case .otherVersion(let v): "format version \(v), this build reads \(BinaryFile.version)"
            case .foreign: "written for another key"
            case .lengthMismatch: "the length in the header does not match the file"
            case .checksum: "the checksum does not match"
            }
        }
    }

    static func encode(_ binary: ProgramBinaryCache.Binary, key: ProgramBinaryCache.Key) -> [UInt8] {
        var out = magic
        out.reserveCapacity(headerBytes + binary.bytes.count)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        append(version)
        append(binary.format)
        append(UInt64(binary.bytes.count))
        out += key.digest
        out += checksum(header: out, binary: binary.bytes)
        out += binary.bytes
        return out
    }

    static func checksum(header: [UInt8], binary: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: header)
        hash.update(data: binary)
        return Array(hash.finalize())
    }

    static func decode(_ bytes: [UInt8], key: ProgramBinaryCache.Key) -> Result<ProgramBinaryCache.Binary, Problem> {
        guard bytes.count >= headerBytes else { return .failure(.truncated(bytes.count)) }
        guard Array(bytes[0..<8]) == magic else { return .failure(.notACacheFile) }
        func read<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
            var v: T = 0
            for i in 0..<MemoryLayout<T>.size { v |= T(bytes[offset + i]) << (8 * i) }
            return v
        }
        let version = read(UInt32.self, at: 8)
        guard version == Self.version else { return .failure(.otherVersion(version)) }
        let format = read(UInt32.self, at: 12)
        let length = read(UInt64.self, at: 16)
        guard Array(bytes[24..<56]) == key.digest else { return .failure(.foreign) }
        guard length == UInt64(bytes.count - headerBytes) else { return .failure(.lengthMismatch) }
        let payload = Array(bytes[headerBytes...])
        guard checksum(header: Array(bytes[0..<56]), binary: payload) == Array(bytes[56..<88]) else { return .failure(.checksum) }
        return .success(ProgramBinaryCache.Binary(format: format, bytes: payload))
    }
}
