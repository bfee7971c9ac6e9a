import Testing
import VyreTesting
import VyreIR

/// Truncated and mutated wire bytes give a typed error or a program, never a trap.
struct WireRobustnessTests {
    @Test func tenThousandDamagedBlobs() {
        var rng = SeededRandom(seed: 0xB10B)
        var decoded = 0
        var rejected = 0
        let sources = (0..<50).map { i -> [UInt8] in
            var g = ProgramGenerator(seed: 500 + UInt64(i), options: .init(mode: .anyValid, capabilities: Set(Capability.allCases)))
            return g.generate().program.wireBytes()
        }
        for n in 0..<10_000 {
            var bytes = sources[n % sources.count]
            switch n % 4 {
            case 0:
                bytes = Array(bytes.prefix(rng.int(0...(bytes.count - 1))))
            case 1:
                for _ in 0..<rng.int(1...4) { bytes[rng.int(0...(bytes.count - 1))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2:
                let at = rng.int(0...bytes.count)
                bytes.insert(contentsOf: (0..<rng.int(1...8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            default:
                let at = rng.int(6...(bytes.count - 1))
                bytes.removeSubrange(at..<Swift.min(bytes.count, at + rng.int(1...6)))
            }
            do {
                let p = try Program(wireBytes: bytes)
                decoded += 1
                // Whatever decodes must survive validation and re-encoding without trapping.
                _ = p.validationErrors(limits: .unrestricted)
                #expect(try Program(wireBytes: p.wireBytes()) == p)
            } catch {
                rejected += 1
                #expect(error.description.contains("Fix:"))
            }
        }
        #expect(decoded + rejected == 10_000)
        #expect(rejected > 5_000)
    }

    @Test func specificRejections() {
        let good = Program(buffers: [BufferDecl("a", binding: 0, access: .readOnly, type: .u32)], workgroupSize: WorkgroupSize(1)) {}.wireBytes()
        #expect(throws: WireError.badMagic) { try Program(wireBytes: Array("{}".utf8)) }
        #expect(throws: WireError.unsupportedVersion(9)) { try Program(wireBytes: Array("VYIR".utf8) + [9, 0]) }
        #expect(throws: WireError.trailingBytes(offset: good.count, count: 1)) { try Program(wireBytes: good + [0]) }
        #expect(throws: WireError.tooLarge(bytes: good.count, limit: 8)) { try Program(wireBytes: good, limits: WireLimits(maxBytes: 8)) }
        var nonMinimal = good
        nonMinimal.replaceSubrange(6..<7, with: [0x81, 0x00])
        #expect(throws: WireError.nonMinimalInteger(offset: 6)) { try Program(wireBytes: nonMinimal) }
        var badTag = Array(good.dropLast())
        badTag += [1, 99]
        #expect(throws: WireError.unknownTag(offset: badTag.count - 1, what: "statement", tag: 99)) { try Program(wireBytes: badTag) }
        var hugeCount = Array(good.dropLast())
        hugeCount += [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(throws: WireError.self) { try Program(wireBytes: hugeCount) }
    }

    @Test func depthLimitStopsDeepNesting() {
        var nodes: [Node] = []
        for _ in 0..<100 { nodes = [.block(nodes)] }
        let bytes = Program(entry: nodes).wireBytes()
        #expect(throws: WireError.self) { try Program(wireBytes: bytes) }
        #expect(throws: Never.self) { try Program(wireBytes: bytes, limits: WireLimits(maxDepth: 200)) }
    }
}
