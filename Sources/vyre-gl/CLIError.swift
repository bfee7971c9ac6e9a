import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreGLSL
import VyreProtocol
import VyreRuntime

/// How a command ends when something goes wrong: a message (with its Fix) on stderr and an exit
/// status that scripts can act on.
struct CLIFailure: Error {
    enum Status: Int32 {
        case ranWithFailures = 1
        case badInput = 2
        case noDevice = 3
    }
    var status: Status
    var message: String
}

enum CLI {
    /// Longest message written to stderr; a longer one (a validation report of thousands of
    /// problems, say) is cut with a note.
    static let messageLimit: Int = 8000

    /// Prints `error` to stderr and exits with the status its kind calls for.
    static func fail(_ error: any Error) -> Never {
        let (status, message) = classify(error)
        var text = message
        if text.count > messageLimit { text = "\(text.prefix(messageLimit))... (message cut at \(messageLimit) characters)" }
        FileHandle.standardError.write(Data("vyre-gl: \(text)\n".utf8))
        exit(status.rawValue)
    }

    /// A command-line parsing error (unknown flag, missing or malformed value): exit status 2,
    /// with the usage and a Fix. Help and version requests print to stdout and exit 0.
    static func usage(_ error: any Error, arguments: [String]) -> Never {
        if VyreGLCommand.exitCode(for: error) == .success {
            do {
                try Output.line(VyreGLCommand.fullMessage(for: error))
                try Output.flush()
                exit(0)
            } catch { fail(error) }
        }
        let message = VyreGLCommand.fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
        let command = arguments.first { name in VyreGLCommand.configuration.subcommands.contains { $0.configuration.commandName == name } }
        let help = command.map { "vyre-gl \($0) --help" } ?? "vyre-gl --help"
        fail(CLIFailure(status: .badInput, message: "\(message)\nFix: correct the command line; '\(help)' lists the arguments and options."))
    }

    /// The exit status and the message, in the command line's words (flags and JSON keys).
    static func classify(_ error: any Error) -> (CLIFailure.Status, String) {
        switch error {
        case let e as CLIFailure: return (e.status, e.message)
        case let e as VyreGLError: return (status(of: e), describe(e))
        case let e as MegakernelError: return RunCommand.classify(e)
        case let e as InterpreterError: return (.badInput, describe(e))
        case let e as ProgramJSONError: return (.badInput, "invalid JSON at \(e.description)")
        case let e as ValidationFailure: return (.badInput, e.description)
        case let e as WireError: return (.badInput, e.description)
        case let e as GLSLError: return (.badInput, e.description)
        default: return (.ranWithFailures, "\(error)")
        }
    }

    static func status(of error: VyreGLError) -> CLIFailure.Status {
        switch error {
        case .noEGL, .deviceNotFound, .eglFailure, .glTooOld, .contextLost, .contextClosed: .noDevice
        case .invalidForDevice, .lowering, .bufferTooSmall, .bufferTooLarge, .missingBuffer, .missingParameter, .unknownBuffer, .badBufferSize, .gridTooLarge: .badInput
        default: .ranWithFailures
        }
    }

    /// Library errors whose Fix names a Swift API, said with the flags that do the same.
    static func describe(_ error: VyreGLError) -> String {
        switch error {
        case .missingBuffer(let n):
            "runtime-sized buffer '\(quoteForMessage(n))' was not given, so its length is unknown. Fix: pass it with --buffer \(n)=[...], \(n)=@FILE or \(n)=zeros:N."
        case .bufferTooSmall(let n, let bytes, let needed):
            "buffer '\(quoteForMessage(n))' has \(bytes / 4) words but the program declares \(needed / 4). Fix: pass at least \(needed / 4) words with --buffer \(n)=..., or leave it out to start it zeroed."
        case .missingParameter(let n):
            "the program reads parameter '\(quoteForMessage(n))' but no value was given. Fix: add --param \(n)=VALUE."
        case .unknownBuffer(let n):
            "buffer '\(quoteForMessage(n))' was given but the program declares no such buffer. Fix: check the --buffer names against the program's buffers."
        case .gridTooLarge(let requested, let limit):
            "--groups \(requested.x),\(requested.y),\(requested.z) exceeds this device's maximum of \(limit.x),\(limit.y),\(limit.z) workgroups. Fix: use fewer workgroups (larger workgroups, or a loop inside the program)."
        case .timeout(let seconds, let what, let stopped):
            "\(what) did not finish within \(seconds) s (--timeout): \(stopped ? "it was stopped and its results were dropped" : "it could not be stopped, and the device may stay busy for a while"). Fix: give the program less work, or raise --timeout."
        case .contextClosed:
            "the GL context was closed while the command ran. Fix: run the command again; if it repeats, check the device with 'vyre-gl info'."
        default:
            error.description
        }
    }

    /// The reference interpreter's errors as `exec --check` meets them.
    static func describe(_ error: InterpreterError) -> String {
        switch error {
        case .stepBudgetExceeded(let budget):
            "the reference interpreter behind --check ran past its budget of \(budget) steps. Fix: check a smaller run (fewer --groups, less work per invocation), or leave out --check."
        case .missingParameter(let n):
            "the program reads parameter '\(quoteForMessage(n))' but no value was given. Fix: add --param \(n)=VALUE."
        case .missingBuffer(let n):
            "runtime-sized buffer '\(quoteForMessage(n))' was not given, so its length is unknown. Fix: pass it with --buffer \(n)=[...], \(n)=@FILE or \(n)=zeros:N."
        case .bufferTooSmall(let n, let words, let needed):
            "buffer '\(quoteForMessage(n))' has \(words) words but the program declares \(needed). Fix: pass at least \(needed) words with --buffer \(n)=..."
        case .unknownBuffer(let n):
            "buffer '\(quoteForMessage(n))' was given but the program declares no such buffer. Fix: check the --buffer names against the program's buffers."
        case .invalidGrid:
            "--groups has an empty axis. Fix: dispatch at least one workgroup on every axis."
        default:
            error.description
        }
    }

    static func badInput(_ message: String) -> CLIFailure { CLIFailure(status: .badInput, message: message) }

    /// Loads a program from JSON (or from wire bytes, recognized by their magic).
    static func loadProgram(_ path: String) throws -> Program {
        let bytes = try InputFile.read(path, what: "program file")
        if bytes.starts(with: WireFormat.magic) { return try Program(wireBytes: bytes) }
        do { return try Program(json: bytes) } catch {
            throw badInput("\(quoteForMessage(path, limit: 160)): invalid program JSON at \(error.description)")
        }
    }

    static func openContext(_ options: DeviceOptions) throws -> GLContext {
        try GLContext(device: options.selection, logger: .init(label: "vyre-gl"))
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
