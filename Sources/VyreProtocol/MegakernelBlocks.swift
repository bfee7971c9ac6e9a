public import VyreIR

/// How the megakernel's buffers meet a device's storage blocks.
///
/// Usually every buffer is a block at its own binding. A device with fewer blocks than the
/// megakernel's buffers plus its status block (OpenGL ES 3.1 guarantees only 4, and the megakernel
/// declares 6 protocol buffers) gets them packed (``Program/packing(_:into:binding:)``): the
/// protocol buffers of one placement share one block, and the blocks take the first bindings.
/// Extra buffers follow at bindings of their own while blocks are left (the status block takes
/// the last); the rest join the protocol block of their placement when they hold `u32` words.
/// Each access to a packed buffer pays a clamp and a select, so only devices that need it are packed.
public struct MegakernelBlocks: Sendable, Hashable {
    /// Each protocol block's members (extra buffers that joined it last), in block order; empty
    /// when nothing is packed.
    public var packings: [BufferPacking]
    /// Where each extra buffer bound on its own is bound (every one, at its declared binding,
    /// when nothing is packed).
    public var extraBindings: [String: UInt32]
    /// The extra buffers packed into a protocol block, as declared.
    public var joined: [BufferDecl]

    /// Whether the protocol buffers are packed.
    public var isPacked: Bool { !packings.isEmpty }

    /// Nothing packed: the extra buffers at their declared bindings.
    public static func unpacked(extras: [BufferDecl]) -> MegakernelBlocks {
        MegakernelBlocks(packings: [], extraBindings: Dictionary(uniqueKeysWithValues: extras.map { ($0.name, $0.binding) }), joined: [])
    }

    /// The protocol blocks' names: an extra buffer may not take one.
    public static let blockNames: Set<String> = ["k_device_block", "k_host_block"]

    /// A protocol block: its name, where its buffers live, and the protocol buffers in it.
    typealias Group = (name: String, placement: BufferPlacement, members: [String])

    /// The packed protocol buffers of the one-pass megakernel, one block per placement.
    static let oneShotGroups: [Group] = [("k_device_block", .deviceLocal, ["control", "ring", "debug_log", "io_queue"]),
                                         ("k_host_block", .hostMapped, ["items", "exceptions"])]
    /// The packed protocol buffers of the resident megakernel: every word the host reaches while
    /// it runs in one mapped block, the claim heads in a device-local one.
    static let residentGroups: [Group] = [("k_host_block", .hostMapped, ["control", "ring", "debug_log", "io_queue", "queues"]),
                                          ("k_device_block", .deviceLocal, ["claims"])]

    /// The block `member` is packed into and its base word there, for members of `lengths`
    /// (element counts by buffer name); nil when `member` is not packed.
    public func place(of member: String, lengths: [String: UInt32]) -> (block: Int, base: Int)? {
        guard let block = packings.firstIndex(where: { $0.regions.contains { $0.name == member } }) else { return nil }
        return (block, layout(lengths: lengths).bases[member]!)
    }

    /// Every packed member's base word in its block and the words each block needs, for members
    /// of `lengths`, in one pass (for a batch's hot path).
    public func layout(lengths: [String: UInt32]) -> (bases: [String: Int], blockWords: [Int]) {
        var bases: [String: Int] = [:]
        var words: [Int] = []
        for packing in packings {
            var next = 0
            for r in packing.regions {
                bases[r.name] = next
                next += Int(r.fixedCount ?? lengths[r.name] ?? 0) + 1
            }
            words.append(next)
        }
        return (bases, words)
    }

    /// Words each block needs for members of `lengths`, in block order.
    public func blockWords(lengths: [String: UInt32]) -> [Int] { layout(lengths: lengths).blockWords }

    /// The bases and lengths every dispatch of a packed megakernel sets, for members of `lengths`:
    /// each block's members one after another, or at `bases` where given (a running kernel keeps
    /// its regions where it first laid them out, whichever members a later program declares).
    public func parameters(lengths: [String: UInt32], bases: [String: Int]? = nil) -> [String: UInt32] {
        let bases = bases ?? layout(lengths: lengths).bases
        var values: [String: UInt32] = [:]
        for packing in packings {
            for r in packing.regions {
                values[r.baseParameter] = bases[r.name].map { UInt32($0) }
                if let p = r.lengthParameter { values[p] = lengths[r.name] ?? 0 }
            }
        }
        return values
    }

