import Foundation
public import Logging
import SchedctlBase
public import Scheduler
import Secrets
import Synchronization

/// `type: exec`: runs a command under a supervisor (`schedctl-supervise`) that outlives the
/// scheduler, and records the command's exit status and the tail of its output.
///
/// Exactly once on one host: before the supervisor lets the command execute, its identity (boot,
/// PID namespace, pid and start time, the result file) is saved in the run's fenced checkpoint.
/// The supervisor leads the command's process group, is the subreaper of its descendants, and
/// writes the result file (atomically, synced) only when nothing of the command is left. A
/// scheduler that takes the run over on the same host finds the supervisor alive and waits for
/// its result, or finds the result already written, and records it as it is: the command is not
/// executed again. Only when neither exists (the host rebooted) does the command run again, with
/// the same `SCHEDCTL_IDEMPOTENCY_KEY`: at least once, with a stable key, across a host loss.
/// On timeout, cancellation or shutdown the whole group gets SIGTERM, then SIGKILL after
/// `killGrace`, and the attempt ends only when it is gone. The child's environment carries
/// `SCHEDCTL_JOB`, `SCHEDCTL_RUN_ID`, `SCHEDCTL_NOMINAL`, `SCHEDCTL_ATTEMPT`,
/// `SCHEDCTL_GENERATION` and `SCHEDCTL_IDEMPOTENCY_KEY`, and never `SCHEDCTL_SSH_PASSPHRASE`.
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
    /// How much more output than the tail the supervisor keeps, so redaction happens before the cut.
    static let redactionMargin = 8192
    /// How long the process group has between SIGTERM and SIGKILL.
    public var killGrace: Duration = .seconds(2)

    /// The kind.
    public init() {}

    /// Variables of schedctl's own environment a child never inherits.
    static let withheld = ChildEnvironment.withheld

    /// The child's environment: the inherited one (unless `inherit_env: false`), the job's `env`,
    /// then the run's identity; never a withheld variable.
    static func environment(for context: RunContext, _ options: ExecOptions, inherited: [String: String]) async throws -> [String: String] {
        var environment = options.inheritEnv ? inherited : [:]
        for (key, value) in options.env { environment[key] = try await value.resolved(context.secrets) }
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
        let options = try context.job.options(as: Options.self)
        let argv = options.command
        let environment = try await Self.environment(for: context, options, inherited: ProcessInfo.processInfo.environment)
        if let result = try await resultOfPreviousCopy(context) { return try outcome(of: result, context: context) }
        guard let program = ChildProcess.locate(argv[0], searchPath: environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"]) else {
            throw JobFailure("cannot start '\(argv[0])': no such program on PATH", retryable: false)
        }
        let workdir = options.workdir
        if let workdir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: workdir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw JobFailure("workdir '\(workdir)' does not exist", retryable: false)
            }
        }
        guard let supervisor = SupervisedCommand.locateSupervisor() else {
            throw JobFailure(
                "cannot find schedctl-supervise (install it beside schedctl, or set SCHEDCTL_SUPERVISOR to its path)", retryable: false)
        }
        let directory = try ExecResults.directory(for: context)
        let resultPath = ExecResults.path(in: directory, context: context)
        try? FileManager.default.removeItem(atPath: resultPath)
        let process = try SupervisedCommand.start(
            supervisor: supervisor, result: resultPath, tailBytes: outputTailBytes + Self.redactionMargin, grace: killGrace, program: program, argv: argv,
            environment: environment, workdir: workdir)
        let identity = ProcessGroupIdentity.current(pid: process.pid, generation: context.generation, attempt: context.attempt, result: resultPath)
        do {
            // Without its start time the supervisor could not be told from a later process.
            guard identity.start != 0 else { throw JobFailure("cannot read /proc/\(process.pid)/stat: the command's identity is unknown") }
            try await context.checkpoints.save(ExecCheckpoint(running: identity).text)
            try Task.checkCancellation()
            try process.release()
        } catch {
            process.abandon()
            _ = await process.wait()
            throw error
        }
        context.logger.debug("started", metadata: ["pid": "\(process.pid)", "program": "\(argv[0])"])
        let waited = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            // A lost lease leaves the command to the taker; any other stop ends it.
            if context.stopIsFenced() { process.detach() } else { process.stop() }
        }
        guard let status = waited else { throw CancellationError() }
        // The checkpoint keeps naming the supervisor and its result: if this process dies before
        // the end is recorded, a taker records this result instead of executing again.
        guard let result = ExecResult.read(resultPath) else {
            // The supervisor died without a result (killed itself): end what is left of the group.
            _ = await ProcessTable.terminate(identity, grace: killGrace)
            if Task.isCancelled { throw CancellationError() }
            if status == .exited(3) { throw JobFailure("cannot write the command's result in \(directory); check the directory's space and permissions") }
            throw JobFailure("the command's supervisor ended without a result (\(status)); the command may have run partly")
        }
        if Task.isCancelled { throw CancellationError() }
        return try outcome(of: result, context: context)
    }

    /// The run's outcome from a supervisor's result.
    func outcome(of result: ExecResult, context: RunContext) throws -> RunOutcome {
        // Redacted before the cut: the supervisor keeps `redactionMargin` bytes more than the tail, so
        // a secret straddling the cut is replaced whole, never left as a fragment.
        let tail = String(decoding: Array(context.secrets.redact(result.tail).utf8.suffix(outputTailBytes)), as: UTF8.self)
        switch result.status {
        case .exited(0): return RunOutcome(summary: "exit 0", detail: tail.isEmpty ? nil : tail)
        case .exited(let code): throw JobFailure("exit status \(code)", detail: tail)
        case .signaled(let signal): throw JobFailure("killed by signal \(signal)", detail: tail)
        case .notStarted(let error): throw JobFailure("cannot start the command: \(String(cString: strerror(error)))", retryable: false)
        }
    }

    /// What a copy an earlier generation of this attempt started left: its result (the command
    /// ran to its end: recorded as it is, never executed again), or nil when this attempt must
    /// execute (no copy; or one that was stopped or left no result, which is ended first). A
    /// live supervisor here is waited for. A copy in another PID namespace of this boot cannot be
    /// seen from here: the attempt fails (retryably) rather than risk a second copy.
    func resultOfPreviousCopy(_ context: RunContext) async throws -> ExecResult? {
        guard let previous = ExecCheckpoint.decode(try await context.checkpoints.load())?.running else { return nil }
        guard let resultPath = previous.result else {
            // Written before supervisors: end what is left of that group.
            try await endLeftovers(previous, context: context)
            return nil
        }
        guard previous.attempt == context.attempt else {
            // An earlier attempt's copy (its failure was recorded): nothing to adopt.
            try await endLeftovers(previous, context: context)
            try? FileManager.default.removeItem(atPath: resultPath)
            return nil
        }
        if previous.sameBoot && !previous.samePIDNamespace, ExecResult.read(resultPath) == nil {
            throw JobFailure(
                "a copy started by generation \(previous.generation) runs in another PID namespace of this host and cannot be watched from here; not starting another"
            )
        }
        if previous.isLocal, let supervisor = AdoptedSupervisor.find(previous) {
            context.logger.notice("the command still runs under its supervisor; waiting for its result", metadata: ["pid": "\(previous.pgid)"])
            try await context.events.record(
                "exec-reattached", "generation \(context.generation) waits for the copy generation \(previous.generation) started (pid \(previous.pgid))")
            let exited = await withTaskCancellationHandler {
                await supervisor.wait()
            } onCancel: {
                if context.stopIsFenced() { supervisor.detach() } else { supervisor.stop() }
            }
            if !exited || Task.isCancelled { throw CancellationError() }
        }
        if let result = ExecResult.read(resultPath), !result.terminated {
            try await context.events.record(
                "exec-result-adopted", "the copy generation \(previous.generation) started finished (\(result.status)); recorded without executing again")
            return result
        }
        if previous.isLocal {
            // Stopped on request, or its supervisor died: end anything left, then execute again.
            try await endLeftovers(previous, context: context)
        } else {
            let message =
                "the copy generation \(previous.generation) started (boot \(previous.boot)) left no result: the host restarted; executing again with the same idempotency key"
            context.logger.warning("\(message)")
            try await context.events.record("exec-rerun", message)
        }
        return nil
    }

    /// A takeover ended the run (`cancelled` or `abandoned`) without executing it: the copy its
    /// last owner started must not run on. A supervisor still alive here (found by pid and start
    /// time, held by a pidfd) is asked to end the command's group and waited for (at most the kill
    /// grace and 10 s more); without one, what is left of the group is ended.
    public func stopLeftovers(of run: EndedRun, logger: Logger, events: any RunEventRecording) async {
        guard let previous = ExecCheckpoint.decode(run.checkpoint)?.running, previous.sameBoot else { return }
        guard previous.samePIDNamespace else {
            let message = "the run ended, but the copy generation \(previous.generation) started runs in another PID namespace and cannot be stopped from here"
            logger.warning("\(message)")
            try? await events.record("orphan-elsewhere", message)
            return
        }
        if let supervisor = AdoptedSupervisor.find(previous) {
            supervisor.stop()
            let limit = Task {
                try? await Task.sleep(for: killGrace + .seconds(10))
                supervisor.detach()
            }
            let exited = await supervisor.wait()
            limit.cancel()
            let message =
                exited
                ? "the run ended without its owner; the copy generation \(previous.generation) started (pid \(previous.pgid)) was stopped"
                : "the run ended; the copy generation \(previous.generation) started (pid \(previous.pgid)) was asked to stop and has not exited yet"
            logger.notice("\(message)")
            try? await events.record("exec-stopped", message)
            return
        }
        if previous.result.map({ ExecResult.read($0) != nil }) == true { return }
        let (found, killed) = await ProcessTable.terminate(previous, grace: killGrace)
        guard found > 0 else { return }
        let message =
            "the run ended; ended \(found) process(es) of group \(previous.pgid) left by generation \(previous.generation) (\(killed ? "SIGTERM, then SIGKILL" : "SIGTERM"))"
        logger.warning("\(message)")
        try? await events.record("exec-stopped", message)
    }

    /// Ends what is left of a copy's process group on this host, and records that it did. Throws
    /// (retryably) when something of it survives: a second copy never starts beside it.
    func endLeftovers(_ previous: ProcessGroupIdentity, context: RunContext) async throws {
        // Its kernel restarted since: nothing of it is left.
        guard previous.sameBoot else { return }
        guard previous.samePIDNamespace else {
            let message = "a copy started by generation \(previous.generation) on host \(previous.host) may still run there; it cannot be ended from here"
            context.logger.warning("\(message)")
            try await context.events.record("orphan-elsewhere", message)
            throw JobFailure(message)
        }
        let (found, killed) = await ProcessTable.terminate(previous, grace: killGrace)
        guard found > 0 else { return }
        let how = killed ? "SIGTERM, then SIGKILL" : "SIGTERM"
        let message = "ended \(found) process(es) of group \(previous.pgid) left by generation \(previous.generation) attempt \(previous.attempt) (\(how))"
        context.logger.warning("\(message)")
        try await context.events.record("orphan-terminated", message)
        guard ProcessTable.survivors(of: previous).isEmpty else {
            throw JobFailure("processes of group \(previous.pgid) survived SIGKILL; not starting another copy beside them")
        }
    }
}

