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
