import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreGLSL
import VyreProtocol
import VyreStream
import VyreRuntime

/// How a command ends when something goes wrong: diagnostics on stderr and an exit status that
/// scripts can act on.
struct CLIFailure: Error {
    enum Status: Int32 {
        case ranWithFailures = 1
        case badInput = 2
        case noDevice = 3
    }
    var status: Status
    var diagnostics: [Diagnostic]

    init(status: Status, diagnostics: [Diagnostic]) {
        self.status = status
        self.diagnostics = diagnostics
    }

    init(status: Status, _ problem: String, fix: String) {
        self.init(status: status, diagnostics: [Diagnostic(problem, fix: fix)])
    }
}

enum CLI {
    /// Most diagnostics written to stderr; the rest of a long report (a validation of thousands
    /// of problems, say) is counted.
    static let diagnosticLimit = 20
    /// Longest diagnostic written to stderr; a longer one is cut with a note.
    static let messageLimit: Int = 8000

    /// Prints `error` to stderr, one `vyre-gl: [path: ]problem. Fix: fix.` line per diagnostic
    /// whatever the error's type, and exits with the status its kind calls for.
    static func fail(_ error: any Error) -> Never {
        let (status, diagnostics) = classify(error)
        var lines = diagnostics.prefix(diagnosticLimit).map(line)
        if diagnostics.count > diagnosticLimit { lines.append("... and \(diagnostics.count - diagnosticLimit) more problems") }
        FileHandle.standardError.write(Data(lines.map { "vyre-gl: \($0)\n" }.joined().utf8))
        end(status.rawValue)
    }

    /// Ends the process with `status` once its output is written, without the C library's exit
    /// handlers: libglvnd's teardown among them raced a GL context thread still releasing objects
    /// and aborted about one exit in 25 on a loaded machine (a crash after a correct answer).
    static func end(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }

    /// One diagnostic as one line of stderr: cut at ``messageLimit`` and with every control
    /// character escaped, whatever input the message quotes, so it can never split the line or
    /// send the terminal an escape sequence.
    static func line(_ d: Diagnostic) -> String {
        let text = d.description
        return escapingControlCharacters(text.count > messageLimit ? "\(text.prefix(messageLimit))... (message cut at \(messageLimit) characters)" : text)
    }

    /// A command-line parsing error (unknown flag, missing or malformed value): exit status 2,
    /// with the usage and a Fix. Help and version requests print to stdout and exit 0.
    static func usage(_ error: any Error, arguments: [String]) -> Never {
        if VyreGLCommand.exitCode(for: error) == .success {
            do {
                try Output.line(VyreGLCommand.fullMessage(for: error))
                try Output.flush()
                end(0)
            } catch { fail(error) }
        }
        // The parser's own message, on one line: its usage block would split the diagnostic, and
        // the Fix names the help of the (sub)command that was being parsed.
        let message = VyreGLCommand.message(for: error).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        var command: [any ParsableCommand.Type] = [VyreGLCommand.self]
        for argument in arguments {
            guard let next = command.last!.configuration.subcommands.first(where: { $0.configuration.commandName == argument }) else { break }
            command.append(next)
        }
        let help = (["vyre-gl"] + command.dropFirst().compactMap { $0.configuration.commandName } + ["--help"]).joined(separator: " ")
        // For a bad value the parser also names what the option takes.
        let takes = VyreGLCommand.fullMessage(for: error).split(whereSeparator: \.isNewline)
            .first { $0.hasPrefix("Help:") }
            .map { " (" + $0.dropFirst(5).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") + ")" } ?? ""
        fail(CLIFailure(status: .badInput, message, fix: "correct the command line\(takes); '\(help)' lists the arguments and options"))
    }

    /// The exit status and the diagnostics, in the command line's words (flags and JSON keys).
    static func classify(_ error: any Error) -> (CLIFailure.Status, [Diagnostic]) {
        switch error {
        case let e as CLIFailure: return (e.status, e.diagnostics)
        case let e as VyreGLError: return (status(of: e), describe(e))
        case let e as MegakernelError: return RunCommand.classify(e)
        case let e as ScanError:
            if case .device(let device) = e { return (status(of: device), describe(device)) }
            return (.badInput, e.diagnostics)
        case let e as InterpreterError: return (.badInput, describe(e))
        case let e as ProgramJSONError: return (.badInput, e.diagnostics.map { $0.within("invalid JSON") })
        case let e as any DiagnosticError: return (.badInput, e.diagnostics)
        default: return (.ranWithFailures, [Diagnostic("\(error)", fix: "this is unexpected; report it with the command line and the output of 'vyre-gl info'")])
        }
    }

