/// The binary form of a program: exact, compact, and safe to decode from untrusted bytes.
///
/// Layout: the magic `VYIR`, a little-endian u16 version, then the program. Counts, lengths and
/// most integers are minimal LEB128; literal bits are fixed-width little-endian; every node,
/// expression and enum is a one-byte tag. The decoder checks every byte: truncation, unknown tags,
/// non-minimal integers, invalid UTF-8, trailing bytes and anything beyond ``WireLimits`` are typed
/// errors, never a trap.
public enum WireFormat {
    /// The four bytes every wire encoding starts with.
    public static let magic: [UInt8] = Array("VYIR".utf8)
    /// The layout version this build writes and reads.
    public static let version: UInt16 = 1

    /// Tables that give each enum case its byte on the wire. New cases are appended, never inserted.
    static let types: [DataType] = [.u32, .i32, .f32, .bool, .u64, .i64, .f64]
    static let unaryOps: [UnaryOp] = [.negate, .not, .bitNot, .popcount, .countLeadingZeros, .countTrailingZeros, .reverseBits,
                                      .abs, .sqrt, .floor, .ceil, .trunc, .round, .fract, .exp, .exp2, .log, .log2, .sin, .cos]
    static let binaryOps: [BinaryOp] = [.add, .sub, .mul, .div, .rem, .and, .or, .xor, .shl, .shr,
                                        .eq, .ne, .lt, .le, .gt, .ge, .logicalAnd, .logicalOr, .min, .max]
    static let atomicOps: [AtomicOp] = [.add, .and, .or, .xor, .min, .max, .exchange]
    static let accesses: [BufferAccess] = [.readOnly, .readWrite, .writeOnly]
    static let placements: [BufferPlacement] = [.deviceLocal, .hostMapped]
    static let barriers: [BarrierKind] = [.workgroup, .bufferMemory]

    enum NodeTag: UInt8 {
        case `let` = 1, assign, store, `if`, `for`, `while`, forever, block, region, `return`, `break`, `continue`
        case barrier, asyncLoad, asyncStore, asyncWait, trap
    }

    enum ExprTag: UInt8 {
        case literal = 1, variable, load, length, builtin, unary, binary, select, cast, bitcast, fma, atomic, compareExchange, parameter
    }
}

/// Bounds the decoder enforces before it allocates or recurses.
public struct WireLimits: Sendable, Hashable {
    /// Largest input accepted, checked before anything is decoded.
    public var maxBytes: Int
    /// Same measure as ``Limits/maxNestingDepth``: statements and expressions nested in each other.
    public var maxDepth: Int
    /// Longest name, in UTF-8 bytes: variables, memories, tags and region names alike. The default,
    /// 512, holds any valid region name (128 characters of any script, up to 4 bytes each).
    public var maxNameBytes: Int

    /// Bounds for one decode. The default depth is the default ``Limits/maxNestingDepth``, so decoding
    /// and default validation agree on how deep a program may be.
    public init(maxBytes: Int = 64 << 20, maxDepth: Int = 64, maxNameBytes: Int = 512) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNameBytes = maxNameBytes
    }
}

/// Why bytes are not a program.
public enum WireError: DiagnosticError, Sendable, Hashable {
    case badMagic
    case unsupportedVersion(UInt16)
    case truncated(offset: Int, needed: String)
    case unknownTag(offset: Int, what: String, tag: UInt8)
    case nonMinimalInteger(offset: Int)
    case integerOverflow(offset: Int)
    case invalidUTF8(offset: Int)
    case trailingBytes(offset: Int, count: Int)
    case tooLarge(bytes: Int, limit: Int)
    case tooDeep(offset: Int, limit: Int)
    case countTooLarge(offset: Int, count: UInt64, remaining: Int)
    case nameTooLong(offset: Int, bytes: Int, limit: Int)

    public var diagnostics: [Diagnostic] { [diagnostic] }

