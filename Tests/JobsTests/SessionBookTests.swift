import Brokers
import Foundation
import Testing

@testable import Jobs

/// The session's book, pure: typed broker entities in, positions, working quantities, fills, fees
/// and P&L out. No socket, no clock.
@Suite struct SessionBookTests {
    static let es: Int64 = 3001
    static let nq: Int64 = 3002
    static let other: Int64 = 3999

    /// A book of account 1001 trading ES (50 a point) and MNQ (2 a point).
    static func book() -> SessionBook {
        var b = SessionBook()
        b.accountID = 1001
        b.add(contract: es, symbol: "ESZ5", valuePerPoint: 50)
        b.add(contract: nq, symbol: "MNQZ5", valuePerPoint: 2)
        return b
    }

    static func order(_ id: Int64, _ contract: Int64, _ action: String = "Buy", _ status: String = "Working", account: Int64 = 1001) -> TradovateEntity {
        .order(TradovateOrder(id: id, accountId: account, contractId: contract, action: action, ordStatus: status))
    }
    static func version(_ id: Int64, _ qty: Int) -> TradovateEntity { .orderVersion(TradovateOrderVersion(orderId: id, orderQty: qty)) }
    static func fill(_ id: Int64, order: Int64, _ contract: Int64, _ action: String, _ qty: Int, _ price: Decimal) -> TradovateEntity {
        .fill(TradovateFill(id: id, orderId: order, contractId: contract, action: action, qty: qty, price: price))
    }

