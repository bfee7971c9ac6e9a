import CEGL
import Synchronization

/// A copyable reference to a GL buffer, used to bind it. It does not own the buffer: keep the
/// owning ``DeviceBuffer`` or ``MappedBuffer`` alive while dispatches use the handle.
public struct BufferHandle: Sendable, Hashable {
    /// The GL buffer object's name, meaningful only on the context that made it.
    public let name: UInt32
    /// Bytes bound from the start of the buffer (a prefix when made by ``prefix(bytes:)``).
    public let byteCount: Int
    let contextSerial: UInt64

    /// The first `bytes` bytes of the buffer (at least 4): binds that range, so a shader sees a
    /// runtime-sized buffer of exactly that length. Lets one allocation serve smaller uses.
    public func prefix(bytes: Int) -> BufferHandle {
        precondition(bytes <= byteCount, "prefix of \(bytes) bytes of a \(byteCount)-byte buffer")
        return BufferHandle(name: name, byteCount: max(4, (bytes + 3) / 4 * 4), contextSerial: contextSerial)
    }
}

/// A range of a buffer to read into host memory (``GLState/read(_:)``).
struct BufferRead {
    let name: UInt32
    let bytes: Range<Int>
    let destination: UnsafeMutableRawPointer
}

/// GPU memory that the host fills and reads back by range (`glBufferStorage` without map bits,
/// so drivers place it in video memory). Uploads and readbacks are copies through the driver.
public struct DeviceBuffer: ~Copyable, Sendable {
    /// The handle to bind this buffer in a dispatch; valid while this owner lives.
    public let handle: BufferHandle
    let context: GLContext

    init(handle: BufferHandle, context: GLContext) {
        self.handle = handle
        self.context = context
    }

    deinit { context.release(.buffer(handle.name)) }

    /// Size of the storage in bytes (a multiple of 4, at least 4).
    public var byteCount: Int { handle.byteCount }

    /// Writes `words` starting at word `offset`.
    public func upload(_ words: [UInt32], atWord offset: Int = 0) throws(VyreGLError) {
        guard offset >= 0, (offset + words.count) * 4 <= handle.byteCount else {
            throw .bufferTooSmall(name: "buffer \(handle.name)", bytes: handle.byteCount, needed: (offset + words.count) * 4)
        }
        if words.isEmpty { return }
        let name = handle.name
        try context.onThread { gl throws(VyreGLError) in try gl.upload(words, into: name, atWord: offset) }
    }

    /// Reads words `range` back to the host (waits for GPU work that writes the buffer).
    public func read(words range: Range<Int>) throws(VyreGLError) -> [UInt32] {
        guard range.lowerBound >= 0, range.upperBound * 4 <= handle.byteCount else {
            throw .bufferTooSmall(name: "buffer \(handle.name)", bytes: handle.byteCount, needed: range.upperBound * 4)
        }
        let name = handle.name
        return try context.onThread { gl throws(VyreGLError) in try gl.read(words: range, from: name) }
    }

    /// Reads the whole buffer back: one job on the context thread that blocks the caller, waits for
    /// GPU work that writes the buffer, and allocates `byteCount / 4` words.
    public func readAll() throws(VyreGLError) -> [UInt32] { try read(words: 0..<(handle.byteCount / 4)) }
}

/// Host-visible memory mapped once for the buffer's whole life (`MAP_PERSISTENT | MAP_COHERENT`),
/// readable and writable by the host while GPU programs run; ``view`` is its words.
public struct MappedBuffer: ~Copyable, @unchecked Sendable {
    /// The handle to bind this buffer in a dispatch; valid while this owner lives.
    public let handle: BufferHandle
    let context: GLContext
    /// The mapping's words; valid until `deinit` deletes the buffer (which also unmaps it).
    public let view: MappedView

    init(handle: BufferHandle, context: GLContext, base: UnsafeMutableRawPointer) {
        self.handle = handle
        self.context = context
        view = MappedView(base: base, wordCount: handle.byteCount / 4)
    }

    deinit { context.release(.buffer(handle.name)) }

    /// Size of the storage in bytes (a multiple of 4, at least 4).
    public var byteCount: Int { handle.byteCount }
    /// Words reachable through the mapping (`byteCount / 4`); valid indices run `0 ..< wordCount`.
    public var wordCount: Int { view.wordCount }

