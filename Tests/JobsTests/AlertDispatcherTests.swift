import Foundation
import Jobs
import Logging
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

/// Alerts from the run-event outbox, on a real store: delivered once, never resent after a
/// restart or by a second instance, rate-limited with a digest, recorded in the run's events.
@Suite("Alert dispatcher")
struct AlertDispatcherTests {
    let directory = TemporaryDirectory()
    let wall = ManualWallClock("2026-12-01T15:00:00Z")
    let secrets = DictionarySecrets(["api/token": "sk-live-ABC123"])

    func plan(maxPerHour: Int = 10, extraNotifiers: [String: ComponentSpec] = [:], jobs: [JobSpec]? = nil, notify: NotifyRule? = nil) -> Plan {
        var notifiers = extraNotifiers
        notifiers["log"] = ComponentSpec(name: "log", type: "file", options: ["path": .string("alerts.md"), "max_per_hour": .number(Decimal(maxPerHour))])
        var trade = JobSpec(name: "trade", kind: "noop", schedule: Schedule(.interval(seconds: 3600, aligned: false, zone: .utc)))
        trade.notify = NotifyRule(on: [.failure, .riskLimit], to: ["log"])
        let quiet = JobSpec(name: "quiet", kind: "noop", schedule: Schedule(.interval(seconds: 3600, aligned: false, zone: .utc)))
        return Plan(
            source: directory.file("jobs.yaml"), timezone: .utc, database: directory.file("db.sqlite"), secrets: SecretsSettings(), brokers: [:],
            strategies: [:], notifiers: notifiers, calendars: [:], service: ServiceSettings(), jobs: jobs ?? [trade, quiet], notify: notify)
    }

    func dispatcher(_ store: Store, _ plan: Plan) -> AlertDispatcher {
        AlertDispatcher(
            store: store, plan: plan,
            factory: NotifierFactory(secrets: secrets, baseDirectory: directory.path, sleep: SleepRecorder().sleep, wall: wall.source),
            logger: Logger(label: "test"), wall: wall.source)
    }

