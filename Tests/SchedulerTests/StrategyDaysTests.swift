import Foundation
import SchedctlBase
import SchedctlTesting
import Testing

@testable import Scheduler

/// `days: strategy`: the trade-date gate in the occurrence planner, its store table, and validation.
@Suite("days: strategy")
struct StrategyDaysTests {
    /// XNYS open + 5m, days: strategy (Chicago/New York dates are the trade dates).
    static let job = JobSpec(
        name: "rebalance-growth", kind: "rebalance",
        schedule: Schedule(
            .market(MarketRule(market: .xnys, calendar: NYSECalendar(), event: .open, offset: .seconds(300), days: .strategy))))

    static func plan(_ gate: TradeDateGate?, watermark: String, now: String, job: JobSpec = job) -> OccurrencePlanner.Result {
        OccurrencePlanner.plan(job: job, watermark: instant(watermark), now: instant(now), active: .init(), gate: gate)
    }

    static func runs(_ result: OccurrencePlanner.Result) -> [String] {
        result.decisions.compactMap { if case .run(let at) = $0 { return at.iso8601 } else { return nil } }
    }

    static func skips(_ result: OccurrencePlanner.Result) -> [String] {
        result.decisions.compactMap { if case .skip(_, let reason) = $0 { return reason } else { return nil } }
    }

