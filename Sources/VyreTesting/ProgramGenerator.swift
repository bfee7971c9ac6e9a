public import VyreIR

/// A generated program with everything needed to run it: grid, inputs and the forever budget.
public struct GeneratedCase: Sendable {
    /// The seed that produced the case.
    public var seed: UInt64
    /// The generated program; it validates with the options' capabilities.
    public var program: Program
    /// Workgroups to dispatch.
    public var grid: WorkgroupSize
    /// Initial contents of `in_u`, `in_f` and the runtime-sized `out_i`; other buffers start zeroed.
    public var inputs: [String: [UInt32]]
    /// Iterations each `forever` loop may run.
    public var foreverBudget: UInt32
    /// Values for the parameters `p0` and `p1`, which generated programs may read.
    public var parameters: [String: UInt32]
}

/// Seeded random generator of valid programs.
///
/// `.deterministic` programs have one right answer on any conforming device: every invocation
/// writes only its own output elements, reads other invocations' shared-memory slots only across a
/// barrier, uses order-dependent atomics only where their results are discarded, and computes
/// floats with exactly rounded operations on values that cannot overflow. They are the differential
/// suite's input. `.anyValid` programs use every construct and type with no such care; they feed the
/// wire and JSON round-trip tests and are only guaranteed to validate.
public struct ProgramGenerator {
    /// What generated programs promise: `deterministic` ones have one right answer, `anyValid` ones
    /// only validate (see ``ProgramGenerator``).
    public enum Mode: Sendable { case deterministic, anyValid }

    /// The kind and size of programs to generate.
    public struct Options: Sendable {
        /// What the programs promise (see ``Mode``).
        public var mode: Mode
        /// Optional types programs may use (64-bit integers, doubles); 32-bit types always.
        public var capabilities: Set<Capability>
        /// Most statements in a block (each block draws 1 to this many).
        public var maxStatements: Int
        /// Deepest nesting of control-flow statements.
        public var maxNesting: Int
        /// Deepest expression tree.
        public var maxExpressionDepth: Int

        /// Options; the defaults keep programs small (up to 6 statements per block, nesting and
        /// expressions 3 deep, 32-bit types only).
        public init(mode: Mode, capabilities: Set<Capability> = [], maxStatements: Int = 6, maxNesting: Int = 3, maxExpressionDepth: Int = 3) {
            self.mode = mode
            self.capabilities = capabilities
            self.maxStatements = maxStatements
            self.maxNesting = maxNesting
            self.maxExpressionDepth = maxExpressionDepth
        }
    }

    private struct Variable {
        var name: String
        var type: DataType
        var assignable: Bool
    }

    private var rng: SeededRandom
    private let options: Options
    private let seed: UInt64
    private var scopes: [[Variable]] = []
    private var nextName = 0
    private var nextTag = 0
    private var loopDepth = 0
    private var allowExit = false
    private var program = Program()
    /// Elements each invocation owns in every output buffer.
    private let slotsPerInvocation: UInt32 = 4
    private var invocations: UInt32 = 1
    private var types: [DataType] = [.u32, .i32, .f32, .bool]

    /// A generator for the program of `seed` under `options`; builds nothing until ``generate()``.
    public init(seed: UInt64, options: Options) {
        self.seed = seed
        self.rng = SeededRandom(seed: seed)
        self.options = options
    }

    private var deterministic: Bool { options.mode == .deterministic }

    // MARK: program shape

