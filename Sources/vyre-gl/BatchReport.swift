import Foundation
import VyreProtocol
import VyreRuntime

/// The printed outcome of a batch.
struct BatchReport {
    var plan: BatchPlan
    var result: BatchResult
    /// The device's renderer string.
    var renderer: String
    /// The megakernel's compile time (the one-pass or the resident one).
    var compileTime: Duration
    /// Each device's share, when the batch was split across several (`--devices`).
    var devices: [DeviceShare]? = nil

    /// Every non-zero word from the observables up, every word the batch set or that changed.
    var controlWords: [Int: UInt32] {
        let (batch, initial) = (plan.batch, plan.control)
        var out: [Int: UInt32] = [:]
        for (i, v) in result.control.enumerated() {
            let changed = i < initial.count && initial[i] != v
            if (i >= RingProtocol.Control.observableBase && v != 0) || changed || batch.control[i] != nil { out[i] = v }
        }
        return out
    }

    /// Completed ops for every opcode in the batch (zero included), by name or number.
    var metrics: [(String, Int)] {
        var seen: [UInt32] = []
        for item in plan.batch.items {
            if !seen.contains(item.opcode) { seen.append(item.opcode) }
            for inner in PackedSlot.innerOpcodes(of: item) where !seen.contains(inner) { seen.append(inner) }
        }
        return seen.map { (Opcode.name(of: $0), result.completed[$0] ?? 0) }
    }

    var json: JSONValue {
        guard case .object(var fields) = single else { return single }
        if let devices {
            fields["devices"] = .array(devices.map { d in
                .object(["renderer": .string(d.renderer), "ops": .integer(Int64(d.items)), "pieces": .integer(Int64(d.pieces)),
                         "lost": d.lost.map(JSONValue.string) ?? .null])
            })
        }
        return .object(fields)
    }

    private var single: JSONValue {
        func us(_ d: Duration) -> JSONValue { .number((d.ms * 1000).rounded() / 1) }
        return .object([
            "device": .string(renderer),
            "ops": .integer(Int64(result.itemCount)),
            "slots": .integer(Int64(result.slots)),
            "phases": .integer(Int64(result.phases)),
            "done": .unsigned(UInt64(result.doneCount)),
            "epoch": .unsigned(UInt64(result.epoch)),
            "shutdown": .integer(result.shutdown ? 1 : 0),
            "faults": .object(["count": .integer(Int64(result.faults.count)),
                               "slots": .array(result.faults.map { .object(["slot": .integer(Int64($0.slot)), "reason": .string($0.reasonText), "code": .unsigned(UInt64($0.reason))]) })]),
            "pending": .object(["count": .integer(Int64(result.pending.count)), "slots": .array(result.pending.map { .integer(Int64($0)) })]),
            "control": .object(Dictionary(uniqueKeysWithValues: controlWords.map { ("\($0.key)", .unsigned(UInt64($0.value))) })),
            "metrics": .object(Dictionary(uniqueKeysWithValues: metrics.map { ($0.0, .integer(Int64($0.1))) })),
            "debug": .array(result.debug.records.map { .object(["fmt": .unsigned(UInt64($0.format)), "args": .array([.unsigned(UInt64($0.arg0)), .unsigned(UInt64($0.arg1))]), "slot": .integer(Int64($0.slot))]) }),
            "debugLost": .integer(Int64(result.debug.lost)),
            "buffers": .object(result.buffers.mapValues { .array($0.map { .unsigned(UInt64($0)) }) }),
            "timing": .object(["total": us(result.timing.total), "encode": us(result.timing.encode), "gpu": us(result.timing.gpu),
                               "decode": us(result.timing.decode), "megakernelCompile": us(compileTime)]),
        ])
    }

    func printText(source: String) throws {
        let r = result
        try Output.line("\(source) on \(renderer): \(r.itemCount) ops in \(r.slots) slots, \(r.phases) phase\(r.phases == 1 ? "" : "s")")
        try Output.line("  done \(r.doneCount), faults \(r.faults.count), pending \(r.pending.count), epoch \(r.epoch), shutdown \(r.shutdown ? "yes" : "no")")
        for f in r.faults.prefix(20) { try Output.line("  FAULT slot \(f.slot): \(f.reasonText)") }
        if r.faults.count > 20 { try Output.line("  ... \(r.faults.count - 20) more faults") }
        if !r.pending.isEmpty { try Output.line("  pending slots: \(r.pending.prefix(32).map(String.init).joined(separator: " "))\(r.pending.count > 32 ? " ..." : "")") }
        let words = controlWords.sorted { $0.key < $1.key }
        try Output.line("  control: \(words.prefix(48).map { "[\($0.key)]=\($0.value)" }.joined(separator: " "))\(words.count > 48 ? " ..." : "")")
        try Output.line("  completed: \(metrics.map { "\($0.0) \($0.1)" }.joined(separator: ", "))")
        for d in r.debug.records.prefix(16) { try Output.line("  debug: fmt \(d.format) (\(d.arg0), \(d.arg1)) from slot \(d.slot)") }
        if r.debug.lost > 0 { try Output.line("  debug: \(r.debug.lost) records lost (log full)") }
        for (name, words) in r.buffers.sorted(by: { $0.key < $1.key }) { try Output.line("  \(name): \(words.prefix(32).map(String.init).joined(separator: " "))\(words.count > 32 ? " ..." : "")") }
        for (k, d) in (devices ?? []).enumerated() {
            try Output.line("  device \(k) (\(d.renderer)): \(d.items) ops in \(d.pieces) piece\(d.pieces == 1 ? "" : "s")\(d.lost.map { "; lost: \($0)" } ?? "")")
        }
        if let devices {
            // Split across devices, encode, GPU and decode overlap: only the whole is measured.
            try Output.line(String(format: "  time: %.1f us on %d devices, split and merged; megakernel compile %.1f ms (the slowest device)",
                                   r.timing.total.ms * 1000, devices.count, compileTime.ms))
        } else {
            try Output.line(String(format: "  time: %.1f us (encode %.1f, gpu %.1f, decode %.1f); megakernel compile %.1f ms",
                                   r.timing.total.ms * 1000, r.timing.encode.ms * 1000, r.timing.gpu.ms * 1000, r.timing.decode.ms * 1000, compileTime.ms))
        }
    }
}
