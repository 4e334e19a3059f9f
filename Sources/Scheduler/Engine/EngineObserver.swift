public import Foundation

/// What the engine reports as it works, for metrics and health checks. Every method has a
/// no-op default; calls are made on the engine's actor and must return at once (record and go).
public protocol EngineObserver: Sendable {
    /// A pass of the main loop ended at `wall` (it ticks at least every `maxSleep`).
    func passEnded(at wall: Date)
    /// Graceful shutdown began: the engine stops claiming and drains.
    func drainStarted()
    /// A scheduled run's first attempt started `lateness` seconds after it was due.
    func runStarted(job: String, lateness: Double)
    /// An attempt of `job` ran for `seconds` (however it ended).
    func attemptEnded(job: String, seconds: Double)
    /// The end of a run of `job` was recorded as `state` (`pending` when it waits for a retry).
    func runRecorded(job: String, state: RunState)
    /// Occurrences of `job` were recorded as skipped (misfire, overlap, pause).
    func runsSkipped(job: String, count: Int)
    /// A lease renewal transaction succeeded or failed at `wall`.
    func leasesRenewed(succeeded: Bool, at wall: Date)
    /// Runs whose owner stopped renewing their leases were taken over here.
    func tookOver(count: Int)
}

extension EngineObserver {
    public func passEnded(at wall: Date) {}
    public func drainStarted() {}
    public func runStarted(job: String, lateness: Double) {}
    public func attemptEnded(job: String, seconds: Double) {}
    public func runRecorded(job: String, state: RunState) {}
    public func runsSkipped(job: String, count: Int) {}
    public func leasesRenewed(succeeded: Bool, at wall: Date) {}
    public func tookOver(count: Int) {}
}

/// Observes nothing (the default).
public struct NoEngineObserver: EngineObserver {
    /// An observer that ignores everything.
    public init() {}
}
