import ArgumentParser
import Foundation
import Jobs
import Scheduler
import Secrets

/// The `--json` shape of a run in `history` and `show`.
struct RunJSON: Encodable {
    var id: Int64
    var job: String
    var nominal: String
    var trigger: String
    var state: String
    var attempt: Int
    var maxAttempts: Int
    var started: String?
    var finished: String?
    var reason: String?
    var error: String?
    var summary: String?

    init(_ run: RunRecord) {
        id = run.id
        job = run.job
        nominal = run.nominalInstant.iso8601
        trigger = run.trigger.rawValue
        state = run.state.rawValue
        attempt = run.attempt
        maxAttempts = run.maxAttempts
        started = run.startedAt.map(Timestamps.iso)
        finished = run.finishedAt.map(Timestamps.iso)
        reason = run.reason
        error = run.error
        summary = run.summary
    }

    enum CodingKeys: String, CodingKey {
        case id, job, nominal, trigger, state, attempt, started, finished, reason, error, summary
        case maxAttempts = "max_attempts"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(job, forKey: .job)
        try c.encode(nominal, forKey: .nominal)
        try c.encode(trigger, forKey: .trigger)
        try c.encode(state, forKey: .state)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(started, forKey: .started)
        try c.encode(finished, forKey: .finished)
        try c.encode(reason, forKey: .reason)
        try c.encode(error, forKey: .error)
        try c.encode(summary, forKey: .summary)
    }
}

/// ISO 8601 UTC with milliseconds for recorded times.
enum Timestamps {
    static func iso(_ seconds: Double) -> String {
        let whole = Int64(seconds.rounded(.down))
        return String(Instant(seconds: whole).iso8601.dropLast()) + String(format: ".%03dZ", Int((seconds - Double(whole)) * 1000))
    }
}

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

    struct EventJSON: Encodable {
        var at: String
        var kind: String
        var message: String
        var instance: String?
    }

    struct ShowJSON: Encodable {
        var run: RunJSON
        var detail: String?
        var events: [EventJSON]
        var lease: LeaseJSON?
        var checkpoint: String?
        /// A rebalance run's summary (see README "Rebalancing").
        var rebalance: RebalanceSummary?
    }

    struct LeaseJSON: Encodable {
        var owner: String
        var generation: Int64
        var expires: String
    }

    func run() async throws {
        try await exiting {
            guard let id = Int64(run.hasPrefix("#") ? String(run.dropFirst()) : run) else {
                throw CommandFailure(message: "'\(run)' is not a run id", code: 64)
            }
            let plan = try Wiring.loadPlan(options.path)
            guard let found = try await Wiring.openStore(plan).run(id: id) else { throw CommandFailure(message: "no run #\(id)", code: 2) }
            let events = found.events.map { EventJSON(at: Timestamps.iso($0.at), kind: $0.kind, message: $0.message, instance: $0.instance) }
            let lease = found.lease.map { LeaseJSON(owner: $0.owner, generation: $0.generation, expires: Timestamps.iso($0.expiresAt)) }
            let rebalance = plan.job(named: found.run.job)?.kind == "rebalance" ? found.run.detail.flatMap(RebalanceSummary.decode) : nil
            if json {
                print(
                    try JSONText.encode(
                        ShowJSON(
                            run: RunJSON(found.run), detail: rebalance == nil ? found.run.detail : nil, events: events, lease: lease,
                            checkpoint: rebalance == nil ? found.checkpoint : nil, rebalance: rebalance))
                )
                return
            }
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

    struct StatusJSON: Encodable {
        struct InstanceJSON: Encodable {
            var id: String
            var pid: Int
            var host: String
            var started: String
            var heartbeat: String
            var state: String
        }
        struct LeaseJSON: Encodable {
            var run: Int64
            var owner: String
            var generation: Int64
            var expires: String
        }
        struct JobJSON: Encodable {
            var job: String
            var type: String
            var state: String
            var schedule: String
            /// The next instant on the job's grid; a paused job does not fire it (see `paused_since`).
            var next: String?
            var watermark: String?
            var lastRun: RunJSON?
            var active: Int
            /// When the job was paused (present only while it is paused, and known).
            var pausedSince: String?

            enum CodingKeys: String, CodingKey {
                case job, type, state, schedule, next, watermark, active
                case lastRun = "last_run"
                case pausedSince = "paused_since"
            }
        }
        struct TokenJSON: Encodable {
            var broker: String
            /// Null when no token is stored (or the vault cannot be read).
            var expires: String?

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(broker, forKey: .broker)
                try c.encode(expires, forKey: .expires)
            }

            enum CodingKeys: String, CodingKey { case broker, expires }
        }
        var instances: [InstanceJSON]
        var leases: [LeaseJSON]
        var jobs: [JobJSON]
        var tokens: [TokenJSON]
    }

    /// Each tradestation/tradovate broker's stored token expiry (nil: none stored); a note when
    /// the vault cannot be read.
    static func tokens(_ plan: Plan, store: Store) -> (tokens: [StatusJSON.TokenJSON], note: String?) {
        let brokers = plan.brokers.values.filter { ["tradestation", "tradovate"].contains($0.type) }.sorted { $0.name < $1.name }
        guard !brokers.isEmpty else { return ([], nil) }
        do {
            let vault = try VaultSecretResolver(store: store, keyPath: plan.secrets.sshKey, redactor: Wiring.redactor).openedVault()
            let tokens = try brokers.map { spec in
                let state = try vault.tokenState(for: spec.name)?.state
                let expires = state.flatMap { $0.accessToken.isEmpty ? nil : $0.accessTokenExpiresAt }
                return StatusJSON.TokenJSON(broker: spec.name, expires: expires.map { Timestamps.iso($0.timeIntervalSince1970) })
            }
            return (tokens, nil)
        } catch {
            return (brokers.map { StatusJSON.TokenJSON(broker: $0.name, expires: nil) }, "token expiry unknown: \(error)")
        }
    }

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let now = Date()
            let store = try Wiring.openStore(plan)
            let status = try await store.status(now: now)
            let (tokens, tokenNote) = Self.tokens(plan, store: store)
            let jobs = plan.jobs.map { job -> StatusJSON.JobJSON in
                let state = status.jobs[job.name]
                let watermark = state?.watermark.map(Instant.init(seconds:))
                // The next nominal instant after now on the job's own grid (from its watermark).
                let next = JobGrid.next(job.schedule, after: Instant(now), watermark: watermark)
                // A job the service has not seen yet starts as jobs.yaml's `paused` says.
                let paused = state?.paused ?? job.paused
                let since = paused ? (state.map { $0.pausedAt ?? $0.firstSeen }) : nil
                return StatusJSON.JobJSON(
                    job: job.name, type: job.kind, state: paused ? "paused" : "active", schedule: job.schedule.summary,
                    next: next?.iso8601, watermark: watermark?.iso8601, lastRun: status.lastRuns[job.name].map(RunJSON.init),
                    active: status.active[job.name] ?? 0, pausedSince: since.map(Timestamps.iso))
            }
            let result = StatusJSON(
                instances: status.instances.map {
                    .init(
                        id: $0.id, pid: $0.pid, host: $0.host, started: Timestamps.iso($0.startedAt), heartbeat: Timestamps.iso($0.heartbeatAt), state: $0.state
                    )
                },
                leases: status.leases.map { .init(run: $0.runID, owner: $0.owner, generation: $0.generation, expires: Timestamps.iso($0.expiresAt)) },
                jobs: jobs, tokens: tokens)
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
