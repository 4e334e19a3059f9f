import Brokers
import Foundation
import Jobs
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

@Suite("futures-session against the Tradovate simulator", .serialized)
struct FuturesSessionTests {
    @Test func aSessionRunsFromStartToStopCancellingAndFlattening() async throws {
        let h = try await SessionHarness()
        // Held before the session: a long contract and a working limit order far from the market.
        let tv = h.client
        _ = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
        _ = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .limit(4000), key: .random()), account: "DEMO123456")
        #expect(h.sim.workingOrderCount == 1 && h.sim.netPosition(symbol: "ESZ5") == 1)
        let engine = try await h.startSession(try h.job())
        #expect(h.sim.marketDataConnectCount == 1, "quotes come from the market-data socket")
        #expect(h.sim.syncRequestCount == 1)
        let run = try await h.stopAtEnd(engine)
        #expect(run.state == .succeeded)
        #expect(run.summary?.hasPrefix("session stopped at 2026-11-23T16:30:00Z") == true, "\(run.summary ?? "")")
        #expect(h.sim.workingOrderCount == 0, "the working order was cancelled at the stop")
        #expect(h.sim.netPosition(symbol: "ESZ5") == 0, "flattened at the stop")
        let report = try #require(try await h.events(run.id).first { $0.kind == "session-report" })
        #expect(report.message.contains("\"flattened\":true") && report.message.contains("\"locked\":false"))
        #expect(run.detail == report.message)
        let rows = try await SessionControl(store: h.store).rows()
        #expect(rows.map(\.state) == ["finished"] && rows.first?.run == run.id)
        await h.close()
    }

    @Test func strategyIntentsBecomeOrdersAndRiskRejectionsAreReportedBack() async throws {
        let h = try await SessionHarness()
        let intents = """
            [{"type":"order","side":"buy","qty":1,"order":"market","tag":"entry-1"},
             {"type":"order","side":"buy","qty":5,"order":"market","tag":"too-big"},
             {"type":"order","side":"buy","qty":1,"order":"market","tag":"entry-1"},
             {"type":"order","side":"sell","qty":1,"order":"limit","price":6000,"tag":"target"},
             {"type":"order","side":"sell","qty":1,"order":"limit","price":6001,"tag":"third"},
             {"type":"order","side":"up","qty":1,"tag":"bad"}]
            """
        let engine = try await h.startSession(try h.job(perMinute: 2, onStart: intents))
        #expect(await polled { h.strategySaw(type: "reject", tag: "bad") }, "every intent was answered")
        #expect(h.strategySaw(type: "result", tag: "entry-1", containing: "placed"))
        #expect(h.strategySaw(type: "reject", tag: "too-big", containing: "max_position"))
        #expect(h.strategySaw(type: "result", tag: "entry-1", containing: "duplicate"), "a replayed tag is not sent again")
        #expect(h.strategySaw(type: "result", tag: "target", containing: "placed"))
        #expect(h.strategySaw(type: "reject", tag: "third", containing: "max_orders_per_minute"))
        #expect(h.strategySaw(type: "reject", tag: "bad", containing: "invalid"))
        #expect(h.sim.placedOrderBodies.count == 2, "only the two accepted intents reached the broker")
        #expect(h.sim.placedOrderBodies.allSatisfy { ($0["clOrdId"] as? String)?.hasPrefix("sc") == true && $0["isAutomated"] as? Bool == true })
        #expect(await polled { h.strategySaw(type: "fill") && h.strategySaw(type: "position") })
        #expect(h.strategySaw(type: "quote"))
        let run = try await h.stopAtEnd(engine)
        #expect(run.state == .succeeded)
        #expect(run.detail?.contains("\"orders\":2") == true && run.detail?.contains("\"rejects\":3") == true, "\(run.detail ?? "")")
        #expect(h.sim.netPosition(symbol: "ESZ5") == 0 && h.sim.workingOrderCount == 0)
        #expect(h.strategySaw(type: "session") && h.strategyLines.contains { $0["event"] as? String == "stop" })
        await h.close()
    }

    @Test func theLossLimitCancelsLiquidatesAndLocksAcrossATakeover() async throws {
        let h = try await SessionHarness()
        let job = try h.job(
            onStart: """
                [{"type":"order","side":"buy","qty":2,"order":"market","tag":"entry"},
                 {"type":"order","side":"sell","qty":1,"order":"limit","price":6000,"tag":"far"}]
                """,
            onLock: #"[{"type":"order","side":"buy","qty":1,"order":"market","tag":"after-lock"}]"#,
            onStartLocked: #"[{"type":"order","side":"buy","qty":1,"order":"market","tag":"after-restart"}]"#)
        let a = try await h.startSession(job)
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 2 && h.sim.workingOrderCount == 1 })
        // The price moves against the long: (4990 − 5000.25) × 2 × 50 = −1025, past −500.
        h.sim.setPrice(symbol: "ESZ5", 4990)
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 0 && h.sim.workingOrderCount == 0 }, "cancelled and liquidated")
        #expect(await polled { h.strategySaw(type: "reject", tag: "after-lock", containing: "locked") })
        let run = try #require(try await h.store.history(job: "es-day", limit: 1).first)
        #expect(try await h.events(run.id).contains { $0.kind == "risk-limit" && $0.message.contains("-500") })
        #expect(h.sim.placedOrderBodies.count == 2, "no order after the lock")
        // A crash and a takeover: the lock comes back with the session.
        await a.abandonForTesting()
        await a.waitForIdle()
        let b = try await h.takeOver(job)
        #expect(await polled { h.strategySaw(type: "reject", tag: "after-restart", containing: "locked") })
        #expect(h.sim.placedOrderBodies.count == 2)
        let finished = try await h.stopAtEnd(b)
        #expect(finished.state == .succeeded)
        #expect(finished.detail?.contains("\"locked\":true") == true && finished.summary?.contains("locked by the loss limit") == true)
        #expect(finished.detail?.contains("\"realized_pnl\":-1025") == true, "\(finished.detail ?? "")")
        await h.close()
    }

    /// The loss lock belongs to the CME trade date, not to the run: a second run the same trade
    /// date sends nothing and tells the strategy why; a run on the next trade date trades.
    @Test func theLossLockHoldsForTheTradeDateAcrossRuns() async throws {
        let h = try await SessionHarness()
        let weekly = Schedule(.interval(seconds: 7 * 86400, aligned: true, zone: .utc))  // no scheduled run in this test
        let job = try h.job(
            onStart: #"[{"type":"order","side":"buy","qty":2,"order":"market","tag":"entry"}]"#,
            onStartLocked: #"[{"type":"order","side":"buy","qty":1,"order":"market","tag":"after-lock"}]"#, schedule: weekly)
        let engine = h.engine(job, id: "a")
        try await engine.start()
        // Run 1 on trade date 2026-11-23 (Monday, CME 17:00 CT Sunday to 16:00 CT): loses past the limit.
        _ = try await h.startManualRun(job, on: engine, at: "2026-11-23T16:00:00Z")
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 2 })
        h.sim.setPrice(symbol: "ESZ5", 4990)
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 0 }, "liquidated at the limit")
        let first = try await h.stopNow(engine)
        #expect(first.detail?.contains("\"locked\":true") == true, "\(first.detail ?? "")")
        #expect(h.sim.placedOrderBodies.count == 1)

        // Run 2, same trade date: locked from the start, its order never reaches the broker.
        _ = try await h.startManualRun(job, on: engine, at: "2026-11-23T18:00:00Z")
        #expect(await polled { h.strategySaw(type: "reject", tag: "after-lock", containing: "locked") }, "the strategy was told")
        let row = try #require(try await SessionControl(store: h.store).rows().first)
        #expect(row.locked && row.tradeDate == "2026-11-23" && row.lockReason?.contains("daily loss") == true, "\(row)")
        let second = try await h.stopNow(engine)
        #expect(second.state == .succeeded && second.detail?.contains("\"locked\":true") == true, "\(second.detail ?? "")")
        #expect(h.sim.placedOrderBodies.count == 1, "no order after the lock, in any run of the trade date")

        // Run 3, the next trade date (Tuesday 2026-11-24): not locked, it trades.
        _ = try await h.startManualRun(job, on: engine, at: "2026-11-24T16:00:00Z")
        #expect(await polled { h.sim.placedOrderBodies.count == 2 }, "the next trade date trades")
        let open = try #require(try await SessionControl(store: h.store).rows().first)
        #expect(!open.locked && open.tradeDate == "2026-11-24", "\(open)")
        let third = try await h.stopNow(engine)
        #expect(third.detail?.contains("\"locked\":false") == true, "\(third.detail ?? "")")
        await h.close()
    }

    /// The daily loss counts every run of the trade date: run 1 realizes −300 and stops; run 2
    /// the same trade date locks at −225 open, marked at the bid (−525 in all); a run the next day starts afresh.
    @Test func theDailyLossCountsEarlierRunsOfTheTradeDate() async throws {
        let h = try await SessionHarness()
        let weekly = Schedule(.interval(seconds: 7 * 86400, aligned: true, zone: .utc))
        let job = try h.job(onStart: #"[{"type":"order","side":"buy","qty":2,"order":"market","tag":"entry"}]"#, schedule: weekly)
        let engine = h.engine(job, id: "a")
        try await engine.start()
        _ = try await h.startManualRun(job, on: engine, at: "2026-11-23T16:00:00Z")
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 2 })
        h.sim.setPrice(symbol: "ESZ5", Decimal(string: "4997.25")!)  // −3 points × 2 × 50 = −300 open: under the limit
        let first = try await h.stopNow(engine)
        #expect(first.detail?.contains("\"realized_pnl\":-300") == true && first.detail?.contains("\"locked\":false") == true, "\(first.detail ?? "")")

        _ = try await h.startManualRun(job, on: engine, at: "2026-11-23T18:00:00Z")
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 2 })
        // The bid is 4995: −225 open (marked at the bid, the side that closes a long), −525 for the day.
        h.sim.setPrice(symbol: "ESZ5", Decimal(string: "4995.25")!)
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 0 }, "liquidated at the daily limit")
        let second = try await h.stopNow(engine)
        #expect(second.detail?.contains("\"locked\":true") == true, "\(second.detail ?? "")")
        let limit = try #require(try await h.events(second.id).first { $0.kind == "risk-limit" })
        #expect(limit.message.contains("daily loss -525") && limit.message.contains("earlier runs this trade date -300"), "\(limit.message)")

        // The next trade date: the same move (−225 at the bid) does not lock.
        _ = try await h.startManualRun(job, on: engine, at: "2026-11-24T16:00:00Z")
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 2 })
        h.sim.setPrice(symbol: "ESZ5", Decimal(string: "4993.25")!)
        #expect(await h.statusShows("\"open_pnl\":-225"))
        let third = try await h.stopNow(engine)
        #expect(third.detail?.contains("\"locked\":false") == true, "\(third.detail ?? "")")
        await h.close()
    }

    @Test func aTakeoverResumesTheSessionWithoutDoublingAnOrder() async throws {
        let h = try await SessionHarness()
        let job = try h.job(onStart: #"[{"type":"order","side":"buy","qty":1,"order":"limit","price":4000,"tag":"entry-1"}]"#)
        let a = try await h.startSession(job)
        #expect(await polled { h.strategySaw(type: "result", tag: "entry-1", containing: "placed") })
        #expect(h.sim.placedOrderBodies.count == 1)
        await a.abandonForTesting()  // the owner dies mid-session; nothing is cancelled or flattened
        await a.waitForIdle()
        #expect(h.sim.workingOrderCount == 1)
        let b = try await h.takeOver(job)
        // The restarted strategy replays its intent: it is answered from the journal.
        #expect(await polled { h.strategySaw(type: "result", tag: "entry-1", containing: "duplicate") })
        #expect(h.sim.placedOrderBodies.count == 1, "the order was not sent twice")
        #expect(h.sim.acceptedOrderCount == 1)
        let run = try await h.stopAtEnd(b)
        #expect(run.state == .succeeded && run.takeovers == 1)
        #expect(run.detail?.contains("\"orders\":1") == true, "\(run.detail ?? "")")
        #expect(h.sim.workingOrderCount == 0, "the resumed session cancelled the order it found at the stop")
        await h.close()
    }

    /// Two crash windows around an order, as a SIGKILL in each leaves the saved session state
    /// (the journal is kept); both were found by the real-process kill test.
    enum OrderCrashWindow: String, CaseIterable, Sendable {
        /// The journal recorded the order's outcome; the session had not saved the order id.
        case afterTheOutcomeBeforeTheState
        /// The session counted and saved a second order; its intent was never journaled, so it
        /// never reached the broker.
        case afterTheStateBeforeTheIntent

        func rewrite(_ state: inout [String: Any]) throws {
            var placed = try #require(state["placed"] as? [String: Any])
            var entry = try #require(placed["entry-1"] as? [String: Any])
            entry["orderID"] = 0
            switch self {
            case .afterTheOutcomeBeforeTheState:
                placed["entry-1"] = entry
            case .afterTheStateBeforeTheIntent:
                entry["clOrdID"] = "never-sent"
                placed["entry-2"] = entry
                state["ordersPlaced"] = ((state["ordersPlaced"] as? Int) ?? 0) + 1
            }
            state["placed"] = placed
        }
    }

    /// After a takeover in either window the replayed order is a duplicate (its id comes from the
    /// journal), an order never journaled is dropped, and the report counts one order.
    @Test(arguments: OrderCrashWindow.allCases)
    func aTakeoverInAnOrderCrashWindowCountsTheOrderOnce(window: OrderCrashWindow) async throws {
        let h = try await SessionHarness()
        let job = try h.job(onStart: #"[{"type":"order","side":"buy","qty":1,"order":"limit","price":4000,"tag":"entry-1"}]"#)
        let a = try await h.startSession(job)
        #expect(await polled { h.strategySaw(type: "result", tag: "entry-1", containing: "placed") })
        await a.abandonForTesting()
        await a.waitForIdle()
        try await h.rewriteSavedState { try window.rewrite(&$0) }
        let b = try await h.takeOver(job)
        #expect(await polled { h.strategySaw(type: "result", tag: "entry-1", containing: "duplicate") })
        #expect(h.sim.placedOrderBodies.count == 1)
        let finished = try await h.stopAtEnd(b)
        #expect(finished.state == .succeeded && finished.detail?.contains("\"orders\":1") == true, "\(finished.detail ?? "")")
        await h.close()
    }

    /// A strategy cancel whose answer is lost (the broker cancelled, the connection dropped) is
    /// journaled without an outcome; after a takeover the replayed cancel is reconciled from the
    /// order's status, and the broker sees one cancel request in all.
    @Test func aCancelWithALostAnswerIsReconciledNotRepeated() async throws {
        let h = try await SessionHarness()
        h.sim.loseNextAnswer(to: "order/cancelorder")
        let job = try h.job(
            onStart: """
                [{"type":"order","side":"buy","qty":1,"order":"limit","price":4000,"tag":"entry-1"},
                 {"type":"cancel","tag":"entry-1"}]
                """)
        let a = try await h.startSession(job)
        #expect(await polled { h.strategySaw(type: "reject", tag: "entry-1", containing: "unknown") }, "the cancel's outcome is unknown")
        let placed = h.strategyLines.first { $0["type"] as? String == "result" && $0["tag"] as? String == "entry-1" && $0["status"] as? String == "placed" }
        let orderID = try #require((placed?["order_id"] as? NSNumber)?.int64Value)
        #expect(h.sim.orderStatus(orderID) == "Canceled", "the broker did cancel")
        #expect(h.sim.cancelRequests(orderID: orderID) == 1)
        await a.abandonForTesting()
        await a.waitForIdle()
        let b = try await h.takeOver(job)
        // The restarted strategy replays both intents: the order is a duplicate, the cancel is
        // answered from the order's status without a second request.
        #expect(await polled { h.strategySaw(type: "result", tag: "entry-1", containing: "cancelled") })
        #expect(h.strategySaw(type: "result", tag: "entry-1", containing: "duplicate"))
        #expect(h.sim.cancelRequests(orderID: orderID) == 1, "the cancel was not sent twice")
        let run = try await h.stopAtEnd(b)
        #expect(run.state == .succeeded && run.takeovers == 1)
        #expect(h.sim.cancelRequestCount == 1 && h.sim.placedOrderBodies.count == 1)
        await h.close()
    }

    @Test func aDroppedSocketReconnectsReauthorizesAndResyncs() async throws {
        let h = try await SessionHarness()
        let engine = try await h.startSession(try h.job())
        #expect(h.sim.syncRequestCount == 1 && h.sim.webSocketConnectCount == 2)
        h.sim.dropConnections()
        #expect(await polled { h.sim.syncRequestCount == 2 && h.sim.openWebSocketCount == 2 }, "re-authorized and re-synced")
        // A fill after the reconnect reaches the session as props events on the re-synced socket.
        _ = try await h.client.place(try OrderRequest(symbol: "ESZ5", side: .sell, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
        #expect(await h.statusShows("\"ESZ5\":-1"), "session status shows the new position")
        #expect(h.sim.loginCount <= 2, "reconnecting reuses the token instead of signing in")
        let run = try await h.stopAtEnd(engine)
        #expect(run.state == .succeeded)
        #expect(h.sim.netPosition(symbol: "ESZ5") == 0, "the position opened after the reconnect was flattened")
        #expect(run.detail?.contains("\"reconnects\":2") == true, "\(run.detail ?? "")")
        await h.close()
    }

    /// The sockets' watchdog runs on a manual clock: the server goes silent, the test moves the
    /// clock past the 800 ms silence limit, and both sockets reconnect.
    @Test func aSilentServerIsDetectedByTheWatchdog() async throws {
        let clock = ManualClock()
        let h = try await SessionHarness(socketClock: clock)
        let engine = try await h.startSession(try h.job())
        let before = h.sim.webSocketConnectCount
        h.sim.setSilent(true)
        #expect(
            await polled {
                clock.advance(by: .milliseconds(50))
                return h.sim.webSocketConnectCount >= before + 2
            }, "the watchdog gave up on the silent sockets")
        h.sim.setSilent(false)
        #expect(
            await polled {
                clock.advance(by: .milliseconds(50))
                return h.sim.syncRequestCount >= 2
            }, "re-synced once the server spoke again")
        let run = try await h.stopAtEnd(engine)
        #expect(run.state == .succeeded)
        #expect(run.detail?.contains("\"reconnects\":0") == false, "\(run.detail ?? "")")
        await h.close()
    }

    /// `updated` is a liveness stamp: with no quote, fill or order the figures stay the same,
    /// and the row is still written at least every 5 s of (injected) wall time.
    @Test func sessionStatusUpdatedMovesWhileTheFiguresStayTheSame() async throws {
        let h = try await SessionHarness()
        let engine = try await h.startSession(try h.job())
        let control = SessionControl(store: h.store)
        // The first poll writes the figures of the open, at 16:00:00.
        #expect(
            await polled {
                h.sessionClock.advance(by: .seconds(1))
                return (try? await control.rows().first?.detail) != "{}"
            }, "the session wrote its figures")
        let opened = try #require(try await control.rows().first)
        #expect(opened.updated == h.wall.now())
        h.wall.set("2026-11-23T16:00:10Z")
        #expect(
            await polled {
                h.sessionClock.advance(by: .seconds(1))
                return (try? await control.rows().first?.updated) == h.wall.now()
            }, "updated moved with the wall clock while nothing changed")
        let later = try #require(try await control.rows().first)
        #expect(later.detail == opened.detail && later.state == "running", "the figures did not change")
        let run = try await h.stopAtEnd(engine)
        #expect(run.state == .succeeded)
        await h.close()
    }

    @Test func sessionStopRequestEndsTheSessionEarly() async throws {
        let h = try await SessionHarness()
        let engine = try await h.startSession(try h.job())
        #expect(try await SessionControl(store: h.store).requestStop(job: "es-day", now: h.wall.now()))
        #expect(
            await polled {
                h.sessionClock.advance(by: .seconds(1))
                return await h.sessionState() == "finished"
            })
        await engine.waitForIdle()
        let run = try #require(try await h.store.history(job: "es-day", limit: 1).first)
        #expect(run.summary?.hasPrefix("session stopped on request") == true)
        #expect(try await SessionControl(store: h.store).requestStop(job: "es-day", now: h.wall.now()) == false, "nothing left to stop")
        await h.close()
    }
}

