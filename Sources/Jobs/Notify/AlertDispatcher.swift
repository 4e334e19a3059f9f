import CoreMetrics
public import Foundation
public import Logging
public import Scheduler
public import ServiceLifecycle

/// Sends alerts for run events (`notify: { on: [...], to: [...] }`), run by `schedctl serve`
/// beside the engine. It reads the store's `run_event` table as an outbox after a persisted
/// cursor, so a restart never resends and several instances never send the same alert twice:
/// claiming an event moves the cursor by compare-and-set and takes a slot in each notifier's
/// hourly window (or folds the alert into that notifier's next digest) in one transaction; the
/// result is then recorded as a `notify-sent` / `notify-failed` run event. An alert claimed by a
/// process that dies before sending is not resent (at most once). Notifier failures are
/// recorded and never touch the run.
public actor AlertDispatcher: Service {
    /// The cursor's name in `notify_cursor`.
    public static let cursorName = "alerts"

    let notifyStore: NotifyStore
    var plan: Plan
    let factory: NotifierFactory
    let logger: Logger
    let wall: @Sendable () -> Date
    let clock: any Clock<Duration>
    /// How often the outbox is read.
    public var pollInterval: Duration = .seconds(1)
    var built: [String: any Notifier] = [:]

    /// A dispatcher for `plan` over `store`.
    public init(
        store: Store, plan: Plan, factory: NotifierFactory, logger: Logger, wall: @escaping @Sendable () -> Date = { Date() },
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.notifyStore = NotifyStore(store: store)
        self.plan = plan
        self.factory = factory
        self.logger = logger
        self.wall = wall
        self.clock = clock
    }

    /// Uses `plan` from now on (after a reload).
    public func reload(_ plan: Plan) {
        self.plan = plan
        built = [:]
    }

    /// Polls the outbox until graceful shutdown.
    public func run() async throws {
        _ = try await notifyStore.cursor(Self.cursorName)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await self.tick()
                } catch {
                    self.logger.error("alert dispatch failed; retrying", metadata: ["error": "\(error)"])
                }
                try? await self.clock.sleep(for: self.pollInterval)
            }
        }
    }

    /// What one pass did.
    public struct TickReport: Sendable, Hashable {
        /// Messages delivered (alerts and digests).
        public var sent = 0
        /// Messages that failed.
        public var failed = 0
        /// Alerts folded into digests.
        public var folded = 0

        /// A report.
        public init(sent: Int = 0, failed: Int = 0, folded: Int = 0) {
            self.sent = sent
            self.failed = failed
            self.folded = folded
        }
    }

    /// One pass: every new event, then any digest whose notifier has room again.
    public func tick() async throws -> TickReport {
        var report = TickReport()
        var cursor = try await notifyStore.cursor(Self.cursorName)
        while true {
            let events = try await notifyStore.events(after: cursor)
            if events.isEmpty { break }
            for event in events {
                guard let rule = plan.notifyRule(job: event.job), let alert = rule.alert(forEventKind: event.kind), !rule.to.isEmpty else {
                    // Nothing to send: move on (a lost race just means another instance did).
                    guard try await notifyStore.advance(Self.cursorName, from: cursor, to: event.id) else { return report }
                    cursor = event.id
                    continue
                }
                let message = Self.message(event: event, alert: alert)
                let targets = rule.to.map { name in (name, plan.notifiers[name].map(NotifierFactory.maxPerHour) ?? NotifierFactory.defaultMaxPerHour) }
                guard
                    let slots = try await notifyStore.claim(
                        Self.cursorName, from: cursor, event: event, alert: alert.rawValue, line: Self.digestLine(event: event, alert: alert),
                        targets: targets, now: wall())
                else { return report }
                cursor = event.id
                for name in rule.to {
                    switch slots[name] {
                    case .send(let id):
                        let delivered = await deliver(message, to: name, delivery: id)
                        if delivered { report.sent += 1 } else { report.failed += 1 }
                    case .folded: report.folded += 1
                    case nil: break
                    }
                }
            }
        }
        for name in try await notifyStore.notifiersWithFoldedAlerts() {
            let limit = plan.notifiers[name].map(NotifierFactory.maxPerHour) ?? NotifierFactory.defaultMaxPerHour
            guard let (id, items) = try await notifyStore.claimDigest(notifier: name, limit: limit, now: wall()) else { continue }
            let lines = items.compactMap(\.detail)
            let message = NotificationMessage(
                subject: "schedctl: \(items.count) alerts held back by the rate limit",
                text: "\(name) is limited to \(limit) messages an hour; these alerts were held back:\n\n" + lines.map { "- \($0)" }.joined(separator: "\n")
                    + "\n",
                short: "schedctl: \(items.count) alerts held back: " + lines.joined(separator: "; "))
            let result = await attempt(message, to: name)
            try await notifyStore.finishDigest(id, items: items, delivered: result == nil, detail: result ?? "delivered", now: wall())
            if result == nil { report.sent += 1 } else { report.failed += 1 }
        }
        return report
    }

    /// Sends and records delivery `id`; true when delivered.
    func deliver(_ message: NotificationMessage, to name: String, delivery id: Int64) async -> Bool {
        let failure = await attempt(message, to: name)
        do {
            try await notifyStore.finish(id, delivered: failure == nil, detail: failure ?? "delivered", now: wall())
        } catch {
            logger.error("cannot record a delivery", metadata: ["notifier": "\(name)", "error": "\(error)"])
        }
        return failure == nil
    }

    /// Sends `message` to `name`; the redacted reason when it was not delivered.
    func attempt(_ message: NotificationMessage, to name: String) async -> String? {
        let redact = { @Sendable (text: String) in self.factory.secrets.redact(text) }
        do {
            let notifier = try await notifier(named: name)
            try await NotifierSet([notifier], redact: redact).send(message, to: name)
            logger.info("alert sent", metadata: ["notifier": "\(name)", "subject": "\(redact(message.subject))"])
            Counter(label: "schedctl_alerts_total", dimensions: [("notifier", name), ("result", "delivered")]).increment()
            return nil
        } catch {
            logger.warning("alert not delivered", metadata: ["notifier": "\(name)", "error": "\(redact(error.message))"])
            Counter(label: "schedctl_alerts_total", dimensions: [("notifier", name), ("result", "failed")]).increment()
            return redact(error.message)
        }
    }

    func notifier(named name: String) async throws(NotifyError) -> any Notifier {
        if let cached = built[name] { return cached }
        guard let spec = plan.notifiers[name] else {
            throw NotifyError(.configuration, notifier: name, "no notifier '\(name)' is configured; define it under 'notifiers:'")
        }
        let notifier = try await factory.notifier(spec)
        built[name] = notifier
        return notifier
    }

    /// The alert for `event`.
    static func message(event: NotifyStore.OutboxEvent, alert: AlertEvent) -> NotificationMessage {
        let at = Instant(seconds: Int64(event.at.rounded(.down))).iso8601
        let nominal = Instant(seconds: event.nominal).iso8601
        let text = """
            Job: \(event.job) (run #\(event.runID))
            Event: \(alert.rawValue) — \(describe(alert))
            At: \(at) (occurrence \(nominal))

            \(event.message)

            Details: schedctl show \(event.runID)

            """
        return NotificationMessage(
            subject: "schedctl: \(event.job) \(alert.rawValue) (run #\(event.runID))", text: text,
            short: "schedctl \(event.job) #\(event.runID) \(alert.rawValue): \(event.message)")
    }

    static func digestLine(event: NotifyStore.OutboxEvent, alert: AlertEvent) -> String {
        "\(Instant(seconds: Int64(event.at.rounded(.down))).iso8601) \(event.job) #\(event.runID) \(alert.rawValue): \(event.message)"
    }

    static func describe(_ alert: AlertEvent) -> String {
        switch alert {
        case .failure: return "an attempt failed"
        case .retriesExhausted: return "the run failed and has no attempt left"
        case .abandoned: return "the run was abandoned after repeated lease expiries"
        case .skipped: return "an occurrence was skipped"
        case .rebalanceDone: return "a rebalance finished"
        case .riskLimit: return "a risk limit was hit"
        case .sessionReport: return "a trading session ended"
        case .tokenExpiring: return "a broker token expires soon"
        }
    }
}
