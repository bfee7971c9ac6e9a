import CURing

/// The feeder's state machine, run on the feeder's thread: opens files in order, keeps up to
/// ``FeedOptions/queueDepth`` reads in flight into free slots, and turns completions into events.
final class FeedReader: @unchecked Sendable {
    private let sources: [FeedSource]
    private let memory: ChunkMemory
    private let options: FeedOptions
    private var report = FeedReport()
    private var backend: any IOBackend = PreadBackend()
    private var fixed = false
    /// `queueDepth` bounce slots once a read into the chunk memory failed with EFAULT.
    private var bounce: UnsafeMutableRawPointer?
    private var bounceFree: [Int] = []

    private struct OpenFile {
        var fd: Int32
        var size: UInt64
        /// The bytes read: chunk `i` starts at `base + i * chunkBytes` and none reaches past `end`.
        var base: UInt64 = 0
        var end: UInt64 = 0
        var chunks: Int
        var nextChunk = 0
        var outstanding = 0
        var failed = false
        var direct: Bool
        /// It takes fewer blocks than its size: chunks that lie in holes are not read.
        var sparse: Bool
        /// The first offset known to hold data (a hole ends there).
        var dataFrom: UInt64 = 0
        /// Its size is not known before its end (a pipe, FIFO, character device, or a /proc file
        /// that says 0 bytes): read front to back, one read at a time, each chunk filled before the
        /// next, its lookbehind copied from the chunk before.
        var stream = false
        /// A stream's end was reached.
        var ended = false
        /// A stream's last `lookbehindBytes` bytes so far.
        var tail: [UInt8] = []
    }
    private var files: [Int: OpenFile] = [:]
    /// The next path to open, and the open file chunks are being taken from.
    private var cursor = 0
    private var current: Int?

    private struct Read {
        var chunk: FeedChunk
        /// File offset the read starts at (the lookbehind's first byte).
        var start: UInt64
        /// Bytes that must arrive, and bytes asked for (rounded up to a block with O_DIRECT).
        var need: Int
        var request: Int
        var done = 0
        var bounceIndex: Int?
        /// The descriptor it was last issued on.
        var fd: Int32 = -1
    }
    private var inflight: [UInt64: Read] = [:]
    private var nextID: UInt64 = 1
    private var freeSlots: [Int]
    private var emit: (FeedEvent) -> Void = { _ in }

    init(sources: [FeedSource], memory: ChunkMemory, options: FeedOptions) {
        self.sources = sources
        self.memory = memory
        self.options = options
        freeSlots = Array((0..<memory.slots).reversed())
    }

    deinit { bounce?.deallocate() }

    func run(feeder: FileFeeder, emit: @escaping (FeedEvent) -> Void) {
        self.emit = emit
        setUpBackend()
        var stopping = false
        var completions: [(id: UInt64, result: Int)] = []
        while true {
            let (released, cancelled) = feeder.takeReleased()
            freeSlots += released
            stopping = stopping || cancelled
            if !stopping { fill() }
            if inflight.isEmpty {
                if stopping || (cursor == sources.count && current == nil) { break }
                feeder.waitForRelease()
                continue
            }
            completions.removeAll(keepingCapacity: true)
            do {
                try backend.reap(waitFor: 1, into: &completions)
            } catch {
                // Not seen in practice (liburing retries EINTR): fail what is in flight and stop.
                report.notes.append("\(error)")
                for (_, read) in inflight { fail(read.chunk.file, .system(errno: -error.errno, name: "", text: "\(error)")) }
                inflight.removeAll()
                break
            }
            for c in completions { complete(c.id, result: c.result, stopping: stopping) }
        }
        for (_, f) in files { vyre_file_close(f.fd) }
        files.removeAll()
        feeder.finish(with: report)
    }

    private func setUpBackend() {
        report.direct = options.direct
        if options.simulatedShortReads != nil || options.simulatedFault {
            backend = PreadBackend(maxRead: options.simulatedShortReads, faultFirst: options.simulatedFault)
        } else if options.ioUring {
            do {
                let uring = try UringBackend(depth: options.queueDepth)
                backend = uring
                if options.fixedBuffers {
                    if let errno = uring.register(memory) {
                        report.notes.append("the chunk memory could not be registered as io_uring fixed buffers (\(String(cString: vyre_errno_name(errno)))): reads go into it unregistered")
                    } else {
                        fixed = true
                    }
                }
            } catch {
                report.notes.append("io_uring is unavailable (\(error)): reading with pread")
            }
        }
        report.backend = backend.name
        report.fixedBuffers = fixed
    }

