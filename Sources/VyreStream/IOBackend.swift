import CURing

/// One operation a backend serves: by default a read of `length` bytes at `offset` of `fd` into
/// `target`; a write of them from `target`; an `fdatasync`; or nothing. With `drain`, it starts
/// only once every operation queued before it has completed.
struct IOSubmission {
    var id: UInt64
    var fd: Int32
    var target: UnsafeMutableRawPointer?
    var length: Int
    var offset: UInt64
    /// The fixed buffer `target` lies in, or -1.
    var fixedIndex: Int32
    var op: vyre_io_op = VYRE_IO_READ
    var drain = false
}

/// Serves operations and reports their completions, in any order (but after a drain's).
protocol IOBackend: AnyObject {
    var name: String { get }
    /// Queues an operation (submitted at the next ``reap(waitFor:into:)``).
    func queue(_ request: IOSubmission)
    /// Submits what is queued, waits for at least `waitFor` completions, and appends those ready.
    func reap(waitFor: Int, into completions: inout [(id: UInt64, result: Int)]) throws(IORingError)
}

/// Reads through an io_uring.
final class UringBackend: IOBackend {
    let ring: IORing
    private var queued = 0
    private var buffer: [vyre_completion]

    init(depth: Int) throws(IORingError) {
        ring = try IORing(entries: UInt32(depth))
        buffer = Array(repeating: vyre_completion(), count: max(depth, 64))
    }

    var name: String { "io_uring" }

    /// Registers `memory`'s slots as fixed buffers; nil, or the errno the kernel refused them with.
    func register(_ memory: ChunkMemory) -> Int32? {
        var bases = (0..<memory.slots).map { Optional(memory.slot($0)) }
        var lengths = [Int](repeating: memory.slotBytes, count: memory.slots)
        let result = bases.withUnsafeMutableBufferPointer { b in
            lengths.withUnsafeMutableBufferPointer { l in
                vyre_uring_register_buffers(ring.ring, b.baseAddress, l.baseAddress, UInt32(memory.slots))
            }
        }
        return result == 0 ? nil : -result
    }

    func queue(_ request: IOSubmission) {
        let result = vyre_uring_prep(ring.ring, request.op, request.fd, request.target, UInt32(request.length), request.offset,
                                     request.fixedIndex, request.drain ? 1 : 0, request.id)
        // Every user keeps no more in flight than the ring has entries, so there is room.
        precondition(result == 0, "the io_uring submission queue is full with \(queued) queued")
        queued += 1
    }

    func reap(waitFor: Int, into completions: inout [(id: UInt64, result: Int)]) throws(IORingError) {
        let capacity = UInt32(buffer.count)
        let got = buffer.withUnsafeMutableBufferPointer { vyre_uring_submit_and_reap(ring.ring, UInt32(waitFor), $0.baseAddress, capacity) }
        if got < 0 { throw IORingError(errno: got, call: "io_uring_submit_and_wait") }
        queued = 0
        for c in buffer[0..<Int(got)] { completions.append((c.user_data, Int(c.result))) }
    }
}

/// Does operations with `pread`, `pwrite` and `fdatasync` on the calling thread: where io_uring is
/// unavailable, and (with a cap on each read or write and a shuffled order) to test the handling
/// of short and reordered completions. A drain is never moved: the operations before it are done
/// first.
final class PreadBackend: IOBackend {
    private var pending: [IOSubmission] = []
    private let maxRead: Int?
    private var random: UInt64
    private var faultFirst: Bool

    init(maxRead: Int? = nil, faultFirst: Bool = false, seed: UInt64 = 0x5eed) {
        self.maxRead = maxRead
        self.faultFirst = faultFirst
        random = seed
    }

    var name: String { maxRead == nil && !faultFirst ? "pread" : "pread (simulated short, reordered or refused reads)" }

    func queue(_ request: IOSubmission) { pending.append(request) }

    func reap(waitFor: Int, into completions: inout [(id: UInt64, result: Int)]) {
        var from = 0
        while from < pending.count {
            // The run up to the next drain, in an order nobody asked for (when shuffling), then the drain.
            var end = from
            while end < pending.count, !pending[end].drain || end == from { end += 1 }
            if maxRead != nil { shuffle(from + (pending[from].drain ? 1 : 0)..<end) }
            for r in pending[from..<end] { completions.append((r.id, perform(r))) }
            from = end
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Fisher-Yates with a xorshift generator.
    private func shuffle(_ range: Range<Int>) {
        for i in stride(from: range.upperBound - 1, to: range.lowerBound, by: -1) {
            random ^= random << 13; random ^= random >> 7; random ^= random << 17
            pending.swapAt(i, range.lowerBound + Int(random % UInt64(i - range.lowerBound + 1)))
        }
    }

    private func perform(_ r: IOSubmission) -> Int {
        if faultFirst, r.op == VYRE_IO_READ {
            // As a driver's mapping that the kernel cannot write into answers.
            faultFirst = false
            return -14
        }
        let length = maxRead.map { Swift.min($0, r.length) } ?? r.length
        switch r.op {
        case VYRE_IO_READ: return vyre_file_pread(r.fd, r.target, length, r.offset)
        case VYRE_IO_WRITE: return vyre_file_pwrite(r.fd, r.target, length, r.offset)
        case VYRE_IO_DATASYNC: return Int(vyre_file_datasync(r.fd))
        default: return 0
        }
    }
}
