public import VyreIR

extension ValidatedProgram {
    /// Lowers the program to compute source in `target`'s language (GLSL 4.30 or GLSL ES).
    ///
    /// Any validation will do (device limits are the GL layer's business); the target decides only
    /// which optional features it has. Every IR rule that GLSL leaves undefined or defines
    /// differently (out-of-bounds access, division by zero, shift counts, float-to-int conversion,
    /// NaN in min/max) is written out explicitly, so the result means the same on every driver.
    /// Costs one pass over the program.
    public func lowerToGLSL(target: GLSLTarget = .gl43) throws(GLSLError) -> LoweredProgram {
        let needed = FeatureScan.features(of: analysis)
        for (feature, path) in needed where !target.supports(feature) {
            throw .missingFeature(feature, path: path)
        }
        var writer = Writer(validated: self, target: target)
        return writer.lower(features: Set(needed.map(\.0)))
    }
}

extension Program {
    /// Validates the program (generous limits, every optional type) and lowers it for `target`:
    /// ``ValidatedProgram/lowerToGLSL(target:)`` for a program not validated yet.
    public func lowerToGLSL(target: GLSLTarget = .gl43) throws(GLSLError) -> LoweredProgram {
        let validated: ValidatedProgram
        do { validated = try self.validated(limits: .unrestricted) } catch { throw .invalidProgram(error) }
        return try validated.lowerToGLSL(target: target)
    }
}

/// Emits GLSL for one program. `writeStmt` writes whole lines (it ends its own lines and takes an
/// indentation level); `expr` returns expression text with no surrounding whitespace, after writing
/// the temporaries the expression needs as statements at the given indentation.
struct Writer {
    private struct Memory {
        var access: String
        var type: DataType
        var length: String
        var fixedCount: UInt32?
        var storesWords: Bool
    }

    private struct Line {
        var indent: Int
        var text: String
        var location: SourceLocation
    }

    /// How an expression is being rendered.
    private struct Context {
        /// The statement has a side effect, so loads are computed in order into temporaries.
        var hoistLoads = false
        /// The parent is float arithmetic (or a precise variable receives the value): no new
        /// precise temporary is needed here.
        var inFloatChain = false
    }

    /// A loop being written: the flag that records an exit of its own (nil without cut detection).
    private struct LoopFrame {
        /// Cut detection is on for the loop (see `beginLoop`).
        var detects: Bool
        /// The loop runs in chunks of ``Helper/pollPeriod`` trips with an abort poll between them
        /// (see `beginLoop`): its counter, its end, and the current chunk's first trip and end.
        var chunk: (counter: String, end: String, first: String, stop: String)?
        /// For a chunked loop: where its chunk loop's first line and its body's first line went,
        /// and the test for a range short enough to need no chunks, so a loop with no loop inside
        /// can be given a plain copy for such ranges (see `plainCopyForShortRanges`).
        var chunkLines: (header: Int, body: Int, short: String)?
        /// A loop was written inside this one.
        var nested = false
        /// The loop's break flag, when it has exits besides its own condition (breaks, a while
        /// condition): they set it and continue to the loop's one exit.
        var broke: String?
        /// The check after the loop: true when the driver stopped it.
        var stopped: String
        /// Index into `loopSites`.
        var site: Int
        /// Where the loop's first line went.
        var indent: Int
    }

    let program: Program
    let analysis: ProgramAnalysis
    let contentHash: ContentHash
    let guards: LoopGuards
    /// What the device's compiler takes: the language and its optional parts.
    let target: GLSLTarget
    /// The target has `precise`; without it each float result is hidden from the compiler on its
    /// own (see `exactDeclaration`).
    let hasPrecise: Bool
    /// Loops record their own exits, so a loop the driver cut is told apart (only where the
    /// target has a loop limit: elsewhere no loop is ever cut).
    let detectCuts: Bool
    /// Poll the abort word once per invocation (at its start) instead of in every loop.
    let pollAtStart: Bool
    /// Poll the abort word between chunks of loop trips rather than on every trip.
    let pollBetweenChunks: Bool
    /// Cut loops are counted in the invocation and reported once, wherever it ends.
    let reportsCuts: Bool
    /// The zeroing of shared memory carries the loop guards. Its trips are bounded by the shared
    /// memory's size and it runs first, so it is written plain (a loop-free program stays loop-free)
    /// unless the device's loop limit could cut it.
    let guardsSharedClear: Bool
    /// The program has a loop that carries guards, so it polls the abort word and reports cuts.
    let guardedLoops: Bool
    private let namer = Namer()
    private var memories: [String: Memory] = [:]
    private var lines: [Line] = []
    private var path: String?
    private var regions: [String] = []
    private var helpers: Set<Helper> = []
    private var temporaries = 0
    private var usesForever = false
    private var usesOpaque = false
    private var statusBinding: UInt32?
    private var loops: [LoopFrame] = []
    private var loopSites: [String] = []
    private var readsLoopCuts = false
    private var usesPrecise = false

    init(validated: ValidatedProgram, target: GLSLTarget) {
        let guards = target.guards
        let loopLimit = target.loopLimit
        self.target = target
        self.hasPrecise = target.supports(.precise)
        let program = validated.program
        self.program = program
        self.analysis = validated.analysis
        self.contentHash = validated.contentHash
        self.guards = guards
        self.detectCuts = guards.contains(.detectDriverCuts) && loopLimit != nil
        self.pollAtStart = guards.contains(.pollAbort) && loopLimit?.isPerInvocation == true
        self.pollBetweenChunks = guards.contains(.pollAbort) && !pollAtStart && !detectCuts
        self.guardsSharedClear = detectCuts && !Self.sharedClearFits(program, within: loopLimit!)
        self.guardedLoops = analysis.containsLoop || guardsSharedClear
        self.reportsCuts = detectCuts && guardedLoops
        if reportsCuts { helpers.formUnion([.reportCuts, .invocationIndex]) }
        for b in program.buffers {
            let access = "\(namer.bufferInstance(b.name)).data"
            let length = b.count.map { "\($0)u" } ?? namer.length(b.name)
            memories[b.name] = Memory(access: access, type: b.elementType, length: length, fixedCount: b.count, storesWords: b.elementType == .bool)
        }
        for s in program.shared {
            memories[s.name] = Memory(access: namer.shared(s.name), type: s.elementType, length: "\(s.count)u", fixedCount: s.count, storesWords: false)
        }
        if analysis.containsTrap || ((detectCuts || guards.contains(.pollAbort)) && guardedLoops) {
            statusBinding = (program.buffers.map(\.binding).max() ?? 0) + (program.buffers.isEmpty ? 0 : 1)
        }
    }

