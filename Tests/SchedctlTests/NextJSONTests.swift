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
}
