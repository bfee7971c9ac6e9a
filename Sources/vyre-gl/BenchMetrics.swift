import CoreMetrics
import Synchronization

/// A swift-metrics backend for `bench persistent --metrics on`: what a production backend pays per
/// call, in process and without an exporter. Counters and gauges are one atomic each; a timer
/// records into Prometheus-style buckets (one atomic add for the bucket, one for the sum, one for
/// the count), as swift-prometheus's histograms do under their lock.
final class BenchMetrics: MetricsFactory {
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { BenchCounter() }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { BenchGauge() }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { BenchTimer() }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

private final class BenchCounter: CounterHandler {
    let value = Atomic<Int64>(0)
    func increment(by amount: Int64) { value.add(amount, ordering: .relaxed) }
    func reset() { value.store(0, ordering: .relaxed) }
}

private final class BenchGauge: RecorderHandler {
    let bits = Atomic<UInt64>(0)
    func record(_ value: Int64) { bits.store(UInt64(bitPattern: value), ordering: .relaxed) }
    func record(_ value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }
}

// The buckets are atomics behind a pointer allocated once: every access is atomic.
private final class BenchTimer: TimerHandler, @unchecked Sendable {
    /// Upper bounds in nanoseconds: 1 us to about 17 s, doubling.
    static let bounds: [Int64] = (0..<25).map { 1000 << $0 }
    let buckets: UnsafeMutablePointer<Atomic<Int64>>
    let sum = Atomic<Int64>(0)
    let count = Atomic<Int64>(0)

    init() {
        buckets = .allocate(capacity: Self.bounds.count + 1)
        for i in 0...Self.bounds.count { (buckets + i).initialize(to: Atomic(0)) }
    }

    deinit { buckets.deallocate() }

    func recordNanoseconds(_ duration: Int64) {
        var i = 0
        while i < Self.bounds.count, duration > Self.bounds[i] { i += 1 }
        buckets[i].add(1, ordering: .relaxed)
        sum.add(duration, ordering: .relaxed)
        count.add(1, ordering: .relaxed)
    }
}
