import ArgumentParser
import Foundation
import Inspection
import Jobs
import Scheduler
import Secrets

/// `schedctl notify …`: check notifiers, list deliveries.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify", abstract: "Check the notifiers defined in jobs.yaml and list alert deliveries.",
        subcommands: [NotifyTestCommand.self, NotifyLogCommand.self])
}

/// `schedctl notify log [--json] [--limit N]`: the newest deliveries.
struct NotifyLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "List alert, digest, report and test deliveries, newest first.",
        discussion: """
            States: pending (queued or being retried; 'next' says when), delivered, failed (not retryable), expired
            (not delivered within notify.expire), folded (held back by the hourly limit for the next digest), digested
            (sent in a digest). Example: schedctl notify log --limit 20
            """)

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "How many deliveries to list (1-10000).") var limit = 50

    /// One delivery as `--json` prints it.
    struct Entry: Encodable {
        var id: String
        var notifier: String
        var event: String
        var run: Int64?
        var severity: String
        var state: String
        var attempts: Int
        var created: String
        var nextAttempt: String?
        var claimedBy: String?
        var deliveredTo: [String]
        var lastError: String?

        enum CodingKeys: String, CodingKey {
            case id, notifier, event, run, severity, state, attempts, created
            case nextAttempt = "next_attempt"
            case claimedBy = "claimed_by"
            case deliveredTo = "delivered_to"
            case lastError = "last_error"
        }
    }

    func run() async throws {
        try await exiting {
            guard (1...10_000).contains(limit) else { throw CommandFailure(message: "--limit must be from 1 to 10000", code: 64) }
            let plan = try Wiring.loadPlan(options.path)
            let store = try Wiring.openStore(plan)
            let rows = try await NotifyStore(store: store).outbox(limit: limit)
            func time(_ t: Double) -> String { Instant(seconds: Int64(t.rounded(.down))).iso8601 }
            let entries = rows.map { row in
                Entry(
                    id: row.id, notifier: row.notifier, event: row.event, run: row.runID, severity: row.severity, state: row.state, attempts: row.attempts,
                    created: time(row.createdAt), nextAttempt: row.state == "pending" ? row.nextAttemptAt.map(time) : nil, claimedBy: row.claimedBy,
                    deliveredTo: row.doneRecipients, lastError: row.lastError.map { Wiring.redactor.redact($0) })
            }
            if json {
                print(try JSONText.encode(entries))
                return
            }
            guard !entries.isEmpty else {
                print("no deliveries yet")
                return
            }
            var table = TextTable(headers: ["id", "notifier", "event", "run", "state", "attempts", "created (UTC)", "last error"])
            for entry in entries {
                let state = entry.state == "pending" ? "pending" + (entry.nextAttempt.map { " (next \($0))" } ?? "") : entry.state
                table.add([
                    entry.id, entry.notifier, entry.event + (entry.severity == "critical" ? " !" : ""), entry.run.map { "#\($0)" } ?? "-", state,
                    String(entry.attempts), entry.created, entry.lastError ?? "",
                ])
            }
            print(table.render())
        }
    }
}

/// `schedctl notify test NAME`: sends a test message and says whether it was delivered.
struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Send a test message through a notifier; exit 1 when it was not delivered.",
        discussion: "Example: schedctl notify test inbox")

    @Argument(help: "The notifier's name in jobs.yaml.") var name: String
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            guard let spec = plan.notifiers[name] else {
                let known = plan.notifiers.keys.sorted()
                throw CommandFailure(
                    message:
                        "no notifier '\(name)' in \(plan.source); \(known.isEmpty ? "define one under 'notifiers:'" : "notifiers: \(known.joined(separator: ", "))")",
                    code: 2)
            }
            let store = try Wiring.openStore(plan)
            let secrets = Wiring.secrets(for: plan, store: store)
            let host = ProcessInfo.processInfo.hostName
            let message = NotificationMessage(
                subject: "schedctl test message (\(name))",
                text: "This is a test message from schedctl on \(host).\n\nIf you can read it, the notifier '\(name)' (\(spec.type)) works.\n",
                html: "<p>This is a test message from schedctl on \(host).</p><p>If you can read it, the notifier <b>\(name)</b> (\(spec.type)) works.</p>",
                short: "schedctl test message: notifier '\(name)' works")
            let failure: NotifyError?
            do throws(NotifyError) {
                let notifier = try await NotifierFactory(plan: plan, secrets: secrets).notifier(spec)
                try await NotifierSet([notifier], redact: { secrets.redact($0) }).send(message, to: name)
                failure = nil
            } catch {
                failure = error
            }
            try? await NotifyStore(store: store).record(
                notifier: name, alert: "test", runID: nil, message: message.redacted { secrets.redact($0) }, delivered: failure == nil,
                detail: failure?.message ?? "delivered", now: Date())
            if let failure { throw CommandFailure(message: "not delivered: \(Wiring.redactor.redact(failure.description))") }
            print("\(name) (\(spec.type)): delivered")
        }
    }
}
