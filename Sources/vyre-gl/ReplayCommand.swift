import ArgumentParser
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a recorded batch again and compare every op's outcome and the words it left.",
        discussion: """
            LOG comes from 'vyre-gl run --record LOG' (one-shot or --resident). It is replayed in the mode it was \
            recorded in, on any device (record on llvmpipe, replay on a GPU). Exit status: 0 identical, \
            1 the replay differs (each difference listed), 2 the log is damaged or unreadable (nothing dispatched), \
            3 no usable GPU or driver.
            """)

    @Argument(help: "The ring log.") var log: String
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    /// Differences printed as text; --json lists them all.
    static let shownDifferences = 50

    func run() throws {
        runReporting {
            let recorded = try Self.decode(log)
            let (plan, configuration) = try Self.batch(of: recorded, path: log)
            let context = try CLI.openContext(deviceOptions)
            let (result, _) = recorded.mode == .resident ? try RunCommand.runResident(plan, context, configuration)
                                                         : try RunCommand.runOneShot(plan, context, configuration)
            let replay = RingLog(mode: recorded.mode, device: context.info.renderer, workgroupSize: configuration.workgroupSize,
                                 opcodeProgram: recorded.opcodeProgram, plan: plan, result: result)
            let differences = recorded.differences(from: replay)
            try report(recorded, replayedOn: replay.device, differences)
            if !differences.isEmpty {
                throw CLIFailure(status: .ranWithFailures, "the replay differs from the log in \(differences.count) place\(differences.count == 1 ? "" : "s")",
                                 fix: "a batch whose ops race (COMPARE_SWAP or stores to one word in one phase) may end differently on each run; otherwise compare the two devices' results above")
            }
        }
    }

    static func decode(_ path: String) throws -> RingLog {
        let bytes = try InputFile.read(path, what: "ring log")
        do { return try RingLog(bytes: bytes) } catch {
            throw CLIFailure(status: .badInput, diagnostics: error.diagnostics.map { $0.located(in: quoteForMessage(path, limit: 160)) })
        }
    }

    /// The recorded batch and opcode program, checked as `run` checks its input: a log whose
    /// program or batch no longer decodes or plans is damaged, and nothing is dispatched.
    static func batch(of log: RingLog, path: String) throws -> (BatchPlan, MegakernelConfiguration) {
        func damaged(_ what: String, _ diagnostics: [Diagnostic]) -> CLIFailure {
            CLIFailure(status: .badInput, diagnostics: diagnostics.map { $0.within(what).located(in: quoteForMessage(path, limit: 160)) })
        }
        var configuration = MegakernelConfiguration()
        if !log.opcodeProgram.isEmpty {
            do { configuration = try MegakernelConfiguration(json: log.opcodeProgram) } catch { throw damaged("the log's opcode program", error.diagnostics) }
        }
        configuration.workgroupSize = log.workgroupSize
        do { return (try log.batch.plan(extraBuffers: configuration.extraBuffers), configuration) } catch {
            throw damaged("the log's batch", error.diagnostics)
        }
    }

    private func report(_ recorded: RingLog, replayedOn device: String, _ differences: [String]) throws {
        if json {
            try Output.json(JSONValue.object([
                "identical": .bool(differences.isEmpty), "mode": .string(recorded.mode.name), "ops": .integer(Int64(recorded.records.count)),
                "recordedOn": .string(recorded.device), "replayedOn": .string(device), "differences": .array(differences.map { .string($0) }),
            ]))
            return
        }
        let what = "\(recorded.records.count) op\(recorded.records.count == 1 ? "" : "s") (\(recorded.mode.name)) recorded on \(recorded.device), replayed on \(device)"
        guard !differences.isEmpty else {
            try Output.line("\(what): identical")
            return
        }
        try Output.line("\(what): \(differences.count) difference\(differences.count == 1 ? "" : "s")")
        for d in differences.prefix(Self.shownDifferences) { try Output.line("  \(d)") }
        if differences.count > Self.shownDifferences { try Output.line("  and \(differences.count - Self.shownDifferences) more (--json lists them all)") }
    }
}
