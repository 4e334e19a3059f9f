import Foundation
import Logging
import SchedctlBase
import Synchronization

/// Executing runs: launch (at once, or when a slot frees for a run leased ahead), the attempt
/// with its timeout, recording the end (retried until it is recorded or fenced), and starting
/// waiting runs into freed slots.
extension Engine {
    /// Executes a leased run now, or when a slot frees (it was leased ahead of one). `job` comes
    /// from the job table the lease was taken with.
    func launch(_ leased: LeasedRun, job: JobSpec?, leasedAt: Duration, first: Bool = false) {
        let run = leased.run
        guard let job else {
            // Leased for a job this configuration no longer has: end it rather than let it cycle.
            // In a task of its own (a write in a cancelled group's child would fail at once),
            // which `run()` waits for.
            let (store, owner, now) = (self.store, instanceID, wall())
            spawn {
                try? await store.finishAttempt(
                    runID: run.id, owner: owner, generation: leased.generation, now: now,
                    result: .cancelled(reason: "the job is no longer in the configuration"))
            }
            return
        }
        if core.launched(runID: run.id, generation: leased.generation, leasedAt: leasedAt, now: mono(), first: first) {
            execute(leased, job: job)
        } else {
            handles[run.id] = .waiting(WaitingRun(leased: leased, job: job))
            // The keeper may sleep for a third of the lease: wake it to hand this run back in time.
            wakeKeeper(by: core.handBackDue(leasedAt: leasedAt))
        }
    }

    /// Starts the runs leased ahead into the slots that are free.
    func startReady() {
        for id in core.takeReady(now: mono()) {
            guard case .waiting(let run)? = handles[id] else { continue }
            execute(run.leased, job: run.job)
        }
    }

    /// Ends a run stopped while it waited for a slot, as if its attempt had been cancelled at
    /// once (nothing executed): a cancel is recorded, a shutdown releases it, a lost lease
    /// writes nothing.
    func endWaiting(_ runID: Int64, generation: Int64) {
        guard case .waiting(let run)? = handles[runID], run.leased.generation == generation else { return }
        handles[runID] = nil
        var runLogger = logger
        runLogger[metadataKey: "job"] = "\(run.job.name)"
        runLogger[metadataKey: "run"] = "\(runID)"
        finished(run: run.leased.run, job: run.job, generation: generation, result: .failure(CancellationError()), interrupted: false, logger: runLogger)
    }

    /// Executes the attempt of a run that holds a slot, in a task owned by the run group.
    private func execute(_ leased: LeasedRun, job: JobSpec) {
        let run = leased.run
        let kind = registry.kind(named: job.kind)
        var runLogger = logger
        runLogger[metadataKey: "job"] = "\(job.name)"
        runLogger[metadataKey: "run"] = "\(run.id)"
        let checkpoints = StoreCheckpoints(store: store, runID: run.id, owner: instanceID, generation: leased.generation, wall: wall)
        let stopSignal = StopSignal()
        var runContext = RunContext(
            job: job, runID: run.id, nominal: run.nominalInstant, attempt: run.attempt, generation: leased.generation, logger: runLogger,
            checkpoints: checkpoints, secrets: secrets,
            events: StoreRunEvents(
                store: store, runID: run.id, instance: instanceID, generation: leased.generation, wall: wall,
                redact: { [secrets] in secrets.redact($0) }),
            stateDirectory: store.path + ".d")
        runContext.stopReason = { stopSignal.reason }
        runContext.plan = plan
        let context = runContext
        let (clock, log, observer, mono) = (self.clock, runLogger, options.observer, self.mono)
        if run.trigger == .schedule && run.attempt == 1 && !leased.takenOver {
            observer.runStarted(job: job.name, lateness: wall().timeIntervalSince1970 - run.dueAt)
        }
        let work: RunWork = {
            let result: Result<RunOutcome, any Error>
            let began = mono()
            if let kind {
                result = await Engine.attempt(kind: kind, context: context, timeout: job.timeout, clock: clock, signal: stopSignal)
            } else {
                result = .failure(JobFailure("job type '\(job.kind)' is not available in this build", retryable: false))
            }
            observer.attemptEnded(job: job.name, seconds: (mono() - began).seconds)
            await self.finished(run: run, job: job, generation: leased.generation, result: result, interrupted: Task.isCancelled, logger: log)
        }
        let task = Task { await work() }
        handles[run.id] = .running(RunTask(generation: leased.generation, task: task, stopSignal: stopSignal))
        adopt(task)
        runLogger.info("run started", metadata: ["attempt": "\(run.attempt)", "nominal": "\(run.nominalInstant)", "takeover": "\(leased.takenOver)"])
    }

