import Foundation
import Testing
import VyreIR
import VyreTesting

/// Packing buffers into one block keeps every program's meaning: generated programs (which index
/// out of bounds, use atomics and runtime-sized buffers) run in the reference interpreter packed
/// and unpacked, and every word, trap and buffer agrees.
struct BufferPackingTests {
    /// Runs `program` on `inputs`, or nil when the interpreter refuses it (a step budget).
    static func run(_ program: Program, _ c: GeneratedCase, buffers: [String: [UInt32]], parameters: [String: UInt32]) -> InterpreterResult? {
        let interpreter = Interpreter(options: .init(foreverBudget: c.foreverBudget, parameters: parameters))
        do { return try interpreter.run(program, grid: c.grid, buffers: buffers) } catch {
            if ProcessInfo.processInfo.environment["PACK_DEBUG"] != nil { print("not run: \(error)") }
            return nil
        }
    }

    /// Packs the buffers of each element type (two or more of one placement) and returns the
    /// packed program with the packings, or nil when a packing is refused.
    static func packAll(_ program: Program) throws -> (Program, [BufferPacking])? {
        var packed = program
        var packings: [BufferPacking] = []
        var binding = (program.buffers.map(\.binding).max() ?? 0) + 1
        // Buffers that async copies use stay apart (packing refuses them).
        var copied: Set<String> = []
        func visit(_ list: [Node]) {
            for n in list {
                switch n {
                case .asyncLoad(let c), .asyncStore(let c): copied.formUnion([c.source, c.destination])
                default: break
                }
                n.bodies.forEach { visit($0.nodes) }
            }
        }
        visit(program.entry)
        for type in [DataType.u32, .i32, .f32] {
            let members = program.buffers.filter { $0.elementType == type && $0.placement == .deviceLocal && !copied.contains($0.name) }.map(\.name)
            guard members.count >= 2 else { continue }
            do throws(PackingError) {
                let (p, packing) = try packed.packing(members, into: "pack_\(type)", binding: binding)
                packed = p
                packings.append(packing)
                binding += 1
            } catch {
                switch error {
                case .indexHasSideEffects, .asyncCopy: return nil
                default: throw error
                }
            }
        }
        return (packed, packings)
    }

    @Test func packedProgramsMeanWhatTheyMeant() throws {
        var compared = 0
        var refused = 0
        var notRun = 0
        for seed in UInt64(40_000)..<40_300 {
            var g = ProgramGenerator(seed: seed, options: .init(mode: seed % 3 == 0 ? .anyValid : .deterministic, capabilities: Set(Capability.allCases)))
            let c = g.generate()
            guard let (packed, packings) = try Self.packAll(c.program), !packings.isEmpty else { refused += 1; continue }
            try packed.validate(limits: .unrestricted)
            var lengths: [String: UInt32] = [:]
            for b in c.program.buffers { lengths[b.name] = b.count ?? UInt32((c.inputs[b.name]?.count ?? 0) / b.elementType.wordCount) }
            var buffers: [String: [UInt32]] = [:]
            var parameters = c.parameters
            for b in c.program.buffers {
                buffers[b.name] = c.inputs[b.name] ?? [UInt32](repeating: 0, count: Int(lengths[b.name]!) * b.elementType.wordCount)
            }
            guard let expected = Self.run(c.program, c, buffers: buffers, parameters: parameters) else { notRun += 1; continue }
            var packedBuffers = buffers
            for packing in packings {
                let (bases, words) = packing.layout(lengths: lengths)
                var block = [UInt32](repeating: 0, count: words)
                for r in packing.regions {
                    let start = Int(bases[r.name]!)
                    block.replaceSubrange(start..<(start + Int(lengths[r.name]!)), with: buffers[r.name]!)
                    packedBuffers[r.name] = nil
                }
                packedBuffers[packing.block.name] = block
                parameters.merge(packing.parameters(lengths: lengths)) { a, _ in a }
            }
            let got = try #require(Self.run(packed, c, buffers: packedBuffers, parameters: parameters), "seed \(seed): the packed program did not run")
            #expect(got.traps == expected.traps, "seed \(seed): traps")
            var unpacked = got.buffers
            for packing in packings {
                let block = got.buffers[packing.block.name]!
                let bases = packing.layout(lengths: lengths).bases
                for r in packing.regions {
                    let start = Int(bases[r.name]!)
                    unpacked[r.name] = Array(block[start..<(start + Int(lengths[r.name]!))])
                }
                unpacked[packing.block.name] = nil
            }
            let differing = expected.buffers.keys.filter { unpacked[$0] != expected.buffers[$0] }.sorted()
            #expect(differing.isEmpty && unpacked.count == expected.buffers.count, "seed \(seed): buffers \(differing) differ")
            compared += 1
        }
        #expect(compared >= 200, "only \(compared) compared, \(refused) refused, \(notRun) not run")
    }

