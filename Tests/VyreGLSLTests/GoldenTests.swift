import Foundation
import Testing
import VyreTesting
import VyreGLSL
import VyreIR

/// The GLSL of the example programs is checked in under glsl/golden; any change in the lowering
/// shows up as a diff here. Set VYRE_UPDATE_GOLDEN=1 to rewrite the files after a deliberate change.
struct GoldenTests {
    static let update = ProcessInfo.processInfo.environment["VYRE_UPDATE_GOLDEN"] == "1"

    @Test func examplesMatchGoldenGLSL() throws {
        let names = try Repo.exampleProgramNames()
        #expect(names.count >= 5)
        for name in names {
            let program = try Program(json: try Data(contentsOf: Repo.examples.appendingPathComponent("\(name).json")))
            let source = try program.lowerToGLSL(target: .gl43Full).source
            let file = Repo.golden.appendingPathComponent("program_\(name).comp")
            if Self.update {
                try FileManager.default.createDirectory(at: Repo.golden, withIntermediateDirectories: true)
                try source.write(to: file, atomically: true, encoding: .utf8)
            }
            let golden = try String(contentsOf: file, encoding: .utf8)
            #expect(source == golden, "glsl/golden/program_\(name).comp differs from the lowering; rerun with VYRE_UPDATE_GOLDEN=1 if the change is intended")
        }
    }

    @Test func everyGoldenFileIsValidGLSL() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Repo.golden, includingPropertiesForKeys: nil).filter { $0.pathExtension == "comp" }
        #expect(!files.isEmpty)
        let failures = try Glslang.validate(files)
        #expect(failures.isEmpty, "\(failures.count) failures; first: \(String(failures.first?.prefix(1500) ?? ""))")
    }

    @Test func generatedProgramsAreValidGLSL() throws {
        let count = Int(ProcessInfo.processInfo.environment["VYRE_GLSL_PROGRAMS"] ?? "") ?? 200
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-glsl-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [URL] = []
        for i in 0..<count {
            let mode: ProgramGenerator.Mode = i % 2 == 0 ? .deterministic : .anyValid
            var g = ProgramGenerator(seed: 20_000 + UInt64(i), options: .init(mode: mode, capabilities: Set(Capability.allCases)))
            let source = try g.generate().program.lowerToGLSL(target: .gl43Full).source
            let file = dir.appendingPathComponent("gen_\(i).comp")
            try source.write(to: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        let failures = try Glslang.validate(files)
        #expect(failures.isEmpty, "\(failures.count) failures; first: \(String(failures.first?.prefix(1500) ?? ""))")
    }
}
