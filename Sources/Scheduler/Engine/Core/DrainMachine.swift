import Foundation

/// The drain as a small state machine with private state: stop claiming, start what was claimed
/// ahead when due, let executions finish within the grace, stop the rest, deregister. `EngineCore`
/// feeds it what it needs (the next ahead start, whether anything executes) and adds the stops.
struct DrainMachine: Equatable {
    /// Where the service is, from running to stopped.
    enum Phase: Equatable {
        /// Claiming and taking over.
        case running
        /// Asked to stop claiming (a graceful shutdown, or the service cancelled); the drain's
        /// sequence has not begun.
        case claimsStopped
        /// Starting the runs claimed ahead when due, until `limit`.
        case aheadStarts(limit: Duration)
        /// Letting executions finish until `deadline`.
        case grace(deadline: Duration)
        /// The rest was stopped; deregistering.
        case stopped
    }

    /// What the drain's executor does next.
    enum Step: Equatable {
        /// Sleep (at most until the next ahead start), then start what is due.
        case sleepThenStartDue(Duration)
        /// Start the runs claimed ahead that are due now.
        case startDue
        /// Sleep while executions finish within the grace.
        case sleep(Duration)
        /// Stop every execution (released for another instance), then deregister.
        case stopAllThenDeregister
        /// Deregister (nothing is left to stop).
        case deregister
    }

    private(set) var phase = Phase.running
    /// The service was cancelled: runs waiting for a slot never begin, nothing more starts.
    private(set) var interrupted = false

    /// Whether claims and takeovers stopped (any phase but `running`).
    var draining: Bool { phase != .running }

    /// Stop claiming and taking over (the main loop ends); the sequence begins with `begin`.
    mutating func stopClaiming() {
        if phase == .running { phase = .claimsStopped }
    }

    /// The service task was cancelled: stop claiming, and no waiting run begins.
    mutating func interrupt() {
        interrupted = true
        stopClaiming()
    }

    /// Begins the sequence at `mono`. Runs claimed ahead are at most the claim horizon ahead;
    /// starting them may wait past a shorter grace, but not past `max(grace, 2 s)`.
    mutating func begin(mono: Duration, grace: Duration) {
        phase = .aheadStarts(limit: mono + max(grace, .seconds(2)))
    }

    /// The next step at `now`: `nextStart` is the earliest run claimed ahead (seconds since the
    /// epoch), `executing` whether anything still executes here, `cancelled` whether the service
    /// is cancelled (then nothing more is waited for).
    mutating func step(now: EngineCore.Now, nextStart: Double?, executing: Bool, grace: Duration, cancelled: Bool) -> Step {
        switch phase {
        case .running, .claimsStopped:
            begin(mono: now.mono, grace: grace)
            return step(now: now, nextStart: nextStart, executing: executing, grace: grace, cancelled: cancelled)
        case .aheadStarts(let limit):
            if let next = nextStart, now.mono < limit, !cancelled {
                let wait = next - now.wall.timeIntervalSince1970
                guard wait > 0 else { return .startDue }
                return .sleepThenStartDue(min(.milliseconds(Int64(wait * 1000) + 1), limit - now.mono))
            }
            phase = .grace(deadline: now.mono + grace)
            return step(now: now, nextStart: nextStart, executing: executing, grace: grace, cancelled: cancelled)
        case .grace(let deadline):
            if executing && now.mono < deadline && !cancelled { return .sleep(min(.milliseconds(50), deadline - now.mono)) }
            phase = .stopped
            return .stopAllThenDeregister
        case .stopped:
            return .deregister
        }
    }
}
