public import Scheduler

/// The job kinds shipped with schedctl.
public enum StandardKinds {
    /// `noop`, `exec` and `rebalance` (the trading kinds join here as they land). This registry
    /// describes the kinds for validation; ``registry(rebalance:)`` is the one that runs them.
    public static let registry = JobKindRegistry([NoopJob(), ExecJob(), RebalanceJob()])

    /// The kinds wired to brokers and strategies, for an engine.
    public static func registry(rebalance: RebalanceResources) -> JobKindRegistry {
        JobKindRegistry([NoopJob(), ExecJob(), RebalanceJob(resources: rebalance)])
    }
}
