import Foundation
import Jobs
import Scheduler

/// Figures for the scheduling foundation (never pass/fail): next-fire evaluations per second for
/// cron and exchange-relative schedules, and the time to validate a generated 10,000-job
/// `jobs.yaml`. Run in release: `swift run -c release schedbench`.
func runFoundationBenchmarks() {
    let clock = ContinuousClock()
    // Fixed start: nothing depends on the machine's clock.
    let start = Instant(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z
    let wrap = Instant(seconds: 4_102_444_800)  // 2100-01-01T00:00:00Z: restart from `start` past it
    var checksum: Int64 = 0

    /// Chains `next(after:)` for about `budget` of wall time; returns evaluations per second.
    func measure(_ schedule: Schedule, budget: Duration = .milliseconds(400)) -> Double {
        var cursor = start
        var evaluations = 0
        let began = clock.now
        var elapsed: Duration = .zero
        while elapsed < budget {
            for _ in 0..<256 {
                if let next = schedule.next(after: cursor), next < wrap {
                    cursor = next
                } else {
                    cursor = start
                }
                checksum &+= cursor.seconds
            }
            evaluations += 256
            elapsed = clock.now - began
        }
        return Double(evaluations) / seconds(elapsed)
    }

    func seconds(_ duration: Duration) -> Double {
        let (s, atto) = duration.components
        return Double(s) + Double(atto) / 1e18
    }

    func rate(_ value: Double) -> String {
        if value >= 1e6 { return String(format: "%.2f M/s", value / 1e6) }
        if value >= 1e3 { return String(format: "%.1f k/s", value / 1e3) }
        return String(format: "%.0f /s", value)
    }

    func row(_ label: String, _ value: String) {
        print(label.padding(toLength: 60, withPad: " ", startingAt: 0) + value)
    }

    print("schedbench — foundation (next-fire evaluations per second; higher is better)")
    print("")
    print("cron")
    let expressions = ["*/5 * * * *", "35 9 * * mon-fri", "0 17 * * 1-5", "30 2 * * *", "0 0 1 * *", "0 0 29 2 *", "*/20 * * * * *"]
    for zoneName in ["UTC", "America/New_York"] {
        guard let zone = ZoneRules.named(zoneName) else { continue }
        for text in expressions {
            guard let expression = try? CronExpression(text) else { continue }
            row("  '\(text)' \(zoneName)", rate(measure(Schedule.cron(expression, zone: zone))))
        }
    }

    print("")
    print("exchange-relative")
    let nyse = Market.xnys.calendar()
    let cme = Market.cme.calendar()
    let market: [(String, MarketRule)] = [
        ("XNYS open +5m", MarketRule(market: .xnys, calendar: nyse, event: .open, offset: .seconds(300))),
        ("XNYS close -10m", MarketRule(market: .xnys, calendar: nyse, event: .close, offset: .seconds(-600))),
        ("CME close -10m", MarketRule(market: .cme, calendar: cme, event: .close, offset: .seconds(-600))),
        ("CME open -5m", MarketRule(market: .cme, calendar: cme, event: .open, offset: .seconds(-300))),
        (
            "XNYS open +5m, first trading day of month",
            MarketRule(market: .xnys, calendar: nyse, event: .open, offset: .seconds(300), days: .firstTradingDayOfMonth)
        ),
        ("XNYS close, last trading day of week", MarketRule(market: .xnys, calendar: nyse, event: .close, days: .lastTradingDayOfWeek)),
    ]
    for (label, rule) in market {
        row("  \(label)", rate(measure(Schedule(.market(rule)))))
    }

    print("")
    print("interval")
    row("  every 15m aligned (America/New_York)", rate(measure(Schedule(.interval(seconds: 900, aligned: true, zone: .newYork)))))

    print("")
    print("calendars and configuration")
    var began = clock.now
    for _ in 0..<5 {
        checksum &+= Int64(NYSECalendar().sessions(in: LocalDate(year: 2026, month: 1, day: 1)!...LocalDate(year: 2026, month: 1, day: 5)!).count)
    }
    row("  build the XNYS calendar (1990–2200 tables)", String(format: "%.1f ms", seconds(clock.now - began) * 1000 / 5))
    began = clock.now
    for _ in 0..<5 { checksum &+= Int64(CMECalendar().sessions(in: LocalDate(year: 2026, month: 1, day: 1)!...LocalDate(year: 2026, month: 1, day: 5)!).count) }
    row("  build the CME calendar (1990–2200 tables)", String(format: "%.1f ms", seconds(clock.now - began) * 1000 / 5))

    validateFigure()
    print("")
    print("checksum \(checksum)")
}

/// The time to validate a generated 10,000-job `jobs.yaml` (best of 3).
func validateFigure() {
    let clock = ContinuousClock()
    let jobCount = 10_000
    let yaml = generatedConfiguration(jobs: jobCount)
    let loader = ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry))
    var best: Duration = .seconds(3600)
    var loaded = 0
    for _ in 0..<3 {
        let t0 = clock.now
        do {
            let plan = try loader.load(text: yaml, file: "bench.yaml", baseDirectory: "/tmp")
            loaded = plan.jobs.count
        } catch {
            print("  generated configuration is invalid: \(error.diagnostics.prefix(3))")
            return
        }
        best = min(best, clock.now - t0)
    }
    let label = "  validate \(jobCount) jobs (\(yaml.utf8.count / 1024) KiB YAML, best of 3)"
    let elapsed = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
    print(label.padding(toLength: 60, withPad: " ", startingAt: 0) + String(format: "%.0f ms (%d jobs)", elapsed * 1000, loaded))
}

/// A `jobs.yaml` with `jobs` jobs mixing cron, interval, one-shot and market schedules.
func generatedConfiguration(jobs count: Int) -> String {
    var text = """
        timezone: America/New_York
        database: state/bench.sqlite
        brokers:
          paper: { type: paper, cash: 100000 }
        calendars:
          XNYS: { closures: [2026-12-31], early_closes: { 2026-12-30: "13:00" } }
        jobs:

        """
    let crons = ["*/5 * * * *", "35 9 * * mon-fri", "0 17 * * 1-5", "30 2 * * *", "0 0 1 * *", "15 10 * jan,jul mon"]
    for i in 0..<count {
        let schedule: String
        switch i % 5 {
        case 0: schedule = "{ cron: \"\(crons[i % crons.count])\" }"
        case 1: schedule = "{ every: \(5 + i % 50)m, jitter: 10s }"
        case 2: schedule = "{ market: XNYS, at: open, offset: \(i % 30)m, days: first-trading-day-of-month }"
        case 3: schedule = "{ market: CME, at: close, offset: -\(1 + i % 60)m }"
        default: schedule = "{ cron: \"0 9 * * *\", timezone: Europe/London, dst: { spring_forward: skip, fall_back: both } }"
        }
        if i % 2 == 0 {
            text +=
                "  job-\(i):\n    type: noop\n    schedule: \(schedule)\n    misfire: { policy: latest, grace: 5m }\n    retry: { attempts: 3, backoff: 10s }\n"
        } else {
            text +=
                "  job-\(i):\n    type: exec\n    command: [\"/bin/echo\", \"\(i)\"]\n    env: { TOKEN: secret:bench/token }\n    schedule: \(schedule)\n    timeout: 1m\n"
        }
    }
    return text
}
