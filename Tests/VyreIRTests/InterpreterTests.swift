import Testing
import VyreIR

/// Semantics tables: each rule of docs/semantics.md, checked on the reference interpreter.
struct InterpreterTests {
    /// Evaluates `expr` in a one-invocation program and returns the stored value.
    static func eval(_ expr: Expr, _ type: DataType) throws -> Value {
        let p = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: type, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.store("out", at: 0, expr)
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: [:])
        let w = r.buffers["out"]!
        return Value(type: type, bits: type.is64Bit ? UInt64(w[0]) | UInt64(w[1]) << 32 : UInt64(w[0]))
    }

    @Test(arguments: [
        (Expr.u32(.max) + 1, Value.u32(0)),
        (Expr.u32(0) - 1, .u32(.max)),
        (Expr.u32(0x1_0000) * .u32(0x1_0000), .u32(0)),
        (Expr.i32(.max) + .i32(1), .i32(.min)),
        (Expr.i32(.min) - .i32(1), .i32(.max)),
        (-Expr.i32(.min), .i32(.min)),
        (Expr.i32(.min).apply(.abs), .i32(.min)),
        (Expr.u64(.max) + .u64(1), .u64(0)),
        (Expr.i64(.min) / .i64(-1), .i64(.min)),
    ])
    func integerOverflowWraps(_ e: Expr, _ want: Value) throws {
        #expect(try Self.eval(e, want.type) == want)
    }

    @Test(arguments: [
        (Expr.u32(7) / 0, Value.u32(0)),
        (Expr.u32(7) % 0, .u32(0)),
        (Expr.i32(-7) / .i32(0), .i32(0)),
        (Expr.i32(-7) % .i32(0), .i32(0)),
        (Expr.i32(.min) / .i32(-1), .i32(.min)),
        (Expr.i32(.min) % .i32(-1), .i32(0)),
        (Expr.i32(-7) / .i32(2), .i32(-3)),
        (Expr.i32(-7) % .i32(2), .i32(-1)),
        (Expr.i32(7) % .i32(-2), .i32(1)),
        (Expr.u64(9) / .u64(0), .u64(0)),
    ])
    func divisionByZeroGivesZeroAndRemainderTruncates(_ e: Expr, _ want: Value) throws {
        #expect(try Self.eval(e, want.type) == want)
    }

    @Test(arguments: [
        (Expr.u32(1) << 33, Value.u32(2)),
        (Expr.u32(1) << 32, .u32(1)),
        (Expr.u32(0x8000_0000) >> 63, .u32(1)),
        (Expr.i32(-8) >> 1, .i32(-4)),
        (Expr.i32(-8) >> 33, .i32(-4)),
        (Expr.i32(1) << 31, .i32(.min)),
        (Expr.u64(1) << 65, .u64(2)),
        (Expr.i64(-1) >> 200, .i64(-1)),
    ])
    func shiftCountsAreTakenModuloTheWidth(_ e: Expr, _ want: Value) throws {
        #expect(try Self.eval(e, want.type) == want)
    }

    @Test(arguments: [
        (Expr.f32(-1.5).cast(to: .i32), Value.i32(-1)),
        (Expr.f32(3e9).cast(to: .i32), .i32(.max)),
        (Expr.f32(-3e9).cast(to: .i32), .i32(.min)),
        (Expr.f32(-1).cast(to: .u32), .u32(0)),
        (Expr.f32(5e9).cast(to: .u32), .u32(.max)),
        (Expr.f32(.nan).cast(to: .u32), .u32(0)),
        (Expr.f32(.infinity).cast(to: .i32), .i32(.max)),
        (Expr.i32(-1).cast(to: .u32), .u32(.max)),
        (Expr.i32(-1).cast(to: .u64), .u64(.max)),
        (Expr.u32(.max).cast(to: .i64), .i64(4_294_967_295)),
        (Expr.u32(16_777_217).cast(to: .f32), .f32(16_777_216)),
        (Expr.bool(true).cast(to: .f32), .f32(1)),
        (Expr.f32(-0.0).cast(to: .bool), .bool(false)),
        (Expr.f32(.nan).cast(to: .bool), .bool(true)),
        (Expr.f64(1e300).cast(to: .f32), .f32(.infinity)),
        (Expr.f64(1e30).cast(to: .u64), .u64(.max)),
        (Expr.f32(1).bitcast(to: .u32), .u32(0x3F80_0000)),
        (Expr.u64(0x3FF0_0000_0000_0000).bitcast(to: .f64), .f64(1)),
    ])
    func conversionsSaturateAndBitcastsKeepBits(_ e: Expr, _ want: Value) throws {
        #expect(try Self.eval(e, want.type) == want)
    }

    @Test(arguments: [
        (Expr.min(.f32(.nan), .f32(1)), Value.f32(.nan)),
        (Expr.min(.f32(1), .f32(.nan)), .f32(1)),
        (Expr.max(.f32(-0.0), .f32(0.0)), .f32(-0.0)),
        (Expr.f32(2.5).apply(.round), .f32(2)),
        (Expr.f32(-2.5).apply(.round), .f32(-2)),
        (Expr.f32(-1.25).apply(.fract), .f32(0.75)),
        (Expr.fma(.f32(0.1), .f32(10), .f32(-1)), .f32(1.4901161e-08)),
        (Expr.f32(1) / .f32(0), .f32(.infinity)),
        (Expr.min(.i32(-3), .i32(2)), .i32(-3)),
        (Expr.max(.u32(3), .u32(.max)), .u32(.max)),
    ])
    func floatRulesFollowGLSLDefinitions(_ e: Expr, _ want: Value) throws {
        #expect(try Self.eval(e, want.type) == want)
    }

    @Test(arguments: [
        (Expr.u32(0).apply(.countLeadingZeros), Value.u32(32)),
        (Expr.u32(1).apply(.countLeadingZeros), .u32(31)),
        (Expr.u32(0).apply(.countTrailingZeros), .u32(32)),
        (Expr.u32(0x80).apply(.countTrailingZeros), .u32(7)),
        (Expr.i32(-1).apply(.popcount), .u32(32)),
        (Expr.u32(1).apply(.reverseBits), .u32(0x8000_0000)),
        (~Expr.u32(0), .u32(.max)),
    ])
    func bitOperations(_ e: Expr, _ want: Value) throws {
        #expect(try Self.eval(e, want.type) == want)
    }

    @Test func outOfBoundsLoadsGiveZeroAndStoresAreDropped() throws {
        let p = Program(buffers: [
            BufferDecl("src", binding: 0, access: .readOnly, type: .u32, count: 2),
            BufferDecl("dst", binding: 1, access: .readWrite, type: .u32, count: 3),
        ], workgroupSize: WorkgroupSize(1)) {
            Node.store("dst", at: 0, .load("src", at: 2))
            Node.store("dst", at: 1, .load("src", at: .u32(.max)))
            Node.store("dst", at: 3, 99)
            Node.store("dst", at: .u32(.max), 99)
            Node.store("dst", at: 2, .atomic(.add, "dst", at: 7, 5) + .length("src"))
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["src": [11, 12]])
        #expect(r.buffers["dst"] == [0, 0, 2])
    }

    @Test func runtimeSizedBufferLengthComesFromItsContents() throws {
        let p = Program(buffers: [BufferDecl("data", binding: 0, access: .readWrite, type: .u64)], workgroupSize: WorkgroupSize(1)) {
            Node.store("data", at: 0, .length("data").cast(to: .u64))
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["data": [0, 0, 0, 0, 0, 0]])
        #expect(r.buffers["data"] == [3, 0, 0, 0, 0, 0])
    }

    @Test(arguments: AtomicOp.allCases)
    func everyAtomicReturnsThePreviousValue(_ op: AtomicOp) throws {
        let start: Int32 = -6
        let operand: Int32 = 3
        let p = Program(buffers: [BufferDecl("c", binding: 0, access: .readWrite, type: .i32, count: 2)], workgroupSize: WorkgroupSize(1)) {
            Node.let("old", .atomic(op, "c", at: 0, .i32(operand)))
            Node.store("c", at: 1, "old")
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["c": [UInt32(bitPattern: start), 0]])
        let expected: Int32 = switch op {
        case .add: start + operand
        case .and: start & operand
        case .or: start | operand
        case .xor: start ^ operand
        case .min: Swift.min(start, operand)
        case .max: Swift.max(start, operand)
        case .exchange: operand
        }
        #expect(r.buffers["c"] == [UInt32(bitPattern: expected), UInt32(bitPattern: start)])
    }

    @Test func compareExchangeStoresOnlyOnMatch() throws {
        let p = Program(buffers: [BufferDecl("c", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.store("c", at: 2, .compareExchange("c", at: 0, expected: 5, desired: 9))
            Node.store("c", at: 3, .compareExchange("c", at: 1, expected: 4, desired: 9))
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["c": [5, 6, 0, 0]])
        #expect(r.buffers["c"] == [9, 6, 5, 6])
    }

    @Test func atomicsFromManyInvocationsAccumulate() throws {
        let p = Program(buffers: [BufferDecl("c", binding: 0, access: .readWrite, type: .u32, count: 2)], workgroupSize: WorkgroupSize(32)) {
            Node.let("a", .atomic(.add, "c", at: 0, 1))
            Node.let("b", .atomic(.max, "c", at: 1, .globalID(.x)))
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(3), buffers: [:])
        #expect(r.buffers["c"] == [96, 95])
    }

    @Test func barriersMakeSharedWritesVisibleAcrossTheWorkgroup() throws {
        // Reverse each workgroup's slice through shared memory: only correct if every invocation
        // wrote its element before any read another's.
        let p = Program(buffers: [BufferDecl("data", binding: 0, access: .readWrite, type: .u32, count: 24)],
                        shared: [SharedDecl("tile", type: .u32, count: 8)], workgroupSize: WorkgroupSize(8)) {
            Node.let("l", .localID(.x))
            Node.store("tile", at: "l", .load("data", at: .globalID(.x)))
            Node.barrier(.workgroup)
            Node.store("data", at: .globalID(.x), .load("tile", at: 7 - "l"))
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(3), buffers: ["data": Array(0..<24)])
        #expect(r.buffers["data"] == [7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 23, 22, 21, 20, 19, 18, 17, 16])
    }

    @Test func sharedMemoryStartsZeroedInEveryWorkgroup() throws {
        let p = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 2)],
                        shared: [SharedDecl("s", type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.store("out", at: .workgroupID(.x), .load("s", at: 0))
            Node.store("s", at: 0, 7)
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(2), buffers: [:])
        #expect(r.buffers["out"] == [0, 0])
    }

    @Test func foreverLoopsEndAtTheBudget() throws {
        let p = Program(buffers: [BufferDecl("n", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.forever { Node.store("n", at: 0, .load("n", at: 0) + 1) }
        }
        let r = try Interpreter(options: .init(foreverBudget: 37)).run(p, grid: WorkgroupSize(1), buffers: [:])
        #expect(r.buffers["n"] == [37])
    }

    @Test func loopsHonourBreakContinueAndBounds() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.let("sum", 0)
            Node.for("k", from: 0, to: 10) {
                Node.if(("k" & 1).equals(1)) { Node.continue }
                Node.if(Expr.variable("k").equals(8)) { Node.break }
                Node.assign("sum", "sum" + "k")
            }
            Node.store("o", at: 0, "sum")
            Node.let("w", 0)
            Node.while(.bool(true), maxIterations: 5) { Node.assign("w", "w" + 1) }
            Node.store("o", at: 1, "w")
            Node.let("z", 0)
            Node.while("z" < 3, maxIterations: 100) { Node.assign("z", "z" + 1) }
            Node.store("o", at: 2, "z")
            Node.for("s", from: .i32(-3), to: .i32(-1)) { Node.store("o", at: 3, .load("o", at: 3) + 1) }
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: [:])
        #expect(r.buffers["o"] == [0 + 2 + 4 + 6, 5, 3, 2])
    }

    @Test func asyncCopiesMoveElementsWithBoundsRules() throws {
        let p = Program(buffers: [
            BufferDecl("src", binding: 0, access: .readOnly, type: .u32, count: 4),
            BufferDecl("dst", binding: 1, access: .readWrite, type: .u32, count: 6),
        ], shared: [SharedDecl("tile", type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.asyncLoad(AsyncCopy(tag: "in", source: "src", sourceOffset: 2, destination: "tile", destinationOffset: 0, count: 4))
            Node.asyncWait("in")
            Node.asyncStore(AsyncCopy(tag: "out", source: "tile", sourceOffset: 0, destination: "dst", destinationOffset: 3, count: 4))
            Node.asyncWait("out")
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["src": [1, 2, 3, 4]])
        #expect(r.buffers["dst"] == [0, 0, 0, 3, 4, 0])
    }

    @Test func trapsEndTheInvocationAndAreRecorded() throws {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(2)) {
            Node.if(.globalID(.x).equals(1)) { Node.trap(.globalID(.x) + 40) }
            Node.store("o", at: .globalID(.x), 1)
        }
        let r = try Interpreter().run(p, grid: WorkgroupSize(2), buffers: [:])
        #expect(r.buffers["o"] == [1, 0, 1, 1])
        #expect(r.traps == [TrapRecord(invocation: 1, code: 41)])
    }

    @Test func stepBudgetEndsRunawayPrograms() {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.for("a", from: 0, to: .u32(.max)) { Node.store("o", at: 0, "a") }
        }
        #expect(throws: InterpreterError.stepBudgetExceeded(10_000)) {
            try Interpreter(options: .init(stepBudget: 10_000)).run(p, grid: WorkgroupSize(1), buffers: [:])
        }
    }

    @Test func barrierDivergenceIsAnError() {
        // Validation cannot see that this branch diverges (a read-write load), the interpreter can.
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32, count: 2)], workgroupSize: WorkgroupSize(2)) {
            Node.let("v", .load("o", at: .localID(.x)))
            Node.if(Expr.variable("v").equals(0)) { Node.return }
            Node.barrier(.workgroup)
        }
        #expect(throws: InterpreterError.self) {
            try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["o": [0, 1]])
        }
    }

    @Test func badInputsAreTypedErrors() {
        let p = Program(buffers: [BufferDecl("o", binding: 0, access: .readWrite, type: .u32)], workgroupSize: WorkgroupSize(1)) {}
        #expect(throws: InterpreterError.input(.missingBuffer("o"))) { try Interpreter().run(p, grid: WorkgroupSize(1), buffers: [:]) }
        #expect(throws: InterpreterError.input(.unknownBuffer("x"))) { try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["o": [], "x": []]) }
        #expect(throws: InterpreterError.self) { try Interpreter().run(p, grid: WorkgroupSize(0), buffers: ["o": []]) }
    }
}
