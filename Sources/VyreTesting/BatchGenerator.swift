public import VyreProtocol

/// Seeded random batches whose items commute within each phase, so a device's result must equal
/// ``BatchModel``'s: atomic adds share a pool of words that nothing else touches in that phase;
/// every other op reads and writes words no other op of its phase uses; SHUTDOWN and fences stand
/// alone. Faults of every kind, disabled tenants, packed slots, DFA steps and debug-log overflow
/// are mixed in.
public struct BatchGenerator {
    /// The custom opcode generated batches use when asked to: `ADD_SUM` in
    /// ``MegakernelConformance/configuration(workgroupSize:)``.
    public static let customOpcode: UInt32 = 0x4000_0001

    private var rng: SeededRandom
    /// The seed the generator started from, to name a failing batch.
    public let seed: UInt64
    private let customOpcodes: Bool

    /// A generator whose batches follow from `seed`. With `customOpcodes` it also emits
    /// ``customOpcode`` items, which only a megakernel that handles that opcode completes.
    public init(seed: UInt64, customOpcodes: Bool = false) {
        self.seed = seed
        self.rng = SeededRandom(seed: seed)
        self.customOpcodes = customOpcodes
    }

    typealias C = RingProtocol.Control

    /// Words of the control buffer not yet used by an op of the current phase.
    private struct Allocator {
        var free: [Int]
        mutating func take(_ rng: inout SeededRandom) -> Int? {
            guard !free.isEmpty else { return nil }
            return free.remove(at: rng.int(0...(free.count - 1)))
        }
        /// `n` consecutive free words.
        mutating func run(_ n: Int, _ rng: inout SeededRandom) -> Int? {
            let sorted = free.sorted()
            var starts: [Int] = []
            var i = 0
            while i + n <= sorted.count {
                if sorted[i + n - 1] - sorted[i] == n - 1 { starts.append(sorted[i]) }
                i += 1
            }
            guard let s = starts.isEmpty ? nil : starts[rng.int(0...(starts.count - 1))] else { return nil }
            free.removeAll { $0 >= s && $0 < s + n }
            return s
        }
    }

    /// The next batch: 1 to 5 phases of up to 30 ops each, with fences, geometry and initial control
    /// words. Each call continues the generator's sequence; no GPU.
    public mutating func generate() -> Batch {
        let dfa = rng.chance(0.3)
        let controlWords = dfa ? rng.int(900...1400) : rng.int(200...700)
        let tenants = rng.int(1...4)
        var control: [Int: UInt32] = [:]
        for _ in 0..<rng.int(0...20) { control[rng.int(C.observableBase...(controlWords - 1))] = rng.chance(0.5) ? UInt32(rng.int(0...50)) : rng.u32() }
        var dfaTable: (base: Int, states: Int)? = nil
        if dfa {
            // A 2-state parity machine over the low bit of each byte, kept out of every phase's way.
            let base = controlWords - 512
            for s in 0..<2 { for b in 0..<256 { control[base + s * 256 + b] = UInt32(s ^ (b & 1)) } }
            dfaTable = (base, 2)
        }
        var items: [WorkItem] = []
        let phases = rng.int(1...5)
        var printfs = 0
        for p in 0..<phases {
            if p > 0 { items.append(WorkItem(.batchFence, args: [0, UInt32(rng.int(0...999))])) }
            if rng.chance(0.08) && p > 0 {
                items.append(WorkItem(.shutdown))
                items.append(WorkItem(.batchFence, args: [0, 1]))
            }
            let top = dfaTable.map { $0.base } ?? controlWords
            var free = Allocator(free: Array(C.observableBase + 1..<top))
            var pool: [Int] = []
            for _ in 0..<rng.int(0...3) { if let w = free.take(&rng) { pool.append(w) } }
            for _ in 0..<rng.int(0...30) {
                if let item = makeItem(&free, pool: pool, controlWords: controlWords, tenants: tenants, dfa: dfaTable) {
                    if item.opcode == Opcode.printf.rawValue { printfs += 1 }
                    items.append(item)
                }
            }
        }
        let debugRecords = rng.chance(0.2) ? max(1, printfs / 2) : max(printfs, 4)
        let slots = rng.chance(0.5) ? items.count : items.count + rng.int(0...100)
        return Batch(items: items, slots: max(1, slots), controlWords: controlWords, tenants: tenants, debugRecords: debugRecords, control: control)
    }

    private mutating func tenant(_ tenants: Int) -> UInt32 {
        if rng.chance(0.1) {
            switch rng.int(0...2) {
            // In the table but disabled: stays PUBLISHED.
            case 0: return UInt32(rng.int(tenants...(RingProtocol.Control.maxTableTenants - 1)))
            // Past the table (125 would read the EPOCH word as its mask): FAULT.
            case 1: return UInt32(rng.int(RingProtocol.Control.maxTableTenants...200))
            default: return .max
            }
        }
        return UInt32(rng.int(0...(tenants - 1)))
    }

    private mutating func outOfRange(_ controlWords: Int) -> UInt32 {
        rng.chance(0.5) ? UInt32(controlWords + rng.int(0...10)) : .max - UInt32(rng.int(0...3))
    }

