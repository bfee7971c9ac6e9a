import CEGL
public import VyreIR
import VyreGLSL

/// How a dispatch runs.
public struct DispatchOptions: Sendable, Hashable {
    /// The default budget of `forever` loops: well inside the 65,535 loop iterations llvmpipe
    /// allows one invocation, so a forever loop that spends it leaves room for other loops.
    public static let defaultForeverBudget: UInt32 = 1 << 14

    /// Iterations each `forever` loop may run before the program ends by itself.
    public var foreverBudget: UInt32
    /// How long the submission may run. Past it the host sets the status block's abort word, every
    /// guarded loop stops at its next poll, and the call throws ``VyreGLError/timeout(seconds:what:stopped:)``;
    /// the context stays usable. This works on every driver, llvmpipe included, where the
    /// dispatch runs on the calling thread.
    public var timeout: Duration
    /// Values of the program's `parameter` expressions.
    public var parameters: [String: UInt32]
    /// Bytes of bound buffers, by binding, that the work only reads. Where mapped buffers are
    /// host copies (a context without persistent mapping) they are uploaded but not read back,
    /// as a buffer the program declares read-only never is; a write the work makes there would
    /// not reach the host on that path. Elsewhere it changes nothing.
    public var readOnlyBytes: [UInt32: Range<Int>] = [:]

    /// Options for a dispatch; by default a 60-second timeout, ``defaultForeverBudget`` and no
    /// parameters.
    public init(foreverBudget: UInt32 = DispatchOptions.defaultForeverBudget, timeout: Duration = .seconds(60), parameters: [String: UInt32] = [:]) {
        self.foreverBudget = foreverBudget
        self.timeout = timeout
        self.parameters = parameters
    }
}

/// The first trapped invocation of a dispatch and how many trapped in all.
public struct TrapReport: Sendable, Hashable {
    /// Invocations that trapped.
    public var count: UInt32
    /// The first invocation that trapped and its code, as the interpreter records every trap.
    public var first: TrapRecord

    /// A report of `count` traps, the first with `code` at linear global index `invocation` (the
    /// runtime makes them from the status block; tests compare).
    public init(count: UInt32, code: UInt32, invocation: UInt32) {
        self.init(count: count, first: TrapRecord(invocation: invocation, code: code))
    }

    /// A report of `count` traps, the first being `first`.
    public init(count: UInt32, first: TrapRecord) {
        self.count = count
        self.first = first
    }

    /// The trap code of the first invocation that trapped.
    public var code: UInt32 { first.code }
    /// Linear global index of the first invocation that trapped.
    public var invocation: UInt32 { first.invocation }
}

/// One dispatch of a multi-step submission: its workgroups and parameter values.
public struct DispatchStep: Sendable, Hashable {
    /// Workgroups along x, y and z: each at least 1 and within ``DeviceLimits/maxGrid``.
    public var groups: WorkgroupSize
    /// Values of the program's `parameter` expressions for this step; each one it reads must be here.
    public var parameters: [String: UInt32]

    /// A step over `groups` workgroups with these parameter values.
    public init(groups: WorkgroupSize, parameters: [String: UInt32] = [:]) {
        self.groups = groups
        self.parameters = parameters
    }
}

/// Words to write into a buffer before the dispatches of a submission.
public struct BufferUpload: Sendable, Hashable {
    /// The buffer to write, made by the dispatching context.
    public var buffer: BufferHandle
    /// The first word written.
    public var wordOffset: Int
    /// The words to write.
    public var words: [UInt32]

    /// Words to write into `buffer` from word `wordOffset`; checked against its size when submitted.
    public init(_ buffer: BufferHandle, atWord wordOffset: Int = 0, _ words: [UInt32]) {
        self.buffer = buffer
        self.wordOffset = wordOffset
        self.words = words
    }
}

/// A GPU-side copy after the dispatches of a submission (into mapped memory, typically, so the
/// host reads results without a readback call).
public struct BufferCopy: Sendable, Hashable {
    /// The buffer copied from.
    public var source: BufferHandle
    /// The first word read in `source`.
    public var sourceWordOffset: Int
    /// The buffer copied into.
    public var destination: BufferHandle
    /// The first word written in `destination`.
    public var destinationWordOffset: Int
    /// Words copied.
    public var words: Int

    /// A copy of `words` words of `source` from word `sourceWordOffset` into `destination` from
    /// word `destinationWordOffset`; checked against both sizes when submitted.
    public init(from source: BufferHandle, word sourceWordOffset: Int = 0, to destination: BufferHandle, atWord destinationWordOffset: Int = 0, words: Int) {
        self.source = source
        self.sourceWordOffset = sourceWordOffset
        self.destination = destination
        self.destinationWordOffset = destinationWordOffset
        self.words = words
    }
}

