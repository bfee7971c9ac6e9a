import CEGL
public import VyreIR
public import VyreGLSL

/// Everything that can go wrong between "I have a program" and "its buffers are back".
/// Each message says what happened and ends with a Fix a user can act on.
public enum VyreGLError: DiagnosticError, Sendable, Hashable {
    /// libEGL could not be used at all (no display could be initialized on any platform).
    case noEGL(detail: String)
    /// The requested device does not exist.
    case deviceNotFound(selection: String, available: [String])
    /// An EGL call failed; `code` is what `eglGetError` gave.
    case eglFailure(call: String, code: EGLErrorCode)
    /// `--devices` (or a ``DeviceSet`` parsed from text) is neither `all` nor a list of device
    /// indices and render node paths.
    case badDeviceList(value: String)
    /// A context was created but it is not GL 4.3 core, or lacks an extension vyre-gl needs.
    case glTooOld(found: String, missing: String)
    /// `VYRE_GL_API` holds something other than `gl`, `gles` or `auto`.
    case badAPISelection(value: String)
    /// `VYRE_GL_LIMITS` holds something other than `device`, `es31-minimum` or `es31-core`.
    case badLimitsProfile(value: String)
    /// No DRM render node exists at `path`; `available` lists the nodes there are.
    case renderNodeMissing(path: String, available: [String])
    /// The render node exists but this process may not open it.
    case renderNodeDenied(path: String)
    /// The path is not a render node GBM can drive (`problem` says why).
    case renderNodeInvalid(path: String, problem: String)
    /// GBM cannot be used here: libgbm is missing, or EGL has no GBM platform.
    case gbmUnavailable(detail: String)
    /// Something needs a buffer that the host and running GPU work share (a persistent, coherent
    /// mapping), and the context cannot map one: `found` is the context, `needs` who asked.
    case noPersistentMapping(found: String, needs: String)
    /// A GL call reported an error.
    case glFailure(call: String, code: GLErrorCode)
    /// The program does not validate against this device's limits.
    case invalidForDevice(ValidationFailure)
    /// The program could not be lowered to GLSL for this device (it needs a feature the device lacks).
    case lowering(GLSLError)
    /// The driver rejected the generated GLSL; the log is mapped back to the IR.
    case compileFailed(log: String, glslLine: Int?, irPath: String?, region: String?)
    /// The driver compiled the shader but would not link it, and its log blames no source line.
    case linkFailed(log: String)
    /// The driver could not allocate or map a buffer of `bytes` bytes.
    case outOfDeviceMemory(bytes: Int, detail: String)
    /// A buffer is smaller than its declaration, an upload or a copy needs.
    case bufferTooSmall(name: String, bytes: Int, needed: Int)
    /// A buffer larger than the device can bind (GL_MAX_SHADER_STORAGE_BLOCK_SIZE).
    case bufferTooLarge(name: String, bytes: UInt64, limit: UInt64)
    /// A declared buffer was not bound, or a runtime-sized one was given no contents.
    case missingBuffer(String)
    /// The program reads a parameter that the dispatch gives no value.
    case missingParameter(String)
    /// Contents or a read name a buffer the program does not declare.
    case unknownBuffer(String)
    /// A buffer's contents are empty or not a whole number of elements.
    case badBufferSize(name: String, words: Int, detail: String)
    /// A dispatch asks for no workgroups along an axis, or more than the device allows.
    case gridTooLarge(requested: WorkgroupSize, limit: WorkgroupSize)
    /// A dispatch asks for more workgroups in all than the driver counts correctly (llvmpipe
    /// counts them in 32 bits and silently runs fewer).
    case gridTooLargeInAll(requested: WorkgroupSize, limit: UInt64)
    /// A buffer made by another context was passed to this one (GL objects belong to one context).
    case foreignBuffer(String)
    /// A submission ran past its timeout. `stopped`: it ended once the abort word was set (its
    /// loops stop at their next poll), so the context is usable; its results may be incomplete
    /// and were not returned.
    case timeout(seconds: Double, what: String, stopped: Bool)
    /// The driver ended a loop before its own exit (llvmpipe stops an invocation's loops after
    /// 65,535 iterations in all), so the results would be wrong and were not returned.
    case driverLoopLimit(LoopCutReport, limit: UInt32?, renderer: String)
    /// The driver reported a context reset (GPU hang, watchdog, or device loss).
    case contextLost(status: String)
    /// The context was closed, or its thread had stopped, before the call could run.
    case contextClosed