    /// A three-arg built-in whose words come from `free` (or `pool` for adds); nil when none fit.
    private mutating func builtinArgs(_ op: Opcode, _ free: inout Allocator, pool: [Int], controlWords: Int) -> [UInt32]? {
        let obs = C.observableBase
        switch op {
        case .nop:
            return [rng.u32(), rng.u32(), rng.u32()]
        case .storeU32:
            guard let w = free.take(&rng) else { return nil }
            return [rng.u32(), UInt32(w), 0]
        case .atomicAdd:
            guard let w = pool.isEmpty ? nil : pool[rng.int(0...(pool.count - 1))] else { return nil }
            return [UInt32(rng.int(0...1000)), UInt32(w), 0]
        case .loadU32:
            guard let src = free.take(&rng), let dst = free.take(&rng) else { return nil }
            return [UInt32(src), UInt32(dst - obs), 0]
        case .compareSwap:
            // The word and its observable twin (word + 160) both must be free.
            guard let w = free.free.filter({ $0 + obs < controlWords && free.free.contains($0 + obs) }).randomElement(using: &rng) else { return nil }
            free.free.removeAll { $0 == w || $0 == w + obs }
            return [UInt32(w), rng.chance(0.5) ? 0 : rng.u32(), rng.u32()]
        case .memcpy:
            let n = rng.int(0...4)
            guard let src = free.run(max(n, 1), &rng), let dst = free.run(max(n, 1), &rng) else { return nil }
            return [UInt32(src), UInt32(dst), UInt32(n)]
        default:
            return nil
        }
    }

    private mutating func makeItem(_ free: inout Allocator, pool: [Int], controlWords: Int, tenants: Int, dfa: (base: Int, states: Int)?) -> WorkItem? {
        let t = tenant(tenants)
        let priority = rng.pick(Priority.allCases)
        let roll = rng.int(0...99)
        switch roll {
        case 0..<50:
            let op = rng.pick(Opcode.packable)
            guard var args = builtinArgs(op, &free, pool: pool, controlWords: controlWords) else { return nil }
            if rng.chance(0.06) {
                // Out of range: faults, touching nothing.
                switch op {
                case .storeU32, .atomicAdd: args[1] = outOfRange(controlWords)
                case .loadU32, .compareSwap, .memcpy: args[0] = outOfRange(controlWords)
                default: break
                }
            }
            return WorkItem(op, args: rng.chance(0.3) ? args + [rng.u32()] : args, tenant: t, priority: priority)
        case 50..<60:
            return WorkItem(.printf, args: [UInt32(rng.int(0...9)), rng.u32(), rng.u32()], tenant: t, priority: priority)
        case 60..<72:
            var ops: [PackedOp] = []
            for _ in 0..<rng.int(1...3) {
                let op = rng.pick(Opcode.packable)
                guard let args = builtinArgs(op, &free, pool: pool, controlWords: controlWords) else { break }
                ops.append(PackedOp(op, args))
            }
            guard !ops.isEmpty, let item = try? WorkItem.packed(ops, tenant: t, priority: priority) else { return nil }
            return item
        case 72..<77:
            // Malformed packed slots: a count of 0 or 9, a bad inner opcode, or an offset into the header.
            var args = [UInt32](repeating: 0, count: 12)
            switch rng.int(0...2) {
            case 0: args[0] = rng.chance(0.5) ? 0 : 9
            case 1: args[0] = 1 | (7 << 16) | (5 << 24)
            default: args[0] = 1 | (1 << 16) | (0 << 24)
            }
            return WorkItem(.packedSlot, args: args, tenant: t, priority: priority)
        case 77..<82:
            return WorkItem(opcode: rng.pick([8, 99, 0x1234_5678, 0xFFF3, 0x8000_0002]), args: [1, 2], tenant: t, priority: priority)
        case 82..<85:
            return WorkItem(.loadMiss, args: [1], tenant: t, priority: priority)
        case 85..<92 where dfa != nil:
            let table = dfa!
            let n = rng.int(0...12)
            guard let input = free.run(max(1, (n + 3) / 4), &rng), let out = free.take(&rng) else { return nil }
            // One state makes every odd byte leave the table (a DFA fault); 300 states do not fit the
            // control buffer (a range fault). Input words hold whatever the batch's initial words put there.
            let states = rng.chance(0.85) ? table.states : (rng.chance(0.5) ? 1 : 300)
            return WorkItem(.dfaStep, args: [UInt32(table.base), UInt32(states), UInt32(input), UInt32(n), 0,
                                             UInt32(out - C.observableBase)], tenant: t, priority: priority)
        case 92..<96 where customOpcodes:
            guard let w = free.take(&rng) else { return nil }
            let target = rng.chance(0.1) ? outOfRange(controlWords) : UInt32(w)
            return WorkItem(opcode: Self.customOpcode, args: [target, UInt32(rng.int(0...100)), UInt32(rng.int(0...100))], tenant: t, priority: priority)
        default:
            return WorkItem(.nop, args: [], tenant: t, priority: priority)
        }
    }
}