    static func status(of error: VyreGLError) -> CLIFailure.Status {
        switch error {
        case .noEGL, .deviceNotFound, .eglFailure, .glTooOld, .contextLost, .contextClosed,
             .renderNodeMissing, .renderNodeDenied, .renderNodeInvalid, .gbmUnavailable, .noPersistentMapping: .noDevice
        case .badAPISelection, .badLimitsProfile, .badDeviceList: .badInput
        case .invalidForDevice, .lowering, .bufferTooSmall, .bufferTooLarge, .missingBuffer, .missingParameter, .unknownBuffer, .badBufferSize, .gridTooLarge, .gridTooLargeInAll: .badInput
        default: .ranWithFailures
        }
    }

    /// Library errors whose Fix names a Swift API, said with the flags that do the same.
    static func describe(_ error: VyreGLError) -> [Diagnostic] {
        switch error {
        case .missingBuffer(let n):
            describe(InputError.missingBuffer(n))
        case .bufferTooSmall(let n, let bytes, let needed):
            describe(InputError.bufferTooSmall(name: n, words: bytes / 4, needed: needed / 4))
        case .missingParameter(let n):
            [Diagnostic("the program reads parameter '\(quoteForMessage(n))' but no value was given", fix: "add --param \(n)=VALUE")]
        case .unknownBuffer(let n):
            describe(InputError.unknownBuffer(n))
        case .gridTooLarge(let requested, _) where requested.x == 0 || requested.y == 0 || requested.z == 0:
            [Diagnostic("--groups \(requested.x),\(requested.y),\(requested.z) has an empty axis", fix: "dispatch at least one workgroup on every axis")]
        case .gridTooLarge(let requested, let limit):
            [Diagnostic("--groups \(requested.x),\(requested.y),\(requested.z) exceeds this device's maximum of \(limit.x),\(limit.y),\(limit.z) workgroups", fix: "use fewer workgroups (larger workgroups, or a loop inside the program)")]
        case .timeout(let seconds, let what, let stopped):
            [Diagnostic("\(what) did not finish within \(seconds) s (--timeout): \(stopped ? "it was stopped and its results were dropped" : "it could not be stopped, and the device may stay busy for a while")", fix: "give the program less work, or raise --timeout")]
        case .contextClosed:
            [Diagnostic("the GL context was closed while the command ran", fix: "run the command again; if it repeats, check the device with 'vyre-gl info'")]
        default:
            error.diagnostics
        }
    }

    /// The reference interpreter's errors as `exec --check` meets them.
    static func describe(_ error: InterpreterError) -> [Diagnostic] {
        switch error {
        case .stepBudgetExceeded(let budget):
            [Diagnostic("the reference interpreter behind --check ran past its budget of \(budget) steps", fix: "check a smaller run (fewer --groups, less work per invocation), or leave out --check")]
        case .missingParameter(let n):
            [Diagnostic("the program reads parameter '\(quoteForMessage(n))' but no value was given", fix: "add --param \(n)=VALUE")]
        case .input(let e):
            describe(e)
        case .invalidGrid:
            [Diagnostic("--groups has an empty axis", fix: "dispatch at least one workgroup on every axis")]
        default:
            error.diagnostics
        }
    }

    /// Buffers that do not fit the program, said with `--buffer`.
    static func describe(_ error: InputError) -> [Diagnostic] {
        switch error {
        case .missingBuffer(let n):
            [Diagnostic("runtime-sized buffer '\(quoteForMessage(n))' was not given, so its length is unknown", fix: "pass it with --buffer \(n)=[...], \(n)=@FILE or \(n)=zeros:N")]
        case .bufferTooSmall(let n, let words, let needed):
            [Diagnostic("buffer '\(quoteForMessage(n))' has \(counted(words, "word")) but the program declares \(needed)", fix: "pass at least \(needed) words with --buffer \(n)=...")]
        case .unknownBuffer(let n):
            [Diagnostic("buffer '\(quoteForMessage(n))' was given but the program declares no such buffer", fix: "check the --buffer names against the program's buffers")]
        }
    }

