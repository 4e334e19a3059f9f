import Foundation

/// The lease keeper's decisions: local deadlines, when to renew, what renewal answers mean.
extension EngineCore {
    /// What the lease keeper does (`Engine.maintainLeases` switches over every case).
    enum KeeperAction: Equatable, Sendable {
        /// Stop an execution (past its local deadline, handed back, lost, or its cancel requested).
        case stop(runID: Int64, generation: Int64, reason: StopReason)
        /// Renew these leases (then `renewed` or `renewalFailed`).
        case renew([HeldLease], startedAt: Duration)
    }

    /// Stops executions past their local deadline (even if the database cannot be reached), hands
    /// back runs leased ahead that waited `aheadHold` for a slot (the slots are held by runs
    /// taking their time: no more is leased ahead until attempts end quickly again), and renews
    /// the held leases when a renewal is due (`renewalDue`) and none is in flight.
    mutating func maintainLeases(mono now: Duration) -> [KeeperAction] {
        var actions = executions.keys.sorted().compactMap { id -> KeeperAction? in
            guard let execution = executions[id], execution.stopReason == nil else { return nil }
            // A recording execution's work is over: it is never expired here, and it stays
            // renewed until its end is written (a renewal is harmless and tells takers it lives).
            if execution.validUntil <= now && !execution.recording { return stop(id, .leaseExpired).map(KeeperAction.init) }
            guard execution.waiting, now - execution.leasedAt >= settings.aheadHold else { return nil }
            handedBack()
            return stop(id, .handBack).map(KeeperAction.init)
        }
        guard !leases.renewing, let due = renewalDue, now >= due else { return actions }
        let held = executions.keys.sorted().compactMap { id -> HeldLease? in
            guard let execution = executions[id], execution.stopReason?.fenced != true else { return nil }
            return HeldLease(id: id, generation: execution.generation)
        }
        leases.renewalStarted()
        actions.append(.renew(held, startedAt: now))
        return actions
    }

    /// When the held leases need renewing: a third of a lease after the least recently renewed
    /// (or taken) of them was, not before a failed renewal's retry time; nil while none is held.
    /// Leases just taken (a burst's) wait for their turn: no renewal lands in the middle of the
    /// burst that took them, and an idle instance has nothing due.
    var renewalDue: Duration? {
        let renewedAt = executions.values.lazy.filter { $0.stopReason?.fenced != true }.map { $0.validUntil - (self.lease - self.margin) }.min()
        return renewedAt.map { max($0 + renewalInterval, leases.retryAt ?? .zero) }
    }

    /// The renewal answered: renewed leases extend their deadline (from the renewal's start),
    /// lost ones stop, requested cancels stop.
    mutating func renewed(_ held: [HeldLease], answers: [Int64: Store.Renewal], startedAt: Duration) -> [Stop] {
        leases.renewalAnswered()
        var actions: [Stop] = []
        for run in held {
            guard executions[run.id]?.generation == run.generation, let answer = answers[run.id] else { continue }
            switch answer {
            case .renewed(let cancelRequested):
                extendDeadline(of: run.id, to: startedAt + lease - margin)
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
        leases.renewalFailed(mono: mono)
    }

    /// A renewal is in flight.
    var renewing: Bool { leases.renewing }

    /// The keeper goes to sleep at `now`: for `keeperSleep` (it is woken early only for a
    /// deadline before its sleep ends: `keeperWakes`).
    mutating func keeperSleeps(mono now: Duration) -> Duration {
        let sleep = keeperSleep(mono: now)
        leases.keeperSleeps(until: now + sleep)
        return sleep
    }

    /// Whether the sleeping keeper must be woken at `mono` to act by `deadline` (its sleep ends
    /// later); if so it counts as woken.
    mutating func keeperWakes(by deadline: Duration, mono: Duration) -> Bool {
        leases.keeperWakes(by: deadline, now: mono)
    }

    /// How long the keeper sleeps: until the next renewal or the earliest local deadline.
    func keeperSleep(mono now: Duration) -> Duration {
        var wait = renewalInterval
        for execution in executions.values where execution.stopReason == nil && !execution.recording {
            wait = min(wait, max(.milliseconds(1), execution.validUntil - now))
            if execution.waiting { wait = min(wait, max(.milliseconds(1), execution.leasedAt + settings.aheadHold - now)) }
        }
        if !leases.renewing, let due = renewalDue { wait = min(wait, max(.milliseconds(1), due - now)) }
        return wait
    }
}

extension EngineCore.KeeperAction {
    init(_ stop: EngineCore.Stop) {
        self = .stop(runID: stop.runID, generation: stop.generation, reason: stop.reason)
    }
}
