import CURing
import Foundation
import Synchronization

/// Streams files into a ring of memory slots through io_uring: each file is read in chunks of
/// ``FeedOptions/chunkBytes`` into a free slot, and each chunk read is an ``FeedEvent/chunk(_:)``
/// on ``events``. A slot is read into again only after ``release(slot:)``, so a slow consumer
/// holds the reads back (the only buffering is the slots). Short reads are submitted again for the
/// rest, completions are taken in any order, and a file that cannot be read is reported as
/// ``FeedEvent/failed(file:_:)`` while the others are read on.
///
/// The reads go straight into the slots: registered as fixed buffers where the kernel accepts the
/// memory, unregistered where it does not, and through a bounce buffer and a copy only where the
/// memory refuses reads; ``report`` says which, and why.
public final class FileFeeder: Sendable {
    public let sources: [FeedSource]
    public var paths: [String] { sources.map(\.path) }
    public let options: FeedOptions
    /// The chunks, in the order they were read; single consumer. The stream ends when every file
    /// has been read or has failed, or after ``cancel()``.
    public let events: AsyncStream<FeedEvent>

    private struct Shared {
        var released: [Int] = []
        var cancelled = false
        var report = FeedReport()
        var finished = false
    }
    private let shared = Mutex(Shared())
    private let wake = NSCondition()

    /// Reads whole files (see ``init(sources:memory:options:)``).
    public convenience init(paths: [String], memory: ChunkMemory, options: FeedOptions = FeedOptions()) throws(FeedError) {
        try self.init(sources: paths.map { FeedSource(path: $0) }, memory: memory, options: options)
    }

    /// Checks the options and the memory and starts reading on a thread of its own.
    public init(sources: [FeedSource], memory: ChunkMemory, options: FeedOptions = FeedOptions()) throws(FeedError) {
        try options.check()
        for source in sources {
            guard let bytes = source.bytes else { continue }
            if bytes.lowerBound % 4096 != 0 {
                throw .options("the part \(bytes.lowerBound)..<\(bytes.upperBound) of \(source.path) starts off a multiple of 4096", fix: "start each part of a file on a multiple of 4096 bytes")
            }
        }
        if memory.slots < 1 || memory.slotBytes < options.slotBytes {
            throw .memory("the chunk memory has \(memory.slots) slots of \(memory.slotBytes) bytes; at least 1 slot of \(options.slotBytes) bytes (lookbehind and chunk) is needed",
                          fix: "give slots of FeedOptions.slotBytes bytes")
        }
        if options.direct && (Int(bitPattern: memory.base) % 4096 != 0 || memory.slotBytes % 4096 != 0) {
            throw .memory("O_DIRECT reads need slots that start on a 4096-byte boundary", fix: "align the chunk memory and its slots to 4096 bytes, or read without direct")
        }
        self.sources = sources
        self.options = options
        let (stream, continuation) = AsyncStream.makeStream(of: FeedEvent.self)
        events = stream
        let reader = FeedReader(sources: sources, memory: memory, options: options)
        continuation.onTermination = { [weak self] _ in self?.cancel() }
        let thread = Thread { [self] in
            reader.run(feeder: self, emit: { continuation.yield($0) })
            continuation.finish()
        }
        thread.name = "vyre-gl feeder"
        thread.start()
    }

    /// Gives `slot` back: nothing reads its bytes any more.
    public func release(slot: Int) {
        shared.withLock { $0.released.append(slot) }
        wake.lock(); wake.signal(); wake.unlock()
    }

    /// Stops reading: reads in flight end, no more start, and ``events`` ends.
    public func cancel() {
        shared.withLock { $0.cancelled = true }
        wake.lock(); wake.signal(); wake.unlock()
    }

    /// How the reads went: final once ``events`` has ended.
    public var report: FeedReport { shared.withLock { $0.report } }

    // MARK: for the reader thread

    /// Slots released since the last call, and whether to stop.
    func takeReleased() -> (slots: [Int], cancelled: Bool) {
        shared.withLock { s in
            defer { s.released.removeAll(keepingCapacity: true) }
            return (s.released, s.cancelled)
        }
    }

    /// Sleeps until a slot is released or the feeder is cancelled.
    func waitForRelease() {
        wake.lock()
        while shared.withLock({ $0.released.isEmpty && !$0.cancelled }) { wake.wait() }
        wake.unlock()
    }

    func finish(with report: FeedReport) {
        shared.withLock {
            $0.report = report
            $0.finished = true
        }
    }
}
