import CEGL
import Logging
import Foundation
import Synchronization
import VyreGLSL
import VyreIR

/// The GL side of a context. Confined to the context thread: only `GLContext.onThread` and jobs
/// queued on that thread touch it, which is why the unchecked Sendable conformance is sound.
/// Methods are thin: one GL concern each, errors checked and typed.
final class GLState: @unchecked Sendable {
    let display: EGLDisplay
    let context: EGLContext
    let surface: EGLSurface?
    let debug: DebugSink
    var closed = false
    let robust: Bool
    /// Made on first use by a program that loops or traps (see ``StatusBlock``).
    private var status: StatusBlock?
    /// OpenGL ES clears copy from this buffer of zeros (see `zeroPiece`).
    var zeros: UInt32?
    /// OpenGL ES reads copy through this buffer (see `stagingBuffer`).
    var staging: (name: UInt32, bytes: Int)?
    /// Mapped buffers' host copies by buffer name, where the context has no buffer storage (see ``HostCopy``).
    var hostCopies: [UInt32: HostCopy] = [:]
    /// Set by ``GLContext/simulateReset()``: the context acts as lost.
    let simulatedReset = Atomic<Bool>(false)

    /// The client API of the context.
    let api: GraphicsAPI
    /// Entry points whose name or presence depends on the API (set once, right after creation).
    var entryPoints = GLEntryPoints.none

    private init(display: EGLDisplay, context: EGLContext, surface: EGLSurface?, debug: DebugSink, robust: Bool, api: GraphicsAPI) {
        self.api = api
        self.display = display
        self.context = context
        self.surface = surface
        self.debug = debug
        self.robust = robust
    }

    // MARK: bring-up

    static func create(selection: DeviceSelection, api requested: APISelection, limits: LimitsProfile?, debug wantDebug: Bool,
                       logger: Logger) throws(VyreGLError) -> (GLState, GLContextInfo) {
        var profile = LimitsProfile.device
        if let limits { profile = limits } else if let fromEnvironment = try LimitsProfile.environment() { profile = fromEnvironment }
        var choice = APIChoice.requested
        var api = requested
        if requested == .automatic, let fromEnvironment = try APISelection.environment() {
            api = fromEnvironment
            choice = .environment
        }
        return try Devices.open(selection) { [choice, api] display, origin, device, node throws(VyreGLError) in
            var choice = choice
            let made: MadeContext
            do throws(VyreGLError) { made = try makeContext(display: display, api: api, debug: wantDebug, logger: logger, choice: &choice) } catch {
                // A node's driver that offers neither API: say which node.
                if origin == .gbm, let node, case .glTooOld(let found, let missing) = error { throw .glTooOld(found: "\(found) on \(node)", missing: missing) }
                throw error
            }
            let state = made.state
            do throws(VyreGLError) {
                let info = try state.describe(made, origin: origin, device: device, renderNode: node, choice: choice, profile: profile)
                return (state, info)
            } catch {
                state.destroy()
                throw error
            }
        }
    }

    /// A context for the API selection (resolved from the environment already): GL, ES, or GL
    /// with ES as the fallback; `choice` becomes what the automatic choice found.
    private static func makeContext(display: EGLDisplay, api: APISelection, debug wantDebug: Bool, logger: Logger,
                                    choice: inout APIChoice) throws(VyreGLError) -> MadeContext {
        let made: MadeContext
        switch api {
        case .gl: made = try makeContext(display: display, api: .gl, debug: wantDebug, logger: logger)
        case .gles: made = try makeContext(display: display, api: .gles, debug: wantDebug, logger: logger)
        case .automatic:
            do throws(VyreGLError) {
                made = try makeContext(display: display, api: .gl, debug: wantDebug, logger: logger)
                choice = .preferred
            } catch {
                guard case .glTooOld(let found, _) = error else { throw error }
                logger.debug("no OpenGL 4.3 core context; trying OpenGL ES 3.1", metadata: ["found": "\(found)"])
                made = try makeContext(display: display, api: .gles, debug: wantDebug, logger: logger)
                choice = .fallback(reason: found)
            }
        }
        return made
    }

