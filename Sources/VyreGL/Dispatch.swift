import CEGL
public import VyreIR
import VyreGLSL

/// How a dispatch runs.
public struct DispatchOptions: Sendable, Hashable {
    /// Iterations each `forever` loop may run before the program ends by itself.
    public var foreverBudget: UInt32
    /// How long to wait for the dispatch to finish before reporting a timeout.
    public var timeout: Duration
    /// Values of the program's `parameter` expressions.
    public var parameters: [String: UInt32]

    public init(foreverBudget: UInt32 = 1 << 16, timeout: Duration = .seconds(60), parameters: [String: UInt32] = [:]) {
        self.foreverBudget = foreverBudget
        self.timeout = timeout
        self.parameters = parameters
    }
}

/// The first trapped invocation of a dispatch and how many trapped in all.
public struct TrapReport: Sendable, Hashable, Codable {
    public var count: UInt32
    public var code: UInt32
    public var invocation: UInt32

    public init(count: UInt32, code: UInt32, invocation: UInt32) {
        self.count = count
        self.code = code
        self.invocation = invocation
    }
}

/// What one dispatch did.
public struct DispatchReport: Sendable, Hashable {
    /// Submit to fence signalled, measured on the context thread.
    public var gpuTime: Duration
    public var trap: TrapReport?
}

extension GLContext {
    /// Runs `pipeline` over `groups` workgroups with `buffers` bound by binding, and waits for it.
    ///
    /// Every buffer the program declares must be bound, from this context, at least as large as its
    /// declared count. A trap record buffer is supplied automatically when the program can trap.
    public func dispatch(_ pipeline: borrowing ComputePipeline, groups: WorkgroupSize, buffers: [UInt32: BufferHandle],
                         options: DispatchOptions = DispatchOptions()) throws(VyreGLError) -> DispatchReport {
        let limits = info.limits
        guard groups.x >= 1, groups.y >= 1, groups.z >= 1,
              groups.x <= limits.maxWorkgroupCount[0], groups.y <= limits.maxWorkgroupCount[1], groups.z <= limits.maxWorkgroupCount[2] else {
            throw .gridTooLarge(requested: groups, limit: limits.maxGrid)
        }
        var bindings: [(UInt32, UInt32)] = []
        for decl in pipeline.program.buffers {
            guard let handle = buffers[decl.binding] else { throw .missingBuffer(decl.name) }
            guard handle.contextSerial == serial else {
                throw .glFailure(call: "binding buffer '\(decl.name)' made by another GLContext", code: GLErrorCode(0x0502))
            }
            let needed = Int(decl.count ?? 0) * decl.elementType.byteCount
            guard handle.byteCount >= needed else { throw .bufferTooSmall(name: decl.name, bytes: handle.byteCount, needed: needed) }
            bindings.append((decl.binding, handle.name))
        }
        var trapBuffer: DeviceBuffer? = nil
        if let binding = pipeline.lowered.trapBinding {
            let t = try makeDeviceBuffer(bytes: LoweredProgram.TrapWord.words * 4)
            bindings.append((binding, t.handle.name))
            trapBuffer = consume t
        }
        let program = pipeline.name
        var uniforms: [(Int32, UInt32)] = []
        if pipeline.budgetLocation >= 0 { uniforms.append((pipeline.budgetLocation, options.foreverBudget)) }
        for l in pipeline.lengthLocations {
            uniforms.append((l.location, UInt32(clamping: buffers[l.binding]!.byteCount / l.elementBytes)))
        }
        for p in pipeline.parameterLocations {
            guard let value = options.parameters[p.name] else { throw .missingParameter(p.name) }
            if p.location >= 0 { uniforms.append((p.location, value)) }
        }
        let timeout = options.timeout
        let gpuTime = try onThread { gl throws(VyreGLError) in
            try gl.dispatch(program: program, bindings: bindings, groups: groups, uniforms: uniforms, timeout: timeout)
        }
        var trap: TrapReport? = nil
        if let t = trapBuffer {
            let w = try t.readAll()
            if w[LoweredProgram.TrapWord.count] > 0 {
                trap = TrapReport(count: w[LoweredProgram.TrapWord.count], code: w[LoweredProgram.TrapWord.code], invocation: w[LoweredProgram.TrapWord.invocation])
            }
        }
        return DispatchReport(gpuTime: gpuTime, trap: trap)
    }
}

extension GLState {
    func dispatch(program: GLuint, bindings: [(UInt32, UInt32)], groups: WorkgroupSize, uniforms: [(Int32, UInt32)], timeout: Duration) throws(VyreGLError) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        glUseProgram(program)
        for (binding, name) in bindings { glBindBufferBase(GLenum(GL_SHADER_STORAGE_BUFFER), binding, name) }
        for (location, value) in uniforms { glUniform1ui(location, value) }
        try check("binding the program and its buffers")
        glDispatchCompute(groups.x, groups.y, groups.z)
        // Shader writes must be visible to later readbacks, copies and mapped reads.
        glMemoryBarrier(GLbitfield(GL_SHADER_STORAGE_BARRIER_BIT | GL_BUFFER_UPDATE_BARRIER_BIT | GL_CLIENT_MAPPED_BUFFER_BARRIER_BIT))
        try check("glDispatchCompute(\(groups.x), \(groups.y), \(groups.z))")
        try waitForGPU(timeout: timeout, what: "compute dispatch of \(groups) workgroups")
        return clock.now - start
    }

    /// Fences everything submitted so far and waits for it, up to `timeout`.
    func waitForGPU(timeout: Duration, what: String) throws(VyreGLError) {
        guard let fence = glFenceSync(GLenum(GL_SYNC_GPU_COMMANDS_COMPLETE), 0) else {
            try check("glFenceSync")
            throw .glFailure(call: "glFenceSync", code: GLErrorCode(0x0502))
        }
        defer { glDeleteSync(fence) }
        let nanoseconds = UInt64(max(0, timeout.components.seconds)) * 1_000_000_000 + UInt64(max(0, timeout.components.attoseconds / 1_000_000_000))
        let result = Int32(bitPattern: glClientWaitSync(fence, GLbitfield(GL_SYNC_FLUSH_COMMANDS_BIT), nanoseconds))
        switch result {
        case GL_ALREADY_SIGNALED, GL_CONDITION_SATISFIED:
            return
        case GL_TIMEOUT_EXPIRED:
            if let status = resetStatus() { throw .contextLost(status: status) }
            throw .timeout(seconds: Double(nanoseconds) / 1e9, what: what)
        default:
            if let status = resetStatus() { throw .contextLost(status: status) }
            try check("glClientWaitSync")
            throw .glFailure(call: "glClientWaitSync", code: GLErrorCode(0x0502))
        }
    }
}
