public import Scheduler

/// The job kinds shipped with schedctl.
public enum StandardKinds {
    /// `noop` and `exec` (the trading kinds join here as they land).
    public static let registry = JobKindRegistry([NoopJob(), ExecJob()])
}