    struct TimedOut: Error {}

    static func attempt(
        kind: any JobKind, context: RunContext, timeout: Duration?, clock: any Clock<Duration>, signal: StopSignal = StopSignal()
    ) async -> Result<RunOutcome, any Error> {
        // Without a timeout the attempt runs in the run's own task (no child to start and join).
        guard let timeout else {
            do {
                return .success(try await kind.run(context))
            } catch {
                return .failure(error)
            }
        }
        do {
            let outcome = try await withThrowingTaskGroup(of: RunOutcome.self) { group in
                group.addTask { try await kind.run(context) }
                group.addTask {
                    try await clock.sleep(for: timeout)
                    // Told before the attempt's task is cancelled (by leaving the group).
                    signal.set(.timeout)
                    throw TimedOut()
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            return .success(outcome)
        } catch {
            return .failure(error)
        }
    }

    func stop(_ id: Int64, _ reason: StopReason) {
        if let stop = core.stop(id, reason) { perform(stop) }
    }

    /// Forgets execution (`id`, `generation`); a stale task never removes a newer execution.
    func remove(_ id: Int64, generation: Int64) {
        guard core.removeExecution(runID: id, generation: generation) else { return }
        handles[id] = nil
    }

    var draining: Bool { core.draining }

    /// An attempt ended (or a waiting run was stopped): its slot goes to a run leased ahead, and
    /// its end joins the next batch to record.
    func finished(
        run: RunRecord, job: JobSpec, generation: Int64, result: Result<RunOutcome, any Error>, interrupted: Bool, logger: Logger
    ) {
        let stopReason: StopReason?
        let ended = core.attemptEnded(runID: run.id, generation: generation, interrupted: interrupted, mono: mono())
        startReady()
        switch ended {
        case .forget(_, _, let reason)?:
            logger.warning(
                reason == .leaseLost
                    ? "run stopped: lease lost; another instance owns it now"
                    : "run stopped: its lease could not be renewed in time; nothing recorded")
            if handles[run.id]?.generation == generation { handles[run.id] = nil }
            notifyIdleIfNeeded()
            kick()
            return
        case .recordFinish(_, _, let reason)?:
            stopReason = reason
        case nil:
            logger.warning("a stale execution ended; nothing recorded", metadata: ["generation": "\(generation)"])
            return
        }
        let end: EngineCore.AttemptEnd
        switch result {
        case .success(let outcome):
            end = .succeeded(RunOutcome(summary: secrets.redact(outcome.summary), detail: outcome.detail.map(secrets.redact)))
        case .failure(is TimedOut):
            end = .timedOut(job.timeout ?? .zero)
        case .failure(let failure as JobFailure) where failure.kind == .jobFailed:
            end = .failed(message: secrets.redact(failure.message), detail: failure.detail.map(secrets.redact), retryable: failure.retryable)
        case .failure(is CancellationError):
            end = .cancelled
        case .failure(let error):
            end = .failed(message: secrets.redact(String(describing: error)), detail: nil, retryable: true)
        }
        let attemptResult = EngineCore.attemptResult(
            end, stopReason: stopReason, attempt: run.attempt, maxAttempts: run.maxAttempts, retry: job.retry, unit: random)
        if case .failed(let message, _, let retryAfter) = attemptResult {
            logger.warning("attempt failed", metadata: ["attempt": "\(run.attempt)", "error": "\(message)", "retry": "\(retryAfter != nil)"])
        }
        // The lease stays renewed until the end is recorded (the core marked the execution as
        // recording). Ends are written in batches: completions that arrive together share one
        // transaction.
        let finish = EndMachine.Finish(end: Store.AttemptEnd(runID: run.id, generation: generation, result: attemptResult), logger: logger, job: job.name)
        switch core.endQueued(finish) {
        case .startFlush: startFlush()
        case .joinsFlush: break
        }
    }

    /// Records every queued attempt end in one transaction (outside the runs' tasks, which may
    /// be cancelled), then frees their slots and starts waiting runs. A write that fails is
    /// tried again (the leases stay renewed meanwhile) until it is recorded or fenced: a
    /// finished run is never left to lapse and run again.
    func flushFinishes() async {
        // Let the ends already on their way to this actor join the batch (one commit for a wave).
        await Task.yield()
        while true {
            switch core.nextFlushStep() {
            case .finished(let kickAfter):
                notifyIdleIfNeeded()
                if kickAfter { kick() }
                return
            case .write(let batch, let endsOnly):
                await write(batch, endsOnly: endsOnly)
            }
        }
    }

    /// Records `batch` and (unless `endsOnly`) leases the slots it frees (and the lease-ahead
    /// room) in the same transaction: one commit, not two; reserved like `startPending`'s, the
    /// new runs launch only after it commits. A failure goes back to the end machine.
    private func write(_ batch: [EndMachine.Finish], endsOnly: Bool) async {
        let (store, owner, now) = (self.store, instanceID, wall())
        let ends = batch.map(\.end)
        let limit = endsOnly ? 0 : core.reserveAfterEnds(singleRun: singleRun)
        let (table, leasedAt) = (core.table, mono())
        do {
            let (fenced, leased) = try await store.finishAttempts(
                ends, owner: owner, now: now, thenStart: limit, leaseDuration: lease, jobs: table, liveSince: liveSince, live: liveInstances)
            core.release(limit)
            for finish in batch {
                if fenced.contains(finish.end.runID) {
                    finish.logger.error("could not record the run's end: another instance holds its lease now")
                } else {
                    if case .succeeded = finish.end.result { finish.logger.info("run succeeded") }
                    if let state = finish.recordedState { options.observer.runRecorded(job: finish.job, state: state) }
                }
                remove(finish.end.runID, generation: finish.end.generation)
            }
            for run in leased { launch(run, job: table[run.run.job], leasedAt: leasedAt) }
            // Runs may still wait for the freed slots when the start filled every slot it had
            // (or had none): a kick follows the flush.
            core.endsRecorded(startsMayWait: limit == 0 || leased.count == limit)
        } catch {
            core.release(limit)
            switch core.endsFailed(batch, withStarts: limit > 0) {
            case .endsAloneNow:
                break  // the start may be what failed: the ends alone are tried at once
            case .retryAfterDelay:
                logger.error(
                    "could not record \(batch.count) run end(s); trying again (leases are kept)",
                    metadata: ["error": "\(secrets.redact(String(describing: error)))"])
                finishFailures += 1
                // The ends alone could not be written: the database refuses this instance's writes.
                core.writeFailed(mono: mono())
                try? await clock.sleep(for: options.finishRetryDelay)
            }
        }
    }

    /// Asks for pending runs to be started into free slots soon; completions that arrive
    /// together share one start transaction.
    func kick() {
        switch core.startsRequested(singleRun: singleRun) {
        case .startKick: startKick()
        case .joinsKick, .refused: break
        }
    }

    /// Wakes the flush loop (a child of the run group), or, with no group open (tests driving
    /// `tick()` directly), flushes in a task of its own.
    private func startFlush() {
        if let wake = loops?.flush, case .enqueued = wake.yield() { return }
        spawn { await self.flushFinishes() }
    }

    /// Wakes the kick loop (a child of the run group), or starts a task of its own without one.
    private func startKick() {
        if let wake = loops?.kick, case .enqueued = wake.yield() { return }
        spawn { await self.startWaitingRuns() }
    }

    /// Starts pending runs into free slots right away (a queued or buffered run follows the
    /// one that just ended without waiting for the next pass).
    func startWaitingRuns() async {
        defer { notifyIdleIfNeeded() }
        var round = core.kickRoundBegins()
        while true {
            switch round {
            case .over: return
            case .startPending:
                var failed = false
                do {
                    try await startPending()
                } catch {
                    logger.error("could not start waiting runs", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
                    failed = true
                }
                if core.kickRoundEnded(failed: failed) == .startPending { round = core.kickRoundBegins() } else { return }
            }
        }
    }
}

/// The task of one execution (of lease `generation`).
struct RunTask {
    let generation: Int64
    let task: Task<Void, Never>
    /// Set before the task is cancelled.
    let stopSignal: StopSignal
}

/// Why an execution was stopped, as its kind reads it (`RunContext.stopReason`); the first
/// reason given stays.
final class StopSignal: Sendable {
    private let value = Mutex<RunStopReason?>(nil)

    var reason: RunStopReason? { value.withLock { $0 } }

    func set(_ reason: RunStopReason) {
        value.withLock { if $0 == nil { $0 = reason } }
    }
}

/// The actor's handle on one execution (the core decides which it is).
enum ExecutionHandle {
    /// Leased ahead of a free slot: the run and its job, to execute when the core gives it one.
    case waiting(WaitingRun)
    /// Executing (or recording its end): its task.
    case running(RunTask)

    /// The lease generation it belongs to.
    var generation: Int64 {
        switch self {
        case .waiting(let run): run.leased.generation
        case .running(let run): run.generation
        }
    }
}

/// A run leased ahead of a free slot, waiting here for one.
struct WaitingRun {
    let leased: LeasedRun
    let job: JobSpec
}
