public import VyreIR
import CURing

/// How a ``FileFeeder`` reads.
public struct FeedOptions: Sendable, Hashable {
    /// Bytes of a file each chunk holds (the last chunk of a file holds the rest): a multiple of
    /// 4,096, at least 4,096.
    public var chunkBytes: Int
    /// Reads in flight at once (1 to 4,096).
    public var queueDepth: Int
    /// Bytes of the file before a chunk that the chunk's slot holds in front of it (rounded up to
    /// the read alignment), so a matcher sees what crosses the boundary; the first chunk has none.
    public var lookbehind: Int
    /// Reads with `O_DIRECT` (around the page cache). A file system that refuses it (tmpfs) gets
    /// buffered reads, and the report says so.
    public var direct: Bool
    /// Registers the slots with io_uring as fixed buffers when the kernel accepts the memory;
    /// where it does not (a driver's mapping it cannot pin), reads go into the slots unregistered.
    public var fixedBuffers: Bool
    /// Reads through io_uring; false (or a kernel without it) reads with `pread` on the feeder's
    /// thread, one read at a time.
    public var ioUring: Bool
    /// Test seam: serve reads with `pread` at most this many bytes at a time (short reads), with
    /// completions in a shuffled order.
    var simulatedShortReads: Int?
    /// Test seam: serve reads with `pread`, the first one failing with EFAULT.
    var simulatedFault = false

    /// 1 MiB chunks, 16 reads in flight, no lookbehind, buffered io_uring reads into fixed buffers.
    public init(chunkBytes: Int = 1 << 20, queueDepth: Int = 16, lookbehind: Int = 0, direct: Bool = false,
                fixedBuffers: Bool = true, ioUring: Bool = true) {
        self.chunkBytes = chunkBytes
        self.queueDepth = queueDepth
        self.lookbehind = lookbehind
        self.direct = direct
        self.fixedBuffers = fixedBuffers
        self.ioUring = ioUring
    }

    /// What a read's start, length and target must be a multiple of: a page with `O_DIRECT`
    /// (every common logical block size divides it), a word otherwise, so a chunk's bytes start on
    /// a word of a GPU buffer.
    public var alignment: Int { direct ? 4096 : 4 }
    /// The lookbehind as read: rounded up to ``alignment``.
    public var lookbehindBytes: Int { (lookbehind + alignment - 1) / alignment * alignment }
    /// Bytes one slot of ``ChunkMemory`` needs: the lookbehind and a chunk.
    public var slotBytes: Int { lookbehindBytes + chunkBytes }

    func check() throws(FeedError) {
        if chunkBytes < 4096 || chunkBytes % 4096 != 0 || chunkBytes > 1 << 30 {
            throw .options("chunk size \(chunkBytes) bytes is not a multiple of 4096 from 4096 to 1 GiB", fix: "give a chunk size such as 1048576 (1 MiB)")
        }
        if queueDepth < 1 || queueDepth > 4096 {
            throw .options("queue depth \(queueDepth) is outside 1...4096", fix: "give a queue depth from 1 to 4096, such as 16")
        }
        if lookbehind < 0 || lookbehind > chunkBytes {
            throw .options("lookbehind \(lookbehind) bytes is outside 0...chunk size (\(chunkBytes))", fix: "give a lookbehind no larger than a chunk")
        }
    }
}

/// The memory a feeder reads into: `slots` slots of `slotBytes` bytes from `base`, reused as a
/// ring (a GL buffer's persistent mapping, or any memory the caller keeps alive).
public struct ChunkMemory: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let slotBytes: Int
    public let slots: Int

    public init(base: UnsafeMutableRawPointer, slotBytes: Int, slots: Int) {
        self.base = base
        self.slotBytes = slotBytes
        self.slots = slots
    }

    /// The first byte of slot `slot`.
    public func slot(_ slot: Int) -> UnsafeMutableRawPointer { base + slot * slotBytes }
}

/// A file to read: all of it, or the bytes of one part, so that the parts of a large file can be
/// read (and scanned) apart, by several feeders at once.
public struct FeedSource: Sendable, Hashable {
    public var path: String
    /// The bytes to read, or nil for the whole file. The part starts on a multiple of 4,096 (so
    /// `O_DIRECT` reads stay aligned) and is cut at the file's end. Its first chunk has the bytes
    /// before it as lookbehind, as any chunk after a file's first. Only a regular file is read in
    /// parts: a part of anything else fails as ``FeedFileError/Kind/notRegular``.
    public var bytes: Range<UInt64>?

    public init(path: String, bytes: Range<UInt64>? = nil) {
        self.path = path
        self.bytes = bytes
    }
}

extension FeedSource {
    /// What can be planned from `path` before it is read: its size (through symbolic links) and
    /// whether it can be read in parts (a regular file whose size is its bytes: not a FIFO or a
    /// device, nor a file of proc, sysfs and the like). nil when it cannot be stat'd (its read
    /// says why). Nothing is opened: opening a FIFO could block.
    public static func plan(_ path: String) -> (size: UInt64, splittable: Bool)? {
        var info = vyre_file_info()
        guard vyre_file_stat(path, &info) == 0 else { return nil }
        return (info.size, info.kind == 1 && info.pseudo == 0)
    }
}

/// A file the feeder opened.
public struct FeedFile: Sendable, Hashable {
    /// Its index in the feeder's sources.
    public var file: Int
    public var size: UInt64
    /// Chunks it is read in (0 for an empty file or an empty part).
    public var chunks: Int
    /// The bytes read: all of the file, or the part its source asked for, cut at its end.
    public var bytes: Range<UInt64>

