import Foundation
import Testing
import VyreTesting
import VyreGLSL
import VyreIR

/// The GLSL of the example programs is checked in under glsl/golden; any change in the lowering
/// shows up as a diff here. Set VYRE_UPDATE_GOLDEN=1 to rewrite the files after a deliberate change.
struct GoldenTests {
    static let update = ProcessInfo.processInfo.environment["VYRE_UPDATE_GOLDEN"] == "1"

    /// Desktop GLSL with every capability, and GLSL ES 3.10 with no extension (the written-out
    /// exact form, integer fma); an example that needs 64-bit types has no ES golden.
    @Test(arguments: [("", GLSLTarget.gl43Full), (".es31", GLSLTarget.es31)])
    func examplesMatchGoldenGLSL(suffix: String, target: GLSLTarget) throws {
        let names = try Repo.exampleProgramNames()
        #expect(names.count >= 5)
        for name in names {
            let program = try Program(json: try Data(contentsOf: Repo.examples.appendingPathComponent("\(name).json")))
            let lowered: LoweredProgram
            do throws(GLSLError) { lowered = try program.lowerToGLSL(target: target) } catch {
                guard case .missingFeature = error, target.language.isES else { throw error }
                continue
            }
            let source = lowered.source
            let file = Repo.golden.appendingPathComponent("program_\(name)\(suffix).comp")
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

    /// Generated programs, lowered for desktop GLSL (every capability) and for GLSL ES 3.10 (with
    /// and without `GL_EXT_gpu_shader5`'s `precise`) and 3.20 (32-bit types only), all accepted by
    /// glslangValidator.
    @Test(arguments: [GLSLTarget.gl43Full, .es31, .es32, GLSLTarget(capabilities: [], language: .essl310, extensions: ["GL_EXT_gpu_shader5"])])
    func generatedProgramsAreValidGLSL(target: GLSLTarget) throws {
        let count = Int(ProcessInfo.processInfo.environment["VYRE_GLSL_PROGRAMS"] ?? "") ?? 200
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-glsl-\(ProcessInfo.processInfo.processIdentifier)-\(target.language.versionLine.split(separator: " ").dropFirst().joined())\(target.extensions.sorted().joined())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [URL] = []
        for i in 0..<count {
            let mode: ProgramGenerator.Mode = i % 2 == 0 ? .deterministic : .anyValid
            let capabilities: Set<Capability> = target.language.isES ? [] : Set(Capability.allCases)
            var g = ProgramGenerator(seed: 20_000 + UInt64(i), options: .init(mode: mode, capabilities: capabilities))
            let source = try g.generate().program.lowerToGLSL(target: target).source
            let file = dir.appendingPathComponent("gen_\(target.language.isES ? "es" : "gl")_\(i).comp")
            try source.write(to: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        let failures = try Glslang.validate(files)
        #expect(failures.isEmpty, "\(failures.count) failures; first: \(String(failures.first?.prefix(1500) ?? ""))")
    }
}
