/// A validated, immutable configuration: what `schedctl serve` runs and `validate` checks.
public struct Plan: Sendable {
    /// The configuration file it came from.
    public var source: String
    /// The default time zone of wall-clock schedules.
    public var timezone: ZoneRules
    /// The SQLite database path (relative paths are relative to the configuration file).
    public var database: String
    /// Where the vault key comes from.
    public var secrets: SecretsSettings
    /// Brokers by name.
    public var brokers: [String: ComponentSpec]
    /// Strategy sources by name.
    public var strategies: [String: ComponentSpec]
    /// Notifiers by name.
    public var notifiers: [String: ComponentSpec]
    /// Exchange calendars with the file's overrides applied.
    public var calendars: [Market: any TradingCalendar]
    /// Service settings.
    public var service: ServiceSettings
    /// The jobs in file order.
    public var jobs: [JobSpec]
    /// The alert rule of jobs without their own `notify:` (top-level `notify:`).
    public var notify: NotifyRule?

    /// A plan (normally made by `ConfigLoader`).
    public init(
        source: String, timezone: ZoneRules, database: String, secrets: SecretsSettings, brokers: [String: ComponentSpec],
        strategies: [String: ComponentSpec], notifiers: [String: ComponentSpec], calendars: [Market: any TradingCalendar],
        service: ServiceSettings, jobs: [JobSpec], notify: NotifyRule? = nil
    ) {
        self.source = source
        self.timezone = timezone
        self.database = database
        self.secrets = secrets
        self.brokers = brokers
        self.strategies = strategies
        self.notifiers = notifiers
        self.calendars = calendars
        self.service = service
        self.jobs = jobs
        self.notify = notify
    }

    /// The job named `name`.
    public func job(named name: String) -> JobSpec? { jobs.first { $0.name == name } }

    /// The alert rule of job `name`: its own `notify:`, else the file's default.
    public func notifyRule(job name: String) -> NotifyRule? { job(named: name)?.notify ?? notify }

    /// Every `secret:NAME` the plan refers to, with the key path that refers to it.
    public var secretReferences: [(name: String, path: String)] {
        var found: [(String, String)] = []
        func walk(_ value: ConfigValue, _ path: String) {
            switch value {
            case .secret(let name): found.append((name, path))
            case .list(let items): for (i, item) in items.enumerated() { walk(item, "\(path)[\(i)]") }
            case .map(let entries): for (key, item) in entries.sorted(by: { $0.key < $1.key }) { walk(item, "\(path).\(key)") }
            default: break
            }
        }
        for (section, components) in [("brokers", brokers), ("strategies", strategies), ("notifiers", notifiers)] {
            for (name, spec) in components.sorted(by: { $0.key < $1.key }) { walk(.map(spec.options), "\(section).\(name)") }
        }
        for job in jobs { walk(.map(job.options), "jobs.\(job.name)") }
        if let token = service.http?.token { found.append((token, "service.http.token")) }
        return found
    }
}

/// Where the vault's SSH key is.
public struct SecretsSettings: Hashable, Sendable {
    /// The key file named in `jobs.yaml`, if any.
    public var sshKey: String?
    /// Settings.
    public init(sshKey: String? = nil) { self.sshKey = sshKey }
}

/// The two settings the vault needs: where the database is and where the SSH key is.
public struct StorageSettings: Hashable, Sendable {
    /// The SQLite database path (absolute, or `:memory:`).
    public var database: String
    /// Where the vault key comes from.
    public var secrets: SecretsSettings
    /// Settings.
    public init(database: String, secrets: SecretsSettings) {
        self.database = database
        self.secrets = secrets
    }
}

/// A broker, strategy or notifier defined in `jobs.yaml`.
public struct ComponentSpec: Hashable, Sendable {
    /// Its name in the file.
    public var name: String
    /// Its type (`paper`, `tradestation`, …).
    public var type: String
    /// Validated options, secrets unresolved.
    public var options: [String: ConfigValue]
    /// A component.
    public init(name: String, type: String, options: [String: ConfigValue]) {
        self.name = name
        self.type = type
        self.options = options
    }
}

/// How the service itself runs.
public struct ServiceSettings: Hashable, Sendable {
    /// How many runs may execute at once across all jobs.
    public var maxConcurrentRuns: Int = 8
    /// How long a lease lasts without renewal.
    public var leaseDuration: Duration = .seconds(30)
    /// How long shutdown waits for running jobs before cancelling them.
    public var shutdownGrace: Duration = .seconds(30)
    /// How hard each commit is pushed to the disk (`service.durability`).
    public var durability: Durability = .full
    /// `logfmt` or `json`.
    public var logFormat: String = "logfmt"
    /// `trace` … `critical`.
    public var logLevel: String = "info"
    /// How long finished runs are kept (`service.retention`); nil keeps them forever.
    public var retention: RetentionPolicy?
    /// The status endpoint (`service.http`); nil when `http: off`.
    public var http: HTTPSettings? = HTTPSettings()
    /// Defaults.
    public init() {}
}

