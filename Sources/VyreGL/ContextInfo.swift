public import VyreIR
public import VyreGLSL
import Foundation

/// Numeric limits of a device, as queried from GL.
public struct DeviceLimits: Sendable, Hashable, Codable {
    /// Most workgroups a dispatch may have along x, y and z (`GL_MAX_COMPUTE_WORK_GROUP_COUNT`).
    public var maxWorkgroupCount: [UInt32]
    /// Largest workgroup size along x, y and z (`GL_MAX_COMPUTE_WORK_GROUP_SIZE`).
    public var maxWorkgroupSize: [UInt32]
    /// Most invocations in one workgroup, x times y times z (`GL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS`).
    public var maxWorkgroupInvocations: UInt32
    /// Bytes of shared memory one workgroup may use (`GL_MAX_COMPUTE_SHARED_MEMORY_SIZE`).
    public var maxSharedMemoryBytes: UInt32
    /// Storage buffers one compute program may declare (`GL_MAX_COMPUTE_SHADER_STORAGE_BLOCKS`),
    /// the status block included.
    public var maxComputeStorageBlocks: UInt32
    /// Storage buffer binding points: every binding must lie below this
    /// (`GL_MAX_SHADER_STORAGE_BUFFER_BINDINGS`).
    public var maxStorageBufferBindings: UInt32
    /// Largest buffer one binding may expose (`GL_MAX_SHADER_STORAGE_BLOCK_SIZE`).
    public var maxStorageBlockBytes: UInt64
    /// Alignment in bytes that a bound range's offset needs
    /// (`GL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT`).
    public var storageBufferOffsetAlignment: UInt32
    /// The context offers 64-bit integers (`GL_ARB_gpu_shader_int64`).
    public var int64: Bool
    /// The context has doubles; always true when queried, since every GL 4.3 context has them.
    public var float64: Bool
    /// Loop iterations one invocation may run in all before the driver ends its loops, as the
    /// probe at context creation found (65,535 on Mesa's llvmpipe); nil when it found no limit up
    /// to ``loopProbeIterations``. vyre-gl detects cut loops on every driver either way.
    public var maxLoopIterations: UInt32?
    /// The limit is one budget per invocation that all its loops share (llvmpipe's is), so no
    /// invocation can run more loop iterations than it, however its loops nest.
    public var loopLimitIsPerInvocation: Bool = false

    /// Iterations the loop-limit probe asks one invocation for.
    public static let loopProbeIterations: UInt32 = 1 << 20

    /// The same figures in the form validation uses.
    public var irLimits: Limits {
        var caps: Set<Capability> = []
        if int64 { caps.insert(.int64) }
        if float64 { caps.insert(.float64) }
        return Limits(
            maxWorkgroupSize: WorkgroupSize(maxWorkgroupSize[0], maxWorkgroupSize[1], maxWorkgroupSize[2]),
            maxWorkgroupInvocations: maxWorkgroupInvocations, maxSharedMemoryBytes: maxSharedMemoryBytes,
            maxStorageBuffers: maxComputeStorageBlocks, maxBindings: maxStorageBufferBindings,
            maxStorageBlockBytes: maxStorageBlockBytes, capabilities: caps)
    }

    /// ``maxWorkgroupCount`` as a grid: the most workgroups a dispatch accepts.
    public var maxGrid: WorkgroupSize { WorkgroupSize(maxWorkgroupCount[0], maxWorkgroupCount[1], maxWorkgroupCount[2]) }
}

/// What a context runs on: the EGL side, the GL side, limits and the features vyre-gl uses.
public struct GLContextInfo: Sendable, Hashable, Codable {
    /// Which EGL platform the display came from.
    public var origin: DisplayOrigin
    /// The EGL device the context runs on; nil on the surfaceless and default-display platforms,
    /// which list no devices.
    public var device: GLDeviceInfo?
    /// The DRM render node of the display: the one opened through GBM, or the device's.
    public var renderNode: String?
    /// The client API the context speaks.
    public var api: GraphicsAPI
    /// Why it speaks that API (asked for, or what the automatic choice found).
    public var apiChoice: APIChoice
    /// The language compute shaders are written in for this context.
    public var shadingLanguage: ShadingLanguage
    /// GLSL extensions the lowering may use that the context offers (``GLSLTarget/knownExtensions``).
    public var glslExtensions: Set<String>
    /// The display's `EGL_VERSION` string.
    public var eglVersion: String
    /// The display's `EGL_VENDOR` string.
    public var eglVendor: String
    /// `GL_VERSION`, as the driver words it.
    public var glVersion: String
    /// `GL_SHADING_LANGUAGE_VERSION`, as the driver words it.
    public var glslVersion: String
    /// `GL_RENDERER`: the device as the driver names it (`llvmpipe (...)` for Mesa's software
    /// renderer).
    public var renderer: String
    /// `GL_VENDOR`.
    public var vendor: String
    /// Robust buffer access was requested and granted.
    public var robustAccess: Bool
    /// The context reports resets (lose-context-on-reset) instead of hanging.
    public var resetNotification: Bool
    /// The context is a debug context (`GL_CONTEXT_FLAG_DEBUG_BIT`), as `debug: true` or
    /// `VYRE_GL_DEBUG=1` asks.
    public var debugContext: Bool
    /// The device's limits, with the loop limit the probe at creation found (clamped when
    /// ``limitsProfile`` says so).
    public var limits: DeviceLimits
    /// Whether ``limits`` are the device's own or clamped to OpenGL ES 3.1's minimums.
    public var limitsProfile: LimitsProfile
    /// The GL and EGL extensions vyre-gl looks for, and whether this context has each.
    public var features: [String: Bool]
    /// `GL_NUM_PROGRAM_BINARY_FORMATS`: 0 means linked programs cannot be saved, so the program
    /// binary cache is bypassed (Mesa reports 0 while its own shader cache is disabled).
    public var programBinaryFormats: Int

