public import VyreRuntime
import CURing
import Foundation
import Synchronization

/// Does a resident kernel's LOAD_MISS requests (``VyreRuntime/ResidentIOService``) on registered
/// files: READ into and WRITE from the kernel's mapped memory, FENCE, through an io_uring on a
/// thread of its own (or `pread`/`pwrite` where io_uring is unavailable, said in ``report``).
///
/// Requests complete in any order, except that a FENCE starts only after every request taken
/// before it has ended. Short reads and writes are resubmitted for the rest; a READ that meets the
/// end of the file ends with the bytes it found. Each failure carries its errno and a Fix.
///
/// ```swift
/// let files = FileIOService()
/// let data = try files.register(path: "/data/table.bin")
/// let kernel = try ResidentMegakernel(context: context, options: ResidentOptions(ioRegions: [IORegion(buffer: "control", byteOffset: 4096, bytes: 4096)]), io: files)
/// let c = try await kernel.submit(WorkItem(.loadMiss, args: [RingProtocol.IO.read, data, 1, 0, 0, 4096]))
/// ```
public final class FileIOService: ResidentIOService, @unchecked Sendable {
    public struct Options: Sendable, Hashable {
        /// Reads, writes and syncs in flight at once (more requests wait their turn).
        public var queueDepth: Int
        /// Use io_uring where the kernel allows it (false: `pread`, `pwrite`, `fdatasync`).
        public var ioUring: Bool
        /// Test seam: every read and write moves at most this many bytes and completions come in a
        /// shuffled order (through `pread`/`pwrite`), as a loaded system may answer.
        public var simulatedShortIO: Int?

        public init(queueDepth: Int = 64, ioUring: Bool = true, simulatedShortIO: Int? = nil) {
            self.queueDepth = queueDepth
            self.ioUring = ioUring
            self.simulatedShortIO = simulatedShortIO
        }
    }

    /// How a registered file may be used.
    public enum Access: Sendable, Hashable {
        /// READ only.
        case read
        /// READ and WRITE; the file must exist.
        case readWrite
        /// READ and WRITE; the file is created (mode 0644) when it does not exist.
        case create
    }

    /// What the service did so far.
    public struct Report: Sendable, Hashable {
        /// `io_uring` or `pread`.
        public var backend = "starting"
        /// Why the backend is not io_uring, when it is not.
        public var notes: [String] = []
        public var requests = 0
        public var failed = 0
        public var bytesRead = 0
        public var bytesWritten = 0
        /// Short reads and writes submitted again for the rest.
        public var resubmitted = 0
    }

    private struct File {
        var fd: Int32
        var path: String
        var writable: Bool
        /// Requests under way that use it; an unregistered file is closed when the last ends.
        var users = 0
        var unregistered = false
    }

    private struct Shared {
        var files: [UInt32: File] = [:]
        var nextHandle: UInt32 = 1
        var incoming: [IOJob] = []
        var closed = false
        var report = Report()
    }

    private let options: Options
    private let shared = Mutex(Shared())
    private let wake = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private let endedOnce = Mutex(false)

    public init(options: Options = Options()) {
        self.options = options
        let thread = Thread { [self] in
            IOServiceLoop(service: self, options: options).run()
            ended.signal()
        }
        thread.name = "vyre-gl file IO"
        thread.start()
    }

    deinit { close() }

    /// Opens `path` for requests; its handle (from 1) names it in LOAD_MISS args.
    public func register(path: String, access: Access = .read) throws(FeedFileError) -> UInt32 {
        var info = vyre_file_info()
        let flags: Int32 = switch access {
        case .read: 0
        case .readWrite: Int32(VYRE_OPEN_WRITE)
        case .create: Int32(VYRE_OPEN_WRITE | VYRE_OPEN_CREATE)
        }
        let fd = vyre_file_open(path, flags, &info)
        guard fd >= 0 else { throw FeedFileError(path: path, kind: .system(-fd)) }
        guard info.kind == 1 else {
            vyre_file_close(fd)
            throw FeedFileError(path: path, kind: info.kind == 2 ? .isDirectory : .notRegular)
        }
        return shared.withLock { s in
            let handle = s.nextHandle
            s.nextHandle += 1
            s.files[handle] = File(fd: fd, path: path, writable: access != .read)
            return handle
        }
    }