/// `service.http: { listen: 127.0.0.1:8377, token: secret:NAME }`: where `serve` answers
/// `/healthz`, `/readyz`, `/metrics`, the status page and `/api`. A listen address that is not
/// loopback needs a token (sent as `Authorization: Bearer`).
public struct HTTPSettings: Hashable, Sendable {
    /// The address to bind (`127.0.0.1`, `::1`, `0.0.0.0`, …).
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one (logged at start).
    public var port: Int = 8377
    /// The vault secret holding the bearer token, if any.
    public var token: String?
    /// Defaults: `127.0.0.1:8377`, no token.
    public init(host: String = "127.0.0.1", port: Int = 8377, token: String? = nil) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// `host:port` as written in `jobs.yaml` (IPv6 hosts in brackets).
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether `host` only accepts connections from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Splits `host:port` (`[::1]:8377` for IPv6), or nil when it is not one.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !portText.isEmpty, portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65_535).contains(port) else {
            return nil
        }
        let allowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":") }
        return allowed ? (String(host), port) : nil
    }
}

/// `service.retention: { runs: 90d, failed: 365d }`: finished runs older than this (by their end)
/// are deleted with their events and checkpoints, in small batches in the background.
public struct RetentionPolicy: Hashable, Sendable {
    /// How long succeeded, skipped and cancelled runs are kept.
    public var runs: Duration
    /// How long failed and abandoned runs are kept (defaults to `runs`).
    public var failed: Duration

    /// A policy.
    public init(runs: Duration, failed: Duration? = nil) {
        self.runs = runs
        self.failed = failed ?? runs
    }
}

/// One configured job.
public struct JobSpec: Sendable {
    /// Unique name.
    public var name: String
    /// The job kind (`noop`, `exec`, …).
    public var kind: String
    /// When it fires.
    public var schedule: Schedule
    /// What happens to occurrences that could not start on time.
    public var misfire: MisfirePolicy
    /// What happens when an occurrence is due while the previous run still runs.
    public var overlap: OverlapPolicy
    /// Retries after a failed attempt.
    public var retry: RetryPolicy
    /// The limit on one attempt; the attempt's work is cancelled when it passes.
    public var timeout: Duration?
    /// Whether the job starts paused (when first seen).
    public var paused: Bool
    /// A human description.
    public var description: String?
    /// Kind-specific options as `jobs.yaml` has them, secrets unresolved. Kinds read their typed
    /// ``options(as:)`` instead; changing these drops the typed value.
    public var options: [String: ConfigValue] { didSet { typedOptions = nil } }
    /// Where the job is defined (line in the file).
    public var line: Int
    /// Its own alert rule (`notify:`), replacing the file's default.
    public var notify: NotifyRule?
    /// The options parsed once, at load, into the kind's ``JobOptions`` type
    /// (``ConfigCatalog/jobOptions``); nil for a spec the loader did not make. Read with
    /// ``options(as:)``.
    public package(set) var typedOptions: (any JobOptions)?

    /// A job spec; options default to the policies' defaults.
    public init(
        name: String, kind: String, schedule: Schedule, misfire: MisfirePolicy = MisfirePolicy(),
        overlap: OverlapPolicy = .skip, retry: RetryPolicy = RetryPolicy(), timeout: Duration? = nil,
        paused: Bool = false, description: String? = nil, options: [String: ConfigValue] = [:], line: Int = 0
    ) {
        self.name = name
        self.kind = kind
        self.schedule = schedule
        self.misfire = misfire
        self.overlap = overlap
        self.retry = retry
        self.timeout = timeout
        self.paused = paused
        self.description = description
        self.options = options
        self.line = line
    }
}

/// What happens to occurrences that could not start within `grace` of their nominal instant.
public struct MisfirePolicy: Hashable, Sendable {
    /// The choices.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// Run only the most recent misfired occurrence; record the older ones as skipped.
        case latest
        /// Run every misfired occurrence, oldest first.
        case all
        /// Run none; record each as skipped.
        case skip
    }
    /// The choice.
    public var mode: Mode
    /// How late an occurrence may start and still count as on time.
    public var grace: Duration
    /// `latest` with a one-minute grace.
    public init(mode: Mode = .latest, grace: Duration = .seconds(60)) {
        self.mode = mode
        self.grace = grace
    }
}

/// What happens when an occurrence is due while the job's previous run is still running.
public enum OverlapPolicy: String, Hashable, Sendable, CaseIterable {
    /// Record the new occurrence as skipped.
    case skip
    /// Keep at most one waiting occurrence; run it when the current run ends (older waiting ones
    /// are skipped).
    case bufferOne = "buffer_one"
    /// Run both at once.
    case allow
    /// Cancel the running one, then start the new one.
    case cancelPrevious = "cancel_previous"
}

/// Retries after a failed attempt, with exponential backoff and jitter.
public struct RetryPolicy: Hashable, Sendable {
    /// Total attempts, including the first (1 = no retry).
    public var attempts: Int
    /// The delay before the second attempt.
    public var backoff: Duration
    /// The largest delay.
    public var maxBackoff: Duration
    /// Whether each delay is randomised to between half and all of its value.
    public var jitter: Bool

    /// One attempt; backoff 10s doubling up to 5m, with jitter.
    public init(attempts: Int = 1, backoff: Duration = .seconds(10), maxBackoff: Duration = .seconds(300), jitter: Bool = true) {
        self.attempts = attempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` (2, 3, …); `unit` in [0, 1) is the random draw.
    public func delay(beforeAttempt attempt: Int, unit: Double) -> Duration {
        let factor = 1 << min(max(0, attempt - 2), 20)
        // Compare before multiplying: a long backoff times 2^20 can overflow Duration and trap.
        let delay = backoff > maxBackoff / factor ? maxBackoff : backoff * factor
        return jitter ? delay * (0.5 + unit / 2) : delay
    }
}
