import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import VyreGL
import VyreProtocol
import VyreRuntime

/// `bench persistent --devices`: resident kernels on several devices fed as one
/// (``ResidentGroup``), beside the first device alone in the same run, and one-shot batches split
/// across them (``MegakernelGroup``) beside one device; then the exactly-once check across all.
struct GroupBench {
    struct Row: Encodable {
        var devices: Int
        /// Producers publishing batches of NOPs through the group, waiting for each batch.
        var producerSlotsPerSecond: Double
        /// Every kernel draining a 65,536-NOP batch at once: all the ops over the slowest drain (p50 of the repeats).
        var drainSlotsPerSecond: Double
        /// A batch of `--ops` ATOMIC_ADDs run one-shot, split across the devices (p50 of the repeats).
        var oneShotSlotsPerSecond: Double
    }

    struct Report: Encodable {
        var benchmark = "persistent-devices"
        var devices: [String]
        var rows: [Row]
        /// Each figure with every device over the first alone.
        var producerScaling: Double
        var drainScaling: Double
        var oneShotScaling: Double
        /// ATOMIC_ADDs of 1, each to its own word, through the group: the words summed over the
        /// devices must each be 1, and the DONE_COUNTs add up to the ops.
        var exactlyOnceOps: Int
        var exactlyOnceWordsNotOne: Int
        var exactlyOnceDoneCount: UInt64
        var exactlyOnceShares: [Int]
        var exactlyOncePassed: Bool
    }

    let contexts: [GLContext]
    let configuration: MegakernelConfiguration
    let options: ResidentOptions
    let ops: Int
    let checkOps: Int

    func run(progress: inout Progress) throws -> Report {
        var rows: [Row] = []
        for n in contexts.count > 1 ? [1, contexts.count] : [1] {
            let part = Array(contexts.prefix(n))
            progress.update("\(n) device\(n == 1 ? "" : "s"): producers")
            let group = try ResidentGroup(contexts: part, configuration: configuration, options: options)
            let producers = try Self.producers(group, producers: 16, batch: 4096, total: ops)
            progress.update("\(n) device\(n == 1 ? "" : "s"): drains")
            let drain = try Self.drains(group, ops: 65_536, repeats: 9)
            GroupEnd.end(group)
            progress.update("\(n) device\(n == 1 ? "" : "s"): one-shot")
            let oneShot = try Self.oneShot(part, configuration: configuration, items: ops, repeats: 5)
            rows.append(Row(devices: n, producerSlotsPerSecond: producers, drainSlotsPerSecond: drain, oneShotSlotsPerSecond: oneShot))
        }
        progress.update("exactly-once check across \(contexts.count) devices")
        let check = try Self.exactlyOnce(contexts, configuration: configuration, ops: checkOps)
        let (first, last) = (rows[0], rows[rows.count - 1])
        return Report(devices: contexts.map(\.info.renderer), rows: rows,
                      producerScaling: last.producerSlotsPerSecond / first.producerSlotsPerSecond,
                      drainScaling: last.drainSlotsPerSecond / first.drainSlotsPerSecond,
                      oneShotScaling: last.oneShotSlotsPerSecond / first.oneShotSlotsPerSecond,
                      exactlyOnceOps: check.ops, exactlyOnceWordsNotOne: check.wordsNotOne, exactlyOnceDoneCount: check.done,
                      exactlyOnceShares: check.shares, exactlyOncePassed: check.wordsNotOne == 0 && check.done == UInt64(check.ops))
    }

    /// `producers` threads publish batches of `batch` NOPs through the group and wait for each,
    /// until `total` ran: ops per second (``PersistentBench/throughput(producers:batch:total:submit:)``).
    static func producers(_ group: ResidentGroup, producers: Int, batch: Int, total: Int) throws -> Double {
        try PersistentBench.throughput(producers: producers, batch: batch, total: total) { items in
            let (_, ticket, stoppedBy) = group.trySubmitBatch(items)
            return (ticket, stoppedBy)
        }.0
    }

    /// Every kernel gets a batch of `ops` NOPs at once; the drain ends when every DONE_COUNT shows
    /// its batch: all the ops over that time, p50 of `repeats`.
    static func drains(_ group: ResidentGroup, ops: Int, repeats: Int) throws -> Double {
        let items = [WorkItem](repeating: WorkItem(.nop), count: ops)
        var rates: [Double] = []
        for _ in 0..<repeats {
            let before = group.kernels.map { $0.controlWord(RingProtocol.Control.doneCount) }
            let start = ContinuousClock.now
            var batches: [ResidentBatchTicket] = []
            for kernel in group.kernels {
                let (batch, stoppedBy) = kernel.trySubmitBatch(items)
                if let stoppedBy { throw stoppedBy }
                batches.append(batch)
            }
            for (k, kernel) in group.kernels.enumerated() {
                while kernel.controlWord(RingProtocol.Control.doneCount) &- before[k] < UInt32(ops) { sched_yield() }
            }
            rates.append(Double(ops * group.kernels.count) / ((ContinuousClock.now - start) / .seconds(1)))
            for b in batches { _ = try b.waitForCompletions() }
        }
        return percentile(rates, 0.5)
    }

