import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreGLSL

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
    /// Prints `error` to stderr and exits with the status its kind calls for.
    static func fail(_ error: any Error) -> Never {
        let (status, message) = classify(error)
        FileHandle.standardError.write(Data("vyre-gl: \(message)\n".utf8))
        exit(status.rawValue)
    }

    static func classify(_ error: any Error) -> (CLIFailure.Status, String) {
        switch error {
        case let e as CLIFailure: return (e.status, e.message)
        case let e as VyreGLError:
            switch e {
            case .noEGL, .deviceNotFound, .eglFailure, .glTooOld, .contextLost, .contextClosed: return (.noDevice, e.description)
            case .invalidForDevice, .lowering, .bufferTooSmall, .missingBuffer, .missingParameter, .unknownBuffer, .badBufferSize, .gridTooLarge: return (.badInput, e.description)
            default: return (.ranWithFailures, e.description)
            }
        case let e as ProgramJSONError: return (.badInput, "invalid program JSON at \(e.description)")
        case let e as ValidationFailure: return (.badInput, e.description)
        case let e as WireError: return (.badInput, e.description)
        case let e as GLSLError: return (.badInput, e.description)
        default: return (.ranWithFailures, "\(error)")
        }
    }

    static func badInput(_ message: String) -> CLIFailure { CLIFailure(status: .badInput, message: message) }

    /// Reads a file, or fails with exit status 2 and a Fix.
    static func read(_ path: String, what: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else {
            throw badInput("\(what) '\(path)' does not exist. Fix: check the path (relative paths start at \(FileManager.default.currentDirectoryPath)).")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw badInput("\(what) '\(path)' cannot be read. Fix: check its permissions.")
        }
        return data
    }

    /// Loads a program from JSON (or from wire bytes, recognized by their magic).
    static func loadProgram(_ path: String) throws -> Program {
        let data = try read(path, what: "program file")
        if data.starts(with: WireFormat.magic) { return try Program(wireBytes: data) }
        return try Program(json: data)
    }

    static func openContext(_ options: DeviceOptions) throws -> GLContext {
        do { return try GLContext(device: options.selection, logger: .init(label: "vyre-gl")) } catch { throw error }
    }

    static func printJSON(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Runs a command body and turns thrown errors into a message and exit status.
func runReporting(_ body: () throws -> Void) {
    VyreGLCommand.bootstrapLogging()
    do { try body() } catch { CLI.fail(error) }
}
