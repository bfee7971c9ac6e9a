import Testing
import VyreIR
import VyreProtocol
import VyreTesting

/// Splitting a batch into pieces and merging their results gives the whole batch's result, with
/// the CPU model standing in for the devices: every phase cut into random pieces, each run from
/// the phase's starting words, added up in a random order.
struct BatchSplitTests {
    /// `model`'s result for a piece's plan, as a device would report it.
    /// `lastFirst`: records appended in reverse slot order, as a device may append them, so a
    /// full log keeps the last slots' records.
    static func modelResult(_ plan: BatchPlan, _ model: BatchModel, lastFirst: Bool = false) throws -> BatchResult {
        let m = try model.run(plan.batch)
        let appended = lastFirst ? Array(m.debugRecords.reversed()) : m.debugRecords
        return BatchResult(itemCount: plan.batch.items.count, slots: plan.slots, phases: 1, control: m.control,
                           debug: DebugLog(records: Array(appended.prefix(m.keptRecords)), lost: m.lostRecords),
                           faults: m.faults, pending: m.pending, unexpected: [], buffers: [:], completed: m.completed,
                           timing: BatchTiming(encode: .zero, gpu: .zero, decode: .zero))
    }

    /// Runs `plan` through `model` split into pieces of at most `most` stream items, each phase's
    /// pieces in a shuffled order; the merged result and how many pieces there were.
    static func runSplit(_ plan: BatchPlan, configuration: MegakernelConfiguration, model: BatchModel = MegakernelConformance.model,
                         most: Int, lastFirst: Bool = false, random: inout SeededRandom) throws -> (BatchResult, pieces: Int) {
        let split = BatchSplit(plan, configuration: configuration)
        var merge = BatchMerge(plan)
        var pieces = 0
        for phase in split.phases {
            var items: [[Int]] = phase.spread
            var at = 0
            while at < phase.streamCount {
                let (piece, next) = phase.piece(from: at, count: random.int(1...most))
                items.append(piece)
                at = next
            }
            items.shuffle(using: &random)
            for piece in items { merge.add(try modelResult(merge.piece(piece, asBatchControl: true), model, lastFirst: lastFirst), items: piece) }
            pieces += items.count
            merge.endPhase()
        }
        return (merge.result(timing: BatchTiming(encode: .zero, gpu: .zero, decode: .zero)), pieces)
    }

    @Test func randomBatchesSplitAndMergedMatchTheModel() throws {
        let configuration = MegakernelConformance.configuration()
        var random = SeededRandom(seed: 77)
        var cut = 0
        for seed in UInt64(0)..<200 {
            var g = BatchGenerator(seed: seed, customOpcodes: true)
            let batch = g.generate()
            let plan = try batch.plan(extraBuffers: configuration.extraBuffers)
            let (merged, pieces) = try Self.runSplit(plan, configuration: configuration, most: random.int(1...8), random: &random)
            if pieces > plan.phases.count { cut += 1 }
            let whole = try MegakernelConformance.model.run(batch)
            let d = MegakernelConformance.difference(merged, whole)
            #expect(d == nil, "seed \(seed): \(d ?? "")")
        }
        #expect(cut > 150)
    }

    /// Batches whose items commute though several write one word (the same value stored twice,
    /// a word no item writes loaded into one observable twice, overlapping copies
    /// of the same words, a storing custom opcode): adding up pieces would count such a write twice, so they must stay together.
    @Test func repeatedWritesOfOneWordMergeAsOneDevice() throws {
        let put = OpcodeHandler(opcode: 0x300, name: "PUT") { Node.store("control", at: "arg0", "arg1") }
        let configuration = MegakernelConfiguration(opcodes: [put])
        var model = BatchModel()
        model.handlers[0x300] = { c, item, _ in
            c[Int(item.args[0])] = item.args[1]
            return 0
        }
        var random = SeededRandom(seed: 5)
        for round in 0..<100 {
            var items: [WorkItem] = []
            for _ in 0..<random.int(20...200) {
                let w = UInt32(random.int(170...175))
                switch random.int(0...5) {
                case 0: items.append(WorkItem(.storeU32, args: [w * 3, w]))
                case 1: items.append(WorkItem(.loadU32, args: [178, w - 165]))
                case 2: items.append(WorkItem(.memcpy, args: [178, 200 + w, 2]))
                case 3: items.append(WorkItem(opcode: 0x300, args: [w + 20, 7]))
                default: items.append(WorkItem(.atomicAdd, args: [UInt32(random.int(1...9)), 177]))
                }
            }
            let batch = Batch(items: items, controlWords: 400, control: [178: 11, 179: 4])
            let (merged, _) = try Self.runSplit(try batch.plan(), configuration: configuration, model: model, most: 1, random: &random)
            let whole = try model.run(batch)
            let differ = merged.control.indices.filter { merged.control[$0] != whole.control[$0] }.map { "\($0): \(merged.control[$0]) vs \(whole.control[$0])" }
            #expect(differ.isEmpty && merged.completed == whole.completed, "round \(round): \(differ.prefix(6))")
        }
    }

