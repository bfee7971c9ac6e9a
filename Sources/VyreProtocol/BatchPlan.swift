import Dispatch
public import VyreIR
import Synchronization

/// A batch the host has checked against the protocol and a megakernel's extra buffers: what
/// `Megakernel.run(_:)` dispatches. Made by ``Batch/plan(extraBuffers:)``, which needs no GPU.
public struct BatchPlan: Sendable {
    /// The batch this plan is for.
    public let batch: Batch
    /// Ring slots (the batch's `slots`, or one per item).
    public let slots: Int
    /// How the item records are laid out, and the widest args.
    public let layout: RecordLayout
    /// Args of the widest item: every record has room for this many (unused ones zero).
    public let maxArgs: Int
    /// The item range of each dispatch (see ``Batch/phases``).
    public let phases: [Range<Int>]
    /// The initial control buffer.
    public let control: [UInt32]
    /// Extra buffers with their initial words, in the megakernel's declaration order.
    public let extra: [(decl: BufferDecl, contents: BufferContents)]
    /// One opcode, tenant and priority shared by every item (what the layout leaves out of the records).
    package let shared: (opcode: UInt32, tenant: UInt32, priority: UInt32)
    var itemCount: Int { batch.items.count }

    /// Words per item record.
    public var recordWords: Int { layout.headerWords + maxArgs }
    /// Words of the buffers a dispatch binds (each at least one word).
    public var itemWords: Int { max(1, itemCount * recordWords) }
    /// Words of the ring a dispatch binds.
    public var ringWords: Int { slots * RingProtocol.slotWords }
    /// Words of the control buffer.
    public var controlWords: Int { control.count }
    /// Words of the debug log: its cursor and room for the batch's `debugRecords` records.
    public var debugWords: Int { RingProtocol.Debug.words(records: batch.debugRecords) }
    /// Room for a record of every item.
    public var exceptionWords: Int { ExceptionRecords.words(records: max(1, itemCount)) }
}

extension Batch {
    /// Checks the batch on the host (ring geometry, args per slot, the control buffer and debug
    /// log, the contents of `extraBuffers`) and returns what dispatching it needs. Throws the same
    /// typed errors `Megakernel.run(_:)` would, before anything reaches a device.
    public func plan(extraBuffers: [BufferDecl] = []) throws(MegakernelError) -> BatchPlan {
        let slots = self.slots ?? max(1, items.count)
        guard (1...RingProtocol.maxSlots).contains(slots) else {
            throw .invalidBatch(.invalidGeometry(problem: "\(counted(slots, "slot")); a ring has 1 to \(RingProtocol.maxSlots)", fix: "choose slots in that range"))
        }
        guard items.count <= slots else { throw .invalidBatch(.ringFull(items: items.count, slots: slots)) }
        let shape = RecordShape(items)
        if let bad = shape.tooManyArgs { throw .invalidBatch(.tooManyArgs(item: bad, count: items[bad].args.count)) }
        let control: [UInt32]
        do {
            control = try RingEncoding.control(words: controlWords, tenants: tenants, initial: self.control)
            _ = try RingEncoding.emptyDebugLog(records: debugRecords)
        } catch {
            throw .invalidBatch(error)
        }
        let extra = try Self.extraStartingContents(extraBuffers, buffers)
        return BatchPlan(batch: self, slots: slots, layout: shape.layout, maxArgs: shape.maxArgs, phases: phases, control: control,
                         extra: extra, shared: (shape.opcode, shape.tenant, shape.priority))
    }
}

extension Batch {
    /// The extra buffers' starting contents, in declaration order: `given` where named, zeroes at
    /// the declared count otherwise (a runtime-sized buffer left out starts with one element).
    /// Zeroes stay lazy: a declared count is checked against the device before anything of that
    /// size exists, so a huge declaration is an error rather than a host allocation.
    package static func extraStartingContents(_ decls: [BufferDecl], _ given: [String: [UInt32]]) throws(MegakernelError) -> [(decl: BufferDecl, contents: BufferContents)] {
        let extra: [(decl: BufferDecl, contents: BufferContents)]
        do {
            extra = try Program.startingContents(of: decls, given.mapValues { .words($0) }, runtimeSizedDefault: 1)
        } catch {
            throw extraBufferError(error)
        }
        if let empty = extra.first(where: { $0.contents.wordCount == 0 }) {
            throw extraBufferError(.bufferTooSmall(name: empty.decl.name, words: 0, needed: empty.decl.elementType.wordCount))
        }
        return extra
    }

