public import Scheduler

/// The options of one `type: token-renewal` job, parsed once at load.
public struct TokenRenewalOptions: JobOptions, Hashable {
    /// The broker whose token is kept alive (`broker`).
    public var broker: String
    /// Renew when the token expires within this long (`ahead`).
    public var ahead: Duration

    /// Reads `job`'s options.
    public init(job: JobSpec) throws {
        guard let broker = job.options["broker"]?.stringValue else { throw JobFailure("the job names no broker", retryable: false) }
        self.broker = broker
        ahead = job.options["ahead"]?.durationValue ?? TokenRenewalJob.defaultAhead
    }
}
