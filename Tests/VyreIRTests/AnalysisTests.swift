import Testing
import VyreIR
import VyreTesting

/// The analysis a validated program carries: what later passes read instead of working it out again.
struct AnalysisTests {
    static let data = BufferDecl("data", binding: 0, access: .readWrite, type: .u32)
    static let table = BufferDecl("table", binding: 1, access: .readOnly, type: .u32, count: 8)
    static let out = BufferDecl("out", binding: 2, access: .writeOnly, type: .u32)

    @Test func typesAreRecordedUnderTheirPaths() throws {
        let p = Program(buffers: [Self.data], workgroupSize: WorkgroupSize(4)) {
            Node.let("x", .cast(.f32, .builtin(.globalInvocationID(.x))))
            Node.if(.binary(.lt, "x", .f32(2))) {
                Node.let("y", .cast(.i32, .binary(.mul, "x", .f32(3))))
            } else: {
                Node.let("y", .u32(1))
            }
        }
        let a = try p.validated(limits: .unrestricted).analysis
        #expect(a.type(at: "entry[0].value") == .f32)
        #expect(a.type(at: "entry[0].value.value") == .u32)
        #expect(a.type(at: "entry[1].if") == .bool)
        #expect(a.type(at: "entry[1].if.args[0]") == .f32)
        // Two variables of one name in sibling scopes keep their own types.
        #expect(a.type(at: "entry[1].then[0].value") == .i32)
        #expect(a.type(at: "entry[1].then[0].value.value") == .f32)
        #expect(a.type(at: "entry[1].else[0].value") == .u32)
    }

    @Test func everyExpressionOfGeneratedProgramsHasItsInferredType() throws {
        struct Paths: ProgramVisitor {
            var paths: [String] = []
            mutating func visit(_ expr: Expr, at path: String, depth: Int) { paths.append(path) }
        }
        for seed in UInt64(0)..<150 {
            var g = ProgramGenerator(seed: 41_000 + seed, options: .init(mode: .anyValid, capabilities: Set(Capability.allCases)))
            let p = g.generate().program
            let v = try p.validated(limits: .unrestricted)
            var found = Paths()
            p.walk(&found)
            #expect(Set(found.paths) == Set(v.analysis.types.keys), "seed \(seed)")
            #expect(v.contentHash == p.contentHash)
        }
    }