    /// A context just made current, with what its creation found out.
    struct MadeContext {
        let state: GLState
        let extensions: Set<String>
        let displayExtensions: Set<String>
        let configless: Bool
        let robustOffered: Bool
        let version: Int
        let versionString: String
    }

    /// Creates a context for `api` on `display` and makes it current on this thread: robust
    /// (lose context on reset) where offered, surfaceless where offered. Throws `glTooOld` when
    /// the device has no such context, or one too old.
    private static func makeContext(display: EGLDisplay, api: GraphicsAPI, debug wantDebug: Bool,
                                    logger: Logger) throws(VyreGLError) -> MadeContext {
        let displayExtensions = EGL.words(eglQueryString(display, EGL_EXTENSIONS))
        let bindName = api == .gl ? "eglBindAPI(EGL_OPENGL_API)" : "eglBindAPI(EGL_OPENGL_ES_API)"
        guard eglBindAPI(EGLenum(api == .gl ? EGL_OPENGL_API : EGL_OPENGL_ES_API)) == EGL_TRUE else {
            throw .glTooOld(found: "no \(api) client API (\(bindName): \(EGL.lastError))", missing: "an \(api) context")
        }
        let configless = displayExtensions.contains("EGL_KHR_no_config_context") || displayExtensions.contains("EGL_MESA_configless_context")
        var config: EGLConfig? = vyre_egl_no_config()
        if !configless {
            let renderable = api == .gl ? EGL_OPENGL_BIT : EGL_OPENGL_ES3_BIT
            let wanted: [EGLint] = [EGL_RENDERABLE_TYPE, renderable, EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_NONE]
            var count: EGLint = 0
            guard eglChooseConfig(display, wanted, &config, 1, &count) == EGL_TRUE, count > 0 else {
                throw .glTooOld(found: "no EGL config for \(api) with a pbuffer (eglChooseConfig: \(EGL.lastError))", missing: "an \(api) context")
            }
        }
        let robustOffered = displayExtensions.contains("EGL_EXT_create_context_robustness") || eglVersionAtLeast15(display)
        var created: (EGLContext, Bool)? = nil
        var lastCode = EGLErrorCode(EGL_SUCCESS)
        for attempt in contextAttempts(api: api, robustOffered: robustOffered, debug: wantDebug) {
            if let c = eglCreateContext(display, config, vyre_egl_no_context(), attempt.attrs) {
                created = (c, attempt.robust)
                break
            }
            lastCode = EGL.lastError
            logger.debug("eglCreateContext declined", metadata: ["api": "\(api)", "robust": "\(attempt.robust)", "error": "\(lastCode)"])
        }
        guard let (context, robust) = created else {
            throw .glTooOld(found: "no \(api) context (eglCreateContext: \(lastCode))", missing: "an \(api) context")
        }
        var surface: EGLSurface? = vyre_egl_no_surface()
        if !displayExtensions.contains("EGL_KHR_surfaceless_context") {
            let attrs: [EGLint] = [EGL_WIDTH, 1, EGL_HEIGHT, 1, EGL_NONE]
            surface = eglCreatePbufferSurface(display, config, attrs)
            if surface == nil {
                eglDestroyContext(display, context)
                throw .eglFailure(call: "eglCreatePbufferSurface (no surfaceless contexts)", code: EGL.lastError)
            }
        }
        guard eglMakeCurrent(display, surface, surface, context) == EGL_TRUE else {
            let code = EGL.lastError
            if let surface, surface != vyre_egl_no_surface() { eglDestroySurface(display, surface) }
            eglDestroyContext(display, context)
            throw .eglFailure(call: "eglMakeCurrent", code: code)
        }
        let sink = DebugSink(logger: logger)
        let state = GLState(display: display, context: context, surface: surface, debug: sink, robust: robust, api: api)
        let extensions = state.glExtensions()
        let version = state.integer(GL_MAJOR_VERSION) * 10 + state.integer(GL_MINOR_VERSION)
        let versionString = state.string(GL_VERSION)
        guard version >= (api == .gl ? 43 : 31) else {
            state.destroy()
            throw .glTooOld(found: "\(api == .gl ? "OpenGL " : "")\(versionString)", missing: "\(api) (compute shaders)")
        }
        // Without buffer storage (GL 4.3 without GL_ARB_buffer_storage, ES without
        // GL_EXT_buffer_storage) buffers are made with glBufferData and mapped ones are host
        // copies synced around each submission; what needs a live mapping refuses (`persistentMapping`).
        state.entryPoints = GLEntryPoints(api: api, version: version, extensions: extensions)
        if state.entryPoints.debugMessageCallback != nil { state.installDebugCallback(synchronous: wantDebug) }
        return MadeContext(state: state, extensions: extensions, displayExtensions: displayExtensions, configless: configless,
                           robustOffered: robustOffered, version: version, versionString: versionString)
    }

