import Foundation
import Logging

/// Graceful shutdown: the core sequences the drain; this performs its steps.
extension Engine {
    /// Stops claiming, lets running jobs finish for up to the shutdown grace (monotonic; leases
    /// stay renewed), then cancels the rest and releases them so another instance resumes them
    /// at once. Occurrences this instance claimed ahead of time are honoured: each starts when
    /// due (they are at most the claim horizon ahead), and the grace runs from the last start.
    public func drain() async {
        core.beginDrain(mono: mono())
        startKeeper()
        logger.notice(
            "draining", metadata: ["running": "\(core.executionCount)", "grace": "\(DurationText.format(plan.service.shutdownGrace))"])
        while true {
            for action in core.drainStep(now: now, cancelled: Task.isCancelled) {
                switch action {
                case .sleep(let wait):
                    try? await clock.sleep(for: wait)
                case .startDue:
                    core.dropPassedStarts(now: wall())
                    _ = try? await startPending()
                case .stop(let runID, let generation, let reason):
                    perform(EngineCore.Stop(runID: runID, generation: generation, reason: reason))
                case .deregister:
                    await waitForIdle()
                    stopKeeper()
                    try? await store.removeInstance(instanceID)
                    logger.notice("stopped", metadata: ["instance": "\(instanceID)"])
                    return
                }
            }
        }
    }
}
