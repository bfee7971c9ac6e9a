public import VyreIR
public import VyreGL
public import VyreGLSL

/// The result of one conformance case on one device.
public struct ConformanceOutcome: Sendable {
    public var name: String
    public var passed: Bool
    /// What differed, or why the case could not run.
    public var detail: String?
    public var gpuTime: Duration
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

    /// Runs `c` on `context` and in the interpreter and compares every buffer and trap. `lowering`
    /// replaces the device's own target (to run here the code written for other devices).
    public static func check(_ c: ConformanceCase, on context: GLContext, lowering: GLSLTarget? = nil) -> ConformanceOutcome {
        func fail(_ detail: String, _ time: Duration = .zero) -> ConformanceOutcome {
            ConformanceOutcome(name: c.name, passed: false, detail: detail, gpuTime: time)
        }
        let gpu: RunResult
        do {
            let options = DispatchOptions(foreverBudget: c.foreverBudget, parameters: c.parameters)
            if let lowering {
                gpu = try context.run(try context.makePipeline(c.program, lowering: lowering), grid: c.grid, buffers: c.inputs, options: options)
            } else {
                gpu = try context.run(c.program, grid: c.grid, buffers: c.inputs, options: options)
            }
        } catch .driverLoopLimit(let cut, let limit, _) where c.longLoops && limit != nil {
            // The driver has a loop limit and said so: the clear error is this case's right answer.
            return ConformanceOutcome(name: c.name, passed: true, detail: "driver loop limit \(limit!) reported at \(cut.site)", gpuTime: .zero)
        } catch {
            return fail("the device failed to run it: \(error)")
        }
        let reference: InterpreterResult
        do {
            reference = try Interpreter(options: .init(foreverBudget: c.foreverBudget, parameters: c.parameters)).run(c.program, grid: c.grid, buffers: c.inputs)
        } catch {
            return fail("the reference interpreter rejected the case: \(error)")
        }
        for decl in c.program.buffers {
            let want = reference.buffers[decl.name] ?? []
            let got = gpu.buffers[decl.name] ?? []
            if let problem = compare(decl, want, got, c.tolerances[decl.name]) {
                return fail("program \(c.program.contentHash.short): \(problem)", gpu.gpuTime)
            }
        }
        switch (gpu.trap, reference.traps.isEmpty) {
        case (nil, true):
            break
        case (nil, false):
            return fail("the reference trapped \(reference.traps.count) times, the device reported no trap", gpu.gpuTime)
        case (let t?, _):
            if Int(t.count) != reference.traps.count {
                return fail("the device reported \(t.count) traps, the reference \(reference.traps.count)", gpu.gpuTime)
            }
            if !reference.traps.contains(TrapRecord(invocation: t.invocation, code: t.code)) {
                return fail("the device reported trap code \(t.code) at invocation \(t.invocation), which the reference never raised", gpu.gpuTime)
            }
        }
        return ConformanceOutcome(name: c.name, passed: true, detail: nil, gpuTime: gpu.gpuTime)
    }

    static func compare(_ decl: BufferDecl, _ want: [UInt32], _ got: [UInt32], _ tolerance: FloatTolerance?) -> String? {
        guard want.count == got.count else { return "buffer '\(decl.name)' came back with \(got.count) words, expected \(want.count)" }
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