    // MARK: assembly

    mutating func lower(features: Set<Feature>) -> LoweredProgram {
        var prologue: [Line] = []
        let nowhere = SourceLocation(path: nil, region: nil)
        if pollAtStart && statusBinding != nil && guardedLoops {
            // The device ends any invocation's loops past its budget, so only invocations that have
            // not started can run long: they stop here once the host has set the abort word.
            helpers.insert(.aborted)
            prologue.append(Line(indent: 1, text: "if (vy_aborted()) return;", location: nowhere))
        }
        prologue += zeroSharedMemory()
        for (i, n) in program.entry.enumerated() { writeStmt(n, path: "entry[\(i)]", indent: 1) }
        if reportsCuts { line("vy_report_cuts();", 1) }
        // The counts of runtime-sized buffers the body needs become host-set uniforms.
        var lengthUniforms: [String: String] = [:]
        for b in program.buffers where b.count == nil && analysis.sizedMemories.contains(b.name) {
            lengthUniforms[b.name] = namer.length(b.name)
        }

        var out: [(String, SourceLocation)] = []
        let none = SourceLocation(path: nil, region: nil)
        func emit(_ s: String) { for l in s.split(separator: "\n", omittingEmptySubsequences: false) { out.append((String(l), none)) } }

        emit(target.language.versionLine)
        var used = features
        if usesPrecise { used.insert(.precise) }
        for f in Feature.allCases where used.contains(f) {
            if let line = target.extensionLine(for: f) { emit(line) }
        }
        if target.language.isES {
            // GLSL ES has no default precision for floats in every stage; say it for all types.
            emit("precision highp float;")
            emit("precision highp int;")
        }
        emit("// Generated by vyre-gl from IR program \(contentHash.short). Change the IR, not this text.")
        let w = program.workgroupSize
        emit("layout(local_size_x = \(w.x), local_size_y = \(w.y), local_size_z = \(w.z)) in;")
        if !program.buffers.isEmpty || statusBinding != nil || usesForever || usesOpaque || !analysis.parameters.isEmpty { emit("") }
        for b in program.buffers.sorted(by: { $0.binding < $1.binding }) { emit(bufferDeclaration(b)) }
        if let statusBinding {
            typealias W = LoweredProgram.StatusWord
            emit("// Status block, host-mapped: [\(W.abort)] abort (set by the host, only read here),")
            emit("// [\(W.trapCount)...\(W.trapInvocation)] traps (invocations, the first's code and index), [\(W.cutInvocations)...\(W.cutInvocation)] loops the driver cut")
            emit("// (invocations, the first's site and index), [\(W.events)] set by the first record of each kind.")
            emit("layout(std430, binding = \(statusBinding)) coherent volatile buffer VyStatus { uint data[\(W.words)]; } \(namer.statusInstance);")
        }
        if helpers.contains(.poll) {
            emit("// Loop trips of this invocation, for polling the abort word.")
            emit("uint \(namer.trips) = 0u;")
        }
        if readsLoopCuts || reportsCuts {
            emit("// Loops of this invocation that the driver ended before their own exit (the loop_cuts builtin).")
            emit("uint \(Conv.builtin(.loopCuts)) = 0u;")
        }
        if reportsCuts {
            emit("// The site of this invocation's first cut loop, reported to the status block as it ends.")
            emit("uint vy_cut_site = 0u;")
        }
        if usesForever {
            emit("// Iterations each forever loop may run before the dispatch ends by itself (set by the host).")
            emit("uniform uint \(namer.foreverBudget);")
        }
        let parameters = analysis.parameters.sorted()
        if !parameters.isEmpty {
            emit("// Parameters the host sets for each dispatch.")
            for p in parameters { emit("uniform uint \(namer.parameter(p));") }
        }
        if !lengthUniforms.isEmpty {
            emit("// Element counts of runtime-sized buffers, set by the host from the bound memory.")
            for (_, uniform) in lengthUniforms.sorted(by: { $0.key < $1.key }) { emit("uniform uint \(uniform);") }
        }
        if usesOpaque {
            emit("// Always 0 (GL initializes uniforms to zero); keeps float constants out of the compiler's folds.")
            emit("uniform uint vy_zero;")
        }
        if !program.shared.isEmpty { emit("") }
        for s in program.shared { emit("shared \(Conv.scalar(s.elementType)) \(namer.shared(s.name))[\(s.count)];") }
        for h in helpers.sorted() {
            emit("")
            emit(h.source)
        }
        emit("")
        emit("void main() {")
        for l in prologue + lines {
            out.append((String(repeating: "    ", count: l.indent) + l.text, l.location))
        }
        emit("}")
        return LoweredProgram(
            source: out.map(\.0).joined(separator: "\n") + "\n",
            statusBinding: statusBinding, loopSites: loopSites, handlesLoopCuts: readsLoopCuts,
            foreverBudgetUniform: usesForever ? namer.foreverBudget : nil,
            lengthUniforms: lengthUniforms,
            parameterUniforms: Dictionary(uniqueKeysWithValues: analysis.parameters.map { ($0, namer.parameter($0)) }),
            features: features,
            lines: out.map(\.1))
    }

