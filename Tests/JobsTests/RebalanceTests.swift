import Brokers
import Foundation
import Jobs
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// The rebalance kind end to end in one process: a real engine and store, the TradeStation
/// simulator over 127.0.0.1, and an injected clock for polling and replan waits.
@Suite("Rebalance against the TradeStation simulator", .serialized)
struct RebalanceTests {
    static let account = RebalanceHarness.account

    /// Equity 100,000: cash 50,000 and 100 SPY at 500.
    func seedSPY(_ h: RebalanceHarness) {
        h.sim.setAccount(Self.account, cash: 50_000)
        h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
    }

    func expectOnTarget(_ h: RebalanceHarness, _ targets: [String: Decimal], buffer: Decimal = Decimal(string: "0.01")!) {
        let weights = h.weights()
        for (symbol, target) in targets {
            let w = weights[symbol] ?? 0
            #expect(abs(w - target * (1 - buffer)) <= Decimal(string: "0.005")!, "\(symbol) at \(w), target \(target)")
        }
        for (symbol, w) in weights where targets[symbol] == nil { Issue.record("\(symbol) still held at weight \(w)") }
    }

    @Test func sellsFirstThenBuysAndEndsOnTarget() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            seedSPY(h)
            let targets: [String: Decimal] = ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!]
            let spec = h.job(targets)
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            let s = try #require(summary)
            #expect(s.orders.map(\.phase) == ["sell", "buy", "buy"])
            #expect(s.orders.allSatisfy { $0.state == .filled && $0.orderID != nil && $0.confirmID.count <= 22 })
            #expect(Set(s.orders.map(\.confirmID)).count == 3)
            #expect(h.sim.orderSummaries.map(\.symbol) == ["SPY", "VTI", "BND"], "sells reach the broker before buys")
            #expect(h.duplicateConfirmIDs.isEmpty)
            #expect(s.cashBefore == 50_000)
            #expect(s.holdings.first { $0.symbol == "SPY" }?.quantityAfter == 0)
            #expect(run.summary?.hasPrefix("rebalanced: 3 order(s), 3 filled") == true, "\(run.summary ?? "")")
            expectOnTarget(h, targets)
            let events = try await h.store.run(id: run.id)!.events
            #expect(events.contains { $0.kind == "rebalance-done" && $0.message.hasPrefix("rebalanced") })
        }
    }

    @Test func pennyVaultTargetsAndTheNextTradeDateAreUsed() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            let pv = PennyVaultSimulator()
            try await pv.start(port: 0)
            try await withSandbox(pv) { _ in
                pv.setPortfolio("growth", date: "2026-11-24", weights: [("VTI", Decimal(string: "0.5")!), ("BND", Decimal(string: "0.5")!)])
                let source = PennyVaultClient(
                    portfolio: "growth", baseURL: pv.baseURL, credentials: InMemoryCredentials(["pennyvault/token": "pv-test-token"]), sleeper: .immediate)
                seedSPY(h)
                let spec = h.job([:])
                let (run, summary) = try await h.runOnce(h.engine(spec, strategy: source), job: spec.0)
                #expect(run.state == .succeeded, "\(run.error ?? "")")
                #expect(summary?.nextTradeDate.map { ISO8601DateFormatter().string(from: $0).hasPrefix("2026-11-24") } == true)
                expectOnTarget(h, ["VTI": Decimal(string: "0.5")!, "BND": Decimal(string: "0.5")!])
            }
        }
    }

    @Test func unfilledOrdersAreReplacedStepByStepAsPricesDrift() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            h.sim.setHalfSpread(Decimal(string: "0.5")!)
            let sim = h.sim
            let clock = h.clock
            h.clock.onSleep { _ in
                // The market drifts up 5 cents every 10 polls; an order fills once its limit reaches 250.60.
                let n = clock.sleepCount
                sim.setPrice("VTI", 250 + Decimal(n / 10) * Decimal(string: "0.05")!)
                for o in sim.orderSummaries where o.status == "OPN" || o.status == "ACK" {
                    if let l = o.limit, l >= Decimal(string: "250.60")! { sim.fill(orderID: o.id, price: l) }
                }
            }
            let spec = h.job(["VTI": 1])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            let s = try #require(summary)
            let order = try #require(s.orders.first)
            #expect(s.buyRounds >= 2)
            #expect(order.steps.count >= 3, "\(order.steps)")
            #expect(zip(order.steps, order.steps.dropFirst()).allSatisfy { $0.price < $1.price }, "each replan moves toward the touch")
            #expect(order.steps.allSatisfy { $0.price <= Decimal(string: "251.75")! }, "never beyond the arrival ask by more than 0.5%")
            #expect(h.sim.orderSummaries.allSatisfy { $0.status != "CAN" }, "replaced in place, not cancelled and sent again")
            #expect(h.sim.orderSummaries.first?.id == order.orderID)
            #expect(order.slippageBps != nil)
            #expect(h.duplicateConfirmIDs.isEmpty)
        }
    }

    @Test func partialFillsKeepTheirFilledPart() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setLiquidity(50)
            let sim = h.sim
            let sawPartial = Mutex(false)
            h.clock.onSleep { _ in if sim.orderSummaries.contains(where: { $0.status == "FPR" }) { sawPartial.withLock { $0 = true } } }
            let spec = h.job(["VTI": 1])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(sawPartial.withLock { $0 })
            let order = try #require(summary?.orders.first)
            // 99,000 (after the 1% buffer) at the 251.26 cap: 394 shares, all filled in 50-share parts.
            #expect(order.quantity == 394 && order.filled == 394)
            #expect(h.sim.orderCount == 1)
        }
    }

    @Test func throttledRequestsAreRetriedWithoutDoublingOrders() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            seedSPY(h)
            h.sim.enqueueFaults(.throttle, .throttle, .throttle)
            h.sim.setQuoteQuota(30)
            let targets: [String: Decimal] = ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!]
            let spec = h.job(targets)
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.duplicateConfirmIDs.isEmpty)
            #expect(h.sim.placedConfirmIDs.count == 3)
            expectOnTarget(h, targets)
        }
    }

    @Test func aRejectedOrderFailsTheRunNamingTheSymbol() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.rejectNextOrders(1)
            let spec = h.job(["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("VTI") == true, "\(run.error ?? "")")
            #expect(run.attempt == 1, "not retried")
            let s = try #require(summary)
            #expect(s.orders.first { $0.symbol == "VTI" }?.state == .rejected)
            #expect(s.orders.first { $0.symbol == "BND" }?.state == .filled)
            #expect(s.residuals.contains { $0.hasPrefix("VTI") })
        }
    }

    @Test func buysNeverExceedTheBuyingPowerLeftAfterTheSells() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            seedSPY(h)
            h.sim.rejectNextOrders(1)  // the SPY sell: its proceeds never arrive
            let spec = h.job(["VTI": 1])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            let s = try #require(summary)
            let buy = try #require(s.orders.first { $0.phase == "buy" })
            #expect(buy.quantity * buy.arrivalAsk * Decimal(string: "1.005")! <= 50_000)
            #expect(buy.state == .filled, "sized to fit, so not refused for buying power")
            #expect(s.warnings.contains { $0.contains("cash available") })
            #expect(h.sim.cash(account: Self.account)! >= 0)
        }
    }

    @Test(arguments: ["stale", "crossed", "zero"])
    func aBadQuoteFailsBeforeAnyOrder(_ kind: String) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            switch kind {
            case "stale": h.sim.setQuoteStale("BND")
            case "crossed": h.sim.setQuote("BND", bid: 73, ask: 72)
            default: h.sim.setQuote("BND", bid: 0, ask: 0)
            }
            let spec = h.job(["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("BND") == true, "\(run.error ?? "")")
            #expect(h.sim.orderCount == 0)
        }
    }

    @Test func theDeadlineCancelsWhatIsLeft() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            h.sim.setAsyncCancel(true)
            let spec = h.job(["VTI": 1], ["deadline": .string("10m")])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("deadline") == true, "\(run.error ?? "")")
            let s = try #require(summary)
            #expect(s.deadlineReached)
            #expect(s.orders.first?.state == .cancelled)
            #expect(h.sim.orderSummaries.map(\.status) == ["CAN"])
        }
    }

    @Test func aPlanOverMaxNotionalPlacesNothing() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            let spec = h.job(["VTI": 1], ["max_notional": .number(10_000)])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("max_notional") == true)
            #expect(summary?.holdings.isEmpty == false, "the plan is recorded")
            #expect(h.sim.orderCount == 0)
        }
    }

    @Test func outsideTheSessionNothingIsPlaced() async throws {
        let h = try await RebalanceHarness.make(start: "2026-11-23T03:00:00Z")
        try await withSandbox(h.sim) { _ in
            let spec = h.job(["VTI": 1])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("not in session") == true, "\(run.error ?? "")")
            #expect(h.sim.orderCount == 0)
        }
    }

    @Test(arguments: [true, false])
    func aDryRunValidatesEachOrderAndPlacesNothing(_ fromOptions: Bool) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            seedSPY(h)
            let spec = h.job(["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!], fromOptions ? ["dry_run": .bool(true)] : [:])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0, checkpoint: fromOptions ? nil : RebalanceJob.dryRunCheckpoint())
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            let s = try #require(summary)
            #expect(s.dryRun)
            #expect(s.orders.count == 3)
            #expect(s.orders.allSatisfy { $0.confirmation?.contains("@") == true && $0.orderID == nil })
            #expect(h.sim.orderCount == 0)
            #expect(h.sim.confirmRequestCount == 3)
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "SPY") == 100)
        }
    }

    /// The owner dies right after the broker accepted an order, before the answer reached the
    /// journal (in the sell phase, then in the buy phase); the next owner finds the order at the
    /// broker instead of sending it again.
    @Test(.timeLimit(.minutes(1)), arguments: [1, 3])
    func aTakeoverReconcilesInsteadOfPlacingTwice(_ hangOn: Int) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 80, averagePrice: 480)
            h.sim.setPosition(account: Self.account, symbol: "MSFT", quantity: 20, averagePrice: 400)
            let targets: [String: Decimal] = ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!]
            let spec = h.job(targets)
            let hanging = HangingBroker(h.client(), hangOn: hangOn)
            let a = h.engine(spec, id: "a", broker: hanging)
            try await a.start()
            let id = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
            _ = await a.tick()
            var reached = hanging.reached.stream.makeAsyncIterator()
            _ = await reached.next()
            try #require(hanging.entered.withLock { $0 })
            await a.abandonForTesting()
            h.wall.advance(11)
            let b = h.engine(spec, id: "b")
            try await b.start()
            _ = await b.tick()  // b first sees the lease; it lapses after a lease of b's monotonic time
            h.engineClock.advance(by: .seconds(11))
            _ = await b.tick()
            await b.waitForIdle()
            let (run, summary) = try await h.result(id)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(run.takeovers >= 1)
            #expect(h.duplicateConfirmIDs.isEmpty, "confirm ids sent twice: \(h.duplicateConfirmIDs)")
            #expect(h.sim.placedConfirmIDs.count == 4)
            #expect(h.sim.orderCount == 4)
            #expect(summary?.orders.allSatisfy { $0.state == .filled } == true)
            expectOnTarget(h, targets)
        }
    }
}
