import Foundation
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Brokers
@testable import Sandbox

let tvSecrets = InMemoryCredentials([
    "tradovate/username": "demo-user", "tradovate/password": "demo-pass", "tradovate/cid": "1234", "tradovate/secret": "sim-secret",
])

func tvConfig(_ sim: TradovateSimulator, renewMargin: TimeInterval = 15 * 60, limits: TradovateAuthLimits = TradovateAuthLimits())
    -> TradovateConfiguration
{
    TradovateConfiguration(
        environment: .demo, restURL: sim.restURL, webSocketURL: sim.webSocketURL, marketDataURL: sim.marketDataURL,
        deviceID: "71986488-882c-43db-c345-92a0a2ed9329", renewMargin: renewMargin, limits: limits, timeout: 10)
}

func withTV(_ body: (TradovateSimulator, TradovateClient) async throws -> Void) async throws {
    let sim = TradovateSimulator()
    try await sim.start(port: 0)
    let client = TradovateClient(auth: TradovateAuth(configuration: tvConfig(sim), credentials: tvSecrets, sleeper: .immediate))
    do { try await body(sim, client) } catch { await sim.stop(); throw error }
    await sim.stop()
}

@Suite struct TradovateRESTTests {
    @Test func accountsBalancesContractsProducts() async throws {
        try await withTV { sim, tv in
            #expect(try await tv.accounts().map(\.id) == ["DEMO123456"])
            let b = try await tv.balance(account: "DEMO123456")
            #expect(b.cash == 50_000)
            #expect(try await tv.balance(account: "1001").cash == 50_000)
            let c = try await tv.contract(named: "ESZ5")
            #expect(c.id == 3001)
            #expect(try await tv.contract(id: 3002).name == "MNQZ5")
            let p = try await tv.product(named: "ES")
            #expect(p.valuePerPoint == 50 && p.tickSize == Decimal(string: "0.25"))
            await #expect(throws: BrokerError.self) { _ = try await tv.balance(account: "NOPE") }
            await #expect(throws: BrokerError.self) { _ = try await tv.contract(named: "XXZ9") }
            // Quotes come from a short market-data subscription.
            let quotes = try await tv.quotes(["ESZ5", "NOPE9"])
            #expect(quotes.items.map(\.symbol.rawValue) == ["ESZ5"] && quotes.items.first?.last == Decimal(string: "5000.25"))
            #expect(quotes.items.first?.bid == 5000 && quotes.items.first?.ask == Decimal(string: "5000.5"))
            #expect(quotes.errors.map(\.item) == ["NOPE9"])
            #expect(sim.marketDataConnectCount == 1, "one short subscription")
        }
    }

