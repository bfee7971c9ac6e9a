import VyreGL
import VyreProtocol

/// A reference to a non-copyable owner, so a set of owners can be replaced one by one and shared.
final class Owned<Value: ~Copyable & Sendable>: Sendable {
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}

/// Buffers kept between batches; each grows to the largest batch seen (dropping an owner frees
/// its buffer on the context thread). A packed megakernel (``MegakernelBlocks``) keeps its
/// protocol buffers as regions of two blocks instead of one buffer each.
struct ResidentBuffers {
    var control: Owned<DeviceBuffer>?
    var ring: Owned<DeviceBuffer>?
    var debug: Owned<DeviceBuffer>?
    var io: Owned<DeviceBuffer>?
    var items: Owned<MappedBuffer>?
    var exceptions: Owned<MappedBuffer>?
    var results: Owned<MappedBuffer>?
    var mappedControl: Owned<MappedBuffer>?
    var mappedDebug: Owned<MappedBuffer>?
    /// Packed: control, ring, debug log and IO queue.
    var deviceBlock: Owned<DeviceBuffer>?
    /// Packed: items and exceptions.
    var hostBlock: Owned<MappedBuffer>?

    /// Grows each buffer `plan` needs that is too small (mapped control and debug only for
    /// `mappedState`; the two blocks only when `blocks` is packed).
    mutating func ensure(for plan: BatchPlan, mappedState: Bool, blocks: MegakernelBlocks, on context: GLContext) throws(VyreGLError) {
        // Touched by the host only between submissions: host copies where the context cannot map.
        func mapped(_ buffer: inout Owned<MappedBuffer>?, words: Int) throws(VyreGLError) {
            if (buffer?.value.byteCount ?? 0) < words * 4 { buffer = Owned(try context.makeMappedBuffer(bytes: words * 4, access: .betweenSubmissions)) }
        }
        func device(_ buffer: inout Owned<DeviceBuffer>?, words: Int) throws(VyreGLError) {
            if (buffer?.value.byteCount ?? 0) < words * 4 { buffer = Owned(try context.makeDeviceBuffer(bytes: words * 4)) }
        }
        try mapped(&results, words: plan.controlWords + plan.debugWords)
        if blocks.isPacked {
            let words = blocks.layout(lengths: Self.lengths(plan)).blockWords
            for (k, name) in ["k_device_block", "k_host_block"].enumerated() { try context.checkBindable(name, words: words[k]) }
            try device(&deviceBlock, words: words[0])
            try mapped(&hostBlock, words: words[1])
            return
        }
        if mappedState {
            try mapped(&mappedControl, words: plan.controlWords)
            try mapped(&mappedDebug, words: plan.debugWords)
        }
        try device(&control, words: plan.controlWords)
        try device(&ring, words: plan.ringWords)
        try device(&debug, words: plan.debugWords)
        try device(&io, words: RingProtocol.IO.words)
        try mapped(&items, words: plan.itemWords)
        try mapped(&exceptions, words: plan.exceptionWords)
    }

    /// Words of each protocol buffer and extra buffer of `plan`, by name.
    static func lengths(_ plan: BatchPlan) -> [String: UInt32] {
        var lengths: [String: UInt32] = [
            "control": UInt32(plan.controlWords), "ring": UInt32(plan.ringWords), "debug_log": UInt32(plan.debugWords),
            "io_queue": UInt32(RingProtocol.IO.words), "items": UInt32(plan.itemWords), "exceptions": UInt32(plan.exceptionWords),
        ]
        for (decl, contents) in plan.extra { lengths[decl.name] = UInt32(contents.wordCount) }
        return lengths
    }