    private func bufferDeclaration(_ b: BufferDecl) -> String {
        var qualifiers: [String] = []
        switch b.access {
        case .readOnly: qualifiers.append("readonly")
        case .writeOnly: qualifiers.append("writeonly")
        case .readWrite:
            // Data that other invocations (or the host) may write while this one reads must not be
            // served from a stale cache.
            if b.placement == .hostMapped || analysis.sharedData.contains(b.name) { qualifiers.append("coherent") }
        }
        if b.placement == .hostMapped {
            if !qualifiers.contains("coherent") { qualifiers.append("coherent") }
            qualifiers.append("volatile")
        }
        // Fixed counts stay out of the declaration: GLSL rejects a constant index past a sized array
        // at compile time even in a branch never taken, and the writer checks bounds itself.
        let count = b.count.map { " // \($0) elements" } ?? ""
        let q = qualifiers.isEmpty ? "" : qualifiers.joined(separator: " ") + " "
        return "layout(std430, binding = \(b.binding)) \(q)buffer \(namer.bufferBlock(b.name)) { \(Conv.storage(b.elementType)) data[]; } \(namer.bufferInstance(b.name));\(count)"
    }

    // MARK: lines, scopes, temporaries

    private mutating func line(_ text: String, _ indent: Int) {
        lines.append(Line(indent: indent, text: text, location: SourceLocation(path: path, region: regions.last)))
    }

    /// A fresh name of the writer's own (`t<N>`), for temporaries and loop counters.
    private mutating func newName() -> String {
        temporaries += 1
        return "t\(temporaries - 1)"
    }

    private mutating func temporary(_ type: DataType, _ text: String, _ indent: Int, precise: Bool = false) -> String {
        let name = newName()
        line(declaration(type, name, text, exact: precise || type.isFloat), indent)
        return name
    }

    /// `T name = text;`, and for an exact float value, one no compiler may contract, reorder or
    /// fold: `precise` where the target has it; elsewhere the value passes through its bits and
    /// `vy_zero` (see `Helper.opaque`), which no compiler sees through, so each float operation
    /// is rounded on its own (float chains are written one operation per temporary there, see
    /// `expr`).
    private mutating func declaration(_ type: DataType, _ name: String, _ text: String, exact: Bool) -> String {
        guard exact && type.isFloat else { return "\(Conv.scalar(type)) \(name) = \(text);" }
        if hasPrecise {
            usesPrecise = true
            return "precise \(Conv.scalar(type)) \(name) = \(text);"
        }
        return "\(Conv.scalar(type)) \(name) = \(exactValue(type, text));"
    }

    /// A float value hidden from the compiler's folds, where there is no `precise`.
    private mutating func exactValue(_ type: DataType, _ text: String) -> String {
        let h = Helper.opaque(type)
        helpers.insert(h)
        usesOpaque = true
        return "\(h.name)(\(text))"
    }


    // MARK: loops

    /// Opens a loop over `counter` (of `type`) from `start` while it is below `end`, with the
    /// guards of the target; returns the indentation of its body.
    ///
    /// With cut detection the loop leaves only at the top of a trip, when the counter reaches its
    /// end; `exits` loops (breaks, a while condition) also carry a break flag that those exits set
    /// before they continue to that test. After the loop the same test, read through `vy_zero` (a
    /// uniform that is always 0), tells whether the loop still had trips to run: if it did and no
    /// break was taken, the driver stopped it. Everything the check reads is carried from trip to
    /// trip (the counter, the flag), so it holds the loop's last state whichever way the driver
    /// left; and since a compiler only knows the exits it can see, the test goes through `vy_zero`
    /// so it cannot prove the check dead and delete it. A value written on the exits themselves
    /// would not survive that.
    ///
    /// With abort polling between chunks (devices without a per-invocation loop budget) the loop
    /// runs as an inner loop over at most ``Helper/pollPeriod`` trips inside an outer one; between
    /// chunks `vy_poll` counts the trips and reads the abort word when the invocation's count
    /// passes a multiple of the period. The inner loop is the plain loop with a nearer end, so the
    /// compiler treats it as it would the unguarded one: a poll test on every trip, even one never
    /// taken, made a tight loop 7x slower on NVIDIA 580 (its branch and reconvergence every trip).
    /// The counter cannot be assigned in the body, so an inner loop that ends before its chunk's
    /// end left by a break. A loop with a `stride` (the clearing of shared memory, bounded by its
    /// size) runs whole. An unguarded loop (`guarded` false) is written plain.
    private mutating func beginLoop(site: String, type: DataType, counter: String, start: String, end: String,
                                    stride: Int = 1, exits: Bool, guarded: Bool = true, indent: Int) -> Int {
        loopSites.append(site)
        if !loops.isEmpty { loops[loops.count - 1].nested = true }
        let scalar = Conv.scalar(type)
        let step = stride == 1 ? "\(counter)++" : "\(counter) += \(stride)u"
        var body = indent + 1
        if detectCuts && guarded {
            // A block of its own: the counter outlives the loop, and a sibling loop may reuse its name.
            usesOpaque = true
            line("{", indent)
            line("\(scalar) \(counter) = \(start);", indent + 1)
            var broke: String? = nil
            if exits {
                broke = newName()
                line("uint \(broke!) = 0u; // set by the loop's breaks, which leave through its condition test", indent + 1)
            }
            line("for (; ; \(step)) {", indent + 1)
            body = indent + 2
            line("if (!(\(counter) < \(end))\(broke.map { " || \($0) != 0u" } ?? "")) break;", body)
            let stillRunning = Self.opaqueLess(counter, end, type)
            let stopped = broke.map { "\(parenthesized(stillRunning)) && \($0) == 0u" } ?? stillRunning
            loops.append(LoopFrame(detects: true, broke: broke, stopped: stopped, site: loopSites.count - 1, indent: indent))
        } else if pollBetweenChunks && stride == 1 && guarded {
            helpers.formUnion([.poll, .aborted])
            let first = newName(), stop = newName()
            let period = type == .i32 ? "\(Helper.pollPeriod)" : "\(Helper.pollPeriod)u"
            line("{", indent)
            line("\(scalar) \(counter) = \(start);", indent + 1)
            let header = lines.count
            line("for (;;) {", indent + 1)
            line("\(scalar) \(first) = \(counter);", indent + 2)
            let left = type == .i32 ? "uint(\(end)) - uint(\(counter))" : "\(end) - \(counter)"
            line("\(scalar) \(stop) = \(counter) < \(end) && \(left) > \(Helper.pollPeriod)u ? \(counter) + \(period) : \(end);", indent + 2)
            line("for (; \(counter) < \(stop); \(counter)++) {", indent + 2)
            body = indent + 3
            var frame = LoopFrame(detects: false, broke: nil, stopped: "", site: loopSites.count - 1, indent: indent)
            frame.chunk = (counter, end, first, stop)
            frame.chunkLines = (header, lines.count, "!(\(counter) < \(end)) || \(left) <= \(Helper.pollPeriod)u")
            loops.append(frame)
        } else {
            line("for (\(scalar) \(counter) = \(start); \(counter) < \(end); \(step)) {", indent)
            loops.append(LoopFrame(detects: false, broke: nil, stopped: "", site: loopSites.count - 1, indent: indent))
        }
        if guards.contains(.pollAbort) && !pollAtStart && !pollBetweenChunks && detectCuts && guarded {
            // Cut detection on a device whose loop budget is not per invocation: a poll every trip.
            helpers.formUnion([.poll, .aborted])
            line(reportsCuts ? "if (vy_poll(1u)) { vy_report_cuts(); return; }" : "if (vy_poll(1u)) return;", body)
        }
        return body
    }

