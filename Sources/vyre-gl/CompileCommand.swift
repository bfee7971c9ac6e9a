import ArgumentParser
import Foundation
import VyreGL
import VyreIR

struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile GLSL compute source with the device's driver and print what the driver says.",
        discussion: "For checking what a driver accepts: the source is compiled and linked as is (no IR involved). Exit status 1 when the driver rejects it.")

    @Argument(help: "GLSL compute shader files (.comp).") var files: [String]
    @OptionGroup var deviceOptions: DeviceOptions

    /// Lines of a driver log printed per file; a log of thousands of errors is cut, with a count.
    static let logLines = 200

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            var rejected = 0
            for file in files {
                let source = String(decoding: try InputFile.read(file, what: "GLSL file"), as: UTF8.self)
                let name = escapingControlCharacters(file)
                switch Result(catching: { () throws(VyreGLError) in try context.compileRawGLSL(source) }) {
                case .success(let report):
                    try Output.line("\(name): accepted (\(String(format: "%.1f", report.time.ms)) ms)")
                    try Self.printLog(report.log)
                case .failure(.compileFailed(let log, _, _, _)):
                    rejected += 1
                    try Output.line("\(name): rejected by the compiler:")
                    try Self.printLog(log)
                case .failure(.linkFailed(let log)):
                    rejected += 1
                    try Output.line("\(name): rejected by the linker:")
                    try Self.printLog(log)
                case .failure(let error):
                    throw error
                }
            }
            if rejected > 0 { throw CLIFailure(status: .ranWithFailures, "\(rejected) of \(files.count) files rejected by \(context.info.renderer)", fix: "see each driver log above; the line numbers point into the file") }
        }
    }

    /// A driver log, indented, at most ``logLines`` lines of it.
    static func printLog(_ log: String) throws {
        let lines = log.split(whereSeparator: \.isNewline)
        for line in lines.prefix(logLines) { try Output.line("  " + escapingControlCharacters(line)) }
        if lines.count > logLines { try Output.line("  ... (\(lines.count - logLines) more lines of driver log)") }
    }
}
