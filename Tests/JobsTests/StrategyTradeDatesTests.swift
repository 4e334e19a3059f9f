import Brokers
import Foundation
import Jobs
import Logging
import Sandbox
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Scheduler

private func date(_ text: String) -> LocalDate { try! LocalDate(parsing: text) }
private func instant(_ text: String) -> Instant { try! Instant(iso8601: text) }

/// Secrets from a dictionary (the vault has its own tests); values are redacted like the vault's.
struct TableSecrets: SecretResolving {
    let values: [String: String]
    func resolve(_ name: String) async throws -> String {
        guard let value = values[name] else { throw JobFailure("secret '\(name)' is not in the vault", retryable: false) }
        return value
    }
    func redact(_ text: String) -> String { values.values.reduce(text) { $0.replacingOccurrences(of: $1, with: "‹redacted›") } }
}

/// A kind that takes a strategy and counts its runs (the rebalance kind's stand-in for timing).
final class CountingStrategyJob: JobKind, Sendable {
    let name = "strategy-probe"
    let options: [OptionSpec] = [OptionSpec("strategy", .strategyReference, required: true)]
    private let nominals = Mutex<[Instant]>([])
    var runs: [Instant] { nominals.withLock { $0 } }
    func run(_ context: RunContext) async throws -> RunOutcome {
        nominals.withLock { $0.append(context.nominal) }
        return RunOutcome(summary: "probed")
    }
}

@Suite("days: strategy against the Penny Vault simulator", .serialized)
struct StrategyTradeDatesTests {
    let directory = TemporaryDirectory(prefix: "schedctl-strategy-dates")

    func plan(_ simulator: PennyVaultSimulator, store: Store, portfolio: String = "growth-slug") -> Plan {
        let job = JobSpec(
            name: "rebalance-growth", kind: "strategy-probe",
            schedule: Schedule(.market(MarketRule(market: .xnys, calendar: NYSECalendar(), event: .open, offset: .seconds(300), days: .strategy))),
            options: ["strategy": .string("growth")])
        var service = ServiceSettings()
        service.shutdownGrace = .zero
        return Plan(
            source: "jobs.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: [:],
            strategies: [
                "growth": ComponentSpec(
                    name: "growth", type: "pennyvault",
                    options: [
                        "portfolio": .string(portfolio), "token": .secret("pennyvault/token"), "base_url": .string(simulator.baseURL.absoluteString),
                    ])
            ],
            notifiers: [:], calendars: [:], service: service, jobs: [job])
    }

    @Test("refreshes at most hourly, keeps the last date when Penny Vault fails, and names the failure")
    func hourlyRefresh() async throws {
        let simulator = PennyVaultSimulator()
        try await simulator.start()
        try await withSandbox(simulator) { _ in
            simulator.setPortfolio("growth-slug", date: "2026-12-02", weights: [("VTI", 1)])
            let store = try Store(path: directory.file("a.sqlite"))
            let wall = ManualWallClock("2026-11-30T12:00:00Z")
            let plan = plan(simulator, store: store)
            let secrets = TableSecrets(values: ["pennyvault/token": "pv-test-token"])
            let dates = StrategyTradeDates(store: store, secrets: secrets, plan: { plan }, now: wall.source, sleeper: .immediate)

            var records = await dates.refresh()
            #expect(records["rebalance-growth"]?.gate.nextTradeDate == date("2026-12-02"))
            #expect(simulator.requestCount == 1)
            wall.advance(59 * 60)
            records = await dates.refresh()
            #expect(simulator.requestCount == 1)  // asked less than an hour ago
            wall.advance(2 * 60)
            simulator.setPortfolio("growth-slug", date: "2026-12-07", weights: [("VTI", 1)])
            records = await dates.refresh()
            #expect(simulator.requestCount == 2)
            #expect(records["rebalance-growth"]?.gate.nextTradeDate == date("2026-12-07"))

            // A refused token: the date stays, the error is recorded (without the token).
            simulator.setTokens(["another-token"])
            records = await dates.refresh(force: true)
            let record = try #require(records["rebalance-growth"])
            #expect(record.gate.nextTradeDate == date("2026-12-07"))
            #expect(record.gate.lastError?.contains("refused the API token") == true)
            #expect(record.gate.lastError?.contains("pv-test-token") == false)
        }
    }

    @Test("the engine runs the job only on the strategy's trade dates, and each run records the next date it saw")
    func engineFiresOnTradeDates() async throws {
        let simulator = PennyVaultSimulator()
        try await simulator.start()
        try await withSandbox(simulator) { _ in
            simulator.setPortfolio("growth-slug", date: "2026-12-02", weights: [("VTI", 1)])
            let store = try Store(path: directory.file("b.sqlite"))
            let wall = ManualWallClock("2026-11-30T12:00:00Z")
            let plan = plan(simulator, store: store)
            let secrets = TableSecrets(values: ["pennyvault/token": "pv-test-token"])
            let dates = StrategyTradeDates(store: store, secrets: secrets, plan: { plan }, now: wall.source, sleeper: .immediate)
            let probe = CountingStrategyJob()
            let engine = Engine(
                store: store, plan: plan, registry: StrategyDateRecordingKind.wrapping(JobKindRegistry([probe]), dates: dates),
                logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: "t",
                wall: wall.source, clock: ManualClock(), random: { 0.5 }, secrets: secrets)
            try await engine.start()
            await dates.refresh()

            func day(_ iso: String) async {
                wall.set(iso)
                await dates.refresh()
                _ = await engine.tick()
                await engine.waitForIdle()
            }
            await day("2026-11-30T14:40:00Z")
            await day("2026-12-01T14:40:00Z")
            #expect(probe.runs.isEmpty)
            await day("2026-12-02T14:40:00Z")
            #expect(probe.runs == [instant("2026-12-02T14:35:00Z")])
            let first = try #require(try await store.history(job: "rebalance-growth", limit: 10).first)
            #expect(first.state == .succeeded)
            #expect(first.summary == "probed; next trade date 2026-12-02")
            #expect(try await store.strategyTradeDates()["rebalance-growth"]?.runID == first.id)

            // Penny Vault still says Dec 2 the next morning: no second run for the same date.
            await day("2026-12-03T14:40:00Z")
            #expect(probe.runs.count == 1)
            // It announces Dec 7; the hourly refresh picks it up; Dec 4 passes, Dec 7 runs.
            simulator.setPortfolio("growth-slug", date: "2026-12-07", weights: [("VTI", 1)])
            await day("2026-12-04T14:40:00Z")
            await day("2026-12-07T14:40:00Z")
            #expect(probe.runs == [instant("2026-12-02T14:35:00Z"), instant("2026-12-07T14:35:00Z")])
            let history = try await store.history(job: "rebalance-growth", limit: 10)
            #expect(history.filter { $0.state == .skipped }.count == 1)  // Dec 3: already ran for Dec 2
            #expect(history.filter { $0.state == .succeeded }.count == 2)
        }
    }
}
