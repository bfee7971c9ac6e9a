import ArgumentParser
import Foundation
import VyreGL

struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile GLSL compute source with the device's driver and print what the driver says.",
        discussion: "For checking what a driver accepts: the source is compiled and linked as is (no IR involved). Exit status 1 when the driver rejects it.")

    @Argument(help: "GLSL compute shader files (.comp).") var files: [String]
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        runReporting {
            let context = try CLI.openContext(deviceOptions)
            var rejected = 0
            for file in files {
                let source = String(decoding: try InputFile.read(file, what: "GLSL file"), as: UTF8.self)
                do {
                    let report = try context.compileRawGLSL(source)
                    try Output.line("\(file): accepted (\(String(format: "%.1f", report.time.ms)) ms)\(report.log.isEmpty ? "" : "\n\(report.log)")")
                } catch {
                    rejected += 1
                    try Output.line("\(file): rejected: \(error)")
                }
            }
            if rejected > 0 { throw CLIFailure(status: .ranWithFailures, "\(rejected) of \(files.count) files rejected by \(context.info.renderer)", fix: "see each driver log above; the line numbers point into the file") }
        }
    }
}
