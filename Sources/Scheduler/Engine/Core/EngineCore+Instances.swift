import Foundation
import SchedctlBase

/// Other instances' liveness, judged on this instance's monotonic clock: an instance is live
/// while its heartbeat row keeps changing (or reads recent by the wall). A forward wall-clock
/// step therefore never makes a live instance look dead, nor gets its row deleted.
extension EngineCore {
    /// How long an instance's heartbeat may stay unchanged before it counts as gone (rolling
    /// reloads: its jobs' runs wait for it meanwhile).
    var liveWindow: Duration { max(settings.heartbeatInterval * 3, lease) }

    /// How long an instance's heartbeat must stay unchanged before its row is deleted.
    static let forgetAfter: Duration = .seconds(86_400)

    /// The heartbeats of the other instances, read at `mono` (instance id → heartbeat time).
    /// A changed (or first seen) heartbeat restarts that instance's observation.
    mutating func instancesSeen(_ beats: [String: Double], mono: Duration) {
        leases.instancesSeen(beats, mono: mono)
    }

    /// The instances whose heartbeat changed within `liveWindow` of `mono` on this instance's
    /// clock (the store also counts any heartbeat recent by the wall as live).
    func liveInstances(mono: Duration) -> Set<String> {
        leases.liveInstances(mono: mono, window: liveWindow)
    }

    /// The instances whose rows may be deleted: silent for `forgetAfter` both on this
    /// instance's clock and by the wall (they died without a goodbye: SIGKILL, power loss).
    func forgottenInstances(now: Now) -> [String] {
        leases.forgottenInstances(now: now, after: EngineCore.forgetAfter)
    }
}
