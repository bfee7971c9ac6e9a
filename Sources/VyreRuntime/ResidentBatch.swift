import VyreGL
public import VyreProtocol

extension ResidentMegakernel {
    /// Runs `plan` with the outcome one-shot `Megakernel.run(_:)` gives, on a kernel started for
    /// it (``ResidentOptions/init(plan:workgroups:rounds:)``: the batch's geometry, tenant table,
    /// initial control words and extra buffers) with nothing submitted before. Each phase is
    /// published into the live ring only after the previous one has completed. Ops a phase leaves held (a disabled tenant, or SHUTDOWN set)
    /// are withdrawn when it settles and reported pending, as a one-shot phase leaves them
    /// PUBLISHED, and once a SHUTDOWN op has run later phases are not published. The debug log
    /// keeps the batch's `debugRecords` first records and counts the rest as lost. The kernel is
    /// drained and ended before this returns. Throws ``MegakernelError/invalidOptions(problem:fix:)``
    /// for a kernel not started for `plan`.
    ///
    /// What the batch leaves unspecified may differ from a one-shot run: the order of a phase's
    /// records, and which of them a full log keeps (here the kernel serves a phase's priorities in
    /// order, highest first).
    public func run(_ plan: BatchPlan) async throws(MegakernelError) -> BatchResult {
        let batch = plan.batch
        let started = ContinuousClock.now
        // A batch runs on one core: its options rebuild nothing after a loss.
        let core = cores.current
        let options = core.options
        guard options.slots == plan.slots, options.controlWords == plan.controlWords, options.debugRecords == batch.debugRecords,
              options.tenants == batch.tenants, options.control == batch.control, options.buffers == batch.buffers, core.current.extras.count == plan.extra.count,
              core.telemetry().submitted == 0 else {
            throw .invalidOptions(problem: "a resident kernel runs a batch only when started for it, with nothing submitted before",
                                  fix: "start a new ResidentMegakernel with ResidentOptions(plan:) and run the plan on it")
        }
        var notDone = Set<Int>()
        var faults: [SlotFault] = []
        var pending: [Int] = []
        var published = 0
        phases: for phase in plan.phases {
            let (tickets, error) = batch.items[phase].withUnsafeBufferPointer { core.publish($0) }
            // Refused for a shutdown: a SHUTDOWN op ran, and what is left stays pending.
            if let error, !error.isShutDown { throw Self.batchError(error) }
            published = phase.lowerBound + tickets.count
            await core.settle()
            for (i, ticket) in zip(phase, tickets) {
                do throws(ResidentError) {
                    let completion = try await ticket.completion()
                    if completion.status != .done {
                        notDone.insert(i)
                        faults.append(SlotFault(slot: i, reason: completion.faultReason ?? 0))
                    }
                } catch {
                    guard case .notRun = error else { throw Self.batchError(error) }
                    notDone.insert(i)
                    pending.append(i)
                }
            }
            if tickets.count < phase.count { break phases }
        }
        pending += published..<batch.items.count
        notDone.formUnion(published..<batch.items.count)
        let gpuEnd = ContinuousClock.now
        await shutdown(.drain)
        return try await batchResult(plan, core: core, faults: faults, pending: pending, notDone: notDone,
                                            timing: BatchTiming(encode: .zero, gpu: gpuEnd - started, decode: .zero), decodeStart: gpuEnd)
    }

    /// The ended kernel's words as a ``BatchResult`` of `plan`.
    private func batchResult(_ plan: BatchPlan, core: ResidentCore, faults: [SlotFault], pending: [Int], notDone: Set<Int>, timing: BatchTiming,
                             decodeStart: ContinuousClock.Instant) async throws(MegakernelError) -> BatchResult {
        var records: [DebugRecord] = []
        for await record in debugRecords { records.append(record) }
        let capacity = plan.batch.debugRecords
        let lost = max(0, records.count - capacity) + telemetry.debugRecordsLost
        var buffers: [String: [UInt32]] = [:]
        for ((decl, contents), (_, buffer)) in zip(plan.extra, core.current.extras) {
            buffers[decl.name] = try buffer.read(words: 0..<contents.wordCount)
        }
        var timing = timing
        timing.decode = ContinuousClock.now - decodeStart
        return BatchResult(itemCount: plan.batch.items.count, slots: plan.slots, phases: plan.phases.count,
                           control: core.control.view.read(words: 0..<plan.controlWords),
                           debug: DebugLog(records: Array(records.prefix(capacity)), lost: lost),
                           faults: faults.sorted { $0.slot < $1.slot }, pending: pending, unexpected: [], buffers: buffers,
                           completed: ItemRecords.countCompleted(plan.batch.items, excluding: notDone), timing: timing)
    }

    /// A resident error while running a batch, as the one-shot path's error.
    private static func batchError(_ error: ResidentError) -> MegakernelError {
        switch error {
        // A GL failure is reported as the one-shot path reports it.
        case .deviceLost(let loss, _):
            switch loss.cause {
            case .reset(let status): .device(VyreGLError.contextLost(status: status))
            case .dispatchFailed(let e): .device(e)
            case .stalled: .device(error)
            }
        case .invalidItem(let e): .invalidBatch(e)
        default: .device(error)
        }
    }
}

// A resident failure other than the GL layer's (none is expected while a batch runs) is reported
// as the device failure it is.
extension ResidentError: DeviceFailure {}

extension ResidentOptions {
    /// Options for running `plan` (``ResidentMegakernel/run(_:)``): its slots, control words,
    /// tenants, debug log, initial control words and extra buffers, no linger, so the kernel
    /// is not dispatched between phases, and no rebuild after a loss (the batch fails with it).
    public init(plan: BatchPlan, workgroups: UInt32? = nil, rounds: UInt32? = nil) {
        let batch = plan.batch
        self.init(slots: plan.slots, controlWords: plan.controlWords, tenants: batch.tenants, debugRecords: batch.debugRecords,
                  workgroups: workgroups, rounds: rounds, linger: .zero, control: batch.control, buffers: batch.buffers, recoveryAttempts: 0)
    }
}

extension ResidentError {
    var isShutDown: Bool {
        if case .shutDown = self { true } else { false }
    }
}
