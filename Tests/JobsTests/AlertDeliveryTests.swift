import Foundation
import Jobs
import Logging
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

/// The delivery outbox on a real store against real loopback receivers: retries with backoff on
/// the injected clock, one delivery id per alert, takeover of a dead claimer's delivery,
/// per-notifier isolation with a send time limit, severity, per-recipient progress, expiry.
@Suite("Alert delivery")
struct AlertDeliveryTests {
    let directory = TemporaryDirectory()
    let wall = ManualWallClock("2026-12-01T15:00:00Z")
    let secrets = DictionarySecrets(["hook/key": "whsec-9f8e7d6c5b4a", "twilio/sid": "AC123", "twilio/token": "tok-123"])

    func plan(_ notifiers: [String: ComponentSpec], to: [String], on: [AlertEvent] = [.failure, .riskLimit, .skipped], expire: Duration? = nil) -> Plan {
        var job = JobSpec(name: "trade", kind: "noop", schedule: Schedule(.interval(seconds: 3600, aligned: false, zone: .utc)))
        job.notify = NotifyRule(on: on, to: to, expire: expire ?? NotifyRule.defaultExpire)
        return Plan(
            source: directory.file("jobs.yaml"), timezone: .utc, database: directory.file("db.sqlite"), secrets: SecretsSettings(), brokers: [:],
            strategies: [:], notifiers: notifiers, calendars: [:], service: ServiceSettings(), jobs: [job], notify: nil)
    }

    func dispatcher(_ store: Store, _ plan: Plan, clock: any Clock<Duration> = ManualClock(), claimer: String = "test-a") -> AlertDispatcher {
        AlertDispatcher(
            store: store, plan: plan,
            factory: NotifierFactory(secrets: secrets, baseDirectory: directory.path, sleep: SleepRecorder().sleep, wall: wall.source),
            logger: Logger(label: "test"), wall: wall.source, clock: clock, claimer: claimer)
    }

    /// A run of `trade` with one event of `kind`.
    func event(_ store: Store, _ plan: Plan, _ kind: String, _ message: String = "exit status 3") async throws -> Int64 {
        let id = try await store.enqueueManualRun(job: try #require(plan.job(named: "trade")), now: wall.now(), by: "test")
        try await store.appendEvent(runID: id, kind: kind, message: message, instance: nil, now: wall.now())
        return id
    }

    func sections(_ file: String) -> [String] { fileLines(directory.file(file)).filter { $0.hasPrefix("## ") } }

    @Test func aWebhookDownForItsFirst20SecondsStillGetsTheAlertOnceWithOneIDAndAValidSignature() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        try await withSandbox(receiver) { _ in
            let start = wall.now()
            let wall = self.wall
            receiver.unavailable(while: { wall.now() < start.addingTimeInterval(20) })
            let hook = ComponentSpec(name: "hook", type: "webhook", options: ["url": .string(receiver.url.absoluteString), "secret": .secret("hook/key")])
            let plan = plan(["hook": hook], to: ["hook"])
            let store = try StoreSchema.open(path: directory.file("db.sqlite"))
            let dispatcher = dispatcher(store, plan)
            _ = try await dispatcher.tick()
            let run = try await event(store, plan, "retry")

            #expect(try await dispatcher.tick() == .init(retrying: 1), "503: kept for a retry 30 s later")
            self.wall.advance(10)
            #expect(try await dispatcher.tick() == .init(), "not due yet")
            self.wall.advance(20)
            #expect(try await dispatcher.tick() == .init(sent: 1))
            #expect(try await dispatcher.tick() == .init())

            let requests = receiver.received
            #expect(requests.count == 2)
            let ids = Set(requests.compactMap(\.delivery))
            #expect(ids.count == 1, "the same Schedctl-Delivery on every attempt")
            let id = try #require(ids.first)
            let last = try #require(requests.last)
            let t = Int64(self.wall.now().timeIntervalSince1970)
            #expect(verifySignature(try #require(last.signature), body: last.body, key: "whsec-9f8e7d6c5b4a", now: t))
            #expect(try #require(last.signature).hasPrefix("t=\(t),v1="))
            let json = try #require(try JSONSerialization.jsonObject(with: last.body) as? [String: Any])
            #expect(json["id"] as? String == id)
            let log = try await NotifyStore(store: store).outbox()
            #expect(log.map(\.state) == ["delivered"])
            #expect(log.first?.id == id && log.first?.attempts == 2)
            let kinds = try #require(try await store.run(id: run)).events.map(\.kind)
            #expect(kinds.filter { $0.hasPrefix("notify-") } == ["notify-retry", "notify-sent"])
        }
    }

