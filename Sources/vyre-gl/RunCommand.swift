import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Dispatch one batch of ring ops through the megakernel and print the result.",
        discussion: """
            BATCH.json: {"slots", "controlWords", "tenants", "debugRecords", "control": {"INDEX": VALUE}, \
            "ops": [{"op": NAME or NUMBER, "args": [...], "tenant", "priority"}], "buffers": {NAME: [words]}}. \
            A PACKED_SLOT takes "ops": [{"op", "args"}] (or its raw 12 "args"). Exit status: 0 every op done, \
            1 some faulted or stayed pending, 2 bad input (nothing dispatched), 3 no usable GPU or driver.
            """)

    @Argument(help: "The batch file.") var batch: String
    @Option(help: "Custom opcode handlers (and extra buffers) from an IR JSON file.") var program: String?
    @Option(name: .customLong("workgroup-size"), help: "Lanes per workgroup of the megakernel (1 to the device's maximum).") var workgroupSize: UInt32?
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Run the batch through a resident megakernel started for it: each phase is published into the live ring after the previous one completed. The output is the one-shot run's.")
    var resident = false
    @Option(help: ArgumentHelp("Write a ring log of the run to LOG: every op with its phase, epoch and outcome, and the words the run left ('vyre-gl replay LOG' runs it again and compares).", valueName: "LOG"))
    var record: String?
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var devicesOption: DevicesOption

    func validate() throws {
        if workgroupSize == 0 { throw ValidationError("--workgroup-size must be at least 1.") }
        try devicesOption.check(against: deviceOptions)
    }

    func run() throws {
        runReporting {
            // A log that could not be written is found before anything runs.
            if let record { try OutputFiles.checkTarget(record, option: "--record", inputs: [batch] + (program.map { [$0] } ?? [])) }
            let decoded = try Self.load(batch: batch, program: program)
            var configuration = decoded.configuration
            if let workgroupSize { configuration.workgroupSize = workgroupSize }
            // Checked here, once, before a device is opened: bad input dispatches nothing.
            let plan = try decoded.batch.plan(extraBuffers: configuration.extraBuffers)
            // Everything but the device's own limits: a reserved opcode or a protocol binding is
            // bad input (exit 2) on a machine without a GPU too, not a device failure.
            _ = try configuration.program(limits: .unrestricted)
            let (result, compileTime, renderer, shares): (BatchResult, Duration, String, [DeviceShare]?)
            if let set = try devicesOption.set {
                let group = try MegakernelGroup(contexts: try CLI.openContexts(set, deviceOptions), configuration: configuration)
                let run = try group.run(plan, mode: resident ? .resident : .oneShot)
                (result, shares) = (run.result, run.devices)
                compileTime = group.megakernels.map(\.compileTime).max() ?? .zero
                renderer = run.devices.map(\.renderer).joined(separator: " + ")
            } else {
                let context = try CLI.openContext(deviceOptions)
                (result, compileTime) = resident ? try Self.runResident(plan, context, configuration) : try Self.runOneShot(plan, context, configuration)
                (renderer, shares) = (context.info.renderer, nil)
            }
            if let record {
                let log = RingLog(mode: resident ? .resident : .oneShot, device: renderer, workgroupSize: configuration.workgroupSize,
                                  opcodeProgram: decoded.programBytes, plan: plan, result: result)
                try OutputFiles.writeAtomically(log.encoded(), to: record)
            }
            let report = BatchReport(plan: plan, result: result, renderer: renderer, compileTime: compileTime, devices: shares)
            if json { try Output.json(report.json) } else { try report.printText(source: batch) }
            if !result.allDone {
                throw CLIFailure(status: .ranWithFailures, "\(result.faults.count) op\(result.faults.count == 1 ? "" : "s") faulted and \(result.pending.count) stayed pending", fix: "see each FAULT reason and the pending slots above (pending: SHUTDOWN ran earlier, or the op's tenant is disabled)")
            }
        }
    }

    static func runOneShot(_ plan: BatchPlan, _ context: GLContext, _ configuration: MegakernelConfiguration) throws -> (BatchResult, Duration) {
        let megakernel = try Megakernel(context: context, configuration: configuration)
        return (try megakernel.run(plan), megakernel.compileTime)
    }

    /// Through a resident kernel started for the batch, drained before this returns.
    static func runResident(_ plan: BatchPlan, _ context: GLContext, _ configuration: MegakernelConfiguration) throws -> (BatchResult, Duration) {
        let kernel = try ResidentMegakernel(context: context, configuration: configuration, options: ResidentOptions(plan: plan))
        let result = try Blocking.wait { () async throws(MegakernelError) in try await kernel.run(plan) }
        return (result, kernel.compileTime)
    }

    /// Reads and decodes the batch and the opcode program; nothing is dispatched on bad input.
    static func load(batch path: String, program: String?) throws -> (batch: Batch, configuration: MegakernelConfiguration, programBytes: [UInt8]) {
        let batch: Batch
        do { batch = try Batch(json: try InputFile.read(path, what: "batch file")) } catch let e as ProgramJSONError {
            throw CLIFailure(status: .badInput, diagnostics: e.diagnostics.map { $0.located(in: quoteForMessage(path, limit: 160)) })
        }
        guard let program else { return (batch, MegakernelConfiguration(), []) }
        let bytes = try InputFile.read(program, what: "opcode program file")
        let configuration: MegakernelConfiguration
        do throws(ProgramJSONError) { configuration = try MegakernelConfiguration(json: bytes) } catch {
            throw CLIFailure(status: .badInput, diagnostics: error.diagnostics.map { $0.located(in: quoteForMessage(program, limit: 160)) })
        }
        return (batch, configuration, bytes)
    }

    /// Megakernel errors in the command line's words, with their exit status.
    static func classify(_ error: MegakernelError) -> (CLIFailure.Status, [Diagnostic]) {
        switch error {
        // The runtime's device failures are its GL errors; any other is reported as a failed run.
        case .device(let e as VyreGLError): (CLI.status(of: e), CLI.describe(e))
        case .device(let e): (.ranWithFailures, e.diagnostics)
        case .invalidOpcode, .invalidHandlers, .handlerExits: (.badInput, error.diagnostics.map { $0.located(in: "--program") })
        // Extra buffers come from the opcode program or the batch, and the whole megakernel from both
        // and the command line: no one file to name.
        case .invalidExtraBuffer, .invalidConfiguration, .invalidOptions, .prologueExits, .unpackable: (.badInput, error.diagnostics)
        case .invalidBatch: (.badInput, error.diagnostics)
        case .blockedOnContextThread: (.ranWithFailures, error.diagnostics)
        }
    }
}
