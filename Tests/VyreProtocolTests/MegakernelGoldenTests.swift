import Foundation
import Testing
import VyreGLSL
import VyreIR
import VyreProtocol

/// The megakernel's GLSL (default configuration) is checked in as glsl/golden/megakernel_oneshot.comp:
/// the tests regenerate and diff it (VYRE_UPDATE_GOLDEN=1 rewrites it) and GoldenTests validates it
/// with glslangValidator.
struct MegakernelGoldenTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("glsl/golden/megakernel_oneshot.comp")

    @Test func oneShotMegakernelMatchesGoldenGLSL() throws {
        let program = MegakernelPrograms.oneShot(configuration: MegakernelConfiguration())
        try program.validate(limits: .gl43)
        let source = try program.lowerToGLSL(target: .gl43).source
        if ProcessInfo.processInfo.environment["VYRE_UPDATE_GOLDEN"] == "1" {
            try source.write(to: Self.file, atomically: true, encoding: .utf8)
        }
        #expect(source == (try String(contentsOf: Self.file, encoding: .utf8)), "rerun with VYRE_UPDATE_GOLDEN=1 if the change is intended")
    }
}
