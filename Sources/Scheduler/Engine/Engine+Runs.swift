import Foundation
import Logging

/// Executing runs: launch, the attempt with its timeout, recording the end (retried until it
/// is recorded or fenced), and starting waiting runs into freed slots.
extension Engine {
    /// Executes a leased run. `job` comes from the job table the lease was taken with.
    func launch(_ leased: LeasedRun, job: JobSpec?, leasedAt: Duration) {
        let run = leased.run
        guard let job else {
            // Leased for a job this configuration no longer has: end it rather than let it cycle.
            let (store, owner, now) = (self.store, instanceID, wall())
            Task.detached {
                try? await store.finishAttempt(
                    runID: run.id, owner: owner, generation: leased.generation, now: now,
                    result: .cancelled(reason: "the job is no longer in the configuration"))
            }
            return
        }
        let kind = registry.kind(named: job.kind)
        var runLogger = logger
        runLogger[metadataKey: "job"] = "\(job.name)"
        runLogger[metadataKey: "run"] = "\(run.id)"
        let checkpoints = StoreCheckpoints(store: store, runID: run.id, owner: instanceID, generation: leased.generation, wall: wall)
        let context = RunContext(
            job: job, runID: run.id, nominal: run.nominalInstant, attempt: run.attempt, generation: leased.generation, logger: runLogger,
            checkpoints: checkpoints, secrets: secrets, events: StoreRunEvents(store: store, runID: run.id, instance: instanceID, wall: wall))
        let clock = self.clock
        let task = Task {
            let result: Result<RunOutcome, any Error>
            if let kind {
                result = await Engine.attempt(kind: kind, context: context, timeout: job.timeout, clock: clock)
            } else {
                result = .failure(JobFailure("job type '\(job.kind)' is not available in this build", retryable: false))
            }
            await self.finished(run: run, job: job, generation: leased.generation, result: result, logger: runLogger)
        }
        executions[run.id] = Execution(task: task, generation: leased.generation, validUntil: leasedAt + lease - margin)
        runLogger.info("run started", metadata: ["attempt": "\(run.attempt)", "nominal": "\(run.nominalInstant)", "takeover": "\(leased.takenOver)"])
    }

    /// The safety margin before a lease's expiry at which an unrenewed execution is cancelled.
    var margin: Duration { lease / 6 }

    struct TimedOut: Error {}