    /// Whether buffers can be mapped persistently and coherently (`GL_ARB_buffer_storage` or GL 4.4;
    /// `GL_EXT_buffer_storage` on OpenGL ES), so the host and a running kernel share memory. Without
    /// it one-shot work goes through plain uploads and readbacks, and the resident megakernel and
    /// the file feeder refuse to start (``VyreGLError/noPersistentMapping(found:needs:)``).
    public var persistentMapping: Bool {
        features[api == .gl ? "GL_ARB_buffer_storage" : "GL_EXT_buffer_storage"] ?? false
    }

    /// The context as an error about persistent mapping names it: the driver, and why there is none.
    public var mappingDescription: String {
        let missing = api == .gl ? "GL_ARB_buffer_storage" : "GL_EXT_buffer_storage"
        return limitsProfile == .es31Core ? "\(renderer) (\(glVersion)) under VYRE_GL_LIMITS=es31-core, which hides \(missing),"
            : "\(renderer) (\(glVersion)), which lacks \(missing),"
    }

    /// Whether a software renderer runs the context: the device's EGL flag where there is a device,
    /// else whether the renderer is llvmpipe.
    public var isSoftware: Bool { device?.isSoftware ?? renderer.lowercased().contains("llvmpipe") }
}

/// Which limits a context reports: the device's own, or only what OpenGL ES 3.1 guarantees every
/// device, so that code meant for the smallest boards can be proved on a large one (CI proves the
/// megakernel within them on llvmpipe).
public enum LimitsProfile: String, Sendable, Hashable, Codable, CaseIterable {
    /// What the driver reports.
    case device
    /// Clamped to OpenGL ES 3.1's minimum maximums: 4 storage blocks and bindings, 128
    /// invocations per workgroup (128 x 128 x 64), 16 KiB of shared memory, 65,535 workgroups
    /// per dimension, 128 MiB per storage block, 256-byte binding alignment, no 64-bit types;
    /// on an OpenGL ES context also GLSL ES 3.10 with no extension (no `precise`).
    case es31Minimum = "es31-minimum"
    /// The same limits, and as if the driver offered no extension at all, so no persistent
    /// mapping either (`GL_EXT_buffer_storage`, or `GL_ARB_buffer_storage` and GL 4.4 on OpenGL):
    /// what a bare ES 3.1 driver has. One-shot work runs through plain uploads and readbacks; the
    /// resident megakernel and the file feeder refuse to start.
    case es31Core = "es31-core"

    /// Whether the limits are clamped to OpenGL ES 3.1's minimums.
    public var isMinimum: Bool { self != .device }

    /// `VYRE_GL_LIMITS` (`device`, `es31-minimum` or `es31-core`), when set.
    static func environment() throws(VyreGLError) -> LimitsProfile? {
        guard let v = ProcessInfo.processInfo.environment["VYRE_GL_LIMITS"], !v.isEmpty else { return nil }
        guard let profile = LimitsProfile(rawValue: v.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw .badLimitsProfile(value: v)
        }
        return profile
    }
}

extension DeviceLimits {
    /// These limits, no larger than what OpenGL ES 3.1 guarantees.
    func clampedToES31Minimum() -> DeviceLimits {
        var l = self
        l.maxWorkgroupCount = l.maxWorkgroupCount.map { min($0, 65_535) }
        l.maxWorkgroupSize = zip(l.maxWorkgroupSize, [128, 128, 64]).map { min($0, $1) }
        l.maxWorkgroupInvocations = min(l.maxWorkgroupInvocations, 128)
        l.maxSharedMemoryBytes = min(l.maxSharedMemoryBytes, 16_384)
        l.maxComputeStorageBlocks = min(l.maxComputeStorageBlocks, 4)
        l.maxStorageBufferBindings = min(l.maxStorageBufferBindings, 4)
        l.maxStorageBlockBytes = min(l.maxStorageBlockBytes, 1 << 27)
        l.storageBufferOffsetAlignment = max(l.storageBufferOffsetAlignment, 256)
        l.int64 = false
        l.float64 = false
        return l
    }
}
