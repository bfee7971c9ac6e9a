import ArgumentParser
import Foundation
import VyreGL
import VyreGLSL
import VyreIR

struct GLSLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glsl",
        abstract: "Print the GLSL 4.30 compute source a program lowers to.",
        discussion: "Without --device the source assumes every optional type (64-bit integers and doubles); with --device it is lowered for that device and fails if the program needs what the device lacks.")

    @Argument(help: "The program: JSON, or wire bytes (.vyir).") var program: String
    @Option(name: .customLong("device"), help: "Lower for this device's capabilities (index or render node).") var device: String?
    @Flag(help: "Also print the program's content hash and the IR path of each GLSL line.") var annotate = false

    func run() throws {
        runReporting {
            let p = try CLI.loadProgram(program)
            var target = GLSLTarget.gl43Full
            if let device {
                target = try GLContext(device: DeviceSelection(parsing: device)).target
            }
            let validated = try CLI.validate(p, from: program, for: nil)
            let lowered = try validated.lowerToGLSL(target: target)
            if annotate {
                try Output.line("// content hash: \(validated.contentHash)")
                for (i, line) in lowered.source.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
                    let where_ = lowered.location(ofLine: i + 1)?.path ?? ""
                    try Output.line("\(line.padding(toLength: max(line.count, 72), withPad: " ", startingAt: 0)) // \(String(format: "%4d", i + 1)) \(where_)")
                }
            } else {
                try Output.write(lowered.source)
            }
        }
    }
}
