import VyreIR

/// How a batch's items are divided among several devices so that the merged result is one
/// device's: each phase is cut into pieces that run on any device from the state the phase
/// starts with, and ``BatchMerge`` adds up what each piece changed.
///
/// Adding changes up is exact for a word that pieces change only by adding to it (ATOMIC_ADD,
/// the completion and metrics counters, FENCE's epoch) and for a word only one piece writes. So
/// every item that writes a word any other way (STORE_U32, COMPARE_SWAP, MEMCPY's destination,
/// LOAD_U32's and DFA_STEP's observable, SHUTDOWN) stays in one piece with every other item that
/// writes that word. A custom opcode whose handler only adds amounts known from its args
/// (``AdditiveWrites``) cuts like ATOMIC_ADD; any other may write any word, so its items stay in
/// one piece with every item that writes other than by adding (LOAD_MISS too). A prologue that
/// writes storage keeps each phase whole, and so does a SHUTDOWN: the ops that claim after it in
/// its phase do not run, which only holds on the device it runs on. Within a phase the batch already promises that its items commute (a device runs them
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
        for i in range {
            // A SHUTDOWN stops the ops that claim after it in its phase, on the device it runs
            // on only: its phase stays whole, as racy as on one device and no more.
            if keys.stops(items[i]) {
                for j in range { groups.union(range.lowerBound, j) }
                break
            }
            for case .words(let w) in keys.of(items[i]) { spans.append((w.lowerBound, w.upperBound, i)) }
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

/// The control words an item writes other than by adding.
enum WriteKey: Hashable {
    case words(Range<Int>)
}

/// The write keys of items for one megakernel and control buffer size.
struct WriteKeys {
    /// Custom opcodes whose handlers only add amounts known from their args (``AdditiveWrites``).
    let additive: Set<UInt32>
    let custom: Set<UInt32>
    let length: Int
    /// The prologue writes storage: every dispatch would repeat it, so nothing is cut.
    let whole: Bool

    init(configuration: MegakernelConfiguration, controlWords: Int) {
        let storage = AdditiveWrites.storage(extras: configuration.extraBuffers.map(\.name))
        custom = Set(configuration.opcodes.map(\.opcode))
        additive = Set(configuration.opcodes.filter { AdditiveWrites.only($0.body, storage: storage) }.map(\.opcode))
        length = controlWords
        whole = !AdditiveWrites.writesNothing(configuration.prologue, storage: storage)
    }

    /// Every word: what an item whose writes cannot be known joins, so it stays with every
    /// other item that writes anything other than by adding.
    private var everything: [WriteKey] { [.words(0..<max(1, length))] }

    /// Whether `item` is a SHUTDOWN (a packed slot cannot hold one: ``Opcode/packable``).
    func stops(_ item: WorkItem) -> Bool { item.opcode == Opcode.shutdown.rawValue }

    static func padded(_ args: [UInt32]) -> [UInt32] {
        var a = Array(args.prefix(RingProtocol.argsPerSlot))
        a += [UInt32](repeating: 0, count: RingProtocol.argsPerSlot - a.count)
        return a
    }

    func of(_ item: WorkItem) -> [WriteKey] {
        if whole { return everything }
        if custom.contains(item.opcode) { return additive.contains(item.opcode) ? [] : everything }
        guard let op = Opcode(rawValue: item.opcode) else { return [] }
        let a = Self.padded(item.args)
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
        case .loadMiss: return everything
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

/// Whether a handler's items can run apart and their changes be added up: its only writes are
/// atomic adds to storage whose results it never uses, and no address, amount or condition
/// depends on anything but its args, tenant and opcode (not on a load, another atomic, its slot,
/// or a length that changes with the ring). A count-distinct handler (add 1 somewhere when an
/// earlier add returned 0) is not additive: pieces would each see the first add.
enum AdditiveWrites {
    /// The buffers a handler can reach that outlive its slot: the protocol's and the extras.
    static func storage(extras: [String]) -> Set<String> {
        Set(["control", "ring", "debug_log", "io_queue", "items", "exceptions", "queues", "claims"] + extras)
    }

    static func only(_ nodes: [Node], storage: Set<String>) -> Bool {
        var scan = Scan(storage: storage)
        return scan.check(nodes) && scan.results.isDisjoint(with: scan.used)
    }

    /// Whether `nodes` write no storage at all (a prologue may fill shared memory and read).
    static func writesNothing(_ nodes: [Node], storage: Set<String>) -> Bool {
        func writes(_ e: Expr) -> Bool {
            switch e {
            case .atomic(_, let target, _, _), .compareExchange(let target, _, _, _): storage.contains(target) || e.children.contains(where: writes)
            default: e.children.contains(where: writes)
            }
        }
        return nodes.allSatisfy { node in
            switch node {
            case .store(let target, _, _) where storage.contains(target): return false
            case .asyncStore(let copy) where storage.contains(copy.destination): return false
            case .asyncLoad(let copy) where storage.contains(copy.destination): return false
            default: return !node.expressions.contains { writes($0.expr) } && node.bodies.allSatisfy { writesNothing($0.nodes, storage: storage) }
            }
        }
    }

    private struct Scan {
        let storage: Set<String>
        /// Names whose values depend only on the item's args, tenant and opcode.
        var pure: Set<String> = Set((0..<RingProtocol.argsPerSlot).map { "arg\($0)" } + ["tenant", "opcode", "fault"])
        /// Names bound to an atomic add's result, and every name read.
        var results: Set<String> = []
        var used: Set<String> = []

        init(storage: Set<String>) { self.storage = storage }

        mutating func check(_ nodes: [Node]) -> Bool {
            for node in nodes {
                switch node {
                case .let(let name, .atomic(.add, let target, let index, let value)) where storage.contains(target):
                    guard expr(index), expr(value) else { return false }
                    results.insert(name)
                case .let(let name, let value), .assign(let name, let value):
                    guard expr(value) else { return false }
                    pure.insert(name)
                case .for(let name, let from, let to, let body):
                    guard expr(from), expr(to) else { return false }
                    pure.insert(name)
                    guard check(body) else { return false }
                case .store, .asyncLoad, .asyncStore, .asyncWait, .trap, .return:
                    return false
                default:
                    guard node.expressions.allSatisfy({ expr($0.expr) }), node.bodies.allSatisfy({ check($0.nodes) }) else { return false }
                }
            }
            return true
        }

        mutating func expr(_ e: Expr) -> Bool {
            switch e {
            case .literal: return true
            case .variable(let name):
                used.insert(name)
                return pure.contains(name)
            case .length(let name): return name == "control" || (storage.contains(name) && !Self.perBatch.contains(name))
            case .unary, .binary, .select, .cast, .bitcast, .fma: return e.children.allSatisfy { expr($0) }
            case .load, .atomic, .compareExchange, .builtin, .parameter: return false
            }
        }

        /// Buffers whose length follows the batch's size.
        static let perBatch: Set<String> = ["ring", "items", "exceptions", "debug_log", "queues", "claims", "io_queue"]
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
