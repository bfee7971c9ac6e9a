import Foundation
import Testing
import VyreGLSL
import VyreIR
import VyreProtocol

/// The megakernels' GLSL (default configuration) is checked in as glsl/golden/megakernel_oneshot.comp
/// and megakernel_resident.comp: the tests regenerate and diff them (VYRE_UPDATE_GOLDEN=1 rewrites
/// them) and GoldenTests validates them with glslangValidator.
struct MegakernelGoldenTests {
    static func file(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("glsl/golden/\(name).comp")
    }

    static func expectGolden(_ program: Program, _ name: String, target: GLSLTarget = .gl43) throws {
        try program.validate(limits: .gl43)
        let source = try program.lowerToGLSL(target: target).source
        if ProcessInfo.processInfo.environment["VYRE_UPDATE_GOLDEN"] == "1" {
            try source.write(to: file(name), atomically: true, encoding: .utf8)
        }
        #expect(source == (try String(contentsOf: file(name), encoding: .utf8)), "rerun with VYRE_UPDATE_GOLDEN=1 if the change is intended")
    }

    @Test func oneShotMegakernelMatchesGoldenGLSL() throws {
        try Self.expectGolden(MegakernelPrograms.oneShot(configuration: MegakernelConfiguration()), "megakernel_oneshot")
    }

    @Test func residentMegakernelMatchesGoldenGLSL() throws {
        try Self.expectGolden(MegakernelPrograms.resident(configuration: MegakernelConfiguration()), "megakernel_resident")
    }

    /// The same megakernels in GLSL ES 3.10 with no extension, as an OpenGL ES 3.1 driver gets them.
    @Test func megakernelsMatchGoldenGLSLES() throws {
        try Self.expectGolden(MegakernelPrograms.oneShot(configuration: MegakernelConfiguration()), "megakernel_oneshot.es31", target: .es31)
        try Self.expectGolden(MegakernelPrograms.resident(configuration: MegakernelConfiguration()), "megakernel_resident.es31", target: .es31)
    }
}
