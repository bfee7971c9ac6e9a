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

    static func expectGolden(_ program: Program, _ name: String, target: GLSLTarget = .gl43, limits: Limits = .gl43) throws {
        try program.validate(limits: limits)
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

    /// Packed into the 4 storage blocks every OpenGL ES 3.1 device has, as the runtime builds them
    /// there (``MegakernelBlocks``).
    @Test func packedMegakernelsMatchGoldenGLSLES() throws {
        let oneShot = try MegakernelConfiguration().oneShotKernel(limits: .es31)
        let resident = try MegakernelConfiguration().residentKernel(limits: .es31)
        #expect(oneShot.blocks.isPacked && resident.blocks.isPacked)
        try Self.expectGolden(oneShot.validated.program, "megakernel_oneshot.packed.es31", target: .es31, limits: .es31)
        try Self.expectGolden(resident.validated.program, "megakernel_resident.packed.es31", target: .es31, limits: .es31)
    }
}
