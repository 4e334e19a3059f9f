import Brokers
import Foundation
import Jobs
import Sandbox
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// Cancel requests, and crashes between an intent and its answer, against the TradeStation
/// simulator: what the simulator received and holds is counted.
@Suite("Rebalance cancel and resume against the TradeStation simulator", .serialized)
struct RebalanceResumeTests {
    static func d(_ s: String) -> Decimal { Decimal(string: s)! }

    /// The run's checkpoint as written by its journal.
    struct Checkpoint: Decodable {
        var state: RebalanceState
        var journal: [IntentJournal<RebalanceState>.Entry]
    }

    func checkpoint(_ h: RebalanceHarness, _ id: Int64) async throws -> Checkpoint {
        let text = try #require(try await h.store.run(id: id)?.checkpoint)
        return try JSONDecoder().decode(Checkpoint.self, from: Data(text.utf8))
    }

    func count(_ h: RebalanceHarness, _ method: String) -> Int {
        h.sim.requestLog.filter { $0.hasPrefix("\(method) /v3/orderexecution/orders/") }.count
    }

    /// `overlap: cancel_previous`: a newer occurrence cancels the run while its orders rest; the
    /// cancelled run cancels them (0 of its orders working at the broker) and records nothing as
    /// possibly working.
    @Test(.timeLimit(.minutes(1))) func aCancelRequestLeavesNothingWorking() async throws {
        let h = try await RebalanceHarness.make()
        defer { Task { await h.sim.stop() } }
        h.sim.setFillMode(.manual)
        var spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")])
        spec.0.schedule = Schedule(.interval(seconds: 60, aligned: true, zone: .utc))
        spec.0.overlap = .cancelPrevious
        let engine = h.engine(spec)
        let sim = h.sim
        let wall = h.wall
        let requested = Mutex<Task<Void, Never>?>(nil)
        let first = Mutex<[String]>([])
        h.clock.onSleep { _ in
            if requested.withLock({ $0 }) == nil {
                guard sim.orderCount == 2 else { return }
                first.withLock { $0 = sim.orderSummaries.map(\.id) }
                wall.advance(60)
                requested.withLock { $0 = Task { _ = await engine.tick() } }
                return
            }
            // The newer occurrence's orders fill; the cancelled run's never do.
            let mine = first.withLock { $0 }
            for o in sim.orderSummaries where !mine.contains(o.id) && (o.status == "ACK" || o.status == "OPN") {
                sim.fill(orderID: o.id, price: o.limit)
            }
        }
        let (run, _) = try await h.runOnce(engine, job: spec.0)
        await requested.withLock { $0 }?.value
        await engine.waitForIdle()
        let (cancelled, _) = try await h.result(run.id)
        #expect(cancelled.state == .cancelled, "\(cancelled.state) \(cancelled.error ?? "")")
        let ids = first.withLock { $0 }
        #expect(ids.count == 2)
        for id in ids { #expect(h.sim.orderStatus(id) == "CAN", "order \(id) of the cancelled run: \(h.sim.orderStatus(id) ?? "?")") }
        #expect(h.sim.workingOrderIDs.filter { ids.contains($0) }.isEmpty)
        let saved = try await checkpoint(h, run.id)
        #expect(saved.state.mayBeWorking == [], "\(saved.state.mayBeWorking ?? ["nil"])")
        #expect(saved.state.orders.allSatisfy { $0.state == .cancelled }, "\(saved.state.orders.map(\.state))")
        #expect(cancelled.error?.contains("may still be working") != true)
        #expect(cancelled.reason?.contains("may still be working") != true)
    }

    /// Review #7: the key each placement is journaled under is the confirm id the broker
    /// received; after a takeover the order placed before the crash is matched by it and not
    /// placed again.
    @Test(.timeLimit(.minutes(1))) func theJournalKeyIsTheConfirmIDSent() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(RebalanceHarness.account, cash: 50_000)
            h.sim.setPosition(account: RebalanceHarness.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            let spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")])
            let hanging = HangingBroker(h.client(), hangOn: 1)
            let a = h.engine(spec, id: "a", broker: hanging)
            try await a.start()
            let id = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
            _ = await a.tick()
            var reached = hanging.reached.stream.makeAsyncIterator()
            _ = await reached.next()
            await a.abandonForTesting()
            let beforeCrash = h.sim.placedConfirmIDs
            #expect(beforeCrash.count == 1)
            h.wall.advance(11)
            let b = h.engine(spec, id: "b")
            try await b.start()
            _ = await b.tick()
            h.engineClock.advance(by: .seconds(11))
            _ = await b.tick()
            await b.waitForIdle()
            let (run, _) = try await h.result(id)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            let saved = try await checkpoint(h, id)
            let keys = saved.journal.filter { $0.step.hasPrefix("place/") }.map(\.key)
            #expect(Set(keys) == Set(h.sim.placedConfirmIDs), "journal \(keys), broker \(h.sim.placedConfirmIDs)")
            #expect(keys.count == h.sim.placedConfirmIDs.count)
            #expect(h.sim.placedConfirmIDs.filter { $0 == beforeCrash[0] }.count == 1, "the pre-crash order is not placed again")
            #expect(h.sim.orderCount == 3)
            let sell = try #require(saved.state.orders.first { $0.symbol == "SPY" })
            #expect(sell.orderID == h.sim.orderSummaries.first?.id, "the pre-crash order is the run's sell")
        }
    }

