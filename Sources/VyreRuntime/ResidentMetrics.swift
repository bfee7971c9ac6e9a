import CoreMetrics
import Metrics
import VyreProtocol

/// The resident kernel's swift-metrics instruments. A library never bootstraps a backend: with
/// none, swift-metrics' no-op one takes each call. Every name starts with `vyre_gl_resident_`
/// (the README lists them), and every instrument carries the dimensions the kernel was given
/// (a `device` dimension, say).
struct ResidentMetrics: Sendable {
    /// Ops published into the ring.
    let submitted: Counter
    /// Ops the kernel ran to DONE, and to FAULT.
    let done: Counter
    let faulted: Counter
    /// Accepted ops that never ran (cancel, a SHUTDOWN op, a tenant disabled at shutdown).
    let notRun: Counter
    /// Slots in flight (published, claimed, or done and not yet retired), after each pass.
    let inFlight: Gauge
    /// One op's round trip: publish to the completion thread seeing it end (single-op tickets).
    let roundTrip: Timer
    /// A batch ticket's round trip: publish to its last op ending.
    let batchRoundTrip: Timer
    /// Dispatches of the resident program (the first and every re-dispatch), and each one's life.
    let dispatches: Counter
    let dispatchDuration: Timer
    /// PRINTF records handed to `debugRecords`, and those the full log lost.
    let debugDelivered: Counter
    let debugLost: Counter
    /// Losses of the kernel by cause, and the rebuilds that followed.
    private let lostReset: Counter
    private let lostStalled: Counter
    private let lostDispatch: Counter
    let recoveries: Counter
    /// Slots of the ring by status word (EMPTY, PUBLISHED, CLAIMED, ...), sampled.
    let occupancy: [Gauge]
    /// Ops the kernel ran, by built-in opcode (from the kernel's own per-opcode counts, sampled
    /// with the occupancy).
    let opcodeOps: [(opcode: UInt32, counter: Counter)]
    /// For the tenants' instruments, which carry the same dimensions and a `tenant` one.
    let factory: any MetricsFactory
    let dimensions: [(String, String)]

    static let prefix = "vyre_gl_resident_"

    init(factory: any MetricsFactory, dimensions: [(String, String)]) {
        func counter(_ name: String, _ extra: [(String, String)] = []) -> Counter {
            Counter(label: Self.prefix + name, dimensions: dimensions + extra, factory: factory)
        }
        func timer(_ name: String) -> Timer { Timer(label: Self.prefix + name, dimensions: dimensions, factory: factory) }
        submitted = counter("ops_submitted_total")
        done = counter("ops_completed_total", [("status", "done")])
        faulted = counter("ops_completed_total", [("status", "fault")])
        notRun = counter("ops_not_run_total")
        inFlight = Gauge(label: Self.prefix + "ring_in_flight", dimensions: dimensions, factory: factory)
        roundTrip = timer("round_trip_seconds")
        batchRoundTrip = timer("batch_round_trip_seconds")
        dispatches = counter("dispatches_total")
        dispatchDuration = timer("dispatch_seconds")
        debugDelivered = counter("debug_records_delivered_total")
        debugLost = counter("debug_records_lost_total")
        lostReset = counter("losses_total", [("cause", "reset")])
        lostStalled = counter("losses_total", [("cause", "stalled")])
        lostDispatch = counter("losses_total", [("cause", "dispatch_failed")])
        recoveries = counter("recoveries_total")
        self.factory = factory
        self.dimensions = dimensions
        opcodeOps = Opcode.allCases.filter { $0.rawValue < RingProtocol.Control.metricSlots }.map {
            ($0.rawValue, counter("opcode_ops_total", [("opcode", $0.name)]))
        }
        occupancy = SlotStatus.allCases.map { Gauge(label: Self.prefix + "ring_slots", dimensions: dimensions + [("status", $0.name)], factory: factory) }
    }

    func lost(_ cause: DeviceLoss.Cause) {
        switch cause {
        case .reset: lostReset.increment()
        case .stalled: lostStalled.increment()
        case .dispatchFailed: lostDispatch.increment()
        }
    }
}
