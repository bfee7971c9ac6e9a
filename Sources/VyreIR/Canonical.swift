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
        n.mapChildren(expression: expr, body: body)
    }

    static func expr(_ e: Expr) -> Expr {
        switch e {
        case .binary(let op, let a, let b):
            let x = expr(a)
            let y = expr(b)
            if op.isCommutative && !x.hasSideEffects && !y.hasSideEffects && precedes(y, x) {
                return .binary(op, y, x)
            }
            return .binary(op, x, y)
        case .fma(let a, let b, let c):
            let x = expr(a)
            let y = expr(b)
            if !x.hasSideEffects && !y.hasSideEffects && precedes(y, x) { return .fma(y, x, expr(c)) }
            return .fma(x, y, expr(c))
        default:
            return e.mapChildren(expr)
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