    /// Builds the program of this generator's seed, with its grid, inputs and parameters. Each call
    /// starts from the seed again, so every call gives the same case.
    public mutating func generate() -> GeneratedCase {
        self = ProgramGenerator(seed: seed, options: options)
        let wgX = UInt32(rng.pick([1, 2, 3, 4, 8, 16, 32, 64]))
        let wgY = UInt32(rng.chance(0.3) ? rng.pick([2, 3]) : 1)
        let grid = WorkgroupSize(UInt32(rng.int(1...3)), UInt32(rng.chance(0.3) ? 2 : 1), 1)
        invocations = wgX * wgY * grid.x * grid.y
        let outCount = invocations * slotsPerInvocation
        if options.capabilities.contains(.int64) { types += [.u64, .i64] }
        if options.capabilities.contains(.float64) { types.append(.f64) }

        program.workgroupSize = WorkgroupSize(wgX, wgY, 1)
        var buffers: [BufferDecl] = [
            BufferDecl("in_u", binding: 0, access: .readOnly, type: .u32, count: 64),
            BufferDecl("in_f", binding: 1, access: .readOnly, type: .f32),
            BufferDecl("out_u", binding: 2, access: .readWrite, type: .u32, count: outCount),
            BufferDecl("out_i", binding: 3, access: .readWrite, type: .i32),
            BufferDecl("out_f", binding: 4, access: .readWrite, type: .f32, count: outCount),
            BufferDecl("acc", binding: 5, access: .readWrite, type: .u32, count: 8),
            BufferDecl("out_w", binding: 6, access: .writeOnly, type: .u32, count: outCount),
        ]
        var binding: UInt32 = 7
        for t in types where t.is64Bit {
            buffers.append(BufferDecl("out_\(t.rawValue)", binding: binding, access: .readWrite, type: t, count: outCount))
            binding += 1
        }
        if !deterministic {
            if rng.chance(0.5) { buffers[5].placement = .hostMapped }
            buffers.shuffle(using: &rng)
        }
        program.buffers = buffers
        let tileSlots: UInt32 = 2
        program.shared = [SharedDecl("tile", type: .u32, count: wgX * wgY * tileSlots)]
        if rng.chance(0.4) { program.shared.append(SharedDecl("tile_f", type: .f32, count: wgX * wgY)) }

        let parameters = ["p0": UInt32(rng.int(0...9)), "p1": rng.u32()]
        var inputs: [String: [UInt32]] = [:]
        inputs["in_u"] = (0..<64).map { _ in rng.chance(0.5) ? UInt32(rng.int(0...40)) : rng.u32() }
        let fCount = rng.int(8...32)
        inputs["in_f"] = (0..<fCount).map { _ in dyadic().bitPattern }
        inputs["out_i"] = Array(repeating: 0, count: Int(outCount))

        scopes = [[]]
        var entry: [Node] = []
        // Every invocation's identity, computed once.
        entry.append(.let("gid", .globalID(.x) + .globalID(.y) * (.numWorkgroups(.x) * .u32(wgX))))
        entry.append(.let("lid", .localIndex))
        entry.append(.let("base", .variable("gid") * .u32(slotsPerInvocation)))
        declare("gid", .u32, assignable: false)
        declare("lid", .u32, assignable: false)
        declare("base", .u32, assignable: false)

        let phases = rng.int(1...3)
        for phase in 0..<phases {
            allowExit = phase == phases - 1
            entry += body(nesting: 0)
            if phase < phases - 1 { entry += exchangeThroughShared(tileSlots: tileSlots) }
        }
        program.entry = deterministic ? entry : [.region("generated \(seed)", entry)]
        return GeneratedCase(seed: seed, program: program, grid: grid, inputs: inputs, foreverBudget: 8, parameters: parameters)
    }

    /// Each invocation publishes into its own tile slots, waits at a barrier, reads a neighbour's,
    /// and waits again before anyone writes the tile anew.
    private mutating func exchangeThroughShared(tileSlots: UInt32) -> [Node] {
        let workgroup = program.workgroupSize.x * program.workgroupSize.y
        var nodes: [Node] = []
        let own: Expr = .variable("lid") * .u32(tileSlots)
        if rng.chance(0.4) {
            let tag = newTag()
            nodes.append(.asyncLoad(AsyncCopy(tag: tag, source: "in_u", sourceOffset: expr(.u32, depth: 1) & 63, destination: "tile", destinationOffset: own, count: .u32(tileSlots))))
            nodes.append(.asyncWait(tag))
        } else {
            for j in 0..<tileSlots { nodes.append(.store("tile", at: own + .u32(j), expr(.u32, depth: 2))) }
        }
        if program.sharedArray(named: "tile_f") != nil {
            nodes.append(.store("tile_f", at: "lid", expr(.f32, depth: 2)))
        }
        nodes.append(.barrier(.workgroup))
        let neighbour: Expr = (.variable("lid") + .u32(UInt32(rng.int(0...7)))) % .u32(workgroup)
        let name = newName()
        nodes.append(.let(name, .load("tile", at: neighbour * .u32(tileSlots) + .u32(UInt32(rng.int(0...Int(tileSlots) - 1))))))
        declare(name, .u32)
        if program.sharedArray(named: "tile_f") != nil {
            let f = newName()
            nodes.append(.let(f, .load("tile_f", at: neighbour)))
            declare(f, .f32)
        }
        nodes.append(.barrier(.workgroup))
        return nodes
    }

    /// Constant indices drivers have mishandled: at and past INT_MAX, where a compiler that checks
    /// subscripts as signed ints rejects them, and the largest u32.
    static let adversarialIndices: [UInt32] = [0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF]