    public func load(_ index: Int) -> UInt32 { view.load(index) }
    public func loadRelaxed(_ index: Int) -> UInt32 { view.loadRelaxed(index) }
    public func store(_ value: UInt32, at index: Int) { view.store(value, at: index) }
    public func storeRelaxed(_ value: UInt32, at index: Int) { view.storeRelaxed(value, at: index) }
    public func compareExchange(at index: Int, expected: UInt32, desired: UInt32) -> (exchanged: Bool, original: UInt32) {
        view.compareExchange(at: index, expected: expected, desired: desired)
    }
    @discardableResult
    public func add(_ value: UInt32, at index: Int) -> UInt32 { view.add(value, at: index) }
    public func write(_ values: [UInt32], atWord offset: Int) { view.write(values, atWord: offset) }
    public func withUnsafeWordsWhileIdle<R>(_ body: (UnsafeMutableBufferPointer<UInt32>) throws -> R) rethrows -> R {
        try view.withUnsafeWordsWhileIdle(body)
    }
    public func read(words range: Range<Int>) -> [UInt32] { view.read(words: range) }
    public func copyWhileIdle(words range: Range<Int>) -> [UInt32] { view.copyWhileIdle(words: range) }
}

/// The words of a persistent, coherent mapping, valid while the ``MappedBuffer`` that made it
/// lives (a view does not keep it alive).
///
/// Words are accessed only through atomic operations with an explicit ordering: the GPU may read
/// or write any word at any time. Publish data with relaxed stores followed by a releasing store
/// of the flag word; read a flag with an acquiring load before the data it guards. Plain access
/// is only for memory no GPU work touches at the time (``withUnsafeWordsWhileIdle(_:)``,
/// ``exclusiveBytes(_:)``).
public struct MappedView: @unchecked Sendable {
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    /// Words reachable through the mapping; valid indices run `0 ..< wordCount`.
    public let wordCount: Int

    init(base: UnsafeMutableRawPointer, wordCount: Int) {
        self.wordCount = wordCount
        words = base.bindMemory(to: Atomic<UInt32>.self, capacity: wordCount)
    }

    @inline(__always)
    private func checked(_ index: Int) -> Int {
        precondition(index >= 0 && index < wordCount, "mapped word \(index) outside 0..<\(wordCount)")
        return index
    }

    /// Words `range` of this view as a view of their own (index 0 is `range.lowerBound`): one
    /// region of a buffer that holds several, valid as long as this view is.
    public func slice(words range: Range<Int>) -> MappedView {
        precondition(range.lowerBound >= 0 && range.upperBound <= wordCount, "mapped slice outside the buffer")
        return MappedView(base: UnsafeMutableRawPointer(words + range.lowerBound), wordCount: range.count)
    }

    /// Loads a word with acquiring ordering: data published before it by a releasing store is visible.
    public func load(_ index: Int) -> UInt32 {
        words[checked(index)].load(ordering: .acquiring)
    }

    /// Loads a word with relaxed ordering: for data already ordered by an acquiring load of its flag,
    /// or read after the submission's fence. No GL call.
    public func loadRelaxed(_ index: Int) -> UInt32 {
        words[checked(index)].load(ordering: .relaxed)
    }

    /// Stores a word with releasing ordering: every earlier store is visible to whoever sees it.
    public func store(_ value: UInt32, at index: Int) {
        words[checked(index)].store(value, ordering: .releasing)
    }

    /// Stores a word with relaxed ordering; publish it with a later releasing ``store(_:at:)``.
    public func storeRelaxed(_ value: UInt32, at index: Int) {
        words[checked(index)].store(value, ordering: .relaxed)
    }

    /// Replaces the word if it equals `expected` (acquiring and releasing); returns whether it did
    /// and the value seen.
    public func compareExchange(at index: Int, expected: UInt32, desired: UInt32) -> (exchanged: Bool, original: UInt32) {
        words[checked(index)].compareExchange(expected: expected, desired: desired, ordering: .acquiringAndReleasing)
    }