    var sections: [String] {
        ((try? String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8)) ?? "").components(separatedBy: "\n").filter { $0.hasPrefix("## ") }
    }

    func run(_ store: Store, _ plan: Plan, job: String) async throws -> Int64 {
        try await store.enqueueManualRun(job: try #require(plan.job(named: job)), now: wall.now(), by: "test")
    }

    @Test func sendsEachAlertOnceAcrossTicksRestartsAndInstances() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let plan = plan()
        let old = try await run(store, plan, job: "trade")
        try await store.appendEvent(runID: old, kind: "failed", message: "before the dispatcher ever ran", instance: nil, now: wall.now())
        let first = dispatcher(store, plan)
        #expect(try await first.tick() == .init(), "history before the first start is not alerted")

        _ = try await secrets.resolve("api/token")
        let id = try await run(store, plan, job: "trade")
        try await store.appendEvent(runID: id, kind: "failed", message: "exit status 3 (token sk-live-ABC123)", instance: nil, now: wall.now())
        try await StoreRunEvents(store: store, runID: id, instance: nil, wall: wall.source).record("risk-limit", "daily loss limit of $500 reached")
        let quiet = try await run(store, plan, job: "quiet")
        try await store.appendEvent(runID: quiet, kind: "failed", message: "no rule, no alert", instance: nil, now: wall.now())

        #expect(try await first.tick().sent == 2)
        #expect(try await first.tick() == .init())
        let restarted = dispatcher(store, plan)
        let second = dispatcher(store, plan)
        async let a = restarted.tick()
        async let b = second.tick()
        let (ra, rb) = try await (a, b)
        #expect(ra == .init() && rb == .init())
        #expect(
            sections == ["## schedctl: trade risk_limit (run #\(id))", "## schedctl: trade failure (run #\(id))"], "each once; the critical alert first")
        let file = try String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8)
        #expect(file.contains("exit status 3 (token ‹redacted›)"))
        #expect(!file.contains("sk-live-ABC123"))
        let events = try #require(try await store.run(id: id)).events
        let sent = events.filter { $0.kind == "notify-sent" }.map(\.message)
        #expect(sent.count == 2)
        #expect(sent.contains { $0.hasPrefix("to log (failure): delivered") } && sent.contains { $0.hasPrefix("to log (risk_limit): delivered") })
        #expect(try await store.run(id: quiet)?.events.contains { $0.kind.hasPrefix("notify") } == false)
    }

    @Test func concurrentInstancesSplitTheWorkWithoutDoubles() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let plan = plan()
        let a = dispatcher(store, plan)
        let b = dispatcher(store, plan)
        _ = try await a.tick()
        var ids: [Int64] = []
        for n in 0..<6 {
            let id = try await run(store, plan, job: "trade")
            try await store.appendEvent(runID: id, kind: "retry", message: "attempt \(n) failed", instance: nil, now: wall.now())
            ids.append(id)
        }
        async let x = a.tick()
        async let y = b.tick()
        let (rx, ry) = try await (x, y)
        #expect(rx.sent + ry.sent == 6)
        #expect(sections.count == 6)
        #expect(Set(sections).count == 6)
    }

    @Test func foldsAlertsOverTheHourlyLimitIntoOneDigest() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let plan = plan(maxPerHour: 2)
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        var ids: [Int64] = []
        for n in 1...5 {
            let id = try await run(store, plan, job: "trade")
            try await store.appendEvent(runID: id, kind: "retry", message: "limit \(n)", instance: nil, now: wall.now())
            ids.append(id)
        }
        let report = try await dispatcher.tick()
        #expect(report == .init(sent: 2, failed: 0, folded: 3))
        #expect(try await store.run(id: ids[4])?.events.last?.kind == "notify-folded")
        wall.advance(1800)
        #expect(try await dispatcher.tick() == .init(), "no room yet: the digest waits")
        wall.advance(1801)
        #expect(try await dispatcher.tick() == .init(sent: 1, failed: 0, folded: 0))
        #expect(try await dispatcher.tick() == .init())
        #expect(sections.count == 3)
        #expect(sections.last == "## schedctl: 3 alerts held back by the rate limit")
        let file = try String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8)
        for n in 3...5 { #expect(file.contains("trade #\(ids[n - 1]) failure: limit \(n)")) }
        #expect(try await store.run(id: ids[2])?.events.last?.message.hasPrefix("to log (digest): delivered") == true)
    }

    @Test func aFailingNotifierIsRecordedAndNeverTouchesTheRun() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let (port, release) = try SMTPListener.refusingPort()
        defer { release() }
        let hook = ComponentSpec(name: "hook", type: "webhook", options: ["url": .string("http://127.0.0.1:\(port)/hook")])
        let plan = plan(extraNotifiers: ["hook": hook], notify: NotifyRule(on: [.failure, .skipped], to: ["hook", "log"]))
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        let id = try await run(store, plan, job: "quiet")
        try await store.appendEvent(runID: id, kind: "skipped", message: "misfired", instance: nil, now: wall.now())
        #expect(try await dispatcher.tick() == .init(sent: 1, failed: 0, folded: 0, retrying: 1))
        let found = try #require(try await store.run(id: id))
        #expect(found.run.state == .pending)
        let failed = try #require(found.events.first { $0.kind == "notify-retry" })
        #expect(failed.message.hasPrefix("to hook (skipped): attempt 1 failed (the webhook at 127.0.0.1 failed ("))
        #expect(sections == ["## schedctl: quiet skipped (run #\(id))"], "the file notifier still got it (the global default rule)")
    }

    @Test func engineFailuresRaiseAlertsEndToEnd() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        var job = try JobsRegistry.standard.parsed(
            JobSpec(
                name: "nightly", kind: "exec", schedule: Schedule(.interval(seconds: 86_400, aligned: false, zone: .utc)),
                options: ["command": .list([.string("/bin/sh"), .string("-c"), .string("echo boom; exit 3")])]))
        job.notify = NotifyRule(on: [.retriesExhausted], to: ["log"])
        let plan = plan(jobs: [job])
        let dispatcher = dispatcher(store, plan)
        _ = try await dispatcher.tick()
        let engine = Engine(store: store, plan: plan, registry: StandardKinds.registry, logger: Logger(label: "test"), wall: wall.source)
        try await engine.start()
        let id = try await store.enqueueManualRun(job: job, now: wall.now(), by: "test")
        _ = try await engine.executeNow(runID: id)
        #expect(try await store.run(id: id)?.run.state == .failed)
        #expect(try await dispatcher.tick().sent == 1)
        #expect(sections == ["## schedctl: nightly retries_exhausted (run #\(id))"])
        let file = try String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8)
        #expect(file.contains("exit status 3"))
        #expect(file.contains("Details: schedctl show \(id)"))
    }
}
