import Testing
import VyreConformance
import VyreGL
import VyreIR

/// One context for the whole test process (see ``SharedDevice``).
typealias Shared = SharedDevice

struct ContextTests {
    @Test func contextReportsGL43CoreAndLimits() {
        let info = Shared.context.info
        #expect(info.glVersion.contains("4."))
        #expect(info.limits.maxWorkgroupInvocations >= 1024)
        #expect(info.limits.maxComputeStorageBlocks >= 8)
        #expect(info.features["GL_ARB_buffer_storage"] == true)
        #expect(Shared.context.limits.capabilities.contains(.float64))
    }

    @Test func runsAProgramAndReadsItsBuffers() throws {
        let p = Program(buffers: [BufferDecl("data", binding: 0, access: .readWrite, type: .u32)], workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("data")) { Node.store("data", at: "i", .load("data", at: "i") * 2 + 1) }
        }
        let input = (0..<1000).map { UInt32($0) }
        let r = try Shared.context.run(p, grid: WorkgroupSize(16), buffers: ["data": input])
        #expect(r.buffers["data"] == input.map { $0 * 2 + 1 })
        #expect(r.trap == nil)
    }

    @Test func mappedBuffersAreSharedWithTheGPU() throws {
        let mapped = try Shared.context.makeMappedBuffer(bytes: 64)
        mapped.store(41, at: 3)
        let p = Program(buffers: [BufferDecl("m", binding: 0, access: .readWrite, type: .u32, count: 16, placement: .hostMapped)], workgroupSize: WorkgroupSize(1)) {
            Node.store("m", at: 5, .load("m", at: 3) + 1)
        }
        let pipeline = try Shared.context.makePipeline(p)
        _ = try Shared.context.dispatch(pipeline, groups: WorkgroupSize(1), buffers: [0: mapped.handle])
        #expect(mapped.load(5) == 42)
    }

    @Test func trapsAreReported() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 64)], workgroupSize: WorkgroupSize(64)) {
            Node.if(.globalID(.x).equals(17)) { Node.trap(99) }
            Node.store("o", at: .globalID(.x), 1)
        }
        let r = try Shared.context.run(p, grid: WorkgroupSize(1), buffers: [:])
        #expect(r.trap == TrapReport(count: 1, code: 99, invocation: 17))
        #expect(r.buffers["o"]?[17] == 0)
        #expect(r.buffers["o"]?[16] == 1)
    }

    @Test func deviceLimitsAreEnforcedWithAFix() {
        let p = Program(buffers: [], workgroupSize: WorkgroupSize(2048)) {}
        do {
            _ = try Shared.context.makePipeline(p)
            Issue.record("accepted 2048 invocations")
        } catch {
            #expect(error.description.contains("2048 invocations per workgroup"))
            #expect(error.description.contains("this target allows 1024"))
            #expect(error.description.contains("Fix:"))
        }
    }

    @Test func anEmptyGridAxisIsSaidToBeEmpty() throws {
        let p = Program(buffers: [], workgroupSize: WorkgroupSize(1)) {}
        do {
            _ = try Shared.context.run(p, grid: WorkgroupSize(4, 0, 1), buffers: [:])
            Issue.record("a grid with an empty axis was dispatched")
        } catch {
            #expect(error.description.contains("has an empty axis"), "\(error)")
        }
    }

    /// llvmpipe counts a dispatch's workgroups in 32 bits and would run fewer without saying so:
    /// a larger grid is refused before anything runs.
    @Test func moreWorkgroupsThanTheDriverCountsAreRefused() throws {
        guard Shared.context.info.isSoftware else { return }
        let p = Program(buffers: [], workgroupSize: WorkgroupSize(1)) {}
        do {
            _ = try Shared.context.run(p, grid: WorkgroupSize(65_535, 65_535, 2), buffers: [:])
            Issue.record("a grid of 8.6e9 workgroups was dispatched on llvmpipe")
        } catch {
            #expect(error.description.contains("8589672450 in all"), "\(error)")
        }
    }
}
