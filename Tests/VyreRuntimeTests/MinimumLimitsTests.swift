import Testing
import VyreConformance
import VyreTesting
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

/// The megakernel within what OpenGL ES 3.1 guarantees every device (`VYRE_GL_LIMITS=es31-minimum`):
/// 4 storage blocks, so its protocol buffers are packed; 128 invocations per workgroup; 16 KiB of
/// shared memory; on OpenGL ES, GLSL ES 3.10 with no extension. Random batches against the model,
/// one-shot and resident, and the resident suite `selftest` runs, on both APIs.
@Suite(.serialized)
struct MinimumLimitsTests {
    static let gl: GLContext = {
        do { return try GLContext(api: .gl, limits: .es31Minimum) } catch { fatalError("no GL context within the ES 3.1 minimum limits: \(error)") }
    }()
    static let gles: GLContext = {
        do { return try GLContext(api: .gles, limits: .es31Minimum) } catch { fatalError("no GL ES context within the ES 3.1 minimum limits: \(error)") }
    }()
    static func context(_ api: GraphicsAPI) -> GLContext { api == .gl ? gl : gles }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func theMegakernelIsPackedIntoFourBlocks(api: GraphicsAPI) throws {
        let context = Self.context(api)
        #expect(context.limits.maxStorageBuffers == 4 && context.limits.maxWorkgroupInvocations == 128)
        let megakernel = try Megakernel(context: context, configuration: MegakernelConformance.configuration(workgroupSize: 128))
        #expect(megakernel.blocks.isPacked)
        #expect(megakernel.program.buffers.count == 3)
        #expect(megakernel.mappedStateLimit == 0)
        if api == .gles {
            #expect(megakernel.glslSource.hasPrefix("#version 310 es"))
            #expect(!megakernel.glslSource.contains("precise") && !megakernel.glslSource.contains("#extension"))
        }
        #expect(throws: MegakernelError.self) { try Megakernel(context: context, configuration: MegakernelConfiguration(workgroupSize: 256)) }
    }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func randomBatchesMatchTheModel(api: GraphicsAPI) async throws {
        let megakernel = try Megakernel(context: Self.context(api), configuration: MegakernelConformance.configuration(workgroupSize: 32))
        let failures = MegakernelConformance.check(megakernel, count: 150, seed: 290_000).filter { !$0.passed }
        #expect(failures.isEmpty, "\(failures.count) of 150 differ:\n\(failures.prefix(5).map { "\($0.name): \($0.detail ?? "")" }.joined(separator: "\n"))")
        for seed in UInt64(295_000)..<295_008 {
            let outcome = await MegakernelConformance.checkResident(megakernel, seed: seed)
            #expect(outcome.passed, "\(outcome.name): \(outcome.detail ?? "")")
        }
    }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func theResidentSuitePasses(api: GraphicsAPI) {
        for outcome in ResidentConformance.checks(on: Self.context(api)) {
            #expect(outcome.passed, "\(outcome.name): \(outcome.detail ?? "")")
        }
    }

    /// Big enough that control and debug log come back by copy, and the control words by the
    /// driver's read past 16,384 words: every residency through the packed block.
    @Test func largeBatchesComeBackFromThePackedBlock() throws {
        let megakernel = try Megakernel(context: Self.gl, configuration: MegakernelConfiguration(workgroupSize: 128))
        for controlWords in [400, 40_000] {
            var items: [WorkItem] = []
            for i in 0..<3000 { items.append(WorkItem(.atomicAdd, args: [UInt32(i % 7 + 1), UInt32(300 + i % 50)])) }
            items.append(WorkItem(.printf, args: [3, 4, 5]))
            items.append(WorkItem(opcode: 99))
            let batch = Batch(items: items, controlWords: controlWords, control: [controlWords - 1: 5])
            let r = try megakernel.run(batch)
            let m = try BatchModel().run(batch)
            #expect(r.control == m.control, "\(controlWords) control words")
            #expect(r.faults == [SlotFault(slot: 3001, reason: FaultReason.unknownOpcode.rawValue)])
            #expect(r.debug.records.count == 1)
        }
    }

    /// Three extra buffers where one block is left: the first is bound on its own, the others join
    /// the protocol block of their placement, and every word comes back, one-shot and resident.
    @Test(arguments: [GraphicsAPI.gl, .gles])
    func extraBuffersThatJoinAProtocolBlockKeepTheirWords(api: GraphicsAPI) async throws {
        let handler = OpcodeHandler(opcode: 100, name: "BUMP") {
            Node.let("x", .atomic(.add, "a", at: "arg0", "arg1"))
            Node.let("y", .atomic(.add, "b", at: "arg0", "arg1" * 2))
            Node.let("z", .atomic(.add, "c", at: "arg0", 1))
        }
        let extras = [BufferDecl("a", binding: 6, access: .readWrite, type: .u32, count: 8),
                      BufferDecl("b", binding: 7, access: .readWrite, type: .u32, placement: .hostMapped),
                      BufferDecl("c", binding: 8, access: .readWrite, type: .u32)]
        let configuration = MegakernelConfiguration(workgroupSize: 64, opcodes: [handler], extraBuffers: extras)
        var items: [WorkItem] = []
        var a = [UInt32](repeating: 5, count: 8), b = [UInt32](repeating: 1, count: 12), c = [UInt32](repeating: 0, count: 8)
        for i in 0..<40 {
            items.append(WorkItem(opcode: 100, args: [UInt32(i % 8), UInt32(i)]))
            a[i % 8] += UInt32(i)
            b[i % 8] += UInt32(2 * i)
            c[i % 8] += 1
        }
        let batch = Batch(items: items, controlWords: 224, buffers: ["a": [UInt32](repeating: 5, count: 8), "b": [UInt32](repeating: 1, count: 12), "c": [UInt32](repeating: 0, count: 8)])
        let megakernel = try Megakernel(context: Self.context(api), configuration: configuration)
        #expect(megakernel.blocks.extraBindings == ["a": 2] && megakernel.blocks.joined.map(\.name) == ["b", "c"])
        let once = try await megakernel.run(batch)
        #expect(once.allDone && once.buffers == ["a": a, "b": b, "c": c], "one-shot: \(once.buffers)")
        let plan = try batch.plan(extraBuffers: extras)
        let kernel = try ResidentMegakernel(context: Self.context(api), configuration: configuration, options: ResidentOptions(plan: plan, rounds: 8))
        let resident = try await kernel.run(plan)
        #expect(resident.allDone && resident.buffers == ["a": a, "b": b, "c": c], "resident: \(resident.buffers)")
        #expect(kernel.mappedBuffer("b")?.read(words: 0..<12) == b)
        #expect(try kernel.bufferWords("c") == c)
    }
}
