public import GRDB

/// The state of a run.
public enum RunState: String, Codable, Sendable, CaseIterable {
    /// Claimed; waiting to start (concurrency cap, buffered overlap, retry backoff, manual).
    case pending
    /// Executing under a lease.
    case running
    /// Finished successfully.
    case succeeded
    /// Finished with an error after its last attempt.
    case failed
    /// Not run, with a reason (misfire, overlap, pause).
    case skipped
    /// Stopped on request (cancel_previous, shutdown of a removed job).
    case cancelled
    /// Given up after its lease expired too many times.
    case abandoned

    /// Whether the run has ended.
    public var isFinal: Bool { self != .pending && self != .running }
}

/// Why a run exists.
public enum RunTrigger: String, Codable, Sendable {
    /// A scheduled occurrence.
    case schedule
    /// `schedctl run`.
    case manual
    /// `schedctl backfill`.
    case backfill
}

/// One row of the `run` table.
public struct RunRecord: Codable, Sendable, Hashable, FetchableRecord {
    public var id: Int64
    public var job: String
    /// Nominal instant, seconds since the epoch.
    public var nominal: Int64
    public var trigger: RunTrigger
    public var state: RunState
    public var attempt: Int
    public var maxAttempts: Int
    public var takeovers: Int
    public var generation: Int64
    public var createdAt: Double
    public var dueAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var cancelRequested: Bool
    public var reason: String?
    public var error: String?
    public var summary: String?
    public var detail: String?

    enum CodingKeys: String, CodingKey {
        case id, job, nominal, trigger, state, attempt, takeovers, generation, reason, error, summary, detail
        case maxAttempts = "max_attempts"
        case createdAt = "created_at"
        case dueAt = "due_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case cancelRequested = "cancel_requested"
    }

    /// The nominal instant.
    public var nominalInstant: Instant { Instant(seconds: nominal) }
}

/// One row of the `run_event` table.
public struct RunEvent: Codable, Sendable, Hashable, FetchableRecord {
    public var id: Int64
    public var runID: Int64
    public var at: Double
    public var kind: String
    public var message: String
    public var instance: String?

    enum CodingKeys: String, CodingKey {
        case id, at, kind, message, instance
        case runID = "run_id"
    }
}

/// One row of the `lease` table.
public struct LeaseRecord: Codable, Sendable, Hashable, FetchableRecord {
    public var runID: Int64
    public var owner: String
    public var generation: Int64
    public var acquiredAt: Double
    public var expiresAt: Double
    /// The owner's lease length in seconds (nil in rows written before it was stored).
    public var duration: Double? = nil
    /// How many times the owner renewed it (every renewal changes the row).
    public var renewals: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case owner, generation, duration, renewals
        case runID = "run_id"
        case acquiredAt = "acquired_at"
        case expiresAt = "expires_at"
    }
}

/// One row of the `instance` table: a live `schedctl serve` process.
public struct InstanceRecord: Codable, Sendable, Hashable, FetchableRecord {
    public var id: String
    public var pid: Int
    public var host: String
    public var startedAt: Double
    public var heartbeatAt: Double
    public var state: String
    public var config: String
    /// The kernel boot the process runs on (nil in rows written before it was recorded).
    public var boot: String? = nil
    /// The PID namespace its pid belongs to (nil in rows written before it was recorded).
    public var pidNamespace: String? = nil
    /// The process's start time in clock ticks since boot (nil in rows written before it was
    /// recorded): with the boot and the namespace, it tells the process apart from a later one
    /// that reused the pid.
    public var pidStart: Int64? = nil

    /// An instance's row.
    public init(
        id: String, pid: Int, host: String, startedAt: Double, heartbeatAt: Double, state: String, config: String, boot: String? = nil,
        pidNamespace: String? = nil, pidStart: Int64? = nil
    ) {
        self.id = id
        self.pid = pid
        self.host = host
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.state = state
        self.config = config
        self.boot = boot
        self.pidNamespace = pidNamespace
        self.pidStart = pidStart
    }

    enum CodingKeys: String, CodingKey {
        case id, pid, host, state, config, boot
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case pidNamespace = "pidns"
        case pidStart = "pid_start"
    }
}

/// One row of the `job_state` table.
public struct JobStateRecord: Codable, Sendable, Hashable, FetchableRecord {
    public var job: String
    public var watermark: Int64?
    public var paused: Bool
    public var pausedAt: Double?
    public var firstSeen: Double

    enum CodingKeys: String, CodingKey {
        case job, watermark, paused
        case pausedAt = "paused_at"
        case firstSeen = "first_seen"
    }
}

/// A run a takeover ended (`cancelled` or `abandoned`) without executing it, as its last owner
/// left it.
public struct EndedRun: Sendable, Hashable {
    /// The run.
    public var runID: Int64
    /// Its job's name.
    public var job: String
    /// The attempt its last owner executed.
    public var attempt: Int
    /// The last owner's lease generation.
    public var generation: Int64
    /// Its last checkpoint (what the last owner's attempt saved), if any.
    public var checkpoint: String?

    /// An ended run.
    public init(runID: Int64, job: String, attempt: Int, generation: Int64, checkpoint: String?) {
        self.runID = runID
        self.job = job
        self.attempt = attempt
        self.generation = generation
        self.checkpoint = checkpoint
    }
}

/// A run this instance holds a lease on and must execute.
public struct LeasedRun: Sendable, Hashable {
    /// The run as it was when leased.
    public var run: RunRecord
    /// The lease generation (fencing token).
    public var generation: Int64
    /// Whether this instance took it over from an expired lease.
    public var takenOver: Bool
}