    @Test func factsNeedNoSecondWalk() throws {
        let p = Program(buffers: [Self.data, Self.table, Self.out], workgroupSize: WorkgroupSize(4)) {
            Node.let("i", .builtin(.globalInvocationID(.x)))
            Node.store("out", at: "i", .load("table", index: .parameter("offset")))
            Node.if(.binary(.lt, "i", .length("data"))) {
                Node.let("old", .atomic(.add, "data", index: "i", value: 1))
            }
        }
        let a = try p.validated(limits: .unrestricted).analysis
        #expect(a.parameters == ["offset"])
        #expect(a.sizedMemories == ["data", "table", "out"])
        #expect(a.sharedData == ["data"])
        #expect(!a.containsLoop && !a.containsTrap)
        #expect(a.wideTypes.isEmpty)

        let looping = Program(buffers: [BufferDecl("wide", binding: 0, access: .readWrite, type: .u64, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.for("k", from: 0, to: 3) {
                Node.store("wide", at: "k", .bitcast(.u64, .f64(1)))
            }
            Node.trap(7)
        }
        let b = try looping.validated(limits: .unrestricted).analysis
        #expect(b.containsLoop && b.containsTrap)
        #expect(b.sizedMemories == ["wide"])
        #expect(b.sharedData.isEmpty)
        #expect(b.wideTypes.map(\.path) == ["buffers[0]", "entry[0].body[0].value", "entry[0].body[0].value.value"])
        #expect(b.wideTypes.map(\.isBitcast) == [false, true, false])
    }

    @Test func aProgramIsCheckedAgainOnlyForWiderLimits() throws {
        let many = (0..<12).map { BufferDecl("b\($0)", binding: UInt32($0), access: .readOnly, type: .u32) }
        let p = Program(buffers: many, workgroupSize: WorkgroupSize(4)) {}
        let wide = try p.validated(limits: .unrestricted)
        #expect(throws: ValidationFailure.self) { try wide.revalidated(for: .gl43) }
        let fit = try Program(buffers: [Self.data], workgroupSize: WorkgroupSize(4)) {}.validated(limits: Limits.gl43)
        #expect(try fit.revalidated(for: .unrestricted) == fit)
        #expect(Limits.unrestricted.admits(.gl43))
        #expect(!Limits.gl43.admits(.unrestricted))
    }

    @Test func mapChildrenKeepsEveryOperatorAndTheWalkerVisitsInEvaluationOrder() {
        let e: Expr = .compareExchange("data", index: .binary(.add, 1, 2), expected: .select(true, 3, 4), desired: .fma(.f32(1), .f32(2), .f32(3)))
        #expect(e.mapChildren { $0 } == e)
        #expect(e.labeledChildren.map(\.label) == ["index", "expected", "desired"])
        struct Order: ProgramVisitor {
            var seen: [String] = []
            mutating func visit(_ node: Node, at path: String, depth: Int) { seen.append("\(path)@\(depth)") }
            mutating func visit(_ expr: Expr, at path: String, depth: Int) { seen.append("\(path)@\(depth)") }
        }
        let p = Program(buffers: [Self.data], workgroupSize: WorkgroupSize(1)) {
            Node.while(true, maxIterations: 4) { Node.let("v", .load("data", index: 0)) }
        }
        var order = Order()
        p.walk(&order)
        #expect(order.seen == ["entry[0]@1", "entry[0].max_iterations@2", "entry[0].while@2", "entry[0].body[0]@2",
                               "entry[0].body[0].value@3", "entry[0].body[0].value.index@4"])
    }

    @Test func scopesFindTheInnermostBindingAndForgetPoppedOnes() {
        var s = Scopes<Int>()
        s.declare("a", 1)
        s.push(["b": 2])
        s.update("a") { $0 += 10 }
        #expect(s["a"] == 11 && s["b"] == 2)
        s.pop()
        #expect(s["b"] == nil && s["a"] == 11)
    }
}

/// The one shape of every error.
struct DiagnosticTests {
    @Test func aDiagnosticReadsPathProblemFix() {
        let d = Diagnostic("the value is wrong", at: "entry[1].value", fix: "cast it.")
        #expect(d.fix == "cast it")
        #expect(d.description == "entry[1].value: the value is wrong. Fix: cast it.")
        #expect(d.within("while lowering").description == "entry[1].value: while lowering: the value is wrong. Fix: cast it.")
        #expect(d.located(in: "prog.json").description == "prog.json: entry[1].value: the value is wrong. Fix: cast it.")
        #expect(Diagnostic("no path", fix: "none needed").description == "no path. Fix: none needed.")
    }

    @Test func errorsOfEveryLayerGiveDiagnostics() throws {
        let bad = Program(buffers: [BufferDecl("data", binding: 0, access: .readOnly, type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.store("data", at: 0, 1)
            Node.assign("nowhere", 2)
        }
        #expect(throws: ValidationFailure.self) { try bad.validated() }
        do { _ = try bad.validated() } catch {
            #expect(error.diagnostics.map(\.path) == ["entry[0]", "entry[1]"])
            #expect(error.diagnostics.allSatisfy { !$0.fix.isEmpty })
        }
        do { _ = try Interpreter().run(bad, grid: WorkgroupSize(1), buffers: [:]) } catch {
            #expect(error.diagnostics.count == 2)
        }
        do { _ = try Program(wireBytes: [1, 2, 3]) } catch {
            #expect(error.diagnostics.count == 1 && error.description.contains(". Fix: "))
        }
    }
}