    public var diagnostic: Diagnostic {
        switch self {
        case .badMagic:
            return Diagnostic("wire bytes do not start with the VYIR magic", fix: "pass bytes written by WireFormat.encode (a vyre-gl .vyir file), not JSON or other data")
        case .unsupportedVersion(let v):
            return Diagnostic("wire format version \(v) is not supported (this build reads version \(WireFormat.version))", fix: "re-encode the program with this version of vyre-gl")
        case .truncated(let o, let what):
            return Diagnostic("wire bytes end at offset \(o) while reading \(what)", fix: "the file was cut short; re-encode or re-send it")
        case .unknownTag(let o, let what, let tag):
            return Diagnostic("unknown \(what) tag \(tag) at offset \(o)", fix: "the bytes are corrupt or come from a newer vyre-gl; re-encode with this version")
        case .nonMinimalInteger(let o):
            return Diagnostic("non-minimal LEB128 integer at offset \(o)", fix: "the bytes were not written by WireFormat.encode; re-encode them")
        case .integerOverflow(let o):
            return Diagnostic("integer at offset \(o) does not fit its field", fix: "the bytes are corrupt; re-encode them")
        case .invalidUTF8(let o):
            return Diagnostic("name at offset \(o) is not valid UTF-8", fix: "the bytes are corrupt; re-encode them")
        case .trailingBytes(let o, let n):
            return Diagnostic("\(n) bytes follow the program at offset \(o)", fix: "pass exactly one encoded program")
        case .tooLarge(let b, let l):
            return Diagnostic("wire input is \(b) bytes, the limit is \(l)", fix: "raise WireLimits.maxBytes if the program is really that large")
        case .tooDeep(let o, let l):
            return Diagnostic("nesting deeper than \(l) at offset \(o)", fix: "flatten the program, or raise WireLimits.maxDepth")
        case .countTooLarge(let o, let c, let r):
            return Diagnostic("list of \(c) items at offset \(o) cannot fit in the \(r) bytes left", fix: "the bytes are corrupt; re-encode them")
        case .nameTooLong(let o, let b, let l):
            return Diagnostic("name of \(b) bytes at offset \(o) is longer than \(l)", fix: "the bytes are corrupt; names are at most \(l) bytes")
        }
    }
}

// MARK: - Encoding

extension Program {
    /// The program's exact wire bytes.
    public func wireBytes() -> [UInt8] {
        var w = WireWriter()
        w.bytes.append(contentsOf: WireFormat.magic)
        w.fixed(UInt64(WireFormat.version), bytes: 2)
        w.program(self)
        return w.bytes
    }

    /// Decodes wire bytes, rejecting anything that is not exactly one well-formed program.
    public init(wireBytes bytes: some Collection<UInt8>, limits: WireLimits = WireLimits()) throws(WireError) {
        var r = try WireReader(Array(bytes), limits: limits)
        self = try r.decodeProgram()
    }
}

struct WireWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func fixed(_ v: UInt64, bytes n: Int) {
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        varint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func code<T: Equatable>(_ v: T, in table: [T]) { byte(UInt8(table.firstIndex(of: v)!)) }

    mutating func program(_ p: Program) {
        varint(UInt64(p.workgroupSize.x))
        varint(UInt64(p.workgroupSize.y))
        varint(UInt64(p.workgroupSize.z))
        varint(UInt64(p.buffers.count))
        for b in p.buffers {
            string(b.name)
            varint(UInt64(b.binding))
            code(b.access, in: WireFormat.accesses)
            code(b.elementType, in: WireFormat.types)
            if let c = b.count { byte(1); varint(UInt64(c)) } else { byte(0) }
            code(b.placement, in: WireFormat.placements)
        }
        varint(UInt64(p.shared.count))
        for s in p.shared {
            string(s.name)
            code(s.elementType, in: WireFormat.types)
            varint(UInt64(s.count))
        }
        nodes(p.entry)
    }

    mutating func nodes(_ list: [Node]) {
        varint(UInt64(list.count))
        for n in list { node(n) }
    }