    static func extraBufferError(_ error: InputError) -> MegakernelError {
        switch error {
        case .unknownBuffer(let name):
            return .invalidExtraBuffer(problem: "'\(quoteForMessage(name))' was given but the megakernel declares no such buffer", fix: "declare it among the megakernel's extra buffers (the opcode program's \"buffers\"), or drop it from the batch")
        case .bufferTooSmall(let name, let words, let needed):
            return .invalidExtraBuffer(problem: "'\(name)' was given \(counted(words, "word")), it needs \(needed)", fix: "pass that many words in the batch's \"buffers\", or leave it out to start it zeroed")
        case .missingBuffer(let name):
            // Not thrown while runtime-sized extra buffers default to one element; kept exhaustive.
            return extraBufferError(.bufferTooSmall(name: name, words: 0, needed: 1))
        }
    }
}

/// What one pass over a batch's items finds: the widest args, the first item with too many, and
/// how the records can be laid out (fields every item shares travel as parameters).
struct RecordShape {
    var layout: RecordLayout = .full
    var opcode: UInt32 = 0
    var tenant: UInt32 = 0
    var priority: UInt32 = 0
    var maxArgs = 0
    var tooManyArgs: Int?

    /// Record words before the args.
    var header: Int { layout.headerWords }

    private struct Partial: Sendable {
        var maxArgs = 0
        var tooManyArgs: Int?
        var sameTenantPriority = true
        var sameOpcode = true
    }

    /// One pass, in parallel chunks for large batches; fields are read in place (copying an item
    /// would retain its args array).
    init(_ items: [WorkItem]) {
        guard let first = items.first else { return }
        let parts = Mutex([Partial]())
        items.withUnsafeBufferPointer { buffer in
            let p = SharedItems(base: buffer.baseAddress)
            let count = buffer.count
            let chunk = ItemRecords.chunk
            let chunks = (count + chunk - 1) / chunk
            let work: @Sendable (Int) -> Void = { c in
                var part = Partial()
                guard let items = p.base else { return }
                for i in (c * chunk)..<Swift.min(count, (c + 1) * chunk) {
                    let n = items[i].args.count
                    if n > part.maxArgs { part.maxArgs = n }
                    if n > RingProtocol.argsPerSlot && part.tooManyArgs == nil { part.tooManyArgs = i }
                    if items[i].tenant != first.tenant || items[i].priority != first.priority { part.sameTenantPriority = false }
                    if items[i].opcode != first.opcode { part.sameOpcode = false }
                }
                parts.withLock { $0.append(part) }
            }
            if chunks <= 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
        }
        let all = parts.withLock { $0 }
        maxArgs = all.map(\.maxArgs).max() ?? 0
        tooManyArgs = all.compactMap(\.tooManyArgs).min()
        guard all.allSatisfy(\.sameTenantPriority) else { return }
        layout = all.allSatisfy(\.sameOpcode) ? .argsOnly : .opcodeAndArgs
        opcode = first.opcode
        tenant = first.tenant
        priority = first.priority.rawValue
    }
}

