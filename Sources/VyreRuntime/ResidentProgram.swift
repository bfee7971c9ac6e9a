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
    /// The bases and lengths of the packed regions this program reads (none when not packed).
    let parameters: [String: UInt32]

    /// Validates and compiles `configuration`'s resident program on `context` and binds it to the
    /// protocol buffers as `protocol` has them (packed or not, whatever the configuration would pick). An extra buffer `previous` had under the same
    /// declaration is kept, words and all; a new one starts from `startingWords` (zeros where not
    /// given; every name there must be declared); a host-mapped one is placed as `placement` asks.
    init(configuration: MegakernelConfiguration, context: GLContext, protocol: ProtocolBinding,
         startingWords: [String: [UInt32]], previous: ResidentProgram?, placement: MappedPlacement) throws(MegakernelError) {
        let fitted = try configuration.residentKernel(limits: context.limits, like: `protocol`.blocks)
        let validated = fitted.validated
        self.configuration = configuration
        program = validated.program
        pipeline = try onDevice { () throws(VyreGLError) in try context.makePipeline(validated) }
        var kept: [String: (decl: BufferDecl, buffer: ExtraBuffer)] = [:]
        if let previous {
            for (decl, (_, buffer)) in zip(previous.configuration.extraBuffers, previous.extras) { kept[decl.name] = (decl, buffer) }
        }
        var extras: [(name: String, buffer: ExtraBuffer)] = []
        var handles = `protocol`.handles
        for (decl, contents) in try Batch.extraStartingContents(configuration.extraBuffers, startingWords) {
            let buffer: ExtraBuffer
            if fitted.blocks.joined.contains(decl), let region = `protocol`.joined[decl.name] {
                // Packed into a protocol block when the core was made: its words stay there.
                extras.append((decl.name, region))
                continue
            } else if let old = kept[decl.name], old.decl == decl {
                buffer = old.buffer
            } else if decl.placement == .hostMapped {
                buffer = .mapped(try onDevice { () throws(VyreGLError) in Owned(try context.makeMappedBuffer(decl.name, contents, placement: placement)) })
            } else {
                buffer = .device(try onDevice { () throws(VyreGLError) in Owned(try context.makeDeviceBuffer(decl.name, contents)) })
            }
            handles[fitted.blocks.extraBindings[decl.name] ?? decl.binding] = buffer.handle
            extras.append((decl.name, buffer))
        }
        self.extras = extras
        self.handles = handles
        parameters = `protocol`.parameters(for: fitted.blocks)
    }

    /// Compiles `configuration`'s resident program on a second context of `context`'s device and
    /// dispatches it once, for no rounds, over zeroed buffers the size of `protocol`'s and
    /// the extra buffers: the driver's compile, and a software renderer's code generation at the
    /// first dispatch, then happen on that context's thread while the kernel keeps running, and
    /// leave the program in the binary cache and the driver's own caches. The build on the
    /// kernel's context that follows is then a cache load, and the ops running meanwhile wait for
    /// that rather than for a cold compile. Best effort: a failure only leaves the work to that build.
    static func warm(_ configuration: MegakernelConfiguration, like context: GLContext, protocol: ProtocolBinding,
                     startingWords: [String: [UInt32]], logger: Logger) {
        do {
            let helper = try context.reopened()
            let fitted = try configuration.residentKernel(limits: helper.limits, like: `protocol`.blocks)
            let pipeline = try helper.makePipeline(fitted.validated)
            var buffers: [Owned<DeviceBuffer>] = []
            var handles: [UInt32: BufferHandle] = [:]
            for (binding, handle) in `protocol`.handles {
                buffers.append(Owned(try helper.makeDeviceBuffer(bytes: handle.byteCount)))
                handles[binding] = buffers.last!.value.handle
            }
            for (decl, contents) in try Batch.extraStartingContents(configuration.extraBuffers, startingWords) where !fitted.blocks.joined.contains(decl) {
                buffers.append(Owned(try helper.makeDeviceBuffer(decl.name, .zeros(words: contents.wordCount))))
                handles[fitted.blocks.extraBindings[decl.name] ?? decl.binding] = buffers.last!.value.handle
            }
            let parameters = `protocol`.parameters(for: fitted.blocks).merging(["iterations": 0, "starvation": 1]) { _, b in b }
            _ = try helper.submit(pipeline, steps: [DispatchStep(groups: WorkgroupSize(1), parameters: parameters)], buffers: handles)
        } catch {
            logger.debug("warming a resident program on a second context failed; the kernel's context compiles it", metadata: ["error": "\(error)"])
        }
    }

    /// Every extra buffer's words, by name, as they are now (read on the context thread, between
    /// dispatches); a buffer that cannot be read is left out.
    func extraBufferWords() -> [String: [UInt32]] {
        var out: [String: [UInt32]] = [:]
        for (name, buffer) in extras { out[name] = try? buffer.read(words: 0..<buffer.wordCount) }
        return out
    }

    /// The mapping of the host-mapped extra buffer `name`.
    func mappedView(_ name: String) -> MappedView? {
        for (n, buffer) in extras where n == name {
            if case .mapped(let b) = buffer { return b.value.view }
            if case .mappedRegion(let r) = buffer { return r.view }
        }
        return nil
    }
}