    /// Adds `value` with wrapping (acquiring and releasing); returns the previous value.
    @discardableResult
    public func add(_ value: UInt32, at index: Int) -> UInt32 {
        words[checked(index)].wrappingAdd(value, ordering: .acquiringAndReleasing).oldValue
    }

    /// Stores `values` from word `offset` with relaxed ordering (publish them with a later
    /// releasing store).
    public func write(_ values: [UInt32], atWord offset: Int) {
        precondition(offset >= 0 && offset + values.count <= wordCount, "mapped write outside the buffer")
        for (i, v) in values.enumerated() { words[offset + i].store(v, ordering: .relaxed) }
    }

    /// Bulk host access without per-word atomics, for filling or reading large ranges quickly.
    /// Only while no submitted GPU work uses the buffer (after its fence, before the next
    /// submission that binds it): then nothing else touches the memory, so plain access is not a race.
    public func withUnsafeWordsWhileIdle<R>(_ body: (UnsafeMutableBufferPointer<UInt32>) throws -> R) rethrows -> R {
        try UnsafeMutableRawPointer(words).withMemoryRebound(to: UInt32.self, capacity: wordCount) {
            try body(UnsafeMutableBufferPointer(start: $0, count: wordCount))
        }
    }

    /// The raw bytes of `range`, for a writer that owns them by protocol: no GPU work reads or
    /// writes them until the host hands them over with a releasing store (publishing an op that
    /// names them), and the host does not touch them again until that op's completion has been
    /// seen with an acquiring load. An I/O read into the range (io_uring, `pread`) is such a writer.
    public func exclusiveBytes(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= wordCount * 4, "mapped bytes outside the buffer")
        return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(words) + range.lowerBound, count: range.count)
    }

    /// Loads words `range` with relaxed ordering (after an acquiring load or a completed fence).
    public func read(words range: Range<Int>) -> [UInt32] {
        precondition(range.lowerBound >= 0 && range.upperBound <= wordCount, "mapped read outside the buffer")
        return range.map { words[$0].load(ordering: .relaxed) }
    }

    /// Copies words `range` out in bulk, only while no submitted GPU work uses the buffer (see
    /// ``withUnsafeWordsWhileIdle(_:)``).
    public func copyWhileIdle(words range: Range<Int>) -> [UInt32] {
        precondition(range.lowerBound >= 0 && range.upperBound <= wordCount, "mapped read outside the buffer")
        return withUnsafeWordsWhileIdle { Array($0[range]) }
    }
}

/// Where a mapped buffer's storage should live; the driver has the last word (GL only hints).
///
/// Which side pays depends on it: host reads and atomics of memory on the device cross the bus
/// one at a time (a microsecond or so each), while the device's reads of host memory do. A word
/// the host polls or updates belongs in host memory; a word only the host writes and the device
/// reads may live on either side.
public enum MappedPlacement: String, Sendable, Hashable, CaseIterable {
    /// The driver picks (`MAP_READ | MAP_WRITE | MAP_PERSISTENT | MAP_COHERENT`).
    case driverChoice = "driver"
    /// The same flags plus `GL_CLIENT_STORAGE_BIT`: backed by host memory where the driver honours it.
    case hostMemory = "host"
}

/// When the host touches a mapped buffer, which decides what a context without persistent
/// mapping (``GLContextInfo/persistentMapping``) can make.
public enum MappedAccess: Sendable, Hashable {
    /// While GPU work runs (a resident kernel's ring, a feeder's slots): needs a persistent,
    /// coherent mapping, so a context without one refuses with
    /// ``VyreGLError/noPersistentMapping(found:needs:)``.
    case concurrent
    /// Only between submissions (a one-shot batch's items, read after its fence): where there is
    /// no persistent mapping, the buffer is a host copy that each submission binding it uploads
    /// before its work and reads back after its fence.
    case betweenSubmissions
}

extension GLContext {
    /// A zero-filled device-local buffer of `bytes` bytes (at least 4).
    public func makeDeviceBuffer(bytes: Int) throws(VyreGLError) -> DeviceBuffer {
        let size = max(4, (bytes + 3) / 4 * 4)
        let name = try onThread { gl throws(VyreGLError) in
            try gl.createBuffer(bytes: size, flags: GL_DYNAMIC_STORAGE_BIT, map: false).name
        }
        return DeviceBuffer(handle: BufferHandle(name: name, byteCount: size, contextSerial: serial), context: self)
    }

