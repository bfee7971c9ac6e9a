/// Words the protocol's host side reads and writes: the ring, control and debug log wherever they
/// live. A persistently mapped GPU buffer implements it (in VyreRuntime), and so does host memory
/// (``HostWords``), so encoding and publishing need no GPU.
///
/// Stores do not mutate the value: the memory is shared with a running kernel, and its words are
/// atomics whose orderings are part of the protocol.
public protocol RingMemory: ~Copyable {
    /// Words the memory holds; indices run `0 ..< wordCount`.
    var wordCount: Int { get }
    /// Loads a word with acquiring ordering: what was written before a releasing store of it is visible.
    func load(_ index: Int) -> UInt32
    /// Stores a word with relaxed ordering; publish it with a later releasing ``store(_:at:)``.
    func storeRelaxed(_ value: UInt32, at index: Int)
    /// Stores a word with releasing ordering: every store before it is visible to whoever loads it.
    func store(_ value: UInt32, at index: Int)
}

/// Host memory as ``RingMemory``: a view of words the caller owns exclusively for the view's
/// lifetime (nothing else reads them meanwhile), so plain loads and stores suffice.
public struct HostWords: RingMemory {
    private let words: UnsafeMutableBufferPointer<UInt32>

    /// A view of `words`; the caller keeps them alive, and untouched by anyone else, while it is used.
    public init(_ words: UnsafeMutableBufferPointer<UInt32>) { self.words = words }

    /// Words in the view.
    public var wordCount: Int { words.count }
    /// A plain load: memory nobody else touches needs no ordering.
    public func load(_ index: Int) -> UInt32 { words[index] }
    /// A plain store.
    public func storeRelaxed(_ value: UInt32, at index: Int) { words[index] = value }
    /// A plain store: memory nobody else touches needs no ordering.
    public func store(_ value: UInt32, at index: Int) { words[index] = value }
}
