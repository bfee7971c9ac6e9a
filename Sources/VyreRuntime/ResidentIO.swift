import VyreProtocol
import Foundation
import VyreGL
import Synchronization

/// A request a LOAD_MISS op posted to the IO queue (``RingProtocol/IO``), as the host does it.
public struct IORequest: Sendable, Hashable {
    public enum Kind: UInt32, Sendable, Hashable {
        /// `bytes` bytes at `offset` of `file` into region `region`.
        case read = 1
        /// `bytes` bytes of region `region` to `file` at `offset`.
        case write = 2
        /// Ends after every request the host took before it, and makes what was written to `file`
        /// durable (`fdatasync`); `file` 0 names every file.
        case fence = 3
    }

    public var kind: Kind
    /// The file handle: READ's source, WRITE's and FENCE's destination (the service's handles).
    public var file: UInt32
    /// The memory region handle (``ResidentOptions/ioRegions``): READ's destination, WRITE's source.
    public var region: UInt32
    /// The file offset.
    public var offset: UInt64
    public var bytes: Int
    /// The slot whose op waits for the request.
    public var slot: Int

    public init(kind: Kind, file: UInt32, region: UInt32, offset: UInt64, bytes: Int, slot: Int) {
        self.kind = kind
        self.file = file
        self.region = region
        self.offset = offset
        self.bytes = bytes
        self.slot = slot
    }
}

/// Memory that LOAD_MISS requests read into or write from: `bytes` bytes from `byteOffset` of the
/// control buffer (`"control"`) or of a host-mapped extra buffer of the kernel's configuration.
/// While a request names it, the I/O owns those bytes: no op should touch them until the
/// request's op has completed.
public struct IORegion: Sendable, Hashable {
    public var buffer: String
    public var byteOffset: Int
    public var bytes: Int

    public init(buffer: String, byteOffset: Int, bytes: Int) {
        self.buffer = buffer
        self.byteOffset = byteOffset
        self.bytes = bytes
    }
}

/// Why a LOAD_MISS request failed: the errno where the system gave one (else 0), and the words.
public struct IOFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var errno: Int32
    public var problem: String
    public var fix: String

    public init(errno: Int32, problem: String, fix: String) {
        self.errno = errno
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "\(problem). Fix: \(fix)." }
}

/// What a LOAD_MISS request did.
public enum IOOutcome: Sendable, Hashable {
    /// It ended; READ and WRITE moved `bytes` bytes (a READ at the end of the file moves fewer
    /// than asked, and leaves the rest of the region as it was).
    case completed(bytes: Int)
    case failed(IOFailure)
}

/// Does the requests that LOAD_MISS ops post (VyreStream's `FileIOService` does them with
/// io_uring on registered files).
///
/// The resident kernel's completion thread calls ``serve(_:memory:done:)`` once per request, in
/// the order it finds them; the service must not block it. It calls `done` exactly once, from any
/// thread, when the request has ended; requests may end in any order. `memory` (nil for a FENCE)
/// is the region's bytes in the kernel's mapped buffer: the service may read or write them until
/// it calls `done`, and not after. The kernel's buffers stay until every request has ended.
public protocol ResidentIOService: AnyObject, Sendable {
    func serve(_ request: IORequest, memory: UnsafeMutableRawBufferPointer?, done: @escaping @Sendable (IOOutcome) -> Void)
}

extension ResidentCore {
    typealias IO = RingProtocol.IO

    /// Each IO region lies inside a buffer LOAD_MISS may reach.
    func checkIORegions() throws(MegakernelError) {
        for (i, region) in options.ioRegions.enumerated() {
            let problem: String? = switch ioMemory(region) {
            case .success: nil
            case .failure(let f): f.problem
            }
            if let problem {
                throw .invalidOptions(problem: "resident options: IO region \(i + 1) (ioRegions[\(i)]): \(problem)",
                                      fix: "name \"control\" or a host-mapped extra buffer, with byteOffset and bytes inside it")
            }
        }
    }

    /// The whole of `region` in the buffer it names now.
    private func ioMemory(_ region: IORegion) -> Result<UnsafeMutableRawBufferPointer, IOFailure> {
        let view: MappedView? = region.buffer == "control" ? control.view : current.mappedView(region.buffer)
        guard let view else {
            return .failure(IOFailure(errno: 22, problem: "the kernel has no host-mapped buffer \"\(region.buffer)\"",
                                      fix: "declare it with placement hostMapped, or name \"control\""))
        }
        guard region.byteOffset >= 0, region.bytes > 0, region.byteOffset <= view.wordCount * 4 - region.bytes else {
            return .failure(IOFailure(errno: 22, problem: "bytes \(region.byteOffset)..<\(region.byteOffset + region.bytes) are not inside \"\(region.buffer)\" (\(view.wordCount * 4) bytes)",
                                      fix: "give a region of at least 1 byte inside the buffer"))
        }
        return .success(view.exclusiveBytes(region.byteOffset..<(region.byteOffset + region.bytes)))
    }

