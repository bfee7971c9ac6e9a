import ArgumentParser
import VyreIR
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import VyreGL

@main
struct VyreGLCommand: ParsableCommand {
    static let version = VyreGLVersion.string

    /// Parses the command line, mapping every usage error to exit status 2 with a Fix (the
    /// parser's own default is 64 without one), then runs the command.
    static func main() {
        // A closed pipe must reach the output code as EPIPE, not end the process without a word.
        signal(SIGPIPE, SIG_IGN)
        let arguments = Array(CommandLine.arguments.dropFirst())
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            CLI.usage(error, arguments: arguments)
        }
        do {
            try command.run()
        } catch {
            CLI.usage(error, arguments: arguments)
        }
        CLI.end(0)
    }

    static let configuration = CommandConfiguration(
        commandName: "vyre-gl",
        abstract: "Run vyre compute programs and megakernel batches on any GPU reachable through headless EGL + OpenGL 4.3.",
        discussion: """
            Exit status: 0 success; 1 it ran but something failed (faults, pending ops, selftest failures); \
            2 bad input (the error and its Fix are on stderr, nothing was dispatched); 3 no usable GPU or driver.
            Environment: VYRE_GL_DEVICE selects the EGL device (an index or a render node), VYRE_GL_DEBUG=1 asks \
            for a debug context, VYRE_GL_LOG=debug|trace shows the library's log, VYRE_GL_CACHE_DIR moves the program \
            binary cache ('vyre-gl cache').
            """,
        version: version,
        subcommands: [RunCommand.self, ScanCommand.self, ReplayCommand.self, InfoCommand.self, GLSLCommand.self, ExecCommand.self, SelftestCommand.self, BenchCommand.self, CompileCommand.self, CacheCommand.self])

    /// Sets up logging once for the process (libraries never bootstrap).
    static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["VYRE_GL_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Options shared by commands that open a GL context.
struct DeviceOptions: ParsableArguments {
    @Option(name: .customLong("device"), help: "EGL device: an index from 'vyre-gl info' or a render node path (default: VYRE_GL_DEVICE, else the first hardware device).")
    var device: String?

    @Option(name: .customLong("api"), help: "Client API: gl (OpenGL 4.3 core), gles (OpenGL ES 3.1) or auto (default: VYRE_GL_API, else OpenGL 4.3 core where the device offers it, else OpenGL ES 3.1).")
    var apiArgument = APIArgument(.automatic)

    var api: APISelection { apiArgument.selection }

    var selection: DeviceSelection { device.map(DeviceSelection.init(parsing:)) ?? .automatic }

    /// A value that is neither an index nor a path is a usage error (exit 2); one that names no
    /// device present is found out when the device is opened (exit 3).
    func validate() throws {
        guard let device else { return }
        let text = device.trimmingCharacters(in: .whitespaces)
        guard Int(text).map({ $0 >= 0 }) ?? text.hasPrefix("/") else {
            throw ValidationError("--device '\(quoteForMessage(device))' is neither a device index such as 0 nor a render node path such as /dev/dri/renderD128")
        }
    }
}

/// `--devices`: work spread over several devices, one context each.
struct DevicesOption: ParsableArguments {
    @Option(name: .customLong("devices"), help: ArgumentHelp("Spread the work over several devices: all (every hardware EGL device) or indices and render nodes from 'vyre-gl info' such as 0,1 (a device named twice gets two contexts).", valueName: "all|N,N"))
    var devices: String?

    /// The devices asked for; nil without `--devices`.
    var set: DeviceSet? {
        get throws { try devices.map { text throws(VyreGLError) in try DeviceSet(parsing: text) } }
    }

    func validate() throws {
        guard let devices else { return }
        do { _ = try DeviceSet(parsing: devices) } catch {
            throw ValidationError("--devices '\(quoteForMessage(devices, limit: 80))' is neither all nor at most \(DeviceSet.maxDevices) device indices and render node paths such as 0,1")
        }
    }

    /// `--device` and `--devices` together are a usage error.
    func check(against deviceOptions: DeviceOptions) throws {
        if devices != nil, deviceOptions.device != nil { throw ValidationError("--device and --devices cannot be used together; --devices 0,1 names every device") }
    }
}

/// `--api` as the command line spells it.
struct APIArgument: ExpressibleByArgument {
    let selection: APISelection
    init(_ selection: APISelection) { self.selection = selection }
    init?(argument: String) {
        guard let s = APISelection(parsing: argument) else { return nil }
        selection = s
    }
    var defaultValueDescription: String { selection.rawValue }
    static var allValueStrings: [String] { APISelection.allCases.map(\.rawValue) }
}
