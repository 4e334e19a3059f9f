import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// `status` says a paused job is paused, and since when, instead of offering a next fire it will
/// not make; `--json` keeps `next` (the job's grid) and adds `paused_since`.
@Suite("schedctl status shows paused jobs as paused")
struct StatusPausedCLITests {
    @Test("a paused job shows paused since when, an active one its next fire")
    func pausedJob() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-paused")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        jobs:
          held: { type: noop, paused: true, schedule: { every: 1h } }
          stopped: { type: noop, schedule: { every: 1h } }
          live: { type: noop, schedule: { every: 1h } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let plan = try ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry)).load(file: config)
        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        _ = try await store.registerJobs(plan.jobs, now: try Instant(iso8601: "2026-11-26T00:00:07Z").date)
        let stopped = try #require(plan.jobs.first { $0.name == "stopped" })
        #expect(try await store.pause(job: stopped, now: try Instant(iso8601: "2026-11-26T00:30:00Z").date))

        let text = try await CLITests.run(["status", "--config", config])
        #expect(text.status == 0, "\(text.stderr)")
        let rows = text.stdout.split(separator: "\n").map(String.init)
        let held = try #require(rows.first { $0.hasPrefix("held ") }, "\(text.stdout)")
        #expect(held.contains("paused since 2026-11-26T00:00:07.000Z"), "\(held)")
        #expect(!held.contains(":00:07Z  "), "no next fire for a paused job: \(held)")
        let stoppedRow = try #require(rows.first { $0.hasPrefix("stopped ") }, "\(text.stdout)")
        #expect(stoppedRow.contains("paused since 2026-11-26T00:30:00.000Z"), "\(stoppedRow)")
        let live = try #require(rows.first { $0.hasPrefix("live ") }, "\(text.stdout)")
        #expect(live.contains("active") && !live.contains("paused") && live.contains(":00:07Z"), "\(live)")

        let json = try await CLITests.run(["status", "--config", config, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let jobs = try #require(object["jobs"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: jobs.compactMap { j in (j["job"] as? String).map { ($0, j) } })
        #expect(byName["held"]?["state"] as? String == "paused")
        #expect(byName["held"]?["paused_since"] as? String == "2026-11-26T00:00:07.000Z")
        #expect(byName["held"]?["next"] is String, "next stays in the shape")
        #expect(byName["stopped"]?["paused_since"] as? String == "2026-11-26T00:30:00.000Z")
        #expect(byName["live"]?["state"] as? String == "active" && byName["live"]?["paused_since"] == nil)
    }
}

/// `session status` shows `updated`, the liveness stamp a running session rewrites at least every 5 s.
@Suite("schedctl session status shows when each session last wrote its row")
struct SessionStatusUpdatedCLITests {
    @Test("the text table has the updated column")
    func updatedColumn() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-session-updated")
        let config = directory.file("jobs.yaml")
        try "database: state.sqlite\njobs:\n  tick: { type: noop, paused: true, schedule: { every: 1h } }\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let control = SessionControl(store: store)
        let opened = try Instant(iso8601: "2026-11-23T16:00:00Z").date
        try await control.begin(
            job: "es-day", run: 7, tradeDate: try #require(LocalDate(year: 2026, month: 11, day: 23)), stopAt: opened.addingTimeInterval(1800), locked: false,
            now: opened)
        try await control.update(job: "es-day", run: 7, state: "running", locked: false, detail: "{}", now: opened.addingTimeInterval(5))
        let text = try await CLITests.run(["session", "status", "--config", config])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("updated (UTC)"), "\(text.stdout)")
        let row = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("es-day ") }, "\(text.stdout)")
        #expect(row.contains("2026-11-23T16:00:05Z"), "\(row)")
    }
}
