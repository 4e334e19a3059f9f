import Jobs
import Scheduler
import Testing

/// `notify:` in jobs.yaml: per job and as the file's default; unknown events and notifiers are
/// reported with their line and column.
@Suite("Configuration: notify rules")
struct NotifyConfigTests {
    static let loader = ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry))

    static func diagnostics(_ yaml: String) -> [String] {
        do {
            _ = try loader.load(text: yaml, file: "jobs.yaml", baseDirectory: "/tmp")
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    let header = """
        notifiers:
          phone: { type: twilio, account_sid: secret:t/sid, auth_token: secret:t/token, from: "+15550001111", to: ["+15550002222"] }
          log: { type: file, path: alerts.md, max_per_hour: 3 }

        """

    @Test func jobRulesReplaceTheDefault() throws {
        let plan = try Self.loader.load(
            text: header + """
                notify: { on: [failure, retries_exhausted], to: [phone] }
                jobs:
                  a: { type: noop, schedule: { every: 1h } }
                  b: { type: noop, schedule: { every: 1h }, notify: { on: [skipped, risk_limit], to: [log, phone] } }
                  c: { type: noop, schedule: { every: 1h }, notify: { on: [] } }
                """, file: "jobs.yaml", baseDirectory: "/tmp")
        #expect(plan.notify == NotifyRule(on: [.failure, .retriesExhausted], to: ["phone"]))
        #expect(plan.notifyRule(job: "a") == plan.notify)
        #expect(plan.notifyRule(job: "b") == NotifyRule(on: [.skipped, .riskLimit], to: ["log", "phone"]))
        #expect(plan.notifyRule(job: "c")?.alert(forEventKind: "failed") == nil)
        #expect(plan.notifyRule(job: "a")?.alert(forEventKind: "failed") == .retriesExhausted)
        #expect(plan.notifyRule(job: "a")?.alert(forEventKind: "retry") == .failure)
        #expect(plan.notifyRule(job: "b")?.alert(forEventKind: "risk-limit") == .riskLimit)
        #expect(NotifierFactory.maxPerHour(try #require(plan.notifiers["log"])) == 3)
    }

    @Test func unknownEventsAndNotifiersAreReportedWhereTheyAre() {
        let found = Self.diagnostics(
            header + """
                notify: { on: [failure], to: [pager] }
                jobs:
                  a: { type: noop, schedule: { every: 1h }, notify: { on: [failed, skiped], to: [phone] } }
                  b: { type: noop, schedule: { every: 1h }, notify: { on: [failure] } }
                  c: { type: noop, schedule: { every: 1h }, notify: { on: [failure], to: [log], when: always } }
                """)
        #expect(
            found == [
                "jobs.yaml:4:31: notify.to: unknown notifier 'pager'; expected one of: log, phone",
                "jobs.yaml:6:60: jobs.a.notify.on: unknown event 'failed'; expected one of: abandoned, failure, flatten_failed, orphan_elsewhere, rebalance_done, retries_exhausted, risk_limit, session_report, skipped, token_expiring",
                "jobs.yaml:6:68: jobs.a.notify.on: unknown event 'skiped' — did you mean 'skipped'?",
                "jobs.yaml:7:53: jobs.b.notify: missing 'to'; name the notifiers that receive the alerts, e.g. to: [phone]",
                "jobs.yaml:8:81: jobs.c.notify.when: unknown key 'when'; expected one of: expire, on, to",
            ], "\(found.joined(separator: "\n"))")
    }

    @Test func expireAndDuplicateNotifiersAreChecked() throws {
        let found = Self.diagnostics(
            header + """
                notify: { on: [failure], to: [log, log] }
                jobs:
                  a: { type: noop, schedule: { every: 1h }, notify: { on: [failure], to: [log], expire: 30s } }
                  b: { type: noop, schedule: { every: 1h }, notify: { on: [failure], to: [log], expire: soon } }
                """)
        #expect(
            found == [
                "jobs.yaml:4:30: notify.to: 'log' is named twice; name each notifier once",
                "jobs.yaml:6:89: jobs.a.notify.expire: expire must be at least 1m: an alert needs time for its retries",
                "jobs.yaml:7:89: jobs.b.notify.expire: 'soon' is not a duration; write it like 30s, 15m, 1h30m or 2d",
            ], "\(found.joined(separator: "\n"))")
    }

    @Test func notifierOptionsAreChecked() {
        let found = Self.diagnostics(
            """
            notifiers:
              inbox: { type: email, smtp_url: "smtp://mail.example.test:587", from: a@example.test, to: [b@example.test], password: hunter2 }
              hook: { type: webhook, url: "https://example.test/hook", secret: plain, retries: 3 }
            jobs:
              a: { type: noop, schedule: { every: 1h } }
            """)
        #expect(found.count == 3, "\(found)")
        #expect(found.contains { $0.hasPrefix("jobs.yaml:2:") && $0.contains("notifiers.inbox.password: credentials do not belong in jobs.yaml") })
        #expect(found.contains { $0.hasPrefix("jobs.yaml:3:") && $0.contains("notifiers.hook.secret: credentials do not belong") })
        #expect(found.contains { $0.hasPrefix("jobs.yaml:3:") && $0.contains("unknown key 'retries'") })
    }
}
