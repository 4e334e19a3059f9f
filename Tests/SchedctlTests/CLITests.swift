import Foundation
import SchedctlTesting
import Testing

/// The `schedctl` executable, spawned as a user would run it.
///
/// The tests run the binary that `swift build` put next to the test bundle (or in
/// `<package>/.build/debug/`). `swift test` alone does not always build executables, so `.ci/run`
/// runs `swift build` first; a missing binary fails with a message that says so. Every run pins
/// `--after` and sets an odd `TZ`, so nothing depends on the machine's clock or time zone.
@Suite("schedctl command line")
struct CLITests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `schedctl`, if any.
    static var binary: URL? {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            // .build/<triple>/debug/schedctlPackageTests.xctest → .build/<triple>/debug/schedctl
            let bundle = URL(fileURLWithPath: first)
            candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("schedctl"))
            candidates.append(bundle.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schedctl"))
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/schedctl"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) && !$0.hasDirectoryPath }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `schedctl arguments` and waits for it.
    static func run(_ arguments: [String]) async throws -> Result {
        try await offPool { try runBlocking(arguments) }
    }

    static func runBlocking(_ arguments: [String]) throws -> Result {
        let executable = try #require(
            binary,
            "schedctl is not built: run 'swift build' (as .ci/run does) before 'swift test'; looked next to \(CommandLine.arguments.first ?? "?") and in \(packageRoot.path)/.build/debug"
        )
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schedctl-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout")
        let err = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TZ"] = "Pacific/Kiritimati"  // UTC+14: any accidental use of the machine zone shows
        environment["SCHEDCTL_CONFIG"] = nil
        process.environment = environment
        process.currentDirectoryURL = directory
        let stdoutHandle = try FileHandle(forWritingTo: out)
        let stderrHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try stdoutHandle.close()
        try stderrHandle.close()
        return Result(
            status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8), stderr: try String(contentsOf: err, encoding: .utf8))
    }

    static var rootConfig: String { packageRoot.appendingPathComponent("jobs.yaml").path }

    static func json(_ text: String) throws -> [[String: String]] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(value as? [[String: String]], "not an array of string objects: \(text)")
    }

    // MARK: jobs

    @Test("jobs lists every configured job with its next fire time")
    func jobsList() async throws {
        let result = try await Self.run(["jobs", "--config", Self.rootConfig, "--after", "2026-11-26T00:00:00Z", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.json(result.stdout)
        #expect(rows.map { $0["job"] ?? "" } == ["rebalance-paper", "heartbeat", "market-open", "before-globex-close", "month-start", "nightly-check"])
        #expect(rows.first { $0["job"] == "market-open" }?["next"] == "2026-11-27T14:35:00Z")
        #expect(rows.first { $0["job"] == "month-start" }?["next"] == "2026-12-01T14:35:00Z")
    }

    // MARK: validate

    @Test("validate accepts the root jobs.yaml and prints a summary")
    func validateOK() async throws {
        let result = try await Self.run(["validate", "--config", Self.rootConfig])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\(Self.rootConfig): OK — 6 jobs (1 rebalance, 2 noop, 3 exec), 1 broker, database "))
        #expect(result.stderr.isEmpty)
    }

    @Test("validate rejects a bad file with every error on stderr and exit status 1")
    func validateBad() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schedctl-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("jobs.yaml")
        try """
        timezone: America/New_Yrok
        jobs:
          a: { type: noop, schedule: { cron: "0 25 * * *" } }
          b: { type: noop, schedul: { every: 10s } }
        """.write(to: file, atomically: true, encoding: .utf8)
        let result = try await Self.run(["validate", "--config", file.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "error: invalid configuration",
                "\(file.path):1:11: timezone: unknown time zone 'America/New_Yrok' — did you mean 'America/New_York'?",
                "\(file.path):3:41: jobs.a.schedule.cron: hour 25 is out of range 0–23 in '0 25 * * *'",
                "\(file.path):4:3: jobs.b: missing 'schedule'; e.g. schedule: { cron: \"0 17 * * 1-5\" } or { market: XNYS, at: open, offset: 5m }",
                "\(file.path):4:20: jobs.b.schedul: unknown key 'schedul' — did you mean 'schedule'?",
                "4 errors in \(file.path)",
            ])
    }

    @Test("validate of a missing file fails with exit status 1")
    func validateMissing() async throws {
        let result = try await Self.run(["validate", "--config", "/nonexistent/jobs.yaml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/jobs.yaml: cannot read the file (no such file)"))
    }

    // MARK: next

    @Test("next --json prints an array of objects with 'at'")
    func nextJSON() async throws {
        let result = try await Self.run([
            "next", "--cron", "35 9 * * mon-fri", "--tz", "America/New_York", "--after", "2026-11-26T00:00:00Z", "--count", "3", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.json(result.stdout)
        #expect(rows.map { $0["at"] } == ["2026-11-26T14:35:00Z", "2026-11-27T14:35:00Z", "2026-11-30T14:35:00Z"])
        #expect(rows.first?["local"] == "2026-11-26T09:35:00-05:00")
        #expect(rows.first?["zone"] == "America/New_York")
        #expect(rows.first?["rule"] == "cron '35 9 * * mon-fri' (America/New_York)")
    }

    @Test("next for a market rule with a negative offset")
    func nextMarket() async throws {
        let result = try await Self.run([
            "next", "--market", "XNYS", "--at", "close", "--offset", "-10m", "--after", "2026-11-26T00:00:00Z", "--count", "2", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.json(result.stdout)
        #expect(rows.map { $0["at"] } == ["2026-11-27T17:50:00Z", "2026-11-30T20:50:00Z"])
        #expect(rows.first?["local"] == "2026-11-27T12:50:00-05:00")
    }

    @Test("next for a job of the configuration")
    func nextJob() async throws {
        let result = try await Self.run(["next", "market-open", "--config", Self.rootConfig, "--after", "2026-11-26T00:00:00Z", "--count", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix("#") == true)
        #expect(lines.dropFirst().first?.contains("Fri 2026-11-27 09:35") == true)
        #expect(lines.dropFirst().first?.contains("2026-11-27T14:35:00Z") == true)
        #expect(lines.last?.contains("2026-11-30T14:35:00Z") == true)
    }

    @Test("next for an unknown job exits 2")
    func nextUnknownJob() async throws {
        let result = try await Self.run(["next", "no-such-job", "--config", Self.rootConfig, "--after", "2026-11-26T00:00:00Z"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no job 'no-such-job'"))
    }

    @Test("next with a bad cron exits 64 and names the field")
    func nextBadCron() async throws {
        let result = try await Self.run(["next", "--cron", "61 * * * *", "--after", "2026-11-26T00:00:00Z"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("minute 61 is out of range 0–59"))
    }

    // MARK: calendar

    @Test("calendar --json is an array of {date, open, close}")
    func calendarJSON() async throws {
        let result = try await Self.run(["calendar", "XNYS", "--from", "2026-11-25", "--to", "2026-11-30", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.json(result.stdout)
        #expect(
            rows == [
                ["date": "2026-11-25", "open": "2026-11-25T14:30:00Z", "close": "2026-11-25T21:00:00Z"],
                ["date": "2026-11-27", "open": "2026-11-27T14:30:00Z", "close": "2026-11-27T18:00:00Z"],
                ["date": "2026-11-30", "open": "2026-11-30T14:30:00Z", "close": "2026-11-30T21:00:00Z"],
            ])
    }

    @Test("calendar CME for a year lists sessions and notes")
    func calendarCME() async throws {
        let result = try await Self.run(["calendar", "CME", "--year", "2026"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Good Friday short session"))
        #expect(result.stdout.contains("Martin Luther King Jr. Day halt, closes 12:00 CT"))
        #expect(result.stdout.contains("Christmas Day"))
    }

    @Test("calendar with an unknown market exits 64")
    func calendarUnknown() async throws {
        let result = try await Self.run(["calendar", "LSE", "--year", "2026"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown market 'LSE'"))
    }

    // MARK: help and version

    @Test("--version prints the version")
    func version() async throws {
        let result = try await Self.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test("--help lists the commands")
    func help() async throws {
        let result = try await Self.run(["--help"])
        #expect(result.status == 0)
        for command in ["validate", "next", "calendar"] { #expect(result.stdout.contains(command)) }
        #expect(result.stdout.contains("USAGE: schedctl"))
    }
}
