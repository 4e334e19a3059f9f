import ArgumentParser
import Foundation
import Inspection
import Scheduler

/// `schedctl next`: upcoming fire times of a configured job or of an ad hoc rule.
struct NextCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "next",
        abstract: "Show upcoming fire times of a job, or of a rule given on the command line.",
        discussion: """
            Examples:
              schedctl next rebalance-adm --count 3
              schedctl next --cron '5 9 * * mon-fri' --tz America/New_York
              schedctl next --every 15m --align --after 2026-11-27T14:00:00Z
              schedctl next --market XNYS --at close --offset -10m --days last-trading-day-of-month
            """)

    @Argument(help: "A job in the configuration.") var job: String?
    @OptionGroup var options: ConfigOptions
    @Option(help: "A cron expression (5 or 6 fields, or @daily …).") var cron: String?
    @Option(help: "Time zone for --cron and --every --align (default UTC).") var tz: String?
    @Option(help: "An interval such as 15m.") var every: String?
    @Flag(help: "With --every: align to the wall clock (:00, :15, …).") var align = false
    @Option(help: "An exchange: XNYS or CME.") var market: String?
    @Option(help: "With --market: open or close.") var at: String?
    @Option(parsing: .unconditional, help: "With --market: shift from the event, e.g. 5m or -10m.") var offset: String?
    @Option(help: "With --market: every-trading-day, first-/last-trading-day-of-week/-month, or mon,wed,fri.") var days: String?
    @Option(help: "Start after this ISO 8601 instant (default: now).") var after: String?
    @Option(help: "How many fire times to show.") var count = 5
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await exiting {
            let (schedule, spec, plan) = try resolveJobOrRule()
            let start: Instant
            if let after {
                start = try reporting(code: 64, prefix: "--after: ") { try Instant(iso8601: after) }
            } else {
                start = Instant(Date())
            }
            guard (1...100_000).contains(count) else { throw CommandFailure(message: "--count must be from 1 to 100000", code: 64) }
            var instants = schedule.upcoming(after: start, count: count)
            if let spec, let plan, JobGrid.dependsOnWatermark(schedule), let watermark = await Wiring.watermarks(plan)[spec.name] {
                // The job's own series, as `serve` fires it.
                instants = JobGrid.upcoming(schedule, after: start, watermark: watermark, count: count)
            }
            var note: String?
            var nextTradeDate: String?
            if let spec, let plan, spec.schedule.strategyRule != nil {
                // days: strategy: only the fire the strategy's next trade date gives is known.
                let records = await StrategyDatesView.records(for: plan)
                instants = StrategyDatesView.nextFire(spec, after: start, records: records).map { [$0] } ?? []
                note = StrategyDatesView.note(spec, records: records)
                nextTradeDate = records[spec.name]?.gate.nextTradeDate?.description
            }
            let zone = schedule.displayZone
            if json {
                if let nextTradeDate {
                    let rows = instants.map { instant -> [String: String] in
                        [
                            "at": instant.iso8601, "local": instant.iso8601(in: zone), "zone": zone.identifier, "rule": schedule.explain(instant),
                            "next_trade_date": nextTradeDate,
                        ]
                    }
                    print(try JSONText.encode(rows))
                } else if instants.isEmpty {
                    print(try JSONText.encode([[String: String]]()))
                } else {
                    try StandardOutput.write(FireTimesJSON.render(instants, schedule: schedule, zone: zone))
                }
                return
            }
            if let note { print("days: strategy — \(note); later fire times follow the strategy's next announcements") }
            if instants.isEmpty {
                print("no fire times after \(start)")
                return
            }
            var table = TextTable(headers: ["#", "local (\(zone.identifier))", "UTC", "rule"])
            for (index, instant) in instants.enumerated() {
                table.add([String(index + 1), zone.local(instant).weekdayDescription, instant.iso8601, schedule.explain(instant)])
            }
            print(table.render())
        }
    }

    /// The job's schedule (with the job and its plan), or the ad hoc rule.
    private func resolveJobOrRule() throws -> (Schedule, JobSpec?, Plan?) {
        if let job {
            guard [cron != nil, every != nil, market != nil].allSatisfy({ !$0 }) else {
                throw CommandFailure(message: "give a job name or an ad hoc rule (--cron, --every, --market), not both", code: 64)
            }
            let plan = try Wiring.loadPlan(options.path)
            guard let spec = plan.job(named: job) else {
                let names = plan.jobs.map(\.name)
                throw CommandFailure(message: "no job '\(job)' in \(plan.source); jobs: \(names.joined(separator: ", "))", code: 2)
            }
            return (spec.schedule, spec, plan)
        }
        return (try resolveSchedule(), nil, nil)
    }

    private func resolveSchedule() throws -> Schedule {
        let adHoc = [cron != nil, every != nil, market != nil].filter { $0 }.count
        guard adHoc == 1 else { throw CommandFailure(message: "give a job name, or exactly one of --cron, --every, --market", code: 64) }
        // The same builder as jobs.yaml's `schedule:`, so the rules and messages agree.
        var fields: [(key: String, value: String)] = []
        if let cron { fields.append(("cron", cron)) }
        if let every { fields.append(("every", every)) }
        if align { fields.append(("align", "true")) }
        if let market { fields.append(("market", market.uppercased())) }
        if let at { fields.append(("at", at)) }
        if let offset { fields.append(("offset", offset)) }
        if let days { fields.append(("days", days)) }
        if let tz { fields.append(("timezone", tz)) }
        do {
            return try Wiring.loader.schedule(fields, source: "the command line")
        } catch {
            let flags = [
                "cron": "--cron", "every": "--every", "align": "--align", "market": "--market", "at": "--at", "offset": "--offset", "days": "--days",
                "timezone": "--tz",
            ]
            let lines = error.diagnostics.map { diagnostic -> String in
                let key = diagnostic.path.split(separator: ".").last.map(String.init) ?? ""
                return "\(flags[key] ?? "the rule"): \(diagnostic.message)"
            }
            throw CommandFailure(message: lines.joined(separator: "\n"), code: 64)
        }
    }
}

