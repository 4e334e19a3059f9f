public import Scheduler

/// The job kinds shipped with schedctl (``JobsRegistry/standard``'s kinds).
public enum StandardKinds {
    /// Every kind, unbound: for validation (options and checks) and kinds that need nothing bound.
    public static let registry = JobsRegistry.standard.jobKinds()

    /// The kinds wired to the running plan's brokers, strategies and the vault, for an engine.
    public static func registry(plan: PlanHolder, factory: BrokerFactory, report: ReportEnvironment? = nil) -> JobKindRegistry {
        JobsRegistry.standard.jobKinds(KindEnvironment(plan: plan, factory: factory, report: report))
    }
}
