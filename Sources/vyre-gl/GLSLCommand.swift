import ArgumentParser
import Foundation
import VyreGL
import VyreGLSL
import VyreIR

struct GLSLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glsl",
        abstract: "Print the GLSL compute source a program lowers to (GLSL 4.30, or GLSL ES with --api gles).",
        discussion: "Without --device the source assumes every optional type (64-bit integers and doubles) in GLSL 4.30, or, with --api gles, what every OpenGL ES 3.1 driver compiles (GLSL ES 3.10, no extension, no 64-bit types); with --device it is lowered for that device's context and fails if the program needs what the device lacks.")

    @Argument(help: "The program: JSON, or wire bytes (.vyir).") var program: String
    @Option(name: .customLong("device"), help: "Lower for this device's capabilities (index or render node).") var device: String?
    @Option(name: .customLong("api"), help: "Client API whose language to write: gl (GLSL 4.30), gles (GLSL ES) or auto (with --device, the context's; else gl).") var apiArgument = APIArgument(.automatic)
    @Flag(help: "Also print the program's content hash and the IR path of each GLSL line.") var annotate = false

    func run() throws {
        runReporting {
            let p = try CLI.loadProgram(program)
            let api = apiArgument.selection
            var target = api == .gles ? GLSLTarget.es31 : GLSLTarget.gl43Full
            if let device {
                target = try GLContext(device: DeviceSelection(parsing: device), api: api).target
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
