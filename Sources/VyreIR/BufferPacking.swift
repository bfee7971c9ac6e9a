/// Several buffers of a program packed into one storage buffer, so that the program binds fewer
/// blocks: OpenGL ES 3.1 guarantees only 4 storage blocks per compute shader, and the megakernel
/// declares more.
///
/// Each member becomes a region of the block: `[base, base + length)` holds its elements and the
/// word at `base + length` is a guard the program may write but never reads back. Every access
/// keeps the IR's meaning: an index is clamped to the guard (`base + min(i, length)`), so an
/// out-of-bounds store lands there (dropped, as far as the program can tell), an out-of-bounds
/// load or atomic is masked to zero by `select(i < length, ..., 0)`, and `length(member)` is the
/// member's own length. Bases and runtime lengths are parameters the host sets per dispatch
/// (``parameters(lengths:)``), so one program serves every size.
public struct BufferPacking: Sendable, Hashable {
    /// One packed buffer's place in the block.
    public struct Region: Sendable, Hashable {
        /// The member's name in the original program.
        public var name: String
        /// The parameter holding the member's first word in the block.
        public var baseParameter: String
        /// The parameter holding a runtime-sized member's element count; nil for a fixed count.
        public var lengthParameter: String?
        /// A fixed-size member's element count.
        public var fixedCount: UInt32?
    }

    /// The block the members were packed into, as the packed program declares it.
    public var block: BufferDecl
    /// The members, in block order.
    public var regions: [Region]

    /// Each member's base word for the given lengths (element counts; fixed-size members may be
    /// left out), and the words the block needs in all (every region plus its guard word).
    public func layout(lengths: [String: UInt32]) -> (bases: [String: UInt32], words: Int) {
        var bases: [String: UInt32] = [:]
        var next = 0
        for r in regions {
            bases[r.name] = UInt32(next)
            next += Int(r.fixedCount ?? lengths[r.name] ?? 0) + 1
        }
        return (bases, next)
    }

    /// The parameter values for a dispatch whose members have `lengths` (see ``layout(lengths:)``).
    public func parameters(lengths: [String: UInt32]) -> [String: UInt32] {
        let bases = layout(lengths: lengths).bases
        var values: [String: UInt32] = [:]
        for r in regions {
            values[r.baseParameter] = bases[r.name]
            if let p = r.lengthParameter { values[p] = lengths[r.name] ?? 0 }
        }
        return values
    }
}

/// Why buffers cannot be packed together.
public enum PackingError: DiagnosticError, Sendable, Hashable {
    case unknownBuffer(String)
    case mixedTypes(String, DataType, DataType)
    case mixedPlacement(String)
    case asyncCopy(String)
    case indexHasSideEffects(String, path: String)
    case nameTaken(String)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .unknownBuffer(let name):
            [Diagnostic("cannot pack '\(name)': the program declares no such buffer", fix: "pack only buffers the program declares")]
        case .mixedTypes(let name, let a, let b):
            [Diagnostic("cannot pack '\(name)' (\(b)) with buffers of \(a)", fix: "pack buffers of one element type together")]
        case .mixedPlacement(let name):
            [Diagnostic("cannot pack '\(name)' with buffers placed elsewhere (device-local and host-mapped)", fix: "pack buffers of one placement together")]
        case .asyncCopy(let name):
            [Diagnostic("cannot pack '\(name)': an async copy reads or writes it", fix: "leave buffers that async copies use unpacked")]
        case .indexHasSideEffects(let name, let path):
            [Diagnostic("cannot pack '\(name)': an index into it has side effects (an atomic), and packing evaluates an index twice", at: path,
                        fix: "compute the index into a variable first")]
        case .nameTaken(let name):
            [Diagnostic("cannot pack: '\(name)' is already a buffer or parameter of the program", fix: "rename it, or pack into another name")]
        }
    }
}

extension Program {
    /// The program with `members` packed into one block named `name` at `binding` (see
    /// ``BufferPacking``); the block takes the members' element type and placement, and is read-only,
    /// write-only or read-write as they are together.
    public func packing(_ members: [String], into name: String, binding: UInt32) throws(PackingError) -> (Program, BufferPacking) {
        let declared = Dictionary(uniqueKeysWithValues: buffers.map { ($0.name, $0) })
        var decls: [BufferDecl] = []
        for m in members {
            guard let d = declared[m] else { throw .unknownBuffer(m) }
            if let first = decls.first {
                if first.elementType != d.elementType { throw .mixedTypes(m, first.elementType, d.elementType) }
                if first.placement != d.placement { throw .mixedPlacement(m) }
            }
            decls.append(d)
        }
        let taken = Set(buffers.map(\.name)).union(Self.parameterNames(in: entry))
        var regions: [BufferPacking.Region] = []
        for d in decls {
            let region = BufferPacking.Region(name: d.name, baseParameter: "\(d.name)_base",
                                              lengthParameter: d.count == nil ? "\(d.name)_len" : nil, fixedCount: d.count)
            for n in [region.baseParameter, region.lengthParameter].compactMap({ $0 }) + [name] where taken.contains(n) && !members.contains(n) {
                throw .nameTaken(n)
            }
            regions.append(region)
        }
        let accesses = Set(decls.map(\.access))
        let access: BufferAccess = accesses.count == 1 ? accesses.first! : .readWrite
        let block = BufferDecl(name, binding: binding, access: access, type: decls[0].elementType, placement: decls[0].placement)
        let packing = BufferPacking(block: block, regions: regions)
        let rewriter = PackRewriter(block: name, regions: Dictionary(uniqueKeysWithValues: regions.map { ($0.name, $0) }),
                                    type: decls[0].elementType)
        var packed = self
        packed.entry = try rewriter.nodes(entry, at: "entry")
        packed.buffers = buffers.filter { !members.contains($0.name) } + [block]
        return (packed, packing)
    }

