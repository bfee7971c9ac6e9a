public import VyreIR

/// The result of one conformance case on one device.
public struct ConformanceOutcome: Sendable {
    /// The case's name.
    public var name: String
    /// Whether the device matched the reference (for a long-loop case, the driver's loop-limit error
    /// also passes).
    public var passed: Bool
    /// What differed, or why the case could not run.
    public var detail: String?
    /// GPU time of the device run; zero when it did not run.
    public var gpuTime: Duration

    /// An outcome with these fields.
    public init(name: String, passed: Bool, detail: String?, gpuTime: Duration) {
        self.name = name
        self.passed = passed
        self.detail = detail
        self.gpuTime = gpuTime
    }
}

/// Runs programs on a GL device and in the reference interpreter, and compares every word.
public enum Conformance {
    /// The curated cases this device can run, then `randomCount` generated programs.
    public static func suite(capabilities: Set<Capability>, randomCount: Int, seed: UInt64 = 0x5EED) -> [ConformanceCase] {
        ConstructCases.all(capabilities: capabilities) + randomCases(count: randomCount, seed: seed, capabilities: capabilities)
    }

    /// Deterministic generated programs (see ``ProgramGenerator``), named by their seed.
    public static func randomCases(count: Int, seed: UInt64, capabilities: Set<Capability>) -> [ConformanceCase] {
        (0..<UInt64(count)).map { randomCase(seed: seed &+ $0, capabilities: capabilities) }
    }

    /// The generated program of one seed, as a case.
    public static func randomCase(seed: UInt64, capabilities: Set<Capability>) -> ConformanceCase {
        var g = ProgramGenerator(seed: seed, options: .init(mode: .deterministic, capabilities: capabilities))
        let c = g.generate()
        return ConformanceCase(name: "generated seed \(c.seed)", program: c.program, grid: c.grid, inputs: c.inputs, foreverBudget: c.foreverBudget,
                               parameters: c.parameters)
    }

    /// What differs between the reference's words and the device's for one buffer; nil when
    /// they agree (NaNs of either payload agree, f32 within the case's tolerance).
    public static func compare(_ decl: BufferDecl, _ want: [UInt32], _ got: [UInt32], _ tolerance: FloatTolerance?) -> String? {
        guard want.count == got.count else { return "buffer '\(decl.name)' came back with \(counted(got.count, "word")), expected \(want.count)" }
        let stride = decl.elementType.wordCount
        for element in 0..<(want.count / stride) {
            let w = Array(want[(element * stride)..<((element + 1) * stride)])
            let g = Array(got[(element * stride)..<((element + 1) * stride)])
            if w == g { continue }
            let wv = Value(type: decl.elementType, bits: w.count == 2 ? UInt64(w[0]) | UInt64(w[1]) << 32 : UInt64(w[0]))
            let gv = Value(type: decl.elementType, bits: g.count == 2 ? UInt64(g[0]) | UInt64(g[1]) << 32 : UInt64(g[0]))
            switch (wv, gv) {
            case (.f32(let a), .f32(let b)):
                if a.isNaN && b.isNaN { continue }
                if let tolerance, tolerance.accepts(b, a) { continue }
            case (.f64(let a), .f64(let b)):
                if a.isNaN && b.isNaN { continue }
                if let tolerance, tolerance.accepts(b, a) { continue }
            case (.bool(let a), .bool(let b)) where a == b:
                continue
            default:
                break
            }
            return "\(decl.name)[\(element)] is \(gv) (0x\(String(gv.bits, radix: 16))), the reference says \(wv) (0x\(String(wv.bits, radix: 16)))"
        }
        return nil
    }
}
