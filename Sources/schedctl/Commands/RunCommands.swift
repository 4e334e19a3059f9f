import ArgumentParser
import Foundation
import Jobs
import Logging
import SchedctlService
import Scheduler

/// `schedctl run JOB`: a manual run, recorded as such.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job now (a manual run, recorded as such).",
        discussion: "With a service running on the database, the run is queued for it; --wait waits for the result. With none, it runs in this process.")

    @OptionGroup var target: JobArgument
    @Flag(help: "Wait for the run to finish and exit non-zero if it failed.") var wait = false
    @Flag(help: "Kinds that support it only (rebalance): plan and validate the orders with the broker, place nothing (this run only).") var dryRun = false

    func run() async throws {
        try await exiting {
            let (plan, spec) = try target.load()
            let kind = Wiring.kinds.kind(named: spec.kind)
            if dryRun, kind?.capabilities.contains(.dryRun) != true {
                let kinds = Wiring.kinds.kinds.filter { $0.capabilities.contains(.dryRun) }.map(\.name).joined(separator: ", ")
                throw CommandFailure(message: "--dry-run applies to \(kinds) jobs; \(spec.name) is type \(spec.kind)", code: 64)
            }
            let store = try Wiring.openStore(plan)
            // The dry-run mark travels in the run's first checkpoint, so whichever process runs it
            // (this one or a service) places nothing.
            let id = try await store.enqueueManualRun(
                job: spec, now: Date(), by: "schedctl run\(dryRun ? " --dry-run" : "") (pid \(getpid()))",
                checkpoint: dryRun ? kind?.dryRunCheckpoint : nil)
            let outcome = try await ManualRun.dispatch(runID: id, store: store) {
                print("run #\(id) of \(spec.name): no service is running, so it runs here")
                LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: .logfmt, level: .warning, redact: Wiring.redact) }
                let secrets = Wiring.secrets(for: plan, store: store)
                return Engine(
                    store: store, plan: plan, registry: Wiring.registry(for: PlanHolder(plan), store: store, secrets: secrets),
                    logger: Logger(label: "schedctl"), secrets: secrets)
            }
            switch outcome {
            case .executedHere:
                break
            case .notExecuted(let why):
                // Nothing ran, and no pending run is left behind for a later service.
                throw CommandFailure(message: "run #\(id) of \(spec.name) \(why); nothing was executed", code: 1)
            case .queued(let instances, let meanwhile):
                let when = meanwhile ? " (a service took it meanwhile)" : ""
                print("run #\(id) of \(spec.name) queued for \(instances.joined(separator: ", "))\(when)")
                guard wait else { return }
                while let record = try await store.run(id: id)?.run, !record.state.isFinal {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            guard let result = try await store.run(id: id)?.run else { return }
            if result.state.isFinal {
                print("run #\(id): \(result.state.rawValue)\(result.summary.map { " — \($0)" } ?? "")\(result.error.map { " — \($0)" } ?? "")")
                if result.state != .succeeded { throw ExitCode(1) }
            }
        }
    }
}

/// `schedctl pause JOB`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop claiming a job's occurrences until it is resumed.")

    @OptionGroup var target: JobArgument

    func run() async throws {
        try await exiting {
            let (plan, spec) = try target.load()
            let changed = try await Wiring.openStore(plan).pause(job: spec, now: Date())
            print(changed ? "\(spec.name) paused" : "\(spec.name) was already paused")
        }
    }
}

/// `schedctl resume JOB`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Resume a paused job.",
        discussion:
            "Occurrences that fell due while paused are recorded as skipped (reason: paused). With --catch-up, the job's misfire policy decides instead.")

    @OptionGroup var target: JobArgument
    @Flag(help: "Treat the occurrences missed while paused as misfires (the job's misfire policy applies).") var catchUp = false

    func run() async throws {
        try await exiting {
            let (plan, spec) = try target.load()
            let skipped = try await Wiring.openStore(plan).resume(job: spec, now: Date(), catchUp: catchUp)
            if skipped < 0 {
                print("\(spec.name) was not paused")
            } else {
                print(
                    "\(spec.name) resumed"
                        + (catchUp ? "; missed occurrences follow the misfire policy" : "; \(skipped) occurrence(s) recorded as skipped (paused)"))
            }
        }
    }
}

/// `schedctl backfill JOB --from --to`.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill", abstract: "Queue runs for a job's occurrences in a past range that have no run yet.")

    @OptionGroup var target: JobArgument
    @Option(help: "First instant (ISO 8601), inclusive.") var from: String
    @Option(help: "Last instant (ISO 8601), inclusive.") var to: String

    func run() async throws {
        try await exiting {
            let (plan, spec) = try target.load()
            let start: Instant
            let end: Instant
            do {
                start = try Instant(iso8601: from)
                end = try Instant(iso8601: to)
            } catch {
                throw CommandFailure(message: "\(error)", code: 64)
            }
            guard start <= end else { throw CommandFailure(message: "--from is after --to", code: 64) }
            let result: (queued: Int, existing: Int)
            do {
                result = try await Wiring.openStore(plan).backfill(job: spec, from: start, to: end, now: Date())
            } catch let error as BackfillTooLarge where error.kind == .backfillTooLarge {
                throw CommandFailure(message: "\(error)", code: 64)
            }
            print("\(spec.name): \(result.queued) run(s) queued, \(result.existing) occurrence(s) already had a run")
        }
    }
}
