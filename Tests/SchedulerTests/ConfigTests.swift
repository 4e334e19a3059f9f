import Foundation
import Jobs
import Testing

@testable import Scheduler

/// `jobs.yaml` validation: one test per diagnostic the loader can produce (file, line, column,
/// key path and message), all problems in one pass, and the Plan of a valid file.
@Suite("Configuration")
struct ConfigTests {
    static let standard = StandardCatalog.catalog(kinds: StandardKinds.registry)

    /// The standard catalog plus a job kind that refers to brokers, strategies and notifiers.
    static let withReferences: ConfigCatalog = {
        var catalog = standard
        catalog.jobKinds["rebalance"] = [
            OptionSpec("broker", .brokerReference, required: true), OptionSpec("strategy", .strategyReference),
            OptionSpec("notify", .notifierReferences),
        ]
        return catalog
    }()

    static func load(_ yaml: String, catalog: ConfigCatalog = standard) throws(ConfigError) -> Plan {
        try ConfigLoader(catalog: catalog).load(text: yaml, file: "jobs.yaml", baseDirectory: "/etc/schedctl")
    }

    /// The diagnostics for `yaml` (empty when it is valid).
    static func diagnostics(_ yaml: String, catalog: ConfigCatalog = standard) -> [Diagnostic] {
        do {
            _ = try load(yaml, catalog: catalog)
            return []
        } catch {
            return error.diagnostics
        }
    }

    /// One expected diagnostic in `jobs.yaml`.
    struct Expected: Sendable, CustomStringConvertible {
        var line: Int
        var column: Int
        var path: String
        var message: String
        var description: String { "\(line):\(column) \(path): \(message)" }
        var diagnostic: Diagnostic { Diagnostic(file: "jobs.yaml", line: line, column: column, path: path, message: message) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        var expected: [Expected]
        var references = false
        var testDescription: String { name }
    }

    static func e(_ line: Int, _ column: Int, _ path: String, _ message: String) -> Expected {
        Expected(line: line, column: column, path: path, message: message)
    }

    /// A job that is valid on its own, to pad files that test something else.
    static let okJob = "jobs:\n  ok: { type: noop, schedule: { every: 10s } }\n"