/// An extra buffer of a resident program: device-local, or persistently mapped where its
/// declaration asks for ``BufferPlacement/hostMapped`` (the host writes ops' inputs and reads
/// their outputs there while the kernel runs); or, on a device with too few storage blocks, a
/// region of the core's device or mapped protocol block (``MegakernelBlocks/joined``).
enum ExtraBuffer: Sendable {
    case device(Owned<DeviceBuffer>)
    case mapped(Owned<MappedBuffer>)
    case deviceRegion(Owned<DeviceBuffer>, Range<Int>)
    case mappedRegion(MappedRegion)

    /// What binds it on its own; nil for a region of a protocol block, which binds with the block.
    var handle: BufferHandle? {
        switch self {
        case .device(let b): b.value.handle
        case .mapped(let b): b.value.handle
        case .deviceRegion, .mappedRegion: nil
        }
    }

    /// Its words.
    var wordCount: Int {
        switch self {
        case .device(let b): b.value.byteCount / 4
        case .mapped(let b): b.value.wordCount
        case .deviceRegion(_, let words): words.count
        case .mappedRegion(let r): r.view.wordCount
        }
    }

    /// Words `range` as they are now (a device-local one read on the context thread).
    func read(words range: Range<Int>) throws(MegakernelError) -> [UInt32] {
        switch self {
        case .device(let b): try onDevice { () throws(VyreGLError) in try b.value.read(words: range) }
        case .mapped(let b): b.value.read(words: range)
        case .deviceRegion(let b, let words):
            try onDevice { () throws(VyreGLError) in try b.value.read(words: (words.lowerBound + range.lowerBound)..<(words.lowerBound + range.upperBound)) }
        case .mappedRegion(let r): r.view.read(words: range)
        }
    }
}

/// How a core's protocol buffers are bound, which every program it installs shares: each at its
/// own binding, or packed into two blocks (``MegakernelBlocks``) laid out once, when the core was
/// made, with the extra buffers that joined them.
struct ProtocolBinding: Sendable {
    var handles: [UInt32: BufferHandle]
    /// The core's first program's blocks, which later programs are fitted like.
    var blocks: MegakernelBlocks
    /// Every packed buffer's words and its first word in its block.
    var lengths: [String: UInt32] = [:]
    var bases: [String: Int] = [:]
    /// The extra buffers packed into a block, by name.
    var joined: [String: ExtraBuffer] = [:]

    /// The bases and lengths a program fitted as `blocks` reads.
    func parameters(for blocks: MegakernelBlocks) -> [String: UInt32] {
        blocks.isPacked ? blocks.parameters(lengths: lengths, bases: bases) : [:]
    }
}

/// Words of a persistently mapped buffer the host reaches: the whole of a buffer of their own, or
/// one protocol buffer's region of a packed block. Keeps the buffer alive.
struct MappedRegion: Sendable {
    let buffer: Owned<MappedBuffer>
    let view: MappedView
}
