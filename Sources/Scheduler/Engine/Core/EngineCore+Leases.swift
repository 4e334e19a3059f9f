import Foundation

/// The lease keeper's decisions: local deadlines, when to renew, what renewal answers mean.
extension EngineCore {
    /// Stops executions past their local deadline (even if the database cannot be reached), hands
    /// back runs leased ahead that waited `aheadHold` for a slot (the slots are held by runs
    /// taking their time: no more is leased ahead until attempts end quickly again), and renews
    /// the held leases when a renewal is due and none is in flight.
    mutating func maintainLeases(mono now: Duration) -> [Action] {
        var actions = executions.keys.sorted().compactMap { id -> Action? in
            guard let execution = executions[id], execution.stopReason == nil else { return nil }
            if execution.validUntil <= now { return stop(id, .leaseExpired) }
            guard execution.waiting, now - execution.leasedAt >= settings.aheadHold else { return nil }
            pace = max(pace ?? .zero, settings.aheadHold)
            return stop(id, .handBack)
        }
        guard !renewing, lastRenewal.map({ now - $0 >= renewalInterval }) ?? true else { return actions }
        let held = executions.keys.sorted().compactMap { id -> HeldLease? in
            guard let execution = executions[id], execution.stopReason?.fenced != true else { return nil }
            return HeldLease(id: id, generation: execution.generation)
        }
        guard !held.isEmpty else { return actions }
        lastRenewal = now
        renewing = true
        actions.append(.renew(held, startedAt: now))
        return actions
    }

    /// The renewal answered: renewed leases extend their deadline (from the renewal's start),
    /// lost ones stop, requested cancels stop.
    mutating func renewed(_ held: [HeldLease], answers: [Int64: Store.Renewal], startedAt: Duration) -> [Action] {
        renewing = false
        var actions: [Action] = []
        for run in held {
            guard var execution = executions[run.id], execution.generation == run.generation, let answer = answers[run.id] else { continue }
            switch answer {
            case .renewed(let cancelRequested):
                execution.validUntil = max(execution.validUntil, startedAt + lease - margin)
                executions[run.id] = execution
                if cancelRequested { stop(run.id, .cancelRequested).map { actions.append($0) } }
            case .ended:
                break  // this instance recorded the end meanwhile; the flush frees the slot
            case .lost:
                stop(run.id, .leaseLost).map { actions.append($0) }
            }
        }
        return actions
    }

    /// The renewal failed: the next keeper pass tries again (the local deadlines still hold).
    mutating func renewalFailed() {
        renewing = false
        lastRenewal = nil
    }

    /// How long the keeper sleeps: until the next renewal or the earliest local deadline.
    func keeperSleep(mono now: Duration) -> Duration {
        var wait = renewalInterval
        for execution in executions.values where execution.stopReason == nil {
            wait = min(wait, max(.milliseconds(1), execution.validUntil - now))
            if execution.waiting { wait = min(wait, max(.milliseconds(1), execution.leasedAt + settings.aheadHold - now)) }
        }
        if let last = lastRenewal { wait = min(wait, max(.milliseconds(1), last + renewalInterval - now)) }
        return wait
    }
}
