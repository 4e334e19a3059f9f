import Brokers
import Foundation
import Jobs
import Sandbox
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// Issue 17 through a real engine and store against the TradeStation simulator: convergence in
/// rounds, a cash (not margin) budget, refusals, the gate, and every exit leaving nothing
/// working. Every assertion counts what the simulator received and holds.
@Suite("Rebalance safety against the TradeStation simulator", .serialized)
struct RebalanceSafetyTests {
    static let account = RebalanceHarness.account
    static func d(_ s: String) -> Decimal { Decimal(string: s)! }

    /// SPY 40, BND 100, $20,000 cash; VTI 50 / BND 30 / GLD 20, buffer 1%, drift 0.5%,
    /// pricing mid, step 50%, limit 3%.
    func seedIssueScenario(_ h: RebalanceHarness) -> ([String: Decimal], [String: ConfigValue]) {
        h.sim.setAccount(Self.account, cash: 20_000)
        h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 40, averagePrice: 480)
        h.sim.setPosition(account: Self.account, symbol: "BND", quantity: 100, averagePrice: 70)
        h.sim.setPrice("GLD", 190)
        let targets = ["VTI": Self.d("0.5"), "BND": Self.d("0.3"), "GLD": Self.d("0.2")]
        let options: [String: ConfigValue] = [
            "cash_buffer": .string("1%"), "drift": .string("0.5%"),
            "pricing": .map(["start": .string("mid"), "step": .string("50%"), "limit": .string("3%")]),
        ]
        return (targets, options)
    }

    func weight(_ h: RebalanceHarness, _ symbol: String) -> Decimal {
        h.sim.positionQuantity(account: Self.account, symbol: symbol) * (h.sim.price(symbol) ?? 0) / (h.sim.equity(account: Self.account) ?? 1)
    }

    @Test func theIssueScenarioConvergesWithinDriftInRounds() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            let (targets, options) = seedIssueScenario(h)
            let spec = h.job(targets, options)
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            for (symbol, target) in targets {
                let w = weight(h, symbol)
                #expect(abs(w - target * Self.d("0.99")) <= Self.d("0.005"), "\(symbol) at \(w) vs \(target)")
            }
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "SPY") == 0)
            let cash = try #require(h.sim.cash(account: Self.account))
            #expect(cash >= Self.d("472.10"), "the 1% buffer is kept: cash \(cash)")
            // Not two shares short with the cash in hand: VTI and GLD reach their whole-share targets
            // (floor of weight × (equity − buffer) / price), BND is within drift.
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "VTI") == 93)
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "GLD") == 49)
            let s = try #require(summary)
            #expect((s.rounds ?? 0) >= 2, "rounds \(s.rounds ?? 0)")
            #expect(run.summary?.contains("round(s)") == true, "\(run.summary ?? "")")
            #expect(h.duplicateConfirmIDs.isEmpty)
            #expect(h.sim.workingOrderIDs.isEmpty)
        }
    }

    /// A margin account (buying power 2× equity): the SPY sell is rejected and buys are paid
    /// from cash only, keeping the buffer; `use_margin: true` is what allows borrowing.
    @Test(arguments: [false, true])
    func aMarginAccountNeverBorrowsUnlessAllowed(_ useMargin: Bool) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            h.sim.setMargin(account: Self.account, multiplier: 2)
            h.sim.rejectNextOrders(1)  // the SPY sell: its proceeds never arrive
            let spec = h.job(["VTI": 1], useMargin ? ["use_margin": .bool(true)] : [:])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed, "SPY stays held: \(run.summary ?? "")")
            let cash = try #require(h.sim.cash(account: Self.account))
            if useMargin {
                #expect(cash < 0, "use_margin: true borrows (cash \(cash))")
            } else {
                #expect(cash >= 1_000, "cash \(cash): no margin loan, and the 1% buffer is kept")
                #expect(h.sim.positionQuantity(account: Self.account, symbol: "VTI") > 0)
            }
            #expect(h.sim.workingOrderIDs.isEmpty)
        }
    }

    /// Each refusal fails the run before anything reaches the broker, naming the input.
    @Test(arguments: ["empty", "zero", "buffer", "equity-missing", "equity-mismatch", "existing-order"])
    func refusalsPlaceNothing(_ kind: String) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            var targets: [String: Decimal] = ["VTI": 1]
            var options: [String: ConfigValue] = [:]
            var expected = ""
            var foreign = ""
            switch kind {
            case "empty": targets = [:]; expected = "no target weights"
            case "zero": targets = ["VTI": 0]; expected = "no target weights"
            case "buffer": options["cash_buffer"] = .string("200000"); expected = "at or above"
            case "equity-missing": h.sim.omitBalanceFields(["Equity"]); expected = "Equity"
            case "equity-mismatch": h.sim.setEquityAdjustment(account: Self.account, 5_000); expected = "disagrees"
            default:
                foreign = h.sim.addWorkingOrder(account: Self.account, symbol: "VTI", buy: true, quantity: 40, limit: 240)
                expected = foreign
            }
            let writes = h.sim.orderWriteCount
            let spec = h.job(targets, options)
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains(expected) == true, "\(run.error ?? "")")
            #expect(h.sim.orderWriteCount == writes, "nothing was sent")
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "SPY") == 100)
            if !foreign.isEmpty { #expect(h.sim.orderStatus(foreign) == "OPN", "the manual order is left alone") }
        }
    }

    /// `allow_liquidation: true` is what lets an empty target set sell everything.
    @Test func allowLiquidationSellsEverything() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            let spec = h.job([:], ["allow_liquidation": .bool(true)])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "SPY") == 0)
        }
    }

    /// A manual BUY 40 VTI working beside the run: `cancel` cancels it first, `include` nets it
    /// (and it fills during the run); either way the account ends at the target, not above.
    @Test(arguments: ["cancel", "include"])
    func existingOrdersAreCancelledOrNetted(_ mode: String) async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            let manual = h.sim.addWorkingOrder(account: Self.account, symbol: "VTI", buy: true, quantity: 40, limit: 240)
            h.sim.setFillMode(.manual)
            let sim = h.sim
            // Every working order (the run's and the manual one) fills at its limit on the next poll.
            h.clock.onSleep { _ in for o in sim.orderSummaries where o.status == "OPN" || o.status == "ACK" { sim.fill(orderID: o.id, price: o.limit) } }
            let spec = h.job(["VTI": 1], ["existing_orders": .string(mode)])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            let vti = h.sim.positionQuantity(account: Self.account, symbol: "VTI")
            // The target is the whole shares of 99% of equity (the manual fill at 240 added 400 to it).
            let target = (h.sim.equity(account: Self.account)! * Self.d("0.99") / 250).rounded(scale: 0, .down)
            #expect(vti <= target && vti >= target - 5, "VTI \(vti) against a target of \(target): \(h.sim.orderSummaries)")
            #expect(h.sim.orderStatus(manual) == (mode == "cancel" ? "CAN" : "FLL"))
            #expect(h.sim.cash(account: Self.account)! >= 0)
            #expect(h.sim.workingOrderIDs.isEmpty)
        }
    }

    /// A deadline already past when the run starts (open + 30m at 10:00 New York): nothing is placed.
    @Test func aRunPastItsDeadlinePlacesNothing() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            let spec = h.job(["VTI": 1], ["deadline": .map(["market": .string("XNYS"), "at": .string("open"), "offset": .string("30m")])])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("deadline") == true, "\(run.error ?? "")")
            #expect(h.sim.orderWriteCount == 0)
        }
    }

    /// The session closes while the sells rest: they are cancelled and no buy goes out.
    @Test func theGateStopsTheBuysAtTheClose() async throws {
        let h = try await RebalanceHarness.make(start: "2026-11-23T20:58:00Z")
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            h.sim.setFillMode(.manual)
            let sim = h.sim
            h.clock.onSleep { now in
                // The sell fills as the session closes; the buys would be planned right after it.
                if now >= ISO8601DateFormatter().date(from: "2026-11-23T20:59:59Z")! {
                    for o in sim.orderSummaries where !o.buy && (o.status == "ACK" || o.status == "OPN") { sim.fill(orderID: o.id) }
                }
            }
            let spec = h.job(["VTI": 1], ["poll_every": .duration(.seconds(30))])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(h.sim.orderSummaries.map(\.status) == ["FLL"], "the sell filled as the session closed")
            #expect(h.sim.orderSummaries.allSatisfy { !$0.buy }, "no buy reached the broker after the close: \(h.sim.orderSummaries.map(\.symbol))")
            #expect(summary?.deadlineReached == true)
            #expect(h.sim.workingOrderIDs.isEmpty)
        }
    }

    /// A read fails for good while the run's orders rest: the run fails and cancels them.
    @Test func aFailedRunLeavesNothingWorking() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            let sim = h.sim
            let failed = Mutex(false)
            h.clock.onSleep { _ in
                if !failed.withLock({ $0 }), sim.orderCount > 0 {
                    failed.withLock { $0 = true }
                    sim.enqueueFaults(.status(403))
                }
            }
            let spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(h.sim.orderCount == 2)
            #expect(h.sim.workingOrderIDs.isEmpty, "working at the broker: \(h.sim.workingOrderIDs)")
            #expect(h.sim.orderSummaries.allSatisfy { $0.status == "CAN" })
            #expect(summary?.mayBeWorking?.isEmpty == true)
        }
    }

    /// The job's `timeout:` ends the run while its order rests: the order is cancelled.
    @Test func aTimeoutLeavesNothingWorking() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            let sim = h.sim
            let engineClock = h.engineClock
            h.clock.onSleep { _ in if sim.orderCount > 0 { engineClock.advance(by: .seconds(120)) } }
            var spec = h.job(["VTI": 1])
            spec.0.timeout = .seconds(60)
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("timed out") == true, "\(run.error ?? "")")
            #expect(h.sim.orderCount == 1)
            #expect(h.sim.workingOrderIDs.isEmpty, "working at the broker: \(h.sim.workingOrderIDs)")
        }
    }

    /// The broker carries a placement out and the answer is lost (the connection closes): the
    /// run reconciles through the journal and continues; nothing is sent twice.
    @Test func aLostAnswerIsReconciledNotResent() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.enqueueWriteFaults(.acceptThenDrop)
            let targets = ["VTI": Self.d("0.6"), "BND": Self.d("0.4")]
            let spec = h.job(targets)
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.duplicateConfirmIDs.isEmpty, "\(h.sim.placedConfirmIDs)")
            #expect(h.sim.orderCount == 2)
            #expect(h.sim.orderWriteCount == 2, "each order written once")
            #expect(summary?.orders.allSatisfy { $0.state == .filled } == true)
        }
    }

    /// A 5xx on a placement the broker did not carry out: reconciled (not found), then sent.
    @Test func aServerErrorOnAPlacementIsReconciledThenSent() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.enqueueWriteFaults(.status(503))
            let spec = h.job(["VTI": 1])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.sim.orderCount == 1)
            #expect(h.duplicateConfirmIDs.isEmpty)
        }
    }

    /// A lost answer with an identical manual order beside it: the run stops and names both.
    @Test func anAmbiguousMatchStopsNamingTheCandidates() async throws {
        let h = try await RebalanceHarness.make()
        defer { Task { await h.sim.stop() } }
        h.sim.enqueueWriteFaults(.acceptThenDrop)
        h.sim.setFillMode(.manual)
        let sim = h.sim
        let manual = Mutex<String?>(nil)
        h.clock.onSleep { _ in
            guard manual.withLock({ $0 }) == nil, let mine = sim.orderSummaries.first else { return }
            let id = sim.addWorkingOrder(account: Self.account, symbol: mine.symbol, buy: mine.buy, quantity: mine.quantity, limit: mine.limit!)
            manual.withLock { $0 = id }
        }
        let spec = h.job(["VTI": 1])
        let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
        #expect(run.state == .failed)
        let ids = h.sim.orderSummaries.map(\.id)
        #expect(ids.count == 2)
        for id in ids { #expect(run.error?.contains(id) == true, "\(run.error ?? "") names \(id)") }
        #expect(h.sim.placedConfirmIDs.count == 1, "never sent again")
    }

    /// TradeStation issues a new OrderID on replace: the run follows it, the replaced order is
    /// not taken as cancelled, and nothing is left working.
    @Test func aReplaceAnswersNewOrderIDAndTheRunFollowsIt() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setFillMode(.manual)
            h.sim.setReplaceIssuesNewOrderID(true)
            h.sim.setHalfSpread(Self.d("0.5"))
            let sim = h.sim
            h.clock.onSleep { _ in
                for o in sim.orderSummaries where o.status == "OPN" || o.status == "ACK" {
                    if let l = o.limit, l >= Self.d("250.30") { sim.fill(orderID: o.id, price: l) }
                }
            }
            let spec = h.job(["VTI": 1])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.sim.orderSummaries.contains { $0.status == "UCH" })
            #expect(h.sim.workingOrderIDs.isEmpty)
            let filled = h.sim.orderSummaries.filter { $0.status == "FLL" }.map(\.id)
            #expect(summary?.orders.first.flatMap(\.orderID).map { filled.contains($0) } == true)
            #expect(abs(weight(h, "VTI") - Self.d("0.99")) <= Self.d("0.005"))
        }
    }

    /// A thin ETF whose last trade is an hour old but whose bid and ask are live is traded.
    @Test func anOldLastTradeWithALiveQuoteIsNotStale() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setLastTradeAge("BND", seconds: 3600)
            let spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "BND") > 0)
        }
    }

    /// The options are pinned at the run's start: a takeover by a process whose configuration
    /// now says `dry_run: true` continues the live run (it neither reports "dry run" nor leaves
    /// the placed orders untracked).
    @Test(.timeLimit(.minutes(1))) func aReloadMidRunDoesNotTurnALiveRunDry() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            let targets = ["VTI": Self.d("0.6"), "BND": Self.d("0.4")]
            let live = h.job(targets)
            let hanging = HangingBroker(h.client(), hangOn: 1)
            let a = h.engine(live, id: "a", broker: hanging)
            try await a.start()
            let id = try await h.store.enqueueManualRun(job: live.0, now: h.wall.now(), by: "test")
            _ = await a.tick()
            var reached = hanging.reached.stream.makeAsyncIterator()
            _ = await reached.next()
            await a.abandonForTesting()
            h.wall.advance(11)
            let b = h.engine(h.job(targets, ["dry_run": .bool(true)]), id: "b")
            try await b.start()
            _ = await b.tick()
            h.engineClock.advance(by: .seconds(11))
            _ = await b.tick()
            await b.waitForIdle()
            let (run, summary) = try await h.result(id)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(summary?.dryRun == false)
            #expect(h.sim.orderCount == 3, "the sell and both buys were placed")
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "SPY") == 0)
            #expect(h.duplicateConfirmIDs.isEmpty)
        }
    }

    /// A run taken over after its deadline (its sell was out when its owner died): the new
    /// owner reconciles the sell and places nothing new.
    @Test(.timeLimit(.minutes(1))) func aRunResumedAfterItsDeadlinePlacesNothing() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            let spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")], ["deadline": .string("10m")])
            let hanging = HangingBroker(h.client(), hangOn: 1)
            let a = h.engine(spec, id: "a", broker: hanging)
            try await a.start()
            let id = try await h.store.enqueueManualRun(job: spec.0, now: h.wall.now(), by: "test")
            _ = await a.tick()
            var reached = hanging.reached.stream.makeAsyncIterator()
            _ = await reached.next()
            await a.abandonForTesting()
            // The owner died; the run is taken over 20 minutes later, past its 10-minute deadline.
            h.clock.onSleep { _ in }
            _ = try await h.clock.rebalanceClock.sleep(.seconds(1200))
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
            #expect(h.sim.orderWriteCount == 1, "only the first owner's sell: \(h.sim.orderSummaries.map(\.symbol))")
            #expect(h.sim.orderSummaries.allSatisfy { !$0.buy })
            #expect(summary?.orders.first?.orderID != nil, "the sell was reconciled")
            #expect(h.duplicateConfirmIDs.isEmpty)
        }
    }

    /// The engine drains (no shutdown grace) while the run's orders rest: the run is released to
    /// another instance, and it cancels its working orders on the way out.
    @Test(.timeLimit(.minutes(1))) func aReleasedRunLeavesNothingWorking() async throws {
        let h = try await RebalanceHarness.make()
        defer { Task { await h.sim.stop() } }
        h.sim.setFillMode(.manual)
        let spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")])
        let engine = h.engine(spec)
        let sim = h.sim
        let drained = Mutex<Task<Void, Never>?>(nil)
        h.clock.onSleep { _ in
            guard sim.orderCount == 2, drained.withLock({ $0 }) == nil else { return }
            drained.withLock { $0 = Task { await engine.drain() } }
        }
        let (run, _) = try await h.runOnce(engine, job: spec.0)
        await drained.withLock { $0 }?.value
        #expect(run.state != .succeeded && run.state != .failed, "released, not ended: \(run.state)")
        #expect(h.sim.orderCount == 2)
        #expect(h.sim.workingOrderIDs.isEmpty, "working at the broker: \(h.sim.workingOrderIDs)")
        #expect(h.sim.orderSummaries.allSatisfy { $0.status == "CAN" })
    }

    /// `max_notional` is checked at the price caps: a plan under it at the mid but over it at
    /// the caps places nothing.
    @Test func maxNotionalIsCheckedAtThePriceCaps() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            // 396 VTI: 99,000 at the mid, 99,498.96 at the 0.5% cap.
            let spec = h.job(["VTI": 1], ["max_notional": .number(99_200)])
            let (run, _) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .failed)
            #expect(run.error?.contains("max_notional") == true, "\(run.error ?? "")")
            #expect(h.sim.orderWriteCount == 0)
        }
    }

    /// A quote goes bad after the sells: the buys that can be priced go out, the bad line
    /// waits for a later round, and the run converges once the quote is back (never stranded
    /// in cash).
    @Test func aBadQuoteAfterTheSellsDoesNotStrandTheCash() async throws {
        let h = try await RebalanceHarness.make()
        try await withSandbox(h.sim) { _ in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setPosition(account: Self.account, symbol: "SPY", quantity: 100, averagePrice: 480)
            h.sim.setFillMode(.manual)
            let sim = h.sim
            h.clock.onSleep { _ in
                for o in sim.orderSummaries where o.status == "ACK" || o.status == "OPN" {
                    if o.symbol == "SPY" {
                        sim.fill(orderID: o.id)
                        sim.setQuote("BND", bid: 0, ask: 0)  // a zero bid at the open, after the sell
                    } else if o.symbol == "VTI" {
                        sim.fill(orderID: o.id, price: o.limit)
                        sim.setQuote("BND", bid: Self.d("72.09"), ask: Self.d("72.11"))  // back
                    } else {
                        sim.fill(orderID: o.id, price: o.limit)
                    }
                }
            }
            let spec = h.job(["VTI": Self.d("0.6"), "BND": Self.d("0.4")])
            let (run, summary) = try await h.runOnce(h.engine(spec), job: spec.0)
            #expect(run.state == .succeeded, "\(run.error ?? "")")
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "VTI") > 0)
            #expect(h.sim.positionQuantity(account: Self.account, symbol: "BND") > 0)
            #expect((summary?.rounds ?? 0) >= 2)
            #expect(abs(weight(h, "BND") - Self.d("0.396")) <= Self.d("0.005"))
        }
    }
}