    /// Takes the request of the WAIT_IO slot `slot` (completion thread), once: checks it and hands
    /// it to the service, or fails it at once.
    func serveIO(slot: Int) {
        let base = slot * RingProtocol.slotWords
        // Ordered by the acquiring load of the slot's WAIT_IO: the kernel posted the entry before.
        let resume = Int(ring.view.loadRelaxed(base + RingProtocol.firstArgWord + IO.resumeArg))
        guard (1...IO.entries).contains(resume) else { return }
        let entry = (resume - 1) * IO.entryWords
        guard io.view.compareExchange(at: entry + IO.statusWord, expected: IO.posted, desired: IO.serving).exchanged else { return }
        ioOutstanding.add(1, ordering: .acquiringAndReleasing)
        let word = { (w: Int) in self.io.view.loadRelaxed(entry + w) }
        let kind = IORequest.Kind(rawValue: word(IO.opWord)) ?? .fence
        let request = IORequest(kind: kind, file: word(kind == .read ? IO.sourceWord : IO.destinationWord),
                                region: kind == .fence ? 0 : word(kind == .read ? IO.destinationWord : IO.sourceWord),
                                offset: UInt64(word(IO.offsetHighWord)) << 32 | UInt64(word(IO.offsetLowWord)),
                                bytes: Int(word(IO.bytesWord)), slot: slot)
        let memory: UnsafeMutableRawBufferPointer?
        switch requestMemory(request) {
        case .failure(let f):
            finishIO(entry: entry, slot: slot, outcome: .failed(f))
            return
        case .success(let m):
            memory = m
        }
        guard let ioService else {
            // Only an op that set the control word itself gets here.
            finishIO(entry: entry, slot: slot, outcome: .failed(IOFailure(errno: 38, problem: "no IO service does this kernel's LOAD_MISS requests",
                                                                          fix: "start the kernel with an io service (ResidentMegakernel(io:))")))
            return
        }
        ioService.serve(request, memory: memory) { [self] outcome in finishIO(entry: entry, slot: slot, outcome: outcome) }
    }

    /// The bytes a READ or WRITE moves (the first `bytes` of its region); nil for a FENCE.
    private func requestMemory(_ request: IORequest) -> Result<UnsafeMutableRawBufferPointer?, IOFailure> {
        guard request.kind != .fence else { return .success(nil) }
        let regions = options.ioRegions
        guard request.region >= 1, Int(request.region) <= regions.count else {
            return .failure(IOFailure(errno: 9, problem: "IO region \(request.region) does not exist (the kernel has \(regions.count))",
                                      fix: "name a region from 1 to \(regions.count) (ResidentOptions.ioRegions)"))
        }
        let region = regions[Int(request.region) - 1]
        guard request.bytes <= region.bytes else {
            return .failure(IOFailure(errno: 22, problem: "the request moves \(request.bytes) bytes, and IO region \(request.region) holds \(region.bytes)",
                                      fix: "ask for at most \(region.bytes) bytes, or make the region larger"))
        }
        return ioMemory(region).map { UnsafeMutableRawBufferPointer(rebasing: $0[0..<request.bytes]) }
    }

    /// Stores the outcome in the entry and publishes the slot again, so the kernel resumes its op
    /// (any thread, once per request).
    private func finishIO(entry: Int, slot: Int, outcome: IOOutcome) {
        ioOutcomes.withLock { $0[slot] = outcome }
        ioOutcomeCount.add(1, ordering: .acquiringAndReleasing)
        switch outcome {
        case .completed(let bytes):
            io.view.storeRelaxed(UInt32(clamping: bytes), at: entry + IO.bytesWord)
            io.view.store(IO.statusOK, at: entry + IO.statusWord)
        case .failed(let failure):
            io.view.storeRelaxed(UInt32(bitPattern: failure.errno), at: entry + IO.bytesWord)
            io.view.store(IO.statusError, at: entry + IO.statusWord)
        }
        // A new generation, as for a new op: an entry of the slot's earlier run cannot take it.
        let generation = slotGeneration[slot].load(ordering: .relaxed) &+ 1
        slotGeneration[slot].store(generation, ordering: .relaxed)
        let state = layout.generationWord(slot: slot)
        queues.view.storeRelaxed(generation, at: state)
        queues.view.storeRelaxed(0, at: state + 1)
        let base = slot * RingProtocol.slotWords
        let priority = Int(ring.view.loadRelaxed(base + RingProtocol.priorityWord))
        // The sequence is the slot's before it is PUBLISHED, so the driver's look for lost
        // claims never takes the earlier run's sequence for this one.
        let sequence = reserveEntry(slot: slot, priority: priority)
        ring.view.store(SlotStatus.published.rawValue, at: base)
        writeEntry(slot: slot, generation: generation, priority: priority, sequence: sequence)
        advanceTail(priority)
        ioResumed.store(true, ordering: .releasing)
        ioOutstanding.subtract(1, ordering: .acquiringAndReleasing)
        wake(driverIdle, driverWake)
    }

    /// Once the driver has ended: waits for the requests under way, then completes each op whose
    /// request was done but which the kernel did not resume, as its request ended.
    func finishServedIO(in pass: inout RetirePass) {
        while ioOutstanding.load(ordering: .acquiring) > 0 { usleep(100) }
        let served = ioOutcomes.withLock { $0 }
        for (slot, outcome) in served where slotState[slot].load(ordering: .acquiring) == Self.slotInFlight {
            let base = slot * RingProtocol.slotWords
            guard ring.view.load(base) == SlotStatus.published.rawValue else { continue }
            if case .failed = outcome {
                ring.view.store(FaultReason.ioFailed.rawValue, at: base + RingProtocol.faultReasonWord)
                retire(slot, status: SlotStatus.fault.rawValue, in: &pass)
            } else {
                retire(slot, status: SlotStatus.done.rawValue, in: &pass)
            }
        }
    }

    /// The served request's outcome of the op in `slot`, taken out (whoever retires or fails it).
    func takeIOOutcome(_ slot: Int) -> IOOutcome? {
        guard ioOutcomeCount.load(ordering: .acquiring) > 0 else { return nil }
        let outcome = ioOutcomes.withLock { $0.removeValue(forKey: slot) }
        if outcome != nil { ioOutcomeCount.subtract(1, ordering: .acquiringAndReleasing) }
        return outcome
    }
}
