import Foundation
import Testing

/// Every example batch gives the same results under OpenGL 4.3 core and OpenGL ES 3.1, one-shot
/// and resident, as a user would see them: the JSON report with its timings (and the device
/// line, which names the API's version) left out.
@Suite(.serialized)
struct APIAgreementTests {
    static let examples: [[String]] = [
        ["examples/hello.json"], ["examples/faults.json"], ["examples/packed.json"], ["examples/tenants.json"],
        ["examples/custom/histogram.json", "--program", "examples/custom/histogram_opcodes.json"],
    ]

    static func report(_ arguments: [String], api: String, environment: [String: String] = [:]) throws -> (status: Int32, report: [String: Any]) {
        let r = try CLIRunner.run(["run"] + arguments + ["--json", "--api", api], environment: environment)
        var o = try #require(CLIRunner.json(r.stdout), "\(arguments) --api \(api) \(environment): \(r.stderr)")
        o["timing"] = nil
        o["device"] = nil
        return (r.status, o)
    }

    @Test(arguments: [false, true])
    func exampleBatchesAgreeUnderGLAndGLES(resident: Bool) throws {
        for example in Self.examples {
            let arguments = example + (resident ? ["--resident"] : [])
            let gl = try Self.report(arguments, api: "gl")
            let gles = try Self.report(arguments, api: "gles")
            #expect(gl.status == gles.status, "\(arguments): exit \(gl.status) under gl, \(gles.status) under gles")
            let a = try JSONSerialization.data(withJSONObject: gl.report, options: [.sortedKeys])
            let b = try JSONSerialization.data(withJSONObject: gles.report, options: [.sortedKeys])
            #expect(a == b, "\(arguments): gl \(String(decoding: a, as: UTF8.self))\ngles \(String(decoding: b, as: UTF8.self))")
        }
    }

    /// Within what OpenGL ES 3.1 guarantees every device (4 storage blocks, so the megakernel's
    /// protocol buffers are packed; GLSL ES 3.10 without `precise` on ES), the results are the
    /// device's own, on both APIs.
    @Test(arguments: [false, true])
    func exampleBatchesAgreeWithinTheES31MinimumLimits(resident: Bool) throws {
        let minimum = ["VYRE_GL_LIMITS": "es31-minimum"]
        for example in Self.examples {
            let arguments = example + (resident ? ["--resident"] : [])
            let device = try Self.report(arguments, api: "gl")
            let a = try JSONSerialization.data(withJSONObject: device.report, options: [.sortedKeys])
            for api in ["gl", "gles"] {
                let clamped = try Self.report(arguments, api: api, environment: minimum)
                #expect(clamped.status == device.status, "\(arguments) --api \(api): exit \(clamped.status) within the minimum limits, \(device.status) without")
                let b = try JSONSerialization.data(withJSONObject: clamped.report, options: [.sortedKeys])
                #expect(a == b, "\(arguments) --api \(api): device limits \(String(decoding: a, as: UTF8.self))\nminimum \(String(decoding: b, as: UTF8.self))")
            }
        }
    }

