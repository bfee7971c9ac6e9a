import Foundation
import Synchronization
import Testing
import VyreConformance
import VyreGL
import VyreProtocol
import VyreRuntime

/// A service that holds every request until the test completes it, in whatever order the test
/// picks: the kernel's side of the IO queue tested without files or timing.
final class HeldIOService: ResidentIOService, @unchecked Sendable {
    struct Held: @unchecked Sendable {
        var request: IORequest
        var memory: UnsafeMutableRawBufferPointer?
        var done: @Sendable (IOOutcome) -> Void
    }

    private let held = Mutex<[Held]>([])
    /// The most requests held at once.
    let peak = Atomic<Int>(0)
    let served = Atomic<Int>(0)

    func serve(_ request: IORequest, memory: UnsafeMutableRawBufferPointer?, done: @escaping @Sendable (IOOutcome) -> Void) {
        let count = held.withLock { h in
            h.append(Held(request: request, memory: memory, done: done))
            return h.count
        }
        served.add(1, ordering: .relaxed)
        var seen = peak.load(ordering: .relaxed)
        while count > seen {
            let (won, now) = peak.compareExchange(expected: seen, desired: count, ordering: .relaxed)
            if won { break }
            seen = now
        }
    }

    var count: Int { held.withLock { $0.count } }

    /// Takes every request held now.
    func takeAll() -> [Held] { held.withLock { h in defer { h = [] }; return h } }

    /// Waits until `n` requests are held, then takes them all.
    func take(_ n: Int) async -> [Held] {
        await ResidentTests.eventually("\(n) IO requests held") { count >= n }
        return takeAll()
    }
}

/// Ops that ended, counted from their tasks.
final class EndedCount: Sendable {
    let value = Atomic<Int>(0)
}

/// LOAD_MISS on the resident kernel: requests posted to the IO queue, done by the host in any
/// order, the slots resumed; errors, bad requests, a full queue, drain and cancel with requests
/// under way. No assertion depends on timing.
@Suite(.serialized)
struct ResidentIOTests {
    typealias IO = RingProtocol.IO
    /// Where the test's regions start in the control buffer (bytes), 64 bytes each.
    static let regionBase = 1024 * 4
    static let regionBytes = 64

    static func kernel(_ service: (any ResidentIOService)?, regions: Int = 8, slots: Int = 256, lanes: UInt32 = 16) throws -> ResidentMegakernel {
        let r = (0..<regions).map { IORegion(buffer: "control", byteOffset: regionBase + $0 * regionBytes, bytes: regionBytes) }
        return try ResidentMegakernel(context: ResidentTests.context, configuration: MegakernelConfiguration(workgroupSize: lanes),
                                      options: ResidentOptions(slots: slots, controlWords: 4096, workgroups: 2, rounds: 4, linger: .microseconds(200), ioRegions: r),
                                      io: service)
    }

    static func read(file: UInt32, region: UInt32, offset: UInt64, bytes: UInt32) -> WorkItem {
        WorkItem(.loadMiss, args: [IO.read, file, region, UInt32(truncatingIfNeeded: offset), UInt32(offset >> 32), bytes])
    }

    /// The first word of region `r` (from 1) in the control buffer.
    static func word(ofRegion r: Int) -> Int { (regionBase + (r - 1) * regionBytes) / 4 }

    @Test func withoutAServiceLoadMissFaultsAsBefore() async throws {
        let k = try Self.kernel(nil)
        let c = try await k.submit(Self.read(file: 1, region: 1, offset: 0, bytes: 4))
        #expect(c.status == .fault && c.faultReason == FaultReason.ioUnavailable.rawValue && c.io == nil)
        // An op that claims a service is there gets its request failed, not a slot waiting forever.
        _ = try await k.submit(WorkItem(.storeU32, args: [1, UInt32(RingProtocol.Control.ioServed)]))
        let claimed = try await k.submit(Self.read(file: 1, region: 1, offset: 0, bytes: 4))
        #expect(claimed.status == .fault && claimed.faultReason == FaultReason.ioFailed.rawValue)
        guard case .failed(let f)? = claimed.io else { Issue.record("no IO outcome: \(claimed)"); return }
        #expect(f.errno == 38 && f.description.contains("Fix: "))
        await k.shutdown(.drain)
    }