    /// Handlers that only add are not all additive: one that adds where an earlier add returned 0
    /// (count distinct), one that uses its slot, and two opcodes that OR the same word must keep
    /// their items together, or each piece would count the first add, or the OR twice.
    @Test func handlersWhoseAddsDependOnWhatTheyReadStayTogether() throws {
        let distinct = OpcodeHandler(opcode: 0x310, name: "DISTINCT") {
            Node.let("old", .atomic(.add, "control", at: "arg0", 1))
            Node.if(Expr.variable("old").equals(0)) { Node.let("n", .atomic(.add, "control", at: 200, 1)) }
        }
        let bySlot = OpcodeHandler(opcode: 0x311, name: "BY_SLOT") { Node.let("x", .atomic(.add, "control", at: 201, "slot")) }
        let orA = OpcodeHandler(opcode: 0x312, name: "OR_A") { Node.let("x", .atomic(.or, "control", at: 202, 1)) }
        let orB = OpcodeHandler(opcode: 0x313, name: "OR_B") { Node.let("x", .atomic(.or, "control", at: 202, 1)) }
        let configuration = MegakernelConfiguration(opcodes: [distinct, bySlot, orA, orB])
        var model = BatchModel()
        model.handlers[0x310] = { c, item, _ in
            let old = c[Int(item.args[0])]
            c[Int(item.args[0])] &+= 1
            if old == 0 { c[200] &+= 1 }
            return 0
        }
        model.handlers[0x312] = { c, _, _ in c[202] |= 1; return 0 }
        model.handlers[0x313] = { c, _, _ in c[202] |= 1; return 0 }
        var random = SeededRandom(seed: 9)
        for round in 0..<40 {
            var items: [WorkItem] = []
            for _ in 0..<random.int(20...120) {
                switch random.int(0...3) {
                case 0: items.append(WorkItem(opcode: 0x312))
                case 1: items.append(WorkItem(opcode: 0x313))
                default: items.append(WorkItem(opcode: 0x310, args: [UInt32(random.int(170...173))]))
                }
            }
            let batch = Batch(items: items, controlWords: 256)
            let (merged, _) = try Self.runSplit(try batch.plan(), configuration: configuration, model: model, most: 1, random: &random)
            #expect(merged.control == (try model.run(batch)).control, "round \(round)")
        }
        let slotPlan = try Batch(items: [WorkItem](repeating: WorkItem(opcode: 0x311), count: 50)).plan()
        #expect(BatchSplit(slotPlan, configuration: configuration).phases[0].piece(from: 0, count: 1).items.count == 50)
        let add = try Batch(items: [WorkItem](repeating: WorkItem(opcode: BatchGenerator.customOpcode, args: [170, 1, 2]), count: 50)).plan()
        #expect(BatchSplit(add, configuration: MegakernelConformance.configuration()).phases[0].piece(from: 0, count: 1).items.count == 1)
    }