    @Test("sessions before the next trade date pass unrecorded; the first session on it runs")
    func beforeAndOn() {
        let gate = TradeDateGate(nextTradeDate: date("2026-12-02"))
        // Mon Nov 30 and Tue Dec 1 pass; Wed Dec 2 14:35Z runs.
        let result = Self.plan(gate, watermark: "2026-11-30T00:00:00Z", now: "2026-12-02T15:00:00Z")
        #expect(Self.runs(result) == ["2026-12-02T14:35:00Z"])
        #expect(
            result.decisions.filter { if case .pass = $0 { return true } else { return false } }.map(\.instant.iso8601) == [
                "2026-11-30T14:35:00Z", "2026-12-01T14:35:00Z",
            ])
        #expect(Self.skips(result).isEmpty)
        #expect(result.firedFor == date("2026-12-02"))
        #expect(result.watermark == instant("2026-12-02T14:35:00Z"))
    }

    @Test("a next trade date on a holiday fires on the next session on or after it")
    func onOrAfter() {
        // 2026-11-26 is Thanksgiving: the next session is Friday Nov 27.
        let result = Self.plan(TradeDateGate(nextTradeDate: date("2026-11-26")), watermark: "2026-11-25T00:00:00Z", now: "2026-11-27T15:00:00Z")
        #expect(Self.runs(result) == ["2026-11-27T14:35:00Z"])
    }

    @Test("one run per trade date: after it ran, later sessions are skipped with the reason until a new date is seen")
    func oncePerDate() {
        let gate = TradeDateGate(nextTradeDate: date("2026-12-02"), firedFor: date("2026-12-02"))
        let result = Self.plan(gate, watermark: "2026-12-02T14:35:00Z", now: "2026-12-03T15:00:00Z")
        #expect(Self.runs(result).isEmpty)
        #expect(Self.skips(result) == ["days: strategy: already ran for trade date 2026-12-02; waiting for the strategy's next trade date"])
        #expect(result.firedFor == nil)
        // A new date moves the gate on.
        let moved = Self.plan(
            TradeDateGate(nextTradeDate: date("2026-12-31"), firedFor: date("2026-12-02")), watermark: "2026-12-02T14:35:00Z", now: "2026-12-03T15:00:00Z")
        #expect(Self.runs(moved).isEmpty)
        #expect(Self.skips(moved).isEmpty)
    }

    @Test("catching up after downtime runs once, for the latest session on or after the date")
    func catchUp() {
        var job = Self.job
        job.misfire = MisfirePolicy(mode: .all)
        let result = Self.plan(TradeDateGate(nextTradeDate: date("2026-12-01")), watermark: "2026-11-30T00:00:00Z", now: "2026-12-03T15:00:00Z", job: job)
        #expect(Self.runs(result) == ["2026-12-03T14:35:00Z"])
        #expect(Self.skips(result).count == 2)
        #expect(Self.skips(result).allSatisfy { $0.contains("one run per trade date") })
    }

    @Test("an unknown next trade date is recorded as skipped, with the last error")
    func unknown() {
        let result = Self.plan(
            TradeDateGate(lastError: "Penny Vault refused the API token"), watermark: "2026-12-01T00:00:00Z", now: "2026-12-01T15:00:00Z")
        #expect(Self.runs(result).isEmpty)
        #expect(Self.skips(result) == ["days: strategy: the strategy's next trade date is not known yet (last attempt: Penny Vault refused the API token)"])
        // No gate read at all is the same as nothing known.
        #expect(Self.runs(Self.plan(nil, watermark: "2026-12-01T00:00:00Z", now: "2026-12-01T15:00:00Z")).isEmpty)
    }

    @Test("a late candidate skipped by the misfire policy leaves the date open for the next session")
    func misfireKeepsDateOpen() {
        var job = Self.job
        job.misfire = MisfirePolicy(mode: .skip, grace: .seconds(60))
        let result = Self.plan(TradeDateGate(nextTradeDate: date("2026-12-01")), watermark: "2026-11-30T20:00:00Z", now: "2026-12-01T16:00:00Z", job: job)
        #expect(Self.runs(result).isEmpty)
        #expect(result.firedFor == nil)
        #expect(Self.skips(result).first?.hasPrefix("misfire") == true)
    }

    @Test("nextFire follows the gate")
    func nextFire() {
        let gate = TradeDateGate(nextTradeDate: date("2026-12-07"))
        #expect(gate.nextFire(of: Self.job.schedule, after: instant("2026-12-01T00:00:00Z")) == instant("2026-12-07T14:35:00Z"))
        #expect(TradeDateGate().nextFire(of: Self.job.schedule, after: instant("2026-12-01T00:00:00Z")) == nil)
        let ran = TradeDateGate(nextTradeDate: date("2026-12-07"), firedFor: date("2026-12-07"))
        #expect(ran.nextFire(of: Self.job.schedule, after: instant("2026-12-01T00:00:00Z")) == nil)
    }

    @Test("the claim reads the gate from the store and records the date it ran for")
    func claimThroughTheStore() async throws {
        let directory = TemporaryDirectory()
        let store = try Store(path: directory.file("state.sqlite"))
        let wall = ManualWallClock("2026-11-30T00:00:00Z")
        _ = try await store.registerJobs([Self.job], now: wall.now())
        // Nothing known yet: Monday's session is skipped with the reason.
        wall.set("2026-11-30T14:40:00Z")
        _ = try await store.claim([Self.job], now: wall.now(), instance: "t")
        var history = try await store.history(job: Self.job.name, limit: 100)
        #expect(history.map(\.state) == [.skipped])
        #expect(history.first?.reason?.contains("not known yet") == true)

        try await store.recordStrategyTradeDate(job: Self.job.name, strategy: "growth", date: date("2026-12-02"), at: wall.now())
        wall.set("2026-12-01T14:40:00Z")
        _ = try await store.claim([Self.job], now: wall.now(), instance: "t")
        #expect(try await store.history(job: Self.job.name, limit: 100).count == 1)  // Tuesday passes, unrecorded
        wall.set("2026-12-02T14:40:00Z")
        let outcome = try await store.claim([Self.job], now: wall.now(), instance: "t")
        #expect(outcome.first?.inserted.count == 1)
        let record = try #require(try await store.strategyTradeDates()[Self.job.name])
        #expect(record.gate.firedFor == date("2026-12-02"))
        #expect(record.strategy == "growth")
        wall.set("2026-12-03T14:40:00Z")
        _ = try await store.claim([Self.job], now: wall.now(), instance: "t")
        history = try await store.history(job: Self.job.name, limit: 100)
        #expect(history.filter { $0.state == .pending }.count == 1)
        #expect(history.filter { $0.reason?.contains("already ran for trade date 2026-12-02") == true }.count == 1)

        // A failed refresh keeps the date and records the error.
        try await store.recordStrategyTradeDate(job: Self.job.name, strategy: "growth", date: nil, error: "HTTP 500", at: wall.now())
        let failed = try #require(try await store.strategyTradeDates()[Self.job.name])
        #expect(failed.gate.nextTradeDate == date("2026-12-02"))
        #expect(failed.gate.lastError == "HTTP 500")
    }
}