/// Loops that the driver ended before their own exit (see `LoopGuards.detectDriverCuts`). Made
/// by the runtime from the status block, never by callers.
public struct LoopCutReport: Sendable, Hashable, Codable {
    /// Invocations in which the driver cut a loop.
    public var invocations: UInt32
    /// The IR node path of the first loop cut in the reported invocation (or what the lowering
    /// wrote the loop for).
    public var site: String
    /// Linear global index of the reported invocation (the first to finish with a cut).
    public var invocation: UInt32
}

/// What one dispatch did.
public struct DispatchReport: Sendable, Hashable {
    /// Submit to fence signalled, measured on the context thread.
    public var gpuTime: Duration
    /// The first trap and how many trapped; nil when no invocation trapped.
    public var trap: TrapReport?
    /// Only for programs that handle cuts themselves (they read `loop_cuts`); for any other
    /// program a cut is thrown as ``VyreGLError/driverLoopLimit(_:limit:renderer:)``.
    public var loopCut: LoopCutReport?
    /// The submission ended by itself after its timeout. Nothing in it could be stopped (a
    /// program without loops has nothing that polls the abort word), so it ran to the end and its
    /// results are complete; callers that promised a deadline should say it was missed.
    public var ranPastTimeout: Bool

    init(gpuTime: Duration, timeout: Duration, status: [UInt32]?, sites: [String]) {
        typealias W = LoweredProgram.StatusWord
        self.gpuTime = gpuTime
        self.ranPastTimeout = gpuTime > timeout
        guard let w = status else { return }
        if w[W.trapCount] > 0 { trap = TrapReport(count: w[W.trapCount], code: w[W.trapCode], invocation: w[W.trapInvocation]) }
        if w[W.cutInvocations] > 0 {
            let site = Int(w[W.cutSite])
            loopCut = LoopCutReport(invocations: w[W.cutInvocations], site: sites.indices.contains(site) ? sites[site] : "loop \(site)", invocation: w[W.cutInvocation])
        }
    }
}

