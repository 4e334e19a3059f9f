import ArgumentParser
import Foundation
import Jobs
import Scheduler

/// `schedctl session stop|status`: futures sessions.
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Stop or show futures sessions (type: futures-session).",
        subcommands: [SessionStopCommand.self, SessionStatusCommand.self])
}

/// `schedctl session stop JOB`: the running session cancels working orders, flattens when
/// `flatten_at_stop`, records its report and ends (it polls the request).
struct SessionStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a running futures session now: cancel working orders, flatten (flatten_at_stop), report.")

    @OptionGroup var target: JobArgument

    func run() async throws {
        try await exiting {
            let (plan, spec) = try target.load()
            guard spec.typedOptions is FuturesSessionSettings else {
                throw CommandFailure(message: "job '\(spec.name)' is \(spec.kind), not \(FuturesSessionJob.descriptor.name)", code: 2)
            }
            let store = try Wiring.openStore(plan)
            guard try await SessionControl(store: store).requestStop(job: spec.name, now: Date()) else {
                throw CommandFailure(message: "job '\(spec.name)' has no running session")
            }
            print("stop requested: \(spec.name) (the session cancels, flattens and reports within its poll interval)")
        }
    }
}

/// `schedctl session status [--json]`.
struct SessionStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show each futures session: state, lock, positions, P&L.")

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let store = try Wiring.openStore(plan)
            let rows = try await SessionControl(store: store).rows()
            if json {
                let sessions: [[String: Any]] = rows.map { r in
                    [
                        "job": r.job, "run": r.run, "state": r.state, "stop_at": Instant(r.stopAt).iso8601, "updated": Instant(r.updated).iso8601,
                        "stop_requested": r.stopRequested, "locked": r.locked, "trade_date": r.tradeDate ?? NSNull(),
                        "lock_reason": r.lockReason ?? NSNull(),
                        "detail": (try? JSONSerialization.jsonObject(with: Data(r.detail.utf8))) ?? [String: Any](),
                    ]
                }
                let data = try JSONSerialization.data(withJSONObject: ["sessions": sessions], options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !rows.isEmpty else {
                print("(no futures sessions)")
                return
            }
            // `updated` is rewritten at least every 5 s while a session runs: older means it is not being driven.
            var table = TextTable(headers: ["job", "run", "state", "trade date", "stop (UTC)", "updated (UTC)", "locked", "figures"])
            for r in rows {
                table.add([
                    r.job, "\(r.run)", r.state + (r.stopRequested ? " (stop requested)" : ""), r.tradeDate ?? "-", Instant(r.stopAt).iso8601,
                    Instant(r.updated).iso8601, r.locked ? "yes (loss limit; until the next trade date)" : "no", r.detail,
                ])
            }
            print(table.render())
        }
    }
}
