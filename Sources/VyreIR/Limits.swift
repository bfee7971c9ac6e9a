/// What a target allows: workgroup shape, memory sizes, bindings, nesting, optional types.
///
/// Validation checks a program against these. ``gl43`` holds the minimums every GL 4.3 device
/// guarantees; the GL layer builds the real figures of a device from its queried limits.
public struct Limits: Sendable, Hashable {
    /// Largest workgroup extent along each axis.
    public var maxWorkgroupSize: WorkgroupSize
    /// Invocations in one workgroup, all axes multiplied.
    public var maxWorkgroupInvocations: UInt32
    /// Bytes of all of a program's shared arrays together.
    public var maxSharedMemoryBytes: UInt32
    /// Storage blocks one compute program may use.
    public var maxStorageBuffers: UInt32
    /// Binding points: every binding must be below this.
    public var maxBindings: UInt32
    /// Bytes of one buffer; validation can check only buffers with a fixed count.
    public var maxStorageBlockBytes: UInt64
    /// Deepest nesting of statements and expressions (the wire decoder uses the same measure).
    public var maxNestingDepth: Int
    /// Statements plus expression nodes in the whole program.
    public var maxProgramSize: Int
    /// The optional types the target runs; validation refuses a program that names another.
    public var capabilities: Set<Capability>

    /// Limits from a target's figures. GL reports no nesting or program-size limit, so those two
    /// are vyre-gl's own caps and have defaults.
    public init(maxWorkgroupSize: WorkgroupSize, maxWorkgroupInvocations: UInt32, maxSharedMemoryBytes: UInt32,
                maxStorageBuffers: UInt32, maxBindings: UInt32, maxStorageBlockBytes: UInt64,
                maxNestingDepth: Int = 64, maxProgramSize: Int = 1 << 20, capabilities: Set<Capability>) {
        self.maxWorkgroupSize = maxWorkgroupSize
        self.maxWorkgroupInvocations = maxWorkgroupInvocations
        self.maxSharedMemoryBytes = maxSharedMemoryBytes
        self.maxStorageBuffers = maxStorageBuffers
        self.maxBindings = maxBindings
        self.maxStorageBlockBytes = maxStorageBlockBytes
        self.maxNestingDepth = maxNestingDepth
        self.maxProgramSize = maxProgramSize
        self.capabilities = capabilities
    }

    /// The minimums of the OpenGL 4.3 core specification, without 64-bit types.
    public static let gl43 = Limits(
        maxWorkgroupSize: WorkgroupSize(1024, 1024, 64), maxWorkgroupInvocations: 1024,
        maxSharedMemoryBytes: 32768, maxStorageBuffers: 8, maxBindings: 8,
        maxStorageBlockBytes: 1 << 24, capabilities: [])

    /// The minimums of the OpenGL ES 3.1 specification: 4 storage blocks and bindings, 128
    /// invocations per workgroup, 16 KiB of shared memory, 128 MiB per storage block, no 64-bit types.
    public static let es31 = Limits(
        maxWorkgroupSize: WorkgroupSize(128, 128, 64), maxWorkgroupInvocations: 128,
        maxSharedMemoryBytes: 16384, maxStorageBuffers: 4, maxBindings: 4,
        maxStorageBlockBytes: 1 << 27, capabilities: [])

    /// No device in mind: generous sizes and every optional type. For tooling and the interpreter.
    public static let unrestricted = Limits(
        maxWorkgroupSize: WorkgroupSize(1024, 1024, 64), maxWorkgroupInvocations: 1024,
        maxSharedMemoryBytes: 65536, maxStorageBuffers: 96, maxBindings: 96,
        maxStorageBlockBytes: 1 << 40, capabilities: Set(Capability.allCases))
}
