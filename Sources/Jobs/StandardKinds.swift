public import Scheduler

/// The job kinds shipped with schedctl.
public enum StandardKinds {
    /// `noop` and `exec` (the trading kinds join here as they land).
    public static let registry = JobKindRegistry([NoopJob(), ExecJob(), TokenRenewalJob()])

    /// ``registry`` with the kinds that reach brokers bound to `brokers` and `factory`.
    public static func registry(brokers: BrokerDirectory, factory: BrokerFactory) -> JobKindRegistry {
        JobKindRegistry(Array(registry.kinds.values) + [TokenRenewalJob(brokers: brokers, factory: factory)])
    }
}