    static func attempt(kind: any JobKind, context: RunContext, timeout: Duration?, clock: any Clock<Duration>) async -> Result<RunOutcome, any Error> {
        do {
            let outcome = try await withThrowingTaskGroup(of: RunOutcome.self) { group in
                group.addTask { try await kind.run(context) }
                if let timeout {
                    group.addTask {
                        try await clock.sleep(for: timeout)
                        throw TimedOut()
                    }
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
        guard var execution = executions[id], execution.stopReason == nil else { return }
        execution.stopReason = reason
        executions[id] = execution
        execution.task.cancel()
    }

    /// Forgets execution (`id`, `generation`); a stale task never removes a newer execution.
    func remove(_ id: Int64, generation: Int64) {
        if executions[id]?.generation == generation { executions[id] = nil }
    }

    func finished(run: RunRecord, job: JobSpec, generation: Int64, result: Result<RunOutcome, any Error>, logger: Logger) async {
        guard var execution = executions[run.id], execution.generation == generation else {
            logger.warning("a stale execution ended; nothing recorded", metadata: ["generation": "\(generation)"])
            return
        }
        let stopReason = execution.stopReason
        if stopReason?.fenced == true {
            logger.warning(
                stopReason == .leaseLost
                    ? "run stopped: lease lost; another instance owns it now"
                    : "run stopped: its lease could not be renewed in time; nothing recorded")
            remove(run.id, generation: generation)
            notifyIdleIfNeeded()
            kick()
            return
        }
        let attemptResult: Store.AttemptResult
        switch result {
        case .success(let outcome):
            attemptResult = .succeeded(RunOutcome(summary: secrets.redact(outcome.summary), detail: outcome.detail.map(secrets.redact)))
        case .failure(let error):
            if stopReason == .shutdown {
                attemptResult = .released
            } else if stopReason == .cancelRequested {
                attemptResult = .cancelled(reason: "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request")
            } else {
                var message: String
                var detail: String?
                var retryable = true
                if error is TimedOut {
                    message = "timed out after \(DurationText.format(job.timeout ?? .zero))"
                } else if let failure = error as? JobFailure {
                    message = failure.message
                    detail = failure.detail
                    retryable = failure.retryable
                } else if error is CancellationError {
                    message = "cancelled"
                } else {
                    message = String(describing: error)
                }
                message = secrets.redact(message)
                detail = detail.map(secrets.redact)
                let retry = retryable && run.attempt < run.maxAttempts
                let delay = retry ? job.retry.delay(beforeAttempt: run.attempt + 1, unit: random()) : nil
                attemptResult = .failed(message: message, detail: detail, retryAfter: delay)
                logger.warning("attempt failed", metadata: ["attempt": "\(run.attempt)", "error": "\(message)", "retry": "\(retry)"])
            }
        }
        // The slot stays taken and the lease renewed until the end is recorded.
        execution.recording = true
        executions[run.id] = execution
        // Ends are written in batches: completions that arrive together share one transaction.
        finishQueue.append(Finish(end: Store.AttemptEnd(runID: run.id, generation: generation, result: attemptResult), logger: logger))
        if !flushScheduled {
            flushScheduled = true
            Task { await self.flushFinishes() }
        }
    }

    /// A finished attempt waiting to be recorded.
    struct Finish {
        var end: Store.AttemptEnd
        var logger: Logger
    }

    /// Records every queued attempt end in one transaction (outside the runs' tasks, which may
    /// be cancelled), then frees their slots and starts waiting runs. A write that fails is
    /// tried again (the leases stay renewed meanwhile) until it is recorded or fenced: a
    /// finished run is never left to lapse and run again.
    func flushFinishes() async {
        // Whether runs may still wait for the freed slots (the combined start filled every slot it
        // had, or started none): then a kick follows; otherwise nothing more was due.
        var kickNeeded = false
        while !finishQueue.isEmpty {
            let batch = finishQueue
            finishQueue = []
            let (store, owner, now) = (self.store, instanceID, wall())
            let ends = batch.map(\.end)
            // The slots these ends free are filled in the same transaction (one commit, not two),
            // reserved like `startPending`'s; the new runs launch only after it commits.
            let ending = batch.filter { executions[$0.end.runID]?.generation == $0.end.generation }.count
            let limit = draining || singleRun ? 0 : max(0, plan.service.maxConcurrentRuns - (executions.count - ending) - reserved)
            reserved += limit
            let (table, leasedAt) = (self.table, mono())
            do {
                let (fenced, leased) = try await store.finishAttempts(
                    ends, owner: owner, now: now, thenStart: limit, leaseDuration: lease, jobs: table, liveSince: liveSince)
                reserved -= limit
                for finish in batch {
                    if fenced.contains(finish.end.runID) {
                        finish.logger.error("could not record the run's end: another instance holds its lease now")
                    } else if case .succeeded = finish.end.result {
                        finish.logger.info("run succeeded")
                    }
                    remove(finish.end.runID, generation: finish.end.generation)
                }
                for run in leased { launch(run, job: table[run.run.job], leasedAt: leasedAt) }
                if limit == 0 || leased.count == limit { kickNeeded = true }
            } catch {
                reserved -= limit
                logger.error(
                    "could not record \(batch.count) run end(s); trying again (leases are kept)",
                    metadata: ["error": "\(secrets.redact(String(describing: error)))"])
                finishQueue = batch + finishQueue
                finishFailures += 1
                try? await clock.sleep(for: options.finishRetryDelay)
            }
        }
        flushScheduled = false
        notifyIdleIfNeeded()
        if kickNeeded { kick() }
    }

    /// Asks for pending runs to be started into free slots soon; completions that arrive
    /// together share one start transaction.
    func kick() {
        guard !draining, !singleRun else { return }
        if kickScheduled {
            kickAgain = true
            return
        }
        kickScheduled = true
        Task { await self.startWaitingRuns() }
    }

    /// Starts pending runs into free slots right away (a queued or buffered run follows the
    /// one that just ended without waiting for the next pass).
    private func startWaitingRuns() async {
        defer {
            kickScheduled = false
            notifyIdleIfNeeded()
        }
        repeat {
            kickAgain = false
            guard !draining else { return }
            do {
                try await startPending()
            } catch {
                logger.error("could not start waiting runs", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
                return
            }
        } while kickAgain
    }
}
