import Foundation
import Logging
public import Scheduler
import Secrets

/// `type: exec`: runs a command in its own process group and records its exit status and the
/// tail of its output. On timeout, cancellation or shutdown the whole group gets SIGTERM, then
/// SIGKILL after `killGrace`.
///
/// A child never outlives its owner unnoticed: on Linux it dies with the process that started it
/// (parent-death signal), and before it executes, its group's identity (host, process group,
/// leader start time) is saved in the run's fenced checkpoint. A later generation of the same run
/// on the same host first ends whatever is left of that group (SIGTERM, `killGrace`, SIGKILL) and
/// records an `orphan-terminated` event. The child's environment carries `SCHEDCTL_JOB`,
/// `SCHEDCTL_RUN_ID`, `SCHEDCTL_NOMINAL`, `SCHEDCTL_ATTEMPT`, `SCHEDCTL_GENERATION` and
/// `SCHEDCTL_IDEMPOTENCY_KEY`, and never `SCHEDCTL_SSH_PASSPHRASE`.
///
/// ```yaml
/// backup: { type: exec, command: ["/usr/bin/rsync", "-a", "src/", "dst/"], timeout: 10m,
///           env: { TZ: UTC }, workdir: /srv, schedule: { cron: "0 3 * * *" } }
/// ```
public struct ExecJob: JobKind {
    public let name = "exec"
    public let options: [OptionSpec] = [
        OptionSpec("command", .command, required: true), OptionSpec("env", .stringMap), OptionSpec("workdir", .string),
        OptionSpec("inherit_env", .bool),
    ]
    /// How much of the combined stdout/stderr is kept.
    public var outputTailBytes = 4096
    /// How long the process group has between SIGTERM and SIGKILL.
    public var killGrace: Duration = .seconds(2)

    /// The kind.
    public init() {}

    /// Variables of schedctl's own environment a child never inherits.
    static let withheld = ChildEnvironment.withheld

    /// The child's environment: the inherited one (unless `inherit_env: false`), the job's `env`,
    /// then the run's identity; never a withheld variable.
    static func environment(for context: RunContext, inherited: [String: String]) async throws -> [String: String] {
        var environment = context.job.options["inherit_env"]?.boolValue == false ? [:] : inherited
        for (key, value) in context.job.options["env"]?.mapValue ?? [:] {
            switch value {
            case .string(let text): environment[key] = text
            case .secret(let name): environment[key] = try await context.secrets.resolve(name)
            default: break
            }
        }
        environment["SCHEDCTL_JOB"] = context.job.name
        environment["SCHEDCTL_RUN_ID"] = String(context.runID)
        environment["SCHEDCTL_NOMINAL"] = context.nominal.iso8601
        environment["SCHEDCTL_ATTEMPT"] = String(context.attempt)
        environment["SCHEDCTL_GENERATION"] = String(context.generation)
        environment["SCHEDCTL_IDEMPOTENCY_KEY"] = context.idempotencyKey(step: "exec")
        for key in withheld { environment[key] = nil }
        return environment
    }

    public func run(_ context: RunContext) async throws -> RunOutcome {
        guard let argv = context.job.options["command"]?.listValue?.compactMap(\.stringValue), !argv.isEmpty else {
            throw JobFailure("the job has no command", retryable: false)
        }
        let environment = try await Self.environment(for: context, inherited: ProcessInfo.processInfo.environment)
        try await endPreviousCopy(context)
        let workdir = context.job.options["workdir"]?.stringValue
        let process = try ChildProcess.start(argv: argv, environment: environment, workdir: workdir, tailBytes: outputTailBytes)
        let identity = ProcessGroupIdentity.current(pid: process.pid, generation: context.generation, attempt: context.attempt)
        do {
            try await context.checkpoints.save(ExecCheckpoint(running: identity).text)
            try Task.checkCancellation()
            try process.release()
        } catch {
            process.abandon()
            _ = await process.wait()
            throw error
        }
        context.logger.debug("started", metadata: ["pid": "\(process.pid)", "program": "\(argv[0])"])
        let status = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.terminateGroup(grace: killGrace)
        }
        let tail = process.outputTail(redact: context.secrets.redact)
        if Task.isCancelled { throw CancellationError() }
        // The child is gone: a taker has nothing to end (a newer generation's write wins anyway).
        try? await context.checkpoints.save(ExecCheckpoint(running: nil).text)
        switch status {
        case .exited(0): return RunOutcome(summary: "exit 0", detail: tail.isEmpty ? nil : tail)
        case .exited(let code): throw JobFailure("exit status \(code)", detail: tail)
        case .signaled(let signal): throw JobFailure("killed by signal \(signal)", detail: tail)
        }
    }

    /// Ends what is left of a copy an earlier generation or attempt of this run started, before a
    /// new one starts, and records that it did.
    func endPreviousCopy(_ context: RunContext) async throws {
        guard let previous = ExecCheckpoint.decode(try await context.checkpoints.load())?.running else { return }
        guard previous.isLocal else {
            let message = "a copy started by generation \(previous.generation) on host \(previous.host) may still run there; it cannot be ended from here"
            context.logger.warning("\(message)")
            try await context.events.record("orphan-elsewhere", message)
            return
        }
        let (found, killed) = await ProcessTable.terminate(previous, grace: killGrace)
        guard found > 0 else { return }
        let how = killed ? "SIGTERM, then SIGKILL" : "SIGTERM"
        let message = "ended \(found) process(es) of group \(previous.pgid) left by generation \(previous.generation) attempt \(previous.attempt) (\(how))"
        context.logger.warning("\(message)")
        try await context.events.record("orphan-terminated", message)
    }
}
