import VyreIR

/// How a batch's items are divided among several devices so that the merged result is one
/// device's: each phase is cut into pieces that run on any device from the state the phase
/// starts with, and ``BatchMerge`` adds up what each piece changed.
///
/// Adding changes up is exact for a word that pieces change only by adding to it (ATOMIC_ADD,
/// the completion and metrics counters, FENCE's epoch) and for a word only one piece writes. So
/// every item that writes a word any other way (STORE_U32, COMPARE_SWAP, MEMCPY's destination,
/// LOAD_U32's and DFA_STEP's observable, SHUTDOWN) stays in one piece with every other item that
/// writes that word. A custom opcode whose handler writes buffers only with atomic adds cuts
/// like ATOMIC_ADD; any other keeps all its items in one piece, since what it writes depends on
/// its args. Within a phase the batch already promises that its items commute (a device runs them
/// in any order), which is what makes running them apart and adding up the same.
public struct BatchSplit: Sendable {
    /// One phase's items: a stream that may be cut between any two items except inside a group,
    /// and groups too spread out for that, which run as pieces of their own.
    public struct Phase: Sendable {
        /// The phase's items in the batch.
        public let range: Range<Int>
        /// Items not in a spread-out group, in order.
        let stream: [Int]
        /// `blocked[p]`: a piece may not end before `stream[p]` (a group spans the cut).
        let blocked: [Bool]
        /// Groups whose items are more than ``BatchSplit/spreadLimit`` items apart.
        public let spread: [[Int]]

        /// Items the stream holds.
        public var streamCount: Int { stream.count }

        /// Stream items from `start` to the first allowed cut at or after `start + count`, and
        /// where the next piece starts.
        public func piece(from start: Int, count: Int) -> (items: [Int], next: Int) {
            var end = min(stream.count, start + max(1, count))
            while end < stream.count, blocked[end] { end += 1 }
            return (Array(stream[start..<end]), end)
        }
    }

    /// A group whose first and last items are further apart than this runs as a piece of its own
    /// rather than keeping the stream from being cut between them.
    public static let spreadLimit = 4096

    /// Each phase of the plan, in order.
    public let phases: [Phase]

    /// Splits `plan` for a megakernel built from `configuration`. No GPU; linear in the items
    /// (and in the words MEMCPY items write, sorted).
    public init(_ plan: BatchPlan, configuration: MegakernelConfiguration) {
        let keys = WriteKeys(configuration: configuration, controlWords: plan.controlWords)
        let items = plan.batch.items
        phases = plan.phases.map { Self.phase($0, items: items, keys: keys) }
    }

    private static func phase(_ range: Range<Int>, items: [WorkItem], keys: WriteKeys) -> Phase {
        var groups = UnionFind(range)
        var spans: [(start: Int, end: Int, item: Int)] = []
        var byOpcode: [UInt32: Int] = [:]
        for i in range {
            for key in keys.of(items[i]) {
                switch key {
                case .words(let w): spans.append((w.lowerBound, w.upperBound, i))
                case .opcode(let op):
                    if let first = byOpcode[op] { groups.union(first, i) } else { byOpcode[op] = i }
                }
            }
        }
        // Items whose written words overlap join one group.
        spans.sort { $0.start < $1.start }
        var current: (end: Int, item: Int)? = nil
        for s in spans {
            if let c = current, s.start < c.end {
                groups.union(c.item, s.item)
                current = (max(c.end, s.end), c.item)
            } else {
                current = (s.end, s.item)
            }
        }
        return groups.phase(range)
    }
}

/// What an item writes other than by adding: words of the control buffer, or whatever its
/// custom opcode's handler writes (not known before it runs).
enum WriteKey: Hashable {
    case words(Range<Int>)
    case opcode(UInt32)
}

/// The write keys of items for one megakernel and control buffer size.
struct WriteKeys {
    /// Custom opcodes whose handlers write only with atomic adds.
    let additive: Set<UInt32>
    let custom: Set<UInt32>
    let length: Int

    init(configuration: MegakernelConfiguration, controlWords: Int) {
        let buffers = Set(["control"] + configuration.extraBuffers.map(\.name))
        custom = Set(configuration.opcodes.map(\.opcode))
        additive = Set(configuration.opcodes.filter { AdditiveWrites.only($0.body, buffers: buffers) }.map(\.opcode))
        length = controlWords
    }

    func of(_ item: WorkItem) -> [WriteKey] {
        if custom.contains(item.opcode) { return additive.contains(item.opcode) ? [] : [.opcode(item.opcode)] }
        guard let op = Opcode(rawValue: item.opcode) else { return [] }
        var a = Array(item.args.prefix(RingProtocol.argsPerSlot))
        a += [UInt32](repeating: 0, count: RingProtocol.argsPerSlot - a.count)
        if op == .packedSlot {
            guard case .success(let ops) = PackedSlot.decode(a) else { return [] }
            return ops.flatMap { of($0.opcode, $0.args) }
        }
        return of(op, a)
    }