    /// The longest body (in GLSL lines) that gets a plain copy. The copy's code costs compile
    /// time: NVIDIA 580 took 4x as long over the megakernel when its handler loops (32 to 180
    /// lines each) were copied, while the loops the copy pays off for are short.
    static let plainCopyLineLimit = 24

    /// Puts a plain copy of a chunked loop with no loop inside in front of its chunks, taken when
    /// the range has at most ``Helper/pollPeriod`` trips: such a loop needs no poll of its own
    /// (an enclosing chunked loop polls between its chunks, and a top-level one ends within a
    /// chunk), and on NVIDIA the chunk loop's bookkeeping cost a short dynamic loop about as much
    /// as its trips. Its trips are not counted towards the poll: a loop nest polls at most every
    /// ``Helper/pollPeriod`` trips of the enclosing loop, each of at most that many inner trips.
    /// Only loops without loops inside and with at most ``plainCopyLineLimit`` lines get the
    /// copy, so a nest's code grows by at most that many lines per innermost loop.
    private mutating func plainCopyForShortRanges(header: Int, body: Range<Int>, short: String, counter: String, end: String, indent: Int) {
        let location = SourceLocation(path: path, region: regions.last)
        func at(_ indent: Int, _ text: String) -> Line { Line(indent: indent, text: text, location: location) }
        let chunked = lines[header...].map { Line(indent: $0.indent + 1, text: $0.text, location: $0.location) }
        let plain = [at(indent + 1, "if (\(short)) {"), at(indent + 2, "for (; \(counter) < \(end); \(counter)++) {")]
            + lines[body] + [at(indent + 2, "}"), at(indent + 1, "} else {")]
        lines.replaceSubrange(header..., with: plain + chunked + [at(indent + 1, "}")])
    }

    /// Leaves the innermost loop, as an exit of its own, unless `condition` holds.
    private mutating func exitLoop(unless condition: String, indent: Int) {
        if let broke = loops.last?.broke {
            line("if (!\(parenthesized(condition))) { \(broke) = 1u; continue; }", indent)
        } else {
            line("if (!\(parenthesized(condition))) break;", indent)
        }
    }

    /// Closes the innermost loop; reports it to the status block when the driver ended it.
    private mutating func endLoop() {
        let frame = loops.removeLast()
        if let chunk = frame.chunk {
            let bodyEnd = lines.count
            line("}", frame.indent + 2)
            line("if (vy_poll(uint(\(chunk.counter)) - uint(\(chunk.first)))) return;", frame.indent + 2)
            line("if (\(chunk.counter) != \(chunk.stop) || \(chunk.counter) == \(chunk.end)) break;", frame.indent + 2)
            line("}", frame.indent + 1)
            if !frame.nested, let at = frame.chunkLines, bodyEnd - at.body <= Self.plainCopyLineLimit {
                plainCopyForShortRanges(header: at.header, body: at.body ..< bodyEnd, short: at.short,
                                        counter: chunk.counter, end: chunk.end, indent: frame.indent)
            }
            line("}", frame.indent)
            return
        }
        guard frame.detects else {
            line("}", frame.indent)
            return
        }
        line("}", frame.indent + 1)
        helpers.insert(.loopCut)
        line("if (\(frame.stopped)) vy_loop_cut(\(frame.site)u);", frame.indent + 1)
        line("}", frame.indent)
    }

    /// Whether `nodes` hold a break that leaves the loop they are the body of.
    private static func breaksOut(of nodes: [Node]) -> Bool {
        nodes.contains { n in
            switch n {
            case .break: return true
            case .for, .while, .forever: return false
            default: return n.bodies.contains { breaksOut(of: $0.nodes) }
            }
        }
    }

    /// `counter < bound` with the counter hidden behind `vy_zero`, for the check after a loop.
    private static func opaqueLess(_ counter: String, _ bound: String, _ type: DataType) -> String {
        "(\(counter) ^ \(type == .i32 ? "int(vy_zero)" : "vy_zero")) < \(bound)"
    }

    /// Shared memory starts zeroed (IR semantics; GLSL leaves it undefined): each invocation clears
    /// a strided share, then the workgroup meets at a barrier. Returns those lines.
    /// Whether every invocation's trips through the zeroing of shared memory, all arrays together,
    /// stay within half the device's loop limit (a margin: the probe measures the limit in trips
    /// of its own loop). The zeroing is the first loop an invocation runs, so no budget is spent
    /// before it.
    static func sharedClearFits(_ program: Program, within limit: LoopLimit) -> Bool {
        let invocations = program.workgroupSize.invocations
        let trips = program.shared.reduce(UInt64(0)) { $0 + (UInt64($1.count) + invocations - 1) / invocations }
        return trips <= UInt64(limit.iterations / 2)
    }