    @Test func placeSendsAutomatedFlagAndClOrdIdAndFills() async throws {
        try await withTV { sim, tv in
            let key = IdempotencyKey.derived(from: "run-9", "entry")
            let placed = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 2, type: .market, key: key), account: "DEMO123456")
            let body = try #require(sim.placedOrderBodies.last)
            #expect(body["isAutomated"] as? Bool == true)
            #expect(body["clOrdId"] as? String == key.rawValue)
            #expect(body["accountSpec"] as? String == "DEMO123456" && (body["accountId"] as? NSNumber)?.int64Value == 1001)
            #expect(body["orderQty"] as? Int == 2 && body["action"] as? String == "Buy" && body["orderType"] as? String == "Market")
            let o = try await tv.order(id: placed.orderID, account: "DEMO123456")
            #expect(o.state == .filled && o.filledQuantity == 2 && o.averageFillPrice == Decimal(string: "5000.25") && o.symbol == "ESZ5")
            let pos = try await tv.positions(account: "DEMO123456")
            #expect(pos.map(\.quantity) == [2] && pos.first?.averagePrice == Decimal(string: "5000.25"))
            // Duplicate clOrdId is refused, not doubled.
            await #expect(throws: BrokerError.self) {
                _ = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 2, type: .market, key: key), account: "DEMO123456")
            }
            #expect(sim.netPosition(symbol: "ESZ5") == 2)
            // Fractional futures quantities are refused before sending.
            await #expect(throws: BrokerError.self) {
                _ = try await tv.place(
                    try OrderRequest(symbol: "ESZ5", side: .buy, quantity: try Quantity(parsing: "1.5"), type: .market, key: .random()), account: "DEMO123456")
            }
        }
    }

    @Test func limitModifyCancelAndLiquidate() async throws {
        try await withTV { sim, tv in
            let acct = "DEMO123456"
            let placed = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .limit(4990), key: .random()), account: acct)
            var o = try await tv.order(id: placed.orderID, account: acct)
            #expect(o.state == .working && o.limitPrice == 4990)
            try await tv.replace(orderID: placed.orderID, account: acct, with: try OrderReplacement(quantity: 3, limitPrice: Decimal(string: "4995.5")!))
            o = try await tv.order(id: placed.orderID, account: acct)
            #expect(o.quantity == 3 && o.limitPrice == Decimal(string: "4995.5") && o.state == .working)
            try await tv.cancel(orderID: placed.orderID, account: acct)
            #expect(try await tv.order(id: placed.orderID, account: acct).state == .cancelled)
            await #expect(throws: BrokerError.self) { try await tv.cancel(orderID: placed.orderID, account: acct) }
            // Working order fills when the market crosses.
            let buy = try await tv.place(try OrderRequest(symbol: "MNQZ5", side: .buy, quantity: 2, type: .limit(21000), key: .random()), account: acct)
            sim.setPrice(symbol: "MNQZ5", Decimal(string: "20999.75")!)
            #expect(try await tv.order(id: buy.orderID, account: acct).state == .filled)
            #expect(try await tv.orders(account: acct).count == 2)
            // Price up 10 points: open P&L 2 contracts × 10 × $2.
            sim.setPrice(symbol: "MNQZ5", Decimal(string: "21009.75")!)
            let snap = try await tv.cashSnapshot(account: acct)
            #expect(snap.openPnL == 40)
            let contracts = try await tv.positionContracts(account: acct)
            #expect(contracts.map(\.symbol) == ["MNQZ5"])
            _ = try await tv.liquidate(account: acct, contractID: contracts[0].contractID)
            #expect(sim.netPosition(symbol: "MNQZ5") == 0)
            #expect(try await tv.balance(account: acct).cash == 50_040)
            await #expect(throws: BrokerError.self) { _ = try await tv.liquidate(account: acct, contractID: 3001) }
        }
    }

    @Test func failureReasonInA200IsARejection() async throws {
        try await withTV { sim, tv in
            sim.rejectNextOrder(reason: "MaxPosLimitReached")
            do {
                _ = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .sell, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
                Issue.record("expected a rejection")
            } catch let e as BrokerError {
                #expect(e.isRejected && e.message.contains("MaxPosLimitReached"))
            }
            do {
                _ = try await tv.place(try OrderRequest(symbol: "ZZZ9", side: .sell, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
                Issue.record("expected a rejection")
            } catch let e as BrokerError { #expect(e.message.contains("InvalidContract")) }
        }
    }

    @Test func faultsAreMappedAndTokenExpiryRecovers() async throws {
        try await withTV { sim, tv in
            _ = try await tv.accounts()
            sim.expireTokens()
            #expect(try await tv.accounts().count == 1)
            #expect(sim.loginCount == 2)
            sim.enqueueFaults(.throttle)
            do { _ = try await tv.accounts(); Issue.record("expected 429") } catch let e as BrokerError { #expect(e.isRateLimited && e.retryAfter == 3600) }
            sim.enqueueFaults(.status(503))
            do { _ = try await tv.accounts(); Issue.record("expected 503") } catch let e as BrokerError { #expect(e.isServerError) }
            sim.enqueueFaults(.dropConnection)
            do { _ = try await tv.accounts(); Issue.record("expected a dropped connection") } catch let e as BrokerError {
                #expect(e.isTransportError || e.isMalformedResponse)
            }
            sim.enqueueFaults(.malformed)
            do { _ = try await tv.accounts(); Issue.record("expected malformed") } catch let e as BrokerError { #expect(e.isMalformedResponse) }
            sim.setLatency(.milliseconds(10))
            #expect(try await tv.accounts().count == 1)
        }
    }
}