    /// Region names with characters that break generated source if written carelessly: a
    /// backslash at the end (continues a `//` comment), comment and preprocessor tokens, quotes,
    /// other scripts.
    private mutating func regionName() -> String {
        let tricky = ["step \\", "a\\", "*/ x /*", "#define X 1", "// nested", "\"quoted\" 'x'", "région ü ✓", "tab\\n", "\\\\", "?? trigraph ??/"]
        return rng.chance(0.5) ? "step \(rng.int(0...99))" : rng.pick(tricky)
    }

    // MARK: names and scopes

    private mutating func newName() -> String {
        nextName += 1
        return "v\(nextName)"
    }

    private mutating func newTag() -> String {
        nextTag += 1
        return "copy\(nextTag)"
    }

    private mutating func declare(_ name: String, _ type: DataType, assignable: Bool = true) {
        scopes[scopes.count - 1].append(Variable(name: name, type: type, assignable: assignable))
    }

    private func variables(of type: DataType, assignable: Bool = false) -> [Variable] {
        scopes.flatMap { $0 }.filter { $0.type == type && (!assignable || $0.assignable) }
    }

    private mutating func scoped(_ make: (inout ProgramGenerator) -> [Node]) -> [Node] {
        scopes.append([])
        defer { scopes.removeLast() }
        return make(&self)
    }

    // MARK: statements

    private mutating func body(nesting: Int) -> [Node] {
        scoped { g in
            var nodes: [Node] = []
            for _ in 0..<g.rng.int(1...g.options.maxStatements) { nodes += g.statement(nesting: nesting) }
            return nodes
        }
    }

    private func outputBuffer(for type: DataType) -> String {
        switch type {
        case .u32, .bool: "out_u"
        case .i32: "out_i"
        case .f32: "out_f"
        default: "out_\(type.rawValue)"
        }
    }

    /// An index inside this invocation's own slots of an output buffer.
    private mutating func ownSlot() -> Expr {
        .variable("base") + (rng.chance(0.5) ? .u32(UInt32(rng.int(0...3))) : expr(.u32, depth: 1) & 3)
    }