/// Where supervisors write results: `<database>.d/exec/`, one file per (run, attempt,
/// generation); files older than a week are removed.
enum ExecResults {
    private static let lastSweep = Mutex<Date?>(nil)

    /// The directory for `context`'s results (created, mode 0700).
    static func directory(for context: RunContext) throws -> String {
        let base = context.stateDirectory ?? (NSTemporaryDirectory() + "schedctl-\(getuid())")
        let directory = base + "/exec"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw JobFailure("cannot create \(directory) for the command's result: \(error.localizedDescription)")
        }
        sweep(directory)
        return directory
    }

    static func path(in directory: String, context: RunContext) -> String {
        "\(directory)/run-\(context.runID)-attempt-\(context.attempt)-generation-\(context.generation).result"
    }

    /// Removes results older than a week (their runs ended long ago), at most once an hour.
    private static func sweep(_ directory: String) {
        let now = Date()
        let due = lastSweep.withLock { last -> Bool in
            guard last.map({ now.timeIntervalSince($0) >= 3600 }) ?? true else { return false }
            last = now
            return true
        }
        guard due, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".result") {
            let path = directory + "/" + name
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                now.timeIntervalSince(modified) > 7 * 86_400
            {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }
}

extension ExecJob: TypedJobKind {
    /// Its jobs' options, parsed once at load.
    public typealias Options = ExecOptions

    /// The kind's descriptor (one line in ``JobsRegistry/standard``).
    public static let descriptor = JobKindDescriptor(
        docs: [
            OptionDoc("command", "a list of arguments, or a string run by `/bin/sh -c`"),
            OptionDoc("env", "extra environment `{NAME: value}`; values may be `secret:NAME`"),
            OptionDoc("workdir", "the working directory"),
            OptionDoc("inherit_env", default: "true", "pass schedctl's own environment to the command (never `SCHEDCTL_SSH_PASSPHRASE`)"),
        ]
    ) { _ in ExecJob() }
}
