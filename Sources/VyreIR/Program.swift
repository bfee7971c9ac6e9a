/// A compute program: the buffers it binds, its workgroup shape, its shared memory and its body.
///
/// A `Program` is plain data (Sendable, Hashable; JSON through ``init(json:)``, binary through
/// ``WireFormat``). Validate it with ``validated(limits:)`` before lowering or interpreting it.
public struct Program: Sendable, Hashable {
    public var buffers: [BufferDecl]
    public var shared: [SharedDecl]
    public var workgroupSize: WorkgroupSize
    /// The statements every invocation runs.
    public var entry: [Node]

    /// A program from its parts, unchecked: validate it (``validated(limits:)``) before use.
    public init(buffers: [BufferDecl] = [], shared: [SharedDecl] = [], workgroupSize: WorkgroupSize = WorkgroupSize(1), entry: [Node] = []) {
        self.buffers = buffers
        self.shared = shared
        self.workgroupSize = workgroupSize
        self.entry = entry
    }

    /// The buffer declared as `name`, or nil (a linear search).
    public func buffer(named name: String) -> BufferDecl? { buffers.first { $0.name == name } }
    /// The shared array declared as `name`, or nil (a linear search).
    public func sharedArray(named name: String) -> SharedDecl? { shared.first { $0.name == name } }

    /// Statements in the whole program.
    public var nodeCount: Int { entry.reduce(0) { $0 + $1.nodeCount } }

    /// Names of every `parameter` the program reads (one walk; a validated program has them in
    /// ``ProgramAnalysis/parameters``).
    public var parameterNames: Set<String> {
        struct Parameters: ProgramVisitor {
            var names: Set<String> = []
            mutating func visit(_ expr: Expr, at path: String, depth: Int) {
                if case .parameter(let n) = expr { names.insert(n) }
            }
        }
        var found = Parameters()
        walk(&found)
        return found.names
    }
}

/// Invocations per workgroup along x, y and z.
public struct WorkgroupSize: Sendable, Hashable, CustomStringConvertible {
    public var x: UInt32
    public var y: UInt32
    public var z: UInt32

    /// A workgroup shape; the axes left out are 1.
    public init(_ x: UInt32, _ y: UInt32 = 1, _ z: UInt32 = 1) {
        self.x = x
        self.y = y
        self.z = z
    }

    /// Invocations in one workgroup (as UInt64 so oversized shapes do not overflow).
    public var invocations: UInt64 { UInt64(x) * UInt64(y) * UInt64(z) }
    public var description: String { "\(x)x\(y)x\(z)" }
    /// The extent along `axis`.
    public subscript(axis: Axis) -> UInt32 { [x, y, z][axis.rawValue] }
}

/// How the program may use a buffer; the raw value is its JSON name. Validation refuses loads
/// from write-only buffers, stores to read-only ones and atomics on anything but read_write.
public enum BufferAccess: String, Sendable, Hashable, CaseIterable, Codable {
    case readOnly = "read"
    case readWrite = "read_write"
    case writeOnly = "write"

    public var canRead: Bool { self != .writeOnly }
    public var canWrite: Bool { self != .readOnly }
}

/// Where a buffer should live. A hint: a backend without the placement falls back to device-local.
public enum BufferPlacement: String, Sendable, Hashable, CaseIterable, Codable {
    /// GPU memory; the host uploads and reads back ranges.
    case deviceLocal = "device"
    /// Persistently mapped, coherent host-visible memory, read and written by the host while the
    /// program runs (rings, doorbells). Loads from it are never cached.
    case hostMapped = "host"
}

/// A storage buffer the program binds.
public struct BufferDecl: Sendable, Hashable {
    public var name: String
    /// The binding point the host attaches the buffer to; unique in the program and below
    /// ``Limits/maxBindings``.
    public var binding: UInt32
    public var access: BufferAccess
    public var elementType: DataType
    /// Element count; `nil` for a runtime-sized buffer whose length comes from the bound memory.
    public var count: UInt32?
    public var placement: BufferPlacement

    /// A buffer declaration; leave `count` out for a runtime-sized buffer.
    public init(_ name: String, binding: UInt32, access: BufferAccess, type: DataType, count: UInt32? = nil, placement: BufferPlacement = .deviceLocal) {
        self.name = name
        self.binding = binding
        self.access = access
        self.elementType = type
        self.count = count
        self.placement = placement
    }
}

/// A workgroup-shared array. Its elements start at zero in every workgroup.
public struct SharedDecl: Sendable, Hashable {
    public var name: String
    public var elementType: DataType
    public var count: UInt32

    /// A shared array declaration; `count` must be at least 1 (validation checks it).
    public init(_ name: String, type: DataType, count: UInt32) {
        self.name = name
        self.elementType = type
        self.count = count
    }

    /// Bytes of shared memory the array takes (all arrays together are checked against
    /// ``Limits/maxSharedMemoryBytes``).
    public var byteCount: UInt64 { UInt64(count) * UInt64(elementType.byteCount) }
}
