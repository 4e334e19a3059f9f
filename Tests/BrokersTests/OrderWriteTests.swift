import Brokers
import Foundation
import Sandbox
import SchedctlBase
import SchedctlTesting
import Testing

/// Order writes against the TradeStation simulator where the answer goes missing: the HTTP layer
/// must send each write exactly once (counted at the simulator), and the client must report the
/// outcome as unknown instead of trying again.
@Suite(.serialized) struct OrderWriteTests {
    static let account = "SIM1234567M"

    /// The simulator carries the POST out, then closes the (reused, pooled) connection without a
    /// byte of answer. The broker must see one POST, not a second one on a new connection.
    @Test func aPlacementWhoseAnswerIsLostIsSentOnce() async throws {
        try await withTS { h in
            // Reads first, so a pooled connection to the simulator exists and would be reused.
            _ = try await h.client.balance(account: Self.account)
            _ = try await h.client.positions(account: Self.account)
            h.sim.enqueueWriteFaults(.acceptThenDrop)
            let before = h.sim.orderWriteCount
            let request = try OrderRequest(symbol: "VTI", side: .buy, quantity: 3, type: .limit(240), key: .derived(from: "lost", "1"))
            await #expect(throws: BrokerError.self) { _ = try await h.client.place(request, account: Self.account) }
            #expect(h.sim.orderWriteCount - before == 1, "the broker saw \(h.sim.orderWriteCount - before) order writes")
            #expect(h.sim.placedConfirmIDs == [request.key.rawValue])
            #expect(h.sim.orderCount == 1, "the one order exists at the broker")
            #expect(h.sim.requestLog.filter { $0 == "POST /v3/orderexecution/orders" }.count == 1)
        }
    }

    /// A caller cancelled while the broker holds a placement's answer: the call ends with an
    /// error (an unknown outcome for the journal), the request is neither re-sent nor cancelled
    /// at the HTTP layer, and the one order the broker carried out is the only one it holds.
    @Test func aPlacementCancelledWhileItsAnswerIsHeldIsSentOnce() async throws {
        try await withTS { h in
            h.sim.setFillMode(.manual)
            h.sim.enqueueWriteFaults(.acceptThenDelay(.seconds(3)))
            let before = h.sim.orderWriteCount
            let request = try OrderRequest(symbol: "VTI", side: .buy, quantity: 1, type: .limit(240), key: .derived(from: "cancelled", "1"))
            let (client, account) = (h.client, Self.account)
            let call = Task { try await client.place(request, account: account) }
            #expect(try await pollUntil(within: 30) { h.sim.orderWriteCount > before }, "the write reached the broker")
            call.cancel()
            await #expect(throws: BrokerError.self) { _ = try await call.value }
            #expect(h.sim.orderWriteCount - before == 1, "the broker saw \(h.sim.orderWriteCount - before) order writes")
            #expect(h.sim.placedConfirmIDs == [request.key.rawValue])
            #expect(h.sim.orderCount == 1)
        }
    }

