import Foundation
import Logging

/// The lease keeper (renewal on its own schedule with a local monotonic deadline) and the
/// takeover of leases whose owners stopped renewing them. The core decides; this performs.
extension Engine {
    /// Starts the keeper if it is not running: a loop, a child of the run group (`run()`,
    /// `executeNow`; a task of its own without one), that renews held leases every third of the
    /// lease and cancels executions past their local deadline, whatever the main loop does. It
    /// ends with `stopKeeper` or when the group is cancelled.
    func startKeeper() {
        guard case .stopped = keeper else { return }
        keeperRuns += 1
        let run = keeperRuns
        keeper = .running(run: run, nap: nil)
        child(orElse: .drop) { await self.keepLeases(run) }
    }

    /// Stops the keeper (its loop ends at once: its sleep is cancelled).
    func stopKeeper() {
        if case .running(_, let nap?) = keeper { nap.cancel() }
        keeper = .stopped
    }

    /// Makes a running keeper decide again now if it would sleep past `deadline` (monotonic; its
    /// sleep was chosen before that deadline existed): its sleep is cancelled.
    func wakeKeeper(by deadline: Duration) {
        guard case .running(_, let nap) = keeper, core.keeperWakes(by: deadline, mono: mono()) else { return }
        nap?.cancel()
    }

    /// The keeper's loop (`run` tells it from a later keeper's after a stop and a start). Each
    /// sleep is a task of its own, awaited here, so that a wake-up cancels the sleep, not the loop.
    private func keepLeases(_ run: Int) async {
        while case .running(run, _) = keeper, !Task.isCancelled {
            maintainLeases()
            let (clock, sleep) = (self.clock, core.keeperSleeps(mono: mono()))
            let nap = Task<Void, Never> { _ = try? await clock.sleep(for: sleep) }
            keeper = .running(run: run, nap: nap)
            await withTaskCancellationHandler {
                await nap.value
            } onCancel: {
                nap.cancel()
            }
        }
    }

    /// One pass of the lease keeper: cancels executions whose lease was not renewed in time
    /// (even if the database cannot be reached), and starts a renewal when one is due. Never
    /// waits for the database: the renewal runs on its own (see `settleRenewal`).
    package func maintainLeases() {
        for action in core.maintainLeases(mono: mono()) {
            switch action {
            case .stop(let id, let generation, let reason):
                if reason == .handBack {
                    logger.notice(
                        "no slot freed for a run leased ahead; handing it back (any instance may start it)",
                        metadata: ["run": "\(id)", "generation": "\(generation)"])
                } else {
                    logger.error(
                        "lease not renewed in time; cancelling run (another instance may take it over)",
                        metadata: ["run": "\(id)", "generation": "\(generation)"])
                }
                perform(EngineCore.Stop(runID: id, generation: generation, reason: reason))
            case .renew(let held, let startedAt):
                let request = RenewalRequest(held: held, startedAt: startedAt)
                if let loop = loops?.renew {
                    // The renewal loop ended (the group was cancelled): the renewal is not made.
                    if case .enqueued = loop.yield(request) {} else { renewalDropped() }
                } else {
                    spawn { await self.renew(request) }
                }
            }
        }
    }

    /// Waits for the renewal in flight, if any (tests).
    package func settleRenewal() async {
        while core.renewing { await withCheckedContinuation { renewalWaiters.append($0) } }
    }

    /// A renewal the keeper asked for cannot be made (its loop ended): it counts as failed.
    func renewalDropped() {
        core.renewalFailed(mono: mono())
        renewalSettled()
    }

    private func renewalSettled() {
        let waiters = renewalWaiters
        renewalWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Renews the leases of `request` (the renewal loop's, or a task of its own without a group).
    func renew(_ request: RenewalRequest) async {
        defer { renewalSettled() }
        let (held, startedAt) = (request.held, request.startedAt)
        let answers: [Int64: Store.Renewal]
        do {
            answers = try await store.renew(held.map { (id: $0.id, generation: $0.generation) }, owner: instanceID, now: wall, leaseDuration: lease)
        } catch {
            // The local deadline cancels the executions if this keeps failing.
            logger.error("lease renewal failed; retrying", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            options.observer.leasesRenewed(succeeded: false, at: wall())
            core.renewalFailed(mono: mono())
            return
        }
        renewals += 1
        options.observer.leasesRenewed(succeeded: true, at: wall())
        for stop in core.renewed(held, answers: answers, startedAt: startedAt) {
            if stop.reason == .leaseLost {
                logger.warning("lease lost; cancelling run", metadata: ["run": "\(stop.runID)", "generation": "\(stop.generation)"])
            }
            perform(stop)
        }
    }

    /// Takes over `candidates` (lapsed leases the core chose, their slots reserved) and executes
    /// them; returns how many started here. Runs this instance executes are never taken over.
    func takeOver(_ candidates: [LeaseRecord]) async throws -> Int {
        let (table, leasedAt) = (core.table, mono())
        let outcome: Store.Takeover
        do {
            outcome = try await store.takeOverReportingEnds(
                candidates, owner: instanceID, now: wall(), leaseDuration: lease, maxTakeovers: options.maxTakeovers, jobs: table, liveSince: liveSince,
                live: liveInstances)
        } catch {
            core.release(candidates.count)
            throw error
        }
        core.release(candidates.count)
        for ended in outcome.ended where ended.checkpoint != nil { stopLeftovers(of: ended, table: table) }
        var started = 0
        for leased in outcome.taken {
            // A run this instance started meanwhile is never executed twice here.
            guard core.tookOver(runID: leased.run.id) else { continue }
            logger.notice("took over run", metadata: ["job": "\(leased.run.job)", "run": "\(leased.run.id)", "generation": "\(leased.generation)"])
            // Ahead of runs leased ahead: its owner died with it started.
            launch(leased, job: table[leased.run.job], leasedAt: leasedAt, first: true)
            started += 1
        }
        return started
    }

    /// Has the run's kind stop what the last owner of a run this takeover ended left running
    /// (an `exec` supervisor and its command), in a child of the run group (a drain waits for it).
    /// A run whose job this configuration lacks is offered to every kind (each recognises only
    /// its own checkpoints).
    private func stopLeftovers(of ended: EndedRun, table: JobTable) {
        let kinds: [any JobKind]
        if let job = table[ended.job] {
            kinds = registry.kind(named: job.kind).map { [$0] } ?? []
        } else {
            kinds = Array(registry.kinds.values)
        }
        guard !kinds.isEmpty else { return }
        var runLogger = logger
        runLogger[metadataKey: "job"] = "\(ended.job)"
        runLogger[metadataKey: "run"] = "\(ended.runID)"
        let (log, events) = (
            runLogger, StoreRunEvents(store: store, runID: ended.runID, instance: instanceID, wall: wall, redact: { [secrets] in secrets.redact($0) })
        )
        child {
            for kind in kinds { await kind.stopLeftovers(of: ended, logger: log, events: events) }
        }
    }
}

/// The lease keeper's loop, as the actor holds it.
enum Keeper {
    case stopped
    /// Its loop runs (`run` tells it from a later start's); `nap` is its current sleep.
    case running(run: Int, nap: Task<Void, Never>?)
}
