import Crypto

extension Program {
    /// The canonical form: equal meaning, equal bytes (as far as cheap rewriting can tell).
    ///
    /// Buffers are ordered by binding and shared arrays by name; operands of commutative operators
    /// are ordered by their wire bytes when neither has a side effect; blocks nested directly in a
    /// body are spliced into it when that cannot clash with a name declared beside them; empty
    /// blocks disappear. Canonicalizing twice changes nothing.
    public func canonicalized() -> Program {
        var p = self
        p.buffers.sort { $0.binding < $1.binding }
        p.shared.sort { $0.name < $1.name }
        p.entry = Canonicalizer.body(entry)
        return p
    }

    /// SHA-256 of the canonical wire bytes: the program's identity for caches and logs.
    public var contentHash: ContentHash {
        ContentHash(digest: Array(SHA256.hash(data: canonicalized().wireBytes())))
    }
}

/// A 32-byte SHA-256 content hash, printed as lowercase hex.
public struct ContentHash: Sendable, Hashable, CustomStringConvertible {
    public let digest: [UInt8]
    public var description: String { digest.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    /// The first 16 hex digits, enough to tell programs apart in logs and file names.
    public var short: String { String(description.prefix(16)) }
}

extension Node {
    /// Variables this statement declares in its own scope (`deep: false`: only a `let` itself), or
    /// anywhere inside it (`deep: true`: nested lets and loop variables too).
    func declaredNames(deep: Bool) -> [String] {
        var names: [String] = []
        switch self {
        case .let(let name, _): names.append(name)
        case .for(let name, _, _, _) where deep: names.append(name)
        default: break
        }
        if deep {
            for (_, body) in bodies { for n in body { names.append(contentsOf: n.declaredNames(deep: true)) } }
        }
        return names
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

enum Canonicalizer {
    static func body(_ nodes: [Node]) -> [Node] {
        var result = nodes.map(node)
        // Splicing can expose blocks that sat inside a spliced block; repeat until nothing changes
        // so that canonicalizing twice is the same as once.
        while let next = spliceOnce(result) { result = next }
        return result
    }

    /// Splices the first block that can join its parent scope without changing any name's meaning:
    /// none of the names it declares is declared directly at this level, and none is declared at
    /// any depth by a later statement (which would then shadow it). Nil when no block qualifies.
    private static func spliceOnce(_ nodes: [Node]) -> [Node]? {
        for (k, n) in nodes.enumerated() {
            guard case .block(let inner) = n else { continue }
            let declared = Set(inner.flatMap { $0.declaredNames(deep: false) })
            let level = Set(nodes.enumerated().filter { $0.offset != k }.flatMap { $0.element.declaredNames(deep: false) })
            let later = Set(nodes[(k + 1)...].flatMap { $0.declaredNames(deep: true) })
            if declared.isDisjoint(with: level) && declared.isDisjoint(with: later) {
                var out = Array(nodes[..<k])
                out.append(contentsOf: inner)
                out.append(contentsOf: nodes[(k + 1)...])
                return out
            }
        }
        return nil
    }

    static func node(_ n: Node) -> Node {
        switch n {
        case .let(let name, let v): return .let(name, expr(v))
        case .assign(let name, let v): return .assign(name, expr(v))
        case .store(let m, let i, let v): return .store(m, index: expr(i), value: expr(v))
        case .if(let c, let t, let e): return .if(expr(c), then: body(t), else: body(e))
        case .for(let name, let f, let t, let b): return .for(name, from: expr(f), to: expr(t), body: body(b))
        case .while(let c, let m, let b): return .while(expr(c), maxIterations: expr(m), body: body(b))
        case .forever(let b): return .forever(body(b))
        case .block(let b): return .block(body(b))
        case .region(let name, let b): return .region(name, body(b))
        case .asyncLoad(let c): return .asyncLoad(copy(c))
        case .asyncStore(let c): return .asyncStore(copy(c))
        case .trap(let c): return .trap(expr(c))
        case .return, .break, .continue, .barrier, .asyncWait: return n
        }
    }

    static func copy(_ c: AsyncCopy) -> AsyncCopy {
        AsyncCopy(tag: c.tag, source: c.source, sourceOffset: expr(c.sourceOffset), destination: c.destination,
                  destinationOffset: expr(c.destinationOffset), count: expr(c.count))
    }

    static func expr(_ e: Expr) -> Expr {
        switch e {
        case .literal, .variable, .length, .builtin, .parameter: return e
        case .load(let m, let i): return .load(m, index: expr(i))
        case .unary(let op, let a): return .unary(op, expr(a))
        case .binary(let op, let a, let b):
            let x = expr(a)
            let y = expr(b)
            if op.isCommutative && !x.hasSideEffects && !y.hasSideEffects && precedes(y, x) {
                return .binary(op, y, x)
            }
            return .binary(op, x, y)
        case .select(let c, let a, let b): return .select(expr(c), expr(a), expr(b))
        case .cast(let t, let a): return .cast(t, expr(a))
        case .bitcast(let t, let a): return .bitcast(t, expr(a))
        case .fma(let a, let b, let c):
            let x = expr(a)
            let y = expr(b)
            if !x.hasSideEffects && !y.hasSideEffects && precedes(y, x) { return .fma(y, x, expr(c)) }
            return .fma(x, y, expr(c))
        case .atomic(let op, let m, let i, let v): return .atomic(op, m, index: expr(i), value: expr(v))
        case .compareExchange(let m, let i, let x, let d): return .compareExchange(m, index: expr(i), expected: expr(x), desired: expr(d))
        }
    }

    private static func precedes(_ a: Expr, _ b: Expr) -> Bool {
        var wa = WireWriter()
        wa.expr(a)
        var wb = WireWriter()
        wb.expr(b)
        return wa.bytes.lexicographicallyPrecedes(wb.bytes)
    }
}