    private mutating func zeroSharedMemory() -> [Line] {
        guard !program.shared.isEmpty else { return [] }
        let saved = lines
        lines = []
        line("// Shared memory starts zeroed (IR semantics); GLSL leaves it undefined.", 1)
        let w = program.workgroupSize.invocations
        for s in program.shared {
            let i = newName()
            let inner = beginLoop(site: "zeroing shared array \(s.name)", type: .u32, counter: i, start: "gl_LocalInvocationIndex", end: "\(s.count)u",
                                  stride: Int(w), exits: false, guarded: guardsSharedClear, indent: 1)
            line("\(namer.shared(s.name))[\(i)] = \(Conv.zero(s.elementType));", inner)
            endLoop()
        }
        line("groupMemoryBarrier();", 1)
        line("barrier();", 1)
        let prologue = lines
        lines = saved
        return prologue
    }

    /// Free text (a region name) as it may appear in a `//` comment: printable ASCII only, and no
    /// backslash, which at the end of a line would continue the comment onto the next line.
    static func commentText(_ text: String) -> String {
        String(text.unicodeScalars.map { u -> Character in
            (0x20...0x7E).contains(u.value) && u != "\\" ? Character(u) : "?"
        })
    }

    private mutating func body(_ nodes: [Node], path: String, indent: Int) {
        for (i, n) in nodes.enumerated() { writeStmt(n, path: "\(path)[\(i)]", indent: indent) }
    }

    // MARK: statements

    /// Writes one statement as complete lines at `indent`.
    private mutating func writeStmt(_ node: Node, path nodePath: String, indent: Int) {
        let saved = path
        path = nodePath
        defer { path = saved }
        var ctx = Context()
        ctx.hoistLoads = node.expressions.contains { $0.expr.hasSideEffects }
        /// The path of one of this statement's expressions.
        func at(_ label: String) -> String { "\(nodePath).\(label)" }

        switch node {
        case .let(let name, let value):
            let t = analysis.type(at: at(PathLabel.value))
            ctx.inFloatChain = t.isFloat && hasPrecise
            let text = expr(value, at: at(PathLabel.value), indent, ctx)
            line(declaration(t, namer.variable(name), text, exact: true), indent)
        case .assign(let name, let value):
            // Validated: the value has the variable's type.
            let t = analysis.type(at: at(PathLabel.value))
            ctx.inFloatChain = t.isFloat && hasPrecise
            var text = expr(value, at: at(PathLabel.value), indent, ctx)
            // Without precise, the variable's declaration does not protect what is assigned.
            if t.isFloat && !hasPrecise && isFloatChain(value) { text = exactValue(t, text) }
            line("\(namer.variable(name)) = \(text);", indent)
        case .store(let name, let index, let value):
            let m = memories[name]!
            let i = indexText(index, at: at(PathLabel.index), indent, ctx)
            let v = expr(value, at: at(PathLabel.value), indent, ctx)
            let stored = m.storesWords ? "(\(v) ? 1u : 0u)" : v
            if let literal = constantIndex(index), let count = m.fixedCount, literal >= count {
                line("// store to \(name)[\(literal)] dropped: out of bounds (\(count) elements)", indent)
            } else if let literal = constantIndex(index), let count = m.fixedCount, literal < count {
                line("\(m.access)[\(i)] = \(stored);", indent)
            } else {
                line("if (\(i) < \(m.length)) \(m.access)[\(i)] = \(stored);", indent)
            }
        case .if(let condition, let thenBody, let elseBody):
            let c = expr(condition, at: at(PathLabel.ifCondition), indent, ctx)
            line("if \(parenthesized(c)) {", indent)
            body(thenBody, path: at(PathLabel.then), indent: indent + 1)
            if !elseBody.isEmpty {
                line("} else {", indent)
                body(elseBody, path: at(PathLabel.else), indent: indent + 1)
            }
            line("}", indent)
        case .for(let name, let from, let to, let loopBody):
            let t = analysis.type(at: at(PathLabel.from))
            let f = expr(from, at: at(PathLabel.from), indent, ctx)
            let first = isSimple(from) ? f : temporary(t, f, indent)
            let last = expr(to, at: at(PathLabel.to), indent, ctx)
            let end = isLiteral(to) ? last : temporary(t, last, indent)
            let v = namer.variable(name)
            let inner = beginLoop(site: nodePath, type: t, counter: v, start: first, end: end, exits: Self.breaksOut(of: loopBody), indent: indent)
            body(loopBody, path: at(PathLabel.body), indent: inner)
            endLoop()
        case .while(let condition, let maxIterations, let loopBody):
            let bound = expr(maxIterations, at: at(PathLabel.maxIterations), indent, ctx)
            let max = isLiteral(maxIterations) ? bound : temporary(.u32, bound, indent)
            let counter = newName()
            // The condition's exit is a break of the loop's own: a while loop always has one.
            let inner = beginLoop(site: nodePath, type: .u32, counter: counter, start: "0u", end: max, exits: true, indent: indent)
            var condCtx = Context()
            condCtx.hoistLoads = condition.hasSideEffects
            let c = expr(condition, at: at(PathLabel.whileCondition), inner, condCtx)
            exitLoop(unless: c, indent: inner)
            body(loopBody, path: at(PathLabel.body), indent: inner)
            endLoop()
        case .forever(let loopBody):
            usesForever = true
            let counter = newName()
            let inner = beginLoop(site: nodePath, type: .u32, counter: counter, start: "0u", end: namer.foreverBudget,
                                  exits: Self.breaksOut(of: loopBody), indent: indent)
            body(loopBody, path: at(PathLabel.forever), indent: inner)
            endLoop()
        case .block(let nodes):
            line("{", indent)
            body(nodes, path: at(PathLabel.block), indent: indent + 1)
            line("}", indent)
        case .region(let name, let nodes):
            line("// region: \(Self.commentText(name))", indent)
            regions.append(name)
            line("{", indent)
            body(nodes, path: at(PathLabel.body), indent: indent + 1)
            line("}", indent)
            regions.removeLast()
            line("// end region: \(Self.commentText(name))", indent)
        case .return:
            leave(indent)
        case .break:
            // A break is an exit of the loop's own: with cut detection it sets `done` and goes to
            // the loop's one exit (see `beginLoop`).
            if let broke = loops.last?.broke {
                line("\(broke) = 1u;", indent)
                line("continue;", indent)
            } else {
                line("break;", indent)
            }
        case .continue:
            line("continue;", indent)
        case .barrier(.workgroup):
            line("groupMemoryBarrier();", indent)
            line("barrier();", indent)
        case .barrier(.bufferMemory):
            line("memoryBarrierBuffer();", indent)
        case .asyncLoad(let copy), .asyncStore(let copy):
            writeCopy(copy, load: node == .asyncLoad(copy), indent: indent, ctx)
        case .asyncWait(let tag):
            line("memoryBarrier(); // async_wait \(tag): copies complete in place; this publishes their writes", indent)
        case .trap(let code):
            let c = expr(code, at: at(PathLabel.trapCode), indent, ctx)
            let codeText = isSimple(code) ? c : temporary(.u32, c, indent)
            helpers.insert(.invocationIndex)
            typealias W = LoweredProgram.StatusWord
            let status = "\(namer.statusInstance).data"
            line("if (atomicAdd(\(status)[\(W.trapCount)], 1u) == 0u) {", indent)
            line("\(status)[\(W.trapCode)] = \(codeText);", indent + 1)
            line("\(status)[\(W.trapInvocation)] = vy_invocation_index();", indent + 1)
            line("\(status)[\(W.events)] = 1u;", indent + 1)
            line("}", indent)
            leave(indent)
        }
    }

