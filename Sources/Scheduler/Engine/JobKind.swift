public import Logging

/// A kind of job (`noop`, `exec`, later `rebalance`, …): the options it takes in `jobs.yaml` and
/// how one attempt of a run executes. The engine knows kinds only through this protocol.
public protocol JobKind: Sendable {
    /// The `type:` value in `jobs.yaml`.
    var name: String { get }
    /// The kind-specific keys a job of this kind accepts.
    var options: [OptionSpec] { get }
    /// Runs one attempt. Throw to fail it; honour cancellation (timeouts and lost leases cancel).
    func run(_ context: RunContext) async throws -> RunOutcome
    /// A run of this kind was ended without executing here (a takeover found a cancel request,
    /// its job gone, or too many takeovers): stops what its last owner's attempt left running
    /// (named by `run.checkpoint`), so nothing of a cancelled or abandoned run goes on.
    /// `events` writes to the run's log. Nothing by default.
    func stopLeftovers(of run: EndedRun, logger: Logger, events: any RunEventRecording) async
}

extension JobKind {
    /// Nothing outlives an attempt of most kinds.
    public func stopLeftovers(of run: EndedRun, logger: Logger, events: any RunEventRecording) async {}
}

/// What one attempt reports when it succeeds.
public struct RunOutcome: Sendable, Hashable {
    /// A one-line summary for `history` and `show`.
    public var summary: String
    /// Optional detail (e.g. the tail of a command's output).
    public var detail: String?

    /// An outcome.
    public init(summary: String, detail: String? = nil) {
        self.summary = summary
        self.detail = detail
    }
}

/// Everything an attempt may use: its job, its occurrence, a logger and fenced checkpoints.
public struct RunContext: Sendable {
    /// The job's configuration.
    public var job: JobSpec
    /// The run's id in the store.
    public var runID: Int64
    /// The occurrence's nominal instant.
    public var nominal: Instant
    /// 1 for the first attempt.
    public var attempt: Int
    /// The lease generation this attempt holds (a fencing token).
    public var generation: Int64
    /// A logger with `job` and `run` metadata.
    public var logger: Logger
    /// Reads and writes the run's checkpoint under the lease.
    public var checkpoints: any CheckpointAccess
    /// Resolves `secret:NAME` references and redacts resolved values from text.
    public var secrets: any SecretResolving
    /// Appends to the run's event log (`show RUN`), which notifications read as their outbox.
    public var events: any RunEventRecording
    /// A directory beside the database where kinds keep files that must outlive this process
    /// (an `exec` supervisor's result); nil outside an engine.
    public var stateDirectory: String?
    /// Why the engine stopped this attempt (set before its task is cancelled; nil while it is
    /// not stopped). Kinds read it instead of inferring the reason from the clock or the store.
    public var stopReason: @Sendable () -> RunStopReason? = { nil }
    /// Whether the engine stopped this attempt because its lease is (or may be) another
    /// instance's now: work that outlives the attempt (an `exec` supervisor) is then left to the
    /// taker instead of being ended.
    public var stopIsFenced: @Sendable () -> Bool {
        let reason = stopReason
        return { reason()?.fenced == true }
    }
    /// The plan the run started with (one consistent snapshot; a reload publishes a new plan to
    /// the engine's ``PlanSource`` consumers); nil outside an engine.
    public var plan: Plan?

    /// A context.
    public init(
        job: JobSpec, runID: Int64, nominal: Instant, attempt: Int, generation: Int64, logger: Logger, checkpoints: any CheckpointAccess,
        secrets: any SecretResolving = NoSecrets(), events: any RunEventRecording = DiscardedEvents(), stateDirectory: String? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.job = job
        self.runID = runID
        self.nominal = nominal
        self.attempt = attempt
        self.generation = generation
        self.logger = logger
        self.checkpoints = checkpoints
        self.secrets = secrets
        self.events = events
    }

    /// A key unique to this run and `step`, for broker idempotency (at most 22 characters).
    public func idempotencyKey(step: String) -> String {
        var hasher = FNV1a()
        hasher.add("\(job.name)|\(nominal.seconds)|\(step)")
        let key = "sc" + String(runID, radix: 36) + "-" + String(hasher.value, radix: 36)
        return String(key.prefix(22))
    }
}

/// Why the engine stopped an attempt (`RunContext.stopReason`).
public enum RunStopReason: Sendable, Equatable {
    /// The job's `timeout:` passed.
    case timeout
    /// A cancel was requested: `overlap: cancel_previous` (a newer occurrence replaced the run)
    /// or on request. No instance resumes the run.
    case cancelRequested
    /// The service is shutting down (a drain's grace ran out, or it was cancelled): the run is
    /// released, and an instance resumes it from its checkpoint.
    case shutdown
    /// Leased ahead of a free slot, it waited too long and was handed back (nothing executed).
    case handBack
    /// Another instance took the lease over: it resumes the run; write nothing.
    case leaseLost
    /// The lease could not be renewed in time and may be another instance's by now: write nothing.
    case leaseExpired

    /// The lease is (or may be) another instance's: work that outlives the attempt (orders,
    /// an `exec` command) is left to the taker, never undone.
    public var fenced: Bool { self == .leaseLost || self == .leaseExpired }
}

/// Appends events to one run's log (kind such as `rebalance-done`, `risk-limit`, and a message).
public protocol RunEventRecording: Sendable {
    /// Records an event; the message is redacted by the caller.
    func record(_ kind: String, _ message: String) async throws
}

/// Events nobody keeps (contexts built outside an engine).
public struct DiscardedEvents: RunEventRecording {
    /// A sink.
    public init() {}
    public func record(_ kind: String, _ message: String) async throws {}
}

/// Checkpoint storage for one run, fenced by the lease generation.
public protocol CheckpointAccess: Sendable {
    /// The last checkpoint saved for the run, if any.
    func load() async throws -> String?
    /// Saves `value`; fails if a newer lease generation owns the run.
    func save(_ value: String) async throws
}

/// 64-bit FNV-1a, a small stable hash for derived keys (not for security).
struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ text: String) {
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
    }
}

/// The job kinds a build knows, by name.
public struct JobKindRegistry: Sendable {
    /// Kinds by `type:` name.
    public private(set) var kinds: [String: any JobKind] = [:]

    /// A registry of `kinds`.
    public init(_ kinds: [any JobKind]) {
        for kind in kinds { self.kinds[kind.name] = kind }
    }

    /// Adds `kind`, replacing a kind of the same name.
    public mutating func register(_ kind: any JobKind) { kinds[kind.name] = kind }

    /// The kind called `name`.
    public func kind(named name: String) -> (any JobKind)? { kinds[name] }

    /// Each kind's options, for the configuration catalog.
    public var optionSpecs: [String: [OptionSpec]] { kinds.mapValues(\.options) }
}

/// Resolves secret references at run time and keeps resolved values out of recorded text.
public protocol SecretResolving: Sendable {
    /// The value of the secret `name`; the value is registered for redaction.
    func resolve(_ name: String) async throws -> String
    /// `text` with every resolved secret value replaced by `‹redacted›`.
    func redact(_ text: String) -> String
}

/// The resolver used when no vault is configured: every reference fails with the fix.
public struct NoSecrets: SecretResolving {
    /// A resolver with no vault.
    public init() {}

    public func resolve(_ name: String) async throws -> String {
        throw JobFailure("secret '\(name)' cannot be resolved: no vault is open; run 'schedctl secrets set \(name)'", retryable: false)
    }

    public func redact(_ text: String) -> String { text }
}
