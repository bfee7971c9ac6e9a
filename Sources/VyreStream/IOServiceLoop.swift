import CURing
import VyreRuntime

/// ``FileIOService``'s thread: takes requests, keeps up to ``FileIOService/Options/queueDepth``
/// operations in flight, resubmits short ones for the rest, and hands each request its outcome.
final class IOServiceLoop {
    private let service: FileIOService
    private let options: FileIOService.Options
    private var backend: any IOBackend = PreadBackend()

    private struct Running {
        var job: IOJob
        /// Bytes moved so far (READ, WRITE); operations still in flight (FENCE).
        var moved = 0
        var parts = 0
        var failure: IOFailure?
        var resubmitted = 0
    }
    private var running: [Int: Running] = [:]
    private var nextJob = 0
    /// Operations in flight: their job and descriptor.
    private var inflight: [UInt64: (job: Int, fd: Int32)] = [:]
    private var nextID: UInt64 = 1
    /// Requests taken but not started, oldest first.
    private var waiting: [IOJob] = []
    private var waitingHead = 0

    init(service: FileIOService, options: FileIOService.Options) {
        self.service = service
        self.options = options
    }

    func run() {
        setUpBackend()
        var closed = false
        var completions: [(id: UInt64, result: Int)] = []
        while true {
            let (jobs, c) = service.take()
            waiting += jobs
            closed = closed || c
            startWaiting()
            if inflight.isEmpty {
                if closed && waitingHead == waiting.count { break }
                service.waitForWork()
                continue
            }
            completions.removeAll(keepingCapacity: true)
            do {
                try backend.reap(waitFor: 1, into: &completions)
            } catch {
                // Not seen in practice (liburing retries EINTR): what is in flight fails with it.
                for id in inflight.keys { completions.append((id, Int(error.errno))) }
            }
            for (id, result) in completions { complete(id, result: result) }
        }
    }

    private func setUpBackend() {
        let depth = max(1, options.queueDepth)
        if let cap = options.simulatedShortIO {
            backend = PreadBackend(maxRead: max(1, cap))
            service.noteBackend(backend.name, note: nil)
            return
        }
        guard options.ioUring else {
            service.noteBackend("pread", note: "io_uring turned off (FileIOService.Options.ioUring)")
            return
        }
        do {
            backend = try UringBackend(depth: depth)
            service.noteBackend(backend.name, note: nil)
        } catch {
            service.noteBackend("pread", note: "\(error)")
        }
    }

    private func startWaiting() {
        while inflight.count < max(1, options.queueDepth), waitingHead < waiting.count {
            let job = waiting[waitingHead]
            waitingHead += 1
            start(job)
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
    }

    private func start(_ job: IOJob) {
        let r = job.request
        let index = nextJob
        nextJob += 1
        running[index] = Running(job: job)
        switch r.kind {
        case .read, .write:
            guard r.bytes > 0 else { return finish(index, .completed(bytes: 0)) }
            guard job.memory != nil else {
                return finish(index, .failed(IOFailure(errno: 22, problem: "a \(r.kind) request came without memory", fix: "name an IO region in the request")))
            }
            submit(index)
        case .fence:
            // Each sync starts only after everything before it: together, a barrier behind every
            // request taken earlier, then the files' data on disk.
            let targets = job.targets
            running[index]!.parts = max(1, targets.count)
            if targets.isEmpty {
                queue(index, fd: -1, IOSubmission(id: 0, fd: -1, target: nil, length: 0, offset: 0, fixedIndex: -1, op: VYRE_IO_NOP, drain: true))
            }
            for t in targets {
                queue(index, fd: t.fd, IOSubmission(id: 0, fd: t.fd, target: nil, length: 0, offset: 0, fixedIndex: -1, op: VYRE_IO_DATASYNC, drain: true))
            }
        }
    }

    /// Submits the rest of READ or WRITE job `index`.
    private func submit(_ index: Int) {
        let run = running[index]!
        let r = run.job.request
        let fd = run.job.targets[0].fd
        queue(index, fd: fd, IOSubmission(id: 0, fd: fd, target: run.job.memory!.baseAddress! + run.moved, length: r.bytes - run.moved,
                                          offset: r.offset + UInt64(run.moved), fixedIndex: -1, op: r.kind == .read ? VYRE_IO_READ : VYRE_IO_WRITE))
    }

    private func queue(_ index: Int, fd: Int32, _ submission: IOSubmission) {
        var s = submission
        s.id = nextID
        nextID += 1
        inflight[s.id] = (index, fd)
        backend.queue(s)
    }

    private func complete(_ id: UInt64, result: Int) {
        guard let (index, _) = inflight.removeValue(forKey: id), var run = running[index] else { return }
        let r = run.job.request
        if r.kind == .fence {
            if result < 0, run.failure == nil { run.failure = failure(r, errno: Int32(-result)) }
            run.parts -= 1
            running[index] = run
            if run.parts == 0 { finish(index, run.failure.map { .failed($0) } ?? .completed(bytes: 0)) }
            return
        }
        if result < 0 { return finish(index, .failed(failure(r, errno: Int32(-result)))) }
        if result == 0 {
            // A READ at the end of the file ends with what it found; a WRITE that moves nothing
            // would never end.
            return finish(index, r.kind == .read ? .completed(bytes: run.moved) : .failed(failure(r, errno: 5)))
        }
        run.moved += result
        guard run.moved < r.bytes else {
            running[index] = run
            return finish(index, .completed(bytes: run.moved))
        }
        run.resubmitted += 1
        running[index] = run
        submit(index)
    }

    private func finish(_ index: Int, _ outcome: IOOutcome) {
        guard let run = running.removeValue(forKey: index) else { return }
        service.finish(run.job, outcome, resubmitted: run.resubmitted)
    }

    private func failure(_ r: IORequest, errno: Int32) -> IOFailure {
        let what = switch r.kind {
        case .read: "reading \(r.bytes) bytes at offset \(r.offset) of \(service.path(of: r.file))"
        case .write: "writing \(r.bytes) bytes at offset \(r.offset) of \(service.path(of: r.file))"
        case .fence: r.file == 0 ? "syncing the registered files" : "syncing \(service.path(of: r.file))"
        }
        let fix = switch errno {
        case 5: "the device reported an I/O error: check the disk (dmesg)"
        case 28: "the file system is full: free space"
        case 22: "the file system refused the operation at this offset or size"
        case 27: "the file would pass its size limit (ulimit -f)"
        default: "check the file"
        }
        return IOFailure(errno: errno, problem: "\(what) failed: \(String(cString: vyre_errno_text(errno))) (\(String(cString: vyre_errno_name(errno))))", fix: fix)
    }
}