/// Item records: the batch's items written into the items buffer, and completed ops counted from
/// what came back. Large batches are split into chunks that threads take in parallel.
package enum ItemRecords {
    /// Chunks of this many items are encoded or counted by one thread.
    package static let chunk: Int = 1 << 15

    package static func encode(_ source: UnsafeBufferPointer<WorkItem>, into words: UnsafeMutableBufferPointer<UInt32>, stride: Int, header: Int, maxArgs: Int) {
        guard stride > 0 else { return }
        let chunks = (source.count + chunk - 1) / chunk
        let base = SharedWords(base: words.baseAddress!)
        let items = SharedItems(base: source.baseAddress)
        let count = source.count
        let work: @Sendable (Int) -> Void = { c in
            guard let items = items.base else { return }
            let out = base.base
            // Fields are read in place: copying a WorkItem would retain its args array, and the
            // empty arrays of all arg-less items share one reference count that threads fight over.
            for i in (c * chunk)..<Swift.min(count, (c + 1) * chunk) {
                let b = i * stride
                if header >= 1 { out[b] = items[i].opcode }
                if header == 3 {
                    out[b + 1] = items[i].tenant
                    out[b + 2] = items[i].priority.rawValue
                }
                if maxArgs > 0 {
                    items[i].args.withUnsafeBufferPointer { args in
                        for k in 0..<maxArgs { out[b + header + k] = k < args.count ? args[k] : 0 }
                    }
                }
            }
        }
        if chunks <= 1 { for c in 0..<chunks { work(c) } } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
    }

    /// Completed operations per opcode: items not in `excluding`, plus the inner ops of packed
    /// ones. Runs of equal opcodes are counted before touching the dictionary.
    package static func countCompleted(_ items: [WorkItem], excluding notDone: Set<Int>) -> [UInt32: Int] {
        let chunks = Swift.max(1, (items.count + chunk - 1) / chunk)
        let partial = Mutex([[UInt32: Int]]())
        items.withUnsafeBufferPointer { buffer in
            let source = SharedItems(base: buffer.baseAddress)
            let count = buffer.count
            let work: @Sendable (Int) -> Void = { c in
                var local: [UInt32: Int] = [:]
                guard let items = source.base else { return }
                var current: UInt32? = nil
                var run = 0
                for i in (c * chunk)..<Swift.min(count, (c + 1) * chunk) {
                    if !notDone.isEmpty && notDone.contains(i) { continue }
                    let opcode = items[i].opcode
                    if opcode == current {
                        run += 1
                    } else {
                        if let op = current { local[op, default: 0] += run }
                        current = opcode
                        run = 1
                    }
                    // Only packed slots are passed on: passing an item copies it, and copying retains
                    // its args array (one shared count for every arg-less item, fought over by threads).
                    if opcode == Opcode.packedSlot.rawValue {
                        for inner in PackedSlot.innerOpcodes(of: items[i]) { local[inner, default: 0] += 1 }
                    }
                }
                if let op = current { local[op, default: 0] += run }
                partial.withLock { $0.append(local) }
            }
            if chunks == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
        }
        return partial.withLock { parts in parts.reduce(into: [UInt32: Int]()) { total, part in total.merge(part, uniquingKeysWith: +) } }
    }
}

/// A batch's items handed to worker threads that only read them. Unchecked because a pointer is
/// not Sendable: it is safe here because the workers end before the caller's
/// `withUnsafeBufferPointer` returns, and nothing writes the items meanwhile.
struct SharedItems: @unchecked Sendable {
    let base: UnsafePointer<WorkItem>?
}

/// Record words handed to worker threads, each writing a range of its own. Unchecked for the same
/// reason as ``SharedItems``: the workers end before the caller gives the buffer up.
struct SharedWords: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt32>
}

/// How an item record lays out its words. Fields every item of a batch shares travel as dispatch
/// parameters instead, so uniform batches upload less (nothing at all for a batch of NOPs). The
/// megakernel reads the layout from its `layout` parameter.
public enum RecordLayout: UInt32, CaseIterable, Sendable {
    /// [opcode, tenant, priority, args...]
    case full = 0
    /// [opcode, args...]: one tenant and priority for the whole batch.
    case opcodeAndArgs = 1
    /// [args...]: one opcode, tenant and priority for the whole batch.
    case argsOnly = 2

    /// Record words before the args.
    public var headerWords: Int {
        switch self {
        case .full: 3
        case .opcodeAndArgs: 1
        case .argsOnly: 0
        }
    }

    /// The record holds the opcode.
    public var carriesOpcode: Bool { self != .argsOnly }
    /// The record holds tenant and priority.
    public var carriesTenantAndPriority: Bool { self == .full }
}
