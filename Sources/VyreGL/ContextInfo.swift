public import VyreIR

/// Numeric limits of a device, as queried from GL.
public struct DeviceLimits: Sendable, Hashable, Codable {
    public var maxWorkgroupCount: [UInt32]
    public var maxWorkgroupSize: [UInt32]
    public var maxWorkgroupInvocations: UInt32
    public var maxSharedMemoryBytes: UInt32
    public var maxComputeStorageBlocks: UInt32
    public var maxStorageBufferBindings: UInt32
    public var maxStorageBlockBytes: UInt64
    public var storageBufferOffsetAlignment: UInt32
    public var int64: Bool
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

    public var maxGrid: WorkgroupSize { WorkgroupSize(maxWorkgroupCount[0], maxWorkgroupCount[1], maxWorkgroupCount[2]) }
}

/// What a context runs on: the EGL side, the GL side, limits and the features vyre-gl uses.
public struct GLContextInfo: Sendable, Hashable, Codable {
    public var origin: DisplayOrigin
    public var device: GLDeviceInfo?
    public var eglVersion: String
    public var eglVendor: String
    public var glVersion: String
    public var glslVersion: String
    public var renderer: String
    public var vendor: String
    /// Robust buffer access was requested and granted.
    public var robustAccess: Bool
    /// The context reports resets (lose-context-on-reset) instead of hanging.
    public var resetNotification: Bool
    public var debugContext: Bool
    public var limits: DeviceLimits
    /// The GL and EGL extensions vyre-gl looks for, and whether this context has each.
    public var features: [String: Bool]

    public var isSoftware: Bool { device?.isSoftware ?? renderer.lowercased().contains("llvmpipe") }
}