    mutating func node(_ n: Node) {
        typealias T = WireFormat.NodeTag
        switch n {
        case .let(let name, let v): byte(T.let.rawValue); string(name); expr(v)
        case .assign(let name, let v): byte(T.assign.rawValue); string(name); expr(v)
        case .store(let m, let i, let v): byte(T.store.rawValue); string(m); expr(i); expr(v)
        case .if(let c, let t, let e): byte(T.if.rawValue); expr(c); nodes(t); nodes(e)
        case .for(let name, let f, let t, let b): byte(T.for.rawValue); string(name); expr(f); expr(t); nodes(b)
        case .while(let c, let m, let b): byte(T.while.rawValue); expr(c); expr(m); nodes(b)
        case .forever(let b): byte(T.forever.rawValue); nodes(b)
        case .block(let b): byte(T.block.rawValue); nodes(b)
        case .region(let name, let b): byte(T.region.rawValue); string(name); nodes(b)
        case .return: byte(T.return.rawValue)
        case .break: byte(T.break.rawValue)
        case .continue: byte(T.continue.rawValue)
        case .barrier(let k): byte(T.barrier.rawValue); code(k, in: WireFormat.barriers)
        case .asyncLoad(let c): byte(T.asyncLoad.rawValue); copy(c)
        case .asyncStore(let c): byte(T.asyncStore.rawValue); copy(c)
        case .asyncWait(let tag): byte(T.asyncWait.rawValue); string(tag)
        case .trap(let c): byte(T.trap.rawValue); expr(c)
        }
    }

    mutating func copy(_ c: AsyncCopy) {
        string(c.tag)
        string(c.source)
        expr(c.sourceOffset)
        string(c.destination)
        expr(c.destinationOffset)
        expr(c.count)
    }

    mutating func value(_ v: Value) {
        code(v.type, in: WireFormat.types)
        switch v.type {
        case .bool: byte(UInt8(v.bits))
        case .u64, .i64, .f64: fixed(v.bits, bytes: 8)
        default: fixed(v.bits, bytes: 4)
        }
    }

    mutating func expr(_ e: Expr) {
        typealias T = WireFormat.ExprTag
        switch e {
        case .literal(let v): byte(T.literal.rawValue); value(v)
        case .variable(let n): byte(T.variable.rawValue); string(n)
        case .parameter(let n): byte(T.parameter.rawValue); string(n)
        case .load(let m, let i): byte(T.load.rawValue); string(m); expr(i)
        case .length(let m): byte(T.length.rawValue); string(m)
        case .builtin(let b):
            byte(T.builtin.rawValue)
            switch b {
            case .globalInvocationID(let a): byte(0); byte(UInt8(a.rawValue))
            case .localInvocationID(let a): byte(1); byte(UInt8(a.rawValue))
            case .workgroupID(let a): byte(2); byte(UInt8(a.rawValue))
            case .numWorkgroups(let a): byte(3); byte(UInt8(a.rawValue))
            case .localInvocationIndex: byte(4)
            case .loopCuts: byte(5)
            }
        case .unary(let op, let a): byte(T.unary.rawValue); code(op, in: WireFormat.unaryOps); expr(a)
        case .binary(let op, let a, let b): byte(T.binary.rawValue); code(op, in: WireFormat.binaryOps); expr(a); expr(b)
        case .select(let c, let a, let b): byte(T.select.rawValue); expr(c); expr(a); expr(b)
        case .cast(let t, let a): byte(T.cast.rawValue); code(t, in: WireFormat.types); expr(a)
        case .bitcast(let t, let a): byte(T.bitcast.rawValue); code(t, in: WireFormat.types); expr(a)
        case .fma(let a, let b, let c): byte(T.fma.rawValue); expr(a); expr(b); expr(c)
        case .atomic(let op, let m, let i, let v): byte(T.atomic.rawValue); code(op, in: WireFormat.atomicOps); string(m); expr(i); expr(v)
        case .compareExchange(let m, let i, let x, let d): byte(T.compareExchange.rawValue); string(m); expr(i); expr(x); expr(d)
        }
    }
}

// MARK: - Decoding

struct WireReader {
    let bytes: [UInt8]
    let limits: WireLimits
    var offset = 0

    init(_ bytes: [UInt8], limits: WireLimits) throws(WireError) {
        guard bytes.count <= limits.maxBytes else { throw .tooLarge(bytes: bytes.count, limit: limits.maxBytes) }
        self.bytes = bytes
        self.limits = limits
    }

    var remaining: Int { bytes.count - offset }