    /// A driver without persistent mapping (`es31-core` pretends one): one-shot runs give the
    /// device's own results through uploads and readbacks; what needs a live mapping (`--resident`,
    /// `scan`) exits 3 with a Fix, and `selftest` runs everything else.
    @Test func withoutPersistentMappingOneShotAgreesAndResidentRefuses() throws {
        let core = ["VYRE_GL_LIMITS": "es31-core"]
        for example in Self.examples {
            let device = try Self.report(example, api: "gl")
            let a = try JSONSerialization.data(withJSONObject: device.report, options: [.sortedKeys])
            for api in ["gl", "gles"] {
                let bare = try Self.report(example, api: api, environment: core)
                #expect(bare.status == device.status, "\(example) --api \(api): exit \(bare.status) under es31-core, \(device.status) without")
                let b = try JSONSerialization.data(withJSONObject: bare.report, options: [.sortedKeys])
                #expect(a == b, "\(example) --api \(api): device \(String(decoding: a, as: UTF8.self))\nes31-core \(String(decoding: b, as: UTF8.self))")
            }
        }
        let resident = try CLIRunner.run(["run", "examples/hello.json", "--resident", "--api", "gles"], environment: core)
        #expect(resident.status == 3 && resident.stdout.isEmpty)
        #expect(resident.stderr.contains("cannot map buffers persistently") && resident.stderr.contains("Fix:") && resident.stderr.contains("without --resident"), "\(resident.stderr)")
        let patterns = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-core-\(UUID().uuidString).txt")
        try Data("hello\n".utf8).write(to: patterns)
        defer { try? FileManager.default.removeItem(at: patterns) }
        let scan = try CLIRunner.run(["scan", "-f", patterns.path, patterns.path], environment: core)
        #expect(scan.status == 3 && scan.stderr.contains("scan needs memory that the host and the running GPU work share"), "\(scan.stderr)")
        let selftest = try CLIRunner.run(["selftest", "--api", "gles", "--random", "5", "--batches", "5", "--json"], environment: core)
        #expect(selftest.status == 0, "\(selftest.stdout.suffix(2000))\n\(selftest.stderr)")
        let o = try #require(CLIRunner.json(selftest.stdout))
        #expect((o["failed"] as? Int) == 0 && (o["residentNotRun"] as? String)?.contains("GL_EXT_buffer_storage") == true)
        #expect((o["suites"] as? [String: [String: Int]])?["resident"] == nil)
        let info = try CLIRunner.run(["info"], environment: core)
        #expect(info.stdout.contains("Mapping:        none") && info.stdout.contains("VYRE_GL_LIMITS=es31-core"), "\(info.stdout)")
        // The features listed are what vyre-gl uses: none of the shader extensions the profile withholds.
        #expect(info.stdout.contains("GL_ARB_gpu_shader_int64: no") && info.stdout.contains("int64 no"), "\(info.stdout)")
        let gles = try CLIRunner.run(["info", "--api", "gles"], environment: ["VYRE_GL_LIMITS": "es31-minimum"])
        #expect(gles.stdout.contains("GL_EXT_gpu_shader5: no") && gles.stdout.contains("GL_EXT_buffer_storage: yes"), "\(gles.stdout)")
    }

    /// `--devices 0,0`: each example batch split across two contexts gives one device's results,
    /// one-shot and resident, and says how the ops were shared.
    @Test(arguments: [false, true])
    func exampleBatchesAgreeAcrossTwoDevices(resident: Bool) throws {
        for example in Self.examples {
            let arguments = example + (resident ? ["--resident"] : [])
            let one = try Self.report(arguments, api: "gl")
            var two = try Self.report(arguments + ["--devices", "0,0"], api: "gl")
            let shares = try #require(two.report["devices"] as? [[String: Any]], "\(arguments)")
            #expect(shares.count == 2 && shares.compactMap { $0["ops"] as? Int }.reduce(0, +) == one.report["ops"] as? Int)
            two.report["devices"] = nil
            #expect(one.status == two.status, "\(arguments): exit \(one.status) on one device, \(two.status) on two")
            let a = try JSONSerialization.data(withJSONObject: one.report, options: [.sortedKeys])
            let b = try JSONSerialization.data(withJSONObject: two.report, options: [.sortedKeys])
            #expect(a == b, "\(arguments): one \(String(decoding: a, as: UTF8.self))\ntwo \(String(decoding: b, as: UTF8.self))")
        }
        let text = try CLIRunner.run(["run", "examples/hello.json", "--devices", "0,0"])
        #expect(text.status == 0 && text.stdout.contains("device 1 (llvmpipe"), "\(text.stdout)")
    }

