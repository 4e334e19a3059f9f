public import Scheduler

/// The job kinds shipped with schedctl.
public enum StandardKinds {
    /// `noop`, `exec` and `report` (the trading kinds join here as they land).
    public static let registry = JobKindRegistry([NoopJob(), ExecJob(), ReportJob()])

    /// `registry` with report jobs wired to `report` (the database, brokers and notifiers).
    public static func registry(report: ReportEnvironment) -> JobKindRegistry {
        JobKindRegistry(registry.kinds.values.filter { $0.name != "report" } + [ReportJob(environment: report)])
    }
}