    /// The error as the CLI prints it: the problem and a Fix (a validation failure keeps all of its
    /// errors). Builds strings only; no GL call.
    public var diagnostics: [Diagnostic] {
        switch self {
        case .noEGL(let d):
            return [Diagnostic("no usable EGL display: \(d)", fix: "install Mesa (apt install libegl-mesa0 libgl1-mesa-dri) for software rendering, or a GPU driver with EGL support")]
        case .deviceNotFound(let s, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: "; ")
            return [Diagnostic("EGL device '\(s)' not found (available: \(list))", fix: "pick an index or render node from 'vyre-gl info', or unset VYRE_GL_DEVICE")]
        case .eglFailure(let call, let code):
            return [Diagnostic("\(call) failed with \(code)", fix: code.fix)]
        case .glTooOld(let found, let missing):
            return [Diagnostic("the device offers \(found) but vyre-gl needs \(missing)", fix: "try the other API (--api gl, --api gles or --api auto; VYRE_GL_API for the library), update Mesa (22 or newer gives llvmpipe GL 4.5 and ES 3.2) or the GPU driver, or choose another device with VYRE_GL_DEVICE")]
        case .badAPISelection(let value):
            return [Diagnostic("VYRE_GL_API is '\(value)', which names no client API", fix: "set VYRE_GL_API to gl, gles or auto, or unset it")]
        case .renderNodeMissing(let path, let available):
            let fix = available.isEmpty
                ? "this machine has no render nodes (no \(RenderNodes.directory)); leave the device out or pick an EGL device index from 'vyre-gl info'"
                : "use one of \(available.joined(separator: ", ")) ('vyre-gl info' lists them)"
            return [Diagnostic("no DRM render node at \(path)", fix: fix)]
        case .renderNodeDenied(let path):
            return [Diagnostic("may not open the render node \(path) for reading and writing", fix: "add the user to the group that owns it (usually 'render', on older systems 'video'), then log in again; 'ls -l \(path)' shows the group")]
        case .renderNodeInvalid(let path, let problem):
            return [Diagnostic("\(path) \(problem)", fix: "give a DRM render node such as \(RenderNodes.directory)/renderD128 ('vyre-gl info' lists them)")]
        case .gbmUnavailable(let detail):
            return [Diagnostic("cannot open a render node through GBM: \(detail)", fix: "install Mesa's libgbm1 and libegl-mesa0, or pick an EGL device index from 'vyre-gl info'")]
        case .badDeviceList(let value):
            return [Diagnostic("--devices '\(quoteForMessage(value, limit: 80))' is neither all nor a comma-separated list of at most \(DeviceSet.maxDevices) device indices and render node paths", fix: "give --devices all, or indices from 'vyre-gl info' such as 0,1")]
        case .noPersistentMapping(let found, let needs):
            return [Diagnostic("\(needs) needs memory that the host and the running GPU work share, but \(found) cannot map buffers persistently",
                               fix: "use a driver or device that maps buffers persistently (GL_EXT_buffer_storage on OpenGL ES; GL 4.4 or GL_ARB_buffer_storage on OpenGL): a newer Mesa, another device, or the other API where this device offers it; under VYRE_GL_LIMITS=es31-core, unset it. One-shot batches need no mapping (vyre-gl run without --resident; Megakernel in the library)")]
        case .badLimitsProfile(let value):
            return [Diagnostic("VYRE_GL_LIMITS is '\(value)', which names no limits profile", fix: "set VYRE_GL_LIMITS to device, es31-minimum or es31-core, or unset it")]
        case .glFailure(let call, let code):
            return [Diagnostic("\(call) failed with \(code)", fix: code.fix)]
        case .invalidForDevice(let f):
            return f.diagnostics
        case .lowering(let e):
            return e.diagnostics
        case .compileFailed(let log, let line, let path, let region):
            var at = line.map { "GLSL line \($0)" } ?? "unknown line"
            if let path { at += ", IR node \(path)" }
            if let region { at += ", region '\(region)'" }
            return [Diagnostic("the driver rejected the generated GLSL at \(at): \(log.trimmingWhitespace())", fix: "inspect the source with 'vyre-gl glsl PROGRAM.json'; a valid IR program that fails here is a vyre-gl or driver bug, please report it with that source")]
        case .linkFailed(let log):
            return [Diagnostic("linking the compute program failed: \(log.trimmingWhitespace())", fix: "check the device's limits with 'vyre-gl info' (shared memory, storage blocks); report the GLSL if they are not exceeded")]
        case .outOfDeviceMemory(let bytes, let d):
            return [Diagnostic("the device could not allocate \(bytes) bytes (\(d))", fix: "use smaller buffers or free other GPU work")]
        case .bufferTooSmall(let n, let b, let need):
            return [Diagnostic("buffer '\(quoteForMessage(n))' has \(b) bytes but the program declares \(need)", fix: "pass at least \(need / 4) words for '\(quoteForMessage(n))'")]
        case .bufferTooLarge(let n, let b, let limit):
            return [Diagnostic("buffer '\(quoteForMessage(n))' needs \(b) bytes, but this device binds at most \(limit) bytes per buffer (GL_MAX_SHADER_STORAGE_BLOCK_SIZE); nothing was allocated", fix: "use a smaller buffer, or split the data across several buffers or dispatches")]
        case .missingBuffer(let n):
            return [Diagnostic("runtime-sized buffer '\(quoteForMessage(n))' was not given, so its length is unknown", fix: "pass contents for '\(quoteForMessage(n))'")]
        case .missingParameter(let n):
            return [Diagnostic("the program reads parameter '\(quoteForMessage(n))' but the dispatch gives no value", fix: "set DispatchOptions.parameters[\"\(n)\"]")]
        case .unknownBuffer(let n):
            return [Diagnostic("buffer '\(quoteForMessage(n))' was given but the program declares no such buffer", fix: "check the name against the program's buffers")]
        case .badBufferSize(let n, let w, let d):
            return [Diagnostic("buffer '\(quoteForMessage(n))' has \(counted(w, "word")): \(d)", fix: "pass a whole number of elements, at least one")]
        case .foreignBuffer(let what):
            return [Diagnostic("\(what) was made by another GLContext; GL objects belong to the context that made them", fix: "make the buffer on the context that dispatches it")]
        case .gridTooLargeInAll(let r, let limit):
            return [Diagnostic("dispatch of \(r) workgroups is \(UInt64(r.x) * UInt64(r.y) * UInt64(r.z)) in all; this driver counts at most \(limit) and would run fewer without saying so", fix: "split the work into several dispatches, or give each workgroup more work")]
        case .gridTooLarge(let r, _) where r.x == 0 || r.y == 0 || r.z == 0:
            return [Diagnostic("dispatch of \(r) workgroups has an empty axis", fix: "dispatch at least one workgroup on every axis")]
        case .gridTooLarge(let r, let l):
            return [Diagnostic("dispatch of \(r) workgroups exceeds this device's maximum of \(l)", fix: "use fewer workgroups (larger workgroups or a loop inside the program)")]
        case .timeout(let s, let what, let stopped):
            let outcome = stopped
                ? "it was stopped (its loops poll an abort word) and its results were dropped; the context is still usable"
                : "it could not be stopped within \(Int(GLState.abortGrace.nanosecondsClamped / 1_000_000_000)) s of the abort (its long-running part has no loop to poll it), so the context may stay busy"
            return [Diagnostic("\(what) did not finish within \(s) s: \(outcome)", fix: "bound the program's work (loops, grid size) or raise the timeout\(stopped ? "" : "; if the device stays busy, create a new context")")]
        case .driverLoopLimit(let cut, let limit, let renderer):
            let rule = limit.map { "ends an invocation's loops after \($0) iterations in all" } ?? "ends long-running loops early"
            let more = cut.invocations > 1 ? " (and loops in \(cut.invocations - 1) other invocations)" : ""
            return [Diagnostic("the driver (\(renderer)) stopped the loop at IR node \(cut.site) in invocation \(cut.invocation) before it ended\(more); this driver \(rule), so the results would be wrong and were not returned", fix: "give each invocation fewer loop iterations (spread the work over a larger grid or several dispatches), or use a device without this limit ('vyre-gl info' shows it)")]
        case .contextLost(let status):
            return [Diagnostic("the GL context was lost (\(status)); the GPU was reset or removed", fix: "create a new context; if it repeats, the program may be running past the driver's watchdog")]
        case .contextClosed:
            return [Diagnostic("the GL context has been closed", fix: "create a new GLContext")]
        }
    }
}

