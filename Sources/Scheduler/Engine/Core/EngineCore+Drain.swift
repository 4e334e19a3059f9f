import Foundation

/// Drain: stop claiming, start what was claimed ahead when due, let executions finish within
/// the grace, stop the rest (released for another instance), deregister.
extension EngineCore {
    /// Stop claiming and taking over (the main loop ends).
    mutating func stopClaiming() {
        draining = true
    }

    /// Starts the drain sequence at `mono`. Runs claimed ahead are at most the claim horizon
    /// ahead; starting them may wait past a shorter grace, but not past `max(grace, 2 s)`.
    mutating func beginDrain(mono: Duration) {
        draining = true
        drainPhase = .aheadStarts(limit: mono + max(settings.shutdownGrace, .seconds(2)))
    }

    /// The next step of the drain: `[.sleep?, .startDue]` while runs claimed ahead wait for
    /// their instant; `[.sleep]` while executions finish within the grace (which runs from the
    /// last ahead start); then the stops of the rest and `.deregister`. `cancelled`: the
    /// service is cancelled, so nothing more is waited for.
    mutating func drainStep(now: Now, cancelled: Bool) -> [Action] {
        switch drainPhase {
        case .none:
            beginDrain(mono: now.mono)
            return drainStep(now: now, cancelled: cancelled)
        case .aheadStarts(let limit):
            if let next = startTimes.min(), now.mono < limit, !cancelled {
                let wait = next - now.wall.timeIntervalSince1970
                guard wait > 0 else { return [.startDue] }
                return [.sleep(min(.milliseconds(Int64(wait * 1000) + 1), limit - now.mono)), .startDue]
            }
            drainPhase = .grace(deadline: now.mono + settings.shutdownGrace)
            return drainStep(now: now, cancelled: cancelled)
        case .grace(let deadline):
            if !executions.isEmpty && now.mono < deadline && !cancelled {
                return [.sleep(min(.milliseconds(50), deadline - now.mono))]
            }
            drainPhase = .stopped
            return stopAll(.shutdown) + [.deregister]
        case .stopped:
            return [.deregister]
        }
    }
}
