import Foundation
import SchedctlTesting
import Scheduler
import Testing

/// `next --json` writes its rows by hand for speed: the text must be exactly what JSONEncoder
/// (pretty, sorted keys) gives for the same rows, across DST changes and market rules.
@Suite("next --json text")
struct NextJSONTests {
    func expected(_ schedule: Schedule, after: String, count: Int) throws -> String {
        let zone = schedule.displayZone
        let rows = schedule.upcoming(after: try Instant(iso8601: after), count: count).map { instant -> [String: String] in
            ["at": instant.iso8601, "local": instant.iso8601(in: zone), "zone": zone.identifier, "rule": schedule.explain(instant)]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(rows), as: UTF8.self) + "\n"
    }

    @Test func handWrittenRowsEqualJSONEncoderOutput() async throws {
        let zone = try #require(ZoneRules.named("America/New_York"))
        let cases: [([String], Schedule)] = [
            (["--cron", "30 1-3 * * *", "--tz", "America/New_York"], Schedule.cron(try CronExpression("30 1-3 * * *"), zone: zone)),
            (["--every", "45m"], Schedule(.interval(seconds: 2700, aligned: false, zone: .utc))),
            (
                ["--market", "XNYS", "--at", "close", "--offset", "-10m"],
                Schedule(.market(MarketRule(market: .xnys, calendar: Market.xnys.calendar(), event: .close, offset: .seconds(-600), days: .everyTradingDay)))
            ),
        ]
        for (arguments, schedule) in cases {
            let result = try await SchedctlBinary.run(["next"] + arguments + ["--after", "2026-10-30T00:00:00Z", "--count", "400", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == (try expected(schedule, after: "2026-10-30T00:00:00Z", count: 400)), "\(arguments)")
        }
    }

    /// Ad hoc rules go through the configuration loader's schedule builder: same rules, same words.
    @Test func adHocRulesAreJudgedLikeJobsYAML() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-next-rules")
        let config = directory.file("jobs.yaml")
        for (flags, schedule) in [
            (["--every", "7m", "--align"], "{ every: 7m, align: true }"),
            (["--market", "XNYS", "--at", "open", "--offset", "13h"], "{ market: XNYS, at: open, offset: 13h }"),
            (["--cron", "61 * * * *"], "{ cron: \"61 * * * *\" }"),
        ] {
            try "jobs:\n  x: { type: noop, schedule: \(schedule) }\n".write(toFile: config, atomically: true, encoding: .utf8)
            let validated = try await SchedctlBinary.run(["validate", "--config", config])
            let next = try await SchedctlBinary.run(["next"] + flags)
            #expect(validated.status == 1 && next.status == 64, "\(flags)")
            let message = try #require(next.stderr.split(separator: "\n").first.map { String($0.split(separator: ": ", maxSplits: 2).last ?? "") })
            #expect(!message.isEmpty && (validated.stdout + validated.stderr).contains(message), "\(flags): '\(message)' vs \(validated.stderr)")
        }
    }
}