@Suite("futures-session settings and risk")
struct FuturesSessionSettingsTests {
    @Test func theRiskGuardChecksLockRateAndPosition() {
        let guardrail = RiskGuard(limits: .init(dailyLossLimit: 500, maxPosition: 2, maxOrdersPerMinute: 2))
        var state = FuturesSessionState()
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(guardrail.rejection(state: state, now: now, buy: true, quantity: 2, net: 0, working: 0) == nil)
        #expect(guardrail.rejection(state: state, now: now, buy: true, quantity: 1, net: 1, working: 1)?.hasPrefix("max_position") == true)
        #expect(guardrail.rejection(state: state, now: now, buy: false, quantity: 2, net: 0, working: 0) == nil)
        state.recentOrders = [now.addingTimeInterval(-61), now.addingTimeInterval(-30), now.addingTimeInterval(-1)]
        #expect(guardrail.rejection(state: state, now: now, buy: true, quantity: 1, net: 0, working: 0)?.hasPrefix("max_orders_per_minute") == true)
        state.recentOrders = []
        state.locked = true
        #expect(guardrail.rejection(state: state, now: now, buy: true, quantity: 1, net: 0, working: 0)?.hasPrefix("locked") == true)
        #expect(guardrail.lossLimitReached(total: -500) && !guardrail.lossLimitReached(total: -499.75))
    }

