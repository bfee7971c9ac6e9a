import Testing
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

/// The steps of the getting-started article (Sources/VyreRuntime/VyreRuntime.docc/GettingStarted.md),
/// as a reader would run them: if this fails, the article is wrong.
struct GettingStartedTests {
    @Test func theArticleRuns() async throws {
        let context = try GLContext()
        #expect(!context.info.renderer.isEmpty && context.limits.maxWorkgroupInvocations >= 1)

        let doubler = Program(buffers: [BufferDecl("data", binding: 0, access: .readWrite, type: .u32)],
                              workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .builtin(.globalInvocationID(.x)))
            Node.if(.binary(.lt, "i", .length("data"))) {
                Node.store("data", at: "i", .binary(.mul, .load("data", index: "i"), 2))
            }
        }
        let validated = try context.validated(doubler)
        let pipeline = try context.makePipeline(validated)
        let result = try context.run(pipeline, grid: WorkgroupSize(1), buffers: ["data": [1, 2, 3, 4]])
        #expect(result.buffers["data"] == [2, 4, 6, 8])
        let reference = try Interpreter().run(validated, grid: WorkgroupSize(1), buffers: ["data": [1, 2, 3, 4]])
        #expect(reference.buffers["data"] == result.buffers["data"])

        var readOnly = doubler
        readOnly.buffers[0].access = .readOnly
        do {
            _ = try context.validated(Program(buffers: readOnly.buffers, workgroupSize: WorkgroupSize(1)) { Node.store("data", at: 0, 1) })
            Issue.record("a store into a read-only buffer validated")
        } catch {
            #expect(error.description.contains("entry[0]: store into read-only buffer 'data'. Fix: declare 'data' with access read_write or write."))
        }

        let megakernel = try Megakernel(context: context)
        let batch = Batch(items: [
            WorkItem(.storeU32, args: [42, 300]),
            WorkItem(.atomicAdd, args: [1, 301]),
        ], controlWords: 1024)
        let done = try await megakernel.run(batch)
        #expect(done.doneCount == 2 && done.control[300] == 42 && done.faults.isEmpty)

        let triple = OpcodeHandler(opcode: 0x4000_0000, name: "TRIPLE") {
            Node.store("control", at: "arg1", .binary(.mul, "arg0", 3))
        }
        let custom = try Megakernel(context: context, configuration: MegakernelConfiguration(opcodes: [triple]))
        let tripled = try await custom.run(Batch(items: [WorkItem(opcode: 0x4000_0000, args: [14, 300])], controlWords: 1024))
        #expect(tripled.control[300] == 42)
    }
}
