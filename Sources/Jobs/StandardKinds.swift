public import Scheduler

/// The job kinds shipped with schedctl.
public enum StandardKinds {
    /// `noop` and `exec` (the trading kinds join here as they land).
    public static let registry = JobKindRegistry([NoopJob(), ExecJob(), FuturesSessionJob()])

    /// The registry a service runs with: kinds that need the plan's brokers get them.
    public static func registry(plan: Plan, factory: BrokerFactory) -> JobKindRegistry {
        var kinds = registry
        kinds.register(FuturesSessionJob(resources: .live(plan: plan, factory: factory)))
        return kinds
    }
}