    /// Ends the invocation, first reporting the loops the driver cut (see ``Helper/reportCuts``).
    private mutating func leave(_ indent: Int) {
        if reportsCuts { line("vy_report_cuts();", indent) }
        line("return;", indent)
    }

    private mutating func writeCopy(_ c: AsyncCopy, load: Bool, indent: Int, _ ctx: Context) {
        let src = memories[c.source]!
        let dst = memories[c.destination]!
        line("// \(load ? "async_load" : "async_store") \(c.tag): \(c.source) -> \(c.destination), element by element", indent)
        let site = path ?? "async copy"
        let at = path ?? ""
        let labels = c.labeledOffsets(isLoad: load).map { "\(at).\($0.label)" }
        let so = temporary(.u32, expr(c.sourceOffset, at: labels[0], indent, ctx), indent)
        let d = temporary(.u32, expr(c.destinationOffset, at: labels[1], indent, ctx), indent)
        // The trip count goes through vy_zero so no compiler fully unrolls the copy into constant
        // indices: NVIDIA 580 rejects (C5025) or miscompiles such unrolled copies.
        usesOpaque = true
        let n = temporary(.u32, "\(expr(c.count, at: labels[2], indent, ctx)) ^ vy_zero", indent)
        let k = newName()
        let inner = beginLoop(site: site, type: .u32, counter: k, start: "0u", end: n, exits: false, indent: indent)
        let si = temporary(.u32, "\(so) + \(k)", inner)
        let di = temporary(.u32, "\(d) + \(k)", inner)
        let value = "(\(si) < \(src.length) ? \(read(src, si)) : \(Conv.zero(src.type)))"
        let stored = dst.storesWords ? "(\(value) ? 1u : 0u)" : value
        line("if (\(di) < \(dst.length)) \(dst.access)[\(di)] = \(stored);", inner)
        endLoop()
    }

    // MARK: expressions

    /// `text` wrapped in exactly one pair of parentheses.
    private func parenthesized(_ text: String) -> String {
        guard text.first == "(", text.last == ")" else { return "(\(text))" }
        var depth = 0
        for (i, ch) in text.enumerated() {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            // The first parenthesis closes before the end: the outer pair does not enclose it all.
            if depth == 0 && i < text.count - 1 { return "(\(text))" }
        }
        return text
    }

    private func isSimple(_ e: Expr) -> Bool {
        switch e {
        case .literal, .variable, .builtin, .length, .parameter: true
        default: false
        }
    }

    private func isLiteral(_ e: Expr) -> Bool {
        if case .literal = e { return true }
        return false
    }

    private func constantIndex(_ e: Expr) -> UInt32? {
        if case .literal(.u32(let v)) = e { return v }
        return nil
    }

    /// Constant indices from here up are hidden from compilers (see `indexText`): no buffer is
    /// that large on common devices, and a smaller constant is always safe to write plainly.
    static let largestPlainIndex: UInt32 = 1 << 20

    /// An index rendered once: simple expressions inline, anything else into a temporary, because
    /// the bounds check and the access both use it.
    private mutating func indexText(_ index: Expr, at path: String, _ indent: Int, _ ctx: Context) -> String {
        if let literal = constantIndex(index), literal >= Self.largestPlainIndex {
            // Compilers check constant subscripts at compile time, even in a branch never taken:
            // as signed ints ("index must be >= 0", past INT_MAX) and against the largest buffer
            // the device can bind (NVIDIA 580: C1068 "array index out of bounds" for 2^31 - 1 into
            // a 2 GiB block). Large constants go through vy_zero, out of their sight.
            usesOpaque = true
            return "(\(literal)u ^ vy_zero)"
        }
        let text = expr(index, at: path, indent, ctx)
        return isSimple(index) ? text : temporary(.u32, text, indent)
    }

    private func read(_ m: Memory, _ index: String) -> String {
        m.storesWords ? "(\(m.access)[\(index)] != 0u)" : "\(m.access)[\(index)]"
    }

    private func isFloatChain(_ e: Expr) -> Bool {
        switch e {
        case .binary(let op, _, _): op == .add || op == .sub || op == .mul || op == .div
        case .unary(.negate, _), .fma: true
        default: false
        }
    }