    private mutating func statement(nesting: Int) -> [Node] {
        let canNest = nesting < options.maxNesting
        let roll = rng.int(0...99)
        switch roll {
        case 0..<18:
            let t = rng.pick(types)
            let name = newName()
            let node = Node.let(name, expr(t, depth: 0))
            declare(name, t)
            return [node]
        case 18..<28:
            let t = rng.pick(types)
            guard let v = variables(of: t, assignable: true).randomElement(using: &rng) else { return statement(nesting: nesting) }
            return [.assign(v.name, expr(t, depth: 0))]
        case 28..<44:
            var t = rng.pick(types)
            if t == .bool { t = .u32 }
            if rng.chance(0.08) {
                // Out of bounds: dropped, never lands in anyone's slots. Constants past INT_MAX
                // on runtime-sized buffers once made drivers reject the source.
                let index: UInt32 = rng.chance(0.5) ? invocations * slotsPerInvocation + UInt32(rng.int(0...100)) : rng.pick(Self.adversarialIndices)
                let buffer = rng.chance(0.3) ? "out_i" : outputBuffer(for: t)
                return [.store(buffer, at: .u32(index), expr(buffer == "out_i" ? .i32 : t, depth: 1))]
            }
            if t == .u32 && rng.chance(0.25) { return [.store("out_w", at: ownSlot(), expr(.u32, depth: 1))] }
            return [.store(outputBuffer(for: t), at: ownSlot(), expr(t, depth: 0))]
        case 44..<52:
            // Order-dependent results go to variables that are never read again, and each operator
            // has its own counter: one operator commutes with itself, not with the others.
            let ops: [AtomicOp] = [.add, .and, .or, .xor, .min, .max]
            let op = rng.pick(deterministic ? ops : AtomicOp.allCases)
            let index: Expr = deterministic ? .u32(UInt32(ops.firstIndex(of: op)!)) : expr(.u32, depth: 2) & 7
            let node = Node.let("dead\(newName())", .atomic(op, "acc", at: index, expr(.u32, depth: 1)))
            return [node]
        case 52..<57:
            let name = newName()
            let target = rng.chance(0.5) ? "out_u" : "out_i"
            let t: DataType = target == "out_u" ? .u32 : .i32
            let value: Expr = rng.chance(0.5)
                ? .atomic(rng.pick(AtomicOp.allCases), target, at: ownSlot(), expr(t, depth: 1))
                : .compareExchange(target, at: ownSlot(), expected: expr(t, depth: 1), desired: expr(t, depth: 1))
            let node = Node.let(name, value)
            declare(name, t)
            return [node]
        case 57..<70 where canNest:
            let condition = expr(.bool, depth: 0)
            return [.if(condition, then: body(nesting: nesting + 1), else: rng.chance(0.5) ? body(nesting: nesting + 1) : [])]
        case 70..<76 where canNest:
            let name = newName()
            let signed = rng.chance(0.3)
            let from: Expr = signed ? .i32(Int32(rng.int(-2...1))) : .u32(UInt32(rng.int(0...2)))
            let to: Expr = signed ? .i32(Int32(rng.int(-1...3))) : (rng.chance(0.5) ? .u32(UInt32(rng.int(0...4))) : expr(.u32, depth: 1) & 3)
            loopDepth += 1
            defer { loopDepth -= 1 }
            let loopBody = scoped { g in
                g.declare(name, signed ? .i32 : .u32, assignable: false)
                return g.body(nesting: nesting + 1)
            }
            return [.for(name, from: from, to: to, body: loopBody)]
        case 76..<81 where canNest:
            loopDepth += 1
            defer { loopDepth -= 1 }
            let condition = expr(.bool, depth: 1)
            return [.while(condition, maxIterations: .u32(UInt32(rng.int(0...4))), body: body(nesting: nesting + 1))]
        case 81..<84 where canNest:
            loopDepth += 1
            defer { loopDepth -= 1 }
            var inner = body(nesting: nesting + 1)
            inner.append(.if(expr(.bool, depth: 1), then: [.break], else: []))
            return [.forever(inner)]
        case 84..<88 where loopDepth > 0:
            return [.if(expr(.bool, depth: 1), then: [rng.chance(0.5) ? .break : .continue], else: [])]
        case 88..<90:
            return [.barrier(.bufferMemory)]
        case 90..<93:
            let tag = newTag()
            let count = UInt32(rng.int(0...Int(slotsPerInvocation)))
            return [.asyncStore(AsyncCopy(tag: tag, source: "in_u", sourceOffset: expr(.u32, depth: 1), destination: "out_u",
                                          destinationOffset: "base", count: .u32(count))),
                    .asyncWait(tag)]
        case 93..<96 where canNest:
            return [rng.chance(0.5) ? .region(regionName(), body(nesting: nesting + 1)) : .block(body(nesting: nesting + 1))]
        case 96..<100 where allowExit:
            let exit: Node = rng.chance(0.5) ? .return : .trap(expr(.u32, depth: 1))
            return [.if(expr(.bool, depth: 1), then: [exit], else: [])]
        default:
            return [.store("out_u", at: ownSlot(), expr(.u32, depth: 0))]
        }
    }

    // MARK: expressions

    /// A float that is exact in binary and small, so sums and products of a few stay exact.
    private mutating func dyadic() -> Float { Float(rng.int(-64...64)) / 8 }

    private mutating func literal(_ t: DataType) -> Expr {
        switch t {
        case .u32: return .u32(rng.chance(0.6) ? UInt32(rng.int(0...16)) : rng.pick([rng.u32(), .max, 0x8000_0000, 31, 32, 33]))
        case .i32: return .i32(rng.chance(0.6) ? Int32(rng.int(-16...16)) : rng.pick([.min, .max, -1, Int32(bitPattern: rng.u32())]))
        case .f32:
            if !deterministic && rng.chance(0.2) { return .f32(rng.pick([.nan, .infinity, -.infinity, -0.0, Float(bitPattern: rng.u32())])) }
            return .f32(dyadic())
        case .bool: return .bool(rng.chance(0.5))
        case .u64: return .u64(rng.chance(0.5) ? UInt64(rng.int(0...16)) : rng.next())
        case .i64: return .i64(rng.chance(0.5) ? Int64(rng.int(-16...16)) : Int64(bitPattern: rng.next()))
        case .f64: return .f64(Double(dyadic()))
        }
    }