    /// A device-local buffer holding `words`.
    public func makeDeviceBuffer(words: [UInt32]) throws(VyreGLError) -> DeviceBuffer {
        guard !words.isEmpty else { return try makeDeviceBuffer(bytes: 4) }
        // With the storage, not as a clear then an upload: NVIDIA 580 let the upload land before
        // the clear (see `createBuffer`), and a 73 KB automaton table read as zeros on the H200.
        let name = try onThread { gl throws(VyreGLError) in
            try gl.createBuffer(bytes: words.count * 4, flags: GL_DYNAMIC_STORAGE_BIT, map: false, initial: words).name
        }
        return DeviceBuffer(handle: BufferHandle(name: name, byteCount: words.count * 4, contextSerial: serial), context: self)
    }

    /// A zero-filled, persistently mapped, coherent buffer of `bytes` bytes (at least 4), placed
    /// as `placement` asks; see ``MappedAccess`` for contexts without persistent mapping.
    public func makeMappedBuffer(bytes: Int, placement: MappedPlacement = .driverChoice,
                                 access: MappedAccess = .concurrent) throws(VyreGLError) -> MappedBuffer {
        if access == .concurrent, !info.persistentMapping {
            throw .noPersistentMapping(found: info.mappingDescription, needs: "a buffer mapped while GPU work runs (makeMappedBuffer)")
        }
        let size = max(4, (bytes + 3) / 4 * 4)
        let flags = GL_MAP_READ_BIT | GL_MAP_WRITE_BIT | GL_MAP_PERSISTENT_BIT | GL_MAP_COHERENT_BIT
            | (placement == .hostMemory ? GL_CLIENT_STORAGE_BIT : 0)
        let (name, base) = try onThread { gl throws(VyreGLError) in
            try gl.createBuffer(bytes: size, flags: flags, map: true)
        }
        guard let base else { throw .outOfDeviceMemory(bytes: size, detail: "glMapBufferRange returned no pointer") }
        return MappedBuffer(handle: BufferHandle(name: name, byteCount: size, contextSerial: serial), context: self, base: base)
    }
}

extension GLState {
    /// Writes `words` into buffer `name` from word `offset` (the caller checked the range).
    func upload(_ words: [UInt32], into name: UInt32, atWord offset: Int) throws(VyreGLError) {
        guard !words.isEmpty else { return }
        glBindBuffer(GLenum(GL_COPY_WRITE_BUFFER), name)
        words.withUnsafeBytes { glBufferSubData(GLenum(GL_COPY_WRITE_BUFFER), offset * 4, $0.count, $0.baseAddress) }
        glBindBuffer(GLenum(GL_COPY_WRITE_BUFFER), 0)
        try check("glBufferSubData(\(words.count * 4) bytes)")
    }

    /// Reads words `range` of buffer `name` (waits for GPU work that writes it).
    func read(words range: Range<Int>, from name: UInt32) throws(VyreGLError) -> [UInt32] {
        guard !range.isEmpty else { return [] }
        let bytes = (range.lowerBound * 4)..<(range.upperBound * 4)
        var failure: VyreGLError?
        let out = [UInt32](unsafeUninitializedCapacity: range.count) { words, count in
            do throws(VyreGLError) { try read(bytes: bytes, from: name, into: UnsafeMutableRawPointer(words.baseAddress!)) } catch {
                failure = error
                words.initialize(repeating: 0)
            }
            count = range.count
        }
        if let failure { throw failure }
        return out
    }

    /// Reads bytes `range` of buffer `name` into `destination` (waits for GPU work that writes it).
    ///
    /// OpenGL ES has no `glGetBufferSubData`, and buffers made without a read bit cannot be
    /// mapped: there the range is copied into a staging buffer that can, which is mapped for
    /// reading (the map waits for the copy).
    func read(bytes range: Range<Int>, from name: UInt32, into destination: UnsafeMutableRawPointer) throws(VyreGLError) {
        try read([BufferRead(name: name, bytes: range, destination: destination)])
    }