    private func of(_ op: Opcode, _ a: [UInt32]) -> [WriteKey] {
        let obs = RingProtocol.Control.observableBase
        func word(_ w: Int) -> [WriteKey] { [words(w, 1)] }
        switch op {
        case .storeU32: return word(Int(a[1]))
        case .loadU32: return word(obs + Int(a[1]))
        case .compareSwap: return word(Int(a[0])) + word(obs + Int(a[0]))
        case .memcpy: return [words(Int(a[1]), Int(a[2]))]
        case .dfaStep: return word(obs + Int(a[5]))
        case .batchFence: return word(obs)
        case .shutdown: return word(RingProtocol.Control.shutdown)
        // Served by the host's IO service where there is one, which writes where the op says.
        case .loadMiss: return [.opcode(op.rawValue)]
        case .nop, .atomicAdd, .printf, .packedSlot: return []
        }
    }

    /// Words `start ..< start + count`, clamped to the control buffer: an item reaching past it
    /// faults and writes nothing, so the clamp only keeps the range small.
    private func words(_ start: Int, _ count: Int) -> WriteKey {
        let s = min(max(0, start), length)
        return .words(s..<min(length, s + max(1, count)))
    }
}

/// Whether a handler writes the buffers named only with atomic adds (stores to shared memory
/// stay on the workgroup, so they do not count).
enum AdditiveWrites {
    static func only(_ nodes: [Node], buffers: Set<String>) -> Bool {
        nodes.allSatisfy { node in
            switch node {
            case .store(let target, _, _) where buffers.contains(target): return false
            case .asyncStore(let copy) where buffers.contains(copy.destination): return false
            case .asyncLoad(let copy) where buffers.contains(copy.destination): return false
            default: break
            }
            return node.expressions.allSatisfy { only($0.expr, buffers: buffers) } && node.bodies.allSatisfy { only($0.nodes, buffers: buffers) }
        }
    }

    static func only(_ e: Expr, buffers: Set<String>) -> Bool {
        switch e {
        case .atomic(let op, let target, _, _) where op != .add && buffers.contains(target): return false
        case .compareExchange(let target, _, _, _) where buffers.contains(target): return false
        default: return e.children.allSatisfy { only($0, buffers: buffers) }
        }
    }
}

/// Union-find over a phase's items.
struct UnionFind {
    let base: Int
    var parent: [Int]

    init(_ range: Range<Int>) {
        base = range.lowerBound
        parent = Array(0..<range.count)
    }

    mutating func find(_ i: Int) -> Int {
        var x = i - base
        while parent[x] != x {
            parent[x] = parent[parent[x]]
            x = parent[x]
        }
        return x
    }

    mutating func union(_ a: Int, _ b: Int) {
        let (ra, rb) = (find(a), find(b))
        if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
    }

    /// The phase: groups further apart than the limit run alone, the others block cuts inside them.
    mutating func phase(_ range: Range<Int>) -> BatchSplit.Phase {
        var first = [Int](repeating: -1, count: range.count), last = [Int](repeating: -1, count: range.count)
        for i in range {
            let r = find(i)
            if first[r] < 0 { first[r] = i }
            last[r] = i
        }
        var spreadIndex: [Int: Int] = [:]
        var spread: [[Int]] = []
        var stream: [Int] = []
        stream.reserveCapacity(range.count)
        var position = [Int](repeating: -1, count: range.count)
        for i in range {
            let r = find(i)
            if last[r] - first[r] > BatchSplit.spreadLimit {
                if let k = spreadIndex[r] { spread[k].append(i) } else {
                    spreadIndex[r] = spread.count
                    spread.append([i])
                }
            } else {
                position[i - base] = stream.count
                stream.append(i)
            }
        }
        // A cut before stream[p] is blocked when a group has items on both sides of it.
        var depth = [Int](repeating: 0, count: stream.count + 1)
        for r in 0..<range.count where first[r] >= 0 && last[r] > first[r] && last[r] - first[r] <= BatchSplit.spreadLimit {
            depth[position[first[r] - base] + 1] += 1
            depth[position[last[r] - base] + 1] -= 1
        }
        var blocked = [Bool](repeating: false, count: stream.count + 1)
        var open = 0
        for p in 0..<stream.count {
            open += depth[p]
            blocked[p] = open > 0
        }
        return BatchSplit.Phase(range: range, stream: stream, blocked: blocked, spread: spread)
    }
}
