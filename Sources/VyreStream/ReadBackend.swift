import CURing

/// One read a backend serves: `length` bytes at `offset` of `fd` into `target`.
struct ReadRequest {
    var id: UInt64
    var fd: Int32
    var target: UnsafeMutableRawPointer
    var length: Int
    var offset: UInt64
    /// The fixed buffer `target` lies in, or -1.
    var fixedIndex: Int32
}

/// Serves reads and reports their completions, in any order.
protocol ReadBackend: AnyObject {
    var name: String { get }
    /// Queues a read (submitted at the next ``reap(waitFor:into:)``).
    func queue(_ request: ReadRequest)
    /// Submits what is queued, waits for at least `waitFor` completions, and appends those ready.
    func reap(waitFor: Int, into completions: inout [(id: UInt64, result: Int)]) throws(IORingError)
}

/// Reads through an io_uring.
final class UringBackend: ReadBackend {
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

    func queue(_ request: ReadRequest) {
        // The feeder never has more reads in flight than the ring has entries, so there is room.
        let result = vyre_uring_prep_read(ring.ring, request.fd, request.target, UInt32(request.length), request.offset,
                                          request.fixedIndex, request.id)
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

/// Reads with `pread` on the calling thread: where io_uring is unavailable, and (with a cap on
/// each read and a shuffled order) to test the feeder's handling of short and reordered reads.
final class PreadBackend: ReadBackend {
    private var pending: [ReadRequest] = []
    private let maxRead: Int?
    private var random: UInt64
    private var faultFirst: Bool

    init(maxRead: Int? = nil, faultFirst: Bool = false, seed: UInt64 = 0x5eed) {
        self.maxRead = maxRead
        self.faultFirst = faultFirst
        random = seed
    }

    var name: String { maxRead == nil && !faultFirst ? "pread" : "pread (simulated short, reordered or refused reads)" }

    func queue(_ request: ReadRequest) { pending.append(request) }

    func reap(waitFor: Int, into completions: inout [(id: UInt64, result: Int)]) {
        if maxRead != nil {
            // Fisher-Yates with a xorshift generator: completions in an order the feeder did not ask for.
            for i in stride(from: pending.count - 1, to: 0, by: -1) {
                random ^= random << 13; random ^= random >> 7; random ^= random << 17
                pending.swapAt(i, Int(random % UInt64(i + 1)))
            }
        }
        for r in pending {
            if faultFirst {
                // As a driver's mapping that the kernel cannot write into answers.
                faultFirst = false
                completions.append((r.id, -14))
                continue
            }
            let length = maxRead.map { Swift.min($0, r.length) } ?? r.length
            completions.append((r.id, vyre_file_pread(r.fd, r.target, length, r.offset)))
        }
        pending.removeAll(keepingCapacity: true)
    }
}
