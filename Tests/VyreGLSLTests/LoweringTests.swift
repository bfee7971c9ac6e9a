import Testing
import VyreGLSL
import VyreIR
import VyreTesting

struct LoweringTests {
    /// The length uniforms come from the analysis, not from the text: each is declared exactly
    /// when the body reads it.
    @Test func lengthUniformsAreTheOnesTheBodyReads() throws {
        for seed in UInt64(0)..<150 {
            var g = ProgramGenerator(seed: 43_000 + seed, options: .init(mode: .anyValid, capabilities: Set(Capability.allCases)))
            let lowered = try g.generate().program.lowerToGLSL(target: .gl43Full)
            let body = lowered.source[lowered.source.range(of: "void main() {")!.lowerBound...]
            for (name, uniform) in lowered.lengthUniforms {
                #expect(body.contains(uniform), "seed \(seed): \(name)'s length uniform is declared but unused")
            }
            for uniform in Set(lowered.source.matches(of: /vy_len_[A-Za-z0-9_]+/).map { String($0.output) }) {
                #expect(lowered.lengthUniforms.values.contains(uniform), "seed \(seed): \(uniform) is read but not declared")
            }
        }
    }

    @Test func missingFeatureIsReportedBeforeWriting() {
        let p = Program(buffers: [BufferDecl("w", binding: 0, access: .readWrite, type: .u64, count: 1)], workgroupSize: WorkgroupSize(1)) {}
        #expect(throws: GLSLError.missingFeature(.int64, path: "buffers[0]")) { try p.lowerToGLSL(target: .gl43) }
        #expect(throws: Never.self) { try p.lowerToGLSL(target: GLSLTarget(capabilities: [.int64])) }
    }

    @Test func invalidProgramsAreRefused() {
        let p = Program(entry: [.assign("nope", 1)])
        #expect(throws: GLSLError.self) { try p.lowerToGLSL() }
    }

