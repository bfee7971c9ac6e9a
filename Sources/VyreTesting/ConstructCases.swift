public import VyreIR

/// The curated part of the conformance suite: one program per IR construct and per semantics
/// rule, most of them tables that apply an operator to every pair of edge values.
public enum ConstructCases {
    /// Every curated case whose required capabilities `capabilities` covers. Builds the programs on the
    /// CPU; needs no GPU.
    public static func all(capabilities: Set<Capability>) -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        cases += operatorTables(capabilities)
        cases += conversionTables(capabilities)
        cases += memoryCases()
        cases += controlFlowCases()
        cases += atomicCases()
        cases += workgroupCases()
        cases += longLoopCases()
        cases += adversarialCases()
        return cases.filter { $0.requires.isSubset(of: capabilities) }
    }

    // MARK: edge values

    static func edges(_ t: DataType) -> [Value] {
        switch t {
        case .u32: return [0, 1, 2, 3, 7, 31, 32, 33, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF].map { .u32($0) }
        case .i32: return [0, 1, -1, 2, -3, 7, 31, 32, 33, .max, .min, -.max].map { .i32($0) }
        case .f32: return [0, -0.0, 1, -1, 0.5, 1.5, 2.5, -2.5, 3, 1e10, -7.25, .infinity, -.infinity, .nan, 16_777_216, 0.1].map { .f32($0) }
        case .bool: return [.bool(false), .bool(true)]
        case .u64: return [0, 1, 63, 64, 65, 0x8000_0000_0000_0000, .max, 0x1_0000_0000].map { .u64($0) }
        case .i64: return [0, 1, -1, 63, 64, .min, .max, -0x1_0000_0000].map { .i64($0) }
        case .f64: return [0, -0.0, 1, -1, 0.5, 2.5, -2.5, 1e300, .infinity, .nan, 0.1].map { .f64($0) }
        }
    }

    static func buffer(_ name: String, _ binding: UInt32, _ access: BufferAccess, _ t: DataType, count: Int? = nil) -> BufferDecl {
        BufferDecl(name, binding: binding, access: access, type: t, count: count.map { UInt32($0) })
    }

    static func groups(_ n: Int, _ size: Int = 64) -> WorkgroupSize { WorkgroupSize(UInt32(max(1, (n + size - 1) / size))) }

    static func requirements(_ types: DataType...) -> Set<Capability> { Set(types.compactMap(\.requiredCapability)) }

    static func resultType(_ e: Expr) -> DataType {
        (try? Typing.infer(e, in: TypeEnvironment(program: Program()) { _ in nil })) ?? .u32
    }

    // MARK: operators

    /// out[i] = a[i] op b[i] over every pair of edge values.
    static func binaryTable(_ op: BinaryOp, _ t: DataType, rhs: DataType? = nil, tolerance: FloatTolerance? = nil) -> ConformanceCase {
        let r = rhs ?? t
        let pairs = edges(t).flatMap { a in edges(r).map { (a, $0) } }
        let out = resultType(.binary(op, .literal(.zero(t)), .literal(.zero(r))))
        let program = Program(buffers: [buffer("a", 0, .readOnly, t), buffer("b", 1, .readOnly, r), buffer("out", 2, .writeOnly, out, count: pairs.count)],
                              workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("a")) {
                Node.store("out", at: "i", .binary(op, .load("a", at: "i"), .load("b", at: "i")))
            }
        }
        return ConformanceCase(name: "binary \(op.rawValue) \(t)\(rhs.map { ", \($0)" } ?? "")", program: program, grid: groups(pairs.count),
                               inputs: ["a": pairs.flatMap { $0.0.words }, "b": pairs.flatMap { $0.1.words }],
                               tolerances: tolerance.map { ["out": $0] } ?? [:], requires: requirements(t, r))
    }

    static func unaryTable(_ op: UnaryOp, _ t: DataType, values: [Value]? = nil, tolerance: FloatTolerance? = nil) -> ConformanceCase {
        let inputs = values ?? edges(t)
        let out = resultType(.unary(op, .literal(.zero(t))))
        let program = Program(buffers: [buffer("a", 0, .readOnly, t), buffer("out", 1, .writeOnly, out, count: inputs.count)], workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("a")) { Node.store("out", at: "i", .unary(op, .load("a", at: "i"))) }
        }
        return ConformanceCase(name: "unary \(op.rawValue) \(t)", program: program, grid: groups(inputs.count), inputs: ["a": inputs.flatMap(\.words)],
                               tolerances: tolerance.map { ["out": $0] } ?? [:], requires: requirements(t))
    }

    static func operatorTables(_ caps: Set<Capability>) -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        let integer: [BinaryOp] = [.add, .sub, .mul, .div, .rem, .and, .or, .xor, .eq, .ne, .lt, .le, .gt, .ge, .min, .max]
        for t in [DataType.u32, .i32, .u64, .i64] {
            for op in integer { cases.append(binaryTable(op, t)) }
            cases.append(binaryTable(.shl, t, rhs: .u32))
            cases.append(binaryTable(.shr, t, rhs: .u32))
            for op in [UnaryOp.negate, .bitNot] { cases.append(unaryTable(op, t)) }
        }
        for t in [DataType.u32, .i32] {
            for op in [UnaryOp.popcount, .countLeadingZeros, .countTrailingZeros, .reverseBits] { cases.append(unaryTable(op, t)) }
        }
        cases.append(unaryTable(.abs, .i32))
        cases.append(unaryTable(.abs, .i64))
        for t in [DataType.f32, .f64] {
            for op in [BinaryOp.add, .sub, .mul, .eq, .ne, .lt, .le, .gt, .ge, .min, .max] { cases.append(binaryTable(op, t)) }
            for op in [UnaryOp.negate, .abs, .floor, .ceil, .trunc, .round, .fract] { cases.append(unaryTable(op, t)) }
        }
        cases.append(binaryTable(.div, .f32, tolerance: .divisionAndRoot))
        cases.append(binaryTable(.div, .f64, tolerance: .divisionAndRoot))
        cases.append(unaryTable(.sqrt, .f32, values: [0, 1, 2, 0.25, 10, 1e10, -1, .infinity, .nan].map { .f32($0) }, tolerance: .divisionAndRoot))
        let moderate: [Value] = [0, 0.5, 1, -1, 2, 3.14159, -3.14159, 10, 0.001].map { .f32($0) }
        for op in [UnaryOp.exp, .exp2, .sin, .cos] { cases.append(unaryTable(op, .f32, values: moderate, tolerance: .transcendental)) }
        for op in [UnaryOp.log, .log2] {
            cases.append(unaryTable(op, .f32, values: [0.001, 0.5, 1, 2, 3.14159, 10, 1000].map { .f32($0) }, tolerance: .transcendental))
        }
        for t in [DataType.u32, .i32, .f32, .bool] {
            cases.append(selectTable(t))
        }
        for op in [BinaryOp.logicalAnd, .logicalOr, .eq, .ne] { cases.append(binaryTable(op, .bool)) }
        cases.append(unaryTable(.not, .bool))
        cases.append(fmaCase())
        cases.append(fmaHardCase())
        cases.append(selfCancelCase())
        _ = caps
        return cases
    }

    static func selectTable(_ t: DataType) -> ConformanceCase {
        let values = edges(t)
        let program = Program(buffers: [buffer("a", 0, .readOnly, t), buffer("out", 1, .writeOnly, t, count: values.count * 2)], workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("a")) {
                Node.let("v", .load("a", at: "i"))
                Node.let("w", .load("a", at: ("i" + 1) % .length("a")))
                Node.store("out", at: "i" * 2, .select(("i" & 1).equals(0), "v", "w"))
                Node.store("out", at: "i" * 2 + 1, .select(("i" & 1).equals(1), "v", "w"))
            }
        }
        return ConformanceCase(name: "select \(t)", program: program, grid: groups(values.count), inputs: ["a": values.flatMap(\.words)])
    }

    static func fmaCase() -> ConformanceCase {
        let triples: [(Float, Float, Float)] = [(0.1, 10, -1), (1.5, 2.5, 0.25), (3, 1.0 / 3, -1), (16_777_216, 1.5, -16_777_215), (-2, 0.5, 1)]
        let program = Program(buffers: [buffer("a", 0, .readOnly, .f32), buffer("b", 1, .readOnly, .f32), buffer("c", 2, .readOnly, .f32),
                                        buffer("out", 3, .writeOnly, .f32, count: triples.count)], workgroupSize: WorkgroupSize(8)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("a")) { Node.store("out", at: "i", .fma(.load("a", at: "i"), .load("b", at: "i"), .load("c", at: "i"))) }
        }
        return ConformanceCase(name: "fma f32 (single rounding)", program: program,
                               inputs: ["a": triples.map { $0.0.bitPattern }, "b": triples.map { $0.1.bitPattern }, "c": triples.map { $0.2.bitPattern }])
    }

    /// fma on values chosen to break an emulation (GLSL ES has no doubles, so there it is done in
    /// integer arithmetic): random magnitudes, sums that cancel to a few bits, addends far below
    /// and far above the product, products past the float range that the addend brings back or
    /// not, and infinities, NaN and zeros in every place. No subnormal operand or result: GPUs
    /// may flush them.
    static func fmaHardCase() -> ConformanceCase {
        var random = SeededRandom(seed: 0xF3A)
        func float(exponent: ClosedRange<Int>) -> Float {
            let f = Float(sign: random.chance(0.5) ? .minus : .plus, exponent: random.int(exponent),
                          significand: 1 + Float(random.u32() >> 9) / Float(1 << 23))
            return f
        }
        var triples: [(Float, Float, Float)] = []
        for _ in 0..<300 { triples.append((float(exponent: -40...40), float(exponent: -40...40), float(exponent: -80...80))) }
        for _ in 0..<150 {
            // c cancels the rounded product: the result is the product's rounding error.
            let a = float(exponent: -20...20), b = float(exponent: -20...20)
            let c = random.chance(0.5) ? -(a * b) : -(a * b).nextUp
            triples.append((a, b, c))
        }
        for _ in 0..<100 {
            let a = float(exponent: -10...10), b = float(exponent: -10...10)
            let shift = random.int(20...90) * (random.chance(0.5) ? 1 : -1)
            triples.append((a, b, float(exponent: (shift - 1)...(shift + 1))))
        }
        for _ in 0..<50 { triples.append((float(exponent: 60...70), float(exponent: 60...66), float(exponent: 126...127))) }
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        for a in specials { for b in specials { triples.append((a, b, 1.5)); triples.append((2, a, b)) } }
        triples.append((.greatestFiniteMagnitude, 2, -.greatestFiniteMagnitude))
        triples.append((.greatestFiniteMagnitude, 2, -.infinity))
        triples.append((1.5, 1.5, -2.25))
        triples.append((1 + 1.0 / 4096, 1 + 1.0 / 4096, -(1 + 2.0 / 4096)))
        // Double rounding: the exact sum is just above a float tie, rounding to 53 bits lands on
        // the tie, and ties go to even; a single rounding would round up.
        triples.append((1 + 0x1p-12, 1 + 0x1p-12, 0x1p-80))
        triples.append((-(1 + 0x1p-12), 1 + 0x1p-12, -0x1p-80))
        let normal: (Float) -> Bool = { $0 == 0 || !$0.isFinite || $0.isNormal }
        triples = triples.filter { t in
            guard normal(t.0) && normal(t.1) && normal(t.2) else { return false }
            if case .f32(let r) = Semantics.fma(.f32(t.0), .f32(t.1), .f32(t.2)) { return normal(r) }
            return false
        }
        let program = Program(buffers: [buffer("a", 0, .readOnly, .f32), buffer("b", 1, .readOnly, .f32), buffer("c", 2, .readOnly, .f32),
                                        buffer("out", 3, .writeOnly, .f32, count: triples.count)], workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("a")) { Node.store("out", at: "i", .fma(.load("a", at: "i"), .load("b", at: "i"), .load("c", at: "i"))) }
        }
        return ConformanceCase(name: "fma f32 (hard cases)", program: program, grid: groups(triples.count),
                               inputs: ["a": triples.map { $0.0.bitPattern }, "b": triples.map { $0.1.bitPattern }, "c": triples.map { $0.2.bitPattern }])
    }

    /// `x - x`, `x + (-x)` and `(-x) + x` over every edge value: compilers fold them to 0 unless
    /// told the arithmetic is exact, which is wrong for infinities and NaN.
    static func selfCancelCase() -> ConformanceCase {
        let values = edges(.f32)
        let program = Program(buffers: [buffer("a", 0, .readOnly, .f32), buffer("out", 1, .writeOnly, .f32, count: values.count * 3)],
                              workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("a")) {
                Node.let("x", .load("a", at: "i"))
                Node.store("out", at: "i" * 3, .binary(.sub, "x", "x"))
                Node.store("out", at: "i" * 3 + 1, .binary(.add, "x", .unary(.negate, "x")))
                Node.store("out", at: "i" * 3 + 2, .binary(.add, .unary(.negate, "x"), "x"))
            }
        }
        return ConformanceCase(name: "x - x and x + (-x) f32", program: program, grid: groups(values.count), inputs: ["a": values.flatMap(\.words)])
    }

    // MARK: conversions

    static func conversionTables(_ caps: Set<Capability>) -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        let all: [DataType] = [.u32, .i32, .f32, .bool, .u64, .i64, .f64]
        var extra: [DataType: [Value]] = [:]
        extra[.f32] = [2_147_483_520, 2_147_483_648, -2_147_483_648, 4_294_967_296, -0.5, 0.99, 1e20, -1e20, 3e9].map { .f32($0) }
        extra[.f64] = [2_147_483_647.5, -2_147_483_648.5, 4_294_967_295.9, 9.3e18, 1.9e19, -9.3e18].map { .f64($0) }
        for source in all {
            let targets = all.filter { $0 != source }
            let values = edges(source) + (extra[source] ?? [])
            var buffers = [buffer("a", 0, .readOnly, source)]
            for (k, t) in targets.enumerated() { buffers.append(buffer("to_\(t.rawValue)", UInt32(k + 1), .writeOnly, t, count: values.count)) }
            let program = Program(buffers: buffers, workgroupSize: WorkgroupSize(32)) {
                Node.let("i", .globalID(.x))
                Node.if("i" < .length("a")) {
                    Node.let("v", .load("a", at: "i"))
                    for t in targets { Node.store("to_\(t.rawValue)", at: "i", Expr.variable("v").cast(to: t)) }
                }
            }
            cases.append(ConformanceCase(name: "casts from \(source)", program: program, grid: groups(values.count, 32),
                                         inputs: ["a": values.flatMap(\.words)], requires: requirements(source, .u64, .f64)))
            // The 32-bit subset runs on devices without 64-bit types.
            if source == .u32 || source == .i32 || source == .f32 || source == .bool {
                let narrow = targets.filter { !$0.is64Bit }
                var nb = [buffer("a", 0, .readOnly, source)]
                for (k, t) in narrow.enumerated() { nb.append(buffer("to_\(t.rawValue)", UInt32(k + 1), .writeOnly, t, count: values.count)) }
                let p = Program(buffers: nb, workgroupSize: WorkgroupSize(32)) {
                    Node.let("i", .globalID(.x))
                    Node.if("i" < .length("a")) {
                        for t in narrow { Node.store("to_\(t.rawValue)", at: "i", Expr.load("a", at: "i").cast(to: t)) }
                    }
                }
                cases.append(ConformanceCase(name: "casts from \(source) (32-bit)", program: p, grid: groups(values.count, 32), inputs: ["a": values.flatMap(\.words)]))
            }
        }
        let pairs: [(DataType, DataType)] = [(.u32, .i32), (.u32, .f32), (.i32, .f32), (.f32, .u32), (.f32, .i32), (.i32, .u32), (.u64, .f64), (.f64, .u64), (.i64, .f64), (.f64, .i64), (.u64, .i64)]
        for (from, to) in pairs {
            let values = edges(from)
            let p = Program(buffers: [buffer("a", 0, .readOnly, from), buffer("out", 1, .writeOnly, to, count: values.count)], workgroupSize: WorkgroupSize(16)) {
                Node.let("i", .globalID(.x))
                Node.if("i" < .length("a")) { Node.store("out", at: "i", Expr.load("a", at: "i").bitcast(to: to)) }
            }
            cases.append(ConformanceCase(name: "bitcast \(from) to \(to)", program: p, grid: groups(values.count, 16), inputs: ["a": values.flatMap(\.words)], requires: requirements(from, to)))
        }
        return cases
    }

    // MARK: memory

    static func memoryCases() -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        cases.append(ConformanceCase(name: "out-of-bounds loads give zero, stores are dropped", program: Program(
            buffers: [buffer("src", 0, .readOnly, .u32, count: 4), buffer("dst", 1, .readWrite, .u32, count: 8), buffer("wide", 2, .readWrite, .u64, count: 2)],
            workgroupSize: WorkgroupSize(4)) {
                Node.let("i", .globalID(.x))
                Node.store("dst", at: "i", .load("src", at: "i" + 2))
                Node.store("dst", at: "i" + 4, .load("src", at: .u32(.max) - "i"))
                Node.store("dst", at: "i" + 8, 99)
                Node.store("dst", at: .u32(.max), 99)
                Node.store("wide", at: "i", .load("wide", at: "i" + 1) + .u64(1))
            }, inputs: ["src": [10, 11, 12, 13], "wide": [5, 0, 6, 0]], requires: [.int64]))
        cases.append(ConformanceCase(name: "buffer length, fixed and runtime-sized", program: Program(
            buffers: [buffer("fixed", 0, .readOnly, .u32, count: 3), buffer("runtime", 1, .readOnly, .f32), buffer("out", 2, .writeOnly, .u32, count: 4)],
            shared: [SharedDecl("tile", type: .u32, count: 5)], workgroupSize: WorkgroupSize(1)) {
                Node.store("out", at: 0, .length("fixed"))
                Node.store("out", at: 1, .length("runtime"))
                Node.store("out", at: 2, .length("tile"))
                Node.store("out", at: 3, .length("out"))
            }, inputs: ["fixed": [1, 2, 3, 4, 5, 6], "runtime": Array(repeating: 0, count: 37)]))
        cases.append(ConformanceCase(name: "bool buffers store 0 or 1", program: Program(
            buffers: [buffer("flags", 0, .readWrite, .bool, count: 8)], workgroupSize: WorkgroupSize(8)) {
                Node.let("i", .globalID(.x))
                Node.store("flags", at: "i", !Expr.load("flags", at: "i") || ("i" > 5))
            }, inputs: ["flags": [0, 1, 7, 0, 0xFFFF_FFFF, 0, 1, 1]]))
        cases.append(ConformanceCase(name: "async copies with bounds", program: Program(
            buffers: [buffer("src", 0, .readOnly, .u32, count: 6), buffer("dst", 1, .readWrite, .u32, count: 16)],
            shared: [SharedDecl("tile", type: .u32, count: 8)], workgroupSize: WorkgroupSize(2)) {
                Node.let("l", .localID(.x))
                Node.asyncLoad(AsyncCopy(tag: "fetch", source: "src", sourceOffset: "l" * 3, destination: "tile", destinationOffset: "l" * 4, count: 4))
                Node.asyncWait("fetch")
                Node.barrier(.workgroup)
                Node.asyncStore(AsyncCopy(tag: "out", source: "tile", sourceOffset: (1 - "l") * 4, destination: "dst", destinationOffset: "l" * 8 + 5, count: 4))
                Node.asyncWait("out")
            }, inputs: ["src": [1, 2, 3, 4, 5, 6]]))
        cases.append(ConformanceCase(name: "literals of every type", program: Program(
            buffers: [buffer("u", 0, .writeOnly, .u32, count: 3), buffer("i", 1, .writeOnly, .i32, count: 3), buffer("f", 2, .writeOnly, .f32, count: 6),
                      buffer("l", 3, .writeOnly, .u64, count: 2), buffer("s", 4, .writeOnly, .i64, count: 2), buffer("d", 5, .writeOnly, .f64, count: 4)],
            workgroupSize: WorkgroupSize(1)) {
                Node.store("u", at: 0, .u32(.max)); Node.store("u", at: 1, 0); Node.store("u", at: 2, 0x8000_0000)
                Node.store("i", at: 0, .i32(.min)); Node.store("i", at: 1, .i32(-1)); Node.store("i", at: 2, .i32(.max))
                Node.store("f", at: 0, .f32(-0.0)); Node.store("f", at: 1, .f32(.infinity)); Node.store("f", at: 2, .f32(.nan))
                Node.store("f", at: 3, .f32(0.1)); Node.store("f", at: 4, .f32(3.4e38)); Node.store("f", at: 5, .f32(-1e-30))
                Node.store("l", at: 0, .u64(.max)); Node.store("l", at: 1, .u64(0x1234_5678_9ABC_DEF0))
                Node.store("s", at: 0, .i64(.min)); Node.store("s", at: 1, .i64(-2))
                Node.store("d", at: 0, .f64(0.1)); Node.store("d", at: 1, .f64(-.infinity)); Node.store("d", at: 2, .f64(-0.0)); Node.store("d", at: 3, .f64(1e300))
            }, requires: [.int64, .float64]))
        return cases
    }

    // MARK: control flow

    static func controlFlowCases() -> [ConformanceCase] {
        let out = [buffer("out", 0, .readWrite, .u32, count: 64)]
        var cases: [ConformanceCase] = []
        cases.append(ConformanceCase(name: "if/else and early return", program: Program(buffers: out, workgroupSize: WorkgroupSize(16)) {
            Node.let("i", .globalID(.x))
            Node.if(("i" % 3).equals(0)) { Node.store("out", at: "i", 1) } else: {
                Node.if(("i" % 3).equals(1)) { Node.return }
                Node.store("out", at: "i", 2)
            }
            Node.store("out", at: "i" + 32, "i")
        }, grid: WorkgroupSize(2)))
        cases.append(ConformanceCase(name: "for loops over u32 and i32 ranges, break and continue", program: Program(buffers: out, workgroupSize: WorkgroupSize(8)) {
            Node.let("i", .globalID(.x))
            Node.let("sum", 0)
            Node.for("k", from: 0, to: "i" * 3) {
                Node.if(("k" & 1).equals(1)) { Node.continue }
                Node.if("k" > 12) { Node.break }
                Node.assign("sum", "sum" + "k")
            }
            Node.store("out", at: "i", "sum")
            Node.let("n", .i32(0))
            Node.for("s", from: .i32(-4), to: .i32(-4) + Expr.variable("i").cast(to: .i32)) { Node.assign("n", "n" - "s") }
            Node.store("out", at: "i" + 8, Expr.variable("n").bitcast(to: .u32))
            Node.for("e", from: 5, to: 2) { Node.store("out", at: 63, 1) }
        }))
        cases.append(ConformanceCase(name: "while loops with a bound", program: Program(buffers: out, workgroupSize: WorkgroupSize(8)) {
            Node.let("i", .globalID(.x))
            Node.let("x", "i" + 1)
            Node.let("steps", 0)
            Node.while(Expr.variable("x").notEquals(1), maxIterations: 20) {
                Node.assign("x", .select(("x" & 1).equals(0), "x" / 2, "x" * 3 + 1))
                Node.assign("steps", "steps" + 1)
            }
            Node.store("out", at: "i", "steps")
            Node.store("out", at: "i" + 8, "x")
        }))
        cases.append(ConformanceCase(name: "forever loops end at break or at the budget", program: Program(buffers: out, workgroupSize: WorkgroupSize(4)) {
            Node.let("i", .globalID(.x))
            Node.let("n", 0)
            Node.forever {
                Node.assign("n", "n" + 1)
                Node.if(Expr.variable("n").equals("i" * 10)) { Node.break }
            }
            Node.store("out", at: "i", "n")
        }, foreverBudget: 25))
        cases.append(ConformanceCase(name: "blocks and regions", program: Program(buffers: out, workgroupSize: WorkgroupSize(2)) {
            Node.region("outer") {
                Node.block { Node.let("a", .globalID(.x) + 5); Node.store("out", at: .globalID(.x), "a") }
                Node.region("inner") { Node.let("a", 9); Node.store("out", at: .globalID(.x) + 2, "a") }
            }
        }))
        cases.append(ConformanceCase(name: "traps end the invocation and report", program: Program(buffers: out, workgroupSize: WorkgroupSize(8)) {
            Node.let("i", .globalID(.x))
            Node.if(Expr.variable("i").equals(5)) { Node.trap(0xDEAD) }
            Node.store("out", at: "i", "i" + 100)
        }, grid: WorkgroupSize(2)))
        return cases
    }

    // MARK: long loops

    /// At least 10^6 loop iterations per invocation, flat and nested, for every kind of loop the
    /// lowering writes: each matches the interpreter, or (on a driver with a loop limit) ends in
    /// the runtime's typed error, never in a silently short result.
    static func longLoopCases() -> [ConformanceCase] {
        let out = [buffer("out", 0, .readWrite, .u32, count: 8)]
        var cases: [ConformanceCase] = []
        cases.append(ConformanceCase(name: "long flat for loop (1,000,000 iterations)", program: Program(buffers: out, workgroupSize: WorkgroupSize(2)) {
            Node.let("n", 0)
            Node.for("k", from: 0, to: 1_000_000) { Node.assign("n", "n" + ("k" & 7) + .localIndex) }
            Node.store("out", at: .localIndex, "n")
        }, longLoops: true))
        cases.append(ConformanceCase(name: "long nested for loops (1,000 x 1,000)", program: Program(buffers: out, workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("a", from: 0, to: 1000) {
                Node.for("b", from: 0, to: 1000) { Node.assign("n", "n" + ("a" ^ "b")) }
            }
            Node.store("out", at: 0, "n")
        }, longLoops: true))
        cases.append(ConformanceCase(name: "long nested loops of three kinds (100 x 100 x 100)", program: Program(buffers: out, workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.let("a", 0)
            Node.while("a" < 100, maxIterations: 1000) {
                Node.for("b", from: 0, to: 100) {
                    Node.let("c", 0)
                    Node.forever {
                        Node.if("c" >= 100) { Node.break }
                        Node.assign("n", "n" + 1)
                        Node.assign("c", "c" + 1)
                    }
                }
                Node.assign("a", "a" + 1)
            }
            Node.store("out", at: 0, "n")
        }, foreverBudget: 200, longLoops: true))
        cases.append(ConformanceCase(name: "long while loop (1,500,000 iterations)", program: Program(buffers: out, workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.while("n" < 1_500_000, maxIterations: 2_000_000) { Node.assign("n", "n" + 1) }
            Node.store("out", at: 0, "n")
        }, longLoops: true))
        cases.append(ConformanceCase(name: "long forever loop (budget 1,200,000)", program: Program(buffers: out, workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.forever {
                Node.assign("n", "n" + 3)
                Node.if(Expr.variable("n").equals(3_000_000)) { Node.break }
            }
            Node.store("out", at: 0, "n")
        }, foreverBudget: 1_200_000, longLoops: true))
        cases.append(ConformanceCase(name: "long async copy (1,048,576 elements)", program: Program(
            buffers: [buffer("src", 0, .readOnly, .u32), buffer("dst", 1, .writeOnly, .u32, count: 1 << 20)], workgroupSize: WorkgroupSize(1)) {
                Node.asyncStore(AsyncCopy(tag: "all", source: "src", sourceOffset: 0, destination: "dst", destinationOffset: 0, count: 1 << 20))
                Node.asyncWait("all")
            }, inputs: ["src": (0..<(1 << 20)).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }], longLoops: true))
        return cases
    }

    // MARK: adversarial constants and names

    /// Constants and names that once made drivers reject valid programs: subscripts past INT_MAX
    /// (compilers check constant indices as signed ints) and region names that end in a
    /// backslash (which continues a `//` comment onto the next line).
    static func adversarialCases() -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        let indices: [UInt32] = [0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF]
        cases.append(ConformanceCase(name: "constant indices past INT_MAX are dropped or read zero", program: Program(
            buffers: [buffer("runtime", 0, .readWrite, .u32), buffer("fixed", 1, .readWrite, .u32, count: 4), buffer("out", 2, .writeOnly, .u32, count: 16)],
            shared: [SharedDecl("tile", type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
                for (k, index) in indices.enumerated() {
                    Node.store("runtime", at: .u32(index), 7)
                    Node.store("fixed", at: .u32(index), 7)
                    Node.store("tile", at: .u32(index), 7)
                    Node.store("out", at: .u32(UInt32(k)), .load("runtime", at: .u32(index)) + .load("fixed", at: .u32(index)) + .load("tile", at: .u32(index)))
                    Node.let("old\(k)", .atomic(.add, "runtime", at: .u32(index), 1))
                    Node.store("out", at: .u32(UInt32(8 + k)), .variable("old\(k)") + .compareExchange("fixed", at: .u32(index), expected: 0, desired: 5))
                }
                Node.store("out", at: 15, .load("runtime", at: 0) + .load("fixed", at: 3))
            }, inputs: ["runtime": [1, 2, 3, 4], "fixed": [5, 6, 7, 8]]))
        let names = ["ends in a backslash \\", "\\", "*/ not a comment end /*", "#define vy_zero 1", "quotes \" and '", "région ü ✓ 区域", "trigraph ??/"]
        cases.append(ConformanceCase(name: "regions named with characters that break source text", program: Program(
            buffers: [buffer("out", 0, .writeOnly, .u32, count: 8)], workgroupSize: WorkgroupSize(1)) {
                for (k, name) in names.enumerated() {
                    Node.region(name) { Node.store("out", at: .u32(UInt32(k)), .u32(UInt32(k + 1))) }
                }
            }))
        return cases
    }

    // MARK: atomics

    static func atomicCases() -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        for op in [AtomicOp.add, .and, .or, .xor, .min, .max] {
            for t in [DataType.u32, .i32] {
                // Every invocation hits the same two words; the order differs but the result cannot.
                let p = Program(buffers: [buffer("c", 0, .readWrite, t, count: 2), buffer("own", 1, .readWrite, t, count: 256)], workgroupSize: WorkgroupSize(64)) {
                    Node.let("i", .globalID(.x))
                    Node.let("v", (("i" * 2_654_435_761) >> 7).cast(to: t))
                    Node.let("ignored", .atomic(op, "c", at: "i" & 1, "v"))
                    Node.store("own", at: "i", .atomic(op, "own", at: "i", "v"))
                    Node.let("oob", .atomic(op, "c", at: 5, "v"))
                    Node.if(Expr.variable("oob").notEquals(Expr.literal(.zero(t)))) { Node.store("own", at: "i", Expr.literal(.zero(t))) }
                }
                let start = t == .u32 ? Value.u32(0x5555_0000) : Value.i32(-12345)
                cases.append(ConformanceCase(name: "atomic \(op.rawValue) \(t) under contention", program: p, grid: WorkgroupSize(4),
                                             inputs: ["c": start.words + start.words, "own": (0..<256).flatMap { Value(type: t, bits: UInt64($0 * 7)).words }]))
            }
        }
        cases.append(ConformanceCase(name: "atomic exchange and compare-exchange on own slots", program: Program(
            buffers: [buffer("slots", 0, .readWrite, .u32, count: 128), buffer("seen", 1, .writeOnly, .u32, count: 256)], workgroupSize: WorkgroupSize(64)) {
                Node.let("i", .globalID(.x))
                Node.store("seen", at: "i", .atomic(.exchange, "slots", at: "i", "i" * 3))
                Node.store("seen", at: "i" + 128, .compareExchange("slots", at: "i", expected: .select(("i" & 1).equals(0), "i" * 3, 7), desired: 1000 + "i"))
            }, grid: WorkgroupSize(2), inputs: ["slots": (0..<128).map { UInt32($0) }]))
        cases.append(ConformanceCase(name: "shared-memory atomics", program: Program(
            buffers: [buffer("out", 0, .writeOnly, .u32, count: 4)], shared: [SharedDecl("count", type: .u32, count: 2)], workgroupSize: WorkgroupSize(128)) {
                Node.let("x", .atomic(.add, "count", at: 0, 1))
                Node.let("y", .atomic(.max, "count", at: 1, .localIndex))
                Node.barrier(.workgroup)
                Node.if(Expr.localIndex.equals(0)) {
                    Node.store("out", at: .workgroupID(.x) * 2, .load("count", at: 0))
                    Node.store("out", at: .workgroupID(.x) * 2 + 1, .load("count", at: 1))
                }
            }, grid: WorkgroupSize(2)))
        return cases
    }

    // MARK: workgroups

    static func workgroupCases() -> [ConformanceCase] {
        var cases: [ConformanceCase] = []
        cases.append(ConformanceCase(name: "builtins on a 3-D grid", program: Program(
            buffers: [buffer("ids", 0, .writeOnly, .u32, count: 2 * 3 * 2 * 4 * 2 * 1 * 9)], workgroupSize: WorkgroupSize(4, 2, 1)) {
                Node.let("w", .numWorkgroups(.x) * 4)
                Node.let("h", .numWorkgroups(.y) * 2)
                Node.let("linear", .globalID(.x) + .globalID(.y) * "w" + .globalID(.z) * "w" * "h")
                Node.let("base", "linear" * 9)
                Node.store("ids", at: "base", .localID(.x)); Node.store("ids", at: "base" + 1, .localID(.y)); Node.store("ids", at: "base" + 2, .localID(.z))
                Node.store("ids", at: "base" + 3, .workgroupID(.x)); Node.store("ids", at: "base" + 4, .workgroupID(.y)); Node.store("ids", at: "base" + 5, .workgroupID(.z))
                Node.store("ids", at: "base" + 6, .localIndex); Node.store("ids", at: "base" + 7, .numWorkgroups(.z)); Node.store("ids", at: "base" + 8, .globalID(.z))
            }, grid: WorkgroupSize(2, 3, 2)))
        cases.append(ConformanceCase(name: "barrier exchanges through shared memory", program: Program(
            buffers: [buffer("data", 0, .readWrite, .u32, count: 256)], shared: [SharedDecl("tile", type: .u32, count: 64)], workgroupSize: WorkgroupSize(64)) {
                Node.let("l", .localID(.x))
                Node.store("tile", at: "l", .load("data", at: .globalID(.x)) * 3)
                Node.barrier(.workgroup)
                Node.let("mirror", .load("tile", at: 63 - "l"))
                Node.barrier(.workgroup)
                Node.store("tile", at: "l", "mirror" + 1)
                Node.barrier(.workgroup)
                Node.store("data", at: .globalID(.x), .load("tile", at: ("l" + 1) % 64))
            }, grid: WorkgroupSize(4), inputs: ["data": (0..<256).map { UInt32($0 * $0) }]))
        cases.append(ConformanceCase(name: "shared memory starts zeroed", program: Program(
            buffers: [buffer("out", 0, .writeOnly, .u32, count: 48)], shared: [SharedDecl("s", type: .u32, count: 16), SharedDecl("f", type: .f64, count: 8)], workgroupSize: WorkgroupSize(16)) {
                Node.store("out", at: .globalID(.x), .load("s", at: .localID(.x)) + .load("f", at: .localID(.x) & 7).cast(to: .u32))
                Node.store("s", at: .localID(.x), 77)
            }, grid: WorkgroupSize(3), requires: [.float64]))
        cases.append(ConformanceCase(name: "parameters set per dispatch", program: Program(
            buffers: [buffer("out", 0, .readWrite, .u32, count: 64)], workgroupSize: WorkgroupSize(8)) {
                Node.let("i", .globalID(.x) + .parameter("first"))
                Node.if("i" < .parameter("end")) { Node.store("out", at: "i", "i" * .parameter("scale")) }
            }, grid: WorkgroupSize(4), parameters: ["first": 5, "end": 30, "scale": 3]))
        cases.append(ConformanceCase(name: "buffer memory barrier orders writes", program: Program(
            buffers: [buffer("data", 0, .readWrite, .u32, count: 64)], workgroupSize: WorkgroupSize(64)) {
                Node.store("data", at: .globalID(.x), 5)
                Node.barrier(.bufferMemory)
                Node.store("data", at: .globalID(.x), .load("data", at: .globalID(.x)) + 1)
            }))
        cases.append(ConformanceCase(name: "Hillis-Steele scan (barriers in a uniform loop)", program: scanProgram(), grid: WorkgroupSize(2),
                                     inputs: ["values": (0..<512).map { UInt32($0 % 13) }]))
        return cases
    }

    static func scanProgram() -> Program {
        Program(buffers: [buffer("values", 0, .readOnly, .u32), buffer("sums", 1, .writeOnly, .u32, count: 512)],
                shared: [SharedDecl("scan", type: .u32, count: 256)], workgroupSize: WorkgroupSize(256)) {
            Node.let("l", .localIndex)
            Node.store("scan", at: "l", .load("values", at: .globalID(.x)))
            Node.barrier(.workgroup)
            Node.let("offset", 1)
            Node.while("offset" < 256, maxIterations: 8) {
                Node.let("add", .select("l" >= "offset", .load("scan", at: "l" - "offset"), 0))
                Node.barrier(.workgroup)
                Node.store("scan", at: "l", .load("scan", at: "l") + "add")
                Node.barrier(.workgroup)
                Node.assign("offset", "offset" << 1)
            }
            Node.store("sums", at: .globalID(.x), .load("scan", at: "l"))
        }
    }
}