    /// Whether a megakernel with `extras` fits `limits` unpacked: its 6 protocol buffers (bindings
    /// 0 to 5, both variants), its extra buffers and its status block, at the binding after the
    /// highest, each a block of its own.
    public static func fitsUnpacked(extras: [BufferDecl], limits: Limits) -> Bool {
        let highest = max(MegakernelBindings.firstExtra - 1, extras.map(\.binding).max() ?? 0)
        return MegakernelBindings.firstExtra + UInt32(extras.count) + 1 <= limits.maxStorageBuffers && highest + 1 < limits.maxBindings
    }

    /// `program` (the megakernel before packing, `extras` its extra buffers) as a device with
    /// `limits` binds it: unpacked when every buffer and the status block fit (see ``fitsUnpacked``),
    /// otherwise packed into `groups`. `like` forces the choice a running kernel made for its
    /// protocol buffers, so that a later program fits the buffers it has: the same packing or
    /// none, and the extra buffers that joined a block in the same place when still declared alike.
    static func fit(_ program: Program, groups: [Group], extras: [BufferDecl], limits: Limits,
                    like: MegakernelBlocks?) throws(MegakernelError) -> (Program, MegakernelBlocks) {
        guard like?.isPacked ?? !fitsUnpacked(extras: extras, limits: limits) else { return (program, .unpacked(extras: extras)) }
        let room = Int(min(limits.maxStorageBuffers, limits.maxBindings)) - groups.count - 1
        var members = groups.map(\.members)
        var own: [BufferDecl] = []
        var joined: [BufferDecl] = []
        for extra in extras {
            let group: Int?
            if let like {
                // Where the running kernel put it, if it did; never newly into a block laid out already.
                group = like.joined.contains(extra) ? like.packings.firstIndex { $0.regions.contains { $0.name == extra.name } } : nil
            } else {
                group = own.count < room ? nil : extra.elementType == .u32 ? groups.firstIndex { $0.placement == extra.placement } : nil
            }
            if let group {
                members[group].append(extra.name)
                joined.append(extra)
            } else {
                own.append(extra)
            }
        }
        guard own.count <= room else {
            throw .invalidExtraBuffer(
                problem: "set does not fit this device: it has \(limits.maxStorageBuffers) storage blocks and \(limits.maxBindings) bindings; packed, the megakernel's protocol buffers take \(groups.count) blocks and its status block 1, which leaves \(max(0, room)) for extra buffers of their own, and \(own.count) need one, since they cannot join a protocol block (only u32 buffers can, the host-mapped ones the mapped block\(like == nil ? "" : ", and none that a running kernel had not packed already"))",
                fix: "use at most \(max(0, room)) extra buffer\(room == 1 ? "" : "s") of other types (one buffer can hold several arrays at offsets), or run on a device with more storage blocks")
        }
        var out = program
        var packings: [BufferPacking] = []
        for (k, group) in groups.enumerated() {
            do throws(PackingError) {
                let (p, packing) = try out.packing(members[k], into: group.name, binding: UInt32(k))
                out = p
                packings.append(packing)
            } catch {
                throw .unpackable(error, blocks: limits.maxStorageBuffers)
            }
        }
        var bindings: [String: UInt32] = [:]
        for (k, extra) in own.enumerated() {
            let binding = UInt32(groups.count + k)
            bindings[extra.name] = binding
            for i in out.buffers.indices where out.buffers[i].name == extra.name { out.buffers[i].binding = binding }
        }
        return (out, MegakernelBlocks(packings: packings, extraBindings: bindings, joined: joined))
    }
}

/// A megakernel program fitted to a device, and how its buffers are bound there.
public struct FittedMegakernel: Sendable {
    /// The program, validated for the device's limits (packed where ``blocks`` says so).
    public let validated: ValidatedProgram
    /// Where its buffers are bound.
    public let blocks: MegakernelBlocks
}