    /// Closes the file of `handle` once the requests that use it have ended; later requests that
    /// name it fail (EBADF).
    public func unregister(_ handle: UInt32) {
        let close: Int32? = shared.withLock { s in
            guard var file = s.files[handle] else { return nil }
            guard file.users == 0 else {
                file.unregistered = true
                s.files[handle] = file
                return nil
            }
            s.files[handle] = nil
            return file.fd
        }
        if let close { vyre_file_close(close) }
    }

    public var report: Report { shared.withLock { $0.report } }

    /// Ends the service once the requests under way have ended, and closes every file; requests
    /// that come later fail.
    public func close() {
        shared.withLock { $0.closed = true }
        wake.signal()
        endedOnce.withLock { done in
            guard !done else { return }
            ended.wait()
            done = true
        }
        let fds = shared.withLock { s in defer { s.files = [:] }; return s.files.values.map(\.fd) }
        for fd in fds { vyre_file_close(fd) }
    }

    public func serve(_ request: IORequest, memory: UnsafeMutableRawBufferPointer?, done: @escaping @Sendable (IOOutcome) -> Void) {
        let refused: IOFailure? = shared.withLock { s in
            s.report.requests += 1
            if s.closed {
                return IOFailure(errno: 9, problem: "the file IO service was closed", fix: "keep the FileIOService open while its kernel runs")
            }
            var targets: [(handle: UInt32, fd: Int32)] = []
            if request.kind == .fence && request.file == 0 {
                targets = s.files.filter { !$0.value.unregistered && $0.value.writable }.map { ($0.key, $0.value.fd) }
            } else {
                guard let file = s.files[request.file], !file.unregistered else {
                    return IOFailure(errno: 9, problem: "file handle \(request.file) is not registered",
                                     fix: "register the file with FileIOService.register(path:access:) and pass the handle it returns")
                }
                if request.kind == .write && !file.writable {
                    return IOFailure(errno: 9, problem: "\(file.path) was registered for reading only, and a WRITE names it",
                                     fix: "register it with access .readWrite or .create")
                }
                targets = [(request.file, file.fd)]
            }
            for t in targets { s.files[t.handle]!.users += 1 }
            s.incoming.append(IOJob(request: request, targets: targets, memory: memory, done: done))
            return nil
        }
        if let refused {
            shared.withLock { $0.report.failed += 1 }
            done(.failed(refused))
            return
        }
        wake.signal()
    }

    // MARK: the IO thread's side

    func take() -> (jobs: [IOJob], closed: Bool) {
        shared.withLock { s in defer { s.incoming = [] }; return (s.incoming, s.closed) }
    }

    func waitForWork() { wake.wait() }

    func noteBackend(_ name: String, note: String?) {
        shared.withLock { s in
            s.report.backend = name
            if let note { s.report.notes.append(note) }
        }
    }

    /// Hands `job` its outcome and lets go of its files.
    func finish(_ job: IOJob, _ outcome: IOOutcome, resubmitted: Int) {
        let close: [Int32] = shared.withLock { s in
            s.report.resubmitted += resubmitted
            switch outcome {
            case .failed: s.report.failed += 1
            case .completed(let bytes):
                if job.request.kind == .read { s.report.bytesRead += bytes }
                if job.request.kind == .write { s.report.bytesWritten += bytes }
            }
            var close: [Int32] = []
            for t in job.targets {
                guard var file = s.files[t.handle] else { continue }
                file.users -= 1
                if file.users == 0 && file.unregistered {
                    s.files[t.handle] = nil
                    close.append(file.fd)
                } else {
                    s.files[t.handle] = file
                }
            }
            return close
        }
        for fd in close { vyre_file_close(fd) }
        job.done(outcome)
    }

    func path(of handle: UInt32) -> String { shared.withLock { $0.files[handle]?.path ?? "file \(handle)" } }
}

/// A request taken by the service, with the descriptors it uses.
struct IOJob: @unchecked Sendable {
    var request: IORequest
    var targets: [(handle: UInt32, fd: Int32)]
    var memory: UnsafeMutableRawBufferPointer?
    var done: @Sendable (IOOutcome) -> Void
}
