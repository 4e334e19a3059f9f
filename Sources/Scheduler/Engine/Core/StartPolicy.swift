import Foundation

/// Whether a run may start here now: decided inside the start (or takeover) transaction from what
/// it read, pure and table-tested (`StartPolicyTests`). The store performs the decision.
enum StartPolicy {
    /// What becomes of one candidate.
    enum Decision: Equatable {
        /// Lease it and execute it.
        case start
        /// Leave it pending: its job's runs wait (paused, or busy under its overlap policy), so
        /// the rest of that job is left out of this transaction.
        case hold
        /// End it without executing: its final state, the reason, and the event kind that records
        /// it (nil: none).
        case end(RunState, reason: String, event: String?)
        /// Its job is not in this instance's configuration: hold it when a live instance has the
        /// job (a rolling reload), else end it (`jobGone`).
        case jobMissing
    }

    /// How a run whose job no instance has anymore ends.
    static let jobGone = Decision.end(.cancelled, reason: "the job is no longer in the configuration", event: nil)

    /// A pending run's start. `paused` and `busy` are its job's (busy: a run of it is running,
    /// here or in this transaction). Checked in this order: a requested cancel (a
    /// `cancel_previous` run released or handed back never runs after its replacement), the job's
    /// presence, a pause (a manual run still runs), a stale ahead-claim (misfire policy), overlap.
    static func pending(_ run: RunRecord, job: JobSpec?, paused: Bool, busy: Bool, at t: Double) -> Decision {
        if run.cancelRequested {
            return .end(
                .cancelled, reason: "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request, before it started again",
                event: "cancelled")
        }
        guard let job else { return .jobMissing }
        if run.trigger != .manual, paused { return .hold }
        if let reason = Store.staleAheadClaim(run, job: job, at: t) { return .end(.skipped, reason: reason, event: "skipped") }
        if job.overlap != .allow, busy { return .hold }
        return .start
    }

    /// A lapsed lease's run, taken over from `lastOwner`: a requested cancel ends it cancelled
    /// rather than relaunched, and a run taken over `maxTakeovers` times is abandoned.
    static func takeover(_ run: RunRecord, job: JobSpec?, lastOwner: String, maxTakeovers: Int) -> Decision {
        guard job != nil else { return .jobMissing }
        if run.cancelRequested {
            return .end(.cancelled, reason: "cancelled: its owner \(lastOwner) stopped renewing before the requested cancel was recorded", event: "cancelled")
        }
        if run.takeovers >= maxTakeovers {
            return .end(.abandoned, reason: "abandoned: its lease expired \(run.takeovers + 1) times (last owner \(lastOwner))", event: "abandoned")
        }
        return .start
    }
}