    struct WorkingCase: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [TradovateEntity]
        var buy: Bool
        var unknown = 0
        var working: Int
        var testDescription: String { name }
    }

    @Test(
        "working quantity counts every working order at its remaining quantity",
        arguments: [
            WorkingCase(name: "an order learned from events, its version after it", events: [order(1, es), version(1, 2)], buy: true, working: 2),
            WorkingCase(name: "its version before it", events: [version(1, 3), order(1, es)], buy: true, working: 3),
            WorkingCase(name: "the other side does not count", events: [order(1, es, "Sell"), version(1, 2)], buy: true, working: 0),
            WorkingCase(
                name: "a partial fill leaves the rest", events: [order(1, es), version(1, 3), fill(9, order: 1, es, "Buy", 1, 5000)], buy: true,
                working: 2),
            WorkingCase(name: "a filled order is not working", events: [order(1, es), version(1, 2), order(1, es, "Buy", "Filled")], buy: true, working: 0),
            WorkingCase(name: "another contract's order is not the session's", events: [order(1, other), version(1, 5)], buy: true, working: 0),
            WorkingCase(name: "another account's order is not the session's", events: [order(1, es, account: 2002), version(1, 5)], buy: true, working: 0),
            WorkingCase(name: "unknown outcomes count at their requested quantity", events: [order(1, es), version(1, 1)], buy: true, unknown: 2, working: 3),
        ])
    func workingQuantity(_ c: WorkingCase) {
        var b = Self.book()
        var state = FuturesSessionState()
        state.baselined = true
        for e in c.events { _ = b.apply(e, state: &state) }
        #expect(b.working(contract: Self.es, buy: c.buy, unknown: c.unknown) == c.working)
    }

    struct PnLCase: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [TradovateEntity]
        var bid: Decimal?
        var ask: Decimal?
        var realized: Decimal
        var open: Decimal
        var testDescription: String { name }
    }

    @Test(
        "realized and open P&L use each product's value per point, the closing side and fees",
        arguments: [
            PnLCase(
                name: "ES round trip, 50 a point", events: [order(1, es), fill(11, order: 1, es, "Buy", 1, 5000), fill(12, order: 1, es, "Sell", 1, 5002)],
                realized: 100, open: 0),
            PnLCase(
                name: "MNQ round trip, 2 a point", events: [order(1, nq), fill(11, order: 1, nq, "Sell", 2, 21000), fill(12, order: 1, nq, "Buy", 2, 20990)],
                realized: 40, open: 0),
            PnLCase(
                name: "a long is marked at the bid", events: [order(1, es), fill(11, order: 1, es, "Buy", 2, 5000)], bid: 4999, ask: 5001, realized: 0,
                open: -100),
            PnLCase(
                name: "a short is marked at the ask", events: [order(1, es, "Sell"), fill(11, order: 1, es, "Sell", 1, 5000)], bid: 4999, ask: 5001,
                realized: 0, open: -50),
            PnLCase(
                name: "a fee after its fill is taken from realized",
                events: [
                    order(1, es), fill(11, order: 1, es, "Buy", 1, 5000),
                    .fillFee(TradovateFillFee(id: 11, exchangeFee: 1, commission: Decimal(string: "0.5"))),
                ],
                realized: Decimal(string: "-1.5")!, open: 0),
            PnLCase(
                name: "a fee before its fill waits for it",
                events: [order(1, es), .fillFee(TradovateFillFee(id: 11, commission: 2)), fill(11, order: 1, es, "Buy", 1, 5000)], realized: -2, open: 0),
            PnLCase(
                name: "a fee is charged once",
                events: [
                    order(1, es), fill(11, order: 1, es, "Buy", 1, 5000), .fillFee(TradovateFillFee(id: 11, commission: 2)),
                    .fillFee(TradovateFillFee(id: 11, commission: 2)),
                ],
                realized: -2, open: 0),
            PnLCase(
                name: "another contract's fill and its fee are not the session's",
                events: [
                    order(1, other), fill(11, order: 1, other, "Buy", 1, 100), fill(12, order: 1, other, "Sell", 1, 200),
                    .fillFee(TradovateFillFee(id: 12, commission: 2)),
                ],
                realized: 0, open: 0),
            PnLCase(
                name: "a fill counted twice counts once",
                events: [
                    order(1, es), fill(11, order: 1, es, "Buy", 1, 5000), fill(11, order: 1, es, "Buy", 1, 5000), fill(12, order: 1, es, "Sell", 1, 5001),
                ],
                realized: 50, open: 0),
        ])
    func pnl(_ c: PnLCase) {
        var b = Self.book()
        var state = FuturesSessionState()
        state.baselined = true
        for e in c.events { _ = b.apply(e, state: &state) }
        for cid in [Self.es, Self.nq] { _ = b.apply(quote: TradovateQuote(contractID: cid, bid: c.bid, ask: c.ask), at: Date(timeIntervalSince1970: 0)) }
        #expect(state.realized == c.realized)
        #expect(b.openPnL(state) == c.open)
    }

    @Test func theFirstSnapshotIsTheBaselineAndALaterOneCountsWhatWasMissed() {
        var b = Self.book()
        var state = FuturesSessionState()
        let first = TradovateSyncSnapshot(
            accounts: [TradovateAccount(id: 1001, name: "DEMO")],
            positions: [TradovatePosition(accountId: 1001, contractId: Self.es, netPos: 1, netPrice: 5000)],
            orders: [TradovateOrder(id: 1, accountId: 1001, contractId: Self.es, action: "Buy", ordStatus: "Filled")],
            orderVersions: [TradovateOrderVersion(orderId: 1, orderQty: 1)],
            commands: [TradovateCommand(orderId: 1, clOrdId: "k-1")],
            fills: [TradovateFill(id: 11, orderId: 1, contractId: Self.es, action: "Buy", qty: 1, price: 5000)],
            fillFees: [TradovateFillFee(id: 11, commission: 2)])
        #expect(b.apply(snapshot: first, state: &state).isEmpty, "earlier fills are the baseline")
        #expect(state.realized == 0 && state.lots[Self.es]?.quantity == 1 && b.clOrdIDs["k-1"] == 1 && b.positions[Self.es] == 1)
        var later = first
        later.orders.append(TradovateOrder(id: 2, accountId: 1001, contractId: Self.es, action: "Sell", ordStatus: "Filled"))
        later.fills.append(TradovateFill(id: 12, orderId: 2, contractId: Self.es, action: "Sell", qty: 1, price: 5001))
        later.fillFees.append(TradovateFillFee(id: 12, commission: 2))
        later.positions = [TradovatePosition(accountId: 1001, contractId: Self.es, netPos: 0)]
        let changes = b.apply(snapshot: later, state: &state)
        #expect(changes.count == 1, "the missed fill")
        #expect(state.realized == 48, "50 for the point, 2 for the missed fill's fee; the baseline fill's fee is an earlier session's")
        #expect(b.isFlat)
    }
}