    /// Expression text for `e`, found at `path`, with no surrounding whitespace.
    private mutating func expr(_ e: Expr, at path: String, _ indent: Int, _ ctx: Context) -> String {
        let t = analysis.type(at: path)
        if t.isFloat, let value = Semantics.constantValue(of: e) {
            // Float constants are computed here, by the IR's own rules, so the driver never folds
            // them; zeros and non-finite values are also hidden from folds around them.
            let literal = Conv.literal(value)
            let isZeroOrSpecial: Bool = switch value {
            case .f32(let f): f == 0 || !f.isFinite
            case .f64(let d): d == 0 || !d.isFinite
            default: false
            }
            guard isZeroOrSpecial else { return literal }
            let h = Helper.opaque(t)
            helpers.insert(h)
            usesOpaque = true
            return "\(h.name)(\(literal))"
        }
        if t.isFloat && isFloatChain(e) && !ctx.inFloatChain {
            // Float arithmetic ends in a precise temporary, so no driver may contract or reorder it.
            // Without precise, every operation gets a temporary of its own.
            var inner = ctx
            inner.inFloatChain = hasPrecise
            return temporary(t, render(e, at: path, t, indent, inner), indent, precise: true)
        }
        var inner = ctx
        inner.inFloatChain = t.isFloat && isFloatChain(e) && ctx.inFloatChain
        return render(e, at: path, t, indent, inner)
    }

    private mutating func render(_ e: Expr, at path: String, _ t: DataType, _ indent: Int, _ ctx: Context) -> String {
        func sub(_ x: Expr, _ label: String) -> String { expr(x, at: "\(path).\(label)", indent, ctx) }
        // The one operand of a unary operator, a cast or a bitcast.
        let operandLabel = if case .unary = e { PathLabel.argument(0) } else { PathLabel.value }
        func typeOfOperand() -> DataType { analysis.type(at: "\(path).\(operandLabel)") }
        switch e {
        case .literal(let v):
            return Conv.literal(v)
        case .variable(let name):
            return namer.variable(name)
        case .length(let name):
            return memories[name]!.length
        case .builtin(let b):
            if b == .loopCuts { readsLoopCuts = true }
            return Conv.builtin(b)
        case .parameter(let name):
            return namer.parameter(name)
        case .load(let name, let index):
            let m = memories[name]!
            let i = indexText(index, at: "\(path).\(PathLabel.index)", indent, ctx)
            let text: String
            if let literal = constantIndex(index), let count = m.fixedCount, literal >= count {
                text = opaqueZero(m.type)
            } else if let literal = constantIndex(index), let count = m.fixedCount, literal < count {
                text = read(m, i)
            } else {
                text = "(\(i) < \(m.length) ? \(read(m, i)) : \(Conv.zero(m.type)))"
            }
            return ctx.hoistLoads ? temporary(m.type, text, indent) : text
        case .unary(let op, let a):
            let operandType = typeOfOperand()
            let x = sub(a, operandLabel)
            switch op {
            case .negate: return "(-\(x))"
            case .not: return "(!\(x))"
            case .bitNot: return "(~\(x))"
            case .popcount where target.language.isES:
                // GLSL ES gives bitCount a lowp result, and an operation whose other operands are
                // constants (which have no precision) is then lowp too: llvmpipe compared
                // `floatBitsToUint(-4.25) > uint(bitCount(x))` in 16 bits. A function's result
                // has the default (highp) precision.
                helpers.insert(.popcount)
                return "vy_popcount(\(x))"
            case .popcount: return "uint(bitCount(\(x)))"
            case .countLeadingZeros:
                helpers.insert(.clz)
                return "vy_clz(\(operandType == .u32 ? x : "uint(\(x))"))"
            case .countTrailingZeros:
                helpers.insert(.ctz)
                return "vy_ctz(\(operandType == .u32 ? x : "uint(\(x))"))"
            case .reverseBits: return "bitfieldReverse(\(x))"
            case .abs where operandType.isSignedInteger:
                let h = Helper.absolute(operandType)
                helpers.insert(h)
                return "\(h.name)(\(x))"
            case .floor, .ceil, .trunc, .round:
                // x is used twice: once rounded, once for the sign of a zero result.
                let operand = isSimple(a) ? x : temporary(operandType, x, indent)
                let h = Helper.zeroSign(operandType)
                helpers.insert(h)
                return "\(h.name)(\(Conv.floatFunction(op)!)(\(operand)), \(operand))"
            default:
                return "\(Conv.floatFunction(op)!)(\(x))"
            }
        case .binary(let op, let a, let b):
            let operandType = analysis.type(at: "\(path).\(PathLabel.argument(0))")
            let x = sub(a, PathLabel.argument(0))
            let y = sub(b, PathLabel.argument(1))
            switch op {
            case .div where operandType.isInteger, .rem:
                let h = Helper.divide(operandType, remainder: op == .rem)
                helpers.insert(h)
                return "\(h.name)(\(x), \(y))"
            case .div:
                return "(\(x) / \(y))"
            case .shl, .shr:
                let mask = operandType.is64Bit ? "63u" : "31u"
                return "(\(x) \(op == .shl ? "<<" : ">>") (\(y) & \(mask)))"
            case .min, .max:
                // Floats: GLSL's definition written out (NaN, signed zero). 64-bit integers: the
                // int64 extension's min/max overloads are missing from some compilers.
                if operandType.isFloat || operandType.is64Bit {
                    let h = Helper.minMax(operandType, max: op == .max, precise: hasPrecise)
                    if hasPrecise { usesPrecise = true } else { usesOpaque = true }
                    helpers.insert(h)
                    return "\(h.name)(\(x), \(y))"
                }
                return "\(op.rawValue)(\(x), \(y))"
            case .add where operandType.isFloat && !hasPrecise, .sub where operandType.isFloat && !hasPrecise:
                // Without precise, compilers fold x - x and x + (-x) to 0 (wrong for infinities
                // and NaN), seeing that both sides are one value: the right one is hidden.
                // Through an add, not the XOR that made it exact: two XORs with vy_zero cancel.
                helpers.insert(.apart)
                usesOpaque = true
                return "(\(x) \(Conv.infix(op)!) vy_apart_f32(\(y)))"
            default:
                return "(\(x) \(Conv.infix(op)!) \(y))"
            }
        case .select(let c, let a, let b):
            let cond = sub(c, PathLabel.select(0))
            let x = sub(a, PathLabel.select(1))
            let y = sub(b, PathLabel.select(2))
            return "(\(cond) ? \(x) : \(y))"
        case .cast(let to, let a):
            return convert(sub(a, operandLabel), from: typeOfOperand(), to: to)
        case .bitcast(let to, let a):
            let from = typeOfOperand()
            let x = sub(a, operandLabel)
            switch (from, to) {
            case _ where from == to:
                return x
            case (.f64, _):
                helpers.insert(.doubleBits)
                return to == .u64 ? "vy_f64_bits(\(x))" : "int64_t(vy_f64_bits(\(x)))"
            case (_, .f64):
                helpers.insert(.doubleFromBits)
                usesOpaque = true
                return "vy_f64_from_bits(\(from == .u64 ? x : "uint64_t(\(x))") ^ uint64_t(vy_zero))"
            case (.u32, .f32):
                usesOpaque = true
                return "uintBitsToFloat(\(x) ^ vy_zero)"
            case (.i32, .f32):
                usesOpaque = true
                return "intBitsToFloat(\(x) ^ int(vy_zero))"
            default:
                return "\(Conv.bitcastFunction(from: from, to: to))(\(x))"
            }
        case .fma(let a, let b, let c):
            let x = sub(a, PathLabel.fma(0))
            let y = sub(b, PathLabel.fma(1))
            let z = sub(c, PathLabel.fma(2))
            if t == .f32 && !target.supports(.doubleType) {
                helpers.insert(.fmaF32)
                usesOpaque = true
                return "vy_fma_f32(\(x), \(y), \(z))"
            }
            if t == .f32 {
                // The product of two floats is exact in double, so whether or not the driver fuses
                // this, the sum is rounded once to double and then to float: the same everywhere.
                return "float((double(\(x)) * double(\(y))) + double(\(z)))"
            }
            // No wider type for doubles, and drivers differ on fusing: round the product, then the sum.
            let product = temporary(.f64, "(\(x) * \(y))", indent, precise: true)
            return "(\(product) + \(z))"
        case .atomic(let op, let name, let index, let value):
            let m = memories[name]!
            let i = indexText(index, at: "\(path).\(PathLabel.index)", indent, ctx)
            let v = sub(value, PathLabel.value)
            let result = temporary(m.type, Conv.zero(m.type), indent)
            let function = ["add": "atomicAdd", "and": "atomicAnd", "or": "atomicOr", "xor": "atomicXor",
                            "min": "atomicMin", "max": "atomicMax", "exchange": "atomicExchange"][op.rawValue]!
            line("if (\(i) < \(m.length)) \(result) = \(function)(\(m.access)[\(i)], \(v));", indent)
            return result
        case .compareExchange(let name, let index, let expected, let desired):
            let m = memories[name]!
            let i = indexText(index, at: "\(path).\(PathLabel.index)", indent, ctx)
            let x = sub(expected, PathLabel.expected)
            let d = sub(desired, PathLabel.desired)
            let result = temporary(m.type, Conv.zero(m.type), indent)
            line("if (\(i) < \(m.length)) \(result) = atomicCompSwap(\(m.access)[\(i)], \(x), \(d));", indent)
            return result
        }
    }