    // MARK: submitting

    private func fill() {
        while inflight.count < options.queueDepth, !freeSlots.isEmpty, let (file, chunk) = nextChunk() {
            if !skipHole(file: file, chunk: chunk) { submit(file: file, chunk: chunk, slot: freeSlots.removeLast()) }
        }
    }

    /// The next chunk to read, opening files in order as they are reached.
    private func nextChunk() -> (file: Int, chunk: Int)? {
        while true {
            if let f = current, var open = files[f] {
                if open.failed || open.ended || open.nextChunk >= open.chunks {
                    current = nil
                    closeIfDone(f)
                    continue
                }
                // A stream's next chunk starts where the last read ended: one in flight.
                if open.stream && open.outstanding > 0 { return nil }
                open.nextChunk += 1
                open.outstanding += 1
                files[f] = open
                return (f, open.nextChunk - 1)
            }
            guard cursor < sources.count else { return nil }
            cursor += 1
            openFile(cursor - 1)
        }
    }

    private func openFile(_ index: Int) {
        report.files += 1
        var info = vyre_file_info()
        var direct = options.direct
        var fd = vyre_file_open(sources[index].path, direct ? Int32(VYRE_OPEN_DIRECT) : 0, &info)
        if fd == -22 && direct {
            // tmpfs and some others refuse O_DIRECT outright.
            report.notes.append("\(sources[index].path): the file system refused O_DIRECT; read through the page cache")
            direct = false
            fd = vyre_file_open(sources[index].path, 0, &info)
        }
        if fd < 0 {
            report.failedFiles += 1
            emit(.failed(file: index, FeedFileError(path: sources[index].path, kind: fd == -21 ? .isDirectory : FeedFileError.Kind.system(-fd))))
            return
        }
        if info.kind == 2 {
            vyre_file_close(fd)
            report.failedFiles += 1
            emit(.failed(file: index, FeedFileError(path: sources[index].path, kind: .isDirectory)))
            return
        }
        // Files of /proc and /sys say 0 or 4096 bytes and hold others; elsewhere, a file that says
        // 0 and has a byte is one too (one read tells it from an empty file, which would otherwise
        // be counted as empty). They and files that are not regular (pipes, FIFOs, devices) are
        // read as streams, to their end.
        var byte: UInt8 = 0
        if info.kind != 1 || info.pseudo != 0 || (info.size == 0 && vyre_file_pread(fd, &byte, 1, 0) > 0) {
            // A part has no meaning without a size known in advance.
            if sources[index].bytes != nil {
                vyre_file_close(fd)
                report.failedFiles += 1
                emit(.failed(file: index, FeedFileError(path: sources[index].path, kind: .notRegular)))
                return
            }
            report.streams += 1
            files[index] = OpenFile(fd: fd, size: 0, chunks: Int.max, direct: false, sparse: false, stream: true)
            current = index
            return
        }
        let part = sources[index].bytes ?? 0..<info.size
        let bytes = Swift.min(part.lowerBound, info.size)..<Swift.min(part.upperBound, info.size)
        let chunks = Int((UInt64(bytes.count) + UInt64(options.chunkBytes) - 1) / UInt64(options.chunkBytes))
        emit(.opened(FeedFile(file: index, size: info.size, chunks: chunks, bytes: bytes)))
        if chunks == 0 {
            vyre_file_close(fd)
            return
        }
        files[index] = OpenFile(fd: fd, size: info.size, base: bytes.lowerBound, end: bytes.upperBound, chunks: chunks, direct: direct,
                                sparse: info.allocated < info.size)
        current = index
    }

