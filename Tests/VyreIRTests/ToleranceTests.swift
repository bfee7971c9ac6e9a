import Testing
import VyreIR
import VyreTesting

/// `exec --check` and the conformance runner judge float results by the allowances
/// docs/semantics.md gives the operations a program uses, and no looser.
struct ToleranceTests {
    static let out = BufferDecl("out", binding: 0, access: .readWrite, type: .f32, count: 1)

    static func tolerance(_ value: Expr) throws -> FloatTolerance? {
        let p = Program(buffers: [out], workgroupSize: WorkgroupSize(1)) { Node.store("out", at: 0, value) }
        return FloatTolerance.documented(for: try p.validated(limits: .unrestricted))
    }

    @Test func theAllowanceFollowsTheOperationsUsed() throws {
        #expect(try Self.tolerance(.f32(1) + .f32(2)) == nil)
        #expect(try Self.tolerance(.cast(.f32, .u32(7) / .u32(2))) == nil, "an integer division is exact")
        #expect(try Self.tolerance(.f32(1) / .f32(3)) == .divisionAndRoot)
        #expect(try Self.tolerance(.f32(2).apply(.sqrt)) == .divisionAndRoot)
        #expect(try Self.tolerance(.f32(2).apply(.sqrt) + .f32(1).apply(.exp)) == .transcendental)
        #expect(try Self.tolerance(.f32(1).apply(.log) / .f32(3)) == .transcendental)
    }

    @Test func comparisonsApplyTheAllowanceAndAcceptAnyNaN() {
        let f = Self.out
        let one = Float(1).bitPattern
        #expect(Conformance.compare(f, [one], [one + 1], nil) != nil, "without an allowance one ulp is a difference")
        #expect(Conformance.compare(f, [one], [one + 1], .divisionAndRoot) == nil)
        #expect(Conformance.compare(f, [one], [one + 4], .divisionAndRoot) != nil)
        // log of a negative number: NaN of either sign.
        #expect(Conformance.compare(f, [Float.nan.bitPattern], [(-Float.nan).bitPattern], nil) == nil)
        let d = BufferDecl("d", binding: 1, access: .readWrite, type: .f64, count: 1)
        let x = Double(1).bitPattern
        #expect(Conformance.compare(d, [UInt32(truncatingIfNeeded: x), UInt32(x >> 32)], [UInt32(truncatingIfNeeded: x + 2), UInt32(x >> 32)], .divisionAndRoot) == nil)
        #expect(Conformance.compare(d, [UInt32(truncatingIfNeeded: x), UInt32(x >> 32)], [UInt32(truncatingIfNeeded: x + 2), UInt32(x >> 32)], nil) != nil)
    }
}
