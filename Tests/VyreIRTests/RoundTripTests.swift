import Testing
import VyreTesting
import VyreIR

/// Wire and JSON round trips over generated programs of both kinds.
struct RoundTripTests {
    static let count = 1_000

    static func programs(_ mode: ProgramGenerator.Mode, seedBase: UInt64) -> [GeneratedCase] {
        (0..<UInt64(count / 2)).map { i in
            var g = ProgramGenerator(seed: seedBase + i, options: .init(mode: mode, capabilities: Set(Capability.allCases)))
            return g.generate()
        }
    }

    static let all = programs(.anyValid, seedBase: 1_000) + programs(.deterministic, seedBase: 90_000)

    @Test func generatedProgramsAreValid() {
        for c in Self.all {
            let errors = c.program.validationErrors(limits: .unrestricted)
            #expect(errors.isEmpty, "seed \(c.seed): \(errors.prefix(3))")
        }
    }

    @Test func wireRoundTripIsExact() throws {
        for c in Self.all {
            let bytes = c.program.wireBytes()
            let decoded = try Program(wireBytes: bytes)
            #expect(decoded == c.program, "seed \(c.seed)")
            #expect(decoded.wireBytes() == bytes, "seed \(c.seed)")
        }
    }

    /// The longest valid region name in a four-byte script still fits the wire decoder's default
    /// name limit.
    @Test func everyValidRegionNameRoundTrips() throws {
        let name = String(repeating: "\u{1F600}", count: 128)
        let p = Program(buffers: [], workgroupSize: WorkgroupSize(1)) { Node.region(name) { Node.return } }
        #expect(p.validationErrors(limits: .unrestricted).isEmpty)
        #expect(try Program(wireBytes: p.wireBytes()) == p)
    }

    @Test func jsonRoundTripIsExact() throws {
        for c in Self.all {
            let text = c.program.jsonBytes(pretty: false)
            let decoded = try Program(json: text)
            #expect(decoded == c.program, "seed \(c.seed)")
        }
    }

    @Test func specialFloatLiteralsRoundTrip() throws {
        let values: [Float] = [.nan, -.nan, Float(bitPattern: 0x7FC0_0001), .infinity, -.infinity, -0.0, 0.1, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let program = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .f32, count: 16)], workgroupSize: WorkgroupSize(1)) {
            for (i, v) in values.enumerated() { Node.store("o", at: .u32(UInt32(i)), .f32(v)) }
            Node.store("o", at: 15, .f64(-.nan).cast(to: .f32))
        }
        try program.validate(limits: .unrestricted)
        #expect(try Program(json: program.jsonBytes()) == program)
        #expect(try Program(wireBytes: program.wireBytes()) == program)
    }
}
