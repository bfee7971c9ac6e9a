import VyreGL
import VyreProtocol

/// A reference to a non-copyable owner, so a set of owners can be replaced one by one and shared.
final class Owned<Value: ~Copyable>: @unchecked Sendable {
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

    mutating func ensure(context: GLContext, ringWords: Int, controlWords: Int, debugWords: Int, itemWords: Int, exceptionWords: Int,
                         mappedState: Bool) throws(VyreGLError) {
        if mappedState {
            if (mappedControl?.value.byteCount ?? 0) < controlWords * 4 { mappedControl = Owned(try context.makeMappedBuffer(bytes: controlWords * 4)) }
            if (mappedDebug?.value.byteCount ?? 0) < debugWords * 4 { mappedDebug = Owned(try context.makeMappedBuffer(bytes: debugWords * 4)) }
        }
        if (control?.value.byteCount ?? 0) < controlWords * 4 { control = Owned(try context.makeDeviceBuffer(bytes: controlWords * 4)) }
        if (ring?.value.byteCount ?? 0) < ringWords * 4 { ring = Owned(try context.makeDeviceBuffer(bytes: ringWords * 4)) }
        if (debug?.value.byteCount ?? 0) < debugWords * 4 { debug = Owned(try context.makeDeviceBuffer(bytes: debugWords * 4)) }
        if io == nil { io = Owned(try context.makeDeviceBuffer(bytes: RingProtocol.IO.words * 4)) }
        if (items?.value.byteCount ?? 0) < itemWords * 4 { items = Owned(try context.makeMappedBuffer(bytes: itemWords * 4)) }
        if (exceptions?.value.byteCount ?? 0) < exceptionWords * 4 { exceptions = Owned(try context.makeMappedBuffer(bytes: exceptionWords * 4)) }
        if (results?.value.byteCount ?? 0) < (controlWords + debugWords) * 4 { results = Owned(try context.makeMappedBuffer(bytes: (controlWords + debugWords) * 4)) }
    }
}