    /// Where `plan`'s protocol buffers are, once ``ensure(for:mappedState:blocks:on:)`` has made them.
    func places(for plan: BatchPlan, blocks: MegakernelBlocks, mappedState: Bool) -> BatchPlaces {
        guard blocks.isPacked else {
            let control = mappedState ? mappedControl!.value.handle : self.control!.value.handle
            let debug = mappedState ? mappedDebug!.value.handle : self.debug!.value.handle
            return BatchPlaces(
                control: (control, 0), debug: (debug, 0), controlBuffer: self.control!, controlWord: 0, joined: [:],
                items: items!.value.view.slice(words: 0..<plan.itemWords), exceptions: exceptions!.value.view.slice(words: 0..<plan.exceptionWords),
                bindings: [
                    MegakernelBindings.control: control.prefix(bytes: plan.controlWords * 4),
                    MegakernelBindings.ring: ring!.value.handle.prefix(bytes: plan.ringWords * 4),
                    MegakernelBindings.debug: debug.prefix(bytes: plan.debugWords * 4),
                    MegakernelBindings.io: io!.value.handle,
                    MegakernelBindings.items: items!.value.handle.prefix(bytes: plan.itemWords * 4),
                    MegakernelBindings.exceptions: exceptions!.value.handle.prefix(bytes: plan.exceptionWords * 4),
                ], parameters: [:])
        }
        let lengths = Self.lengths(plan)
        let (bases, blockWords) = blocks.layout(lengths: lengths)
        func base(_ name: String) -> Int { bases[name]! }
        let device = deviceBlock!.value.handle
        let host = hostBlock!.value.view
        var joined: [String: JoinedExtra] = [:]
        for decl in blocks.joined {
            let words = base(decl.name)..<(base(decl.name) + Int(lengths[decl.name]!))
            // The one-pass kernel's device block holds the device-local ones, its mapped block the others.
            joined[decl.name] = decl.placement == .hostMapped ? .mapped(host.slice(words: words)) : .device(words)
        }
        return BatchPlaces(
            control: (device, base("control")), debug: (device, base("debug_log")), controlBuffer: deviceBlock!, controlWord: base("control"), joined: joined,
            items: host.slice(words: base("items")..<(base("items") + plan.itemWords)),
            exceptions: host.slice(words: base("exceptions")..<(base("exceptions") + plan.exceptionWords)),
            // The mapped block bound only as far as this batch reaches: without persistent
            // mapping, what is bound goes up and comes back.
            bindings: [0: device, 1: hostBlock!.value.handle.prefix(bytes: blockWords[1] * 4)], parameters: blocks.parameters(lengths: lengths, bases: bases),
            readOnlyBytes: [1: (base("items") * 4)..<((base("items") + plan.itemWords) * 4)])
    }
}

/// Where one batch's protocol buffers are: buffers of their own, or regions of the packed blocks.
struct BatchPlaces {
    /// The buffer and first word of the control words and of the debug log the kernel uses.
    var control: (buffer: BufferHandle, word: Int)
    var debug: (buffer: BufferHandle, word: Int)
    /// The device-local buffer the control words are read back from (the device block when
    /// packed, which holds the joined device-local extra buffers too), and their first word there.
    var controlBuffer: Owned<DeviceBuffer>
    var controlWord: Int
    /// The extra buffers packed into a protocol block (``MegakernelBlocks/joined``).
    var joined: [String: JoinedExtra]
    /// The mapped item records and exception list.
    var items: MappedView
    var exceptions: MappedView
    /// The protocol buffers (or blocks) by binding.
    var bindings: [UInt32: BufferHandle]
    /// The packed regions' bases and lengths, which every dispatch sets.
    var parameters: [String: UInt32]
    /// Bytes of a bound block the kernel only reads (the packed item records), by binding: on a
    /// context without persistent mapping they are not read back (``DispatchOptions/readOnlyBytes``).
    var readOnlyBytes: [UInt32: Range<Int>] = [:]
}

/// Where an extra buffer packed into a protocol block lies: words of the device block, or a
/// region of the mapped block.
enum JoinedExtra {
    case device(Range<Int>)
    case mapped(MappedView)
}
