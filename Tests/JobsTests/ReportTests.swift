import Brokers
import Foundation
import Jobs
import Logging
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// Checkpoints in memory (the report job keeps the notifiers already served there).
final class MemoryCheckpoints: CheckpointAccess {
    let value = Mutex<String?>(nil)
    func load() async throws -> String? { value.withLock { $0 } }
    func save(_ value: String) async throws { self.value.withLock { $0 = value } }
}

@Suite("Reports")
struct ReportTests {
    static let sample: ReportData = {
        let zone = ZoneRules.newYork
        let at = try! Instant(iso8601: "2026-12-01T21:15:00Z")
        let order = Order(
            id: "P-1", accountID: "SIM1", symbol: "VTI", side: .buy, quantity: 10, filledQuantity: 10, averageFillPrice: Decimal(string: "271.5")!,
            limitPrice: nil, stopPrice: nil, state: .filled, brokerStatus: "FLL", openedAt: Date(timeIntervalSince1970: 1_764_600_000))
        let open = Order(
            id: "P-2", accountID: "SIM1", symbol: "BND", side: .sell, quantity: 5, filledQuantity: 0, averageFillPrice: nil, limitPrice: 72,
            stopPrice: nil, state: .working, brokerStatus: "ACK", openedAt: Date(timeIntervalSince1970: 1_764_600_060))
        return ReportData(
            title: "Daily trading report", at: at, zone: zone, sections: ReportData.Section.allCases,
            accounts: [
                ReportData.Account(
                    broker: "ts", account: "SIM1",
                    balance: AccountBalance(
                        accountID: "SIM1", cash: Decimal(string: "12345.678")!, buyingPower: 24691, equity: Decimal(string: "102500.5")!,
                        marketValue: Decimal(string: "90154.82")!),
                    positions: [
                        Position(accountID: "SIM1", symbol: "VTI", quantity: 200, averagePrice: Decimal(string: "250.1")!, marketValue: 54300),
                        Position(accountID: "SIM1", symbol: "BND", quantity: 500, averagePrice: 71, marketValue: Decimal(string: "35854.82")!),
                    ], orders: [open, order], equityAtDayStart: 101000, equityAtLastReport: Decimal(string: "103000.5")!),
                ReportData.Account(broker: "tv", account: "DEMO1", error: "cannot reach tradovate at demo.tradovateapi.com"),
            ],
            runs: [
                ReportData.RunLine(
                    id: 41, job: "rebalance-adm", state: "failed", at: try! Instant(iso8601: "2026-12-01T14:40:00Z"), reason: "exit status 1 <oops>"),
                ReportData.RunLine(id: 42, job: "renew", state: "skipped", at: try! Instant(iso8601: "2026-12-01T15:00:00Z"), reason: "misfire: latest"),
            ], runsSince: try! Instant(iso8601: "2026-11-30T21:15:00Z"),
            upcoming: [ReportData.Upcoming(job: "rebalance-adm", kind: "rebalance", at: try! Instant(iso8601: "2026-12-02T14:35:00Z"), rule: "XNYS open +5m")])
    }()

    /// The golden file `name` next to this test (set SCHEDCTL_UPDATE_GOLDEN=1 to rewrite it).
    static func golden(_ name: String, _ actual: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name)")
        if ProcessInfo.processInfo.environment["SCHEDCTL_UPDATE_GOLDEN"] == "1" { try actual.write(to: url, atomically: true, encoding: .utf8) }
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test func textIsMarkdownWithAlignedTables() throws {
        let text = ReportRenderer.text(Self.sample)
        #expect(text == (try Self.golden("report.md", text)))
    }

    @Test func htmlHasOneEscapedTablePerSection() throws {
        let html = ReportRenderer.html(Self.sample)
        #expect(html == (try Self.golden("report.html", html)))
        #expect(html.components(separatedBy: "<table").count - 1 == 6)
        #expect(html.contains("exit status 1 &lt;oops&gt;"))
    }

    @Test func smsDigestFitsOneSegment() {
        let short = ReportRenderer.short(Self.sample)
        #expect(
            short
                == "Daily trading report 2026-12-01: equity $102,500.50 (day +$1,500.50); 1 account unavailable; 2 orders, 1 filled; 1 failed, 1 skipped; next rebalance-adm 09:35"
        )
        #expect(SMSText.segments(short) == 1)
    }
}

