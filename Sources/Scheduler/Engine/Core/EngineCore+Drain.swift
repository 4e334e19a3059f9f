import Foundation

/// Drain: `DrainMachine` sequences it; the core routes its steps into actions for the drain's
/// executor (`Engine.drain`), adding the stops of what still executes.
extension EngineCore {
    /// What the drain's executor does (it switches over every case).
    enum DrainAction: Equatable, Sendable {
        /// Sleep, then decide again (or go on with the next action).
        case sleep(Duration)
        /// Drop start times that passed, then start due pending runs.
        case startDue
        /// Stop an execution (released for another instance).
        case stop(runID: Int64, generation: Int64, reason: StopReason)
        /// Wait until no run executes here, then deregister the instance.
        case deregister
    }

    /// Stop claiming and taking over (the main loop ends).
    mutating func stopClaiming() {
        drain.stopClaiming()
    }

    /// Whether claims and takeovers stopped.
    var draining: Bool { drain.draining }

    /// Where the drain is.
    var drainPhase: DrainMachine.Phase { drain.phase }

    /// The service was cancelled: runs waiting for a slot never start.
    var interrupted: Bool { drain.interrupted }

    /// Starts the drain sequence at `mono`. Runs claimed ahead are at most the claim horizon
    /// ahead; starting them may wait past a shorter grace, but not past `max(grace, 2 s)`.
    mutating func beginDrain(mono: Duration) {
        drain.stopClaiming()
        drain.begin(mono: mono, grace: settings.shutdownGrace)
    }

    /// The next step of the drain: `[.sleep?, .startDue]` while runs claimed ahead wait for
    /// their instant; `[.sleep]` while executions finish within the grace (which runs from the
    /// last ahead start); then the stops of the rest and `.deregister`. `cancelled`: the
    /// service is cancelled, so nothing more is waited for.
    mutating func drainStep(now: Now, cancelled: Bool) -> [DrainAction] {
        let step = drain.step(
            now: now, nextStart: passes.nextStart, executing: !executions.isEmpty, grace: settings.shutdownGrace, cancelled: cancelled)
        switch step {
        case .sleepThenStartDue(let wait): return [.sleep(wait), .startDue]
        case .startDue: return [.startDue]
        case .sleep(let wait): return [.sleep(wait)]
        case .stopAllThenDeregister:
            return stopAll(.shutdown).map { .stop(runID: $0.runID, generation: $0.generation, reason: $0.reason) } + [.deregister]
        case .deregister: return [.deregister]
        }
    }
}