    @Test func linesMapBackToNodePathsAndRegions() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(4)) {
            Node.region("fill") {
                Node.store("o", at: .localID(.x), .localID(.x) / 2)
            }
        }
        let lowered = try p.lowerToGLSL()
        let storeLine = try #require(lowered.source.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("b_o.data[") })
        let location = try #require(lowered.location(ofLine: storeLine + 1))
        #expect(location.path == "entry[0].body[0]")
        #expect(location.region == "fill")
        #expect(lowered.source.contains("// region: fill"))
        #expect(lowered.source.contains("vy_div_u32"))
    }

    @Test func trapAndForeverAddTheirRuntimeInterface() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 3, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.forever { Node.if(.load("o", at: 0).equals(1)) { Node.trap(7) } }
        }
        let lowered = try p.lowerToGLSL()
        #expect(lowered.statusBinding == 4)
        #expect(lowered.foreverBudgetUniform == "vy_forever_budget")
        #expect(lowered.source.contains("uniform uint vy_forever_budget"))
    }

    @Test func floatArithmeticIsComputedIntoPreciseTemporaries() throws {
        let p = Program(buffers: [BufferDecl("f", binding: 0, access: .readWrite, type: .f32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.store("f", at: 0, .load("f", at: 1) * .load("f", at: 2) + .load("f", at: 3))
        }
        let source = try p.lowerToGLSL().source
        #expect(source.contains("precise float t0 = ((b_f.data[1u] * b_f.data[2u]) + b_f.data[3u]);"))
    }

    @Test func hostMappedBuffersAreVolatileAndSharedOnesCoherent() throws {
        let p = Program(buffers: [
            BufferDecl("ring", binding: 0, access: .readWrite, type: .u32, placement: .hostMapped),
            BufferDecl("counters", binding: 1, access: .readWrite, type: .u32, count: 4),
            BufferDecl("out", binding: 2, access: .readWrite, type: .u32, count: 4),
        ], workgroupSize: WorkgroupSize(1)) {
            Node.let("x", .load("ring", at: 0))
            Node.let("y", .atomic(.add, "counters", at: 0, 1))
            Node.store("out", at: 0, "x" + "y")
        }
        let source = try p.lowerToGLSL().source
        #expect(source.contains("binding = 0) coherent volatile buffer B_ring"))
        #expect(source.contains("binding = 1) coherent buffer B_counters"))
        #expect(source.contains("binding = 2) buffer B_out"))
    }
}

/// What the lowering writes into loops, constants and comments so that every valid program
/// compiles on every driver and no driver limit goes unnoticed.
struct LoweringSafetyTests {
    static let loop = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
        Node.let("n", 0)
        Node.for("k", from: 0, to: 10) {
            Node.if(Expr.variable("k").equals(7)) { Node.break }
            Node.assign("n", "n" + "k")
        }
        Node.store("o", at: 0, "n")
    }

    static let llvmpipe = GLSLTarget(capabilities: [], loopLimit: LoopLimit(iterations: 65_535, perInvocation: true))

    @Test func onADeviceWithALoopLimitLoopsCheckHowTheyEnded() throws {
        let lowered = try Self.loop.lowerToGLSL(target: Self.llvmpipe)
        let source = lowered.source
        #expect(lowered.statusBinding == 1)
        #expect(lowered.loopSites == ["entry[1]"])
        #expect(!lowered.handlesLoopCuts)
        // One exit, at the top of a trip; the break sets a flag and goes there.
        #expect(source.contains("uint v_k = 0u;\n        uint t0 = 0u;"))
        #expect(source.contains("for (; ; v_k++) {\n            if (!(v_k < 10u) || t0 != 0u) break;"))
        #expect(source.contains("t0 = 1u;\n                continue;"))
        // After the loop, the same condition read through vy_zero: still running and no break means cut.
        #expect(source.contains("if (((v_k ^ vy_zero) < 10u) && t0 == 0u) vy_loop_cut(0u);"))
        // The budget is per invocation: one abort poll as the invocation starts, none per trip.
        #expect(source.contains("if (vy_aborted()) return;"))
        #expect(!source.contains("vy_poll"))
    }

    /// Zeroing shared memory is a loop bounded by the array's size and runs first, so where the
    /// device's limit cannot cut it the program stays loop-free: no status block, no poll, no check.
    /// A limit small enough to cut it brings the guards back.
    @Test func theZeroingOfSharedMemoryIsGuardedOnlyWhereTheLimitCouldCutIt() throws {
        func program(words: UInt32) -> Program {
            Program(buffers: [BufferDecl("o", binding: 0, access: .writeOnly, type: .u32, count: 1)],
                    shared: [SharedDecl("s", type: .u32, count: words)], workgroupSize: WorkgroupSize(2)) {
                Node.store("o", at: 0, .load("s", at: 0))
            }
        }
        for target in [Self.llvmpipe, GLSLTarget(capabilities: [])] {
            let plain = try program(words: 4096).lowerToGLSL(target: target)
            #expect(plain.statusBinding == nil)
            #expect(!plain.source.contains("vy_aborted") && !plain.source.contains("vy_loop_cut") && !plain.source.contains("vy_poll"))
        }
        // 4096 words over 2 lanes is 2048 trips: more than half of a 4000-trip limit.
        let tight = GLSLTarget(capabilities: [], loopLimit: LoopLimit(iterations: 4000, perInvocation: true))
        let guarded = try program(words: 4096).lowerToGLSL(target: tight)
        #expect(guarded.statusBinding == 1)
        #expect(guarded.source.contains("if (vy_aborted()) return;"))
        #expect(guarded.source.contains("vy_loop_cut(0u);"))
        #expect(guarded.loopSites == ["zeroing shared array s"])
        // 1000 trips fit in half of it.
        #expect(try program(words: 2000).lowerToGLSL(target: tight).statusBinding == nil)
    }

    @Test func loopsWithoutBreaksKeepNoFlag() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .i32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.let("n", .i32(0))
            Node.for("k", from: .i32(-5), to: .i32(5)) { Node.assign("n", "n" + "k") }
            Node.store("o", at: 0, "n")
        }
        let source = try p.lowerToGLSL(target: Self.llvmpipe).source
        #expect(source.contains("if (!(v_k < 5)) break;"))
        #expect(source.contains("if ((v_k ^ int(vy_zero)) < 5) vy_loop_cut(0u);"))
    }

    /// The loop runs in chunks of 4096 trips: the inner loop is the plain one with a nearer end,
    /// and the poll sits between chunks, off the per-trip path. A range of at most 4096 trips
    /// takes a plain copy of a loop with no loop inside.
    @Test func onADeviceWithoutALimitLoopsPollTheAbortWordBetweenChunks() throws {
        let lowered = try Self.loop.lowerToGLSL()
        let source = lowered.source
        #expect(lowered.statusBinding == 1)
        #expect(source.contains("if (!(v_k < 10u) || 10u - v_k <= 4096u) {\n            for (; v_k < 10u; v_k++) {"))
        #expect(source.contains("} else {\n            for (;;) {"))
        #expect(source.contains("uint t1 = v_k < 10u && 10u - v_k > 4096u ? v_k + 4096u : 10u;"))
        #expect(source.contains("for (; v_k < t1; v_k++) {"))
        #expect(source.contains("if (vy_poll(uint(v_k) - uint(t0))) return;\n                if (v_k != t1 || v_k == 10u) break;"))
        #expect(!source.contains("vy_loop_cut"))
        #expect(source.contains("if ((before >> 12u) == (vy_trips >> 12u)) return false;\n    return vy_aborted();"))
        #expect(!source.contains("    if (vy_aborted()) return;"))
    }

    /// Only a loop with no loop inside gets the plain copy: an enclosing loop is chunked alone,
    /// so a nest's code at most doubles.
    @Test func onlyInnermostLoopsGetAPlainCopy() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("i", from: 0, to: .load("o", at: 0)) {
                Node.for("j", from: 0, to: "i") { Node.assign("n", "n" + "j") }
            }
            Node.store("o", at: 0, "n")
        }
        let source = try p.lowerToGLSL().source
        #expect(source.components(separatedBy: "<= 4096u) {").count - 1 == 1)
        #expect(source.components(separatedBy: "; v_j++) {").count - 1 == 2)
        #expect(source.components(separatedBy: "; v_i++) {").count - 1 == 1)
        #expect(source.components(separatedBy: "for (;;) {").count - 1 == 2)
    }

    /// A long body is not copied: the copy's code costs every compile.
    @Test func aLongLoopBodyGetsNoPlainCopy() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 64)], workgroupSize: WorkgroupSize(1)) {
            Node.for("i", from: 0, to: .load("o", at: 0)) {
                for k in 0..<40 { Node.store("o", at: .u32(UInt32(k + 1)), "i" + .u32(UInt32(k))) }
            }
        }
        let source = try p.lowerToGLSL().source
        #expect(!source.contains("<= 4096u) {"))
        #expect(source.contains("for (;;) {"))
    }

    @Test func withoutGuardsLoopsArePlain() throws {
        let source = try Self.loop.lowerToGLSL(target: GLSLTarget(capabilities: [], guards: .none, loopLimit: Self.llvmpipe.loopLimit)).source
        #expect(source.contains("for (uint v_k = 0u; v_k < 10u; v_k++) {"))
        #expect(!source.contains("vy_poll") && !source.contains("vy_loop_cut") && !source.contains("VyStatus"))
    }

    @Test func readingLoopCutsMeansTheProgramHandlesThem() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.store("o", at: 0, .builtin(.loopCuts))
        }
        let lowered = try p.lowerToGLSL()
        #expect(lowered.handlesLoopCuts)
        #expect(lowered.source.contains("uint vy_loop_cuts = 0u;"))
        #expect(lowered.statusBinding == nil)
    }

    @Test(arguments: [1 << 20, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] as [UInt32])
    func largeConstantIndicesAreHiddenFromTheCompiler(_ index: UInt32) throws {
        let p = Program(buffers: [BufferDecl("r", binding: 0, access: .readWrite, type: .u32)], workgroupSize: WorkgroupSize(1)) {
            Node.store("r", at: .u32(index), .load("r", at: .u32(index)) + 1)
        }
        let source = try p.lowerToGLSL().source
        #expect(source.contains("(\(index)u ^ vy_zero)"))
        #expect(!source.contains("[\(index)u]"))
    }

    @Test func regionNamesCannotBreakTheSource() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.region("ends in a backslash \\") { Node.store("o", at: 0, 1) }
            Node.region("région ✓") { Node.store("o", at: 0, 2) }
        }
        let source = try p.lowerToGLSL().source
        #expect(source.contains("// region: ends in a backslash ?\n"))
        #expect(source.contains("// region: r?gion ?\n"))
        #expect(source.split(separator: "\n").allSatisfy { !$0.hasSuffix("\\") })
    }

    @Test func controlCharactersInRegionNamesAreInvalid() {
        let p = Program(entry: [.region("two\nlines", [])])
        #expect(p.validationErrors(limits: .unrestricted).map(\.kind) == [.invalidName])
    }
}