    /// The `eglCreateContext` attribute lists to try in order: robust first where EGL offers it
    /// (EGL 1.5's attributes for desktop GL; EXT_create_context_robustness's, which also cover
    /// OpenGL ES), then plain.
    private static func contextAttempts(api: GraphicsAPI, robustOffered: Bool, debug: Bool) -> [(robust: Bool, attrs: [EGLint])] {
        let base: [EGLint] = api == .gl
            ? [EGL_CONTEXT_MAJOR_VERSION, 4, EGL_CONTEXT_MINOR_VERSION, 3, EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT]
            : [EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 1]
        let debugAttrs: [EGLint] = debug ? [EGL_CONTEXT_OPENGL_DEBUG, EGL_TRUE] : []
        var attempts: [(Bool, [EGLint])] = []
        if robustOffered {
            if api == .gl {
                attempts.append((true, base + debugAttrs + [EGL_CONTEXT_OPENGL_ROBUST_ACCESS, EGL_TRUE,
                                                             EGL_CONTEXT_OPENGL_RESET_NOTIFICATION_STRATEGY, EGL_LOSE_CONTEXT_ON_RESET, EGL_NONE]))
            } else {
                attempts.append((true, base + debugAttrs + [EGL_CONTEXT_OPENGL_ROBUST_ACCESS_EXT, EGL_TRUE,
                                                             EGL_CONTEXT_OPENGL_RESET_NOTIFICATION_STRATEGY_EXT, EGL_LOSE_CONTEXT_ON_RESET_EXT, EGL_NONE]))
            }
        }
        attempts.append((false, base + debugAttrs + [EGL_NONE]))
        return attempts
    }