@Suite("days: strategy validation")
struct StrategyDaysValidationTests {
    static func diagnostics(_ yaml: String) -> [Diagnostic] {
        ConfigTests.diagnostics(yaml, catalog: ConfigTests.withReferences)
    }

    static let strategies = """
        brokers:
          paper: { type: paper }
        strategies:
          growth: { type: pennyvault, portfolio: my-slug, token: secret:pennyvault/token }
          sixty-forty: { type: weights, weights: { VTI: 0.6, BND: 0.4 } }
        jobs:

        """

    @Test("a pennyvault strategy is accepted")
    func accepted() throws {
        let plan = try ConfigTests.load(
            Self.strategies
                + "  r:\n    type: rebalance\n    broker: paper\n    strategy: growth\n    schedule: { market: XNYS, at: open, offset: 5m, days: strategy }\n",
            catalog: ConfigTests.withReferences)
        #expect(plan.jobs.first?.schedule.strategyRule != nil)
        #expect(plan.jobs.first?.schedule.summary == "XNYS open +5m, trading days on or after the strategy's next trade date")
    }

    /// The loader names no strategy type: it asks the type's capability, so a type of another
    /// name that announces trade dates is accepted, and the fix names the types that do.
    @Test("any strategy type that announces trade dates is accepted")
    func byCapability() throws {
        var catalog = ConfigTests.withReferences
        catalog.strategies["oracle"] = [OptionSpec("portfolio", .string, required: true)]
        catalog.componentCapabilities["strategies", default: [:]]["oracle"] = [.tradeDates]
        let plan = try ConfigTests.load(
            "strategies:\n  seer: { type: oracle, portfolio: p }\nbrokers:\n  paper: { type: paper }\njobs:\n"
                + "  r:\n    type: rebalance\n    broker: paper\n    strategy: seer\n    schedule: { market: XNYS, at: open, days: strategy }\n",
            catalog: catalog)
        #expect(plan.jobs.first?.schedule.strategyRule != nil)
        let refused = ConfigTests.diagnostics(
            Self.strategies
                + "  r:\n    type: rebalance\n    broker: paper\n    strategy: sixty-forty\n    schedule: { market: XNYS, at: open, days: strategy }\n",
            catalog: catalog)
        #expect(refused.first?.message.contains("or a oracle or pennyvault strategy") == true, "\(refused)")
    }

    @Test("a weights strategy is an error naming the line and the fix")
    func weights() {
        let found = Self.diagnostics(
            Self.strategies
                + "  r:\n    type: rebalance\n    broker: paper\n    strategy: sixty-forty\n    schedule:\n      market: XNYS\n      at: open\n      days: strategy\n"
        )
        #expect(found.count == 1)
        #expect(found.first?.line == 14)
        #expect(found.first?.path == "jobs.r.schedule.days")
        #expect(found.first?.message.contains("strategy 'sixty-forty' is type weights") == true)
        #expect(found.first?.message.contains("first-trading-day-of-month") == true)
        #expect(found.first?.description.contains("jobs.yaml:14") == true)
    }

    @Test("a job without strategy:, or of a type without one, is an error")
    func missingStrategy() {
        let noStrategy = Self.diagnostics(
            Self.strategies + "  r:\n    type: rebalance\n    broker: paper\n    schedule: { market: XNYS, at: open, days: strategy }\n")
        #expect(noStrategy.count == 1)
        #expect(noStrategy.first?.message.contains("add 'strategy: NAME'") == true)
        let exec = Self.diagnostics(
            Self.strategies + "  e:\n    type: exec\n    command: [\"true\"]\n    schedule: { market: XNYS, at: open, days: strategy }\n")
        #expect(exec.count == 1)
        #expect(exec.first?.message.contains("this job type has none") == true)
    }

    @Test("days: strategy is not an ad hoc rule")
    func notAdHoc() {
        #expect(DayRule.parse("strategy") == nil)
    }
}
