public import Foundation
public import Prometheus
public import Scheduler
import Synchronization

/// The Prometheus metrics of one `serve` process, in its own registry (never the global one):
/// the engine's counters and histograms arrive through `EngineObserver`; broker requests and
/// alert deliveries through swift-metrics (`metricsFactory`, which `serve` bootstraps); the
/// gauges read the database when scraped (`StatusSource.refreshGauges`).
///
/// Label values are job, broker and notifier names and fixed words: never run ids.
public final class StatusMetrics: EngineObserver {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// Where the engine's liveness facts go (the health checks read them).
    public let liveness: EngineLiveness

    private let lateness: ValueHistogram
    private let takeovers: Prometheus.Counter
    private let up: Prometheus.Gauge

    /// Buckets of `schedctl_fire_lateness_seconds`: 1 ms … 1 min.
    public static let latenessBuckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60]
    /// Buckets of `schedctl_run_duration_seconds`: 10 ms … 1 h.
    public static let durationBuckets: [Double] = [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600]

    /// Metrics in a new registry.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), liveness: EngineLiveness = EngineLiveness()) {
        self.registry = registry
        self.liveness = liveness
        lateness = registry.makeValueHistogram(
            descriptor: Self.name("fire_lateness", "seconds", "How late scheduled runs started after they were due (first attempts, not takeovers)"),
            buckets: Self.latenessBuckets)
        takeovers = registry.makeCounter(descriptor: Self.name("takeovers", "total", "Runs taken over from instances that stopped renewing their leases"))
        up = registry.makeGauge(descriptor: Self.name("up", "", "1 while this schedctl serve process runs"))
        up.set(to: 1)
        for result in ["ok", "failed"] { _ = renewals(result) }
    }

    /// A swift-metrics factory writing into `registry` (for `MetricsSystem.bootstrap` in `serve`,
    /// or `withMetricsFactory` in tests).
    public var metricsFactory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// The exposition text (Prometheus text format 0.0.4).
    public func render() -> [UInt8] {
        flush()
        return registry.emitToBuffer()
    }

    /// `schedctl_NAME_UNIT` with its help text.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "schedctl", metricName: metric, unitName: unit, helpText: help)
    }

    private func renewals(_ result: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: Self.name("lease_renewals", "total", "Lease renewal transactions by result"), labels: [("result", result)])
    }

    private func runs(_ job: String, _ state: String) -> Prometheus.Counter {
        registry.makeCounter(
            descriptor: Self.name("runs", "total", "Run ends recorded by this instance, by job and state"), labels: [("job", job), ("state", state)])
    }

    // MARK: EngineObserver

    // The engine calls these on its own executor: each appends one small event under a short
    // lock and returns. The registry (its label validation, its family dictionaries, which
    // `/metrics` copies when it renders) is touched only by `flush()`, on the scraper's side.

    public func passEnded(at wall: Date) { liveness.passEnded(at: wall) }

    public func drainStarted() { liveness.drainStarted() }

    public func runStarted(job: String, lateness seconds: Double) { record(.lateness(max(0, seconds))) }

    public func attemptEnded(job: String, seconds: Double) { record(.duration(job: job, seconds: max(0, seconds))) }

    public func runRecorded(job: String, state: RunState) {
        // A failed attempt that will be retried leaves the run pending: counted as `retry`.
        record(.runs(job: job, state: state == .pending ? "retry" : state.rawValue, count: 1))
    }

    public func runsSkipped(job: String, count: Int) { record(.runs(job: job, state: RunState.skipped.rawValue, count: Int64(count))) }

    public func leasesRenewed(succeeded: Bool, at wall: Date) {
        record(.renewal(ok: succeeded))
        liveness.renewed(succeeded: succeeded, at: wall)
    }

    public func tookOver(count: Int) { record(.takeovers(Int64(count))) }

    // MARK: Events not yet in the registry

    enum Event {
        case lateness(Double)
        case duration(job: String, seconds: Double)
        case runs(job: String, state: String, count: Int64)
        case renewal(ok: Bool)
        case takeovers(Int64)
    }

    /// Events recorded since the last `flush()`; beyond `pendingLimit` the recorder flushes
    /// them itself (only when nothing scrapes or flushes for a long time).
    private let pending = Mutex<[Event]>([])
    private let flushing = Mutex<Void>(())
    static let pendingLimit = 50_000

    private func record(_ event: Event) {
        let count = pending.withLock { events in
            events.append(event)
            return events.count
        }
        if count >= Self.pendingLimit { flush() }
    }

    /// Moves the recorded events into the registry (before rendering, and periodically).
    public func flush() {
        flushing.withLock { _ in
            let events = pending.withLock { events in
                defer { events.removeAll(keepingCapacity: true) }
                return events
            }
            guard !events.isEmpty else { return }
            var counters: [String: Prometheus.Counter] = [:]
            var histograms: [String: ValueHistogram] = [:]
            for event in events {
                switch event {
                case .lateness(let seconds): lateness.record(seconds)
                case .duration(let job, let seconds):
                    if histograms[job] == nil {
                        histograms[job] = registry.makeValueHistogram(
                            descriptor: Self.name("run_duration", "seconds", "How long attempts ran, by job"), labels: [("job", job)],
                            buckets: Self.durationBuckets)
                    }
                    histograms[job]!.record(seconds)
                case .runs(let job, let state, let count):
                    let key = job + "\u{0}" + state
                    if counters[key] == nil { counters[key] = runs(job, state) }
                    counters[key]!.increment(by: count)
                case .renewal(let ok): renewals(ok ? "ok" : "failed").increment()
                case .takeovers(let count): takeovers.increment(by: count)
                }
            }
        }
    }

    // MARK: Gauges set when scraped

    /// Sets `schedctl_jobs{state}`.
    public func setJobs(active: Int, paused: Int) {
        for (state, count) in [("active", active), ("paused", paused)] {
            registry.makeGauge(descriptor: Self.name("jobs", "", "Configured jobs by state"), labels: [("state", state)]).set(to: Double(count))
        }
    }

    /// Sets `schedctl_token_expiry_timestamp_seconds{broker}` (brokers with no stored token are left out).
    public func setTokenExpiry(broker: String, at expiry: Date) {
        registry.makeGauge(
            descriptor: Self.name("token_expiry_timestamp", "seconds", "When each broker's stored access token expires (Unix time)"),
            labels: [("broker", broker)]
        ).set(to: expiry.timeIntervalSince1970)
    }

    /// Sets `schedctl_session_pnl_dollars{job,kind}` (kind `realized` or `open`).
    public func setSessionPnL(job: String, kind: String, dollars: Double) {
        registry.makeGauge(
            descriptor: Self.name("session_pnl", "dollars", "Each futures session's latest P&L in dollars"), labels: [("job", job), ("kind", kind)]
        ).set(to: dollars)
    }
}

/// What the health checks need to know about the engine: when its loop last completed a pass,
/// how lease renewals went, and whether it drains. Written by `StatusMetrics`, read by `Health`.
public final class EngineLiveness: Sendable {
    /// A snapshot of the facts.
    public struct Facts: Sendable, Hashable {
        /// When the main loop last completed a pass (nil: not yet).
        public var lastPass: Date?
        /// When a lease renewal last succeeded and last failed.
        public var lastRenewal: Date?
        public var lastRenewalFailure: Date?
        /// Whether the engine stopped claiming (graceful shutdown).
        public var draining = false
        /// Nothing seen yet.
        public init() {}
    }

    private let state = Mutex(Facts())

    /// Nothing known yet.
    public init() {}

    /// The facts now.
    public var facts: Facts { state.withLock { $0 } }

    func passEnded(at wall: Date) { state.withLock { $0.lastPass = wall } }

    func drainStarted() { state.withLock { $0.draining = true } }

    func renewed(succeeded: Bool, at wall: Date) {
        state.withLock {
            if succeeded { $0.lastRenewal = wall } else { $0.lastRenewalFailure = wall }
        }
    }
}
