import Foundation
import SchedctlBase

/// Takeover: which leases of other owners lapsed, judged on this instance's monotonic clock.
extension EngineCore {
    /// A takeover scan at most every `min(1 s, lease / 4)`.
    mutating func takeoverScanIfDue(mono: Duration) -> PassAction? {
        leases.scanIfDue(mono: mono, every: min(.seconds(1), lease / 4)) ? .scanTakeovers : nil
    }

    /// Judges the leases read by a scan. A lease lapses when it stayed unchanged (not renewed)
    /// since this instance first saw it so for the longer of this instance's lease and the
    /// owner's (stored in the lease row; an owner renews every third of its own lease), on this
    /// instance's monotonic clock: neither a wall-clock step nor a shorter lease here makes a
    /// live owner's lease look expired. (A row written before lease lengths were stored waits
    /// its remaining time by the wall, if longer, at most ten leases.) Runs this instance
    /// executes are never taken over. Returns the lapsed leases that fit the free slots
    /// (earliest expiry first), their slots reserved; lapsed leases that do not fit keep as
    /// many freed slots from pending runs until a later scan takes them over.
    mutating func leasesSeen(_ leases: [LeaseRecord], now: Now) -> PassAction? {
        let executions = self.executions
        let lapsed = self.leases.lapsed(leases, now: now, lease: lease) { executions[$0] != nil }
        let free = freeSlots
        guard !lapsed.isEmpty, !draining else {
            self.leases.wantTakeovers(0)
            return nil
        }
        let candidates = Array(lapsed.sorted { $0.expiresAt < $1.expiresAt }.prefix(free))
        self.leases.wantTakeovers(min(lapsed.count - candidates.count, settings.maxConcurrentRuns))
        guard !candidates.isEmpty else { return nil }
        reserveTakeovers(candidates.count)
        return .takeOver(candidates)
    }

    /// A lease was taken over: whether to execute it here (not if this instance started the
    /// run meanwhile: a run never executes twice here).
    mutating func tookOver(runID: Int64) -> Bool {
        leases.tookOver(runID: runID)
        return executions[runID] == nil
    }
}
