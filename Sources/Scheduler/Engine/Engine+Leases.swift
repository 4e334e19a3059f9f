import Foundation
import Logging

/// The lease keeper (renewal on its own schedule with a local monotonic deadline) and the
/// takeover of leases whose owners stopped renewing them. The core decides; this performs.
extension Engine {
    /// Starts the keeper task if it is not running: it renews held leases every third of the
    /// lease and cancels executions past their local deadline, whatever the main loop does.
    func startKeeper() {
        guard keeper == nil else { return }
        let task = Task { await self.keepLeases() }
        keeper = task
        adopt(task)
    }

    /// Stops the keeper task.
    func stopKeeper() {
        keeper?.cancel()
        keeper = nil
    }

    /// Makes a running keeper decide again now if it would sleep past `deadline` (monotonic; its
    /// sleep was chosen before that deadline existed).
    func wakeKeeper(by deadline: Duration) {
        guard keeper != nil, core.keeperWakes(by: deadline, mono: mono()) else { return }
        stopKeeper()
        startKeeper()
    }

    private func keepLeases() async {
        while !Task.isCancelled {
            maintainLeases()
            let sleep = core.keeperSleeps(mono: mono())
            do { try await clock.sleep(for: sleep) } catch { return }
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
                let task = Task { await self.renew(held, startedAt: startedAt) }
                renewal = task
                adopt(task)
            }
        }
    }

    /// Waits for the renewal in flight, if any (tests).
    package func settleRenewal() async {
        await renewal?.value
    }

    private func renew(_ held: [EngineCore.HeldLease], startedAt: Duration) async {
        defer { renewal = nil }
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
        let task = Task {
            for kind in kinds { await kind.stopLeftovers(of: ended, logger: log, events: events) }
        }
        adopt(task)
    }
}
