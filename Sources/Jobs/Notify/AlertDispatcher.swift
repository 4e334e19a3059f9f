import CoreMetrics
public import Foundation
public import Logging
public import Scheduler
public import ServiceLifecycle

/// Sends alerts for run events (`notify: { on: [...], to: [...] }`), run by `schedctl serve`
/// beside the engine, at least once and each with a stable delivery id.
///
/// It reads the store's `run_event` table after a persisted cursor. Claiming an event moves the
/// cursor by compare-and-set and queues one delivery per notifier in the `notify_outbox` table
/// in one transaction (a routine alert over the notifier's hourly limit is folded into its next
/// digest; a critical one never is). Each notifier has its own worker: it claims a due delivery
/// with a lease, sends it within the notifier's time limit, and records the result; a failure
/// that may pass is retried with backoff (``DeliveryPolicy``) until the delivery expires, and a
/// claim whose process died is taken over once its lease runs out. Recipients that accepted a
/// message are never sent it again. Notifier failures are recorded and never touch the run.
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
    /// Retry, expiry, admission and lease decisions.
    public let policy: DeliveryPolicy
    /// Who this dispatcher's claims are recorded as.
    public let claimer: String
    var built: [String: any Notifier] = [:]

    /// A dispatcher for `plan` over `store`.
    public init(
        store: Store, plan: Plan, factory: NotifierFactory, logger: Logger, wall: @escaping @Sendable () -> Date = { Date() },
        clock: any Clock<Duration> = ContinuousClock(), policy: DeliveryPolicy = DeliveryPolicy(),
        claimer: String = "\(ProcessInfo.processInfo.hostName)/\(getpid())/\(UUID().uuidString.prefix(8).lowercased())"
    ) {
        self.notifyStore = NotifyStore(store: store)
        self.plan = plan
        var factory = factory
        factory.webhookAttempts = 1
        self.factory = factory
        self.logger = logger
        self.wall = wall
        self.clock = clock
        self.policy = policy
        self.claimer = claimer
    }

    /// Uses `plan` from now on (after a reload).
    public func reload(_ plan: Plan) {
        self.plan = plan
        built = [:]
    }

    /// Reads new events and runs one worker per notifier until graceful shutdown.
    public func run() async throws {
        _ = try await notifyStore.cursor(Self.cursorName)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                var workers: Set<String> = []
                while !Task.isCancelled {
                    do {
                        _ = try await self.ingest()
                    } catch {
                        self.logger.error("alert dispatch failed; retrying", metadata: ["error": "\(error)"])
                    }
                    for name in await self.notifierNames() where !workers.contains(name) {
                        workers.insert(name)
                        group.addTask { await self.work(name) }
                    }
                    try? await self.clock.sleep(for: self.pollInterval)
                }
                group.cancelAll()
            }
        }
    }

    /// One notifier's worker: drains its due deliveries, then waits for the next poll.
    nonisolated func work(_ name: String) async {
        while !Task.isCancelled {
            _ = await drain(name)
            try? await clock.sleep(for: pollInterval)
        }
    }

    func notifierNames() -> [String] { plan.notifiers.keys.sorted() }

    /// What one pass did.
    public struct TickReport: Sendable, Hashable {
        /// Messages delivered (alerts and digests).
        public var sent = 0
        /// Messages given up as failed (not retryable) or expired.
        public var failed = 0
        /// Alerts folded into digests.
        public var folded = 0
        /// Attempts that failed and are tried again later.
        public var retrying = 0

        /// A report.
        public init(sent: Int = 0, failed: Int = 0, folded: Int = 0, retrying: Int = 0) {
            self.sent = sent
            self.failed = failed
            self.folded = folded
            self.retrying = retrying
        }

        static func + (a: TickReport, b: TickReport) -> TickReport {
            TickReport(sent: a.sent + b.sent, failed: a.failed + b.failed, folded: a.folded + b.folded, retrying: a.retrying + b.retrying)
        }
    }

    /// One pass: queues every new event, then every notifier's due deliveries are sent, each
    /// notifier on its own task (so one that hangs holds up only itself, up to its time limit).
    public func tick() async throws -> TickReport {
        var report = TickReport()
        report.folded = try await ingest()
        let names = notifierNames()
        let drained = await withTaskGroup(of: TickReport.self) { group in
            for name in names { group.addTask { await self.drain(name) } }
            var total = TickReport()
            for await part in group { total = total + part }
            return total
        }
        return report + drained
    }

    /// Queues every new event's deliveries; returns how many alerts were folded.
    @discardableResult
    public func ingest() async throws -> Int {
        var folded = 0
        var cursor = try await notifyStore.cursor(Self.cursorName)
        while true {
            let events = try await notifyStore.events(after: cursor)
            if events.isEmpty { break }
            for event in events {
                guard let rule = plan.notifyRule(job: event.job), let alert = rule.alert(forEventKind: event.kind), !rule.to.isEmpty else {
                    // Nothing to send: move on (a lost race just means another instance did).
                    guard try await notifyStore.advance(Self.cursorName, from: cursor, to: event.id) else { return folded }
                    cursor = event.id
                    continue
                }
                let message = Self.message(event: event, alert: alert).redacted { factory.secrets.redact($0) }
                let line = factory.secrets.redact(Self.digestLine(event: event, alert: alert))
                var seen: Set<String> = []
                let targets = rule.to.filter { seen.insert($0).inserted }.map { name in
                    NotifyStore.NewDelivery(
                        notifier: name, limit: plan.notifiers[name].map(NotifierFactory.maxPerHour) ?? NotifierFactory.defaultMaxPerHour,
                        critical: alert.isCritical, expire: rule.expire, digestLine: line)
                }
                guard
                    let queued = try await notifyStore.enqueue(
                        Self.cursorName, from: cursor, event: event, alert: alert.rawValue, message: message, targets: targets, policy: policy, now: wall())
                else { return folded }
                folded += queued.folded
                cursor = event.id
            }
        }
        return folded
    }

    /// Sends `name`'s due deliveries (a digest first, when its folded alerts have room again)
    /// until none is due.
    func drain(_ name: String) async -> TickReport {
        var report = TickReport()
        do {
            try await notifyStore.expire(notifier: name, policy: policy, now: wall())
            if let spec = plan.notifiers[name] {
                let limit = NotifierFactory.maxPerHour(spec)
                _ = try await notifyStore.enqueueDigest(
                    notifier: name, limit: limit, expire: plan.notify?.expire ?? NotifyRule.defaultExpire, now: wall(),
                    compose: { lines in Self.digest(lines, notifier: name, limit: limit) })
            }
            while let delivery = try await notifyStore.claimNext(notifier: name, claimer: claimer, lease: policy.lease(sendLimit: sendLimit(name)), now: wall())
            {
                switch await deliver(delivery) {
                case .delivered: report.sent += 1
                case .retry: report.retrying += 1
                case .failed, .expired: report.failed += 1
                }
            }
        } catch {
            logger.error("alert delivery failed; retrying", metadata: ["notifier": "\(name)", "error": "\(error)"])
        }
        return report
    }

    func sendLimit(_ name: String) -> Duration { plan.notifiers[name].map(NotifierFactory.timeout) ?? NotifierFactory.defaultTimeout }

    /// One attempt at `delivery` (claimed), recorded; what became of it.
    func deliver(_ delivery: NotifyStore.OutboxDelivery) async -> DeliveryPolicy.Next {
        let name = delivery.notifier
        var stamped = delivery.message
        stamped.deliveryID = delivery.id
        stamped.critical = delivery.severity == "critical"
        let message = stamped
        let secrets = factory.secrets
        let redact = { @Sendable (text: String) in secrets.redact(text) }
        let limit = sendLimit(name)
        let outcome: DeliveryPolicy.Outcome
        var failure: String?
        do throws(NotifyError) {
            let notifier = try await notifier(named: name)
            let (store, claimer) = (notifyStore, self.claimer)
            if let multi = notifier as? any RecipientNotifier {
                let remaining = multi.recipients.filter { !delivery.doneRecipients.contains($0) }
                let failures = await withTimeLimit(limit, clock: clock) {
                    await multi.send(message, to: remaining) { recipient in try? await store.addDone(delivery.rowID, claimer: claimer, recipients: [recipient])
                    }
                }
                if let failures {
                    if failures.isEmpty {
                        outcome = .delivered
                    } else {
                        let error = NotifyError.combined(failures, of: remaining.count, notifier: name)
                        outcome = DeliveryPolicy.outcome(of: error)
                        failure = redact(error.message)
                    }
                } else {
                    outcome = .retryable
                    failure = "no answer within \(DurationText.format(limit)) (the notifier's timeout)"
                }
            } else {
                let result = await withTimeLimit(limit, clock: clock) { () async -> NotifyError? in
                    do throws(NotifyError) {
                        try await notifier.send(message)
                        return nil
                    } catch {
                        return error
                    }
                }
                switch result {
                case .none:
                    outcome = .retryable
                    failure = "no answer within \(DurationText.format(limit)) (the notifier's timeout)"
                case .some(nil):
                    outcome = .delivered
                case .some(let error?):
                    outcome = DeliveryPolicy.outcome(of: error)
                    failure = redact(error.message)
                }
            }
        } catch {
            outcome = DeliveryPolicy.outcome(of: error)
            failure = redact(error.message)
        }
        let now = wall()
        let next = policy.after(
            outcome, attempts: delivery.attempts, createdAt: delivery.createdAt, expiresAt: delivery.expiresAt, now: now.timeIntervalSince1970)
        if let failure {
            logger.warning("alert not delivered", metadata: ["notifier": "\(name)", "delivery": "\(delivery.id)", "error": "\(failure)"])
            Counter(label: "schedctl_alerts_total", dimensions: [("notifier", name), ("result", "failed")]).increment()
        } else {
            logger.info("alert sent", metadata: ["notifier": "\(name)", "delivery": "\(delivery.id)", "subject": "\(message.subject)"])
            Counter(label: "schedctl_alerts_total", dimensions: [("notifier", name), ("result", "delivered")]).increment()
        }
        do {
            try await notifyStore.finishAttempt(delivery, claimer: claimer, next: next, error: failure, now: now)
        } catch {
            logger.error("cannot record a delivery", metadata: ["notifier": "\(name)", "error": "\(error)"])
        }
        return next
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

    /// The digest of `lines` held back for `notifier`.
    static func digest(_ lines: [String], notifier: String, limit: Int) -> NotificationMessage {
        NotificationMessage(
            subject: "schedctl: \(lines.count) alerts held back by the rate limit",
            text: "\(notifier) is limited to \(limit) routine messages an hour; these alerts were held back:\n\n"
                + lines.map { "- \($0)" }.joined(separator: "\n") + "\n",
            short: "schedctl: \(lines.count) alerts held back: " + lines.joined(separator: "; "))
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
            short: "schedctl \(event.job) #\(event.runID) \(alert.rawValue): \(event.message)", critical: alert.isCritical)
    }

    static func digestLine(event: NotifyStore.OutboxEvent, alert: AlertEvent) -> String {
        "\(Instant(seconds: Int64(event.at.rounded(.down))).iso8601) \(event.job) #\(event.runID) \(alert.rawValue): \(event.message)"
    }

    static func describe(_ alert: AlertEvent) -> String { AlertEvents.meaning(of: alert) }
}
