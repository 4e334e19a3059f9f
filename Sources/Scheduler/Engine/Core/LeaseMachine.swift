import Foundation
import SchedctlBase

/// Renewal, takeover observation and other instances' liveness as a small state machine with
/// private state. The executions (and their local deadlines) are `EngineCore`'s; this machine
/// holds what the keeper and the takeover scan remember between calls.
struct LeaseMachine: Equatable {
    /// Where the renewal of the held leases is.
    enum Renewal: Equatable {
        /// None in flight; the next is due by the leases' age.
        case idle
        /// A renewal transaction is in flight.
        case inFlight
        /// The last renewal failed: the next is not tried before `until` (monotonic).
        case backoff(until: Duration)
    }

    private(set) var renewal = Renewal.idle
    /// Leases of other owners as last seen, and since when (monotonic) unchanged.
    private var observed: [Int64: EngineCore.Observation] = [:]
    /// When the last takeover scan was made (monotonic).
    private var lastScan: Duration?
    /// Lapsed leases seen that did not fit the free slots: that many freed slots are kept for
    /// the next takeover scan instead of being refilled with pending runs.
    private(set) var takeoverWanted = 0
    /// Other instances' heartbeats as this instance last read them (liveness judged on its own
    /// monotonic clock, so a wall-clock step never makes a live instance look dead).
    private var instances: [String: EngineCore.InstanceSighting] = [:]
    /// When the keeper's current sleep ends (monotonic; nil: it is not asleep).
    private var keeperWake: Duration?

    // MARK: Renewal

    /// A renewal is in flight.
    var renewing: Bool { renewal == .inFlight }

    /// The earliest time a renewal may start after a failed one (nil: no backoff).
    var retryAt: Duration? {
        if case .backoff(let until) = renewal { until } else { nil }
    }

    /// A renewal starts.
    mutating func renewalStarted() {
        renewal = .inFlight
    }

    /// The renewal answered.
    mutating func renewalAnswered() {
        renewal = .idle
    }

    /// The renewal failed at `mono`: the next is tried a second later; every observation
    /// starts again (this instance could not write).
    mutating func renewalFailed(mono: Duration) {
        renewal = .backoff(until: mono + .seconds(1))
        writeFailed(mono: mono)
    }

    /// The keeper sleeps until `wake` (monotonic).
    mutating func keeperSleeps(until wake: Duration) {
        keeperWake = wake
    }

    /// Whether the keeper must be woken at `now` to act by `deadline` (its sleep ends later, or
    /// is unknown); if so it counts as woken (it decides at once).
    mutating func keeperWakes(by deadline: Duration, now: Duration) -> Bool {
        guard keeperWake.map({ $0 > deadline }) ?? true else { return false }
        keeperWake = now
        return true
    }

    // MARK: Takeover

    /// Whether a takeover scan is due at `mono` (at most every `every`); if so it counts as made.
    mutating func scanIfDue(mono: Duration, every: Duration) -> Bool {
        guard lastScan.map({ mono - $0 >= every }) ?? true else { return false }
        lastScan = mono
        return true
    }

    /// Judges the leases a scan read (see `EngineCore.leasesSeen`): returns the lapsed ones,
    /// those `executingHere` excepted; a lease unchanged for its patience has lapsed.
    mutating func lapsed(_ leases: [LeaseRecord], now: EngineCore.Now, lease: Duration, executingHere: (Int64) -> Bool) -> [LeaseRecord] {
        let wallNow = now.wall.timeIntervalSince1970
        var seen: [Int64: EngineCore.Observation] = [:]
        var lapsed: [LeaseRecord] = []
        for held in leases where !executingHere(held.runID) {
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
                seen[held.runID] = EngineCore.Observation(lease: held, since: now.mono, patience: patience)
            }
        }
        observed = seen
        return lapsed
    }

    /// `count` lapsed leases did not fit the free slots: keep that many freed slots for them.
    mutating func wantTakeovers(_ count: Int) {
        takeoverWanted = count
    }

    /// A lease was taken over: it is no longer observed.
    mutating func tookOver(runID: Int64) {
        observed[runID] = nil
    }

    /// This instance could not write: every observation starts again at `mono`.
    mutating func writeFailed(mono: Duration) {
        for id in observed.keys { observed[id]?.since = mono }
    }

    // MARK: Instances

    /// The heartbeats of the other instances, read at `mono`; a changed (or first seen)
    /// heartbeat restarts that instance's observation.
    mutating func instancesSeen(_ beats: [String: Double], mono: Duration) {
        var seen: [String: EngineCore.InstanceSighting] = [:]
        for (id, beat) in beats {
            if let old = instances[id], old.heartbeat == beat {
                seen[id] = old
            } else {
                seen[id] = EngineCore.InstanceSighting(heartbeat: beat, since: mono)
            }
        }
        instances = seen
    }

    /// The instances whose heartbeat changed within `window` of `mono`.
    func liveInstances(mono: Duration, window: Duration) -> Set<String> {
        Set(instances.filter { mono - $0.value.since < window }.keys)
    }

    /// The instances silent for `after` both on this instance's clock and by the wall.
    func forgottenInstances(now: EngineCore.Now, after: Duration) -> [String] {
        let wall = now.wall.timeIntervalSince1970
        return instances.filter { now.mono - $0.value.since >= after && wall - $0.value.heartbeat >= after.seconds }.keys.sorted()
    }
}