extension LocalDateTime {
    /// `Fri 2026-11-27 09:35`.
    var weekdayDescription: String { "\(date.weekday.shortName.capitalized) \(description)" }
}

/// `schedctl jobs`: the configured jobs with their rules and next fire times.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List the configured jobs, their schedules and next fire times.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Start after this ISO 8601 instant (default: now).") var after: String?
    @Flag(help: "Print JSON: [{job, type, schedule, next, description}].") var json = false

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let start = try reporting(code: 64, prefix: "--after: ") { try after.map { try Instant(iso8601: $0) } ?? Instant(Date()) }
            let records = await StrategyDatesView.records(for: plan)
            let watermarks = plan.jobs.contains { JobGrid.dependsOnWatermark($0.schedule) } ? await Wiring.watermarks(plan) : [:]
            let rows = plan.jobs.map { job -> [String: String] in
                let next =
                    JobGrid.dependsOnWatermark(job.schedule)
                    ? JobGrid.next(job.schedule, after: start, watermark: watermarks[job.name])?.iso8601
                    : StrategyDatesView.nextFire(job, after: start, records: records)?.iso8601
                var row = [
                    "job": job.name, "type": job.kind, "schedule": job.schedule.summary,
                    "next": next ?? (job.schedule.strategyRule == nil ? "never" : "unknown"),
                ]
                if let description = job.description { row["description"] = description }
                if let date = records[job.name]?.gate.nextTradeDate, job.schedule.strategyRule != nil { row["next_trade_date"] = date.description }
                if let note = StrategyDatesView.note(job, records: records) { row["schedule"]! += " (\(note))" }
                return row
            }
            if json {
                print(try JSONText.encode(rows))
                return
            }
            var table = TextTable(headers: ["job", "type", "next (UTC)", "schedule"])
            for row in rows { table.add([row["job"]!, row["type"]!, row["next"]!, row["schedule"]!]) }
            print(table.render())
        }
    }
}