    /// Eight reads, each done by the host in reverse order of arrival, two of them failing: each
    /// op ends with its own outcome, and a later op sees the bytes its read brought in.
    @Test func requestsEndInAnyOrderAndEachSlotResumesWithItsOwnOutcome() async throws {
        let service = HeldIOService()
        let k = try Self.kernel(service)
        let n = 8
        var tasks: [Task<Completion, any Error>] = []
        for r in 1...n {
            let offset = UInt64(r) << 33 | 7
            let item = Self.read(file: UInt32(100 + r), region: UInt32(r), offset: offset, bytes: UInt32(4 * r))
            tasks.append(Task { try await k.submit(item) })
        }
        let held = await service.take(n)
        #expect(held.count == n)
        #expect(Set(held.map(\.request.region)) == Set((1...n).map(UInt32.init)))
        for h in held.reversed() {
            let r = Int(h.request.region)
            #expect(h.request.kind == .read && h.request.file == UInt32(100 + r) && h.request.offset == UInt64(r) << 33 | 7 && h.request.bytes == 4 * r)
            #expect(h.memory?.count == 4 * r)
            if r % 4 == 0 {
                h.done(.failed(IOFailure(errno: 5, problem: "test error \(r)", fix: "none")))
            } else {
                for i in 0..<r { h.memory!.storeBytes(of: UInt32(r * 1000 + i), toByteOffset: 4 * i, as: UInt32.self) }
                h.done(.completed(bytes: 4 * r))
            }
        }
        for (i, t) in tasks.enumerated() {
            let r = i + 1
            let c = try await t.value
            if r % 4 == 0 {
                #expect(c.status == .fault && c.faultReason == FaultReason.ioFailed.rawValue)
                #expect(c.io == .failed(IOFailure(errno: 5, problem: "test error \(r)", fix: "none")))
            } else {
                #expect(c.status == .done && c.io == .completed(bytes: 4 * r))
                let load = try await k.submit(WorkItem(.loadU32, args: [UInt32(Self.word(ofRegion: r) + r - 1), UInt32(r)]))
                #expect(load.observed == [r: UInt32(r * 1000 + r - 1)])
            }
        }
        await k.shutdown(.drain)
        #expect(k.controlWord(RingProtocol.Control.faultCount) == 2)
    }

