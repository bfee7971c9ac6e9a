import VyreProtocol
public import VyreRuntime
public import VyreTesting

extension MegakernelConformance {
    /// Runs `count` generated batches (seeds from `seed`) and compares each with the model.
    public static func check(_ megakernel: Megakernel, count: Int, seed: UInt64) -> [ConformanceOutcome] {
        (0..<UInt64(count)).map { check(megakernel, seed: seed &+ $0) }
    }

    /// Runs the generated batch of one seed and compares it with the model.
    public static func check(_ megakernel: Megakernel, seed: UInt64) -> ConformanceOutcome {
        var g = BatchGenerator(seed: seed, customOpcodes: true)
        let batch = g.generate()
        let name = "megakernel batch seed \(g.seed)"
        do {
            let r = try megakernel.run(batch)
            let m = try model.run(batch)
            let d = difference(r, m)
            return ConformanceOutcome(name: name, passed: d == nil, detail: d, gpuTime: r.timing.gpu)
        } catch {
            return ConformanceOutcome(name: name, passed: false, detail: "\(error)", gpuTime: .zero)
        }
    }
}

extension MegakernelConformance {
    /// Runs the generated batch of one seed through a resident kernel started for it
    /// (`run --resident`) and through `megakernel` one-shot, and compares both with the model:
    /// the two modes give the same words, faults, pending slots and completions.
    public static func checkResident(_ megakernel: Megakernel, seed: UInt64) async -> ConformanceOutcome {
        var g = BatchGenerator(seed: seed, customOpcodes: true)
        let batch = g.generate()
        let name = "resident batch seed \(g.seed)"
        do {
            let plan = try batch.plan(extraBuffers: megakernel.configuration.extraBuffers)
            let kernel = try ResidentMegakernel(context: megakernel.context, configuration: megakernel.configuration,
                                                options: ResidentOptions(plan: plan, rounds: 8))
            let r = try await kernel.run(plan)
            let m = try model.run(batch)
            let once = try await megakernel.run(plan)
            let d = difference(r, m).map { "resident: \($0)" } ?? difference(once, m).map { "one-shot: \($0)" }
            return ConformanceOutcome(name: name, passed: d == nil, detail: d, gpuTime: r.timing.gpu)
        } catch {
            return ConformanceOutcome(name: name, passed: false, detail: "\(error)", gpuTime: .zero)
        }
    }
}
