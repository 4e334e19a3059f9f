import Foundation
import SchedctlTesting
import Testing

/// `schedctl notify test NAME` and the notifier checks of `validate`, on the real binary.
@Suite("schedctl notify")
struct NotifyCLITests {
    let directory = TemporaryDirectory()

    func write(_ yaml: String) throws -> String {
        let path = directory.file("jobs.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func testMessageIsDeliveredOrExitsNonZero() async throws {
        let config = try write(
            """
            notifiers:
              log: { type: file, path: alerts.md }
              down: { type: file, path: /nonexistent-schedctl-dir/alerts.md }
            notify: { on: [failure], to: [log] }
            jobs:
              a: { type: noop, schedule: { every: 1h } }
            """)
        let ok = try await SchedctlBinary.run(["notify", "test", "log", "--config", config])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout == "log (file): delivered\n")
        let file = try String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8)
        #expect(file.hasPrefix("## schedctl test message (log)\n"))
        let down = try await SchedctlBinary.run(["notify", "test", "down", "--config", config])
        #expect(down.status == 1)
        #expect(down.stderr.hasPrefix("error: not delivered: notifier 'down': cannot open /nonexistent-schedctl-dir/alerts.md"))
        let missing = try await SchedctlBinary.run(["notify", "test", "pager", "--config", config])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no notifier 'pager'"))

        let log = try await SchedctlBinary.run(["notify", "log", "--json", "--config", config])
        #expect(log.status == 0, "\(log.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]], "\(log.stdout)")
        #expect(entries.map { $0["notifier"] as? String } == ["down", "log"], "newest first")
        #expect(entries.map { $0["state"] as? String } == ["failed", "delivered"])
        #expect(entries.allSatisfy { $0["event"] as? String == "test" && $0["attempts"] as? Int == 1 && ($0["id"] as? String)?.count == 36 })
        #expect((entries.first?["last_error"] as? String)?.contains("cannot open /nonexistent-schedctl-dir/alerts.md") == true)
        let table = try await SchedctlBinary.run(["notify", "log", "--limit", "1", "--config", config])
        #expect(table.stdout.hasPrefix("id "), "\(table.stdout)")
        #expect(table.stdout.split(separator: "\n").count == 2 && table.stdout.contains("down") && !table.stdout.contains(" log "))
        #expect(try await SchedctlBinary.run(["notify", "log", "--limit", "0", "--config", config]).status == 64)
    }

    @Test func validateRejectsPlainTextSMTPToARemoteRelayAndUnknownReportSections() async throws {
        let config = try write(
            """
            notifiers:
              inbox: { type: email, smtp_url: "smtp://mail.example.test:587", from: a@example.test, to: [b@example.test], starttls: "off" }
            jobs:
              daily: { type: report, to: [inbox], sections: [balances, fills], schedule: { cron: "0 17 * * 1-5" } }
            """)
        let result = try await SchedctlBinary.run(["validate", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("notifiers.inbox: starttls: off would send mail and the password in clear to mail.example.test"))
        #expect(result.stderr.contains("\(config):4:49: jobs.daily.sections: unknown section 'fills'"))
    }
}
