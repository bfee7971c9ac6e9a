public import VyreGL
public import VyreProtocol

extension RingLog {
    /// Runs the log's batch (``plan()``) again on `context`, in the mode it was recorded in:
    /// one-shot through ``Megakernel``, resident through a ``ResidentMegakernel`` started for it
    /// (its phases published one after another, as recorded). Returns the replay's log;
    /// ``differences(from:)`` compares the two.
    public func replay(_ plan: BatchPlan, _ configuration: MegakernelConfiguration, on context: GLContext) async throws(MegakernelError) -> RingLog {
        let result: BatchResult
        switch mode {
        case .oneShot:
            result = try await Megakernel(context: context, configuration: configuration).run(plan)
        case .resident:
            result = try await ResidentMegakernel(context: context, configuration: configuration, options: ResidentOptions(plan: plan)).run(plan)
        }
        return RingLog(mode: mode, device: context.info.renderer, workgroupSize: configuration.workgroupSize, opcodeProgram: opcodeProgram,
                       plan: plan, result: result)
    }
}