    /// The zero of a type, in a form no compiler can prove to be zero (see `Helper.opaque`).
    private mutating func opaqueZero(_ t: DataType) -> String {
        usesOpaque = true
        switch t {
        case .u32: return "vy_zero"
        case .i32: return "int(vy_zero)"
        case .bool: return "(vy_zero != 0u)"
        case .u64: return "uint64_t(vy_zero)"
        case .i64: return "int64_t(vy_zero)"
        case .f32, .f64:
            let h = Helper.opaque(t)
            helpers.insert(h)
            return "\(h.name)(\(Conv.zero(t)))"
        }
    }

    /// Value conversion text, by the IR's rules (see `Semantics.cast`).
    private mutating func convert(_ x: String, from: DataType, to: DataType) -> String {
        if from == to { return x }
        if to == .bool { return "(\(x) != \(Conv.zero(from)))" }
        if to.isFloat && !from.isFloat {
            // A compiler that can prove the converted value is zero folds `0.0 * y` to +0.0 even
            // under precise; the XOR with vy_zero keeps integer constants out of its reach.
            usesOpaque = true
            switch from {
            case .bool: return "\(Conv.scalar(to))(uint(\(x)) ^ vy_zero)"
            case .u32: return "\(Conv.scalar(to))(\(x) ^ vy_zero)"
            case .i32: return "\(Conv.scalar(to))(\(x) ^ int(vy_zero))"
            case .u64: return "\(Conv.scalar(to))(\(x) ^ uint64_t(vy_zero))"
            default: return "\(Conv.scalar(to))(\(x) ^ int64_t(vy_zero))"
            }
        }
        if from == .bool {
            switch to {
            case .u64: return "uint64_t(uint(\(x)))"
            case .i64: return "int64_t(int(\(x)))"
            default: return "\(Conv.scalar(to))(\(x))"
            }
        }
        if from.isFloat && to.isInteger {
            let h = Helper.floatToInt(from: from, to: to)
            helpers.insert(h)
            return "\(h.name)(\(x))"
        }
        switch (from, to) {
        // Narrowing from 64 bits keeps the low word; masking first keeps the conversion in range.
        case (.u64, .u32), (.i64, .u32): return "uint(uint64_t(\(x)) & 0xFFFFFFFFul)"
        case (.u64, .i32), (.i64, .i32): return "int(uint(uint64_t(\(x)) & 0xFFFFFFFFul))"
        // Widening a signed value sign-extends before any reinterpretation.
        case (.i32, .u64): return "uint64_t(int64_t(\(x)))"
        default: return "\(Conv.scalar(to))(\(x))"
        }
    }
}