    public init(file: Int, size: UInt64, chunks: Int, bytes: Range<UInt64>? = nil) {
        self.file = file
        self.size = size
        self.chunks = chunks
        self.bytes = bytes ?? 0..<size
    }
}

/// A chunk read into its slot: the slot holds `lookbehind` bytes of the file before `offset`,
/// then `length` bytes from `offset`. Give the slot back with ``FileFeeder/release(slot:)`` once
/// nothing reads it any more. A chunk that lies in a hole of a sparse file is not read: its bytes
/// are all zero, it has no slot (`slot` is -1) and nothing to release.
public struct FeedChunk: Sendable, Hashable {
    public var file: Int
    /// Its index within the file, from 0; chunks arrive in any order.
    public var index: Int
    /// The slot of ``ChunkMemory`` that holds it.
    public var slot: Int
    /// The file offset of its first byte after the lookbehind.
    public var offset: UInt64
    public var lookbehind: Int
    public var length: Int
    /// The chunk and its lookbehind lie in a hole: all zero, not read, no slot.
    public var isHole: Bool { slot < 0 }
}

/// What a feeder reports, in the order it happened for each file: `opened` before its chunks
/// (for a stream, whose size is known only at its end, after them), `failed` after which no more
/// of its chunks come.
public enum FeedEvent: Sendable, Hashable {
    case opened(FeedFile)
    case chunk(FeedChunk)
    case failed(file: Int, FeedFileError)
}

/// Why one file could not be read. The other files are read on.
public struct FeedFileError: DiagnosticError, Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `open` or `read` failed with this errno.
        case system(errno: Int32, name: String, text: String)
        /// A directory was named (EISDIR).
        case isDirectory
        /// Not a regular file (a FIFO, a device): its size is not known in advance.
        case notRegular
        /// The file was `size` bytes when opened and ended at `read` bytes while it was read.
        case shrank(size: UInt64, read: UInt64)
        /// Its parts, read apart, saw different sizes: it changed while it was read.
        case changed(size: UInt64, then: UInt64)
    }
    public var path: String
    public var kind: Kind

    public var diagnostics: [Diagnostic] {
        switch kind {
        case .system(let errno, let name, let text):
            let fix = switch errno {
            case 2: "check the path"
            case 13, 1: "give this user read permission, or leave the file out"
            case 5: "the device reported an I/O error: check the disk (dmesg)"
            case 22: "the file system refused this read (O_DIRECT alignment?): try without --direct"
            default: "check the file"
            }
            return [Diagnostic("\(text) (\(name))", at: path, fix: fix)]
        case .isDirectory:
            return [Diagnostic("Is a directory", at: path, fix: "name the files inside it")]
        case .notRegular:
            return [Diagnostic("not a regular file (a FIFO, socket or device), whose size is not known before it is read", at: path, fix: "copy it to a regular file first")]
        case .shrank(let size, let read):
            return [Diagnostic("the file shrank while it was read: \(size) bytes when opened, \(read) read before its end", at: path, fix: "scan it again once nothing writes it")]
        case .changed(let size, let then):
            return [Diagnostic("the file changed size while its parts were read: \(size) bytes, then \(then)", at: path, fix: "scan it again once nothing writes it")]
        }
    }

    /// grep's words for the error (`No such file or directory`), without path or Fix.
    public var brief: String {
        switch kind {
        case .system(_, _, let text): text
        case .isDirectory: "Is a directory"
        case .notRegular: "not a regular file"
        case .shrank: "file shrank while read"
        case .changed: "file changed while read"
        }
    }
}

/// Why a feeder could not start.
public enum FeedError: DiagnosticError, Sendable {
    case options(String, fix: String)
    case memory(String, fix: String)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .options(let problem, let fix), .memory(let problem, let fix): [Diagnostic(problem, fix: fix)]
        }
    }
}

/// How a feeder read, and how much: whether the fast path held (fixed buffers, no copies) and,
/// where it did not, why.
public struct FeedReport: Sendable, Hashable {
    /// "io_uring" or "pread".
    public var backend: String = "io_uring"
    /// The slots were registered with io_uring as fixed buffers.
    public var fixedBuffers = false
    /// Reads went to a bounce buffer and were copied into the slots (the memory refused reads).
    public var bounced = false
    /// Reads used O_DIRECT.
    public var direct = false
    /// Why a faster path was not taken, one line each.
    public var notes: [String] = []
    /// File bytes delivered in chunks (lookbehinds not counted).
    public var bytes: UInt64 = 0
    /// Bytes the reads returned (lookbehinds and retries counted).
    public var bytesRead: UInt64 = 0
    /// Bytes copied from the bounce buffer.
    public var bytesCopied: UInt64 = 0
    public var reads = 0
    /// Reads that returned less than asked and were submitted again for the rest.
    public var shortReads = 0
    public var chunks = 0
    /// Chunks in holes of sparse files, not read (their bytes are zero).
    public var holeChunks = 0
    public var files = 0
    /// Files read as streams: their size was not known before their end (a pipe, a FIFO, a
    /// character device, a /proc file that says 0 bytes).
    public var streams = 0
    public var failedFiles = 0

    public init() {}
}

extension FeedFileError.Kind {
    /// A failed system call's errno, with the system's name and text for it.
    static func system(_ errno: Int32) -> Self {
        .system(errno: errno, name: String(cString: vyre_errno_name(errno)), text: String(cString: vyre_errno_text(errno)))
    }
}
