import Testing
import VyreConformance
import VyreTesting
import VyreGL
import VyreProtocol
import VyreRuntime

/// The megakernel on an OpenGL ES context: random batches against the protocol model (one-shot,
/// and the first ones through a resident kernel, as `run --resident` does) and the resident
/// suite that `selftest` runs, all in GLSL ES.
@Suite(.serialized)
struct GLESTests {
    static var context: GLContext { SharedDevice.esContext }

    @Test func theContextSpeaksGLES() {
        #expect(Self.context.info.api == .gles)
        #expect(Self.context.info.shadingLanguage.isES)
        #expect(Self.context.target.language.isES)
        #expect(!Self.context.limits.capabilities.contains(.float64))
    }

    @Test func randomBatchesMatchTheModel() async throws {
        let megakernel = try Megakernel(context: Self.context, configuration: MegakernelConformance.configuration(workgroupSize: 32))
        let failures = MegakernelConformance.check(megakernel, count: 200, seed: 270_000).filter { !$0.passed }
        #expect(failures.isEmpty, "\(failures.count) of 200 differ:\n\(failures.prefix(5).map { "\($0.name): \($0.detail ?? "")" }.joined(separator: "\n"))")
        for seed in UInt64(280_000)..<280_010 {
            let outcome = await MegakernelConformance.checkResident(megakernel, seed: seed)
            #expect(outcome.passed, "\(outcome.name): \(outcome.detail ?? "")")
        }
    }

    @Test func theResidentSuitePasses() {
        for outcome in ResidentConformance.checks(on: Self.context) {
            #expect(outcome.passed, "\(outcome.name): \(outcome.detail ?? "")")
        }
    }
}