    static func badInput(_ problem: String, fix: String) -> CLIFailure { CLIFailure(status: .badInput, problem, fix: fix) }

    /// Loads a program from JSON (or from wire bytes, recognized by their magic); every problem
    /// names the file.
    static func loadProgram(_ path: String) throws -> Program {
        let bytes = try InputFile.read(path, what: "program file")
        let file = quoteForMessage(path, limit: 160)
        if bytes.starts(with: WireFormat.magic) {
            do { return try Program(wireBytes: bytes) } catch {
                throw CLIFailure(status: .badInput, diagnostics: error.diagnostics.map { $0.within("invalid program wire bytes").located(in: file) })
            }
        }
        do { return try Program(json: bytes) } catch {
            throw CLIFailure(status: .badInput, diagnostics: error.diagnostics.map {
                Diagnostic("\(file): invalid program JSON at \($0.path ?? "(top level)"): \($0.problem)", fix: $0.fix)
            })
        }
    }

    /// Validates the program loaded from `path` (for a device when `context` is given); each
    /// problem names the file and its JSON path there.
    static func validate(_ program: Program, from path: String, for context: GLContext?) throws -> ValidatedProgram {
        func located(_ failure: ValidationFailure) -> CLIFailure {
            CLIFailure(status: .badInput, diagnostics: failure.diagnostics.map { $0.located(in: quoteForMessage(path, limit: 160)) })
        }
        guard let context else {
            do throws(ValidationFailure) { return try program.validated(limits: .unrestricted) } catch { throw located(error) }
        }
        do throws(VyreGLError) { return try context.validated(program) } catch {
            if case .invalidForDevice(let failure) = error { throw located(failure) }
            throw error
        }
    }

    static func openContext(_ options: DeviceOptions) throws -> GLContext {
        try GLContext(device: options.selection, api: options.api, logger: .init(label: "vyre-gl"))
    }

    /// Throws the refusal `command` gets on a context that cannot map buffers persistently.
    static func requireMapping(_ context: GLContext, for command: String) throws {
        guard context.info.persistentMapping else {
            throw VyreGLError.noPersistentMapping(found: context.info.mappingDescription, needs: command)
        }
    }

    /// `--workgroups` within what every device of `contexts` dispatches, said in the command
    /// line's words before anything is built (the libraries say it in theirs).
    static func checkWorkgroups(_ workgroups: UInt32?, on contexts: [GLContext]) throws {
        guard let workgroups else { return }
        let most = contexts.map { $0.info.limits.maxWorkgroupCount[0] }.min() ?? 1
        guard (1...most).contains(workgroups) else {
            throw CLIFailure(status: .badInput, "--workgroups \(workgroups) is outside 1 to \(most), what \(contexts.count == 1 ? "this device dispatches" : "every device given dispatches")",
                             fix: "give --workgroups from 1 to \(most), or leave it out for the device's default")
        }
    }

    /// One context per device of `set`, with `options`' API.
    static func openContexts(_ set: DeviceSet, _ options: DeviceOptions) throws -> [GLContext] {
        try GLContext.open(set, api: options.api, logger: .init(label: "vyre-gl"))
    }
}

/// Runs a command body, flushes its output, and turns thrown errors into a message and exit status.
func runReporting(_ body: () throws -> Void) {
    VyreGLCommand.bootstrapLogging()
    defer { reportPeakMemory() }
    do {
        try body()
        try Output.flush()
    } catch {
        // Whatever was printed before the failure still goes out (a failed flush adds nothing).
        _ = try? Output.flush()
        reportPeakMemory()
        CLI.fail(error)
    }
}

/// With `VYRE_GL_PEAK_MEMORY=1`, the process's peak resident memory goes to stderr at exit, so
/// memory figures (BENCHMARKS.md, the tests) come from the process itself. It is VmHWM from
/// /proc/self/status: getrusage's ru_maxrss would carry over the RSS of the process that spawned
/// this one (it survives exec), which is not this command's memory.
private func reportPeakMemory() {
    guard ProcessInfo.processInfo.environment["VYRE_GL_PEAK_MEMORY"] == "1",
          let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) }) else { return }
    FileHandle.standardError.write(Data("vyre-gl: peak resident memory \(kib) KiB\n".utf8))
}
