import Testing
import VyreGL
import VyreGLSL
import VyreConformance
import VyreTesting
import VyreIR

/// The loops written for devices without a per-invocation loop budget (NVIDIA, AMD): each runs in
/// chunks of `pollPeriod` trips with the abort poll between them. llvmpipe runs that code too as
/// long as no invocation passes its loop limit, so these tests lower for such a device and run
/// here: every exit (the bound, `break`, a while condition, the forever budget) at and across
/// chunk edges must match the interpreter, and a runaway grid must still stop at its timeout.
struct ChunkedLoopTests {
    static let context = Shared.context
    /// A device like the H200: the same capabilities, no loop limit.
    static let unlimited = GLSLTarget(capabilities: Shared.context.limits.capabilities, guards: .all, loopLimit: nil)

    static func run(_ program: Program, grid: WorkgroupSize = WorkgroupSize(1), options: DispatchOptions = DispatchOptions()) throws -> [String: [UInt32]] {
        let pipeline = try context.makePipeline(try context.validated(program), lowering: unlimited)
        #expect(pipeline.lowered.source.contains("vy_poll(uint("), "the lowering did not chunk the loops")
        return try context.run(pipeline, grid: grid, buffers: [:], options: options).buffers
    }

    static func expectMatchesInterpreter(_ program: Program, grid: WorkgroupSize = WorkgroupSize(1), options: DispatchOptions = DispatchOptions(),
                                         sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let gpu = try run(program, grid: grid, options: options)
        let reference = try Interpreter(options: .init(foreverBudget: options.foreverBudget)).run(program, grid: grid, buffers: [:]).buffers
        #expect(gpu == reference, sourceLocation: sourceLocation)
    }

    static func out(_ words: UInt32) -> [BufferDecl] { [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: words)] }

    /// Counts trips and sums the counter, so a lost or repeated trip changes the answer.
    @Test(arguments: [(UInt32(0), UInt32(0)), (5, 3), (0, 4095), (0, 4096), (0, 4097), (1, 8193), (7, 12_000),
                      (4_294_960_000, 4_294_967_295)])
    func countedLoopsMatchAcrossChunkEdges(from: UInt32, to: UInt32) throws {
        try Self.expectMatchesInterpreter(Program(buffers: Self.out(2), workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.let("s", 0)
            Node.for("k", from: .u32(from), to: .u32(to)) {
                Node.assign("n", "n" + 1)
                Node.assign("s", "s" ^ ("k" * 2_654_435_761))
            }
            Node.store("out", at: 0, "n")
            Node.store("out", at: 1, "s")
        })
    }

    /// Signed counters, including ranges whose width overflows `int`.
    @Test(arguments: [(Int32(-5_000), Int32(5_000)), (Int32.min, Int32.min + 9_000), (Int32.max - 6_000, Int32.max), (10, -10)])
    func signedCountersMatch(from: Int32, to: Int32) throws {
        try Self.expectMatchesInterpreter(Program(buffers: Self.out(2), workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.let("s", .i32(0))
            Node.for("k", from: .i32(from), to: .i32(to)) {
                Node.assign("n", "n" + 1)
                Node.assign("s", "s" ^ "k")
            }
            Node.store("out", at: 0, "n")
            Node.store("out", at: 1, Expr.variable("s").bitcast(to: .u32))
        })
    }

    /// `break` on the last trip of a chunk, the first trip of the next, and mid-chunk; `continue`
    /// on every other trip.
    @Test(arguments: [UInt32(0), 4095, 4096, 4097, 6000])
    func breakAndContinueLeaveOnlyTheirLoop(at trip: UInt32) throws {
        try Self.expectMatchesInterpreter(Program(buffers: Self.out(3), workgroupSize: WorkgroupSize(2)) {
            Node.let("n", 0)
            Node.let("odd", 0)
            Node.for("k", from: 0, to: 9_000) {
                Node.if(Expr.variable("k").equals(.u32(trip) + Expr.localIndex)) { Node.break }
                Node.assign("n", "n" + 1)
                Node.if(("k" & 1).equals(0)) { Node.continue }
                Node.assign("odd", "odd" + 1)
            }
            Node.store("out", at: Expr.localIndex, "n")
            Node.if(Expr.localIndex.equals(0)) { Node.store("out", at: 2, "odd") }
        })
    }

    @Test func whileConditionsAndBudgetsEndTheLoop() throws {
        try Self.expectMatchesInterpreter(Program(buffers: Self.out(4), workgroupSize: WorkgroupSize(1)) {
            // Ends by its condition in the second chunk.
            Node.let("a", 0)
            Node.while("a" < 5_000, maxIterations: 6_000) { Node.assign("a", "a" + 1) }
            // Ends by its iteration cap in the third chunk.
            Node.let("b", 0)
            Node.while("b" < 100_000, maxIterations: 9_000) { Node.assign("b", "b" + 1) }
            Node.store("out", at: 0, "a")
            Node.store("out", at: 1, "b")
            // A forever loop left by a break just past a chunk edge.
            Node.let("c", 0)
            Node.forever {
                Node.assign("c", "c" + 1)
                Node.if(Expr.variable("c").equals(4_097)) { Node.break }
            }
            Node.store("out", at: 2, "c")
            // A forever loop ended by its budget.
            Node.let("d", 0)
            Node.forever { Node.assign("d", "d" + 1) }
            Node.store("out", at: 3, "d")
        }, options: DispatchOptions(foreverBudget: 10_000))
    }

    /// Short nested loops poll through the invocation's running count, and an inner break
    /// leaves only the inner loop.
    @Test func nestedLoopsMatch() throws {
        try Self.expectMatchesInterpreter(Program(buffers: Self.out(2), workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("i", from: 0, to: 150) {
                Node.for("j", from: 0, to: 200) {
                    Node.if(Expr.variable("j").equals("i")) { Node.break }
                    Node.assign("n", "n" + 1)
                }
                Node.for("j", from: 0, to: 3) { Node.assign("n", "n" + 1000) }
            }
            Node.store("out", at: 0, "n")
        })
    }

    /// The conformance construct cases (those inside llvmpipe's loop limit) lowered for an
    /// unlimited device.
    @Test func constructCasesMatch() {
        let failures = ConstructCases.all(capabilities: Self.context.limits.capabilities).filter { !$0.longLoops }
            .map { Conformance.check($0, on: Self.context, lowering: Self.unlimited) }
            .filter { !$0.passed }
            .map { "\($0.name): \($0.detail ?? "")" }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func aRunawayGridStopsAtItsTimeout() throws {
        // As in LoopGuardTests, but each invocation polls between chunks rather than at its start.
        let runaway = Program(buffers: Self.out(1), workgroupSize: WorkgroupSize(64)) {
            Node.let("n", 0)
            Node.for("k", from: 0, to: 60_000) { Node.assign("n", "n" + "k" * "k") }
            Node.if(Expr.variable("n").equals(7)) { Node.store("out", at: 0, "n") }
        }
        let pipeline = try Self.context.makePipeline(try Self.context.validated(runaway), lowering: Self.unlimited)
        let outcome: Result<RunResult, VyreGLError>
        do { outcome = .success(try Self.context.run(pipeline, grid: WorkgroupSize(65_535), buffers: [:], options: DispatchOptions(timeout: .seconds(1)))) }
        catch { outcome = .failure(error) }
        switch outcome {
        case .failure(.timeout(_, _, let stopped)): #expect(stopped)
        case .success: Issue.record("the runaway dispatch finished within its timeout")
        case .failure(let other): Issue.record("unexpected error: \(other)")
        }
    }
}
