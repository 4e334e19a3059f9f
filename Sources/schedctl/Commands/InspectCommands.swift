import ArgumentParser
import Foundation
import Inspection
import Jobs
import Scheduler
import Secrets

/// `schedctl history [JOB]`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List recent runs, newest first.")

    @Argument(help: "Only this job.") var job: String?
    @OptionGroup var options: ConfigOptions
    @Option(help: "How many runs.") var limit = 20
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let runs = try await Wiring.openStore(plan).history(job: job, limit: max(1, limit))
            // A job removed from the file keeps its history; a name that is neither is a typo.
            if let job, runs.isEmpty, plan.job(named: job) == nil {
                throw CommandFailure(
                    message: "no job '\(job)' in \(plan.source) and no runs of it; jobs: \(plan.jobs.map(\.name).joined(separator: ", "))", code: 2)
            }
            if json {
                print(try JSONText.encode(runs.map(RunJSON.init)))
                return
            }
            if runs.isEmpty {
                print("no runs yet")
                return
            }
            var table = TextTable(headers: ["run", "job", "nominal (UTC)", "state", "try", "started", "took", "note"])
            for run in runs {
                let took = run.startedAt.flatMap { s in run.finishedAt.map { String(format: "%.2fs", $0 - s) } } ?? ""
                let note = run.error ?? run.reason ?? run.summary ?? ""
                table.add([
                    "#\(run.id)", run.job, run.nominalInstant.iso8601, run.state.rawValue + (run.trigger == .schedule ? "" : " (\(run.trigger.rawValue))"),
                    "\(run.attempt)/\(run.maxAttempts)", run.startedAt.map(Timestamps.iso) ?? "", took, String(note.prefix(60)),
                ])
            }
            print(table.render())
        }
    }
}

/// `schedctl show RUN`.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one run: its attempts, events, lease and output.")

    @Argument(help: "The run id (as in history, with or without '#').") var run: String
    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await exiting {
            guard let id = Int64(run.hasPrefix("#") ? String(run.dropFirst()) : run) else {
                throw CommandFailure(message: "'\(run)' is not a run id", code: 64)
            }
            let plan = try Wiring.loadPlan(options.path)
            guard let found = try await Wiring.openStore(plan).run(id: id) else { throw CommandFailure(message: "no run #\(id)", code: 2) }
            let shown = ShowJSON(found, plan: plan)
            if json {
                print(try JSONText.encode(shown))
                return
            }
            let (events, lease, rebalance) = (shown.events, shown.lease, shown.rebalance)
            let r = found.run
            print("run #\(r.id)  job \(r.job)  \(r.trigger.rawValue)  nominal \(r.nominalInstant.iso8601)")
            print("state \(r.state.rawValue)  attempt \(r.attempt)/\(r.maxAttempts)  generation \(r.generation)  takeovers \(r.takeovers)")
            if let s = r.summary { print("summary: \(s)") }
            if let e = r.error { print("error: \(e)") }
            if let reason = r.reason { print("reason: \(reason)") }
            if let lease { print("lease: \(lease.owner) generation \(lease.generation) until \(lease.expires)") }
            if let c = found.checkpoint, rebalance == nil { print("checkpoint: \(c)") }
            print("\nevents:")
            // A column as wide as the longest kind: `orphan-terminated` is never cut.
            let width = max(16, events.map(\.kind.count).max() ?? 0)
            for e in events { print("  \(e.at)  \(e.kind.padding(toLength: width, withPad: " ", startingAt: 0)) \(e.message)") }
            if let rebalance {
                print("\n" + rebalance.render(), terminator: "")
            } else if let detail = r.detail, !detail.isEmpty {
                print("\noutput (tail):\n\(detail)")
            }
        }
    }
}

/// `schedctl status`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show live service instances, leases, and each job's state and next fire.")

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print JSON.") var json = false

    /// Each tradestation/tradovate broker's stored token expiry; a note when the vault cannot be read.
    static func tokens(_ plan: Plan, store: Store) -> (tokens: [StatusJSON.TokenJSON], note: String?) {
        StatusJSON.tokens(plan) { try VaultSecretResolver(store: store, keyPath: plan.secrets.sshKey, redactor: Wiring.redactor).openedVault() }
    }

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let now = Date()
            let store = try Wiring.openStore(plan)
            let (tokens, tokenNote) = Self.tokens(plan, store: store)
            let result = try await StatusJSON.read(plan: plan, store: store, now: now, tokens: tokens)
            let jobs = result.jobs
            if let tokenNote { FileHandle.standardError.write(Data((Wiring.redact(tokenNote) + "\n").utf8)) }
            if json {
                print(try JSONText.encode(result))
                return
            }
            print(result.instances.isEmpty ? "no live service instances" : "instances:")
            for i in result.instances { print("  \(i.id)  pid \(i.pid)  \(i.state)  since \(i.started)  heartbeat \(i.heartbeat)") }
            if !result.leases.isEmpty {
                print("leases:")
                for l in result.leases { print("  run #\(l.run)  \(l.owner)  generation \(l.generation)  until \(l.expires)") }
            }
            var table = TextTable(headers: ["job", "state", "next (UTC)", "last run", "schedule"])
            for job in jobs {
                let last = job.lastRun.map { "#\($0.id) \($0.state)" } ?? "-"
                // A paused job does not fire: no next time, but since when it is paused.
                let next = job.state == "paused" ? "paused" + (job.pausedSince.map { " since \($0)" } ?? "") : job.next ?? "never"
                table.add([job.job, job.state + (job.active > 0 ? " (\(job.active) active)" : ""), next, last, job.schedule])
            }
            print(table.render())
            if !tokens.isEmpty {
                print("tokens:")
                for t in tokens { print("  \(t.broker)  \(t.expires.map { "expires \($0)" } ?? "none stored")") }
            }
        }
    }
}

/// `schedctl init`: writes the commented starter configuration.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a commented starter jobs.yaml (paper broker, no credentials).")

    @Option(help: "Where to write it.") var output = "jobs.yaml"
    @Flag(help: "Overwrite an existing file.") var force = false

    func run() async throws {
        try await exiting {
            if FileManager.default.fileExists(atPath: output) && !force {
                throw CommandFailure(message: "\(output) already exists; pass --force to overwrite it or --output to write elsewhere")
            }
            do {
                try (StarterConfig.text + "\n").write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw CommandFailure(message: "cannot write \(output): \(error.localizedDescription)")
            }
            print("wrote \(output); check it with 'schedctl validate --config \(output)' and start with 'schedctl serve --config \(output)'")
        }
    }
}
