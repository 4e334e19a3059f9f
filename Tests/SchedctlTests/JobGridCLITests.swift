import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// `next JOB`, `jobs`, `status` and the plan `serve` prints show an unaligned `every` job's fires
/// on its own series (from the watermark the database keeps), the instants `serve` fires, not
/// one interval from "now".
@Suite("schedctl next, jobs, status and serve follow the job's series")
struct JobGridCLITests {
    @Test("an every-1h job's fires continue from its watermark")
    func fromWatermark() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-grid")
        let config = directory.file("jobs.yaml")
        try
            "database: state.sqlite\njobs:\n  hourly: { type: noop, paused: true, schedule: { every: 1h } }\n  often: { type: noop, paused: true, schedule: { every: 10s } }\n"
            .write(
                toFile: config, atomically: true, encoding: .utf8)

        // Before any database exists: one interval after --after, and no database is created.
        let fresh = try await CLITests.run(["next", "hourly", "--config", config, "--after", "2026-11-26T00:00:00Z", "--count", "1", "--json"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(try CLITests.json(fresh.stdout).map { $0["at"] } == ["2026-11-26T01:00:00Z"])
        #expect(!FileManager.default.fileExists(atPath: directory.file("state.sqlite")))

        // The job was first seen at 00:00:07 on 2026-11-26: its fires are at seven seconds past each hour.
        let plan = try ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry)).load(file: config)
        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        _ = try await store.registerJobs(plan.jobs, now: try Instant(iso8601: "2026-11-26T00:00:07Z").date)

        let next = try await CLITests.run(["next", "hourly", "--config", config, "--after", "2026-11-26T01:30:00Z", "--count", "2", "--json"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try CLITests.json(next.stdout).map { $0["at"] } == ["2026-11-26T02:00:07Z", "2026-11-26T03:00:07Z"])
        let listed = try await CLITests.run(["jobs", "--config", config, "--after", "2026-11-26T01:30:00Z", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try CLITests.json(listed.stdout).first?["next"] == "2026-11-26T02:00:07Z")

        // Now: the next fire is still on the series (hh:00:07).
        let before = Date()
        let status = try await CLITests.run(["status", "--config", config, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stderr)")
        let jobs = try #require(object["jobs"] as? [[String: Any]])
        #expect((jobs.first { $0["job"] as? String == "hourly" }?["next"] as? String)?.hasSuffix(":00:07Z") == true, "\(jobs)")
        // Far more than 10,000 intervals behind: still the next fire after now, on the series.
        let often = try #require(jobs.first { $0["job"] as? String == "often" }?["next"] as? String)
        #expect(often.hasSuffix("7Z"), "\(often)")
        let oftenNext = try #require(ISO8601DateFormatter().date(from: often))
        #expect(oftenNext > before.addingTimeInterval(-1), "\(often) is in the past")

        let log = directory.file("serve.log")
        let serve = try SchedctlBinary.serve(config: config, log: log)
        defer { kill(serve.processIdentifier, SIGKILL) }
        let printed = try await pollUntil { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("msg=started") }
        kill(serve.processIdentifier, SIGTERM)
        try await exited(serve)
        #expect(printed, "serve never started")
        let row = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").first { $0.hasPrefix("hourly ") }
        #expect(row?.hasSuffix(":00:07Z") == true, "\(row ?? "no plan row")")
    }
}