/// The risk monitor, pure: figures in, decisions out.
@Suite struct RiskMonitorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var snapshot: RiskMonitor.Snapshot
        var decisions: [RiskMonitor.Decision]
        var testDescription: String { name }
    }

    static let t0 = Date(timeIntervalSince1970: 1_000_000)
    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }

    @Test(
        arguments: [
            Case(name: "within the limit", snapshot: .init(realized: -200, open: -299, opened: t0, now: at(1)), decisions: []),
            Case(
                name: "realized plus open at the limit locks", snapshot: .init(realized: -200, open: -300, opened: t0, now: at(1)),
                decisions: [.lock(total: -500)]),
            Case(
                name: "earlier runs of the trade date count", snapshot: .init(earlierRealized: -450, open: -50, opened: t0, now: at(1)),
                decisions: [.lock(total: -500)]),
            Case(name: "a locked day is not locked again", snapshot: .init(open: -900, locked: true, opened: t0, now: at(1)), decisions: []),
            Case(
                name: "a held contract without a quote for 10 s is stale",
                snapshot: .init(positions: [1: 2, 2: 0], lastQuote: [1: at(5)], opened: t0, now: at(15)), decisions: [.stale([1], flatten: true)]),
            Case(name: "a quote 9 s ago is fresh", snapshot: .init(positions: [1: 2], lastQuote: [1: at(6)], opened: t0, now: at(15)), decisions: []),
            Case(
                name: "a stale spell is reported once", snapshot: .init(positions: [1: 2], alreadyStale: [1], opened: t0, now: at(60)), decisions: []),
            Case(
                name: "the loss comes before staleness",
                snapshot: .init(open: -600, positions: [1: -1], opened: t0, now: at(10)), decisions: [.lock(total: -600), .stale([1], flatten: true)]),
        ])
    func decides(_ c: Case) {
        let monitor = RiskMonitor(limits: .init(dailyLossLimit: 500, maxPosition: 2, maxOrdersPerMinute: 2))
        #expect(monitor.check(c.snapshot) == c.decisions)
    }

    @Test func onStaleAlertOnlyAlerts() {
        let monitor = RiskMonitor(limits: .init(dailyLossLimit: 500, maxPosition: 2, maxOrdersPerMinute: 2, staleAfter: .seconds(5), onStale: .alert))
        #expect(monitor.check(.init(positions: [1: 1], opened: Self.t0, now: Self.at(5))) == [.stale([1], flatten: false)])
    }

    @Test func ordersAreRefusedWhenLockedTooFastOrTooLarge() {
        let monitor = RiskMonitor(limits: .init(dailyLossLimit: 500, maxPosition: 2, maxOrdersPerMinute: 2))
        var state = FuturesSessionState()
        #expect(monitor.rejection(state: state, now: Self.t0, buy: true, quantity: 1, net: 0, working: 1) == nil)
        #expect(monitor.rejection(state: state, now: Self.t0, buy: true, quantity: 1, net: 1, working: 1)?.hasPrefix("max_position") == true)
        #expect(monitor.rejection(state: state, now: Self.t0, buy: false, quantity: 1, net: -2, working: 0)?.hasPrefix("max_position") == true)
        state.recentOrders = [Self.t0, Self.t0]
        #expect(monitor.rejection(state: state, now: Self.at(30), buy: true, quantity: 1, net: 0, working: 0)?.hasPrefix("max_orders_per_minute") == true)
        #expect(monitor.rejection(state: state, now: Self.at(61), buy: true, quantity: 1, net: 0, working: 0) == nil)
        state.locked = true
        #expect(monitor.rejection(state: state, now: Self.at(61), buy: true, quantity: 1, net: 0, working: 0)?.hasPrefix("locked") == true)
    }
}
