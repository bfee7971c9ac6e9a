import Foundation
public import Testing
import VyreGLSL
import VyreConformance
public import VyreTesting
import VyreGL
import VyreIR

extension ConformanceCase: CustomTestStringConvertible {
    public var testDescription: String { name }
}

/// Where a conformance case runs: a context, and the language its programs are lowered to.
enum ConformanceTarget: String, CaseIterable, CustomTestStringConvertible {
    /// OpenGL 4.3 core, GLSL 4.30.
    case gl
    /// OpenGL ES, in the context's own GLSL ES (3.20 with `precise` on llvmpipe).
    case gles
    /// OpenGL ES, in GLSL ES 3.10 with no extension: the written-out exact form of float
    /// arithmetic that drivers without `precise` get.
    case gles31

    var testDescription: String { rawValue }

    var context: GLContext { self == .gl ? Shared.context : Shared.esContext }

    /// Nil: the context's own target.
    var lowering: GLSLTarget? {
        guard self == .gles31 else { return nil }
        var t = Shared.esContext.target
        t.language = .essl310
        t.extensions = []
        return t
    }

    var capabilities: Set<Capability> { context.limits.capabilities }
}

/// The differential suite: each program runs on llvmpipe through EGL, under OpenGL and under
/// OpenGL ES, and in the reference interpreter, and every buffer word must agree.
struct ConformanceTests {
    static let cases: [(ConformanceTarget, ConformanceCase)] = ConformanceTarget.allCases.flatMap { target in
        ConstructCases.all(capabilities: target.capabilities).map { (target, $0) }
    }

    @Test(arguments: cases)
    func construct(_ target: ConformanceTarget, _ c: ConformanceCase) {
        let outcome = Conformance.check(c, on: target.context, lowering: target.lowering)
        #expect(outcome.passed, "\(outcome.detail ?? "")")
    }

    /// At least 200 generated programs per run and target; VYRE_CONFORMANCE_RANDOM=N for soak
    /// runs, and VYRE_CONFORMANCE_SEED to explore other programs.
    @Test(arguments: ConformanceTarget.allCases)
    func generatedPrograms(_ target: ConformanceTarget) {
        let env = ProcessInfo.processInfo.environment
        let count = Int(env["VYRE_CONFORMANCE_RANDOM"] ?? "") ?? 200
        let seed = UInt64(env["VYRE_CONFORMANCE_SEED"] ?? "") ?? 0x5EED
        let cases = Conformance.randomCases(count: count, seed: seed, capabilities: target.capabilities)
        var failures: [String] = []
        for c in cases {
            let o = Conformance.check(c, on: target.context, lowering: target.lowering)
            if !o.passed { failures.append("\(o.name): \(o.detail ?? "")") }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) failed:\n\(failures.prefix(12).joined(separator: "\n"))")
    }

    @Test func constructSuiteCoversEveryNodeAndExpressionKind() {
        var nodes = Set<String>()
        var exprs = Set<String>()
        func visit(_ e: Expr) {
            exprs.insert(String("\(e)".prefix { $0 != "(" }))
            e.children.forEach(visit)
        }
        func visit(_ list: [Node]) {
            for n in list {
                nodes.insert(String("\(n)".prefix { $0 != "(" }))
                n.expressions.forEach { visit($0.expr) }
                n.bodies.forEach { visit($0.nodes) }
            }
        }
        for c in ConstructCases.all(capabilities: Set(Capability.allCases)) { visit(c.program.entry) }
        for kind in ["let", "assign", "store", "if", "for", "while", "forever", "block", "region", "return", "break", "continue", "barrier", "asyncLoad", "asyncStore", "asyncWait", "trap"] {
            #expect(nodes.contains { $0.hasSuffix(kind) }, "no construct case uses \(kind)")
        }
        for kind in ["literal", "variable", "load", "length", "builtin", "unary", "binary", "select", "cast", "bitcast", "fma", "atomic", "compareExchange"] {
            #expect(exprs.contains { $0.hasSuffix(kind) }, "no construct case uses \(kind)")
        }
    }
}
