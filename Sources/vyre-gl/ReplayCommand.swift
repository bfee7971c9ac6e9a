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

    /// Differences printed as text, and listed by --json (with the total beside them).
    static let shownDifferences = 50
    static let jsonDifferences = 10_000

    func run() throws {
        runReporting {
            let recorded = try Self.decode(log)
            let (plan, configuration) = try Self.damaged(log) { () throws(RingLogError) in try recorded.plan() }
            let context = try CLI.openContext(deviceOptions)
            let replay = try Blocking.wait { () async throws(MegakernelError) in
                try await recorded.replay(plan, configuration, on: context)
            }
            // Bounded: a log can differ in every one of millions of words.
            let (differences, total) = recorded.differences(from: replay, limit: json ? Self.jsonDifferences : Self.shownDifferences)
            try report(recorded, replayedOn: replay.device, differences, total: total)
            if total > 0 {
                throw CLIFailure(status: .ranWithFailures, "the replay differs from the log in \(total) place\(total == 1 ? "" : "s")",
                                 fix: "a batch whose ops race (COMPARE_SWAP or stores to one word in one phase) may end differently on each run; otherwise compare the two devices' results above")
            }
        }
    }

    static func decode(_ path: String) throws -> RingLog {
        let bytes = try InputFile.read(path, what: "ring log")
        return try damaged(path) { () throws(RingLogError) in try RingLog(bytes: bytes) }
    }

    /// A log that does not decode, or whose batch does not plan, is bad input (exit 2), located in its file.
    static func damaged<T>(_ path: String, _ body: () throws(RingLogError) -> T) throws -> T {
        do throws(RingLogError) { return try body() } catch {
            throw CLIFailure(status: .badInput, diagnostics: error.diagnostics.map { $0.located(in: quoteForMessage(path, limit: 160)) })
        }
    }

    private func report(_ recorded: RingLog, replayedOn device: String, _ differences: [String], total: Int) throws {
        if json {
            try Output.json(JSONValue.object([
                "identical": .bool(total == 0), "differenceCount": .integer(Int64(total)), "mode": .string(recorded.mode.name), "ops": .integer(Int64(recorded.records.count)),
                "recordedOn": .string(recorded.device), "replayedOn": .string(device), "differences": .array(differences.map { .string($0) }),
            ]))
            return
        }
        // The device name comes from the log: escaped, so it cannot write to the terminal.
        let what = "\(recorded.records.count) op\(recorded.records.count == 1 ? "" : "s") (\(recorded.mode.name)) recorded on \(quoteForMessage(recorded.device, limit: 200)), replayed on \(device)"
        guard total > 0 else {
            try Output.line("\(what): identical")
            return
        }
        try Output.line("\(what): \(total) difference\(total == 1 ? "" : "s")")
        for d in differences { try Output.line("  \(d)") }
        if total > differences.count { try Output.line("  and \(total - differences.count) more (--json lists up to \(Self.jsonDifferences))") }
    }
}
