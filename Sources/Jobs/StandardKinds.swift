public import Scheduler

/// The job kinds shipped with schedctl.
public enum StandardKinds {
    /// Every kind, for validation (options and checks); ``registry(plan:factory:report:)`` is the
    /// one an engine runs.
    public static let registry = JobKindRegistry([NoopJob(), ExecJob(), TokenRenewalJob(), RebalanceJob(), FuturesSessionJob(), ReportJob()])

    /// The kinds wired to the running plan's brokers, strategies and the vault, for an engine.
    public static func registry(plan: PlanHolder, factory: BrokerFactory, report: ReportEnvironment? = nil) -> JobKindRegistry {
        JobKindRegistry([
            NoopJob(), ExecJob(), TokenRenewalJob(plan: plan, factory: factory),
            RebalanceJob(resources: .standard(plan: plan, factory: factory)),
            FuturesSessionJob(resources: .live(plan: plan, factory: factory)), report.map { ReportJob(environment: $0) } ?? ReportJob(),
        ])
    }
}
