import Testing
@_spi(Testing) import VyreGL
import VyreProtocol
import VyreRuntime

/// Resident kernels on two llvmpipe contexts fed as one: every op runs once on one of them, both
/// take ops, and a kernel that is lost for good is left out while the ops it had not started go
/// to the other.
@Suite(.serialized)
struct ResidentGroupTests {
    @Test(.timeLimit(.minutes(3))) func everyOpRunsOnceOnOneDevice() async throws {
        let group = try ResidentGroup(contexts: try GLContext.open(.list([.index(0), .index(0)])),
                                      options: ResidentOptions(slots: 256, controlWords: 1000 + 4000))
        // Batches from 8 tasks at once, each op adding 1 to a word of its own.
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for p in 0..<8 { tasks.addTask { try await Self.publish(group, producer: p) } }
            try await tasks.waitForAll()
        }
        for _ in 0..<20 { _ = try await group.submit(WorkItem(.atomicAdd, args: [1, 999])) }
        await group.shutdown(.drain)
        var sums = [UInt32](repeating: 0, count: 4000)
        for kernel in group.kernels { for w in 0..<4000 { sums[w] &+= kernel.controlWord(1000 + w) } }
        #expect(sums.allSatisfy { $0 == 1 })
        #expect(group.kernels.map { $0.controlWord(999) }.reduce(0, +) == 20)
        let done = group.kernels.map { $0.controlWord(RingProtocol.Control.doneCount) }
        #expect(done.reduce(0, +) == 4020 && done.allSatisfy { $0 > 0 })
        #expect(group.lostDevices.isEmpty)
    }

    static func publish(_ group: ResidentGroup, producer p: Int) async throws {
        for start in stride(from: 0, to: 500, by: 50) {
            var rest = (start..<(start + 50)).map { WorkItem(.atomicAdd, args: [1, UInt32(1000 + p * 500 + $0)]) }
            while !rest.isEmpty {
                let (device, ticket, stoppedBy) = group.trySubmitBatch(rest)
                #expect(device != nil)
                let published = ticket?.count ?? 0
                rest.removeFirst(published)
                if let ticket { _ = try await ticket.completions() }
                guard let stoppedBy else { continue }
                guard case .ringFull = stoppedBy else { throw stoppedBy }
                await Task.yield()
            }
        }
    }

    /// A kernel a SHUTDOWN op stopped takes no more ops: it is left out, and ops and batches go
    /// to the other instead of failing.
    @Test(.timeLimit(.minutes(3))) func aStoppedKernelIsLeftOut() async throws {
        let group = try ResidentGroup(contexts: try GLContext.open(.list([.index(0), .index(0)])), options: ResidentOptions(slots: 64))
        _ = try await group.kernels[1].submit(WorkItem(.shutdown))
        for _ in 0..<10 {
            let (device, completion) = try await group.submit(WorkItem(.atomicAdd, args: [1, 170]))
            #expect(device == 0 && completion.status == .done)
        }
        let (device, ticket, stoppedBy) = group.trySubmitBatch([WorkItem](repeating: WorkItem(.atomicAdd, args: [1, 170]), count: 5))
        #expect(device == 0 && stoppedBy == nil && ticket?.count == 5)
        _ = try await ticket?.completions()
        #expect(group.kernels[0].controlWord(170) == 15 && group.lostDevices == [1])
        await group.shutdown(.drain)
    }

    /// A kernel whose context is reset and which may not be rebuilt: the op it held may have run
    /// (it fails, never runs twice); after that it is left out and every op goes to the other.
    @Test(.timeLimit(.minutes(3))) func aKernelLostForGoodIsLeftOut() async throws {
        let contexts = try GLContext.open(.list([.index(0), .index(0)]))
        let group = try ResidentGroup(contexts: contexts, options: ResidentOptions(slots: 64, recoveryAttempts: 0))
        contexts[1].simulateReset()
        var done = 0, mayHaveRun = 0
        for _ in 0..<40 {
            do throws(ResidentError) {
                let (device, completion) = try await group.submit(WorkItem(.atomicAdd, args: [1, 170]))
                #expect(completion.status == .done && device == 0)
                done += 1
            } catch {
                guard case .deviceLost(_, true) = error else { Issue.record("unexpected \(error)"); continue }
                mayHaveRun += 1
            }
        }
        #expect(group.lostDevices == [1])
        #expect(mayHaveRun <= 1 && done + mayHaveRun == 40)
        #expect(group.kernels[0].controlWord(170) == UInt32(done))
        await group.shutdown(.drain)
    }
}