    @Test func badDeviceListsAreUsageErrorsWithAFix() throws {
        let tooMany = Array(repeating: "0", count: 65).joined(separator: ",")
        for bad in [["--devices", "0,x"], ["--devices", ""], ["--devices", "0", "--device", "0"], ["--devices", tooMany]] {
            let r = try CLIRunner.run(["run", "examples/hello.json"] + bad)
            #expect(r.status == 2 && r.stderr.contains("Fix:") && r.stdout.isEmpty, "\(bad): \(r.status) \(r.stderr)")
        }
        let missing = try CLIRunner.run(["run", "examples/hello.json", "--devices", "0,7"])
        #expect(missing.status == 3 && missing.stderr.contains("not found") && missing.stderr.contains("Fix:"))
        let bench = try CLIRunner.run(["bench", "persistent", "--devices", "0,0", "--ops", "2000", "--exactly-once-ops", "4000", "--json"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let o = try #require(CLIRunner.json(bench.stdout))
        #expect(o["exactlyOncePassed"] as? Bool == true && o["exactlyOnceOps"] as? Int == 4000)
        #expect((o["rows"] as? [[String: Any]])?.count == 2 && (o["exactlyOnceShares"] as? [Int])?.count == 2)
    }

    @Test func infoNamesTheAPIAndWhy() throws {
        let gles = try CLIRunner.run(["info", "--api", "gles"])
        #expect(gles.status == 0, "\(gles.stderr)")
        #expect(gles.stdout.contains("API:            gles (OpenGL ES 3.1): asked for (--api)"))
        #expect(gles.stdout.contains("vyre-gl writes GLSL ES"))
        let auto = try CLIRunner.run(["info", "--json"], environment: ["VYRE_GL_API": "gles"])
        let context = try #require(CLIRunner.json(auto.stdout)?["context"] as? [String: Any])
        #expect(context["api"] as? String == "gles")
        #expect((context["apiChoice"] as? [String: Any])?["environment"] != nil)
        let preferred = try CLIRunner.run(["info"])
        #expect(preferred.stdout.contains("auto: OpenGL 4.3 core is preferred"))
    }

    @Test func badAPIChoicesAreUsageErrorsWithAFix() throws {
        let flag = try CLIRunner.run(["info", "--api", "vulkan"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("'vulkan' is invalid for '--api <api>'") && flag.stderr.contains("Fix:"))
        let env = try CLIRunner.run(["selftest", "--random", "1", "--batches", "0"], environment: ["VYRE_GL_API": "vulkan"])
        #expect(env.status != 0)
        #expect(env.stderr.contains("VYRE_GL_API is 'vulkan'") && env.stderr.contains("Fix: set VYRE_GL_API to gl, gles or auto"))
    }

    @Test func selftestPassesOnGLES() throws {
        let r = try CLIRunner.run(["selftest", "--api", "gles", "--random", "40", "--batches", "20", "--json"])
        #expect(r.status == 0, "\(r.stdout.suffix(2000))\n\(r.stderr)")
        let o = try #require(CLIRunner.json(r.stdout))
        #expect((o["failed"] as? Int) == 0)
        #expect((o["outsideLimits"] as? Int) == 0)
    }

    /// Within the ES 3.1 minimum limits the megakernel suites run in full (packed); programs that
    /// need more than 4 storage blocks or 128 invocations are counted apart, not failed.
    @Test func selftestPassesWithinTheES31MinimumLimits() throws {
        let r = try CLIRunner.run(["selftest", "--api", "gles", "--random", "5", "--batches", "5", "--json"], environment: ["VYRE_GL_LIMITS": "es31-minimum"])
        #expect(r.status == 0, "\(r.stdout.suffix(2000))\n\(r.stderr)")
        let o = try #require(CLIRunner.json(r.stdout))
        #expect((o["failed"] as? Int) == 0)
        // The generated programs bind 7 buffers; one construct case runs 256 invocations.
        #expect((o["outsideLimits"] as? Int) == 6)
        let suites = o["suites"] as? [String: [String: Int]]
        #expect(suites?["batches"]?["passed"] == 5 && (suites?["resident"]?["passed"] ?? 0) > 0)
        let text = try CLIRunner.run(["selftest", "--api", "gles", "--random", "5", "--batches", "0", "--no-resident"], environment: ["VYRE_GL_LIMITS": "es31-minimum"])
        #expect(text.stdout.contains("6 programs need more than this device's limits and were not run"), "\(text.stdout)")
    }
}
