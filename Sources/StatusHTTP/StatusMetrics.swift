public import CoreMetrics
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
    private let takeovers: Counter
    private let up: Gauge

    /// Buckets of `schedctl_fire_lateness_seconds`: 1 ms … 1 min.
    public static let latenessBuckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60]
    /// Buckets of `schedctl_run_duration_seconds`: 10 ms … 1 h.
    public static let durationBuckets: [Double] = [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600]

    /// Metrics in a new registry.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), liveness: EngineLiveness = EngineLiveness()) {
        self.registry = registry
        self.liveness = liveness
        lateness = registry.makeValueHistogram(
            name: "schedctl_fire_lateness_seconds", buckets: Self.latenessBuckets,
            help: "How late scheduled runs started after they were due (first attempts, not takeovers)")
        takeovers = registry.makeCounter(name: "schedctl_takeovers_total", help: "Runs taken over from instances that stopped renewing their leases")
        up = registry.makeGauge(name: "schedctl_up", help: "1 while this schedctl serve process runs")
        up.set(1)
        for result in ["ok", "failed"] { _ = renewals(result) }
    }

    /// A swift-metrics factory writing into `registry` (for `MetricsSystem.bootstrap` in `serve`,
    /// or `withMetricsFactory` in tests).
    public var metricsFactory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// The exposition text (Prometheus text format 0.0.4).
    public func render() -> [UInt8] { registry.emitToBuffer() }

    private func renewals(_ result: String) -> Counter {
        registry.makeCounter(name: "schedctl_lease_renewals_total", labels: [("result", result)], help: "Lease renewal transactions by result")
    }

    private func runs(_ job: String, _ state: String) -> Counter {
        registry.makeCounter(name: "schedctl_runs_total", labels: [("job", job), ("state", state)], help: "Run ends recorded by this instance, by job and state")
    }

    // MARK: EngineObserver

    public func passEnded(at wall: Date) { liveness.passEnded(at: wall) }

    public func drainStarted() { liveness.drainStarted() }

    public func runStarted(job: String, lateness seconds: Double) { lateness.record(max(0, seconds)) }

    public func attemptEnded(job: String, seconds: Double) {
        registry.makeValueHistogram(
            name: "schedctl_run_duration_seconds", labels: [("job", job)], buckets: Self.durationBuckets, help: "How long attempts ran, by job"
        ).record(max(0, seconds))
    }

    public func runRecorded(job: String, state: RunState) {
        // A failed attempt that will be retried leaves the run pending: counted as `retry`.
        runs(job, state == .pending ? "retry" : state.rawValue).increment()
    }

    public func runsSkipped(job: String, count: Int) { runs(job, RunState.skipped.rawValue).increment(by: Int64(count)) }

    public func leasesRenewed(succeeded: Bool, at wall: Date) {
        renewals(succeeded ? "ok" : "failed").increment()
        liveness.renewed(succeeded: succeeded, at: wall)
    }

    public func tookOver(count: Int) { takeovers.increment(by: Int64(count)) }

    // MARK: Gauges set when scraped

    /// Sets `schedctl_jobs{state}`.
    public func setJobs(active: Int, paused: Int) {
        for (state, count) in [("active", active), ("paused", paused)] {
            registry.makeGauge(name: "schedctl_jobs", labels: [("state", state)], help: "Configured jobs by state").set(Double(count))
        }
    }

    /// Sets `schedctl_token_expiry_timestamp_seconds{broker}` (brokers with no stored token are left out).
    public func setTokenExpiry(broker: String, at expiry: Date) {
        registry.makeGauge(
            name: "schedctl_token_expiry_timestamp_seconds", labels: [("broker", broker)], help: "When each broker's stored access token expires (Unix time)"
        ).set(expiry.timeIntervalSince1970)
    }

    /// Sets `schedctl_session_pnl_dollars{job,kind}` (kind `realized` or `open`).
    public func setSessionPnL(job: String, kind: String, dollars: Double) {
        registry.makeGauge(
            name: "schedctl_session_pnl_dollars", labels: [("job", job), ("kind", kind)], help: "Each futures session's latest P&L in dollars"
        ).set(dollars)
    }
}

/// The names swift-metrics users in other modules report under (so they stay in one place).
public enum MetricNames {
    /// `schedctl_broker_requests_total{broker,status}` (Brokers' HTTP transport).
    public static let brokerRequests = "schedctl_broker_requests_total"
    /// `schedctl_alerts_total{notifier,result}` (the alert dispatcher).
    public static let alerts = "schedctl_alerts_total"
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
