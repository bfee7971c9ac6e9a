/// Builders of the protocol's host buffers, and the publisher that writes slots.
public enum RingEncoding {
    /// A control buffer with room for `observables` observable words after the fixed region.
    public static func control(observables: Int, tenants: Int, quotas: [Int: UInt32] = [:], initial: [Int: UInt32] = [:]) throws(ProtocolError) -> [UInt32] {
        guard observables >= 0 else { throw .invalidControl(problem: "\(observables) observables", fix: "ask for 0 or more") }
        return try control(words: RingProtocol.Control.observableBase + observables, tenants: tenants, quotas: quotas, initial: initial)
    }

    /// A control buffer of `words` words: the tenant table at its default place with the first
    /// `tenants` tenants enabled, tenant quotas at `TENANT_QUOTA_BASE + tenant`, then `initial`
    /// words by index (which may override anything).
    public static func control(words: Int, tenants: Int, quotas: [Int: UInt32] = [:], initial: [Int: UInt32] = [:]) throws(ProtocolError) -> [UInt32] {
        guard words >= RingProtocol.Control.minWords else {
            throw .invalidControl(problem: "\(words) words; the protocol needs at least \(RingProtocol.Control.minWords)", fix: "use controlWords of 160 or more (224 leaves 64 observables)")
        }
        guard words <= RingProtocol.Control.maxWords else { throw .invalidControl(problem: "\(words) words is more than the \(RingProtocol.Control.maxWords) vyre-gl allows", fix: "use a smaller control buffer") }
        guard (0...RingProtocol.Control.maxTableTenants).contains(tenants) else {
            throw .invalidControl(problem: "\(tenants) tenants; the default tenant table holds \(RingProtocol.Control.maxTableTenants)", fix: "enable 0 to \(RingProtocol.Control.maxTableTenants) tenants, or move the table: set control[\(RingProtocol.Control.tenantBase)] to its index and control[\(RingProtocol.Control.tenantTableSize)] to its size through 'control'")
        }
        var c = [UInt32](repeating: 0, count: words)
        c[RingProtocol.Control.tenantBase] = UInt32(RingProtocol.Control.defaultTenantTable)
        c[RingProtocol.Control.tenantTableSize] = UInt32(RingProtocol.Control.maxTableTenants)
        for t in 0..<tenants { c[RingProtocol.Control.defaultTenantTable + t] = 1 }
        for (tenant, quota) in quotas {
            let slots = RingProtocol.Control.tenantFairnessBase - RingProtocol.Control.tenantQuotaBase
            guard (0..<slots).contains(tenant) else {
                throw .invalidControl(problem: "a quota for tenant \(tenant); the quota region holds tenants 0 to \(slots - 1)", fix: "use a tenant id in that range")
            }
            c[RingProtocol.Control.tenantQuotaBase + tenant] = quota
        }
        for (index, value) in initial {
            guard index >= 0 && index < words else {
                throw .invalidControl(problem: "initial word \(index) is outside the \(words)-word buffer", fix: "raise controlWords above \(index) or fix the index")
            }
            c[index] = value
        }
        return c
    }

    /// A ring of `slots` EMPTY slots (zero words); throws outside 1 to ``RingProtocol/maxSlots``.
    public static func emptyRing(slots: Int) throws(ProtocolError) -> [UInt32] {
        guard (1...RingProtocol.maxSlots).contains(slots) else {
            throw .invalidGeometry(problem: "\(slots) slots; a ring has 1 to \(RingProtocol.maxSlots)", fix: "choose a size in that range")
        }
        return [UInt32](repeating: 0, count: slots * RingProtocol.slotWords)
    }

    /// An empty debug log with room for `records` records; throws outside 1 to
    /// ``RingProtocol/Debug/maxRecords``.
    public static func emptyDebugLog(records: Int) throws(ProtocolError) -> [UInt32] {
        guard (1...RingProtocol.Debug.maxRecords).contains(records) else {
            throw .invalidGeometry(problem: "a debug log of \(records) records; use 1 to \(RingProtocol.Debug.maxRecords)", fix: "choose debugRecords in that range")
        }
        return [UInt32](repeating: 0, count: RingProtocol.Debug.words(records: records))
    }

    /// Checks a work item against the protocol: at most 12 args. (A packed slot that does not
    /// decode is the kernel's to fault, with its own reason, as the protocol says.)
    public static func check(_ item: WorkItem, index: Int) throws(ProtocolError) {
        guard item.args.count <= RingProtocol.argsPerSlot else { throw .tooManyArgs(item: index, count: item.args.count) }
        let resume = RingProtocol.IO.resumeArg
        if item.opcode == Opcode.loadMiss.rawValue, item.args.count > resume, item.args[resume] != 0 {
            throw .reservedArg(item: index, opcode: item.opcode, arg: resume)
        }
    }
}

/// Writes work items into ring slots. The publisher checks everything first and then writes, so an
/// error leaves the ring untouched. Within a slot it writes opcode, tenant, priority and the args
/// (unused args zero) and stores PUBLISHED last, with a releasing store.
public enum RingPublisher {
    /// Publishes `items` into consecutive slots of a host-side ring starting at `slot`.
    public static func publish(_ items: [WorkItem], at slot: Int, into ring: inout [UInt32]) throws(ProtocolError) {
        try ring.withUnsafeMutableBufferPointer { (words: inout UnsafeMutableBufferPointer<UInt32>) throws(ProtocolError) in
            try publish(items, at: slot, into: HostWords(words))
        }
    }

    /// Publishes into ring memory that a running kernel may be reading (a persistently mapped
    /// buffer): fields with relaxed stores, then PUBLISHED with a releasing store.
    public static func publish<Memory: RingMemory & ~Copyable>(_ items: [WorkItem], at slot: Int, into ring: borrowing Memory) throws(ProtocolError) {
        let slots = ring.wordCount / RingProtocol.slotWords
        guard slot >= 0, slot < slots || items.isEmpty else { throw .slotOutOfRange(slot: slot, slots: slots) }
        guard slot + items.count <= slots else { throw .ringFull(items: items.count, slots: slots - slot) }
        for (i, item) in items.enumerated() {
            try RingEncoding.check(item, index: i)
            let s = ring.load((slot + i) * RingProtocol.slotWords + RingProtocol.statusWord)
            guard s == SlotStatus.empty.rawValue || s == SlotStatus.done.rawValue else { throw .slotBusy(slot: slot + i, status: s) }
        }
        for (i, item) in items.enumerated() {
            let base = (slot + i) * RingProtocol.slotWords
            ring.storeRelaxed(item.opcode, at: base + RingProtocol.opcodeWord)
            ring.storeRelaxed(item.tenant, at: base + RingProtocol.tenantWord)
            ring.storeRelaxed(item.priority.rawValue, at: base + RingProtocol.priorityWord)
            for k in 0..<RingProtocol.argsPerSlot {
                ring.storeRelaxed(k < item.args.count ? item.args[k] : 0, at: base + RingProtocol.firstArgWord + k)
            }
            ring.store(SlotStatus.published.rawValue, at: base + RingProtocol.statusWord)
        }
    }
}