    private func chunk(file: Int, index: Int, slot: Int) -> FeedChunk {
        let open = files[file]!
        let offset = open.base + UInt64(index) * UInt64(options.chunkBytes)
        // The bytes before the chunk, from the file: a part's first chunk has them too.
        let lookbehind = Int(Swift.min(UInt64(options.lookbehindBytes), offset))
        let length = Int(Swift.min(UInt64(options.chunkBytes), open.end &- offset))
        return FeedChunk(file: file, index: index, slot: slot, offset: offset, lookbehind: lookbehind, length: length)
    }

    private func submit(file: Int, chunk index: Int, slot: Int) {
        if files[file]!.stream {
            var chunk = chunk(file: file, index: index, slot: slot)
            chunk.lookbehind = files[file]!.tail.count
            chunk.length = options.chunkBytes
            return issue(Read(chunk: chunk, start: .max, need: chunk.lookbehind + chunk.length, request: chunk.lookbehind + chunk.length))
        }
        let chunk = chunk(file: file, index: index, slot: slot)
        let need = chunk.lookbehind + chunk.length
        issue(Read(chunk: chunk, start: chunk.offset - UInt64(chunk.lookbehind), need: need,
                   request: files[file]!.direct ? (need + 4095) / 4096 * 4096 : need))
    }

    /// Hands on a chunk of a sparse file that lies wholly in a hole without reading it (grep skips
    /// holes too); true if it did.
    private func skipHole(file: Int, chunk index: Int) -> Bool {
        guard files[file]!.sparse else { return false }
        let hole = chunk(file: file, index: index, slot: -1)
        let start = hole.offset - UInt64(hole.lookbehind)
        if start >= files[file]!.dataFrom {
            let next = vyre_file_next_data(files[file]!.fd, start, files[file]!.size)
            // An error here only costs the skip: the read that follows reports it.
            guard next >= 0 else { return false }
            files[file]!.dataFrom = UInt64(next)
        }
        guard hole.offset + UInt64(hole.length) <= files[file]!.dataFrom else { return false }
        report.holeChunks += 1
        report.bytes += UInt64(hole.length)
        emit(.chunk(hole))
        files[file]!.outstanding -= 1
        closeIfDone(file)
        return true
    }

