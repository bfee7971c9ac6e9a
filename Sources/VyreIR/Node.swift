/// A statement of a vyre program.
///
/// Bodies are scopes: a variable declared by `let` is visible to the rest of its body and to the
/// bodies nested in it, and may not shadow a visible name.
public indirect enum Node: Sendable, Hashable {
    /// Declares a mutable variable with the type of its initial value.
    case `let`(String, Expr)
    case assign(String, Expr)
    /// Writes element `index` of a buffer or shared array; out of bounds is dropped.
    case store(String, index: Expr, value: Expr)
    case `if`(Expr, then: [Node], else: [Node])
    /// `for v in from ..< to`, step 1; both bounds are evaluated once, before the first iteration.
    /// The loop variable may not be assigned.
    case `for`(String, from: Expr, to: Expr, body: [Node])
    /// Runs `body` while `condition` holds, at most `maxIterations` (u32, evaluated once) times.
    case `while`(Expr, maxIterations: Expr, body: [Node])
    /// Runs `body` until `break`/`return`, or until the host-set iteration budget is spent.
    /// GPUs give no forward-progress guarantee, so "forever" always means "within a budget".
    case forever([Node])
    case block([Node])
    /// A named group of statements, kept for diagnostics and as a comment in generated source.
    case region(String, [Node])
    case `return`
    case `break`
    case `continue`
    case barrier(BarrierKind)
    /// Starts a bulk copy of `count` elements from a buffer; see ``AsyncCopy``.
    case asyncLoad(AsyncCopy)
    /// Starts a bulk copy of `count` elements into a buffer; see ``AsyncCopy``.
    case asyncStore(AsyncCopy)
    /// Completes every copy started with this tag by this invocation.
    case asyncWait(String)
    /// Ends the invocation and records a fault with a u32 code.
    case trap(Expr)
}

/// What a ``Node/barrier(_:)`` synchronises; the raw value is its JSON name.
public enum BarrierKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// Every invocation of the workgroup arrives before any continues, and their shared-memory and
    /// buffer writes before the barrier are visible to each other after it. Uniform control flow only.
    case workgroup
    /// Orders this invocation's buffer writes (all before the barrier are visible to other
    /// invocations before any after it). No execution synchronisation, allowed anywhere.
    case bufferMemory = "buffer_memory"
}

/// A bulk element copy between memories (buffers or shared arrays) of the same element type.
///
/// The copy belongs to the invocation that starts it and is complete once that invocation runs the
/// matching ``Node/asyncWait(_:)``; reading the destination or writing the source in between gives
/// unspecified values. Elements out of bounds of the source read as zero; elements out of bounds of
/// the destination are dropped.
public struct AsyncCopy: Sendable, Hashable {
    /// Names the copy for the ``Node/asyncWait(_:)`` that completes it.
    public var tag: String
    public var source: String
    /// Index of the first source element (u32).
    public var sourceOffset: Expr
    public var destination: String
    /// Index of the first destination element written (u32).
    public var destinationOffset: Expr
    /// Elements to copy (u32).
    public var count: Expr

    /// A copy of `count` elements from `source[sourceOffset...]` to
    /// `destination[destinationOffset...]`, completed by a wait on `tag`.
    public init(tag: String, source: String, sourceOffset: Expr, destination: String, destinationOffset: Expr, count: Expr) {
        self.tag = tag
        self.source = source
        self.sourceOffset = sourceOffset
        self.destination = destination
        self.destinationOffset = destinationOffset
        self.count = count
    }
}

extension Node {
    /// The statement lists nested directly in this node, with the path label of each.
    public var bodies: [(label: String, nodes: [Node])] {
        switch self {
        case .if(_, let t, let e): [(PathLabel.then, t), (PathLabel.else, e)]
        case .for(_, _, _, let b), .while(_, _, let b), .region(_, let b): [(PathLabel.body, b)]
        case .forever(let b): [(PathLabel.forever, b)]
        case .block(let b): [(PathLabel.block, b)]
        default: []
        }
    }

    /// The expressions a node evaluates, with their path labels, in evaluation order.
    public var expressions: [(label: String, expr: Expr)] {
        switch self {
        case .let(_, let v), .assign(_, let v): [(PathLabel.value, v)]
        case .store(_, let i, let v): [(PathLabel.index, i), (PathLabel.value, v)]
        case .if(let c, _, _): [(PathLabel.ifCondition, c)]
        case .for(_, let f, let t, _): [(PathLabel.from, f), (PathLabel.to, t)]
        case .while(let c, let m, _): [(PathLabel.maxIterations, m), (PathLabel.whileCondition, c)]
        case .asyncLoad(let c): c.labeledOffsets(isLoad: true)
        case .asyncStore(let c): c.labeledOffsets(isLoad: false)
        case .trap(let c): [(PathLabel.trapCode, c)]
        default: []
        }
    }

    /// Statements in the tree rooted here, this one included.
    public var nodeCount: Int { 1 + bodies.reduce(0) { $0 + $1.nodes.reduce(0) { $0 + $1.nodeCount } } }
}

extension AsyncCopy {
    /// The copy's offset and count expressions with their path labels.
    public func labeledOffsets(isLoad: Bool) -> [(label: String, expr: Expr)] {
        [(PathLabel.copy(isLoad, "source_offset"), sourceOffset), (PathLabel.copy(isLoad, "destination_offset"), destinationOffset), (PathLabel.copy(isLoad, "count"), count)]
    }
}