    static let cases: [Case] = [
        // Keys.
        Case(
            name: "unknown job key with did-you-mean",
            yaml: """
                jobs:
                  a:
                    type: noop
                    schedul: { every: 10s }
                """,
            expected: [
                e(2, 3, "jobs.a", "missing 'schedule'; e.g. schedule: { cron: \"0 17 * * 1-5\" } or { market: XNYS, at: open, offset: 5m }"),
                e(4, 5, "jobs.a.schedul", "unknown key 'schedul' — did you mean 'schedule'?"),
            ]),
        Case(
            name: "unknown top-level key with did-you-mean", yaml: "timezon: UTC\n" + okJob,
            expected: [
                e(1, 1, "timezon", "unknown key 'timezon' — did you mean 'timezone'?")
            ]),
        Case(
            name: "unknown top-level key with the list of keys", yaml: "colour: red\n" + okJob,
            expected: [
                e(
                    1, 1, "colour",
                    "unknown key 'colour'; expected one of: brokers, calendars, database, jobs, notifiers, notify, secrets, service, strategies, timezone")
            ]),
        Case(
            name: "unknown schedule key",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s, alignn: true } }
                """, expected: [e(2, 44, "jobs.a.schedule.alignn", "unknown key 'alignn' — did you mean 'align'?")]),
        Case(
            name: "duplicate job name",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s } }
                  a: { type: noop, schedule: { every: 20s } }
                """, expected: [e(3, 3, "", "duplicate key 'a' (first defined at line 2); keep one")]),
        Case(
            name: "duplicate key inside a job",
            yaml: """
                jobs:
                  a:
                    type: noop
                    schedule: { every: 10s }
                    type: exec
                """, expected: [e(5, 5, "", "duplicate key 'type' (first defined at line 3); keep one")]),
        Case(
            name: "bad job name",
            yaml: """
                jobs:
                  my job: { type: noop, schedule: { every: 10s } }
                """, expected: [e(2, 3, "jobs.my job", "name 'my job' may use only letters, digits, '.', '_' and '-'")]),
        // Structure.
        Case(
            name: "top level is not a mapping", yaml: "- a\n- b\n",
            expected: [
                e(1, 1, "", "expected a mapping of settings at the top level, found a list")
            ]),
        Case(
            name: "no jobs section", yaml: "timezone: UTC\n",
            expected: [
                e(0, 0, "jobs", "no 'jobs:' section; add at least one job (see 'schedctl init')")
            ]),
        Case(name: "jobs is not a mapping", yaml: "jobs: 5\n", expected: [e(1, 7, "jobs", "expected a mapping, found '5'")]),
        Case(
            name: "component is not a mapping", yaml: "brokers:\n  paper: paper\n" + okJob,
            expected: [
                e(2, 10, "brokers.paper", "expected a mapping, found 'paper'")
            ]),
        Case(
            name: "zero interval", yaml: "jobs:\n  a: { type: noop, schedule: { every: 0s } }\n",
            expected: [
                e(2, 39, "jobs.a.schedule.every", "the interval must be a whole number of seconds, at least 1s")
            ]),
        Case(
            name: "type is not text",
            yaml: """
                jobs:
                  a: { type: [noop], schedule: { every: 10s } }
                """, expected: [e(2, 14, "jobs.a.type", "expected text, found a list")]),
        // Types and references.
        Case(
            name: "missing job type",
            yaml: """
                jobs:
                  a: { schedule: { every: 10s } }
                """, expected: [e(2, 3, "jobs.a", "missing 'type'; one of: exec, futures-session, noop, rebalance, report, token-renewal")]),
        Case(
            name: "unknown job type",
            yaml: """
                jobs:
                  a: { type: nop, schedule: { every: 10s } }
                """, expected: [e(2, 14, "jobs.a.type", "unknown job type 'nop' — did you mean 'noop'?")]),
        Case(
            name: "unknown broker type", yaml: "brokers:\n  main: { type: papr }\n" + okJob,
            expected: [
                e(2, 17, "brokers.main.type", "unknown broker type 'papr' — did you mean 'paper'?")
            ]),
        Case(
            name: "unknown strategy type", yaml: "strategies:\n  s: { type: weight }\n" + okJob,
            expected: [
                e(2, 14, "strategies.s.type", "unknown strategy type 'weight' — did you mean 'weights'?")
            ]),
        Case(
            name: "unknown notifier type", yaml: "notifiers:\n  n: { type: sms }\n" + okJob,
            expected: [
                e(2, 14, "notifiers.n.type", "unknown notifier type 'sms'; expected one of: email, file, twilio, webhook")
            ]),
        Case(
            name: "missing broker type", yaml: "brokers:\n  main: { cash: 5 }\n" + okJob,
            expected: [
                e(2, 3, "brokers.main", "missing 'type'; one of: paper, tradestation, tradovate")
            ]),
        Case(
            name: "unknown broker, strategy and notifier references",
            yaml: """
                brokers:
                  paper: { type: paper }
                notifiers:
                  inbox: { type: email, smtp_url: "smtp://localhost", from: a@example.com, to: [b@example.com] }
                jobs:
                  r:
                    type: rebalance
                    broker: papr
                    strategy: adm
                    notify: [inbox, phone]
                    schedule: { market: XNYS, at: open, offset: 5m }
                """,
            expected: [
                e(8, 13, "jobs.r.broker", "unknown broker 'papr' — did you mean 'paper'?"),
                e(9, 15, "jobs.r.strategy", "unknown strategy 'adm'; define it under 'strategies:'"),
                e(10, 21, "jobs.r.notify", "unknown notifier 'phone'; expected one of: inbox"),
            ], references: true),
        Case(
            name: "unknown notifier with none defined",
            yaml: """
                brokers:
                  paper: { type: paper }
                jobs:
                  r: { type: rebalance, broker: paper, notify: phone, schedule: { every: 1h } }
                """, expected: [e(4, 48, "jobs.r.notify", "unknown notifier 'phone'; define it under 'notifiers:'")], references: true),
        // Options.
        Case(
            name: "missing required keys",
            yaml: """
                brokers:
                  ts: { type: tradestation, environment: sim, client_id: secret:a, client_secret: secret:b }
                jobs:
                  x: { type: exec, schedule: { every: 1m } }
                """,
            expected: [
                e(2, 3, "brokers.ts", "missing required key 'account'"),
                e(4, 3, "jobs.x", "missing required key 'command'"),
            ]),
        Case(
            name: "secret-only option given plain text",
            yaml: """
                brokers:
                  ts:
                    type: tradestation
                    environment: sim
                    account: SIM123
                    client_id: abc123
                    client_secret: secret:ts/secret
                """ + "\n" + okJob,
            expected: [
                e(
                    6, 16, "brokers.ts.client_id",
                    "credentials do not belong in jobs.yaml; store it with 'schedctl secrets set NAME' and write 'secret:NAME' here")
            ]),
        Case(
            name: "invalid secret reference",
            yaml: """
                brokers:
                  ts:
                    type: tradestation
                    environment: sim
                    account: SIM123
                    client_id: "secret:bad name!"
                    client_secret: "secret:"
                """ + "\n" + okJob,
            expected: [
                e(
                    6, 16, "brokers.ts.client_id",
                    "'secret:bad name!' is not a valid secret reference; write secret:NAME with letters, digits, '.', '_', '/' or '-'"),
                e(7, 20, "brokers.ts.client_secret", "'secret:' is not a valid secret reference; write secret:NAME with letters, digits, '.', '_', '/' or '-'"),
            ]),
        Case(
            name: "choice, number, list and unknown option",
            yaml: """
                brokers:
                  ts: { type: tradestation, environment: prod, account: A, client_id: secret:a, client_secret: secret:b, acount: B }
                  paper: { type: paper, cash: lots }
                notifiers:
                  inbox: { type: email, smtp_url: "smtp://x", from: a@example.com, to: b@example.com }
                """ + "\n" + okJob,
            expected: [
                e(2, 42, "brokers.ts.environment", "'prod' is not allowed here; use 'sim' or 'live'"),
                e(2, 106, "brokers.ts.acount", "unknown key 'acount' — did you mean 'account'?"),
                e(3, 31, "brokers.paper.cash", "expected a number, found 'lots'"),
                e(5, 72, "notifiers.inbox.to", "expected a list, found 'b@example.com'"),
            ]),
        Case(
            name: "empty command",
            yaml: """
                jobs:
                  x: { type: exec, command: [], schedule: { every: 1m } }
                """, expected: [e(2, 29, "jobs.x.command", "the command is empty; give at least the program, e.g. [\"/bin/echo\", \"hello\"]")]),
        // Job settings.
        Case(
            name: "bad duration",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s }, timeout: 5 minutes }
                """, expected: [e(2, 55, "jobs.a.timeout", "'5 minutes' is not a duration; write it like 30s, 15m, 1h30m or 2d")]),
        Case(
            name: "negative duration",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s }, timeout: -5m }
                """, expected: [e(2, 55, "jobs.a.timeout", "'-5m' must not be negative")]),
        Case(
            name: "bad misfire policy",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s }, misfire: latset }
                """, expected: [e(2, 55, "jobs.a.misfire", "unknown misfire policy 'latset' — did you mean 'latest'?")]),
        Case(
            name: "bad misfire policy in a mapping",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s }, misfire: { policy: everything, grace: 1 minute } }
                """,
            expected: [
                e(2, 65, "jobs.a.misfire.policy", "unknown misfire policy 'everything'; expected one of: all, latest, skip"),
                e(2, 84, "jobs.a.misfire.grace", "'1 minute' is not a duration; write it like 30s, 15m, 1h30m or 2d"),
            ]),
        Case(
            name: "bad overlap policy",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s }, overlap: buffer-one }
                  b: { type: noop, schedule: { every: 10s }, overlap: queue }
                """,
            expected: [
                e(2, 55, "jobs.a.overlap", "unknown overlap policy 'buffer-one' — did you mean 'buffer_one'?"),
                e(3, 55, "jobs.b.overlap", "unknown overlap policy 'queue'; expected one of: allow, buffer_one, cancel_previous, skip"),
            ]),
        Case(
            name: "bad retry and paused",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 10s }, retry: 0, paused: maybe }
                  b: { type: noop, schedule: { every: 10s }, retry: { attempts: 3, backoff: 1m, max_backoff: 30s } }
                """,
            expected: [
                e(2, 53, "jobs.a.retry", "expected a whole number from 1 to 100, found '0'"),
                e(2, 64, "jobs.a.paused", "expected true or false, found 'maybe'"),
                e(3, 53, "jobs.b.retry", "max_backoff (30s) is shorter than backoff (1m); raise max_backoff"),
            ]),
        // Schedules.
        Case(
            name: "missing schedule", yaml: "jobs:\n  a: { type: noop }\n",
            expected: [
                e(2, 3, "jobs.a", "missing 'schedule'; e.g. schedule: { cron: \"0 17 * * 1-5\" } or { market: XNYS, at: open, offset: 5m }")
            ]),
        Case(
            name: "empty schedule", yaml: "jobs:\n  a: { type: noop, schedule: { jitter: 1s } }\n",
            expected: [
                e(2, 30, "jobs.a.schedule", "a schedule needs one of: cron, every, at, market")
            ]),
        Case(
            name: "two schedule forms",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { cron: "0 9 * * *", every: 1h } }
                """, expected: [e(2, 30, "jobs.a.schedule", "a schedule takes one of cron, every, at or market; found cron and every")]),
        Case(
            name: "cron out of range, column at the bad field",
            yaml: """
                jobs:
                  report:
                    type: noop
                    schedule: { cron: "0 25 * * *" }
                """, expected: [e(4, 26, "jobs.report.schedule.cron", "hour 25 is out of range 0–23 in '0 25 * * *'")]),
        Case(
            name: "cron in plain scalar form, column at the bad field",
            yaml: """
                jobs:
                  report:
                    type: noop
                    schedule: 0 9 * * 8
                """,
            expected: [
                e(4, 23, "jobs.report.schedule", "day-of-week 8 is out of range 0–7 or sun–sat (0 and 7 are Sunday) in '0 9 * * 8'")
            ]),
        Case(
            name: "cron single-quoted, column at the bad item",
            yaml: """
                jobs:
                  report: { type: noop, schedule: { cron: '0 9 1,2,40 * *' } }
                """, expected: [e(2, 52, "jobs.report.schedule.cron", "day-of-month 40 is out of range 1–31 in '0 9 1,2,40 * *'")]),
        Case(
            name: "cron that never fires",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { cron: "0 0 30 2 *" } }
                """, expected: [e(2, 38, "jobs.a.schedule.cron", "'0 0 30 2 *' can never fire: no month it allows has the day of the month it asks for")]),
        Case(
            name: "unknown time zone", yaml: "timezone: America/New_Yrok\n" + okJob,
            expected: [
                e(1, 11, "timezone", "unknown time zone 'America/New_Yrok' — did you mean 'America/New_York'?")
            ]),
        Case(
            name: "unknown schedule time zone",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { cron: "0 9 * * *", timezone: Qwxz/Vbnm } }
                """, expected: [e(2, 61, "jobs.a.schedule.timezone", "unknown time zone 'Qwxz/Vbnm'; use an IANA name such as America/New_York or UTC")]),
        Case(
            name: "bad DST policy",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { cron: "30 2 * * *", dst: { spring_forward: later, fall_back: twice } } }
                """,
            expected: [
                e(2, 75, "jobs.a.schedule.dst.spring_forward", "'later' is not allowed; use 'shift' or 'skip'"),
                e(2, 93, "jobs.a.schedule.dst.fall_back", "'twice' is not allowed; use 'first', 'last' or 'both'"),
            ]),
        Case(
            name: "interval not a whole number of seconds",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 500ms } }
                """, expected: [e(2, 39, "jobs.a.schedule.every", "the interval must be a whole number of seconds, at least 1s")]),
        Case(
            name: "align with an interval that does not divide a day",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 7m, align: true } }
                """,
            expected: [
                e(2, 39, "jobs.a.schedule.every", "align: true needs an interval that divides a day evenly (such as 5m, 15m, 1h, 4h); 7m does not")
            ]),
        Case(
            name: "jitter not shorter than the interval",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { every: 1m, jitter: 1m } }
                """, expected: [e(2, 51, "jobs.a.schedule.jitter", "jitter (1m) must be shorter than the interval (1m)")]),
        Case(
            name: "offset beyond ±12h",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { market: XNYS, at: open, offset: 13h } }
                  b: { type: noop, schedule: { market: CME, at: close, offset: -12h1m } }
                """,
            expected: [
                e(2, 64, "jobs.a.schedule.offset", "offset 13h moves the market open past the next session; keep it within ±12h"),
                e(3, 64, "jobs.b.schedule.offset", "offset -12h1m moves the market close past the next session; keep it within ±12h"),
            ]),
        Case(
            name: "bad market, event and missing at",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { market: NYSE, at: open } }
                  b: { type: noop, schedule: { market: XNYS, at: midday } }
                  c: { type: noop, schedule: { market: XNYS, offset: 5m } }
                """,
            expected: [
                e(2, 40, "jobs.a.schedule.market", "unknown market 'NYSE'; use XNYS (NYSE) or CME (Globex equity index futures)"),
                e(3, 50, "jobs.b.schedule.at", "'midday' is not a market event; use 'open' or 'close'"),
                e(4, 30, "jobs.c.schedule", "missing 'at: open' or 'at: close' for the market schedule"),
            ]),
        Case(
            name: "bad day rules",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { market: XNYS, at: open, days: first-trading-day-of-the-month } }
                  b: { type: noop, schedule: { market: XNYS, at: open, days: [mon, funday] } }
                """,
            expected: [
                e(2, 62, "jobs.a.schedule.days", "unknown day rule 'first-trading-day-of-the-month' — did you mean 'first-trading-day-of-month'?"),
                e(3, 68, "jobs.b.schedule.days", "'funday' is not a weekday; use mon, tue, wed, thu or fri"),
            ]),
        Case(
            name: "day lists that could never fire",
            yaml: """
                jobs:
                  a: { type: noop, schedule: { market: XNYS, at: open, days: [sat, sun] } }
                  b: { type: noop, schedule: { market: XNYS, at: open, days: "mon,sun" } }
                  c: { type: noop, schedule: { market: CME, at: open, days: [] } }
                """,
            expected: [
                e(2, 63, "jobs.a.schedule.days", "'sat' has no trading sessions; use mon, tue, wed, thu or fri"),
                e(2, 68, "jobs.a.schedule.days", "'sun' has no trading sessions; use mon, tue, wed, thu or fri"),
                e(3, 62, "jobs.b.schedule.days", "'sun' has no trading sessions; use mon, tue, wed, thu or fri"),
                e(4, 61, "jobs.c.schedule.days", "the list of days is empty; give weekdays such as [mon, wed, fri], or leave 'days' out for every trading day"),
            ]),
        Case(
            name: "one-shot at a bad time",
            yaml: """
                timezone: America/New_York
                jobs:
                  a: { type: noop, schedule: { at: "2026-03-08T02:30:00" } }
                  b: { type: noop, schedule: { at: tomorrow } }
                """,
            expected: [
                e(3, 36, "jobs.a.schedule.at", "2026-03-08 02:30 does not exist in America/New_York (daylight saving gap); pick another time"),
                e(4, 36, "jobs.b.schedule.at", "'tomorrow' is not a date and time; write 2026-12-01T14:35:00Z, or a local 2026-12-01T09:35:00 with timezone"),
            ]),
        // Calendars and service.
        Case(
            name: "bad calendar overrides",
            yaml: """
                calendars:
                  XNYS:
                    closures: [2026-13-01]
                    early_closes: { 2026-12-31: "25:00" }
                    holidays: []
                  LSE: {}
                """ + "\n" + okJob,
            expected: [
                e(3, 16, "calendars.XNYS.closures", "'2026-13-01' is not a date such as 2026-11-27"),
                e(4, 33, "calendars.XNYS.early_closes.2026-12-31", "'25:00' is not a time of day; write it like 13:00 (in the exchange's own time zone)"),
                e(5, 5, "calendars.XNYS.holidays", "unknown key 'holidays'; expected one of: closures, early_closes"),
                e(6, 3, "calendars.LSE", "unknown calendar 'LSE'; use XNYS or CME"),
            ]),
        Case(
            name: "bad service settings",
            yaml: """
                service:
                  max_concurrent_runs: 0
                  lease: 1s
                  log_format: xml
                  log_level: debg
                """ + "\n" + okJob,
            expected: [
                e(2, 24, "service.max_concurrent_runs", "expected a whole number from 1 to 10000, found '0'"),
                e(3, 10, "service.lease", "a lease shorter than 2s cannot be renewed reliably; use at least 2s"),
                e(4, 15, "service.log_format", "'xml' is not a log format; use 'logfmt' or 'json'"),
                e(5, 14, "service.log_level", "'debg' is not a log level — did you mean 'debug'?"),
            ]),
        Case(
            name: "bad retention",
            yaml: """
                service:
                  retention: { runs: 30m, failed: forever, keep: 1 }
                """ + "\n" + okJob,
            expected: [
                e(2, 22, "service.retention.runs", "keep history at least 1h (e.g. 90d); omit service.retention to keep it forever"),
                e(2, 35, "service.retention.failed", "'forever' is not a duration; write it like 30s, 15m, 1h30m or 2d"),
                e(2, 44, "service.retention.keep", "unknown key 'keep'; expected one of: failed, runs"),
            ]),
        Case(
            name: "bad http listen addresses",
            yaml: """
                service:
                  http: { listen: "localhost", tokn: x }
                """ + "\n" + okJob,
            expected: [
                e(2, 19, "service.http.listen", "'localhost' is not a listen address; write HOST:PORT, e.g. 127.0.0.1:8377 (port 0 picks a free one)"),
                e(2, 32, "service.http.tokn", "unknown key 'tokn' — did you mean 'token'?"),
            ]),
        Case(
            name: "http port out of range", yaml: "service:\n  http: { listen: 127.0.0.1:70000 }\n" + okJob,
            expected: [
                e(2, 19, "service.http.listen", "'127.0.0.1:70000' is not a listen address; write HOST:PORT, e.g. 127.0.0.1:8377 (port 0 picks a free one)")
            ]),
        Case(
            name: "http on a public address without a token", yaml: "service:\n  http: { listen: 0.0.0.0:8377 }\n" + okJob,
            expected: [
                e(
                    2, 19, "service.http.listen",
                    "'0.0.0.0:8377' is reachable from other machines; add 'token: secret:NAME' (clients send it as Authorization: Bearer) or listen on 127.0.0.1"
                )
            ]),
        Case(
            name: "http token in clear", yaml: "service:\n  http: { listen: 0.0.0.0:8377, token: hunter2 }\n" + okJob,
            expected: [
                e(
                    2, 19, "service.http.listen",
                    "'0.0.0.0:8377' is reachable from other machines; add 'token: secret:NAME' (clients send it as Authorization: Bearer) or listen on 127.0.0.1"
                ),
                e(
                    2, 40, "service.http.token",
                    "the token does not belong in jobs.yaml; store it with 'schedctl secrets set NAME' and write 'secret:NAME' here"),
            ]),
        Case(
            name: "http neither off nor a mapping", yaml: "service:\n  http: maybe\n" + okJob,
            expected: [e(2, 9, "service.http", "expected 'off' or a mapping like { listen: 127.0.0.1:8377 }, found 'maybe'")]),
        Case(
            name: "retention without runs", yaml: "service:\n  retention: { failed: 365d }\n" + okJob,
            expected: [e(2, 14, "service.retention", "missing 'runs' (how long finished runs are kept, e.g. 90d)")]),
        Case(
            name: "unknown secrets key", yaml: "secrets: { ssh_kye: ~/.ssh/id_ed25519 }\n" + okJob,
            expected: [
                e(1, 12, "secrets.ssh_kye", "unknown key 'ssh_kye' — did you mean 'ssh_key'?")
            ]),
        Case(name: "empty jobs section", yaml: "jobs: {}\n", expected: [e(1, 7, "jobs", "'jobs:' is empty; add at least one job (see 'schedctl init')")]),
        Case(
            name: "XNYS early close outside the session", yaml: "calendars:\n  XNYS:\n    early_closes: { 2026-12-31: \"08:00\" }\n" + okJob,
            expected: [
                e(
                    3, 33, "calendars.XNYS.early_closes.2026-12-31",
                    "an XNYS close of 08:00 is outside the session; give a time after 09:30 and no later than 16:00 (New York time)")
            ]),
        // The file itself.
        Case(name: "empty file", yaml: "", expected: [e(0, 0, "", "the file is empty; run 'schedctl init' for a starter jobs.yaml")]),
        Case(name: "comments only", yaml: "# nothing here\n", expected: [e(0, 0, "", "the file is empty; run 'schedctl init' for a starter jobs.yaml")]),
    ]

    @Test("each problem is reported with file, line, column, key path and message", arguments: cases)
    func diagnostic(_ c: Case) {
        let found = Self.diagnostics(c.yaml, catalog: c.references ? Self.withReferences : Self.standard)
        #expect(found == c.expected.map(\.diagnostic))
    }

    @Test(
        "invalid YAML is reported with its line and column",
        arguments: [
            (
                "jobs:\n  a: { type: noop, schedule: { every: 10s }\n  b: [\n", 3, 3,
                "did not find expected ',' or '}' while parsing a flow mapping"
            ),
            ("jobs:\n\ta: 1\n", 2, 1, "found character that cannot start any token while scanning for the next token"),
            ("jobs:\n  a: \"unterminated\n", 3, 1, "found unexpected end of stream while scanning a quoted scalar"),
            ("jobs:\n  a: b: c\n", 2, 7, "mapping values are not allowed in this context"),
        ])
    func invalidYAML(_ yaml: String, _ line: Int, _ column: Int, _ problem: String) {
        #expect(
            Self.diagnostics(yaml) == [
                Diagnostic(
                    file: "jobs.yaml", line: line, column: column, path: "", message: "invalid YAML: \(problem); check indentation and quoting on this line")
            ])
    }

    @Test("a missing file is one diagnostic with no line")
    func missingFile() {
        do {
            _ = try ConfigLoader(catalog: Self.standard).load(file: "/nonexistent/schedctl/jobs.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(
                error.diagnostics == [
                    Diagnostic(
                        file: "/nonexistent/schedctl/jobs.yaml", line: 0, column: 0, path: "",
                        message: "cannot read the file (no such file); check the path or run 'schedctl init' to write a starter jobs.yaml")
                ])
            #expect(error.description.hasPrefix("/nonexistent/schedctl/jobs.yaml: cannot read the file"))
            #expect(error.description.hasSuffix("\n1 error in /nonexistent/schedctl/jobs.yaml"))
        }
    }

    @Test("all problems are reported in one pass, in file order")
    func onePass() throws {
        let yaml = """
            timezone: Mars/Olympus
            jobs:
              a: { type: noop, schedule: { cron: "61 * * * *" } }
              b: { type: nope, schedule: { every: 10s } }
              c: { type: noop, schedule: { every: 10s }, overlap: sometimes }
              d: { type: noop, schedule: { market: XNYS, at: open, offset: 1d } }
            """
        let found = Self.diagnostics(yaml)
        #expect(found.count == 5)
        #expect(found.map(\.line) == [1, 3, 4, 5, 6])
        #expect(found.map(\.path) == ["timezone", "jobs.a.schedule.cron", "jobs.b.type", "jobs.c.overlap", "jobs.d.schedule.offset"])
        do {
            _ = try Self.load(yaml)
        } catch {
            #expect(error.description.hasSuffix("\n5 errors in jobs.yaml"))
            #expect(error.description.contains("jobs.yaml:3:39: jobs.a.schedule.cron: minute 61 is out of range 0–59 in '61 * * * *'"))
        }
    }

    // MARK: Valid files

    @Test("a valid file yields the expected Plan")
    func validPlan() throws {
        let yaml = """
            timezone: America/New_York
            database: state/test.sqlite
            secrets: { ssh_key: ~/.ssh/id_ed25519 }
            brokers:
              paper: { type: paper, cash: 100000.50 }
              ts: { type: tradestation, environment: sim, account: SIM1, client_id: secret:tradestation/client_id, client_secret: "secret:ts.secret" }
            strategies:
              mix: { type: weights, weights: { VTI: 0.6, BND: 0.4 } }
            notifiers:
              inbox: { type: email, smtp_url: "smtp://localhost:25", from: a@example.com, to: [b@example.com], password: secret:smtp }
            calendars:
              XNYS:
                closures: { 2026-12-31: "snow" }
                early_closes: { 2026-12-30: "12:30" }
              CME:
                closures: [2026-12-31]
            service: { max_concurrent_runs: 4, lease: 10s, shutdown_grace: 1m, log_format: json, log_level: debug, retention: { runs: 90d, failed: 365d } }
            jobs:
              heartbeat:
                type: noop
                schedule: { every: 15m, align: true, jitter: 30s }
                misfire: { policy: all, grace: 2m }
                overlap: buffer_one
                retry: { attempts: 3, backoff: 5s, max_backoff: 1m, jitter: false }
                timeout: 90s
                paused: yes
                description: Beats.
              open:
                type: rebalance
                broker: ts
                strategy: mix
                notify: inbox
                schedule: { market: XNYS, at: open, offset: 5m, days: first-trading-day-of-month }
              tokyo:
                type: exec
                command: "echo hi"
                env: { TOKEN: secret:api/token, MODE: test }
                schedule: { cron: "0 9 * * mon-fri", timezone: Asia/Tokyo, dst: { spring_forward: skip, fall_back: both } }
                misfire: skip
                retry: 2
              once:
                type: exec
                command: [/bin/echo, hello]
                schedule: { at: "2026-12-01T09:35:00" }
              plain:
                type: noop
                schedule: "*/5 * * * *"
            """
        let plan = try Self.load(yaml, catalog: Self.withReferences)
        #expect(plan.source == "jobs.yaml")
        #expect(plan.timezone == newYork)
        #expect(plan.database == "/etc/schedctl/state/test.sqlite")
        #expect(plan.secrets.sshKey == "~/.ssh/id_ed25519")
        #expect(plan.brokers["paper"] == ComponentSpec(name: "paper", type: "paper", options: ["cash": .number(Decimal(string: "100000.50")!)]))
        #expect(
            plan.brokers["ts"]?.options == [
                "environment": .string("sim"), "account": .string("SIM1"), "client_id": .secret("tradestation/client_id"),
                "client_secret": .secret("ts.secret"),
            ])
        #expect(plan.strategies["mix"]?.options["weights"] == .map(["VTI": .number(Decimal(string: "0.6")!), "BND": .number(Decimal(string: "0.4")!)]))
        #expect(plan.notifiers["inbox"]?.options["to"] == .list([.string("b@example.com")]))
        #expect(plan.notifiers["inbox"]?.options["password"] == .secret("smtp"))
        #expect(plan.service.maxConcurrentRuns == 4)
        #expect(plan.service.leaseDuration == .seconds(10))
        #expect(plan.service.shutdownGrace == .seconds(60))
        #expect(plan.service.logFormat == "json")
        #expect(plan.service.logLevel == "debug")
        #expect(plan.service.retention == RetentionPolicy(runs: .seconds(90 * 86_400), failed: .seconds(365 * 86_400)))

        // Calendars carry the overrides.
        let xnys = try #require(plan.calendars[.xnys])
        #expect(xnys.session(on: date("2026-12-31")) == nil)
        #expect(xnys.session(on: date("2026-12-30"))?.close == instant("2026-12-30T17:30:00Z"))
        #expect(plan.calendars[.cme]?.session(on: date("2026-12-31")) == nil)

        #expect(plan.jobs.map(\.name) == ["heartbeat", "open", "tokyo", "once", "plain"])
        let heartbeat = try #require(plan.job(named: "heartbeat"))
        #expect(heartbeat.kind == "noop")
        #expect(heartbeat.schedule == Schedule(.interval(seconds: 900, aligned: true, zone: newYork), jitter: .seconds(30)))
        #expect(heartbeat.misfire == MisfirePolicy(mode: .all, grace: .seconds(120)))
        #expect(heartbeat.overlap == .bufferOne)
        #expect(heartbeat.retry == RetryPolicy(attempts: 3, backoff: .seconds(5), maxBackoff: .seconds(60), jitter: false))
        #expect(heartbeat.timeout == .seconds(90))
        #expect(heartbeat.paused)
        #expect(heartbeat.description == "Beats.")
        #expect(heartbeat.line == 19)

        let open = try #require(plan.job(named: "open"))
        #expect(open.options == ["broker": .string("ts"), "strategy": .string("mix"), "notify": .list([.string("inbox")])])
        #expect(
            open.schedule == Schedule(.market(MarketRule(market: .xnys, calendar: xnys, event: .open, offset: .seconds(300), days: .firstTradingDayOfMonth))))
        // The plan's schedule uses the overridden calendar: 2026-12-31 is closed, so January's first day is next.
        #expect(open.schedule.upcomingText(after: "2026-12-30T00:00:00Z", count: 1) == ["2027-01-04T14:35:00Z"])
        #expect(open.misfire == MisfirePolicy())
        #expect(open.overlap == .skip)
        #expect(open.retry == RetryPolicy())
        #expect(open.timeout == nil)
        #expect(!open.paused)

        let tokyo = try #require(plan.job(named: "tokyo"))
        #expect(tokyo.options["command"] == .list([.string("/bin/sh"), .string("-c"), .string("echo hi")]))
        #expect(tokyo.options["env"] == .map(["TOKEN": .secret("api/token"), "MODE": .string("test")]))
        #expect(
            tokyo.schedule
                == Schedule.cron(cron("0 9 * * mon-fri"), zone: try #require(ZoneRules.named("Asia/Tokyo")), dst: DSTPolicy(gap: .skip, overlap: .both)))
        #expect(tokyo.misfire == MisfirePolicy(mode: .skip))
        #expect(tokyo.retry == RetryPolicy(attempts: 2))

        let once = try #require(plan.job(named: "once"))
        #expect(once.options["command"] == .list([.string("/bin/echo"), .string("hello")]))
        // A local time is read in the file's zone: 09:35 EST.
        #expect(once.schedule == Schedule(.once(instant("2026-12-01T14:35:00Z"))))

        let plain = try #require(plan.job(named: "plain"))
        #expect(plain.schedule == Schedule.cron(cron("*/5 * * * *"), zone: newYork))

        // Secrets stay unresolved references, listed with where they are used.
        let references = plan.secretReferences.map { "\($0.name)@\($0.path)" }
        #expect(
            references == [
                "tradestation/client_id@brokers.ts.client_id", "ts.secret@brokers.ts.client_secret", "smtp@notifiers.inbox.password",
                "api/token@jobs.tokyo.env.TOKEN",
            ])
        #expect(ConfigValue.secret("api/token").description == "secret:api/token")
    }

    @Test("defaults: UTC, the default database next to the file, no jobs section content errors")
    func defaults() throws {
        let plan = try Self.load(Self.okJob)
        #expect(plan.timezone == .utc)
        #expect(plan.database == "/etc/schedctl/state/schedctl.sqlite")
        #expect(plan.service.maxConcurrentRuns == 8)
        #expect(plan.service.retention == nil)
        #expect(plan.brokers.isEmpty)
        #expect(plan.jobs.first?.schedule == Schedule(.interval(seconds: 10, aligned: false, zone: .utc)))
        let absolute = try Self.load("database: /var/lib/schedctl.db\n" + Self.okJob)
        #expect(absolute.database == "/var/lib/schedctl.db")
        let memory = try Self.load("database: \":memory:\"\n" + Self.okJob)
        #expect(memory.database == ":memory:")
    }

    @Test("a market offset of exactly 12 hours is allowed")
    func offsetLimit() throws {
        let plan = try Self.load("jobs:\n  a: { type: noop, schedule: { market: CME, at: open, offset: -12h } }\n")
        guard case .market(let rule) = plan.jobs.first?.schedule.rule else {
            Issue.record("not a market rule")
            return
        }
        #expect(rule.offset == .seconds(-12 * 3600))
        #expect(rule.market == .cme)
    }

    @Test("the root jobs.yaml validates")
    func rootFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("jobs.yaml").path
        let plan = try ConfigLoader(catalog: Self.standard).load(file: path)
        #expect(plan.timezone == newYork)
        #expect(plan.jobs.map(\.name) == ["rebalance-paper", "heartbeat", "market-open", "before-globex-close", "month-start", "nightly-check"])
        #expect(plan.database == root.appendingPathComponent("state/schedctl.sqlite").path)
        #expect(plan.job(named: "market-open")?.schedule.upcomingText(after: "2026-11-26T00:00:00Z", count: 1) == ["2026-11-27T14:35:00Z"])
        #expect(plan.job(named: "before-globex-close")?.schedule.upcomingText(after: "2026-11-27T00:00:00Z", count: 1) == ["2026-11-27T18:05:00Z"])
    }

    @Test(
        "durations read and write",
        arguments: [
            ("15m", 900), ("1h30m", 5400), ("-5m", -300), ("90s", 90), ("2d", 172_800), ("+1h", 3600), (" 10s ", 10),
        ])
    func durations(_ text: String, _ seconds: Int64) {
        #expect(DurationText.parse(text) == .seconds(seconds))
    }

    @Test("bad durations are rejected", arguments: ["", "5", "m", "5 m", "1m1h", "1h1h", "5x", "-", "1.5h"])
    func badDurations(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test("durations format compactly")
    func durationFormat() {
        #expect(DurationText.format(.seconds(5400)) == "1h30m")
        #expect(DurationText.format(.seconds(-600)) == "-10m")
        #expect(DurationText.format(.zero) == "0s")
        #expect(DurationText.format(.seconds(90_061)) == "1d1h1m1s")
        #expect(DurationText.format(.milliseconds(500)) == "500ms")
        #expect(DurationText.parse("500ms") == .milliseconds(500))
    }
}

