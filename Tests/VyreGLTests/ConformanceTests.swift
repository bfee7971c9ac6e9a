import Foundation
public import Testing
import VyreConformance
public import VyreTesting
import VyreGL
import VyreIR

extension ConformanceCase: CustomTestStringConvertible {
    public var testDescription: String { name }
}

/// The differential suite: each program runs on llvmpipe through EGL and in the reference
/// interpreter, and every buffer word must agree.
struct ConformanceTests {
    static let capabilities = Shared.context.limits.capabilities

    @Test(arguments: ConstructCases.all(capabilities: capabilities))
    func construct(_ c: ConformanceCase) {
        let outcome = Conformance.check(c, on: Shared.context)
        #expect(outcome.passed, "\(outcome.detail ?? "")")
    }

    /// At least 200 generated programs per run; VYRE_CONFORMANCE_RANDOM=N for soak runs, and
    /// VYRE_CONFORMANCE_SEED to explore other programs.
    @Test func generatedPrograms() {
        let env = ProcessInfo.processInfo.environment
        let count = Int(env["VYRE_CONFORMANCE_RANDOM"] ?? "") ?? 200
        let seed = UInt64(env["VYRE_CONFORMANCE_SEED"] ?? "") ?? 0x5EED
        let cases = Conformance.randomCases(count: count, seed: seed, capabilities: Self.capabilities)
        var failures: [String] = []
        for c in cases {
            let o = Conformance.check(c, on: Shared.context)
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
