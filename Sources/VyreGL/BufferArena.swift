import CEGL
public import VyreIR
import Synchronization

/// Owns a set of buffers made together and deletes them together: the buffers of one run, say.
/// Device-local entries are read back by copy; host-mapped entries through their mapping.
public struct BufferArena: ~Copyable, @unchecked Sendable {
    private struct Entry {
        var handle: BufferHandle
        var mapping: UnsafeMutablePointer<Atomic<UInt32>>?
    }

    private var entries: [Entry] = []
    let context: GLContext

    /// An empty arena on `context`; allocates nothing until a buffer is added.
    public init(context: GLContext) { self.context = context }

    deinit { for e in entries { context.release(.buffer(e.handle.name)) } }

    /// Buffers added so far; their indices run `0 ..< count`.
    public var count: Int { entries.count }
    /// The handle of buffer `index`, to bind it in a dispatch; valid while the arena lives. No GL call.
    public func handle(_ index: Int) -> BufferHandle { entries[index].handle }

    /// Adds a buffer holding `words`; host-mapped when `mapped`. Returns its index.
    public mutating func add(words: [UInt32], mapped: Bool) throws(VyreGLError) -> Int {
        let size = max(4, words.count * 4)
        let name: UInt32
        var mapping: UnsafeMutablePointer<Atomic<UInt32>>? = nil
        if mapped {
            let flags = GL_MAP_READ_BIT | GL_MAP_WRITE_BIT | GL_MAP_PERSISTENT_BIT | GL_MAP_COHERENT_BIT
            let created = try context.onThread { gl throws(VyreGLError) in try gl.createBuffer(bytes: size, flags: flags, map: true) }
            name = created.name
            mapping = created.base?.bindMemory(to: Atomic<UInt32>.self, capacity: size / 4)
            for (i, w) in words.enumerated() { mapping![i].store(w, ordering: .relaxed) }
        } else {
            // The contents go in with the storage; the arena never uploads again, so the storage
            // needs no CPU access at all and the driver may keep it in device memory.
            name = try context.onThread { gl throws(VyreGLError) in
                try gl.createBuffer(bytes: size, flags: 0, map: false, initial: words.isEmpty ? nil : words).name
            }
        }
        entries.append(Entry(handle: BufferHandle(name: name, byteCount: size, contextSerial: context.serial), mapping: mapping))
        return entries.count - 1
    }

    /// Adds a buffer of `words` zero words, cleared on the device (nothing is uploaded).
    public mutating func add(zeros words: Int, mapped: Bool) throws(VyreGLError) -> Int {
        let size = max(4, words * 4)
        // Cleared on the device and never uploaded to: no CPU access needed unless mapped.
        let flags = mapped ? GL_MAP_READ_BIT | GL_MAP_WRITE_BIT | GL_MAP_PERSISTENT_BIT | GL_MAP_COHERENT_BIT : 0
        let created = try context.onThread { gl throws(VyreGLError) in try gl.createBuffer(bytes: size, flags: flags, map: mapped) }
        let mapping = created.base?.bindMemory(to: Atomic<UInt32>.self, capacity: size / 4)
        entries.append(Entry(handle: BufferHandle(name: created.name, byteCount: size, contextSerial: context.serial), mapping: mapping))
        return entries.count - 1
    }

    /// Adds a buffer starting with `contents`: zeros are cleared on the device, words uploaded.
    public mutating func add(_ contents: BufferContents, mapped: Bool) throws(VyreGLError) -> Int {
        switch contents {
        case .words(let w): try add(words: w, mapped: mapped)
        case .zeros(let n): try add(zeros: n, mapped: mapped)
        }
    }

    /// The first `words` words of buffer `index`.
    public func read(_ index: Int, words: Int) throws(VyreGLError) -> [UInt32] {
        try read(index, words: 0..<words)
    }

    /// Words `range` of buffer `index`.
    public func read(_ index: Int, words range: Range<Int>) throws(VyreGLError) -> [UInt32] {
        let e = entries[index]
        precondition(range.lowerBound >= 0 && range.upperBound * 4 <= e.handle.byteCount, "read past buffer \(index)")
        if let m = e.mapping { return range.map { m[$0].load(ordering: .relaxed) } }
        let name = e.handle.name
        return try context.onThread { gl throws(VyreGLError) in try gl.read(words: range, from: name) }
    }
}
