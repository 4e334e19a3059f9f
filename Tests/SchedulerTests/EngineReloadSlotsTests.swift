import Foundation
import SchedctlTesting
import Testing

@testable import Scheduler

/// Review §6: a reload that raises `max_concurrent_runs` starts the runs leased ahead that wait
/// here for a slot at once (they used to wait for an end or their hand-back).
@Suite struct EngineReloadSlotsTests {
    @Test func aLargerMaxConcurrentRunsStartsTheWaitingRunsAtOnce() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let jobs = [
            every("quick", seconds: 3600), every("long", seconds: 3600, kind: "probe"), every("w1", seconds: 3600, kind: "probe"),
            every("w2", seconds: 3600, kind: "probe"),
        ]
        let engine = bed.engine(jobs, maxConcurrent: 1, kinds: [bed.kind, probe])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        // The quick run ends (attempts are quick: runs are leased ahead), then one probe executes
        // in the only slot and the other two wait here for it.
        // (Bounded by `eventually`: the quick run's end is a synced commit, not a few yields.)
        _ = await eventually {
            await engine.tick()
            let waiting = await engine.waitingCount
            return probe.snapshot.executions == 1 && waiting == 2
        }
        #expect(bed.kind.attempts.count == 1)
        #expect(probe.snapshot.executions == 1)
        #expect(await engine.waitingCount == 2)

        try await engine.reload(bed.plan(jobs, maxConcurrent: 3))
        #expect(await engine.waitingCount == 0, "the waiting runs did not start into the new slots")
        let started = await eventually { probe.snapshot.executions == 3 }
        #expect(started, "\(probe.snapshot.executions) execution(s)")
        probe.release()
        await engine.waitForIdle()
    }
}
