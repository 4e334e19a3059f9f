public import Jobs
public import Scheduler

/// The `--json` shape of a run in `history` and `show` (and `/api/runs`).
public struct RunJSON: Encodable, Sendable {
    public var id: Int64
    public var job: String
    public var nominal: String
    public var trigger: String
    public var state: String
    public var attempt: Int
    public var maxAttempts: Int
    public var started: String?
    public var finished: String?
    public var reason: String?
    public var error: String?
    public var summary: String?

    /// The JSON of `run`.
    public init(_ run: RunRecord) {
        id = run.id
        job = run.job
        nominal = run.nominalInstant.iso8601
        trigger = run.trigger.rawValue
        state = run.state.rawValue
        attempt = run.attempt
        maxAttempts = run.maxAttempts
        started = run.startedAt.map(Timestamps.iso)
        finished = run.finishedAt.map(Timestamps.iso)
        reason = run.reason
        error = run.error
        summary = run.summary
    }

    enum CodingKeys: String, CodingKey {
        case id, job, nominal, trigger, state, attempt, started, finished, reason, error, summary
        case maxAttempts = "max_attempts"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(job, forKey: .job)
        try c.encode(nominal, forKey: .nominal)
        try c.encode(trigger, forKey: .trigger)
        try c.encode(state, forKey: .state)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(started, forKey: .started)
        try c.encode(finished, forKey: .finished)
        try c.encode(reason, forKey: .reason)
        try c.encode(error, forKey: .error)
        try c.encode(summary, forKey: .summary)
    }
}

/// The `show --json` (and `/api/runs/ID`) shape of one run.
public struct ShowJSON: Encodable, Sendable {
    /// One event of the run's log.
    public struct EventJSON: Encodable, Sendable {
        public var at: String
        public var kind: String
        public var message: String
        public var instance: String?
    }

    /// The run's lease, while one is held.
    public struct LeaseJSON: Encodable, Sendable {
        public var owner: String
        public var generation: Int64
        public var expires: String
    }

    public var run: RunJSON
    public var detail: String?
    public var events: [EventJSON]
    public var lease: LeaseJSON?
    public var checkpoint: String?
    /// A rebalance run's summary (see docs/rebalancing.md).
    public var rebalance: RebalanceSummary?

    /// The JSON of `found` (from `Store.run(id:)`); a rebalance job's detail is decoded as its summary.
    public init(_ found: (run: RunRecord, events: [RunEvent], lease: LeaseRecord?, checkpoint: String?), plan: Plan) {
        let summary = plan.job(named: found.run.job)?.typedOptions is RebalanceOptions ? found.run.detail.flatMap(RebalanceSummary.decode) : nil
        events = found.events.map { EventJSON(at: Timestamps.iso($0.at), kind: $0.kind, message: $0.message, instance: $0.instance) }
        lease = found.lease.map { LeaseJSON(owner: $0.owner, generation: $0.generation, expires: Timestamps.iso($0.expiresAt)) }
        rebalance = summary
        run = RunJSON(found.run)
        detail = summary == nil ? found.run.detail : nil
        checkpoint = summary == nil ? found.checkpoint : nil
    }
}
