import VyreIR
public import VyreGL
public import VyreGLSL
public import VyreTesting

extension Conformance {
    /// Why `c` does not apply on `context`: its program is valid, but needs more than the limits in
    /// force (storage blocks, workgroup size, shared memory; an OpenGL ES 3.1 device, or
    /// `VYRE_GL_LIMITS=es31-minimum`); nil when it fits.
    public static func outsideLimits(_ c: ConformanceCase, on context: GLContext) -> String? {
        let errors = c.program.validationErrors(limits: context.limits)
        guard let first = errors.first, c.program.validationErrors(limits: .unrestricted).isEmpty else { return nil }
        return first.problem
    }

    /// Runs `c` on `context` and in the interpreter and compares every buffer and trap. `lowering`
    /// replaces the device's own target (to run here the code written for other devices).
    public static func check(_ c: ConformanceCase, on context: GLContext, lowering: GLSLTarget? = nil) -> ConformanceOutcome {
        func fail(_ detail: String, _ time: Duration = .zero) -> ConformanceOutcome {
            ConformanceOutcome(name: c.name, passed: false, detail: detail, gpuTime: time)
        }
        let validated: ValidatedProgram
        do { validated = try context.validated(c.program) } catch { return fail("the device refused the program: \(error)") }
        let gpu: RunResult
        do {
            let options = DispatchOptions(foreverBudget: c.foreverBudget, parameters: c.parameters)
            let pipeline = if let lowering { try context.makePipeline(validated, lowering: lowering) } else { try context.makePipeline(validated) }
            gpu = try context.run(pipeline, grid: c.grid, buffers: c.inputs, options: options)
        } catch .driverLoopLimit(let cut, let limit, _) where c.longLoops && limit != nil {
            // The driver has a loop limit and said so: the clear error is this case's right answer.
            return ConformanceOutcome(name: c.name, passed: true, detail: "driver loop limit \(limit!) reported at \(cut.site)", gpuTime: .zero)
        } catch {
            return fail("the device failed to run it: \(error)")
        }
        let reference: InterpreterResult
        do {
            reference = try Interpreter(options: .init(foreverBudget: c.foreverBudget, parameters: c.parameters)).run(validated, grid: c.grid, buffers: c.inputs)
        } catch {
            return fail("the reference interpreter rejected the case: \(error)")
        }
        for decl in c.program.buffers {
            let want = reference.buffers[decl.name] ?? []
            let got = gpu.buffers[decl.name] ?? []
            if let problem = compare(decl, want, got, c.tolerances[decl.name]) {
                return fail("program \(validated.contentHash.short): \(problem)", gpu.gpuTime)
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
            if !reference.traps.contains(t.first) {
                return fail("the device reported trap code \(t.code) at invocation \(t.invocation), which the reference never raised", gpu.gpuTime)
            }
        }
        return ConformanceOutcome(name: c.name, passed: true, detail: nil, gpuTime: gpu.gpuTime)
    }
}
