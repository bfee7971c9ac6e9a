import Testing
import VyreGL
import VyreIR

/// Driver loop limits and timeouts: a loop the driver cuts short is a typed error (or, for a
/// program that reads `loop_cuts`, a count it handles), never a silently short result; a
/// runaway dispatch is stopped at its timeout on every driver, and the context stays usable.
struct LoopGuardTests {
    static let context = Shared.context
    static let limit = Shared.context.info.limits.maxLoopIterations

    static func counter(trips: UInt32) -> Program {
        Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 2)], workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("k", from: 0, to: .u32(trips)) { Node.assign("n", "n" + 1) }
            Node.store("out", at: 0, "n")
        }
    }

    /// The outcome of a run as a value (matching typed errors in `catch` clauses crashes the 6.3
    /// compiler's ownership checker in test functions).
    static func attempt(_ program: Program, grid: WorkgroupSize = WorkgroupSize(1), options: DispatchOptions = DispatchOptions()) -> Result<RunResult, VyreGLError> {
        do { return .success(try context.run(program, grid: grid, buffers: [:], options: options)) } catch { return .failure(error) }
    }

    @Test func theProbeFindsLlvmpipesLimit() {
        if Self.context.info.renderer.contains("llvmpipe") {
            // Mesa's gallivm stops an invocation's loops after LP_MAX_TGSI_LOOP_ITERATIONS (65,535).
            #expect(Self.limit.map { (60_000...65_535).contains($0) } == true, "probe found \(String(describing: Self.limit))")
        } else {
            #expect(Self.limit == nil || Self.limit! >= 1024)
        }
    }

    @Test func aLoopPastTheLimitIsATypedErrorNamingTheLoop() throws {
        switch Self.attempt(Self.counter(trips: 100_000)) {
        case .success(let r):
            // Only a device without a limit may return, and then with the whole count.
            #expect(Self.limit == nil)
            #expect(r.buffers["out"]?[0] == 100_000)
        case .failure(.driverLoopLimit(let cut, let limit, let renderer)):
            #expect(limit == Self.limit && limit != nil)
            #expect(cut.site == "entry[1]")
            #expect(cut.invocation == 0)
            let message = VyreGLError.driverLoopLimit(cut, limit: limit, renderer: renderer).description
            #expect(message.contains("entry[1]") && message.contains("Fix:") && message.contains("\(limit ?? 0) iterations"))
        case .failure(let other):
            Issue.record("unexpected error: \(other)")
        }
    }

    @Test func nestedLoopsShareTheBudgetAndTheCutLoopIsNamed() throws {
        let program = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("a", from: 0, to: 300) {
                Node.for("b", from: 0, to: 300) { Node.assign("n", "n" + 1) }
            }
            Node.store("out", at: 0, "n")
        }
        switch Self.attempt(program) {
        case .success(let r):
            #expect(Self.limit == nil || Self.limit! >= 90_300)
            #expect(r.buffers["out"] == [90_000])
        case .failure(.driverLoopLimit(let cut, _, _)):
            // Whichever back-edge spends the shared budget is cut: the inner loop or the outer one.
            #expect(["entry[1]", "entry[1].body[0]"].contains(cut.site))
        case .failure(let other):
            Issue.record("unexpected error: \(other)")
        }
    }

    @Test func loopsWithinTheLimitAreUntouched() throws {
        let r = try Self.context.run(Self.counter(trips: 50_000), grid: WorkgroupSize(1), buffers: [:])
        #expect(r.buffers["out"]?[0] == 50_000)
    }

    @Test func aProgramThatReadsLoopCutsHandlesThemItself() throws {
        let program = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 2)], workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("k", from: 0, to: 200_000) { Node.assign("n", "n" + 1) }
            Node.store("out", at: 0, "n")
            Node.store("out", at: 1, .builtin(.loopCuts))
        }
        let r = try Self.context.run(program, grid: WorkgroupSize(1), buffers: [:])
        let out = try #require(r.buffers["out"])
        if Self.limit != nil {
            #expect(out[1] == 1)
            #expect(out[0] < 200_000)
        } else {
            #expect(out == [200_000, 0])
        }
        // The interpreter has no limit: loop_cuts is 0 there.
        #expect(try Interpreter().run(program, grid: WorkgroupSize(1), buffers: [:]).buffers["out"] == [200_000, 0])
    }

    @Test func aRunawayDispatchStopsAtItsTimeoutAndTheContextStaysUsable() throws {
        // 65,535 workgroups x 64 lanes x 60,000 iterations: minutes of work on any device this
        // suite runs on, each invocation inside llvmpipe's loop limit, so only the abort ends it.
        let runaway = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 1)], workgroupSize: WorkgroupSize(64)) {
            Node.let("n", 0)
            Node.for("k", from: 0, to: 60_000) { Node.assign("n", "n" + "k" * "k") }
            Node.if(Expr.variable("n").equals(7)) { Node.store("out", at: 0, "n") }
        }
        switch Self.attempt(runaway, grid: WorkgroupSize(65_535), options: DispatchOptions(timeout: .seconds(1))) {
        case .failure(.timeout(let seconds, _, let stopped)):
            #expect(stopped)
            #expect(seconds == 1)
        case .success:
            Issue.record("the runaway dispatch finished within its timeout")
        case .failure(let other):
            Issue.record("unexpected error: \(other)")
        }
        let after = try Self.context.run(Self.counter(trips: 10), grid: WorkgroupSize(1), buffers: [:])
        #expect(after.buffers["out"]?[0] == 10)
    }

    @Test func trapsAndCutsShareTheStatusBlockWithoutMixingUp() throws {
        let program = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(4)) {
            Node.if(Expr.localIndex.equals(2)) { Node.trap(77) }
            Node.let("n", 0)
            Node.for("k", from: 0, to: 10) { Node.assign("n", "n" + "k") }
            Node.store("out", at: .localIndex, "n")
        }
        for _ in 0..<3 {
            let r = try Self.context.run(program, grid: WorkgroupSize(1), buffers: [:])
            #expect(r.trap == TrapReport(count: 1, code: 77, invocation: 2))
            #expect(r.buffers["out"] == [45, 45, 0, 45])
        }
    }
}