    @Test func fillsAreCountedOnceWithRealizedPnL() {
        var s = FuturesSessionState()
        let first = s.apply(fillID: 1, contractID: 9, buy: true, quantity: 2, price: 100, valuePerPoint: 50)
        let again = s.apply(fillID: 1, contractID: 9, buy: true, quantity: 2, price: 100, valuePerPoint: 50)
        #expect(first && !again, "a fill seen again is not counted")
        #expect(s.open(prices: [9: 98], valuePerPoint: [9: 50]) == -200)
        let closing = s.apply(fillID: 2, contractID: 9, buy: false, quantity: 3, price: 103, valuePerPoint: 50)
        #expect(closing)
        #expect(s.realized == 300 && s.lots[9]?.quantity == -1 && s.lots[9]?.averagePrice == 103)
        s.mark(equity: 300)
        s.mark(equity: 100)
        #expect(s.maxDrawdown == 200 && s.fills == 2)
    }

    @Test func stopIsAMarketRuleOrADuration() throws {
        let job = JobSpec(
            name: "j", kind: "futures-session", schedule: Schedule(.interval(seconds: 60, aligned: false, zone: .utc)),
            options: [
                "broker": .string("tv"), "symbols": .list([.string("MESZ6")]),
                "stop": .map(["market": .string("CME"), "at": .string("close"), "offset": .duration(.seconds(-600))]),
                "risk": .map(["daily_loss_limit": .number(500), "max_position": .number(2), "max_orders_per_minute": .number(10)]),
            ])
        let settings = try FuturesSessionSettings(job)
        // Tuesday 2026-11-24 opens 17:00 CT Monday; the close is 16:00 CT (22:00 UTC); stop 10 minutes before.
        let stop = try settings.stopInstant(start: try Instant(iso8601: "2026-11-23T23:05:00Z"), calendars: [:])
        #expect(stop.iso8601 == "2026-11-24T21:50:00Z")
        var other = job
        other.options["stop"] = .duration(.seconds(3600))
        #expect(try FuturesSessionSettings(other).stopInstant(start: Instant(seconds: 0), calendars: [:]) == Instant(seconds: 3600))
        other.options["risk"] = .map(["daily_loss_limit": .number(0), "max_position": .number(2), "max_orders_per_minute": .number(10)])
        let refused = #expect(throws: JobFailure.self) { try FuturesSessionSettings(other) }
        #expect(refused?.kind == .jobFailed)
    }
}