    /// Reads every range of `reads` into its destination. On ES all of them are copied into one
    /// staging buffer and mapped once: each map waits for the GPU, so one wait serves them all.
    func read(_ reads: [BufferRead]) throws(VyreGLError) {
        let reads = reads.filter { !$0.bytes.isEmpty }
        guard !reads.isEmpty else { return }
        guard api == .gles else {
            for r in reads {
                glBindBuffer(GLenum(GL_COPY_READ_BUFFER), r.name)
                glGetBufferSubData(GLenum(GL_COPY_READ_BUFFER), r.bytes.lowerBound, r.bytes.count, r.destination)
            }
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), 0)
            try check("glGetBufferSubData (\(reads.count) ranges)")
            return
        }
        let bytes = reads.reduce(0) { $0 + $1.bytes.count }
        // Reads up to 64 MiB share one kept buffer; a larger one gets its own, deleted after.
        let kept = bytes <= Self.keptStagingBytes
        let staging = kept ? try stagingBuffer(bytes: bytes) : try createBuffer(bytes: bytes, flags: GL_MAP_READ_BIT, map: false, zeroed: false).name
        defer { if !kept { delete(.buffer(staging)) } }
        glBindBuffer(GLenum(GL_COPY_WRITE_BUFFER), staging)
        defer {
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), 0)
            glBindBuffer(GLenum(GL_COPY_WRITE_BUFFER), 0)
        }
        var offset = 0
        for r in reads {
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), r.name)
            glCopyBufferSubData(GLenum(GL_COPY_READ_BUFFER), GLenum(GL_COPY_WRITE_BUFFER), r.bytes.lowerBound, offset, r.bytes.count)
            offset += r.bytes.count
        }
        try check("glCopyBufferSubData(\(bytes) bytes into a staging buffer)")
        guard let mapped = glMapBufferRange(GLenum(GL_COPY_WRITE_BUFFER), 0, bytes, GLbitfield(GL_MAP_READ_BIT)) else {
            try check("glMapBufferRange(read, \(bytes) bytes)")
            throw .outOfDeviceMemory(bytes: bytes, detail: "glMapBufferRange returned no pointer for a read")
        }
        offset = 0
        for r in reads {
            r.destination.copyMemory(from: mapped + offset, byteCount: r.bytes.count)
            offset += r.bytes.count
        }
        glUnmapBuffer(GLenum(GL_COPY_WRITE_BUFFER))
        try check("glUnmapBuffer")
    }

    /// The most a kept staging buffer holds.
    static let keptStagingBytes = 64 << 20

    /// The context's staging buffer for ES reads and large host-copy uploads, grown to at least
    /// `bytes` (kept between uses: making one per read cost tens of microseconds on the H200).
    func stagingBuffer(bytes: Int) throws(VyreGLError) -> UInt32 {
        if let staging, staging.bytes >= bytes { return staging.name }
        if let old = staging { delete(.buffer(old.name)) }
        staging = nil
        let size = max(bytes, 64 << 10)
        let (name, _) = try createBuffer(bytes: size, flags: GL_MAP_READ_BIT, map: false, zeroed: false)
        staging = (name, size)
        return name
    }

    /// Bytes one clear call zeroes (see `createBuffer`).
    static let clearPieceBytes = 8 << 20

    /// Creates immutable storage of `bytes` bytes holding `initial` (little-endian words; the rest,
    /// or all of it when nil, zeroed on the device); maps it persistently when `map` is set.
    ///
    /// Initial contents go in with the storage itself, never as a clear followed by an upload:
    /// NVIDIA 580 let a 4 MB `glBufferSubData` land before the preceding `glClearBufferData`
    /// finished, leaving the buffer zero.
    func createBuffer(bytes: Int, flags: Int32, map: Bool, initial: [UInt32]? = nil,
                      zeroed: Bool = true) throws(VyreGLError) -> (name: UInt32, base: UnsafeMutableRawPointer?) {
        guard let glBufferStorage = entryPoints.bufferStorage else {
            return try createMutableBuffer(bytes: bytes, map: map, initial: initial, zeroed: zeroed)
        }
        // Made first: making it binds and unbinds the copy target.
        let zeros: UInt32? = api == .gles && zeroed && initial?.count != bytes / 4 ? try zeroPiece() : nil
        var name: GLuint = 0
        glGenBuffers(1, &name)
        let target = GLenum(GL_COPY_WRITE_BUFFER)
        glBindBuffer(target, name)
        defer { glBindBuffer(target, 0) }
        if let initial, initial.count * 4 == bytes {
            initial.withUnsafeBytes { glBufferStorage(target, bytes, $0.baseAddress, GLbitfield(flags)) }
            let e = glGetError()
            if e != GLenum(GL_NO_ERROR) {
                glDeleteBuffers(1, &name)
                if GLErrorCode(e).isOutOfMemory { throw .outOfDeviceMemory(bytes: bytes, detail: "glBufferStorage") }
                throw .glFailure(call: "glBufferStorage(\(bytes) bytes of data)", code: GLErrorCode(e))
            }
            return (name, nil)
        }
        glBufferStorage(target, bytes, nil, GLbitfield(flags))
        let e = glGetError()
        if e != GLenum(GL_NO_ERROR) {
            glDeleteBuffers(1, &name)
            if GLErrorCode(e).isOutOfMemory { throw .outOfDeviceMemory(bytes: bytes, detail: "glBufferStorage") }
            throw .glFailure(call: "glBufferStorage(\(bytes) bytes)", code: GLErrorCode(e))
        }
        guard zeroed else { return (name, nil) }
        zero(target, bytes: bytes, copyingFrom: zeros)
        var base: UnsafeMutableRawPointer? = nil
        if map {
            // Storage-only bits (client storage, dynamic storage) are not access bits.
            let access = flags & (GL_MAP_READ_BIT | GL_MAP_WRITE_BIT | GL_MAP_PERSISTENT_BIT | GL_MAP_COHERENT_BIT)
            base = glMapBufferRange(target, 0, bytes, GLbitfield(access))
            if base == nil {
                let e = glGetError()
                glDeleteBuffers(1, &name)
                throw .glFailure(call: "glMapBufferRange(persistent, coherent, \(bytes) bytes)", code: GLErrorCode(e))
            }
        }
        do throws(VyreGLError) {
            try check(api == .gl ? "glClearBufferData" : "glCopyBufferSubData (zeroing)")
            // The clear must land before the host reads or writes through the mapping. Generous:
            // a busy machine must not turn a microsecond clear into a failure.
            if map { try waitForGPU(timeout: .seconds(120), what: "clearing a new mapped buffer") }
        } catch {
            // Not handed to anyone yet: deleting it (which unmaps it) is this function's job.
            glDeleteBuffers(1, &name)
            throw error
        }
        return (name, base)
    }
}

