import Testing
import VyreTesting
import VyreIR

struct CanonicalTests {
    let base = Program(
        buffers: [
            BufferDecl("a", binding: 0, access: .readOnly, type: .u32, count: 8),
            BufferDecl("b", binding: 1, access: .readWrite, type: .u32, count: 8),
        ],
        workgroupSize: WorkgroupSize(8)
    ) {
        Node.let("i", .globalID(.x))
        Node.store("b", at: "i", .load("a", at: "i") + 3)
    }

    @Test func equalProgramsHashEqual() {
        #expect(base.contentHash == base.contentHash)
        #expect(base.contentHash.description.count == 64)
    }

    @Test func bufferOrderDoesNotMatter() {
        var p = base
        p.buffers.reverse()
        #expect(p != base)
        #expect(p.contentHash == base.contentHash)
    }

    @Test func commutativeOperandsAreNormalized() {
        var p = base
        p.entry[1] = .store("b", at: "i", 3 + .load("a", at: "i"))
        #expect(p.contentHash == base.contentHash)
    }

    @Test func nonCommutativeOperandsAreKept() {
        var p = base
        p.entry[1] = .store("b", at: "i", 3 - .load("a", at: "i"))
        var q = base
        q.entry[1] = .store("b", at: "i", .load("a", at: "i") - 3)
        #expect(p.contentHash != q.contentHash)
    }

    @Test func operandsWithSideEffectsKeepTheirOrder() {
        let program = { (swap: Bool) -> Program in
            let atomic = Expr.atomic(.add, "b", at: 0, 1)
            let load = Expr.load("b", at: 0)
            return Program(buffers: [BufferDecl("b", binding: 0, access: .readWrite, type: .u32, count: 2)], workgroupSize: WorkgroupSize(1)) {
                Node.store("b", at: 1, swap ? load + atomic : atomic + load)
            }
        }
        #expect(program(false).contentHash != program(true).contentHash)
    }

    @Test func nestedBlocksAreFlattened() {
        var p = base
        p.entry = [.block([base.entry[0], .block([base.entry[1]])]), .block([])]
        #expect(p.contentHash == base.contentHash)
    }

    @Test func blocksThatWouldClashStayBlocks() throws {
        let p = Program(buffers: [BufferDecl("b", binding: 0, access: .readWrite, type: .u32, count: 2)], workgroupSize: WorkgroupSize(1)) {
            Node.block { Node.let("x", 1); Node.store("b", at: 0, "x") }
            Node.block { Node.let("x", 2); Node.store("b", at: 1, "x") }
        }
        let c = p.canonicalized()
        try c.validate()
        #expect(c.canonicalized() == c)
    }

    @Test func semanticChangesChangeTheHash() {
        var literal = base
        literal.entry[1] = .store("b", at: "i", .load("a", at: "i") + 4)
        var op = base
        op.entry[1] = .store("b", at: "i", .load("a", at: "i") * 3)
        var binding = base
        binding.buffers[1].binding = 2
        var size = base
        size.workgroupSize = WorkgroupSize(16)
        var access = base
        access.buffers[0].access = .readWrite
        let hashes = [base, literal, op, binding, size, access].map(\.contentHash)
        #expect(Set(hashes).count == hashes.count)
    }

    @Test func canonicalizationIsIdempotentAndKeepsValidityAndMeaning() throws {
        for seed in UInt64(0)..<300 {
            var g = ProgramGenerator(seed: 7_000 + seed, options: .init(mode: .deterministic))
            let c = g.generate()
            let canonical = c.program.canonicalized()
            #expect(canonical.canonicalized() == canonical, "seed \(c.seed)")
            #expect(canonical.validationErrors(limits: .unrestricted).isEmpty, "seed \(c.seed)")
            #expect(canonical.contentHash == c.program.contentHash)
            let options = Interpreter.Options(foreverBudget: c.foreverBudget, parameters: c.parameters)
            let before = try Interpreter(options: options).run(c.program, grid: c.grid, buffers: c.inputs)
            let after = try Interpreter(options: options).run(canonical, grid: c.grid, buffers: c.inputs)
            #expect(before.buffers == after.buffers, "seed \(c.seed)")
        }
    }

    @Test func literalChangesInGeneratedProgramsChangeTheHash() {
        for seed in UInt64(0)..<200 {
            var g = ProgramGenerator(seed: 11_000 + seed, options: .init(mode: .anyValid, capabilities: Set(Capability.allCases)))
            let p = g.generate().program
            var mutated = p
            mutated.workgroupSize.x += 1
            #expect(mutated.contentHash != p.contentHash)
            var rebound = p
            rebound.buffers[0].binding += 100
            #expect(rebound.contentHash != p.contentHash)
        }
    }
}