/// An EGL error code with its name.
public struct EGLErrorCode: Sendable, Hashable, CustomStringConvertible {
    /// The value `eglGetError` returned.
    public let rawValue: Int32
    /// Wraps an EGL error value.
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    private static let names: [Int32: String] = [
        0x3000: "EGL_SUCCESS", 0x3001: "EGL_NOT_INITIALIZED", 0x3002: "EGL_BAD_ACCESS", 0x3003: "EGL_BAD_ALLOC",
        0x3004: "EGL_BAD_ATTRIBUTE", 0x3005: "EGL_BAD_CONFIG", 0x3006: "EGL_BAD_CONTEXT", 0x3007: "EGL_BAD_CURRENT_SURFACE",
        0x3008: "EGL_BAD_DISPLAY", 0x3009: "EGL_BAD_MATCH", 0x300A: "EGL_BAD_NATIVE_PIXMAP", 0x300B: "EGL_BAD_NATIVE_WINDOW",
        0x300C: "EGL_BAD_PARAMETER", 0x300D: "EGL_BAD_SURFACE", 0x300E: "EGL_CONTEXT_LOST", 0x322B: "EGL_BAD_DEVICE_EXT",
    ]

    /// The EGL name and the value in hex, such as `EGL_BAD_ALLOC (0x3003)`.
    public var description: String { "\(Self.names[rawValue] ?? "EGL error") (0x\(String(rawValue, radix: 16)))" }

