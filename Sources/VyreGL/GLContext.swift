import CEGL
public import Logging
import Foundation
import Synchronization
public import VyreIR
public import VyreGLSL

/// A headless OpenGL 4.3 core or OpenGL ES 3.1 context on one device, living on its own thread.
///
/// Creating one costs an EGL display initialization and a context (milliseconds on Mesa, tens of
/// milliseconds on NVIDIA). Every GL call runs on the context's thread; the methods here and on
/// the buffers and pipelines it makes are safe to call from any thread or task. Closing the
/// context (or dropping the last reference) destroys its GL objects.
public final class GLContext: Sendable {
    /// What the context runs on and its limits, queried once when it was created.
    public let info: GLContextInfo
    /// The device's limits in the form validation takes (no GL call).
    public var limits: Limits { info.limits.irLimits }
    /// What the GLSL lowering may assume on this device.
    public var target: GLSLTarget {
        GLSLTarget(capabilities: limits.capabilities,
                   loopLimit: info.limits.maxLoopIterations.map { LoopLimit(iterations: $0, perInvocation: info.limits.loopLimitIsPerInvocation) },
                   language: info.shadingLanguage, extensions: info.glslExtensions)
    }
    /// Where the context logs: compiles at debug level, KHR_debug messages at debug or trace.
    public let logger: Logger

    let thread: ContextThread
    /// Touched only on `thread`.
    let state: GLState
    let serial: UInt64

    private static let serials = SerialCounter()

    /// Where pipelines look for a linked binary before compiling, and keep the one they compiled;
    /// nil compiles every time.
    public let programCache: ProgramBinaryCache?
    /// What the context was opened with, for ``reopened()``.
    private let selection: DeviceSelection
    private let debugRequested: Bool
    private let apiRequested: APISelection
    private let limitsRequested: LimitsProfile?

    /// Opens a context on the selected device, for `api` (automatic: `VYRE_GL_API` if set, else
    /// OpenGL 4.3 core, else OpenGL ES 3.1), reporting `limits` (nil: `VYRE_GL_LIMITS` if set,
    /// else the device's own). `debug` asks for a debug context whose KHR_debug
    /// messages go to `logger` at debug level (also enabled by `VYRE_GL_DEBUG=1`). Pipelines
    /// load and keep linked binaries in `programCache` (by default the shared one, on disk).
    public init(device: DeviceSelection = .automatic, api: APISelection = .automatic, limits: LimitsProfile? = nil, debug: Bool = false,
                programCache: ProgramBinaryCache? = .shared, logger: Logger = Logger(label: "vyre-gl")) throws(VyreGLError) {
        let wantDebug = debug || ProcessInfo.processInfo.environment["VYRE_GL_DEBUG"] == "1"
        let thread = ContextThread(name: "vyre-gl context")
        var created: Result<(GLState, GLContextInfo), VyreGLError> = .failure(.contextClosed)
        _ = thread.sync {
            do throws(VyreGLError) { created = .success(try GLState.create(selection: device, api: api, limits: limits, debug: wantDebug, logger: logger)) }
            catch { created = .failure(error) }
        }
        switch created {
        case .success(let (state, info)):
            self.state = state
            self.info = info
        case .failure(let error):
            thread.stop()
            throw error
        }
        self.thread = thread
        self.logger = logger
        self.programCache = programCache
        self.selection = device
        self.debugRequested = debug
        self.apiRequested = api
        self.limitsRequested = limits
        self.serial = Self.serials.next()
        logger.debug("GL context ready", metadata: ["renderer": "\(info.renderer)", "version": "\(info.glVersion)", "api": "\(info.api)"])
    }

    deinit {
        let state = self.state
        thread.stop(finalJob: { state.destroy() })
    }

    /// Runs `body` on the context thread with the GL state, blocking the caller until it returns.
    func onThread<T>(_ body: (GLState) throws(VyreGLError) -> T) throws(VyreGLError) -> T {
        let state = self.state
        do {
            guard let result = try thread.sync({ () throws -> T in
                if state.closed { throw VyreGLError.contextClosed }
                return try body(state)
            }) else { throw VyreGLError.contextClosed }
            return result
        } catch {
            throw (error as? VyreGLError) ?? .contextClosed
        }
    }

    /// Whether the caller is this context's thread (a job it runs).
    public var isContextThread: Bool { thread.isCurrent }

    /// Runs `work` as one job on the context thread and resumes the caller when it is done, so
    /// tasks never block a cooperative thread while the GPU works. Every GL operation `work`
    /// performs runs inline on that thread; jobs from all callers run in submission order.
    public func perform<T: Sendable>(_ work: @escaping @Sendable (GLContext) throws(VyreGLError) -> T) async throws(VyreGLError) -> T {
        let result: Result<T, VyreGLError> = await withCheckedContinuation { continuation in
            let accepted = thread.enqueue { [self] in
                do throws(VyreGLError) { continuation.resume(returning: .success(try work(self))) } catch { continuation.resume(returning: .failure(error)) }
            }
            if !accepted { continuation.resume(returning: .failure(.contextClosed)) }
        }
        return try result.get()
    }

    /// ``run(_:grid:buffers:options:)`` without blocking the calling task.
    public func run(_ program: Program, grid: WorkgroupSize, buffers inputs: [String: [UInt32]],
                    options: DispatchOptions = DispatchOptions()) async throws(VyreGLError) -> RunResult {
        try await perform { context throws(VyreGLError) in try context.run(program, grid: grid, buffers: inputs, options: options) }
    }

    /// Deletes a GL object on the context thread without waiting (used by owners' `deinit`).
    func release(_ object: GLObject) {
        let state = self.state
        thread.enqueue { state.delete(object) }
    }

    /// Every EGL device this process can see (initializing each device's display to name its driver).
    public static func availableDevices() -> [GLDeviceInfo] { Devices.enumerate() }

    /// Every DRM render node under `/dev/dri`, with its driver, whether this process may open it,
    /// and the EGL device that reports it (`devices`, as ``availableDevices()`` gives them).
    public static func renderNodes(devices: [GLDeviceInfo]) -> [RenderNodeInfo] { RenderNodes.list(eglDevices: devices) }

    /// The driver's reset status, polled now. Nil when the context is healthy.
    public func resetStatus() -> String? {
        (try? onThread { gl in gl.resetStatus() }) ?? "context closed"
    }

    /// A new context opened as this one was (device selection, debug, program cache, logger):
    /// what takes over from a context that was lost.
    public func reopened() throws(VyreGLError) -> GLContext {
        try GLContext(device: selection, api: apiRequested, limits: limitsRequested, debug: debugRequested, programCache: programCache, logger: logger)
    }

    /// A test seam: from now on the context behaves as one the driver reset (every GL call's check
    /// throws ``VyreGLError/contextLost(status:)`` and ``resetStatus()`` reports it), so tests can
    /// drive the recovery from a reset on drivers that never reset.
    @_spi(Testing) public func simulateReset() {
        state.simulatedReset.store(true, ordering: .releasing)
    }
}

enum GLObject: Sendable {
    case buffer(UInt32)
    case program(UInt32)
}

final class SerialCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}