    mutating func byte(_ what: String) throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset, needed: what) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint(_ what: String, max: UInt64 = .max) throws(WireError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte(what)
            let payload = UInt64(b & 0x7F)
            if shift == 63 && payload > 1 { throw .integerOverflow(offset: start) }
            result |= payload << shift
            if b & 0x80 == 0 {
                // A final zero byte after the first means a shorter encoding existed.
                if b == 0 && shift > 0 { throw .nonMinimalInteger(offset: start) }
                break
            }
            shift += 7
            if shift > 63 { throw .integerOverflow(offset: start) }
        }
        guard result <= max else { throw .integerOverflow(offset: start) }
        return result
    }

    mutating func u32(_ what: String) throws(WireError) -> UInt32 {
        UInt32(try varint(what, max: UInt64(UInt32.max)))
    }

    mutating func fixed(_ n: Int, _ what: String) throws(WireError) -> UInt64 {
        guard remaining >= n else { throw .truncated(offset: offset, needed: what) }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += n
        return v
    }

    mutating func string(_ what: String) throws(WireError) -> String {
        let start = offset
        let n = try varint(what)
        guard n <= UInt64(limits.maxNameBytes) else { throw .nameTooLong(offset: start, bytes: Int(clamping: n), limit: limits.maxNameBytes) }
        guard Int(n) <= remaining else { throw .truncated(offset: offset, needed: what) }
        let slice = bytes[offset..<(offset + Int(n))]
        guard let s = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(offset: offset) }
        offset += Int(n)
        return s
    }

    mutating func code<T>(_ table: [T], _ what: String) throws(WireError) -> T {
        let at = offset
        let b = try byte(what)
        guard Int(b) < table.count else { throw .unknownTag(offset: at, what: what, tag: b) }
        return table[Int(b)]
    }

    /// A list length, checked against the bytes left (every item takes at least one byte).
    mutating func count(_ what: String) throws(WireError) -> Int {
        let at = offset
        let n = try varint(what)
        guard n <= UInt64(remaining) else { throw .countTooLarge(offset: at, count: n, remaining: remaining) }
        return Int(n)
    }

    mutating func decodeProgram() throws(WireError) -> Program {
        guard bytes.count >= 4, Array(bytes[0..<4]) == WireFormat.magic else { throw .badMagic }
        offset = 4
        let version = UInt16(try fixed(2, "version"))
        guard version == WireFormat.version else { throw .unsupportedVersion(version) }
        var p = Program()
        p.workgroupSize = WorkgroupSize(try u32("workgroup size"), try u32("workgroup size"), try u32("workgroup size"))
        let nb = try count("buffer count")
        for _ in 0..<nb {
            let name = try string("buffer name")
            let binding = try u32("buffer binding")
            let access = try code(WireFormat.accesses, "buffer access")
            let type = try code(WireFormat.types, "buffer type")
            let countFlag = try byte("buffer count flag")
            let fixedCount: UInt32?
            switch countFlag {
            case 0: fixedCount = nil
            case 1: fixedCount = try u32("buffer count")
            default: throw .unknownTag(offset: offset - 1, what: "buffer count flag", tag: countFlag)
            }
            let placement = try code(WireFormat.placements, "buffer placement")
            p.buffers.append(BufferDecl(name, binding: binding, access: access, type: type, count: fixedCount, placement: placement))
        }
        let ns = try count("shared array count")
        for _ in 0..<ns {
            let name = try string("shared array name")
            let type = try code(WireFormat.types, "shared array type")
            p.shared.append(SharedDecl(name, type: type, count: try u32("shared array count")))
        }
        p.entry = try nodes(depth: 1)
        guard offset == bytes.count else { throw .trailingBytes(offset: offset, count: bytes.count - offset) }
        return p
    }

    mutating func nodes(depth: Int) throws(WireError) -> [Node] {
        let n = try count("statement count")
        var list: [Node] = []
        list.reserveCapacity(n)
        for _ in 0..<n { list.append(try node(depth: depth)) }
        return list
    }

    /// The tag that opens a statement or expression at `depth`, checked against the depth limit.
    private mutating func tag<Tag: RawRepresentable<UInt8>>(_: Tag.Type, depth: Int, _ what: String) throws(WireError) -> Tag {
        guard depth <= limits.maxDepth else { throw .tooDeep(offset: offset, limit: limits.maxDepth) }
        let at = offset
        let raw = try byte("\(what) tag")
        guard let tag = Tag(rawValue: raw) else { throw .unknownTag(offset: at, what: what, tag: raw) }
        return tag
    }

    mutating func node(depth: Int) throws(WireError) -> Node {
        let tag = try tag(WireFormat.NodeTag.self, depth: depth, "statement")
        let d = depth + 1
        switch tag {
        case .let: return .let(try string("variable name"), try expr(depth: d))
        case .assign: return .assign(try string("variable name"), try expr(depth: d))
        case .store: return .store(try string("memory name"), index: try expr(depth: d), value: try expr(depth: d))
        case .if: return .if(try expr(depth: d), then: try nodes(depth: d), else: try nodes(depth: d))
        case .for: return .for(try string("loop variable"), from: try expr(depth: d), to: try expr(depth: d), body: try nodes(depth: d))
        case .while: return .while(try expr(depth: d), maxIterations: try expr(depth: d), body: try nodes(depth: d))
        case .forever: return .forever(try nodes(depth: d))
        case .block: return .block(try nodes(depth: d))
        case .region: return .region(try string("region name"), try nodes(depth: d))
        case .return: return .return
        case .break: return .break
        case .continue: return .continue
        case .barrier: return .barrier(try code(WireFormat.barriers, "barrier kind"))
        case .asyncLoad: return .asyncLoad(try copy(depth: d))
        case .asyncStore: return .asyncStore(try copy(depth: d))
        case .asyncWait: return .asyncWait(try string("async tag"))
        case .trap: return .trap(try expr(depth: d))
        }
    }

    mutating func copy(depth: Int) throws(WireError) -> AsyncCopy {
        AsyncCopy(tag: try string("async tag"), source: try string("copy source"), sourceOffset: try expr(depth: depth),
                  destination: try string("copy destination"), destinationOffset: try expr(depth: depth), count: try expr(depth: depth))
    }

    mutating func value() throws(WireError) -> Value {
        let type = try code(WireFormat.types, "literal type")
        switch type {
        case .bool:
            let at = offset
            let b = try byte("bool literal")
            guard b <= 1 else { throw .unknownTag(offset: at, what: "bool literal", tag: b) }
            return .bool(b == 1)
        case .u64, .i64, .f64: return Value(type: type, bits: try fixed(8, "literal"))
        default: return Value(type: type, bits: try fixed(4, "literal"))
        }
    }

    mutating func expr(depth: Int) throws(WireError) -> Expr {
        let tag = try tag(WireFormat.ExprTag.self, depth: depth, "expression")
        let d = depth + 1
        switch tag {
        case .literal: return .literal(try value())
        case .variable: return .variable(try string("variable name"))
        case .parameter: return .parameter(try string("parameter name"))
        case .load: return .load(try string("memory name"), index: try expr(depth: d))
        case .length: return .length(try string("memory name"))
        case .builtin:
            let kindAt = offset
            let kind = try byte("builtin")
            if kind == 4 { return .builtin(.localInvocationIndex) }
            if kind == 5 { return .builtin(.loopCuts) }
            guard kind < 4 else { throw .unknownTag(offset: kindAt, what: "builtin", tag: kind) }
            let axisAt = offset
            let rawAxis = try byte("builtin axis")
            guard let axis = Axis(rawValue: Int(rawAxis)) else { throw .unknownTag(offset: axisAt, what: "axis", tag: rawAxis) }
            switch kind {
            case 0: return .builtin(.globalInvocationID(axis))
            case 1: return .builtin(.localInvocationID(axis))
            case 2: return .builtin(.workgroupID(axis))
            default: return .builtin(.numWorkgroups(axis))
            }
        case .unary: return .unary(try code(WireFormat.unaryOps, "unary operator"), try expr(depth: d))
        case .binary: return .binary(try code(WireFormat.binaryOps, "binary operator"), try expr(depth: d), try expr(depth: d))
        case .select: return .select(try expr(depth: d), try expr(depth: d), try expr(depth: d))
        case .cast: return .cast(try code(WireFormat.types, "cast type"), try expr(depth: d))
        case .bitcast: return .bitcast(try code(WireFormat.types, "bitcast type"), try expr(depth: d))
        case .fma: return .fma(try expr(depth: d), try expr(depth: d), try expr(depth: d))
        case .atomic:
            return .atomic(try code(WireFormat.atomicOps, "atomic operator"), try string("memory name"), index: try expr(depth: d), value: try expr(depth: d))
        case .compareExchange:
            return .compareExchange(try string("memory name"), index: try expr(depth: d), expected: try expr(depth: d), desired: try expr(depth: d))
        }
    }
}