    /// Out of bounds, each access keeps its meaning and leaves the other regions alone: a store
    /// lands in the guard word, which a later out-of-bounds load does not see; an atomic and a
    /// compare-exchange give zero; `length` is the member's own.
    @Test func outOfBoundsAccessesStayInTheirRegion() throws {
        let p = Program(buffers: [BufferDecl("a", binding: 0, access: .readWrite, type: .u32, count: 2),
                                  BufferDecl("b", binding: 1, access: .readWrite, type: .u32),
                                  BufferDecl("out", binding: 2, access: .readWrite, type: .u32, count: 8)], workgroupSize: WorkgroupSize(1)) {
            Node.store("a", at: 2, 99)                                    // out of bounds: dropped
            Node.store("out", at: 0, .load("a", at: 2))                   // 0, not the guard's 99
            Node.store("out", at: 1, .atomic(.add, "a", index: 7, value: 5))
            Node.store("out", at: 2, .compareExchange("b", index: 3, expected: 0, desired: 4))
            Node.store("out", at: 3, .length("b"))
            Node.store("out", at: 4, .atomic(.add, "a", index: 1, value: 5))  // in bounds: the old 20
            Node.store("out", at: 5, .load("b", at: 0))
        }
        let inputs: [String: [UInt32]] = ["a": [10, 20], "b": [30, 40, 50], "out": [UInt32](repeating: 7, count: 8)]
        let expected = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: inputs)
        #expect(expected.buffers["out"]!.prefix(6) == [0, 0, 0, 3, 20, 30])
        let (packed, packing) = try p.packing(["a", "b", "out"], into: "pack", binding: 3)
        #expect(packed.buffers.map(\.name) == ["pack"])
        let lengths: [String: UInt32] = ["a": 2, "b": 3, "out": 8]
        let (bases, words) = packing.layout(lengths: lengths)
        #expect(bases == ["a": 0, "b": 3, "out": 7] && words == 16)
        var block = [UInt32](repeating: 0, count: words)
        for (name, base) in bases { block.replaceSubrange(Int(base)..<(Int(base) + inputs[name]!.count), with: inputs[name]!) }
        let got = try Interpreter(options: .init(parameters: packing.parameters(lengths: lengths))).run(packed, grid: WorkgroupSize(1), buffers: ["pack": block])
        let out = got.buffers["pack"]!
        #expect(Array(out[7..<15]) == expected.buffers["out"]!)
        #expect(Array(out[0..<2]) == expected.buffers["a"]! && Array(out[3..<6]) == expected.buffers["b"]!)
    }

    @Test func refusalsSayWhy() throws {
        let p = Program(buffers: [BufferDecl("a", binding: 0, access: .readWrite, type: .u32, count: 4),
                                  BufferDecl("b", binding: 1, access: .readWrite, type: .f32, count: 4),
                                  BufferDecl("c", binding: 2, access: .readWrite, type: .u32, count: 4, placement: .hostMapped)],
                        workgroupSize: WorkgroupSize(1)) {
            Node.store("a", at: .atomic(.add, "a", index: 0, value: 1), 5)
        }
        #expect(throws: PackingError.mixedTypes("b", .u32, .f32)) { try p.packing(["a", "b"], into: "pack", binding: 3) }
        #expect(throws: PackingError.mixedPlacement("c")) { try p.packing(["a", "c"], into: "pack", binding: 3) }
        #expect(throws: PackingError.unknownBuffer("z")) { try p.packing(["a", "z"], into: "pack", binding: 3) }
        #expect(throws: PackingError.nameTaken("b")) { try p.packing(["a"], into: "b", binding: 3) }
        // The store's index is an atomic on a member: packing would evaluate it twice.
        let q = Program(buffers: [BufferDecl("a", binding: 0, access: .readWrite, type: .u32, count: 4),
                                  BufferDecl("d", binding: 1, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.let("x", .load("d", at: .atomic(.add, "a", index: 0, value: 1)))
        }
        do throws(PackingError) { _ = try q.packing(["a", "d"], into: "pack", binding: 3); Issue.record("packed") } catch {
            guard case .indexHasSideEffects("d", _) = error else { Issue.record("\(error)"); return }
            #expect(error.description.contains("Fix:"))
        }
    }
}