    /// A replace and a cancel whose answers are lost are sent once each too.
    @Test func replaceAndCancelWhoseAnswersAreLostAreSentOnce() async throws {
        try await withTS { h in
            h.sim.setFillMode(.manual)
            let request = try OrderRequest(symbol: "VTI", side: .buy, quantity: 3, type: .limit(240), key: .derived(from: "lost", "2"))
            let placed = try await h.client.place(request, account: Self.account)
            _ = try await h.client.order(id: placed.orderID, account: Self.account)
            h.sim.enqueueWriteFaults(.acceptThenDrop, .acceptThenDrop)
            let before = h.sim.orderWriteCount
            await #expect(throws: BrokerError.self) {
                try await h.client.replace(orderID: placed.orderID, account: Self.account, with: try OrderReplacement(limitPrice: 241))
            }
            await #expect(throws: BrokerError.self) { try await h.client.cancel(orderID: placed.orderID, account: Self.account) }
            #expect(h.sim.orderWriteCount - before == 2)
            #expect(h.sim.orderStatus(placed.orderID) == "CAN")
        }
    }

    /// A 5xx after the broker carried a placement out is an error (unknown outcome), not retried.
    @Test func aServerErrorOnAPlacementIsNotRetried() async throws {
        try await withTS { h in
            h.sim.enqueueWriteFaults(.acceptThenStatus(502))
            let request = try OrderRequest(symbol: "VTI", side: .buy, quantity: 2, type: .limit(240), key: .derived(from: "5xx", "1"))
            await #expect(throws: BrokerError.self) { _ = try await h.client.place(request, account: Self.account) }
            #expect(h.sim.placedConfirmIDs.count == 1)
            #expect(h.sim.orderCount == 1)
        }
    }

    /// A replace answered with a new OrderID: the client returns it; the old order ends `UCH`.
    @Test func aReplaceThatIssuesANewOrderIDIsFollowed() async throws {
        try await withTS { h in
            h.sim.setFillMode(.manual)
            h.sim.setReplaceIssuesNewOrderID(true)
            let request = try OrderRequest(symbol: "VTI", side: .buy, quantity: 3, type: .limit(240), key: .derived(from: "uch", "1"))
            let placed = try await h.client.place(request, account: Self.account)
            let next = try await h.client.replaceOrder(orderID: placed.orderID, account: Self.account, with: try OrderReplacement(limitPrice: 241))
            #expect(next != placed.orderID)
            #expect(h.sim.orderStatus(placed.orderID) == "UCH")
            let now = try await h.client.order(id: next, account: Self.account)
            #expect(now.limitPrice == 241 && !now.state.isTerminal)
        }
    }

    /// A balance answer without Equity (or CashBalance, or BuyingPower) is malformed, never
    /// "equity = cash".
    @Test(arguments: ["Equity", "CashBalance", "BuyingPower"])
    func aBalanceWithoutItsMoneyFieldsIsMalformed(_ field: String) async throws {
        try await withTS { h in
            h.sim.omitBalanceFields([field])
            await #expect(throws: BrokerError.self) { _ = try await h.client.balance(account: Self.account) }
        }
    }

    /// TradeStation's snapshot carries only the last trade's time: it is not the quote's time
    /// (which staleness is judged from), so an hour-old trade leaves a live quote fresh.
    @Test func theLastTradeTimeIsNotTheQuoteTime() async throws {
        try await withTS { h in
            h.sim.setLastTradeAge("BND", seconds: 3600)
            let q = try #require(try await h.client.quotes(["BND"]).items.first)
            #expect(q.time == nil)
            #expect(q.tradeTime != nil)
            #expect(q.bid != nil && q.ask != nil && !q.delayed)
        }
    }

    /// A margin account reports buying power above its cash.
    @Test func aMarginAccountReportsBuyingPowerAboveCash() async throws {
        try await withTS { h in
            h.sim.setAccount(Self.account, cash: 50_000)
            h.sim.setMargin(account: Self.account, multiplier: 2)
            let b = try await h.client.balance(account: Self.account)
            #expect(b.cash == 50_000 && b.buyingPower == 100_000 && b.equity == 50_000)
        }
    }

    /// The same against the Tradovate simulator: it records the `order/placeorder` POST and closes
    /// the (reused) connection without answering. It sees exactly one placeorder, and the client
    /// reports a transport failure (the outcome is unknown), not a rejection and not a re-send.
    @Test func aTradovatePlacementWhoseAnswerIsLostIsSentOnce() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            let tv = TradovateClient(auth: TradovateAuth(configuration: tvConfig(sim), credentials: tvSecrets, sleeper: .immediate))
            // Reads first, so a pooled connection to the simulator exists and would be reused.
            _ = try await tv.balance(account: "DEMO123456")
            _ = try await tv.orders(account: "DEMO123456")
            sim.enqueueWriteFaults(.acceptThenDrop)
            let key = IdempotencyKey.derived(from: "lost", "tv")
            let request = try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .limit(4_990), key: key)
            let error = await #expect(throws: BrokerError.self) { _ = try await tv.place(request, account: "DEMO123456") }
            #expect(error?.isTransportError == true || error?.isTimeout == true, "\(String(describing: error))")
            #expect(error?.isRejected == false)
            #expect(sim.orderWriteCount("order/placeorder") == 1, "the broker saw \(sim.orderWriteCount("order/placeorder")) placeorder requests")
            #expect(sim.placements(clOrdId: key.rawValue) == 1)
            #expect(sim.acceptedOrderCount == 1, "the one order exists at the broker")
        }
    }
}
