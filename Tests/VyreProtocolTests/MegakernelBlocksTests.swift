import Testing
import VyreIR
import VyreProtocol

/// The megakernel packed into fewer storage blocks where a device has too few (OpenGL ES 3.1
/// guarantees 4), and left as it is where the device has enough.
struct MegakernelBlocksTests {
    static func extra(_ name: String, binding: UInt32) -> BufferDecl {
        BufferDecl(name, binding: binding, access: .readWrite, type: .u32, count: 4)
    }

    static func bindings(_ program: Program) -> [String: UInt32] {
        Dictionary(uniqueKeysWithValues: program.buffers.map { ($0.name, $0.binding) })
    }

    @Test func enoughBlocksLeaveTheMegakernelAsItIs() throws {
        for resident in [false, true] {
            let fitted = resident ? try MegakernelConfiguration().residentKernel(limits: .gl43) : try MegakernelConfiguration().oneShotKernel(limits: .gl43)
            #expect(!fitted.blocks.isPacked)
            let unpacked = resident ? MegakernelPrograms.resident(configuration: MegakernelConfiguration()) : MegakernelPrograms.oneShot(configuration: MegakernelConfiguration())
            #expect(fitted.validated.program == unpacked)
        }
    }

    @Test func fourBlocksPackTheProtocolBuffersByPlacement() throws {
        let configuration = MegakernelConfiguration(extraBuffers: [Self.extra("hits", binding: 6)])
        let oneShot = try configuration.oneShotKernel(limits: .es31)
        #expect(Self.bindings(oneShot.validated.program) == ["k_device_block": 0, "k_host_block": 1, "hits": 2])
        #expect(oneShot.blocks.packings.map { $0.regions.map(\.name) } == [["control", "ring", "debug_log", "io_queue"], ["items", "exceptions"]])
        #expect(oneShot.blocks.packings[1].block.placement == .hostMapped)
        #expect(oneShot.blocks.extraBindings == ["hits": 2])

        let resident = try configuration.residentKernel(limits: .es31)
        #expect(Self.bindings(resident.validated.program) == ["k_host_block": 0, "k_device_block": 1, "hits": 2])
        #expect(resident.blocks.packings.map { $0.regions.map(\.name) } == [["control", "ring", "debug_log", "io_queue", "queues"], ["claims"]])
    }

    @Test func regionsFollowOneAnotherWithAGuardWordEach() throws {
        let blocks = try MegakernelConfiguration().oneShotKernel(limits: .es31).blocks
        let lengths: [String: UInt32] = ["control": 100, "ring": 64, "debug_log": 9, "io_queue": 5, "items": 30, "exceptions": 7]
        #expect(blocks.place(of: "control", lengths: lengths)! == (0, 0))
        #expect(blocks.place(of: "ring", lengths: lengths)! == (0, 101))
        #expect(blocks.place(of: "debug_log", lengths: lengths)! == (0, 166))
        #expect(blocks.place(of: "exceptions", lengths: lengths)! == (1, 31))
        #expect(blocks.place(of: "hits", lengths: lengths) == nil)
        #expect(blocks.blockWords(lengths: lengths) == [182, 39])
        let parameters = blocks.parameters(lengths: lengths)
        #expect(parameters["ring_base"] == 101 && parameters["ring_len"] == 64 && parameters["exceptions_base"] == 31)
    }

    /// GL 4.3 guarantees 8 blocks: two extra buffers, the 6 protocol buffers and the status block
    /// are 9, so the megakernel is packed there too rather than refused.
    @Test func tooManyExtraBuffersForTheUnpackedKernelArePacked() throws {
        let configuration = MegakernelConfiguration(extraBuffers: [Self.extra("a", binding: 6), Self.extra("b", binding: 7)])
        #expect(!MegakernelBlocks.fitsUnpacked(extras: configuration.extraBuffers, limits: .gl43))
        let fitted = try configuration.oneShotKernel(limits: .gl43)
        #expect(fitted.blocks.isPacked)
        #expect(fitted.blocks.extraBindings == ["a": 2, "b": 3])
    }