    /// Review #11: the owner dies after the broker carried out a replace, before the answer was
    /// journaled. The next owner reconciles the pending replace (it is not sent again), and the
    /// order fills once, nothing left working.
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func aPendingReplaceIsReconciledNotDoubled(_ newID: Bool) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            h.sim.setHalfSpread(Self.d("0.5"))
            h.sim.setReplaceIssuesNewOrderID(newID)
            let sim = h.sim
            h.clock.onSleep { _ in
                for o in sim.orderSummaries where o.status == "OPN" || o.status == "ACK" {
                    if let l = o.limit, l >= Self.d("250.30") { sim.fill(orderID: o.id, price: l) }
                }
            }
            let spec = h.job(["VTI": 1])
            let hanging = HangingBroker(h.client(), hangOn: 1, operation: .replace)
            let a = h.engine(spec, id: "a", broker: hanging)
            try await a.start()
            let id = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
            _ = await a.tick()
            var reached = hanging.reached.stream.makeAsyncIterator()
            _ = await reached.next()
            await a.abandonForTesting()
            #expect(count(h, "PUT") == 1)
            let pending = try await checkpoint(h, id).journal.filter { $0.step.hasPrefix("replace/") && $0.outcome == nil }
            #expect(pending.count == 1, "the crash left the replace pending")
            h.wall.advance(11)
            let b = h.engine(spec, id: "b")
            try await b.start()
            _ = await b.tick()
            h.engineClock.advance(by: .seconds(11))
            _ = await b.tick()
            await b.waitForIdle()
            let (run, summary) = try await h.result(id)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            let orders = try #require(summary?.orders)
            let steps = orders.map { $0.steps.map(\.price) }
            #expect(count(h, "PUT") == orders.map { $0.steps.count - 1 }.reduce(0, +), "one replace per price step: \(steps)")
            #expect(steps.allSatisfy { Set($0).count == $0.count }, "no price step twice: \(steps)")
            #expect(h.duplicateConfirmIDs.isEmpty)
            #expect(h.sim.placedConfirmIDs.count == orders.count)
            #expect(orders.allSatisfy { $0.state == .filled }, "\(orders.map(\.state))")
            #expect(h.sim.orderSummaries.filter { $0.status == "CAN" }.isEmpty, "the replaced order was not cancelled")
            #expect(h.sim.workingOrderIDs.isEmpty, "working: \(h.sim.workingOrderIDs)")
            let saved = try await checkpoint(h, id)
            #expect(saved.journal.allSatisfy { $0.outcome != nil }, "\(saved.journal.filter { $0.outcome == nil }.map(\.step))")
        }
    }

    /// Review #11: the owner dies after the broker carried out the deadline's cancel, before the
    /// answer was journaled. The next owner confirms the cancel with the broker (it is not sent
    /// again) and nothing is left working.
    @Test(.timeLimit(.minutes(1))) func aPendingCancelIsConfirmedOnResume() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            let spec = h.job(["VTI": 1], ["deadline": .string("10m")])
            let hanging = HangingBroker(h.client(), hangOn: 1, operation: .cancel)
            let a = h.engine(spec, id: "a", broker: hanging)
            try await a.start()
            let id = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
            _ = await a.tick()
            var reached = hanging.reached.stream.makeAsyncIterator()
            _ = await reached.next()
            await a.abandonForTesting()
            #expect(count(h, "DELETE") == 1)
            let pending = try await checkpoint(h, id).journal.filter { $0.step.hasPrefix("cancel/") && $0.outcome == nil }
            #expect(pending.count == 1, "the crash left the cancel pending")
            h.wall.advance(11)
            let b = h.engine(spec, id: "b")
            try await b.start()
            _ = await b.tick()
            h.engineClock.advance(by: .seconds(11))
            _ = await b.tick()
            await b.waitForIdle()
            let (run, summary) = try await h.result(id)
            #expect(run.state == .failed)
            #expect(run.error?.contains("deadline") == true, "\(run.error ?? "")")
            #expect(count(h, "DELETE") == 1, "the cancel is not sent again")
            #expect(h.sim.orderSummaries.map(\.status) == ["CAN"])
            #expect(h.sim.workingOrderIDs.isEmpty)
            #expect(summary?.orders.first?.state == .cancelled)
            let named = summary?.mayBeWorking ?? []
            #expect(named.isEmpty, "a stale list from the dead owner: \(named)")
            #expect(run.error?.contains("may still be working") != true, "\(run.error ?? "")")
            let saved = try await checkpoint(h, id)
            #expect(saved.journal.allSatisfy { $0.outcome != nil }, "\(saved.journal.filter { $0.outcome == nil }.map(\.step))")
        }
    }

    /// Review #19: the owner dies after the run recorded `rebalance-done` but before the run's
    /// end was recorded. The next owner concludes again; the event (an alert) is not sent twice.
    @Test(.timeLimit(.minutes(1))) func aTakeoverAfterTheDoneEventDoesNotRecordItAgain() async throws {
        let h = try await RebalanceHarness.make()
        defer { Task { await h.sim.stop() } }
        h.sim.setFillMode(.manual)
        let spec = h.job(["VTI": 1], ["deadline": .string("10m")])
        let store = h.store
        let runID = Mutex<Int64?>(nil)
        let hanging = HangingBroker(h.client(), hangOn: 0) {
            guard let id = runID.withLock({ $0 }), let found = try? await store.run(id: id) else { return false }
            return found.events.contains { $0.kind == "rebalance-done" }
        }
        // The deadline's cancel is refused once, so the order still rests when the run concludes
        // and its exit reads the broker after `rebalance-done` was recorded: there it dies.
        let sim = h.sim
        let refused = Mutex(false)
        let deadline = ISO8601DateFormatter().date(from: "2026-11-23T15:10:00Z")!
        h.clock.onSleep { now in
            guard now >= deadline, !refused.withLock({ $0 }) else { return }
            refused.withLock { $0 = true }
            sim.enqueueWriteFaults(.status(400))
        }
        let a = h.engine(spec, id: "a", broker: hanging)
        try await a.start()
        let id = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
        runID.withLock { $0 = id }
        _ = await a.tick()
        var reached = hanging.reached.stream.makeAsyncIterator()
        _ = await reached.next()
        await a.abandonForTesting()
        let before = try #require(try await h.store.run(id: id))
        #expect(before.run.state == .running, "the end is not recorded yet")
        #expect(before.events.filter { $0.kind == "rebalance-done" }.count == 1)
        h.wall.advance(11)
        let b = h.engine(spec, id: "b")
        try await b.start()
        _ = await b.tick()
        h.engineClock.advance(by: .seconds(11))
        _ = await b.tick()
        await b.waitForIdle()
        let after = try #require(try await h.store.run(id: id))
        #expect(after.run.state == .failed)
        #expect(after.run.takeovers >= 1)
        #expect(after.run.error?.contains("deadline") == true, "\(after.run.error ?? "")")
        let done = after.events.filter { $0.kind == "rebalance-done" }
        #expect(done.count == 1, "rebalance-done recorded \(done.count) times: \(done.map(\.message))")
        #expect(h.sim.workingOrderIDs.isEmpty)
        #expect(h.sim.placedConfirmIDs.count == 1)
    }
}
