/// An event that can raise an alert (`notify: { on: [...] }` in `jobs.yaml`). Open, like
/// `SecretsError.Kind`: Scheduler names only the events its engine records (a failed, exhausted,
/// abandoned or skipped run); the modules with job kinds add theirs (`risk_limit`, …) as
/// ``AlertEventType`` values in the configuration catalog.
public struct AlertEvent: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The event called `name`.
    public init(_ name: String) { rawValue = name }
    public var description: String { rawValue }

    /// Any failed attempt, including one that will be retried (events `retry` and `failed`).
    public static let failure = AlertEvent("failure")
    /// The run failed for good: no attempt is left (event `failed`).
    public static let retriesExhausted = AlertEvent("retries_exhausted")
    /// The run's lease expired too often (event `abandoned`).
    public static let abandoned = AlertEvent("abandoned")
    /// An occurrence was skipped (misfire, overlap, paused job).
    public static let skipped = AlertEvent("skipped")
}

/// One alert event a build knows: the run-event kinds that raise it, whether it is critical, and
/// what it means (for messages).
public struct AlertEventType: Hashable, Sendable {
    /// The event (`notify: { on: [...] }`).
    public var event: AlertEvent
    /// The run-event kinds that raise it (`failed`, `risk-limit`, …).
    public var raisedBy: [String]
    /// Critical alerts are never folded into a digest nor held back by a notifier's hourly limit,
    /// and do not use it up; the rest are routine and share that limit.
    public var critical: Bool
    /// What happened, as a message says it ("a risk limit was hit").
    public var meaning: String

    /// An event type.
    public init(_ event: AlertEvent, raisedBy: [String], critical: Bool, meaning: String) {
        self.event = event
        self.raisedBy = raisedBy
        self.critical = critical
        self.meaning = meaning
    }

    /// The events the engine itself records.
    public static let engine: [AlertEventType] = [
        AlertEventType(.failure, raisedBy: ["retry", "failed"], critical: false, meaning: "an attempt failed"),
        AlertEventType(.retriesExhausted, raisedBy: ["failed"], critical: true, meaning: "the run failed and has no attempt left"),
        AlertEventType(.abandoned, raisedBy: ["abandoned"], critical: true, meaning: "the run was abandoned after repeated lease expiries"),
        AlertEventType(.skipped, raisedBy: ["skipped"], critical: false, meaning: "an occurrence was skipped"),
    ]

    /// The alerts a run event of `kind` raises among `types`, most specific first (raised by the
    /// fewest run-event kinds: a final `failed` is `retries_exhausted`, then `failure`).
    public static func raised(byEventKind kind: String, among types: [AlertEventType]) -> [AlertEvent] {
        types.enumerated().filter { $0.element.raisedBy.contains(kind) }
            .sorted { ($0.element.raisedBy.count, $0.offset) < ($1.element.raisedBy.count, $1.offset) }.map(\.element.event)
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

    /// The alert `kind` raises under this rule among `types`, if any.
    public func alert(forEventKind kind: String, among types: [AlertEventType]) -> AlertEvent? {
        AlertEventType.raised(byEventKind: kind, among: types).first { on.contains($0) }
    }
}
