import Foundation

/// The lease keeper's decisions: local deadlines, when to renew, what renewal answers mean.
extension EngineCore {
    /// Stops executions past their local deadline (even if the database cannot be reached), hands
    /// back runs leased ahead that waited `aheadHold` for a slot (the slots are held by runs
    /// taking their time: no more is leased ahead until attempts end quickly again), and renews
    /// the held leases when a renewal is due (`renewalDue`) and none is in flight.
    mutating func maintainLeases(mono now: Duration) -> [Action] {
        var actions = executions.keys.sorted().compactMap { id -> Action? in
            guard let execution = executions[id], execution.stopReason == nil else { return nil }
            // A recording execution's work is over: it is never expired here, and it stays
            // renewed until its end is written (a renewal is harmless and tells takers it lives).
            if execution.validUntil <= now && !execution.recording { return stop(id, .leaseExpired) }
            guard execution.waiting, now - execution.leasedAt >= settings.aheadHold else { return nil }
            pace = max(pace ?? .zero, settings.aheadHold)
            aheadHeld = EngineCore.quickEndsAfterHandBack
            return stop(id, .handBack)
        }
        guard !renewing, let due = renewalDue, now >= due else { return actions }
        let held = executions.keys.sorted().compactMap { id -> HeldLease? in
            guard let execution = executions[id], execution.stopReason?.fenced != true else { return nil }
            return HeldLease(id: id, generation: execution.generation)
        }
        renewing = true
        actions.append(.renew(held, startedAt: now))
        return actions
    }

    /// When the held leases need renewing: a third of a lease after the least recently renewed
    /// (or taken) of them was, not before a failed renewal's retry time; nil while none is held.
    /// Leases just taken (a burst's) wait for their turn: no renewal lands in the middle of the
    /// burst that took them, and an idle instance has nothing due.
    var renewalDue: Duration? {
        let renewedAt = executions.values.lazy.filter { $0.stopReason?.fenced != true }.map { $0.validUntil - (self.lease - self.margin) }.min()
        return renewedAt.map { max($0 + renewalInterval, renewalRetry ?? .zero) }
    }

    /// The renewal answered: renewed leases extend their deadline (from the renewal's start),
    /// lost ones stop, requested cancels stop.
    mutating func renewed(_ held: [HeldLease], answers: [Int64: Store.Renewal], startedAt: Duration) -> [Action] {
        renewing = false
        renewalRetry = nil
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

    /// The renewal failed at `mono`: it is tried again a second later (the local deadlines still
    /// hold).
    mutating func renewalFailed(mono: Duration) {
        renewing = false
        renewalRetry = mono + .seconds(1)
        writeFailed(mono: mono)
    }

    /// How long the keeper sleeps: until the next renewal or the earliest local deadline.
    func keeperSleep(mono now: Duration) -> Duration {
        var wait = renewalInterval
        for execution in executions.values where execution.stopReason == nil && !execution.recording {
            wait = min(wait, max(.milliseconds(1), execution.validUntil - now))
            if execution.waiting { wait = min(wait, max(.milliseconds(1), execution.leasedAt + settings.aheadHold - now)) }
        }
        if !renewing, let due = renewalDue { wait = min(wait, max(.milliseconds(1), due - now)) }
        return wait
    }
}
