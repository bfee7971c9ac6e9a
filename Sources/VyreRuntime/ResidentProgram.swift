import VyreIR
import VyreGL
import VyreProtocol
import Logging

/// What a resident core dispatches: the linked program of one opcode set, the extra buffers its
/// handlers use and every binding. A core swaps it for another between two dispatches (a tenant's
/// handlers registered or unregistered) while the ring, the queues and the control words stay:
/// no slot is lost or run twice by the swap.
final class ResidentProgram: Sendable {
    let configuration: MegakernelConfiguration
    let program: Program
    let pipeline: ComputePipeline
    /// Extra buffers by name, in declaration order.
    let extras: [(name: String, buffer: ExtraBuffer)]
    let handles: [UInt32: BufferHandle]

    /// Validates and compiles `configuration`'s resident program on `context` and binds it to the
    /// protocol buffers `protocolHandles`. An extra buffer `previous` had under the same
    /// declaration is kept, words and all; a new one starts from `startingWords` (zeros where not
    /// given; every name there must be declared); a host-mapped one is placed as `placement` asks.
    init(configuration: MegakernelConfiguration, context: GLContext, protocolHandles: [UInt32: BufferHandle],
         startingWords: [String: [UInt32]], previous: ResidentProgram?, placement: MappedPlacement) throws(MegakernelError) {
        let validated = try configuration.residentProgram(limits: context.limits)
        self.configuration = configuration
        program = validated.program
        pipeline = try onDevice { () throws(VyreGLError) in try context.makePipeline(validated) }
        var kept: [String: (decl: BufferDecl, buffer: ExtraBuffer)] = [:]
        if let previous {
            for (decl, (_, buffer)) in zip(previous.configuration.extraBuffers, previous.extras) { kept[decl.name] = (decl, buffer) }
        }
        var extras: [(name: String, buffer: ExtraBuffer)] = []
        var handles = protocolHandles
        for (decl, contents) in try Batch.extraStartingContents(configuration.extraBuffers, startingWords) {
            let buffer: ExtraBuffer
            if let old = kept[decl.name], old.decl == decl {
                buffer = old.buffer
            } else if decl.placement == .hostMapped {
                buffer = .mapped(try onDevice { () throws(VyreGLError) in Owned(try context.makeMappedBuffer(decl.name, contents, placement: placement)) })
            } else {
                buffer = .device(try onDevice { () throws(VyreGLError) in Owned(try context.makeDeviceBuffer(decl.name, contents)) })
            }
            handles[decl.binding] = buffer.handle
            extras.append((decl.name, buffer))
        }
        self.extras = extras
        self.handles = handles
    }

    /// Compiles `configuration`'s resident program on a second context of `context`'s device and
    /// dispatches it once, for no rounds, over zeroed buffers the size of `protocolHandles` and
    /// the extra buffers: the driver's compile, and a software renderer's code generation at the
    /// first dispatch, then happen on that context's thread while the kernel keeps running, and
    /// leave the program in the binary cache and the driver's own caches. The build on the
    /// kernel's context that follows is then a cache load, and the ops running meanwhile wait for
    /// that rather than for a cold compile. Best effort: a failure only leaves the work to that build.
    static func warm(_ configuration: MegakernelConfiguration, like context: GLContext, protocolHandles: [UInt32: BufferHandle],
                     startingWords: [String: [UInt32]], logger: Logger) {
        do {
            let helper = try context.reopened()
            let validated = try configuration.residentProgram(limits: helper.limits)
            let pipeline = try helper.makePipeline(validated)
            var buffers: [Owned<DeviceBuffer>] = []
            var handles: [UInt32: BufferHandle] = [:]
            for (binding, handle) in protocolHandles {
                buffers.append(Owned(try helper.makeDeviceBuffer(bytes: handle.byteCount)))
                handles[binding] = buffers.last!.value.handle
            }
            for (decl, contents) in try Batch.extraStartingContents(configuration.extraBuffers, startingWords) {
                buffers.append(Owned(try helper.makeDeviceBuffer(decl.name, .zeros(words: contents.wordCount))))
                handles[decl.binding] = buffers.last!.value.handle
            }
            _ = try helper.submit(pipeline, steps: [DispatchStep(groups: WorkgroupSize(1), parameters: ["iterations": 0, "starvation": 1])], buffers: handles)
        } catch {
            logger.debug("warming a resident program on a second context failed; the kernel's context compiles it", metadata: ["error": "\(error)"])
        }
    }

    /// Every extra buffer's words, by name, as they are now (read on the context thread, between
    /// dispatches); a buffer that cannot be read is left out.
    func extraBufferWords() -> [String: [UInt32]] {
        var out: [String: [UInt32]] = [:]
        for (name, buffer) in extras { out[name] = try? buffer.read(words: 0..<(buffer.handle.byteCount / 4)) }
        return out
    }

    /// The mapping of the host-mapped extra buffer `name`.
    func mappedView(_ name: String) -> MappedView? {
        for (n, buffer) in extras where n == name {
            if case .mapped(let b) = buffer { return b.value.view }
        }
        return nil
    }
}

/// An extra buffer of a resident program: device-local, or persistently mapped where its
/// declaration asks for ``BufferPlacement/hostMapped`` (the host writes ops' inputs and reads
/// their outputs there while the kernel runs).
enum ExtraBuffer: Sendable {
    case device(Owned<DeviceBuffer>)
    case mapped(Owned<MappedBuffer>)

    var handle: BufferHandle {
        switch self {
        case .device(let b): b.value.handle
        case .mapped(let b): b.value.handle
        }
    }

    /// Words `range` as they are now (a device-local one read on the context thread).
    func read(words range: Range<Int>) throws(MegakernelError) -> [UInt32] {
        switch self {
        case .device(let b): try onDevice { () throws(VyreGLError) in try b.value.read(words: range) }
        case .mapped(let b): b.value.read(words: range)
        }
    }
}
