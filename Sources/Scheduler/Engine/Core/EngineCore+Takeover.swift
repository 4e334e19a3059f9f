import Foundation
import SchedctlBase

/// Takeover: which leases of other owners lapsed, judged on this instance's monotonic clock.
extension EngineCore {
    /// A takeover scan at most every `min(1 s, lease / 4)`.
    mutating func takeoverScanIfDue(mono: Duration) -> Action? {
        let scanEvery = min(.seconds(1), lease / 4)
        guard lastTakeoverScan.map({ mono - $0 >= scanEvery }) ?? true else { return nil }
        lastTakeoverScan = mono
        return .scanTakeovers
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
    mutating func leasesSeen(_ leases: [LeaseRecord], now: Now) -> Action? {
        let wallNow = now.wall.timeIntervalSince1970
        var seen: [Int64: Observation] = [:]
        var lapsed: [LeaseRecord] = []
        for held in leases where executions[held.runID] == nil {
            if let old = observed[held.runID], old.lease == held {
                seen[held.runID] = old
                if now.mono - old.since >= old.patience { lapsed.append(held) }
            } else {
                let patience: Duration
                if let ownerLease = held.duration {
                    patience = max(lease, .milliseconds(Int64(ownerLease * 1000)))
                } else {
                    let remaining = min(max(0, held.expiresAt - wallNow), 10 * lease.seconds)
                    patience = max(lease, .milliseconds(Int64(remaining * 1000)))
                }
                seen[held.runID] = Observation(lease: held, since: now.mono, patience: patience)
            }
        }
        observed = seen
        let free = freeSlots
        guard !lapsed.isEmpty, !draining else {
            takeoverWanted = 0
            return nil
        }
        let candidates = Array(lapsed.sorted { $0.expiresAt < $1.expiresAt }.prefix(free))
        takeoverWanted = min(lapsed.count - candidates.count, settings.maxConcurrentRuns)
        guard !candidates.isEmpty else { return nil }
        reserved += candidates.count
        return .takeOver(candidates)
    }

    /// A lease was taken over: whether to execute it here (not if this instance started the
    /// run meanwhile: a run never executes twice here).
    mutating func tookOver(runID: Int64) -> Bool {
        observed[runID] = nil
        return executions[runID] == nil
    }
}
