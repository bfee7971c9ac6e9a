import Foundation
import Hummingbird
import Metrics
import Synchronization
import VyreIR
import VyreProtocol
import VyreRuntime

/// `POST /run`: a batch in `vyre-gl run`'s JSON form, run on the shared resident kernel.
///
/// The kernel's ring, control words and tenant table belong to the server, so a batch's `slots`,
/// `controlWords`, `tenants` and `debugRecords` are ignored, and a batch that sets `control` words
/// or `buffers` is refused (400). The ops run phase by phase, as `run --resident` runs them: each
/// phase (cut at BATCH_FENCE ops) is published once the one before has completed.
enum BatchEndpoint {
    /// The answer, with `run --json`'s keys where they apply.
    struct BatchResponse: Encodable {
        struct Fault: Encodable {
            var op: Int
            var reason: UInt32
            var reasonText: String
        }
        struct NotRun: Encodable {
            var op: Int
            var error: String
        }
        var ops: Int
        var phases: Int
        var done: Int
        var faults: [Fault]
        var pending: [NotRun]
        /// Observable words the ops wrote, by op index, then by observable index.
        var observed: [String: [String: UInt32]]
        /// EPOCH of the shared kernel once the batch ended.
        var epoch: UInt32
        var seconds: Double
    }

    /// Batches being run now (`vyre_gl_server_batches_in_flight`).
    static let inFlight = Atomic<Int>(0)
    static let inFlightGauge = Gauge(label: "vyre_gl_server_batches_in_flight")

    static func run(_ body: [UInt8], on kernel: ResidentMegakernel) async -> Response {
        inFlightGauge.record(inFlight.add(1, ordering: .relaxed).newValue)
        defer { inFlightGauge.record(inFlight.subtract(1, ordering: .relaxed).newValue) }
        let batch: Batch
        do { batch = try Batch(json: body) } catch {
            return problem(.badRequest, error.diagnostics)
        }
        guard batch.control.isEmpty, batch.buffers.isEmpty else {
            return problem(.badRequest, [Diagnostic("the batch sets control words or buffers, but the server's kernel is shared by every request",
                                                    fix: "leave out \"control\" and \"buffers\"; write words with STORE_U32 ops instead")])
        }
        let started = ContinuousClock.now
        var results: [Result<Completion, ResidentError>] = []
        results.reserveCapacity(batch.items.count)
        for phase in batch.phases {
            results += await publish(batch.items[phase], on: kernel)
        }
        var response = BatchResponse(ops: batch.items.count, phases: batch.phases.count, done: 0, faults: [], pending: [], observed: [:],
                                     epoch: kernel.controlWord(RingProtocol.Control.epoch), seconds: (ContinuousClock.now - started) / .seconds(1))
        for (i, result) in results.enumerated() {
            switch result {
            case .success(let c) where c.status == .done:
                response.done += 1
                if !c.observed.isEmpty { response.observed["\(i)"] = Dictionary(uniqueKeysWithValues: c.observed.map { ("\($0.key)", $0.value) }) }
            case .success(let c):
                let reason = c.faultReason ?? 0
                response.faults.append(BatchResponse.Fault(op: i, reason: reason, reasonText: FaultReason.describe(reason)))
            case .failure(let e):
                response.pending.append(BatchResponse.NotRun(op: i, error: e.diagnostics.map { "\($0.problem). Fix: \($0.fix)." }.joined(separator: " ")))
            }
        }
        return json(.ok, response)
    }

    /// Publishes `items` (waiting for room as it frees) and returns every op's result; ops the
    /// kernel refused (a shutdown, a bad op) fail with why.
    static func publish(_ items: ArraySlice<WorkItem>, on kernel: ResidentMegakernel) async -> [Result<Completion, ResidentError>] {
        var results: [Result<Completion, ResidentError>] = []
        var rest = items
        while !rest.isEmpty {
            let (ticket, stoppedBy) = kernel.trySubmitBatch(rest)
            // Waiting for these frees their slots: a full ring then has room for the rest.
            results += await ticket.results()
            rest = rest.dropFirst(ticket.count)
            guard let stoppedBy else { continue }
            switch stoppedBy {
            case .ringFull:
                // Room frees as the ops of other requests end.
                if ticket.count == 0 { try? await Task.sleep(for: .microseconds(200)) }
            case .recovering: try? await Task.sleep(for: .milliseconds(10))
            default:
                results += rest.map { _ in .failure(stoppedBy) }
                rest = []
            }
        }
        return results
    }

    static func problem(_ status: HTTPResponse.Status, _ diagnostics: [Diagnostic]) -> Response {
        struct Problem: Encodable { var errors: [String] }
        return json(status, Problem(errors: diagnostics.map { "\($0.path.map { "\($0): " } ?? "")\($0.problem). Fix: \($0.fix)." }))
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