    /// What a made context runs on and can do, with its limits and the loop-limit probe's finding.
    private func describe(_ made: MadeContext, origin: DisplayOrigin, device: GLDeviceInfo?, renderNode: String?, choice: APIChoice,
                          profile: LimitsProfile) throws(VyreGLError) -> GLContextInfo {
        let extensions = made.extensions
        let version = made.version
        let gl = api == .gl
        // A bare ES 3.1 driver, pretended: no buffer storage from here on (the loop probe included).
        if profile == .es31Core { entryPoints.bufferStorage = nil }
        var limits = queryLimits(extensions: extensions)
        (limits.maxLoopIterations, limits.loopLimitIsPerInvocation) = try probeLoopLimit(version: version, extensions: extensions)
        let minimum = profile.isMinimum
        if minimum { limits = limits.clampedToES31Minimum() }
        // The minimum profile writes what every ES 3.1 driver compiles: GLSL ES 3.10, no extension.
        let language: ShadingLanguage = minimum && !gl ? .essl310 : .of(api, version: version)
        let glslExtensions = minimum ? [] : extensions.intersection(GLSLTarget.knownExtensions)
        var contextFlags: GLint = 0
        // GL_CONTEXT_FLAGS is GL 3.0 and ES 3.2; ES 3.1 would log the query as an error.
        if gl || version >= 32 { glGetIntegerv(GLenum(GL_CONTEXT_FLAGS), &contextFlags) }
        var binaryFormats: GLint = 0
        glGetIntegerv(GLenum(GL_NUM_PROGRAM_BINARY_FORMATS), &binaryFormats)
        _ = glGetError()
        var features: [String: Bool] = [
            "GL_KHR_debug": entryPoints.debugMessageCallback != nil,
            "GL_KHR_robustness": entryPoints.graphicsResetStatus != nil,
            "EGL_KHR_no_config_context": made.configless,
            "EGL_KHR_surfaceless_context": made.displayExtensions.contains("EGL_KHR_surfaceless_context"),
            "EGL_EXT_create_context_robustness": made.robustOffered,
        ]
        // What vyre-gl uses, not what the driver lists: the minimum profiles withhold the shader
        // extensions (64-bit types, `precise`) as they withhold the limits.
        if gl {
            features["GL_ARB_buffer_storage"] = entryPoints.bufferStorage != nil
            features["GL_ARB_gpu_shader_int64"] = !minimum && extensions.contains("GL_ARB_gpu_shader_int64")
            features["GL_ARB_get_program_binary"] = extensions.contains("GL_ARB_get_program_binary") || version >= 41
        } else {
            features["GL_EXT_buffer_storage"] = entryPoints.bufferStorage != nil
            features["GL_EXT_gpu_shader5"] = !minimum && (version >= 32 || !extensions.isDisjoint(with: ["GL_EXT_gpu_shader5", "GL_OES_gpu_shader5"]))
        }
        return GLContextInfo(
            origin: origin, device: device, renderNode: renderNode, api: api, apiChoice: choice, shadingLanguage: language,
            glslExtensions: glslExtensions,
            eglVersion: EGL.displayString(display, EGL_VERSION) ?? "?", eglVendor: EGL.displayString(display, EGL_VENDOR) ?? "unknown",
            glVersion: made.versionString, glslVersion: string(GL_SHADING_LANGUAGE_VERSION), renderer: string(GL_RENDERER),
            vendor: string(GL_VENDOR), robustAccess: robust, resetNotification: robust,
            debugContext: contextFlags & GL_CONTEXT_FLAG_DEBUG_BIT != 0, limits: limits, limitsProfile: profile,
            features: features, programBinaryFormats: Int(max(0, binaryFormats)))
    }

    private static func eglVersionAtLeast15(_ display: EGLDisplay) -> Bool {
        guard let v = EGL.displayString(display, EGL_VERSION) else { return false }
        let parts = v.split(separator: " ").first?.split(separator: ".").compactMap { Int($0) } ?? []
        return parts.count >= 2 && (parts[0] > 1 || (parts[0] == 1 && parts[1] >= 5))
    }

    func destroy() {
        guard !closed else { return }
        closed = true
        // Like a mapping, a host copy does not outlive its context.
        for copy in hostCopies.values { copy.free() }
        hostCopies = [:]
        eglMakeCurrent(display, vyre_egl_no_surface(), vyre_egl_no_surface(), vyre_egl_no_context())
        eglDestroyContext(display, context)
        if let surface, surface != vyre_egl_no_surface() { eglDestroySurface(display, surface) }
        // The display stays initialized: other contexts in this process may share it.
        eglReleaseThread()
    }

    func delete(_ object: GLObject) {
        guard !closed else { return }
        switch object {
        case .buffer(let name):
            var n = name
            glDeleteBuffers(1, &n)
            hostCopies.removeValue(forKey: name)?.free()
        case .program(let name):
            glDeleteProgram(name)
        }
    }

