/// An event that can raise an alert (`notify: { on: [...] }` in `jobs.yaml`).
public enum AlertEvent: String, Hashable, Sendable, CaseIterable, Codable {
    /// Any failed attempt, including one that will be retried (events `retry` and `failed`).
    case failure
    /// The run failed for good: no attempt is left (event `failed`).
    case retriesExhausted = "retries_exhausted"
    /// The run's lease expired too often (event `abandoned`).
    case abandoned
    /// An occurrence was skipped (misfire, overlap, paused job).
    case skipped
    /// A rebalance finished (event `rebalance-done`, recorded by the rebalance kind).
    case rebalanceDone = "rebalance_done"
    /// A risk limit was hit (event `risk-limit`).
    case riskLimit = "risk_limit"
    /// A futures session ended with its report (event `session-report`).
    case sessionReport = "session_report"
    /// A broker token is close to expiry (event `token-expiring`).
    case tokenExpiring = "token_expiring"
    /// An `exec` run's child from an earlier attempt is still running on another host (event
    /// `orphan-elsewhere`).
    case orphanElsewhere = "orphan_elsewhere"
    /// A futures session could not liquidate a position, or was not flat after its stop (event
    /// `flatten-failed`).
    case flattenFailed = "flatten_failed"

    /// Critical alerts (`risk_limit`, `flatten_failed`, `retries_exhausted`, `abandoned`,
    /// `token_expiring`, `orphan_elsewhere`) are never folded into a digest nor held back by a notifier's hourly
    /// limit, and do not use it up; the rest are routine and share that limit.
    public var isCritical: Bool {
        switch self {
        case .riskLimit, .flattenFailed, .retriesExhausted, .abandoned, .tokenExpiring, .orphanElsewhere: return true
        case .failure, .skipped, .rebalanceDone, .sessionReport: return false
        }
    }

    /// The alerts a run event of `kind` raises, most specific first (a final `failed` is both
    /// `retries_exhausted` and `failure`).
    public static func raised(byEventKind kind: String) -> [AlertEvent] {
        switch kind {
        case "retry": return [.failure]
        case "failed": return [.retriesExhausted, .failure]
        case "abandoned": return [.abandoned]
        case "skipped": return [.skipped]
        case "rebalance-done": return [.rebalanceDone]
        case "risk-limit", "risk-stale": return [.riskLimit]
        case "session-report": return [.sessionReport]
        case "token-expiring": return [.tokenExpiring]
        case "orphan-elsewhere": return [.orphanElsewhere]
        case "flatten-failed": return [.flattenFailed]
        default: return []
        }
    }
}

/// Which events of a job alert which notifiers: `notify: { on: [failure], to: [phone] }`, per job
/// or as the file's default.
public struct NotifyRule: Hashable, Sendable {
    /// The events that alert.
    public var on: [AlertEvent]
    /// Notifier names (defined under `notifiers:`).
    public var to: [String]
    /// How long an undelivered alert is retried before it is given up as `expired`
    /// (`expire:`, default ``defaultExpire``).
    public var expire: Duration

    /// The default of `expire`: a day.
    public static let defaultExpire: Duration = .seconds(86_400)

    /// A rule.
    public init(on: [AlertEvent], to: [String], expire: Duration = NotifyRule.defaultExpire) {
        self.on = on
        self.to = to
        self.expire = expire
    }

    /// The alert `kind` raises under this rule, if any.
    public func alert(forEventKind kind: String) -> AlertEvent? {
        AlertEvent.raised(byEventKind: kind).first { on.contains($0) }
    }
}
