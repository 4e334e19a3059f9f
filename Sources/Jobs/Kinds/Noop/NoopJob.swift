public import Scheduler

/// `type: noop`: records a run and does nothing else (smoke tests, benchmarks).
public struct NoopJob: JobKind {
    public let name = "noop"
    public let options: [OptionSpec] = []

    /// The kind.
    public init() {}

    public func run(_ context: RunContext) async throws -> RunOutcome {
        RunOutcome(summary: "ok")
    }
}

extension NoopJob: TypedJobKind {
    /// `noop` takes no options of its own.
    public struct Options: JobOptions {
        /// Nothing to parse.
        public init(job: JobSpec) {}
    }

    /// The kind's descriptor (one line in ``JobsRegistry/standard``).
    public static let descriptor = JobKindDescriptor { _ in NoopJob() }
}
