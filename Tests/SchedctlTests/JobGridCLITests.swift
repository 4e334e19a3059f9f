import Foundation
import Testing

/// `next JOB`, `jobs` and `status` show an unaligned `every` job's fires on its own series (from
/// the watermark the database keeps), the instants `serve` fires, not an interval from "now".
@Suite("schedctl next and jobs follow the job's series")
struct JobGridCLITests {
    static func iso(_ text: String?) throws -> Date {
        let formatter = ISO8601DateFormatter()
        return try #require(text.flatMap { formatter.date(from: $0) }, "not an ISO 8601 instant: \(text ?? "nil")")
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    @Test("an every-1h job's fires continue from its watermark")
    func fromWatermark() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schedctl-grid-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("jobs.yaml").path
        try "database: state.sqlite\njobs:\n  hourly: { type: noop, schedule: { every: 1h } }\n".write(toFile: config, atomically: true, encoding: .utf8)

        // Before any database exists: one interval after --after, and no database is created.
        let fresh = try await CLITests.run(["next", "hourly", "--config", config, "--after", "2026-11-26T00:00:00Z", "--count", "1", "--json"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(try CLITests.json(fresh.stdout).map { $0["at"] } == ["2026-11-26T01:00:00Z"])
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("state.sqlite").path))

        // `pause` records the job with its watermark (now); the series counts from there.
        let paused = try await CLITests.run(["pause", "hourly", "--config", config])
        #expect(paused.status == 0, "\(paused.stderr)")
        let status = try await CLITests.run(["status", "--config", config, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let jobs = try #require(object["jobs"] as? [[String: Any]])
        let watermark = try Self.iso(jobs.first?["watermark"] as? String)

        let after = Self.iso(watermark.addingTimeInterval(90 * 60))
        let expected = [Self.iso(watermark.addingTimeInterval(2 * 3600)), Self.iso(watermark.addingTimeInterval(3 * 3600))]
        let next = try await CLITests.run(["next", "hourly", "--config", config, "--after", after, "--count", "2", "--json"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try CLITests.json(next.stdout).map { $0["at"] } == expected)
        let listed = try await CLITests.run(["jobs", "--config", config, "--after", after, "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try CLITests.json(listed.stdout).first?["next"] == expected.first)
    }
}