extension FuturesSessionTests {
    /// `examples/futures-strategy.py`, as shipped, against the simulator: it buys one point under
    /// the first quote, offers the fill two points higher, and both orders reach the broker (the
    /// exit fills at 5002: (5002 − 4998) × 50 = 200).
    @Test func theExampleStrategyTradesEndToEnd() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try String(contentsOf: root.appendingPathComponent("examples/futures-strategy.py"), encoding: .utf8)
        let h = try await SessionHarness()
        h.sim.setPrice(symbol: "ESZ5", 5000)
        let engine = try await h.startSession(try h.job(onStart: "[]", strategy: example))
        #expect(await polled { h.sim.workingOrderCount == 1 }, "the entry: a limit buy under the first quote")
        h.sim.setPrice(symbol: "ESZ5", 4998)
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 1 && h.sim.workingOrderCount == 1 }, "filled; the exit works")
        h.sim.setPrice(symbol: "ESZ5", 5002)
        #expect(await polled { h.sim.netPosition(symbol: "ESZ5") == 0 && h.sim.workingOrderCount == 0 }, "the exit filled")
        let prices = h.sim.placedOrderBodies.map { ($0["action"] as? String ?? "", ($0["price"] as? NSNumber)?.decimalValue) }
        // The entry at the first quote's last − 1; the exit at its fill (4998, the better price) + 2.
        #expect(prices.map(\.0) == ["Buy", "Sell"] && prices.map(\.1) == [4999, 5000], "\(prices)")
        let run = try await h.stopAtEnd(engine)
        #expect(run.state == .succeeded)
        #expect(run.detail?.contains("\"orders\":2") == true && run.detail?.contains("\"realized_pnl\":200") == true, "\(run.detail ?? "")")
        await h.close()
    }
}