    /// Runs one invocation through ``DeviceLimits/loopProbeIterations`` loop iterations: returns
    /// how many it completed when the driver cut the loop short (else nil), and whether that
    /// budget is shared by the invocation's later loops too (a nest of 16 loops that would run
    /// the same count again then gets no full inner loop done). The trip count is a uniform, so
    /// no compiler can unroll or fold the loops away.
    func probeLoopLimit(version: Int, extensions: Set<String>) throws(VyreGLError) -> (UInt32?, Bool) {
        let probe = Program(buffers: [BufferDecl("out", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(1)) {
            Node.let("n", 0)
            Node.for("i", from: 0, to: .parameter("trips")) { Node.assign("n", "n" + 1) }
            Node.store("out", at: 0, "n")
            Node.store("out", at: 1, .builtin(.loopCuts))
            Node.let("m", 0)
            Node.for("a", from: 0, to: 16) {
                Node.for("b", from: 0, to: .parameter("trips") / 16) { Node.assign("m", "m" + 1) }
            }
            Node.store("out", at: 2, "m")
        }
        let lowered: LoweredProgram
        // Lowered as for a device with a limit, so that its loops report cuts.
        let target = GLSLTarget(capabilities: [], loopLimit: LoopLimit(iterations: .max, perInvocation: false),
                                language: .of(api, version: version), extensions: extensions.intersection(GLSLTarget.knownExtensions))
        do { lowered = try probe.lowerToGLSL(target: target) } catch { throw .lowering(error) }
        let program = try compileCompute(lowered)
        defer { glDeleteProgram(program) }
        let (buffer, _) = try createBuffer(bytes: 16, flags: GL_DYNAMIC_STORAGE_BIT, map: false)
        defer { delete(.buffer(buffer)) }
        let trips = glGetUniformLocation(program, lowered.parameterUniforms["trips"] ?? "")
        _ = try submit(program: program, bindings: [(0, buffer, 16)], statusBinding: lowered.statusBinding, uploads: [],
                       steps: [(WorkgroupSize(1), [(trips, DeviceLimits.loopProbeIterations)])], copies: [], timeout: .seconds(120))
        let words = try read(words: 0..<3, from: buffer)
        guard words[1] > 0 else { return (nil, false) }
        return (words[0], words[2] < DeviceLimits.loopProbeIterations / 16)
    }

    /// The context's status block, made on first use.
    func statusBlock() throws(VyreGLError) -> StatusBlock {
        if let status { return status }
        typealias W = LoweredProgram.StatusWord
        let flags = GL_MAP_READ_BIT | GL_MAP_WRITE_BIT | GL_MAP_PERSISTENT_BIT | GL_MAP_COHERENT_BIT
        let (name, base) = try createBuffer(bytes: W.words * 4, flags: flags, map: true)
        guard let base else { throw .outOfDeviceMemory(bytes: W.words * 4, detail: "glMapBufferRange returned no pointer for the status block") }
        let block = StatusBlock(buffer: name, base: base)
        Watchdog.shared.register(block)
        status = block
        return block
    }

    // MARK: queries

    func string(_ name: Int32) -> String {
        glGetString(GLenum(name)).map { String(cString: $0) } ?? ""
    }

    func integer(_ name: Int32) -> Int {
        var v: GLint = 0
        glGetIntegerv(GLenum(name), &v)
        return Int(v)
    }

    func indexedInteger(_ name: Int32, _ index: UInt32) -> Int {
        var v: GLint = 0
        glGetIntegeri_v(GLenum(name), index, &v)
        return Int(v)
    }

    func glExtensions() -> Set<String> {
        Set((0..<integer(GL_NUM_EXTENSIONS)).compactMap { i in glGetStringi(GLenum(GL_EXTENSIONS), GLuint(i)).map { String(cString: $0) } })
    }

    func queryLimits(extensions: Set<String>) -> DeviceLimits {
        var blockSize: GLint64 = 0
        glGetInteger64v(GLenum(GL_MAX_SHADER_STORAGE_BLOCK_SIZE), &blockSize)
        return DeviceLimits(
            maxWorkgroupCount: (0..<3).map { UInt32(clamping: indexedInteger(GL_MAX_COMPUTE_WORK_GROUP_COUNT, $0)) },
            maxWorkgroupSize: (0..<3).map { UInt32(clamping: indexedInteger(GL_MAX_COMPUTE_WORK_GROUP_SIZE, $0)) },
            maxWorkgroupInvocations: UInt32(clamping: integer(GL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS)),
            maxSharedMemoryBytes: UInt32(clamping: integer(GL_MAX_COMPUTE_SHARED_MEMORY_SIZE)),
            maxComputeStorageBlocks: UInt32(clamping: integer(GL_MAX_COMPUTE_SHADER_STORAGE_BLOCKS)),
            maxStorageBufferBindings: UInt32(clamping: integer(GL_MAX_SHADER_STORAGE_BUFFER_BINDINGS)),
            maxStorageBlockBytes: UInt64(clamping: blockSize),
            storageBufferOffsetAlignment: UInt32(clamping: integer(GL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT)),
            int64: api == .gl && extensions.contains("GL_ARB_gpu_shader_int64"),
            // Doubles are core since GL 4.0, so every 4.3 context has them; GLSL ES has none.
            float64: api == .gl)
    }

    /// Throws the first pending GL error, naming the call that preceded it.
    func check(_ call: @autoclosure () -> String) throws(VyreGLError) {
        if simulatedReset.load(ordering: .acquiring) {
            while glGetError() != GLenum(GL_NO_ERROR) {}
            throw .contextLost(status: Self.simulatedStatus)
        }
        let e = glGetError()
        guard e != GLenum(GL_NO_ERROR) else { return }
        // Drain the queue so the next check starts clean.
        while glGetError() != GLenum(GL_NO_ERROR) {}
        let code = GLErrorCode(e)
        if code.rawValue == 0x0507, let status = resetStatus() { throw .contextLost(status: status) }
        throw .glFailure(call: call(), code: code)
    }

    static let simulatedStatus = "a simulated reset (GLContext.simulateReset)"

    /// The driver's graphics reset status (robust contexts only); nil while healthy.
    func resetStatus() -> String? {
        if simulatedReset.load(ordering: .acquiring) { return Self.simulatedStatus }
        guard robust, let status = entryPoints.graphicsResetStatus else { return nil }
        switch Int32(bitPattern: status()) {
        case GL_NO_ERROR: return nil
        case GL_GUILTY_CONTEXT_RESET: return "reset caused by this context"
        case GL_INNOCENT_CONTEXT_RESET: return "reset caused by another context"
        default: return "reset, cause unknown"
        }
    }

    private func installDebugCallback(synchronous: Bool) {
        guard let callback = entryPoints.debugMessageCallback else { return }
        glEnable(GLenum(GL_DEBUG_OUTPUT))
        if synchronous { glEnable(GLenum(GL_DEBUG_OUTPUT_SYNCHRONOUS)) }
        callback({ _, type, id, severity, _, message, user in
            guard let user, let message else { return }
            Unmanaged<DebugSink>.fromOpaque(user).takeUnretainedValue().record(type: type, id: id, severity: severity, message: String(cString: message))
        }, Unmanaged.passUnretained(debug).toOpaque())
        _ = glGetError()
    }
}

/// Receives KHR_debug messages on the context thread and forwards them to the logger; keeps the
/// last few serious ones so errors can quote what the driver said.
final class DebugSink {
    let logger: Logger
    private(set) var recent: [String] = []

    init(logger: Logger) { self.logger = logger }

    func record(type: GLenum, id: GLuint, severity: GLenum, message: String) {
        let high = severity == GLenum(GL_DEBUG_SEVERITY_HIGH) || severity == GLenum(GL_DEBUG_SEVERITY_MEDIUM)
        if high {
            recent.append(message)
            if recent.count > 8 { recent.removeFirst() }
            logger.debug("GL debug message", metadata: ["id": "\(id)", "message": "\(message)"])
        } else {
            logger.trace("GL debug message", metadata: ["id": "\(id)", "message": "\(message)"])
        }
    }
}
