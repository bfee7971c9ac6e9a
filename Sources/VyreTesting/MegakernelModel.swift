import VyreIR
public import VyreProtocol

/// Random batches through a megakernel, each compared with ``BatchModel``: the configuration, its
/// CPU model and the comparison (no GPU). VyreConformance adds the runner for a device.
public enum MegakernelConformance {
    /// A megakernel with one custom opcode (`ADD_SUM`: control[arg0] += arg1 + arg2, and a call
    /// counter in the extra buffer `hits`; fault 256 when arg0 is out of range).
    public static func configuration(workgroupSize: UInt32 = 64) -> MegakernelConfiguration {
        let handler = OpcodeHandler(opcode: BatchGenerator.customOpcode, name: "ADD_SUM") {
            Node.if("arg0" < .length("control")) {
                Node.let("previous", .atomic(.add, "control", at: "arg0", "arg1" + "arg2"))
                Node.let("calls", .atomic(.add, "hits", at: 0, 1))
            } else: {
                Node.assign("fault", 256)
            }
        }
        return MegakernelConfiguration(workgroupSize: workgroupSize, opcodes: [handler],
                                       extraBuffers: [BufferDecl("hits", binding: MegakernelBindings.firstExtra, access: .readWrite, type: .u32, count: 4)])
    }

    /// The CPU meaning of ``configuration(workgroupSize:)``.
    public static let model = BatchModel(handlers: [
        BatchGenerator.customOpcode: { control, item, _ in
            let a = item.args + [0, 0, 0]
            guard a[0] < UInt32(control.count) else { return 256 }
            control[Int(a[0])] &+= a[1] &+ a[2]
            return 0
        },
    ])

    /// How a device result differs from the model; nil when it does not.
    public static func difference(_ r: BatchResult, _ m: BatchModel.Outcome) -> String? {
        if r.control != m.control {
            let i = zip(r.control, m.control).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
            return "control[\(i)] is \(i >= 0 ? r.control[i] : 0), the model says \(i >= 0 ? m.control[i] : 0)"
        }
        if r.faults != m.faults { return "faults \(r.faults.prefix(5)) vs model \(m.faults.prefix(5))" }
        if r.pending != m.pending { return "pending \(r.pending.prefix(8)) vs model \(m.pending.prefix(8))" }
        if !r.unexpected.isEmpty { return "slots in unexpected states \(r.unexpected.prefix(4))" }
        if r.debug.lost != m.lostRecords { return "\(r.debug.lost) debug records lost, the model says \(m.lostRecords)" }
        if r.debug.records.count != m.keptRecords { return "\(r.debug.records.count) debug records kept, the model says \(m.keptRecords)" }
        var remaining = m.debugRecords
        for record in r.debug.records {
            guard let at = remaining.firstIndex(of: record) else { return "debug record \(record) was never printed" }
            remaining.remove(at: at)
        }
        if r.completed != m.completed { return "completed \(r.completed) vs model \(m.completed)" }
        for (op, n) in r.completed where op < 32 && r.control[96 + Int(op)] != UInt32(n) {
            return "metric of opcode \(op) is \(r.control[96 + Int(op)]) for \(n) completed ops"
        }
        return nil
    }
}