    var fix: String {
        switch rawValue {
        case 0x3003: return "free memory or GPU resources and retry."
        case 0x300E: return "the device was reset; create a new context."
        case 0x3001, 0x3008, 0x322B: return "check the driver installation ('vyre-gl info' lists usable devices)."
        default: return "run 'vyre-gl info' to see what the driver offers; choose another device with VYRE_GL_DEVICE."
        }
    }
}

/// A GL error code with its name.
public struct GLErrorCode: Sendable, Hashable, CustomStringConvertible {
    /// The value `glGetError` returned.
    public let rawValue: UInt32
    /// Wraps a GL error value.
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// GL_INVALID_OPERATION: what a failed call reports when GL gave no error of its own.
    public static let invalidOperation = GLErrorCode(UInt32(GL_INVALID_OPERATION))

    private static let names: [UInt32: String] = [
        UInt32(GL_INVALID_ENUM): "GL_INVALID_ENUM", UInt32(GL_INVALID_VALUE): "GL_INVALID_VALUE",
        UInt32(GL_INVALID_OPERATION): "GL_INVALID_OPERATION", UInt32(GL_STACK_OVERFLOW): "GL_STACK_OVERFLOW",
        UInt32(GL_STACK_UNDERFLOW): "GL_STACK_UNDERFLOW", UInt32(GL_OUT_OF_MEMORY): "GL_OUT_OF_MEMORY",
        UInt32(GL_INVALID_FRAMEBUFFER_OPERATION): "GL_INVALID_FRAMEBUFFER_OPERATION", UInt32(GL_CONTEXT_LOST): "GL_CONTEXT_LOST",
    ]

    /// The GL name and the value in hex, such as `GL_OUT_OF_MEMORY (0x505)`.
    public var description: String { "\(Self.names[rawValue] ?? "GL error") (0x\(String(rawValue, radix: 16)))" }
    /// Whether this is `GL_OUT_OF_MEMORY` (thrown as ``VyreGLError/outOfDeviceMemory(bytes:detail:)``).
    public var isOutOfMemory: Bool { rawValue == 0x0505 }

    var fix: String {
        switch rawValue {
        case 0x0505: return "use smaller buffers or free other GPU work."
        case 0x0507: return "the device was reset; create a new context."
        default: return "this is a vyre-gl bug or a driver limit; run with a debug log (VYRE_GL_DEBUG=1) and report the output."
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
