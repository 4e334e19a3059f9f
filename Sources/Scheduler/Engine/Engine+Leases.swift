import Foundation
import Logging

/// The lease keeper (renewal on its own schedule with a local monotonic deadline) and the
/// takeover of leases whose owners stopped renewing them.
extension Engine {
    /// How often held leases are renewed.
    var renewalInterval: Duration { lease / 3 }

    /// Starts the keeper task if it is not running: it renews held leases every third of the
    /// lease and cancels executions past their local deadline, whatever the main loop does.
    func startKeeper() {
        guard keeper == nil else { return }
        keeper = Task { await self.keepLeases() }
    }

    private func keepLeases() async {
        while !Task.isCancelled {
            maintainLeases()
            var wait = renewalInterval
            let now = mono()
            for execution in executions.values where execution.stopReason == nil {
                wait = min(wait, max(.milliseconds(1), execution.validUntil - now))
            }
            if let last = lastRenewal { wait = min(wait, max(.milliseconds(1), last + renewalInterval - now)) }
            do { try await clock.sleep(for: wait) } catch { return }
        }
    }

    /// One pass of the lease keeper: cancels executions whose lease was not renewed in time
    /// (even if the database cannot be reached), and starts a renewal when one is due. Never
    /// waits for the database: the renewal runs on its own (see `settleRenewal`).
    public func maintainLeases() {
        let now = mono()
        for (id, execution) in executions where execution.stopReason == nil && execution.validUntil <= now {
            logger.error(
                "lease not renewed in time; cancelling run (another instance may take it over)",
                metadata: ["run": "\(id)", "generation": "\(execution.generation)"])
            stop(id, .leaseExpired)
        }
        guard renewal == nil, lastRenewal.map({ now - $0 >= renewalInterval }) ?? true else { return }
        let held = executions.filter { $0.value.stopReason?.fenced != true }.map { (id: $0.key, generation: $0.value.generation) }
        guard !held.isEmpty else { return }
        lastRenewal = now
        renewal = Task { await self.renew(held, startedAt: now) }
    }

    /// Waits for the renewal in flight, if any (tests).
    public func settleRenewal() async {
        await renewal?.value
    }

    private func renew(_ held: [(id: Int64, generation: Int64)], startedAt: Duration) async {
        defer { renewal = nil }
        let answers: [Int64: Store.Renewal]
        do {
            answers = try await store.renew(held, owner: instanceID, now: wall, leaseDuration: lease)
        } catch {
            // The local deadline cancels the executions if this keeps failing.
            logger.error("lease renewal failed; retrying", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            lastRenewal = nil
            return
        }
        renewals += 1
        for run in held {
            guard var execution = executions[run.id], execution.generation == run.generation, let answer = answers[run.id] else { continue }
            switch answer {
            case .renewed(let cancelRequested):
                execution.validUntil = max(execution.validUntil, startedAt + lease - margin)
                executions[run.id] = execution
                if cancelRequested { stop(run.id, .cancelRequested) }
            case .ended:
                break  // this instance recorded the end meanwhile; the flush frees the slot
            case .lost:
                logger.warning("lease lost; cancelling run", metadata: ["run": "\(run.id)", "generation": "\(run.generation)"])
                stop(run.id, .leaseLost)
            }
        }
    }

    /// Takes over leases whose owners stopped renewing them. Liveness is judged on this
    /// instance's monotonic clock: a lease lapses when it stayed unchanged (not renewed) for a
    /// whole lease (or its remaining time, if longer) since this instance first saw it so. A
    /// wall-clock step therefore never makes a live owner's lease look expired. Runs this
    /// instance executes are never taken over.
    func takeOverLapsed(_ report: inout TickReport) async throws {
        let scanEvery = min(.seconds(1), lease / 4)
        guard lastTakeoverScan.map({ mono() - $0 >= scanEvery }) ?? true else { return }
        lastTakeoverScan = mono()
        let leases = try await store.leases()
        let now = mono()
        let wallNow = wall().timeIntervalSince1970
        var seen: [Int64: Observation] = [:]
        var lapsed: [LeaseRecord] = []
        for held in leases where executions[held.runID] == nil {
            if let old = observed[held.runID], old.lease == held {
                seen[held.runID] = old
                if now - old.since >= old.patience { lapsed.append(held) }
            } else {
                let remaining = min(max(0, held.expiresAt - wallNow), 10 * lease.seconds)
                seen[held.runID] = Observation(lease: held, since: now, patience: max(lease, .milliseconds(Int64(remaining * 1000))))
            }
        }
        observed = seen
        let free = plan.service.maxConcurrentRuns - executions.count - reserved
        guard !lapsed.isEmpty, free > 0, !draining else { return }
        let candidates = Array(lapsed.sorted { $0.expiresAt < $1.expiresAt }.prefix(free))
        reserved += candidates.count
        let (table, leasedAt) = (self.table, mono())
        let taken: [LeasedRun]
        do {
            taken = try await store.takeOver(
                candidates, owner: instanceID, now: wall(), leaseDuration: lease, maxTakeovers: options.maxTakeovers, jobs: table, liveSince: liveSince)
        } catch {
            reserved -= candidates.count
            throw error
        }
        reserved -= candidates.count
        for leased in taken {
            observed[leased.run.id] = nil
            // A run this instance started meanwhile is never executed twice here.
            guard executions[leased.run.id] == nil else { continue }
            logger.notice("took over run", metadata: ["job": "\(leased.run.job)", "run": "\(leased.run.id)", "generation": "\(leased.generation)"])
            launch(leased, job: table[leased.run.job], leasedAt: leasedAt)
            report.started += 1
            report.takenOver += 1
        }
    }
}