    /// A batch of `items` ATOMIC_ADDs to 64 words, one-shot, split across `contexts`: ops per second, p50 of `repeats`.
    static func oneShot(_ contexts: [GLContext], configuration: MegakernelConfiguration, items: Int, repeats: Int) throws -> Double {
        let group = try MegakernelGroup(contexts: contexts, configuration: configuration)
        var ops: [WorkItem] = []
        ops.reserveCapacity(items)
        for i in 0..<items { ops.append(WorkItem(.atomicAdd, args: [1, UInt32(170 + i % 64)])) }
        let plan = try Batch(items: ops, controlWords: 256).plan(extraBuffers: configuration.extraBuffers)
        _ = try group.run(plan)
        var rates: [Double] = []
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            let run = try group.run(plan)
            guard run.result.allDone, run.result.doneCount == UInt32(items) else {
                throw CLIFailure(status: .ranWithFailures, "a split one-shot batch did not complete every op", fix: "report it with 'vyre-gl info'; it is a vyre-gl or driver bug")
            }
            rates.append(Double(items) / ((ContinuousClock.now - start) / .seconds(1)))
        }
        return percentile(rates, 0.5)
    }

    /// 8 producers publish `ops` ATOMIC_ADDs of 1, each to its own word, in batches of 500 through
    /// a group of every device: the words summed over the devices, and each device's share.
    static func exactlyOnce(_ contexts: [GLContext], configuration: MegakernelConfiguration, ops: Int) throws -> (ops: Int, wordsNotOne: Int, done: UInt64, shares: [Int]) {
        let first = 1000, producers = 8
        let perProducer = ops / producers
        let group = try ResidentGroup(contexts: contexts, configuration: configuration,
                                      options: ResidentOptions(slots: 4096, controlWords: first + ops, rounds: 16))
        let failure = Mutex<ResidentError?>(nil)
        let done = DispatchGroup()
        for p in 0..<producers {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                for start in stride(from: 0, to: perProducer, by: 500) {
                    let items = (start..<min(perProducer, start + 500)).map { WorkItem(.atomicAdd, args: [1, UInt32(first + p * perProducer + $0)]) }
                    var rest = items[...]
                    while !rest.isEmpty {
                        let (_, ticket, stoppedBy) = group.trySubmitBatch(rest)
                        if let ticket {
                            rest = rest.dropFirst(ticket.count)
                            do throws(ResidentError) { _ = try ticket.waitForCompletions() } catch { failure.withLock { $0 = error }; return }
                        }
                        if let stoppedBy, !(stoppedBy.isRingFull) { failure.withLock { $0 = stoppedBy }; return }
                    }
                }
            }
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        GroupEnd.end(group)
        var sums = [UInt32](repeating: 0, count: perProducer * producers)
        var doneCount: UInt64 = 0
        for kernel in group.kernels {
            for w in sums.indices { sums[w] &+= kernel.controlWord(first + w) }
            doneCount += UInt64(kernel.controlWord(RingProtocol.Control.doneCount))
        }
        return (sums.count, sums.filter { $0 != 1 }.count, doneCount, group.telemetry.map(\.completed))
    }

    static func printText(_ r: Report) throws {
        try Output.line("persistent across devices: \(r.devices.enumerated().map { "\($0.offset): \($0.element)" }.joined(separator: "; "))")
        try Output.line("devices  producers slots/s  drain slots/s  one-shot slots/s")
        for row in r.rows {
            try Output.line(String(format: "%7d %18.3gM %13.3gM %16.3gM", row.devices, row.producerSlotsPerSecond / 1e6, row.drainSlotsPerSecond / 1e6, row.oneShotSlotsPerSecond / 1e6))
        }
        try Output.line(String(format: "scaling, all devices over one: producers %.2fx, drain %.2fx, one-shot %.2fx", r.producerScaling, r.drainScaling, r.oneShotScaling))
        try Output.line("exactly once across devices: \(r.exactlyOnceOps) ATOMIC_ADDs, \(r.exactlyOnceWordsNotOne) words not 1, DONE_COUNTs add to \(r.exactlyOnceDoneCount), shares \(r.exactlyOnceShares.map(String.init).joined(separator: " + ")): \(r.exactlyOncePassed ? "passed" : "FAILED")")
    }
}

extension ResidentError {
    var isRingFull: Bool {
        if case .ringFull = self { true } else { false }
    }
}

enum GroupEnd {
    /// Drains and ends every kernel of `group` before the caller goes on.
    static func end(_ group: ResidentGroup) {
        Blocking.wait { await group.shutdown(.drain) }
    }
}