    private static func parameterNames(in nodes: [Node]) -> Set<String> {
        var names: Set<String> = []
        func visit(_ e: Expr) {
            if case .parameter(let p) = e { names.insert(p) }
            e.children.forEach(visit)
        }
        func visit(_ list: [Node]) {
            for n in list {
                n.expressions.forEach { visit($0.expr) }
                n.bodies.forEach { visit($0.nodes) }
            }
        }
        visit(nodes)
        return names
    }
}

/// Rewrites every access to a packed member into the block (see ``BufferPacking``).
private struct PackRewriter {
    let block: String
    let regions: [String: BufferPacking.Region]
    let type: DataType

    func length(_ r: BufferPacking.Region) -> Expr {
        if let p = r.lengthParameter { return .parameter(p) }
        return .literal(.u32(r.fixedCount ?? 0))
    }

    /// The block index of element `i` of `r`, clamped to the region's guard word.
    func index(_ r: BufferPacking.Region, _ i: Expr) -> Expr {
        .binary(.add, .parameter(r.baseParameter), .binary(.min, i, length(r)))
    }

    func inBounds(_ r: BufferPacking.Region, _ i: Expr) -> Expr { .binary(.lt, i, length(r)) }

    func pure(_ i: Expr, _ member: String, _ path: String) throws(PackingError) {
        if i.hasSideEffects { throw .indexHasSideEffects(member, path: path) }
    }

    func expr(_ e: Expr, at path: String) throws(PackingError) -> Expr {
        var position = 0
        var failure: PackingError? = nil
        let labels = e.labeledChildren.map(\.label)
        // Children first (in evaluation order), so the indices below are already rewritten.
        let inner = e.mapChildren { child in
            defer { position += 1 }
            do throws(PackingError) { return try self.expr(child, at: "\(path).\(labels[position])") } catch {
                failure = failure ?? error
                return child
            }
        }
        if let failure { throw failure }
        switch inner {
        case .load(let m, let i):
            guard let r = regions[m] else { return inner }
            try pure(i, m, path)
            return .select(inBounds(r, i), .load(block, index: index(r, i)), .literal(.zero(type)))
        case .length(let m):
            guard let r = regions[m] else { return inner }
            return length(r)
        case .atomic(let op, let m, let i, let v):
            guard let r = regions[m] else { return inner }
            try pure(i, m, path)
            return .select(inBounds(r, i), .atomic(op, block, index: index(r, i), value: v), .literal(.zero(type)))
        case .compareExchange(let m, let i, let x, let d):
            guard let r = regions[m] else { return inner }
            try pure(i, m, path)
            return .select(inBounds(r, i), .compareExchange(block, index: index(r, i), expected: x, desired: d), .literal(.zero(type)))
        default:
            return inner
        }
    }

    func nodes(_ list: [Node], at path: String) throws(PackingError) -> [Node] {
        var out: [Node] = []
        for (k, n) in list.enumerated() { out.append(try node(n, at: "\(path)[\(k)]")) }
        return out
    }

    func node(_ n: Node, at path: String) throws(PackingError) -> Node {
        if case .asyncLoad(let c) = n, regions[c.source] != nil || regions[c.destination] != nil { throw .asyncCopy(regions[c.source] != nil ? c.source : c.destination) }
        if case .asyncStore(let c) = n, regions[c.source] != nil || regions[c.destination] != nil { throw .asyncCopy(regions[c.source] != nil ? c.source : c.destination) }
        let expressionLabels = n.expressions.map(\.label)
        let bodyLabels = n.bodies.map(\.label)
        var e = 0
        var b = 0
        var failure: PackingError? = nil
        let rewritten = n.mapChildren(expression: { x in
            defer { e += 1 }
            do throws(PackingError) { return try self.expr(x, at: "\(path).\(expressionLabels[e])") } catch {
                failure = failure ?? error
                return x
            }
        }, body: { list in
            defer { b += 1 }
            do throws(PackingError) { return try self.nodes(list, at: "\(path).\(bodyLabels[b])") } catch {
                failure = failure ?? error
                return list
            }
        })
        if let failure { throw failure }
        if case .store(let m, let i, let v) = rewritten, let r = regions[m] {
            // Evaluated once, in order; out of bounds it writes the region's guard word.
            return .store(block, index: index(r, i), value: v)
        }
        return rewritten
    }
}