extension GLContext {
    /// Runs `pipeline` over `groups` workgroups with `buffers` bound by binding, and waits for it.
    ///
    /// Every buffer the program declares must be bound, from this context, at least as large as its
    /// declared count. A trap record buffer is supplied automatically when the program can trap.
    public func dispatch(_ pipeline: borrowing ComputePipeline, groups: WorkgroupSize, buffers: [UInt32: BufferHandle],
                         options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> DispatchReport {
        try submit(pipeline, steps: [DispatchStep(groups: groups, parameters: options.parameters)], buffers: buffers, options: options)
    }

    /// Uploads, then runs `steps` one after another (each sees the previous one's writes), then
    /// copies, then waits once for all of it. The whole submission is one job on the context thread.
    /// `monitor` lets another thread see when the job has begun there and stop it.
    public func submit(_ pipeline: borrowing ComputePipeline, steps: [DispatchStep], buffers: [UInt32: BufferHandle],
                       uploads: [BufferUpload] = [], copies: [BufferCopy] = [],
                       options: DispatchOptions = DispatchOptions(), monitor: SubmissionMonitor? = nil) throws(VyreGLError) -> DispatchReport {
        let limits = info.limits
        for step in steps {
            let groups = step.groups
            guard groups.x >= 1, groups.y >= 1, groups.z >= 1,
                  groups.x <= limits.maxWorkgroupCount[0], groups.y <= limits.maxWorkgroupCount[1], groups.z <= limits.maxWorkgroupCount[2] else {
                throw .gridTooLarge(requested: groups, limit: limits.maxGrid)
            }
            // llvmpipe counts a dispatch's workgroups in 32 bits: past that it runs the count
            // modulo 2^32 and reports success (65535^3 ran 196,607 workgroups).
            let total = UInt64(groups.x) * UInt64(groups.y) * UInt64(groups.z)
            if info.isSoftware && total > UInt64(UInt32.max) {
                throw .gridTooLargeInAll(requested: groups, limit: UInt64(UInt32.max))
            }
        }
        for h in uploads.map(\.buffer) + copies.flatMap({ [$0.source, $0.destination] }) where h.contextSerial != serial {
            throw .foreignBuffer("buffer \(h.name) (an upload or copy)")
        }
        for u in uploads where u.wordOffset < 0 || (u.wordOffset + u.words.count) * 4 > u.buffer.byteCount {
            throw .bufferTooSmall(name: "upload target \(u.buffer.name)", bytes: u.buffer.byteCount, needed: (u.wordOffset + u.words.count) * 4)
        }
        for c in copies where c.words < 0 || c.sourceWordOffset < 0 || c.destinationWordOffset < 0
            || (c.sourceWordOffset + c.words) * 4 > c.source.byteCount || (c.destinationWordOffset + c.words) * 4 > c.destination.byteCount {
            throw .bufferTooSmall(name: "copy between buffers \(c.source.name) and \(c.destination.name)", bytes: min(c.source.byteCount, c.destination.byteCount),
                                  needed: (max(c.sourceWordOffset, c.destinationWordOffset) + c.words) * 4)
        }
        var bindings: [(UInt32, UInt32, Int)] = []
        var readOnly = options.readOnlyBytes
        for decl in pipeline.program.buffers {
            guard let handle = buffers[decl.binding] else { throw .missingBuffer(decl.name) }
            guard handle.contextSerial == serial else {
                throw .foreignBuffer("buffer '\(decl.name)'")
            }
            let needed = Int(decl.count ?? 0) * decl.elementType.byteCount
            guard handle.byteCount >= needed else { throw .bufferTooSmall(name: decl.name, bytes: handle.byteCount, needed: needed) }
            bindings.append((decl.binding, handle.name, handle.byteCount))
            if decl.access == .readOnly { readOnly[decl.binding] = 0..<handle.byteCount }
        }
        let program = pipeline.name
        let statusBinding = pipeline.lowered.statusBinding
        var shared: [(Int32, UInt32)] = []
        if pipeline.budgetLocation >= 0 { shared.append((pipeline.budgetLocation, options.foreverBudget)) }
        for l in pipeline.lengthLocations {
            shared.append((l.location, UInt32(clamping: buffers[l.binding]!.byteCount / l.elementBytes)))
        }
        var perStep: [(WorkgroupSize, [(Int32, UInt32)])] = []
        for step in steps {
            var uniforms = shared
            for p in pipeline.parameterLocations {
                guard let value = step.parameters[p.name] else { throw .missingParameter(p.name) }
                if p.location >= 0 { uniforms.append((p.location, value)) }
            }
            perStep.append((step.groups, uniforms))
        }
        let timeout = options.timeout
        let (gpuTime, status) = try onThread { gl throws(VyreGLError) in
            try gl.submit(program: program, bindings: bindings, readOnly: readOnly, statusBinding: statusBinding, uploads: uploads, steps: perStep,
                          copies: copies, timeout: timeout, monitor: monitor)
        }
        let report = DispatchReport(gpuTime: gpuTime, timeout: timeout, status: status, sites: pipeline.lowered.loopSites)
        if let cut = report.loopCut, !pipeline.lowered.handlesLoopCuts {
            // The results are wrong: never hand them out as if they were right.
            throw .driverLoopLimit(cut, limit: info.limits.maxLoopIterations, renderer: info.renderer)
        }
        return report
    }
}

extension GLState {
    /// Runs one submission and waits for it; returns its time and, when the program has a status
    /// block and something happened, the words the GPU left in it. Throws a timeout when it ran past `timeout` and had to
    /// be stopped (its results are incomplete).
    func submit(program: GLuint, bindings: [(UInt32, UInt32, Int)], readOnly: [UInt32: Range<Int>] = [:], statusBinding: UInt32?, uploads: [BufferUpload],
                steps: [(WorkgroupSize, [(Int32, UInt32)])], copies: [BufferCopy], timeout: Duration,
                monitor: SubmissionMonitor? = nil) throws(VyreGLError) -> (Duration, [UInt32]?) {
        let clock = ContinuousClock()
        let start = clock.now
        // Only an error needs these words.
        func what() -> String { "\(steps.count) compute dispatch\(steps.count == 1 ? "" : "es")" }
        var status: StatusBlock? = nil
        if statusBinding != nil {
            status = try statusBlock()
            status!.prepare()
        }
        // Where mapped buffers are host copies, uploads into them land there, and the bound ones
        // and copy sources go up before the work.
        let uploads = intoHostCopies(uploads)
        let hostCopies = hostCopiesUsed(bindings: bindings, readOnly: readOnly, status: status, copies: copies)
        try upload(hostCopies)
        for u in uploads { try upload(u.words, into: u.buffer.name, atWord: u.wordOffset) }
        glUseProgram(program)
        for (binding, name, bytes) in bindings { glBindBufferRange(GLenum(GL_SHADER_STORAGE_BUFFER), binding, name, 0, bytes) }
        if let status, let statusBinding {
            glBindBufferRange(GLenum(GL_SHADER_STORAGE_BUFFER), statusBinding, status.buffer, 0, LoweredProgram.StatusWord.words * 4)
        }
        try check("binding the program and its buffers")
        // Armed before the first dispatch: on llvmpipe the dispatch runs on this thread, so only the
        // watchdog (on another thread) can stop a runaway one.
        status?.arm(after: timeout)
        monitor?.began(status)
        defer {
            // The monitor lets go before the block is disarmed: its abort never reaches a later submission.
            monitor?.ended()
            status?.disarm()
        }
        for (groups, uniforms) in steps {
            for (location, value) in uniforms { glUniform1ui(location, value) }
            glDispatchCompute(groups.x, groups.y, groups.z)
            // Each step and every later copy, readback or mapped read sees this step's writes.
            glMemoryBarrier(GLbitfield(GL_SHADER_STORAGE_BARRIER_BIT | GL_BUFFER_UPDATE_BARRIER_BIT | GL_CLIENT_MAPPED_BUFFER_BARRIER_BIT))
        }
        try check("glDispatchCompute (\(steps.count) steps)")
        for c in copies {
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), c.source.name)
            glBindBuffer(GLenum(GL_COPY_WRITE_BUFFER), c.destination.name)
            glCopyBufferSubData(GLenum(GL_COPY_READ_BUFFER), GLenum(GL_COPY_WRITE_BUFFER), c.sourceWordOffset * 4, c.destinationWordOffset * 4, c.words * 4)
        }
        if !copies.isEmpty {
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), 0)
            glBindBuffer(GLenum(GL_COPY_WRITE_BUFFER), 0)
            glMemoryBarrier(GLbitfield(GL_CLIENT_MAPPED_BUFFER_BARRIER_BIT))
            try check("glCopyBufferSubData (\(copies.count) copies)")
        }
        let seconds = Double(timeout.nanosecondsClamped) / 1e9
        do { try waitForGPU(timeout: timeout - (clock.now - start), what: what(), stopping: status) } catch {
            // The work may still have written records: the next submission clears every word.
            status?.mayHoldRecords()
            throw error
        }
        let elapsed = clock.now - start
        // From here on the abort word stays as it is.
        status?.disarm()
        // And host copies come back (the status block's too: an abort the watchdog set there
        // never reached the work, which ran to its end).
        try readBack(hostCopies)
        guard let status else { return (elapsed, nil) }
        let words = status.snapshot()
        // Set by the watchdog or the fence wait: the submission ran past its timeout. Its results
        // may be incomplete (invocations stop at their next poll, and the kernel records nothing
        // about that), so they are never returned.
        if status.abortRequested { throw .timeout(seconds: seconds, what: what(), stopped: true) }
        return (elapsed, words)
    }

    /// How long a submission gets to stop after its abort word is set before the context is
    /// given up on.
    static let abortGrace: Duration = .seconds(10)

    /// Fences everything submitted so far and waits for it, up to `timeout`. When it expires, sets
    /// the abort word where the work can be stopped (`stopping`) and waits up to ``abortGrace``
    /// more; returns normally once the work has ended, so the caller reads what happened. Work
    /// that cannot be stopped (no status block: nothing in it loops) is bounded by its grid, so
    /// the grace lets it finish and report complete results rather than fail on every driver
    /// where the dispatch runs asynchronously.
    func waitForGPU(timeout: Duration, what: @autoclosure () -> String, stopping status: StatusBlock? = nil) throws(VyreGLError) {
        guard let fence = glFenceSync(GLenum(GL_SYNC_GPU_COMMANDS_COMPLETE), 0) else {
            try check("glFenceSync")
            throw .glFailure(call: "glFenceSync", code: GLErrorCode.invalidOperation)
        }
        defer { glDeleteSync(fence) }
        if try wait(fence, timeout) { return }
        if let status = resetStatus() { throw .contextLost(status: status) }
        let seconds = Double(max(0, timeout.nanosecondsClamped)) / 1e9
        status?.abort()
        if try wait(fence, Self.abortGrace) { return }
        if let reset = resetStatus() { throw .contextLost(status: reset) }
        throw .timeout(seconds: seconds, what: what(), stopped: false)
    }

    /// Waits for `fence`; true once signalled, false when `timeout` passed first.
    private func wait(_ fence: GLsync, _ timeout: Duration) throws(VyreGLError) -> Bool {
        let nanoseconds = UInt64(max(0, timeout.nanosecondsClamped))
        switch Int32(bitPattern: glClientWaitSync(fence, GLbitfield(GL_SYNC_FLUSH_COMMANDS_BIT), nanoseconds)) {
        case GL_ALREADY_SIGNALED, GL_CONDITION_SATISFIED:
            return true
        case GL_TIMEOUT_EXPIRED:
            return false
        default:
            if let status = resetStatus() { throw .contextLost(status: status) }
            try check("glClientWaitSync")
            throw .glFailure(call: "glClientWaitSync", code: GLErrorCode.invalidOperation)
        }
    }
}