/// `type: report` end to end: a paper account in the real store, a file and a webhook notifier,
/// a notifier failure that is retried without sending twice.
@Suite("Report job")
struct ReportJobTests {
    let directory = TemporaryDirectory()
    let wall = ManualWallClock("2026-12-01T21:15:00Z")

    func plan(hook: URL) throws -> Plan {
        var report = try JobsRegistry.standard.parsed(
            JobSpec(
                name: "daily", kind: "report", schedule: Schedule(.interval(seconds: 86_400, aligned: false, zone: .utc)),
                options: ["to": .list([.string("log"), .string("hook")]), "title": .string("Daily trading report")]))
        report.line = 12
        let trade = JobSpec(
            name: "rebalance-paper", kind: "noop", schedule: Schedule(.interval(seconds: 3600, aligned: true, zone: .utc)),
            options: ["broker": .string("paper")])
        return Plan(
            source: directory.file("jobs.yaml"), timezone: .newYork, database: directory.file("db.sqlite"), secrets: SecretsSettings(),
            brokers: ["paper": ComponentSpec(name: "paper", type: "paper", options: ["cash": .number(25_000)])], strategies: [:],
            notifiers: [
                "log": ComponentSpec(name: "log", type: "file", options: ["path": .string("reports.md")]),
                "hook": ComponentSpec(name: "hook", type: "webhook", options: ["url": .string(hook.absoluteString), "secret": .secret("hook/key")]),
            ], calendars: [:], service: ServiceSettings(), jobs: [report, trade])
    }

    @Test func deliversToEveryNotifierAndRetriesOnlyTheOnesThatFailed() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let receiver = WebhookReceiver()
        try await receiver.start()
        let plan = try plan(hook: receiver.url)
        let secrets = DictionarySecrets(["hook/key": "hook-signing-key"])
        let brokers = BrokerFactory(store: store, vault: { throw JobFailure("no vault in this test") })
        let environment = ReportEnvironment(
            store: store, plan: { plan }, brokerage: { try await brokers.brokerage($0) },
            notifiers: NotifierFactory(secrets: secrets, baseDirectory: directory.path, sleep: SleepRecorder().sleep, wall: wall.source), wall: wall.source)
        let job = ReportJob(environment: environment)
        let spec = try #require(plan.job(named: "daily"))

        func attempt(_ runID: Int64, _ checkpoints: MemoryCheckpoints) async throws -> RunOutcome {
            try await job.run(
                RunContext(
                    job: spec, runID: runID, nominal: Instant(wall.now()), attempt: 1, generation: 1, logger: Logger(label: "test"), checkpoints: checkpoints,
                    secrets: secrets, events: StoreRunEvents(store: store, runID: runID, instance: nil, wall: wall.source)))
        }

