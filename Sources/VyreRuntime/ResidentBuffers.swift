import VyreGL
import VyreProtocol

/// A reference to a non-copyable owner, so a set of owners can be replaced one by one and shared.
final class Owned<Value: ~Copyable & Sendable>: Sendable {
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}

/// Buffers kept between batches; each grows to the largest batch seen (dropping an owner frees
/// its buffer on the context thread).
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

    /// Grows each buffer `plan` needs that is too small (mapped control and debug only for
    /// `mappedState`).
    mutating func ensure(for plan: BatchPlan, mappedState: Bool, on context: GLContext) throws(VyreGLError) {
        func mapped(_ buffer: inout Owned<MappedBuffer>?, words: Int) throws(VyreGLError) {
            if (buffer?.value.byteCount ?? 0) < words * 4 { buffer = Owned(try context.makeMappedBuffer(bytes: words * 4)) }
        }
        func device(_ buffer: inout Owned<DeviceBuffer>?, words: Int) throws(VyreGLError) {
            if (buffer?.value.byteCount ?? 0) < words * 4 { buffer = Owned(try context.makeDeviceBuffer(bytes: words * 4)) }
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
        try mapped(&results, words: plan.controlWords + plan.debugWords)
    }
}