    /// 150 requests for a queue of 64 entries: at most 64 are ever posted at once, the rest wait
    /// (parked, not failed) for an entry, and every op ends DONE once the host has done them all.
    @Test func aFullQueueMakesOpsWaitForAnEntry() async throws {
        let service = HeldIOService()
        let k = try Self.kernel(service, slots: 256, lanes: 32)
        let total = 150
        let ended = EndedCount()
        var tasks: [Task<Completion, any Error>] = []
        for i in 0..<total {
            let item = Self.read(file: 1, region: UInt32(1 + i % 8), offset: UInt64(i), bytes: 4)
            tasks.append(Task {
                defer { ended.value.add(1, ordering: .relaxed) }
                return try await k.submit(item)
            })
        }
        // The queue fills before any request is done; then a server does each as it comes.
        for h in await service.take(IO.entries) { h.done(.completed(bytes: 4)) }
        let serving = Task {
            while !Task.isCancelled {
                for h in service.takeAll() { h.done(.completed(bytes: 4)) }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        await ResidentTests.eventually("every op ended: \(service.served.load(ordering: .relaxed)) requests served, \(k.telemetry)") {
            ended.value.load(ordering: .relaxed) == total
        }
        if ended.value.load(ordering: .relaxed) < total {
            // Ends what is stuck (the server keeps doing requests), so the test fails rather than hangs.
            await k.shutdown(.cancel)
        }
        for t in tasks {
            let c = try await t.value
            #expect(c.status == .done && c.io == .completed(bytes: 4))
        }
        serving.cancel()
        #expect(service.peak.load(ordering: .relaxed) == IO.entries)
        #expect(service.served.load(ordering: .relaxed) == total)
        await k.shutdown(.drain)
    }

    @Test func badRequestsFailWithAReasonAndTheQueueGoesOn() async throws {
        let service = HeldIOService()
        let k = try Self.kernel(service, regions: 2)
        let unknownKind = try await k.submit(WorkItem(.loadMiss, args: [9, 1, 1, 0, 0, 4]))
        #expect(unknownKind.status == .fault && unknownKind.faultReason == FaultReason.ioBadRequest.rawValue)
        for (item, errno) in [(Self.read(file: 1, region: 0, offset: 0, bytes: 4), Int32(9)), (Self.read(file: 1, region: 3, offset: 0, bytes: 4), 9),
                              (Self.read(file: 1, region: 2, offset: 0, bytes: UInt32(Self.regionBytes + 1)), 22)] {
            let c = try await k.submit(item)
            #expect(c.status == .fault && c.faultReason == FaultReason.ioFailed.rawValue)
            guard case .failed(let f)? = c.io else { Issue.record("no IO outcome: \(c)"); continue }
            #expect(f.errno == errno && f.description.contains("Fix: "))
        }
        #expect(service.served.load(ordering: .relaxed) == 0)
        // The resume word is the kernel's.
        #expect(throws: ResidentError.self) { _ = try k.trySubmit(WorkItem(.loadMiss, args: [1, 1, 1, 0, 0, 4, 0, 0, 0, 0, 0, 1])) }
        // A fence names no memory; the host sees it like any request.
        let fence = Task { try await k.submit(WorkItem(.loadMiss, args: [IO.fence, 0, 5])) }
        let held = await service.take(1)
        #expect(held.first?.request.kind == .fence && held.first?.request.file == 5 && held.first?.memory == nil)
        held.first?.done(.completed(bytes: 0))
        #expect(try await fence.value.status == .done)
        await k.shutdown(.drain)
    }

    /// A drain waits for requests under way; a cancel waits for them too (their memory must
    /// outlive them) and completes each op as its request ended.
    @Test func drainAndCancelWaitForRequestsUnderWay() async throws {
        for mode in [ShutdownMode.drain, .cancel] {
            let service = HeldIOService()
            let k = try Self.kernel(service)
            let op = Task { try await k.submit(Self.read(file: 1, region: 1, offset: 0, bytes: 8)) }
            let held = await service.take(1)
            let stopping = Task { await k.shutdown(mode) }
            held[0].memory!.storeBytes(of: UInt64(0x0102_0304_0506_0708), as: UInt64.self)
            held[0].done(.completed(bytes: 8))
            let c = try await op.value
            #expect(c.status == .done && c.io == .completed(bytes: 8), "\(mode)")
            await stopping.value
            #expect(k.controlWord(Self.word(ofRegion: 1)) == 0x0506_0708)
        }
    }

    @Test func regionsOutsideTheirBufferAreRefusedAtStart() throws {
        for region in [IORegion(buffer: "control", byteOffset: 4096 * 4 - 8, bytes: 16), IORegion(buffer: "nothing", byteOffset: 0, bytes: 4),
                       IORegion(buffer: "control", byteOffset: 0, bytes: 0)] {
            #expect {
                _ = try ResidentMegakernel(context: ResidentTests.context, options: ResidentOptions(controlWords: 4096, ioRegions: [region]), io: HeldIOService())
            } throws: { error in
                "\(error)".contains("IO region 1") && "\(error)".contains("Fix: ")
            }
        }
    }
}