        let first = try await store.enqueueManualRun(job: spec, now: wall.now(), by: "test")
        let outcome = try await attempt(first, MemoryCheckpoints())
        #expect(outcome.summary == "report sent to log, hook")
        let file = try String(contentsOfFile: directory.file("reports.md"), encoding: .utf8)
        #expect(file.hasPrefix("## Daily trading report — 2026-12-01\n"))
        #expect(file.contains("| paper  | paper   | $25,000.00 |"))
        #expect(file.contains("| paper   | $25,000.00 |   — |                 — |"), "no earlier report: no P&L base yet")
        #expect(file.contains("| rebalance-paper | noop | 2026-12-01 17:00 | every 1h"))
        let body = try #require(receiver.received.first).body
        let html = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["html"] as? String
        #expect(html?.contains("<td style=\"border: 1px solid #ccc; padding: 2px 6px; text-align: right\">$25,000.00</td>") == true)
        #expect(
            try await store.run(id: first)?.events.filter { $0.kind == "notify-sent" }.map(\.message) == [
                "to log (report): delivered", "to hook (report): delivered",
            ])

        wall.advance(86_400)
        receiver.respond(500, 500, 500, 500)
        let second = try await store.enqueueManualRun(job: spec, now: wall.now(), by: "test")
        let checkpoints = MemoryCheckpoints()
        let failure = await #expect(throws: JobFailure.self) { try await attempt(second, checkpoints) }
        #expect(failure?.kind == .jobFailed)
        #expect(failure?.message.hasPrefix("the report was not delivered to 1 of 2 notifiers: hook: the webhook at 127.0.0.1 failed 4 times") == true)
        #expect(checkpoints.value.withLock { $0 } == "log")
        _ = try await attempt(second, checkpoints)
        await receiver.stop()
        let again = try String(contentsOfFile: directory.file("reports.md"), encoding: .utf8)
        #expect(again.components(separatedBy: "## Daily trading report").count - 1 == 2, "the retry did not append the report again")
        #expect(again.contains("| paper   | $25,000.00 | $0.00 |             $0.00 |"), "the previous report is the base of both P&L columns")
        #expect(receiver.received.count == 1 + 4 + 1)
        #expect(!again.contains("hook-signing-key"))
    }

    @Test func aRetriedReportTextsOnlyTheNumberThatMissedIt() async throws {
        let store = try StoreSchema.open(path: directory.file("db.sqlite"))
        let twilio = TwilioSimulator()
        try await twilio.start()
        try await withSandbox(twilio) { _ in
            twilio.addAccount(sid: "AC123", authToken: "tok-123")
            var plan = try plan(hook: URL(string: "http://127.0.0.1:9/hook")!)
            plan.notifiers["phone"] = ComponentSpec(
                name: "phone", type: "twilio",
                options: [
                    "account_sid": .secret("twilio/sid"), "auth_token": .secret("twilio/token"), "from": .string("+15550001111"),
                    "to": .list([.string("+15550002222"), .string("+15550003333")]), "base_url": .string(twilio.baseURL.absoluteString),
                ])
            plan.jobs[0].options["to"] = .list([.string("log"), .string("phone")])
            plan.jobs[0] = try JobsRegistry.standard.parsed(plan.jobs[0])
            let frozen = plan
            let secrets = DictionarySecrets(["twilio/sid": "AC123", "twilio/token": "tok-123"])
            let brokers = BrokerFactory(store: store, vault: { throw JobFailure("no vault in this test") })
            let environment = ReportEnvironment(
                store: store, plan: { frozen }, brokerage: { try await brokers.brokerage($0) },
                notifiers: NotifierFactory(secrets: secrets, baseDirectory: directory.path, sleep: SleepRecorder().sleep, wall: wall.source), wall: wall.source)
            let spec = try #require(plan.job(named: "daily"))
            let runID = try await store.enqueueManualRun(job: spec, now: wall.now(), by: "test")
            let checkpoints = MemoryCheckpoints()
            func attempt() async throws -> RunOutcome {
                try await ReportJob(environment: environment).run(
                    RunContext(
                        job: spec, runID: runID, nominal: Instant(wall.now()), attempt: 1, generation: 1, logger: Logger(label: "test"),
                        checkpoints: checkpoints,
                        secrets: secrets, events: StoreRunEvents(store: store, runID: runID, instance: nil, wall: wall.source)))
            }
            twilio.enqueueFaults(.status(500))
            let failure = await #expect(throws: JobFailure.self) { try await attempt() }
            #expect(failure?.kind == .jobFailed)
            #expect(failure?.message.contains("+15550002222: HTTP 500") == true)
            #expect(twilio.messages.map(\.to) == ["+15550003333"])
            _ = try await attempt()
            #expect(twilio.messages.map(\.to) == ["+15550003333", "+15550002222"], "the retry texted only the number that missed it")
            #expect(checkpoints.value.withLock { $0 } == "log,phone")
        }
    }

    @Test func validationNamesUnknownSectionsAndBrokersAtTheJobsLine() throws {
        var plan = try plan(hook: URL(string: "http://127.0.0.1:9/hook")!)
        plan.jobs[0].options["sections"] = .list([.string("balances"), .string("pnl"), .string("fills")])
        plan.jobs[0].options["brokers"] = .list([.string("tradestation")])
        #expect(
            ReportJob.problems(in: plan).map(\.description) == [
                "\(plan.source):12:0: jobs.daily.sections: unknown section 'fills'; use any of balances, positions, orders, pnl, runs, upcoming",
                "\(plan.source):12:0: jobs.daily.brokers: unknown broker 'tradestation'; defined: paper",
            ])
    }
}
