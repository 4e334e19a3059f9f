import Brokers
import Foundation
import Jobs
import Sandbox
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// The engine tells a rebalance why its attempt stops: a stale owner (its lease lost) must leave
/// the run's working orders to the instance that took it over, never cancel them.
@Suite("Rebalance stale owner", .serialized)
struct RebalanceStaleOwnerTests {
    @Test(.timeLimit(.minutes(1))) func aStaleOwnerLeavesTheWorkingOrdersToTheTaker() async throws {
        let h = try await RebalanceHarness.make()
        defer { Task { await h.sim.stop() } }
        h.sim.setFillMode(.manual)
        let spec = h.job(["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
        let engine = h.engine(spec)
        let sim = h.sim
        let resting = AsyncStream<Void>.makeStream()
        h.clock.onSleep { _ in
            // Both orders rest at the broker while the run waits for their fills.
            if sim.orderCount == 2 { resting.continuation.yield() }
        }
        try await engine.start()
        _ = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
        _ = await engine.tick()
        var iterator = resting.stream.makeAsyncIterator()
        _ = await iterator.next()
        let working = Set(sim.workingOrderIDs)
        #expect(working.count == 2)
        // Another instance took the lease over: this one is stopped with its lease lost.
        await engine.abandonForTesting()
        await engine.waitForIdle()
        #expect(sim.requestLog.filter { $0.hasPrefix("DELETE /v3/orderexecution/orders/") }.isEmpty, "the stale owner cancelled the taker's orders")
        #expect(Set(sim.workingOrderIDs) == working)
    }
}