    private func issue(_ read: Read) {
        var read = read
        let target: UnsafeMutableRawPointer
        if let bounce {
            if read.bounceIndex == nil { read.bounceIndex = bounceFree.removeLast() }
            target = bounce + read.bounceIndex! * memory.slotBytes
        } else {
            target = memory.slot(read.chunk.slot)
        }
        if read.start == .max && read.done < read.chunk.lookbehind {
            // A stream's lookbehind cannot be read again: the bytes before come from the last chunk.
            files[read.chunk.file]!.tail.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: read.chunk.lookbehind) }
            read.done = read.chunk.lookbehind
        }
        let id = nextID
        nextID += 1
        read.fd = files[read.chunk.file]!.fd
        inflight[id] = read
        // A stream reads at its current position (offset -1 to io_uring, read() to the fallback).
        backend.queue(IOSubmission(id: id, fd: read.fd, target: target + read.done, length: read.request - read.done,
                                  offset: read.start == .max ? .max : read.start + UInt64(read.done), fixedIndex: fixed && bounce == nil ? Int32(read.chunk.slot) : -1))
    }

    // MARK: completing

    private func complete(_ id: UInt64, result: Int, stopping: Bool) {
        guard var read = inflight.removeValue(forKey: id) else { return }
        report.reads += 1
        let file = read.chunk.file
        if result < 0 {
            switch Int32(-result) {
            case 4, 11:  // EINTR, EAGAIN: the kernel asks for the read again.
                issue(read)
            case 14 where bounce == nil:  // EFAULT: the memory refuses reads (a mapping the kernel cannot write).
                report.notes.append("reads into the chunk memory failed (EFAULT): reading into a bounce buffer and copying")
                report.bounced = true
                bounce = UnsafeMutableRawPointer.allocate(byteCount: options.queueDepth * memory.slotBytes, alignment: 4096)
                bounceFree = Array(0..<options.queueDepth)
                read.done = 0
                issue(read)
            case 22 where files[file]!.direct:  // EINVAL: O_DIRECT refused for this read.
                report.notes.append("\(sources[file].path): an O_DIRECT read was refused (EINVAL); read through the page cache")
                reopenBuffered(file)
                read.request = read.need
                if files[file]!.failed { finish(read, deliver: false) } else { issue(read) }
            case 9 where read.fd != files[file]!.fd:  // EBADF: queued on the descriptor a reopen replaced.
                issue(read)
            case let errno:
                fail(file, FeedFileError.Kind.system(errno))
                finish(read, deliver: false)
            }
            return
        }
        read.done += result
        report.bytesRead += UInt64(result)
        if read.start == .max {
            return completeStream(read, ended: result == 0, stopping: stopping)
        }
        if read.done >= read.need {
            finish(read, deliver: !stopping)
        } else if result == 0 || (files[file]!.direct && read.done % 4096 != 0) {
            fail(file, .shrank(size: files[file]!.size, read: read.start + UInt64(read.done)))
            finish(read, deliver: false)
        } else {
            report.shortReads += 1
            issue(read)
        }
    }

    /// Ends a chunk's read: copies it out of the bounce buffer and hands it on, or frees its slot.
    private func finish(_ read: Read, deliver: Bool) {
        let file = read.chunk.file
        if let b = read.bounceIndex {
            if deliver && !files[file]!.failed {
                memory.slot(read.chunk.slot).copyMemory(from: bounce! + b * memory.slotBytes, byteCount: read.need)
                report.bytesCopied += UInt64(read.need)
            }
            bounceFree.append(b)
        }
        if deliver && !files[file]!.failed {
            report.chunks += 1
            report.bytes += UInt64(read.chunk.length)
            emit(.chunk(read.chunk))
        } else {
            freeSlots.append(read.chunk.slot)
        }
        files[file]!.outstanding -= 1
        closeIfDone(file)
    }

    /// A stream's read returned: the chunk is full, or the stream ended (`ended`), or it goes on
    /// reading into the same chunk (a pipe returns what its writer has written so far).
    private func completeStream(_ read: Read, ended: Bool, stopping: Bool) {
        var read = read
        let file = read.chunk.file
        guard ended || read.done >= read.need else {
            report.shortReads += 1
            return issue(read)
        }
        read.chunk.length = read.done - read.chunk.lookbehind
        if ended { files[file]!.ended = true }
        let data = (read.bounceIndex.map { bounce! + $0 * memory.slotBytes } ?? memory.slot(read.chunk.slot)) + read.chunk.lookbehind
        let keep = Swift.min(options.lookbehindBytes, Int(read.chunk.offset) + read.chunk.length)
        if read.chunk.length >= keep {
            files[file]!.tail = Array(UnsafeRawBufferPointer(start: data + read.chunk.length - keep, count: keep))
        }
        files[file]!.size = read.chunk.offset + UInt64(read.chunk.length)
        if read.chunk.length == 0 {
            // The end, at a chunk boundary: nothing to hand on.
            if let b = read.bounceIndex { bounceFree.append(b) }
            freeSlots.append(read.chunk.slot)
            files[file]!.outstanding -= 1
        } else {
            read.need = read.done
            finish(read, deliver: !stopping)
            if files[file] == nil { return }
        }
        if ended, !files[file]!.failed {
            let chunks = Int((files[file]!.size + UInt64(options.chunkBytes) - 1) / UInt64(options.chunkBytes))
            emit(.opened(FeedFile(file: file, size: files[file]!.size, chunks: chunks)))
        }
        closeIfDone(file)
    }

    private func fail(_ file: Int, _ kind: FeedFileError.Kind) {
        guard let open = files[file], !open.failed else { return }
        files[file]!.failed = true
        report.failedFiles += 1
        emit(.failed(file: file, FeedFileError(path: sources[file].path, kind: kind)))
    }

    private func closeIfDone(_ file: Int) {
        guard let open = files[file], open.outstanding == 0, current != file, open.failed || open.ended || open.nextChunk >= open.chunks else { return }
        vyre_file_close(open.fd)
        files[file] = nil
    }

    private func reopenBuffered(_ file: Int) {
        var info = vyre_file_info()
        let fd = vyre_file_open(sources[file].path, 0, &info)
        guard fd >= 0 else { return fail(file, FeedFileError.Kind.system(-fd)) }
        vyre_file_close(files[file]!.fd)
        files[file]!.fd = fd
        files[file]!.direct = false
    }
}