/// Huge values must be rejected or clamped, never trap.
@Suite("Overflow")
struct OverflowTests {
    @Test("durations that overflow are not durations", arguments: ["9223372036854775807d", "106751991168d", "99999999999999999999s", "9223372036854775807ms1"])
    func hugeDurations(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test("the largest whole-millisecond durations still parse")
    func largestDurations() {
        #expect(DurationText.parse("106751991167d") == .seconds(Int64(106_751_991_167) * 86_400))
        #expect(DurationText.parse("9223372036854775807ms") == .milliseconds(Int64.max))
    }

    @Test("a huge timeout in jobs.yaml is a diagnostic, not a crash")
    func hugeTimeout() {
        #expect(
            ConfigTests.diagnostics("jobs:\n  a: { type: noop, schedule: { every: 10s }, timeout: 9223372036854775807d }\n") == [
                Diagnostic(
                    file: "jobs.yaml", line: 2, column: 55, path: "jobs.a.timeout",
                    message: "'9223372036854775807d' is not a duration; write it like 30s, 15m, 1h30m or 2d")
            ])
    }

    @Test("retry delays double up to the maximum, even from a huge backoff")
    func retryDelays() {
        let policy = RetryPolicy(attempts: 10, backoff: .seconds(10), maxBackoff: .seconds(300), jitter: false)
        #expect((2...8).map { policy.delay(beforeAttempt: $0, unit: 0) } == [10, 20, 40, 80, 160, 300, 300].map { Duration.seconds($0) })
        #expect(RetryPolicy(backoff: .seconds(10), maxBackoff: .seconds(300), jitter: true).delay(beforeAttempt: 3, unit: 0) == .seconds(10))
        let huge = RetryPolicy(attempts: 100, backoff: .seconds(1_000_000_000_000_000), maxBackoff: .seconds(2_000_000_000_000_000), jitter: false)
        #expect(huge.delay(beforeAttempt: 2, unit: 0) == .seconds(1_000_000_000_000_000))
        #expect(huge.delay(beforeAttempt: 50, unit: 0) == .seconds(2_000_000_000_000_000))
    }
}