    private mutating func leaf(_ t: DataType) -> Expr {
        let vars = variables(of: t)
        let roll = rng.int(0...9)
        if roll < 4, let v = vars.randomElement(using: &rng) { return .variable(v.name) }
        switch t {
        case .u32:
            switch roll {
            case 4: return rng.chance(0.25) ? .parameter(rng.pick(["p0", "p1"])) : .builtin(rng.pick(Builtin.all))
            case 5: return .length(rng.pick(["in_u", "in_f", "out_u", "out_i", "tile"]))
            case 6:
                if rng.chance(0.1) {
                    // Out of range, so zero. On a runtime-sized buffer an index past INT_MAX once
                    // made drivers reject the source.
                    let index: Expr = .u32(rng.pick(Self.adversarialIndices))
                    return rng.chance(0.5) ? .load("in_u", at: index) : .cast(.u32, .load("out_i", at: index))
                }
                return .load("in_u", at: rng.chance(0.8) ? .u32(UInt32(rng.int(0...63))) : .u32(UInt32(rng.int(64...200))))
            case 7: return .load("out_u", at: .variable("base") + .u32(UInt32(rng.int(0...3))))
            default: return literal(t)
            }
        case .i32:
            if roll == 5 { return .load("out_i", at: .variable("base") + .u32(UInt32(rng.int(0...3)))) }
            return literal(t)
        case .f32:
            if roll == 5 { return .load("in_f", at: .u32(UInt32(rng.int(0...40)))) }
            if roll == 6 { return .load("out_f", at: .variable("base") + .u32(UInt32(rng.int(0...3)))) }
            return literal(t)
        default:
            return literal(t)
        }
    }

    private mutating func expr(_ t: DataType, depth: Int) -> Expr {
        if depth >= options.maxExpressionDepth || rng.chance(0.3) { return leaf(t) }
        let d = depth + 1
        switch t {
        case .bool:
            switch rng.int(0...5) {
            case 0, 1, 2:
                let operand = rng.pick(types.filter { $0 != .bool })
                let op = rng.pick([BinaryOp.eq, .ne, .lt, .le, .gt, .ge])
                return .binary(op, expr(operand, depth: d), expr(operand, depth: d))
            case 3: return .binary(rng.pick([.logicalAnd, .logicalOr, .eq, .ne]), expr(.bool, depth: d), expr(.bool, depth: d))
            case 4: return .unary(.not, expr(.bool, depth: d))
            default: return .cast(.bool, expr(rng.pick([.u32, .i32]), depth: d))
            }
        case .u32, .i32, .u64, .i64:
            let is32 = !t.is64Bit
            switch rng.int(0...9) {
            case 0, 1, 2:
                let op = rng.pick([BinaryOp.add, .sub, .mul, .div, .rem, .and, .or, .xor, .min, .max])
                return .binary(op, expr(t, depth: d), expr(t, depth: d))
            case 3: return .binary(rng.pick([.shl, .shr]), expr(t, depth: d), expr(.u32, depth: d))
            case 4:
                let ops: [UnaryOp] = is32 ? [.negate, .bitNot, .reverseBits] + (t == .i32 ? [.abs] : []) : [.negate, .bitNot] + (t == .i64 ? [.abs] : [])
                return .unary(rng.pick(ops), expr(t, depth: d))
            case 5 where t == .u32: return .unary(rng.pick([.popcount, .countLeadingZeros, .countTrailingZeros]), expr(rng.pick([.u32, .i32]), depth: d))
            case 6: return .select(expr(.bool, depth: d), expr(t, depth: d), expr(t, depth: d))
            case 7:
                // Any source type: float sources exercise the saturating conversion.
                return .cast(t, expr(rng.pick(types), depth: d))
            case 8:
                let sources = types.filter { $0 != .bool && $0.wordCount == t.wordCount && $0 != t }
                return .bitcast(t, expr(rng.pick(sources), depth: d))
            default: return leaf(t)
            }
        case .f32, .f64:
            switch rng.int(0...9) {
            case 0, 1, 2: return .binary(rng.pick([.add, .sub, .mul]), expr(t, depth: d), expr(t, depth: d))
            case 3: return .binary(rng.pick([.min, .max]), expr(t, depth: d), expr(t, depth: d))
            case 4:
                var ops: [UnaryOp] = [.negate, .abs, .floor, .ceil, .trunc, .round, .fract]
                if !deterministic { ops += [.sqrt] + (t == .f32 ? [.exp, .exp2, .log, .log2, .sin, .cos] : []) }
                return .unary(rng.pick(ops), expr(t, depth: d))
            case 5: return .select(expr(.bool, depth: d), expr(t, depth: d), expr(t, depth: d))
            case 6:
                // Small integers convert exactly and keep later arithmetic far from overflow.
                return .cast(t, expr(.u32, depth: d) & 1023)
            case 7 where !deterministic:
                return .bitcast(t, expr(t == .f32 ? .u32 : .u64, depth: d))
            case 7:
                return .fma(leaf(t), leaf(t), leaf(t))
            case 8 where !deterministic:
                return .binary(.div, expr(t, depth: d), expr(t, depth: d))
            default: return leaf(t)
            }
        }
    }
}
