import ArgumentParser
import Foundation
import Jobs
import Scheduler
import Secrets

/// `schedctl notify …`: check notifiers.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify", abstract: "Check the notifiers defined in jobs.yaml.", subcommands: [NotifyTestCommand.self])
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
                notifier: name, alert: "test", runID: nil, delivered: failure == nil, detail: failure?.message ?? "delivered", now: Date())
            if let failure { throw CommandFailure(message: "not delivered: \(Wiring.redactor.redact(failure.description))") }
            print("\(name) (\(spec.type)): delivered")
        }
    }
}