    /// Past the blocks left, `u32` extra buffers join the protocol block of their placement (the
    /// scan's table has a binding of its own, its IO buffer joins the mapped block).
    @Test func extraBuffersPastTheRoomLeftJoinTheBlockOfTheirPlacement() throws {
        let table = BufferDecl("table", binding: 6, access: .readOnly, type: .u32)
        let io = BufferDecl("io", binding: 7, access: .readWrite, type: .u32, placement: .hostMapped)
        let more = Self.extra("more", binding: 8)
        let configuration = MegakernelConfiguration(extraBuffers: [table, io, more])
        let resident = try configuration.residentKernel(limits: .es31)
        #expect(resident.blocks.extraBindings == ["table": 2])
        #expect(resident.blocks.joined == [io, more])
        #expect(resident.blocks.packings.map { $0.regions.map(\.name) } == [["control", "ring", "debug_log", "io_queue", "queues", "io"], ["claims", "more"]])
        #expect(Self.bindings(resident.validated.program) == ["k_host_block": 0, "k_device_block": 1, "table": 2])
        let oneShot = try configuration.oneShotKernel(limits: .es31)
        #expect(oneShot.blocks.packings.map { $0.regions.map(\.name) } == [["control", "ring", "debug_log", "io_queue", "more"], ["items", "exceptions", "io"]])
    }

    @Test func extraBuffersThatCanJoinNoBlockAreRefusedWithAFix() {
        let floats = [BufferDecl("a", binding: 6, access: .readWrite, type: .f32, count: 4), BufferDecl("b", binding: 7, access: .readWrite, type: .f32, count: 4)]
        #expect {
            try MegakernelConfiguration(extraBuffers: floats).oneShotKernel(limits: .es31)
        } throws: { error in
            let text = (error as? MegakernelError)?.diagnostics.map(\.description).joined() ?? ""
            return text.contains("leaves 1 for extra buffers of their own, and 2 need one, since they cannot join a protocol block") && text.contains("Fix: use at most 1 extra buffer of other types")
        }
    }

    @Test func aHandlerThatIndexesAProtocolBufferWithAnAtomicCannotBePacked() {
        let handler = OpcodeHandler(opcode: 100, name: "TWICE") {
            Node.let("v", .load("control", at: .atomic(.add, "hits", at: 0, 1)))
        }
        let configuration = MegakernelConfiguration(opcodes: [handler], extraBuffers: [Self.extra("hits", binding: 6)])
        #expect(throws: Never.self) { try configuration.oneShotKernel(limits: .gl43) }
        #expect {
            try configuration.oneShotKernel(limits: .es31)
        } throws: { error in
            guard case .unpackable(.indexHasSideEffects("control", _), blocks: 4)? = error as? MegakernelError else { return false }
            let text = (error as! MegakernelError).diagnostics.map(\.description).joined()
            return text.contains("this device has 4 storage blocks") && text.contains("Fix: compute the index into a variable first")
        }
    }

    @Test func anExtraBufferMayNotTakeABlockName() {
        let configuration = MegakernelConfiguration(extraBuffers: [Self.extra("k_host_block", binding: 6)])
        #expect(throws: MegakernelError.self) { try configuration.oneShotKernel(limits: .gl43) }
    }

    /// A running resident kernel keeps its choice: a later program is fitted to the buffers it has.
    @Test func aLaterProgramIsFittedLikeTheRunningKernel() throws {
        let packed = try MegakernelConfiguration().residentKernel(limits: .es31).blocks
        let unpacked = try MegakernelConfiguration().residentKernel(limits: .gl43).blocks
        #expect(try MegakernelConfiguration().residentKernel(limits: .gl43, like: packed).blocks.isPacked)
        #expect(throws: MegakernelError.self) { try MegakernelConfiguration().residentKernel(limits: .es31, like: unpacked) }
        // A buffer the running kernel did not pack never joins a block laid out already.
        let late = MegakernelConfiguration(extraBuffers: [Self.extra("a", binding: 6), Self.extra("b", binding: 7)])
        #expect(throws: MegakernelError.self) { try late.residentKernel(limits: .es31, like: packed) }
        let joined = try late.residentKernel(limits: .es31).blocks
        #expect(joined.joined.map(\.name) == ["b"])
        let again = try late.residentKernel(limits: .es31, like: joined)
        #expect(again.blocks == joined)
        // Bases come from the running kernel's layout, whichever members the program declares.
        let lengths: [String: UInt32] = ["control": 10, "ring": 10, "debug_log": 10, "io_queue": 10, "queues": 10]
        let parameters = packed.parameters(lengths: lengths, bases: ["control": 0, "ring": 50, "debug_log": 20, "io_queue": 30, "queues": 40, "claims": 0])
        #expect(parameters["ring_base"] == 50 && parameters["queues_base"] == 40 && parameters["ring_len"] == 10)
    }
}