    /// Items that write one word other than by adding stay in one piece; adds are cut freely; a
    /// custom opcode whose handler stores stays whole.
    @Test func writersOfOneWordStayTogether() throws {
        let storing = OpcodeHandler(opcode: 0x300, name: "PUT") { Node.store("control", at: "arg0", "arg1") }
        let adding = OpcodeHandler(opcode: 0x301, name: "BUMP") { Node.let("x", .atomic(.add, "control", at: "arg0", 1)) }
        let configuration = MegakernelConfiguration(opcodes: [storing, adding])
        var items: [WorkItem] = []
        for _ in 0..<40 { items.append(WorkItem(.atomicAdd, args: [1, 170])) }
        items[3] = WorkItem(.storeU32, args: [9, 180])
        items[30] = WorkItem(.storeU32, args: [8, 180])
        items[10] = WorkItem(opcode: 0x300, args: [181, 1])
        items[12] = WorkItem(opcode: 0x301, args: [182])
        items[20] = WorkItem(opcode: 0x300, args: [183, 1])
        items[25] = WorkItem(.memcpy, args: [161, 190, 4])
        items[27] = WorkItem(.storeU32, args: [1, 192])
        let plan = try Batch(items: items).plan()
        let phase = try #require(BatchSplit(plan, configuration: configuration).phases.first)
        var pieces: [[Int]] = []
        var at = 0
        while at < phase.streamCount {
            let (piece, next) = phase.piece(from: at, count: 1)
            pieces.append(piece)
            at = next
        }
        func pieceOf(_ i: Int) -> Int? { pieces.firstIndex { $0.contains(i) } }
        #expect(pieceOf(3) != nil && pieceOf(3) == pieceOf(30))
        #expect(pieceOf(10) == pieceOf(20) && pieceOf(25) == pieceOf(27))
        #expect(pieceOf(0) != pieceOf(1) && pieceOf(31) != pieceOf(32))
        // Items 0-2 and 31-39 alone; 3 to 30 together, held by the two stores to word 180.
        #expect(pieces.count == 13 && pieces[3] == Array(3...30))
        #expect(phase.spread.isEmpty)
    }

    /// A phase with a SHUTDOWN stays whole: the ops that claim after it do not run, which only
    /// holds on the device it runs on.
    @Test func aPhaseWithAShutdownStaysWhole() throws {
        var items = [WorkItem](repeating: WorkItem(.atomicAdd, args: [1, 170]), count: 6000)
        items.insert(WorkItem(.shutdown), at: 10)
        items.append(WorkItem(.batchFence, args: [0, 0]))
        items += [WorkItem](repeating: WorkItem(.atomicAdd, args: [1, 171]), count: 100)
        let split = BatchSplit(try Batch(items: items).plan(), configuration: MegakernelConfiguration())
        #expect(split.phases.count == 3)
        #expect(split.phases[0].spread.map(\.count) == [6001] && split.phases[0].streamCount == 0)
        #expect(split.phases[2].piece(from: 0, count: 1).items.count == 1)
    }

    /// A full debug log keeps the batch's first records by slot, however the pieces fall and in
    /// whatever order a device appends: each piece has room for all of its own.
    @Test func aFullDebugLogKeepsTheFirstRecordsBySlot() throws {
        var items: [WorkItem] = []
        for i in 0..<3000 { items.append(i % 50 == 7 ? WorkItem(.printf, args: [1, UInt32(i), 0]) : WorkItem(.atomicAdd, args: [1, 170])) }
        let plan = try Batch(items: items, debugRecords: 16).plan()
        var random = SeededRandom(seed: 3)
        for _ in 0..<5 {
            let (merged, _) = try Self.runSplit(plan, configuration: MegakernelConfiguration(), most: 3000, lastFirst: true, random: &random)
            #expect(merged.debug.records.map(\.slot) == (0..<16).map { $0 * 50 + 7 })
            #expect(merged.debug.lost == 60 - 16)
        }
    }

    /// Writers of one word far apart run as a piece of their own instead of keeping the stream
    /// whole between them.
    @Test func spreadOutGroupsRunAlone() throws {
        var items = [WorkItem](repeating: WorkItem(.atomicAdd, args: [1, 170]), count: 10_000)
        items[5] = WorkItem(.storeU32, args: [1, 180])
        items[9_000] = WorkItem(.storeU32, args: [1, 180])
        let plan = try Batch(items: items).plan()
        let phase = try #require(BatchSplit(plan, configuration: MegakernelConfiguration()).phases.first)
        #expect(phase.spread == [[5, 9_000]])
        #expect(phase.streamCount == 9_998)
        #expect(phase.piece(from: 0, count: 100).items.count == 100)
    }
}