    @Test func aDeliveryClaimedByAProcessThatDiedIsSentAfterItsLease() async throws {
        let log = ComponentSpec(name: "log", type: "file", options: ["path": .string("alerts.md")])
        let plan = plan(["log": log], to: ["log"])
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let first = dispatcher(store, plan, claimer: "dead")
        _ = try await first.tick()
        _ = try await event(store, plan, "risk-limit", "daily loss limit reached")
        try await first.ingest()
        // The first process claims the delivery and dies before sending it.
        let claimed = try await NotifyStore(store: store).claimNext(notifier: "log", claimer: "dead", lease: .seconds(60), now: wall.now())
        #expect(claimed != nil)

        let restarted = dispatcher(store, plan, claimer: "restarted")
        #expect(try await restarted.tick() == .init(), "the dead claim holds until its lease ends")
        #expect(sections("alerts.md").isEmpty)
        wall.advance(61)
        #expect(try await restarted.tick() == .init(sent: 1))
        #expect(sections("alerts.md").count == 1)
        let row = try #require(try await NotifyStore(store: store).outbox().first)
        #expect(row.state == "delivered" && row.attempts == 2)
        #expect(
            try await NotifyStore(store: store).finishAttempt(claimed!, claimer: "dead", next: .delivered, error: nil, now: wall.now()) == false,
            "the dead claimer's late result is not recorded")
    }

    @Test func aHungEndpointDoesNotDelayAnotherNotifier() async throws {
        let (port, release) = try SMTPListener.silentPort()
        defer { release() }
        let hung = ComponentSpec(name: "hung", type: "webhook", options: ["url": .string("http://127.0.0.1:\(port)/hook"), "timeout": .duration(.seconds(15))])
        let log = ComponentSpec(name: "log", type: "file", options: ["path": .string("alerts.md")])
        let plan = plan(["hung": hung, "log": log], to: ["hung", "log"])
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let clock = ManualClock()
        let dispatcher = dispatcher(store, plan, clock: clock)
        _ = try await dispatcher.tick()
        _ = try await event(store, plan, "risk-limit", "daily loss limit reached")

        let pass = Task { try await dispatcher.tick() }
        // The file notifier's alert arrives while the webhook's send is still hanging: its
        // delivery is claimed and its time limit (the only sleeper on the clock) is running.
        let notify = NotifyStore(store: store)
        #expect(
            try await pollUntil(within: 20) {
                let rows = try await notify.outbox()
                return rows.first { $0.notifier == "log" }?.state == "delivered" && rows.first { $0.notifier == "hung" }?.isClaimed == true
                    && clock.sleeperCount == 1
            })
        #expect(sections("alerts.md").count == 1)
        clock.advance(by: .seconds(15))
        let report = try await pass.value
        #expect(report == .init(sent: 1, retrying: 1))
        let after = try await NotifyStore(store: store).outbox()
        let stuck = try #require(after.first { $0.notifier == "hung" })
        #expect(stuck.state == "pending" && !stuck.isClaimed)
        #expect(stuck.lastError == "no answer within 15s (the notifier's timeout)")
        #expect(stuck.nextAttemptAt == wall.now().timeIntervalSince1970 + 30)
    }

    @Test func aCriticalAlertAfter20RoutineOnesInTheSameHourGoesOutAtOnce() async throws {
        let log = ComponentSpec(name: "log", type: "file", options: ["path": .string("alerts.md"), "max_per_hour": .number(10)])
        let plan = plan(["log": log], to: ["log"])
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        for n in 1...20 {
            _ = try await event(store, plan, "retry", "attempt \(n) failed")
            wall.advance(60)
        }
        let risk = try await event(store, plan, "risk-limit", "daily loss limit reached")
        #expect(try await dispatcher.tick() == .init(sent: 11, folded: 10))
        #expect(sections("alerts.md").contains("## schedctl: trade risk_limit (run #\(risk))"))
        #expect(sections("alerts.md").count == 11)
        let critical = try #require(try await NotifyStore(store: store).outbox(limit: 100).first { $0.event == "risk_limit" })
        #expect(critical.severity == "critical" && critical.state == "delivered")
    }

    @Test func notifyTestAndReportsDoNotSpendTheHourlyBudget() async throws {
        let log = ComponentSpec(name: "log", type: "file", options: ["path": .string("alerts.md"), "max_per_hour": .number(1)])
        let plan = plan(["log": log], to: ["log"])
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        let notify = NotifyStore(store: store)
        let test = NotificationMessage(subject: "test", text: "test")
        try await notify.record(notifier: "log", alert: "test", runID: nil, message: test, delivered: true, detail: "delivered", now: wall.now())
        try await notify.record(notifier: "log", alert: "report", runID: nil, message: test, delivered: true, detail: "delivered", now: wall.now())
        _ = try await event(store, plan, "skipped", "misfired")
        #expect(try await dispatcher.tick() == .init(sent: 1))
    }

    @Test func anSMSRetryReachesOnlyTheNumberThatMissedIt() async throws {
        let twilio = TwilioSimulator()
        try await twilio.start()
        try await withSandbox(twilio) { _ in
            twilio.addAccount(sid: "AC123", authToken: "tok-123")
            let phone = ComponentSpec(
                name: "phone", type: "twilio",
                options: [
                    "account_sid": .secret("twilio/sid"), "auth_token": .secret("twilio/token"), "from": .string("+15550001111"),
                    "to": .list([.string("+15550002222"), .string("+15550003333")]), "base_url": .string(twilio.baseURL.absoluteString),
                ])
            let plan = plan(["phone": phone], to: ["phone"])
            let store = try StoreSchema.open(path: directory.file("db.sqlite"))
            let dispatcher = dispatcher(store, plan)
            _ = try await dispatcher.tick()
            _ = try await event(store, plan, "risk-limit", "daily loss limit reached")
            twilio.enqueueFaults(.status(500))
            #expect(try await dispatcher.tick() == .init(retrying: 1))
            #expect(twilio.messages.map(\.to) == ["+15550003333"])
            let pending = try #require(try await NotifyStore(store: store).outbox().first)
            #expect(pending.doneRecipients == ["+15550003333"])
            #expect(pending.lastError?.contains("+15550002222: HTTP 500") == true)
            wall.advance(30)
            #expect(try await dispatcher.tick() == .init(sent: 1))
            #expect(twilio.messages.map(\.to) == ["+15550003333", "+15550002222"], "the retry went to the missed number only")
        }
    }

    @Test func oneRejectedEmailRecipientDoesNotStopTheOthers() async throws {
        let smtp = try SMTPListener(SMTPListener.Options(rejected: ["nobody@example.com"]))
        defer { smtp.stop() }
        let mail = ComponentSpec(
            name: "mail", type: "email",
            options: [
                "smtp_url": .string("smtp://127.0.0.1:\(smtp.port)"), "starttls": .string("off"), "from": .string("schedctl@example.com"),
                "to": .list([.string("ops@example.com"), .string("nobody@example.com"), .string("me@example.com")]),
            ])
        let plan = plan(["mail": mail], to: ["mail"])
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        _ = try await event(store, plan, "risk-limit", "daily loss limit reached")
        #expect(try await dispatcher.tick() == .init(failed: 1))
        #expect(smtp.messages.flatMap(\.recipients).sorted() == ["me@example.com", "ops@example.com"])
        let row = try #require(try await NotifyStore(store: store).outbox().first)
        #expect(row.state == "failed")
        #expect(row.doneRecipients.sorted() == ["me@example.com", "ops@example.com"])
        #expect(row.lastError?.contains("nobody@example.com") == true)
    }

    @Test func anAlertNobodyAcceptsExpiresAfterNotifyExpire() async throws {
        let (port, release) = try SMTPListener.refusingPort()
        defer { release() }
        let hook = ComponentSpec(name: "hook", type: "webhook", options: ["url": .string("http://127.0.0.1:\(port)/hook")])
        let plan = plan(["hook": hook], to: ["hook"], expire: .seconds(300))
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        let run = try await event(store, plan, "skipped", "misfired")
        var attempts: [Double] = []
        for _ in 0...10 {
            let report = try await dispatcher.tick()
            if report.retrying + report.failed > 0 { attempts.append(wall.now().timeIntervalSince1970) }
            wall.advance(30)
        }
        let row = try #require(try await NotifyStore(store: store).outbox().first)
        #expect(row.state == "expired")
        let start = attempts.first ?? 0
        #expect(attempts.map { $0 - start } == [0, 30, 90, 210, 300], "backoff 30, 60, 120 s, then a last attempt at the expiry")
        #expect(try await store.run(id: run)?.events.last?.kind == "notify-expired")
    }
}
