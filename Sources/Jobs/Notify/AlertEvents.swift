public import Scheduler

extension AlertEvent {
    /// A rebalance finished (event `rebalance-done`, recorded by the rebalance kind).
    public static let rebalanceDone = AlertEvent("rebalance_done")
    /// A risk limit was hit (events `risk-limit`, `risk-stale`).
    public static let riskLimit = AlertEvent("risk_limit")
    /// A futures session ended with its report (event `session-report`).
    public static let sessionReport = AlertEvent("session_report")
    /// A broker token is close to expiry (event `token-expiring`).
    public static let tokenExpiring = AlertEvent("token_expiring")
    /// An `exec` run's child from an earlier attempt is still running on another host (event
    /// `orphan-elsewhere`).
    public static let orphanElsewhere = AlertEvent("orphan_elsewhere")
    /// A futures session could not liquidate a position, or was not flat after its stop (event
    /// `flatten-failed`).
    public static let flattenFailed = AlertEvent("flatten_failed")

    /// Every alert event this build knows, in `jobs.yaml`'s documented order.
    public static var allCases: [AlertEvent] { AlertEvents.standard.map(\.event) }

    /// Critical alerts (`risk_limit`, `flatten_failed`, `retries_exhausted`, `abandoned`,
    /// `token_expiring`, `orphan_elsewhere`) are never folded into a digest nor held back by a
    /// notifier's hourly limit, and do not use it up; the rest are routine and share that limit.
    public var isCritical: Bool { AlertEvents.standard.first { $0.event == self }?.critical ?? false }

    /// The alerts a run event of `kind` raises, most specific first (a final `failed` is both
    /// `retries_exhausted` and `failure`).
    public static func raised(byEventKind kind: String) -> [AlertEvent] {
        AlertEventType.raised(byEventKind: kind, among: AlertEvents.standard)
    }
}

extension NotifyRule {
    /// The alert `kind` raises under this rule, if any, among this build's events.
    public func alert(forEventKind kind: String) -> AlertEvent? { alert(forEventKind: kind, among: AlertEvents.standard) }
}

/// The alert events of this build: the engine's, then those the job kinds record.
public enum AlertEvents {
    /// Every event type, in `jobs.yaml`'s documented order.
    public static let standard: [AlertEventType] =
        Array(AlertEventType.engine) + [
            AlertEventType(.rebalanceDone, raisedBy: ["rebalance-done"], critical: false, meaning: "a rebalance finished"),
            AlertEventType(.riskLimit, raisedBy: ["risk-limit", "risk-stale"], critical: true, meaning: "a risk limit was hit"),
            AlertEventType(.sessionReport, raisedBy: ["session-report"], critical: false, meaning: "a trading session ended"),
            AlertEventType(.tokenExpiring, raisedBy: ["token-expiring"], critical: true, meaning: "a broker token expires soon"),
            AlertEventType(
                .orphanElsewhere, raisedBy: ["orphan-elsewhere"], critical: true, meaning: "a child of an earlier attempt still runs on another host"),
            AlertEventType(
                .flattenFailed, raisedBy: ["flatten-failed"], critical: true, meaning: "a futures session could not flatten its positions"),
        ]

    /// What `alert` means, for messages.
    public static func meaning(of alert: AlertEvent) -> String { standard.first { $0.event == alert }?.meaning ?? alert.rawValue }
}