extension GLState {
    /// Zeroes the first `bytes` bytes of the buffer bound to `target` on the device (GL leaves new
    /// storage undefined); OpenGL ES, which has no buffer clears, copies from `zeros`. In pieces:
    /// NVIDIA 580 stages a clear through host memory the size of the range (a 1 GiB clear peaked
    /// at 3.2 GB RSS).
    func zero(_ target: GLenum, bytes: Int, copyingFrom zeros: UInt32?) {
        if let zeros {
            // Copies from a buffer of zeros work whatever the new storage's flags.
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), zeros)
            for offset in stride(from: 0, to: bytes, by: Self.clearPieceBytes) {
                glCopyBufferSubData(GLenum(GL_COPY_READ_BUFFER), target, 0, offset, min(Self.clearPieceBytes, bytes - offset))
            }
            glBindBuffer(GLenum(GL_COPY_READ_BUFFER), 0)
        } else {
            var zero: GLuint = 0
            for offset in stride(from: 0, to: bytes, by: Self.clearPieceBytes) {
                glClearBufferSubData(target, GLenum(GL_R32UI), offset, min(Self.clearPieceBytes, bytes - offset), GLenum(GL_RED_INTEGER), GLenum(GL_UNSIGNED_INT), &zero)
            }
        }
    }

    /// A device buffer of ``clearPieceBytes`` zero bytes that OpenGL ES clears copy from, made on
    /// first use.
    func zeroPiece() throws(VyreGLError) -> UInt32 {
        if let zeros { return zeros }
        let (name, _) = try createBuffer(bytes: Self.clearPieceBytes, flags: 0, map: false,
                                         initial: [UInt32](repeating: 0, count: Self.clearPieceBytes / 4))
        zeros = name
        return name
    }
}
