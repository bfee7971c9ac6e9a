import Testing
import VyreConformance
import VyreTesting
import VyreGL
import VyreIR
import VyreProtocol
import VyreRuntime

/// A driver that cannot map buffers persistently (OpenGL ES without `GL_EXT_buffer_storage`),
/// as `VYRE_GL_LIMITS=es31-core` makes llvmpipe act, on both APIs: one-shot work runs through
/// host copies uploaded and read back around each submission and gives the same answers; what
/// shares memory with running work refuses with a Fix.
@Suite(.serialized)
struct NoPersistentMappingTests {
    static let gl: GLContext = {
        do { return try GLContext(api: .gl, limits: .es31Core) } catch { fatalError("no GL context under es31-core: \(error)") }
    }()
    static let gles: GLContext = {
        do { return try GLContext(api: .gles, limits: .es31Core) } catch { fatalError("no GL ES context under es31-core: \(error)") }
    }()
    static func context(_ api: GraphicsAPI) -> GLContext { api == .gl ? gl : gles }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func theContextSaysItCannotMap(api: GraphicsAPI) {
        let info = Self.context(api).info
        #expect(!info.persistentMapping)
        #expect(info.features[api == .gl ? "GL_ARB_buffer_storage" : "GL_EXT_buffer_storage"] == false)
        #expect(info.limitsProfile == .es31Core && info.limits.maxComputeStorageBlocks == 4)
        #expect(SharedDevice.context.info.persistentMapping)
    }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func concurrentMappingsAreRefusedWithAFix(api: GraphicsAPI) throws {
        let context = Self.context(api)
        #expect {
            _ = try context.makeMappedBuffer(bytes: 64)
        } throws: { error in
            guard case VyreGLError.noPersistentMapping = error else { return false }
            return (error as? VyreGLError)?.diagnostics.first?.fix.isEmpty == false
        }
        // Between submissions the host copy shows what the GPU wrote, and the GPU what the host did.
        let copy = try context.makeMappedBuffer(bytes: 64, access: .betweenSubmissions)
        copy.store(41, at: 3)
        let p = Program(buffers: [BufferDecl("m", binding: 0, access: .readWrite, type: .u32, count: 16, placement: .hostMapped)], workgroupSize: WorkgroupSize(1)) {
            Node.store("m", at: 5, .load("m", at: 3) + 1)
        }
        let pipeline = try context.makePipeline(p)
        _ = try context.dispatch(pipeline, groups: WorkgroupSize(1), buffers: [0: copy.handle])
        #expect(copy.load(5) == 42 && copy.load(3) == 41)
        copy.store(7, at: 3)
        _ = try context.dispatch(pipeline, groups: WorkgroupSize(1), buffers: [0: copy.handle])
        #expect(copy.load(5) == 8)
    }

    /// Bytes a submission names as only read go up and do not come back, so the work's writes
    /// there (which the caller promised it would not make) never reach the host; the other bytes
    /// of the buffer do. Without that promise every write comes back.
    @Test(arguments: [GraphicsAPI.gl, .gles])
    func readOnlyBytesAreNotReadBack(api: GraphicsAPI) throws {
        let context = Self.context(api)
        let copy = try context.makeMappedBuffer(bytes: 64, access: .betweenSubmissions)
        let p = Program(buffers: [BufferDecl("m", binding: 0, access: .readWrite, type: .u32, count: 16, placement: .hostMapped)], workgroupSize: WorkgroupSize(16)) {
            Node.let("i", .builtin(.globalInvocationID(.x)))
            Node.store("m", at: "i", .load("m", at: "i") + 100)
        }
        let pipeline = try context.makePipeline(p)
        for promised in [false, true] {
            for i in 0..<16 { copy.store(UInt32(i), at: i) }
            var options = DispatchOptions()
            if promised { options.readOnlyBytes = [0: 16..<32] }
            _ = try context.dispatch(pipeline, groups: WorkgroupSize(1), buffers: [0: copy.handle], options: options)
            for i in 0..<16 {
                let skipped = promised && (4..<8).contains(i)
                #expect(copy.load(i) == UInt32(i) + (skipped ? 0 : 100), "word \(i), read-only bytes \(promised)")
            }
        }
    }

    /// A host copy of 2 MiB goes up through the staging buffer (past 1 MiB) and comes back: every
    /// word, twice, so the staging buffer's second use starts from the host's bytes.
    @Test(arguments: [GraphicsAPI.gl, .gles])
    func largeHostCopiesGoUpThroughTheStagingBuffer(api: GraphicsAPI) throws {
        let context = Self.context(api)
        let words: Int = 1 << 19
        let copy = try context.makeMappedBuffer(bytes: words * 4, access: .betweenSubmissions)
        let p = Program(buffers: [BufferDecl("m", binding: 0, access: .readWrite, type: .u32, placement: .hostMapped)], workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .builtin(.globalInvocationID(.x)))
            Node.store("m", at: "i", .load("m", at: "i") * 3 + 1)
        }
        let pipeline = try context.makePipeline(p)
        for round in 0..<2 {
            for i in 0..<words { copy.store(UInt32(truncatingIfNeeded: i &* 2_654_435_761) ^ UInt32(round), at: i) }
            _ = try context.dispatch(pipeline, groups: WorkgroupSize(UInt32(words / 64)), buffers: [0: copy.handle])
            var wrong = 0
            for i in 0..<words where copy.load(i) != (UInt32(truncatingIfNeeded: i &* 2_654_435_761) ^ UInt32(round)) &* 3 &+ 1 { wrong += 1 }
            #expect(wrong == 0, "round \(round): \(wrong) of \(words) words wrong")
        }
    }

    /// Every construct case within the limits, against the interpreter: traps and loop cuts come
    /// back through the status block's host copy.
    @Test(arguments: [GraphicsAPI.gl, .gles])
    func constructCasesPass(api: GraphicsAPI) {
        let context = Self.context(api)
        var ran = 0
        for c in ConstructCases.all(capabilities: context.limits.capabilities) where Conformance.outsideLimits(c, on: context) == nil {
            let outcome = Conformance.check(c, on: context)
            #expect(outcome.passed, "\(c.name): \(outcome.detail ?? "")")
            ran += 1
        }
        #expect(ran > 100)
    }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func randomBatchesMatchTheModelOneShot(api: GraphicsAPI) throws {
        let megakernel = try Megakernel(context: Self.context(api), configuration: MegakernelConformance.configuration(workgroupSize: 32))
        #expect(megakernel.blocks.isPacked)
        let failures = MegakernelConformance.check(megakernel, count: 120, seed: 310_000).filter { !$0.passed }
        #expect(failures.isEmpty, "\(failures.count) of 120 differ:\n\(failures.prefix(5).map { "\($0.name): \($0.detail ?? "")" }.joined(separator: "\n"))")
    }

    /// A hosted batch's items and exceptions live in the mapped block, here a host copy: a large
    /// batch with faults and a PRINTF record comes back whole.
    @Test func largeBatchesComeBackThroughHostCopies() throws {
        let megakernel = try Megakernel(context: Self.gles, configuration: MegakernelConfiguration(workgroupSize: 128))
        var items: [WorkItem] = []
        for i in 0..<5000 { items.append(WorkItem(.atomicAdd, args: [UInt32(i % 7 + 1), UInt32(300 + i % 50)])) }
        items.append(WorkItem(.printf, args: [3, 4, 5]))
        items.append(WorkItem(opcode: 99))
        let batch = Batch(items: items, controlWords: 40_000, control: [39_999: 5])
        let r = try megakernel.run(batch)
        let m = try BatchModel().run(batch)
        #expect(r.control == m.control)
        #expect(r.faults == [SlotFault(slot: 5001, reason: FaultReason.unknownOpcode.rawValue)])
        #expect(r.debug.records.count == 1)
    }

    @Test(arguments: [GraphicsAPI.gl, .gles])
    func theResidentMegakernelRefusesToStart(api: GraphicsAPI) {
        #expect {
            try ResidentMegakernel(context: Self.context(api))
        } throws: { error in
            guard case MegakernelError.device(let device) = error, let gl = device as? VyreGLError,
                  case .noPersistentMapping(_, let needs) = gl else { return false }
            return needs == "the resident megakernel" && gl.diagnostics.first?.fix.contains("without --resident") == true
        }
    }
}
