import Foundation
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Brokers
@testable import Sandbox

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Records requested sleeps instead of sleeping.
final class SleepRecorder: Sendable {
    let sleeps = Mutex<[Duration]>([])
    var sleeper: Sleeper { Sleeper { d in self.sleeps.withLock { $0.append(d) } } }
    var count: Int { sleeps.withLock { $0.count } }
}

struct TSHarness {
    let sim: TradeStationSimulator
    let client: TradeStationClient
    let tokens: InMemoryTokenStore
    let sleeps: SleepRecorder

    static func make(refreshToken: String = "sim-refresh-token", maxRetries: Int = 4) async throws -> TSHarness {
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        let tokens = InMemoryTokenStore(OAuthTokenState(refreshToken: refreshToken))
        let sleeps = SleepRecorder()
        let config = TradeStationConfiguration(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL, maxRetries: maxRetries, timeout: 10)
        let client = TradeStationClient(
            configuration: config,
            credentials: InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "sim-secret"]),
            tokens: tokens, sleeper: sleeps.sleeper)
        return TSHarness(sim: sim, client: client, tokens: tokens, sleeps: sleeps)
    }
}

func withTS(_ body: (TSHarness) async throws -> Void) async throws {
    let h = try await TSHarness.make()
    do { try await body(h) } catch { await h.sim.stop(); throw error }
    await h.sim.stop()
}

@Suite struct TradeStationDecodingTests {
    func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return try Data(contentsOf: url)
    }

    @Test func accountsExample() throws {
        let r = try TSCoding.decoder.decode(TSAccountsResponse.self, from: fixture("ts-accounts"))
        #expect(r.accounts.map(\.accountID) == ["123456789", "123456782", "123456781"])
        #expect(r.accounts.map(\.accountType) == ["Cash", "Margin", "Futures"])
    }

    @Test func balancesExample() throws {
        let r = try TSCoding.decoder.decode(TSBalancesResponse.self, from: fixture("ts-balances"))
        #expect(r.balances?.count == 3)
        #expect(tsDecimal(r.balances?[1].cashBalance) == Decimal(string: "39735538.661"))
        #expect(tsDecimal(r.balances?[0].buyingPower) == Decimal(string: "987654319786.82"))
    }

    @Test func positionsExampleWithPartialError() throws {
        let r = try TSCoding.decoder.decode(TSPositionsResponse.self, from: fixture("ts-positions"))
        #expect(r.positions?.first?.symbol == "MSFT")
        #expect(tsDecimal(r.positions?.first?.averagePrice) == Decimal(string: "216.68"))
        #expect(r.errors?.first?.partial == PartialError(item: "123456782C", code: "Forbidden", message: "Request not supported for account type."))
    }

    @Test func quotesExampleWithInvalidSymbol() throws {
        let r = try TSCoding.decoder.decode(TSQuotesResponse.self, from: fixture("ts-quotes"))
        #expect(tsDecimal(r.quotes?.first?.bid) == Decimal(string: "212.85"))
        #expect(tsDecimal(r.quotes?.first?.ask) == Decimal(string: "212.87"))
        #expect(r.errors?.first?.partial.item == "INVALID")
    }

    @Test func ordersExampleMapsStatuses() throws {
        let r = try TSCoding.decoder.decode(TSOrdersResponse.self, from: fixture("ts-orders"))
        let orders = (r.orders ?? []).map { $0.export() }
        #expect(orders.map(\.brokerStatus) == ["OPN", "FLL", "ACK", "ACK", "ACK"])
        #expect(orders.map(\.state) == [.working, .filled, .pending, .pending, .pending])
        #expect(orders[1].averageFillPrice == Decimal(string: "216.68"))
        #expect(orders[1].filledQuantity == 10 && orders[1].side == .buy && orders[1].symbol == "MSFT")
        #expect(orders[2].limitPrice == 230 && orders[2].side == .sell)
        #expect(orders[1].closedAt == ISO8601DateFormatter().date(from: "2020-11-16T16:53:37Z"))
        let h = try TSCoding.decoder.decode(TSOrdersResponse.self, from: fixture("ts-historicalorders"))
        #expect(!(h.orders ?? []).isEmpty)
    }

    @Test func confirmPlaceReplaceCancelExamples() throws {
        let c = try TSCoding.decoder.decode(TSConfirmResponse.self, from: fixture("ts-confirm"))
        #expect(c.confirmations?.first?.orderConfirmID == "7CMygnFJXk+ihrJJfOPmVQ")
        #expect(tsDecimal(c.confirmations?.first?.estimatedCost) == Decimal(string: "2163.2"))
        let p = try TSCoding.decoder.decode(TSPlaceResponse.self, from: fixture("ts-place"))
        #expect(p.orders?.map(\.orderID) == ["286179829", "286179830", "286179831"])
        #expect(p.errors?.first?.error == "FAILED")
        #expect(try TSCoding.decoder.decode(TSOrderMessage.self, from: fixture("ts-replace")).message == "Cancel/Replace order sent.")
        #expect(try TSCoding.decoder.decode(TSOrderMessage.self, from: fixture("ts-cancel")).orderID == "123456789")
    }

    @Test func orderRequestEncodesNumbersAsStrings() throws {
        let client = TradeStationClient(configuration: .init(environment: .sim), credentials: InMemoryCredentials([:]), tokens: InMemoryTokenStore())
        let o = try OrderRequest(symbol: "ESZ25", side: .buy, quantity: 1, type: .limit(Decimal(string: "5000.25")!), key: try IdempotencyKey("abc"))
        let json = String(decoding: try TSCoding.encoder.encode(try client.wire(o, account: "123456781")), as: UTF8.self)
        #expect(
            json
                == #"{"AccountID":"123456781","LimitPrice":"5000.25","OrderConfirmID":"abc","OrderType":"Limit","Quantity":"1","Symbol":"ESZ25","TimeInForce":{"Duration":"DAY"},"TradeAction":"BUY"}"#
        )
    }

    @Test func environmentParsing() throws {
        #expect(try TradeStationEnvironment(parsing: "SIM") == .sim)
        #expect(try TradeStationEnvironment(parsing: "live").baseURL.absoluteString == "https://api.tradestation.com/v3")
        #expect(TradeStationEnvironment.sim.baseURL.absoluteString == "https://sim-api.tradestation.com/v3")
        #expect(throws: BrokerError.self) { try TradeStationEnvironment(parsing: "paper") }
        let c = TradeStationConfiguration(environment: .live, baseURL: URL(string: "http://127.0.0.1:1/v3"))
        #expect(c.baseURL.absoluteString == "http://127.0.0.1:1/v3" && c.authURL.absoluteString == "https://signin.tradestation.com")
    }

    @Test func authorizeURLCarriesEveryParameter() throws {
        let url = TradeStationAuth.authorizeURL(clientID: "key", redirectURI: "http://localhost:31022", state: "xyz")
        let c = try #require(URLComponents(url: url, resolvingAgainstBaseURL: false))
        let q = Dictionary(uniqueKeysWithValues: (c.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        #expect(c.host == "signin.tradestation.com" && c.path == "/authorize")
        #expect(q["response_type"] == "code" && q["client_id"] == "key" && q["audience"] == "https://api.tradestation.com")
        #expect(q["redirect_uri"] == "http://localhost:31022" && q["state"] == "xyz")
        #expect(q["scope"] == "openid profile offline_access MarketData ReadAccount Trade")
    }
}

@Suite struct TradeStationClientTests {
    @Test func readsAccountsBalancesPositionsQuotes() async throws {
        try await withTS { h in
            let accounts = try await h.client.accounts()
            #expect(accounts.map(\.id) == ["SIM1234567M", "SIM1234567F"])
            let b = try await h.client.balance(account: "SIM1234567M")
            #expect(b.cash == 100_000)
            h.sim.setPosition(account: "SIM1234567M", symbol: "MSFT", quantity: 10, averagePrice: 400)
            let p = try await h.client.positions(account: "SIM1234567M")
            #expect(p == [Position(accountID: "SIM1234567M", symbol: "MSFT", quantity: 10, averagePrice: 400, marketValue: 4125)])
            let q = try await h.client.quotes(["MSFT", "SPY", "NOPE"])
            #expect(q.items.map(\.symbol) == ["MSFT", "SPY"])
            #expect(q.items[0].bid == Decimal(string: "412.49") && q.items[0].mid == Decimal(string: "412.5"))
            #expect(q.errors.map(\.item) == ["NOPE"])
            // The refresh token was used once and the access token reused afterwards.
            #expect(h.sim.tokenRequestCount == 1)
            #expect(h.tokens.current?.accessToken != nil)
        }
    }

    @Test func multiAccountPartialErrorsAreSurfaced() async throws {
        try await withTS { h in
            let r = try await h.client.balances(accounts: ["SIM1234567M", "BOGUS1"])
            #expect(r.items.map(\.accountID) == ["SIM1234567M"])
            #expect(r.errors == [PartialError(item: "BOGUS1", code: "Forbidden", message: "Request not supported for account type.")])
            let p = try await h.client.positions(accounts: ["SIM1234567M", "SIM1234567F", "BOGUS1"])
            #expect(p.errors.count == 1)
            await #expect(throws: BrokerError.self) { _ = try await h.client.balance(account: "BOGUS1") }
            await #expect(throws: BrokerError.self) { _ = try await h.client.balances(accounts: []) }
            await #expect(throws: BrokerError.self) { _ = try await h.client.balances(accounts: (0..<26).map { "A\($0)" }) }
            await #expect(throws: BrokerError.self) { _ = try await h.client.balances(accounts: ["../x"]) }
        }
    }

    @Test func quotesAreBatchedByHundred() async throws {
        try await withTS { h in
            for i in 0..<150 { h.sim.setPrice("S\(i)", Decimal(i + 1)) }
            let symbols = try (0..<150).map { try Symbol("S\($0)") }
            let r = try await h.client.quotes(symbols)
            #expect(r.items.count == 150 && r.errors.isEmpty)
            #expect(h.sim.requestLog.filter { $0.contains("marketdata/quotes") }.count == 2)
        }
    }

    @Test func confirmPlaceFillAndCashConsistency() async throws {
        try await withTS { h in
            let acct = "SIM1234567M"
            let req = try OrderRequest(symbol: "MSFT", side: .buy, quantity: 10, type: .market, key: .derived(from: "run1", "buy"))
            let c = try await h.client.confirm(req, account: acct)
            #expect(c.estimatedCost == Decimal(string: "4125") && c.key == req.key && c.summary == "Buy 10 MSFT @ Market")
            #expect(h.sim.orderCount == 0)
            let placed = try await h.client.place(req, account: acct)
            let o = try await h.client.order(id: placed.orderID, account: acct)
            #expect(o.state == .filled && o.filledQuantity == 10 && o.averageFillPrice == Decimal(string: "412.5"))
            #expect(try await h.client.balance(account: acct).cash == Decimal(string: "95875"))
            #expect(h.sim.positionQuantity(account: acct, symbol: "MSFT") == 10)
            // Same OrderConfirmID again: the simulator refuses to double it.
            await #expect(throws: BrokerError.self) { _ = try await h.client.place(req, account: acct) }
            #expect(h.sim.orderCount == 1)
            #expect(h.sim.positionQuantity(account: acct, symbol: "MSFT") == 10)
        }
    }

    @Test func limitOrderLifecycleWorkingPartialReplaceFillCancel() async throws {
        try await withTS { h in
            let acct = "SIM1234567M"
            h.sim.setFillMode(.manual)
            let buy = try await h.client.place(
                try OrderRequest(symbol: "SPY", side: .buy, quantity: 10, type: .limit(490), key: .derived(from: "l1")), account: acct)
            #expect(try await h.client.order(id: buy.orderID, account: acct).state == .pending)
            #expect(h.sim.fill(orderID: buy.orderID, quantity: 4, price: 490))
            var o = try await h.client.order(id: buy.orderID, account: acct)
            #expect(o.state == .partiallyFilled && o.filledQuantity == 4 && o.brokerStatus == "FPR")
            try await h.client.replace(orderID: buy.orderID, account: acct, with: try OrderReplacement(limitPrice: 495))
            o = try await h.client.order(id: buy.orderID, account: acct)
            #expect(o.limitPrice == 495)
            try await h.client.cancel(orderID: buy.orderID, account: acct)
            o = try await h.client.order(id: buy.orderID, account: acct)
            #expect(o.state == .cancelled && o.filledQuantity == 4 && o.brokerStatus == "FLP")
            #expect(try await h.client.balance(account: acct).cash == 100_000 - 4 * 490)
            await #expect(throws: BrokerError.self) { try await h.client.cancel(orderID: buy.orderID, account: acct) }
            await #expect(throws: BrokerError.self) {
                try await h.client.replace(orderID: buy.orderID, account: acct, with: try OrderReplacement(limitPrice: 1))
            }
            // Instant mode: a limit order that crosses after a price move fills.
            h.sim.setFillMode(.instant)
            let sell = try await h.client.place(
                try OrderRequest(symbol: "SPY", side: .sell, quantity: 4, type: .limit(520), key: .derived(from: "l2")), account: acct)
            #expect(try await h.client.order(id: sell.orderID, account: acct).state == .working)
            h.sim.setPrice("SPY", 521)
            o = try await h.client.order(id: sell.orderID, account: acct)
            #expect(o.state == .filled && o.averageFillPrice == 521)
            #expect(h.sim.positionQuantity(account: acct, symbol: "SPY") == 0)
            // Replace to market fills at once.
            h.sim.setFillMode(.manual)
            let b2 = try await h.client.place(
                try OrderRequest(symbol: "BND", side: .buy, quantity: 1, type: .limit(1), key: .derived(from: "l3")), account: acct)
            h.sim.setFillMode(.instant)
            try await h.client.replace(orderID: b2.orderID, account: acct, with: try OrderReplacement(toMarket: true))
            #expect(try await h.client.order(id: b2.orderID, account: acct).state == .filled)
        }
    }

    @Test func asynchronousCancelGoesThroughCancelSent() async throws {
        try await withTS { h in
            let acct = "SIM1234567M"
            h.sim.setFillMode(.manual)
            h.sim.setAsyncCancel(true)
            let p = try await h.client.place(
                try OrderRequest(symbol: "BND", side: .buy, quantity: 5, type: .limit(70), key: .derived(from: "ac")), account: acct)
            try await h.client.cancel(orderID: p.orderID, account: acct)
            var o = try await h.client.order(id: p.orderID, account: acct)
            #expect(o.brokerStatus == "UCN" && o.state == .working)
            o = try await h.client.order(id: p.orderID, account: acct)
            #expect(o.brokerStatus == "CAN" && o.state == .cancelled && o.closedAt != nil)
        }
    }

    @Test func rejectionsAndInsufficientBuyingPower() async throws {
        try await withTS { h in
            let acct = "SIM1234567M"
            do {
                _ = try await h.client.place(
                    try OrderRequest(symbol: "SPY", side: .buy, quantity: 1000, type: .market, key: .derived(from: "big")), account: acct)
                Issue.record("expected a rejection")
            } catch let e as BrokerError {
                #expect(e.isRejected && e.message.contains("Insufficient buying power"))
            }
            h.sim.rejectNextOrders(1)
            let r = try await h.client.place(try OrderRequest(symbol: "SPY", side: .buy, quantity: 1, type: .market, key: .derived(from: "rej")), account: acct)
            let o = try await h.client.order(id: r.orderID, account: acct)
            #expect(o.state == .rejected && o.rejectReason == "Simulated rejection by the exchange")
            #expect(try await h.client.balance(account: acct).cash == 100_000)
        }
    }

    @Test func groupOrdersSurfacePartialSuccess() async throws {
        try await withTS { h in
            let acct = "SIM1234567M"
            let orders = [
                try OrderRequest(symbol: "BND", side: .buy, quantity: 10, type: .limit(Decimal(string: "72.10")!), key: .derived(from: "g", "1")),
                try OrderRequest(symbol: "VTI", side: .buy, quantity: 1000, type: .limit(250), key: .derived(from: "g", "2")),
            ]
            let confirms = try await h.client.confirmGroup(orders, type: .normal, account: acct)
            #expect(confirms.count == 2)
            let r = try await h.client.placeGroup(orders, type: .normal, account: acct)
            #expect(r.items.count == 1 && r.errors.count == 1)
            #expect(r.errors[0].code == "FAILED" && r.errors[0].message.contains("buying power"))
            #expect(try await h.client.order(id: r.items[0].orderID, account: acct).state == .filled)
        }
    }

    @Test func ordersArePagedWithNextToken() async throws {
        try await withTS { h in
            let acct = "SIM1234567M"
            for i in 0..<7 {
                _ = try await h.client.place(
                    try OrderRequest(symbol: "BND", side: .buy, quantity: 1, type: .market, key: .derived(from: "p\(i)")), account: acct)
            }
            let all = try await h.client.orders(accounts: [acct], pageSize: 3)
            #expect(all.items.count == 7 && Set(all.items.map(\.id)).count == 7)
            #expect(h.sim.requestLog.filter { $0.hasPrefix("GET") && $0.hasSuffix("/orders") }.count == 3)
            let hist = try await h.client.historicalOrders(accounts: [acct], since: Date(timeIntervalSinceNow: -86400), pageSize: 5)
            #expect(hist.items.count == 7)
            #expect(try await h.client.orders(account: acct).count == 7)
            await #expect(throws: BrokerError.self) { _ = try await h.client.orders(accounts: [acct], pageSize: 601) }
        }
    }

    @Test func expiredAccessTokenRefreshesOnceAndRetries() async throws {
        try await withTS { h in
            _ = try await h.client.accounts()
            h.sim.expireAccessTokens()
            #expect(try await h.client.accounts().count == 2)
            #expect(h.sim.tokenRequestCount == 2)
            // A 401 that persists after the refresh is reported, not looped on.
            h.sim.enqueueFaults(.unauthorized, .unauthorized)
            do {
                _ = try await h.client.accounts()
                Issue.record("expected an error")
            } catch let e as BrokerError {
                #expect(e.isAuthenticationFailure && e.httpStatus == 401)
                #expect(e.message.contains("schedctl auth tradestation"))
            }
            #expect(h.sim.tokenRequestCount == 3)
        }
    }

    @Test func tokenIsRefreshedShortlyBeforeExpiry() async throws {
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            let clock = ManualWallClock(Date())
            let store = InMemoryTokenStore(OAuthTokenState(refreshToken: "sim-refresh-token"))
            let client = TradeStationClient(
                configuration: .init(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL, refreshMargin: 180),
                credentials: InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "sim-secret"]),
                tokens: store, clock: clock.clock, sleeper: .immediate)
            _ = try await client.accounts()
            clock.advance(by: 1000)  // 200 s left: still valid
            _ = try await client.accounts()
            #expect(sim.tokenRequestCount == 1)
            clock.advance(by: 30)  // 170 s left: inside the margin
            _ = try await client.accounts()
            #expect(sim.tokenRequestCount == 2)
            await sim.stop()
        }
    }

    @Test func rotatedRefreshTokenIsAlwaysStored() async throws {
        try await withTS { h in
            h.sim.setRotateRefreshTokens(true)
            _ = try await h.client.accounts()
            let first = try #require(h.tokens.current?.refreshToken)
            #expect(first != "sim-refresh-token" && h.sim.validRefreshTokens == [first])
            h.sim.expireAccessTokens()
            _ = try await h.client.accounts()
            let second = try #require(h.tokens.current?.refreshToken)
            #expect(second != first && h.sim.validRefreshTokens == [second])
        }
    }

    /// A store that hands out a stale state once, as if another process rotated the token
    /// between our read and our refresh.
    final class RacingStore: TokenStore {
        let inner: InMemoryTokenStore
        let stale: Mutex<OAuthTokenState?>
        init(inner: InMemoryTokenStore, stale: OAuthTokenState) { self.inner = inner; self.stale = Mutex(stale) }
        func load() async throws -> OAuthTokenState? {
            if let s = stale.withLock({ s -> OAuthTokenState? in
                defer { s = nil }; return s
            }) {
                return s
            }
            return try await inner.load()
        }
        func update(from expected: OAuthTokenState?, to new: OAuthTokenState) async throws -> Bool {
            try await inner.update(from: expected, to: new)
        }
    }

    @Test func refreshRaceWithAnotherProcessUsesTheRotatedToken() async throws {
        try await withTS { h in
            h.sim.setRotateRefreshTokens(true)
            // "Process A" refreshes and rotates the token into the shared store.
            _ = try await h.client.accounts()
            let rotated = try #require(h.tokens.current)
            #expect(rotated.refreshToken != "sim-refresh-token")
            h.sim.expireAccessTokens()
            // "Process B" read the old state just before A's write; its refresh gets invalid_grant.
            let racing = RacingStore(inner: h.tokens, stale: OAuthTokenState(refreshToken: "sim-refresh-token"))
            let b = TradeStationClient(
                configuration: h.client.configuration,
                credentials: InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "sim-secret"]),
                tokens: racing, sleeper: .immediate)
            #expect(try await b.accounts().count == 2)
            // B retried with A's rotated token and stored the next rotation: nothing was lost.
            let after = try #require(h.tokens.current)
            #expect(after.refreshToken != rotated.refreshToken && h.sim.validRefreshTokens == [after.refreshToken])
        }
    }

    @Test func concurrentCallersShareOneRefresh() async throws {
        try await withTS { h in
            try await withThrowingTaskGroup(of: Int.self) { g in
                for _ in 0..<8 { g.addTask { try await h.client.accounts().count } }
                for try await n in g { #expect(n == 2) }
            }
            #expect(h.sim.tokenRequestCount == 1)
            // Eight requests all rejected with 401 at once: still a single refresh.
            h.sim.expireAccessTokens()
            try await withThrowingTaskGroup(of: Int.self) { g in
                for _ in 0..<8 { g.addTask { try await h.client.accounts().count } }
                for try await n in g { #expect(n == 2) }
            }
            #expect(h.sim.tokenRequestCount == 2)
        }
    }

    @Test func invalidGrantTellsTheUserToSignInAgain() async throws {
        try await withTS { h in
            h.sim.revokeRefreshTokens()
            do {
                _ = try await h.client.accounts()
                Issue.record("expected an error")
            } catch let e as BrokerError {
                #expect(e.requiresReauthorization)
                #expect(e.message.contains("schedctl auth tradestation"))
                #expect(!e.message.contains("sim-refresh-token") && !e.message.contains("sim-secret"))
            }
        }
    }

    @Test func wrongClientSecretAndMissingSignIn() async throws {
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        let bad = TradeStationClient(
            configuration: .init(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL),
            credentials: InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "WRONG-SECRET"]),
            tokens: InMemoryTokenStore(OAuthTokenState(refreshToken: "sim-refresh-token")))
        do { _ = try await bad.accounts(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.isAuthenticationFailure && !e.message.contains("WRONG-SECRET"))
        }
        let none = TradeStationClient(
            configuration: .init(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL),
            credentials: InMemoryCredentials([:]), tokens: InMemoryTokenStore())
        do { _ = try await none.accounts(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.requiresReauthorization)
        }
        await sim.stop()
    }

    @Test func tokenEndpointFaults() async throws {
        try await withTS { h in
            h.sim.enqueueTokenFaults(.status(503))
            await #expect(throws: BrokerError.self) { _ = try await h.client.accounts() }
            h.sim.enqueueTokenFaults(.malformed)
            do { _ = try await h.client.accounts(); Issue.record("expected an error") } catch let e as BrokerError { #expect(e.isMalformedResponse) }
            // Recovered afterwards.
            #expect(try await h.client.accounts().count == 2)
        }
    }

    @Test func throttlingBacksOffThenSucceeds() async throws {
        try await withTS { h in
            h.sim.enqueueFaults(.throttle, .throttle)
            let n = try await h.client.accounts().count
            #expect(n == 2)
            #expect(h.sleeps.sleeps.withLock { $0 } == [.seconds(1), .seconds(1)])
        }
    }

    @Test func oddRetryAfterValuesNeitherTrapNorParkTheCall() async throws {
        try await withTS { h in
            // Not delta-seconds: ignored, the client's own backoff applies.
            h.sim.enqueueFaults(.throttleAsking("1e300"), .throttleAsking("-5"))
            #expect(try await h.client.accounts().count == 2)
            #expect(h.sleeps.sleeps.withLock { $0 } == [.seconds(1), .seconds(2)])
            // Longer than the cap: the call fails at once, passing the wait on.
            h.sim.enqueueFaults(.throttleAsking("99999999999999999999999"))
            do {
                _ = try await h.client.accounts()
                Issue.record("expected a rate-limit error")
            } catch let error as BrokerError {
                #expect(error.isRateLimited && (error.retryAfter ?? 0) > ServerWait.maximum)
            }
            #expect(h.sleeps.count == 2)
        }
    }

    @Test func quoteQuotaExhaustionIsReportedAfterRetries() async throws {
        let h = try await TSHarness.make(maxRetries: 2)
        h.sim.setQuoteQuota(2)
        _ = try await h.client.quotes(["SPY"])
        _ = try await h.client.quotes(["SPY"])
        do { _ = try await h.client.quotes(["SPY"]); Issue.record("expected 429") } catch let e as BrokerError {
            #expect(e.isRateLimited && e.httpStatus == 429 && e.isRetryable)
        }
        #expect(h.sleeps.count == 2)
        await h.sim.stop()
    }

    @Test func serverErrorsRetryReadsButNotWrites() async throws {
        try await withTS { h in
            h.sim.enqueueFaults(.status(503))
            #expect(try await h.client.accounts().count == 2)
            #expect(h.sleeps.count == 1)
            h.sim.enqueueFaults(.status(500))
            do {
                _ = try await h.client.place(
                    try OrderRequest(symbol: "BND", side: .buy, quantity: 1, type: .market, key: .derived(from: "w")), account: "SIM1234567M")
                Issue.record("expected an error")
            } catch let e as BrokerError { #expect(e.isServerError && e.httpStatus == 500) }
            #expect(h.sim.orderCount == 0)
            h.sim.enqueueFaults(.status(400))
            do { _ = try await h.client.accounts(); Issue.record("expected an error") } catch let e as BrokerError {
                #expect(e.httpStatus == 400 && e.message.contains("Simulated failure"))
            }
        }
    }

    @Test func droppedConnectionsRetryReadsAndSurfaceForWrites() async throws {
        try await withTS { h in
            h.sim.enqueueFaults(.dropConnection)
            #expect(try await h.client.accounts().count == 2)
            #expect(h.sleeps.count == 1)
            h.sim.enqueueFaults(.dropConnection)
            do {
                _ = try await h.client.cancel(orderID: "123", account: "SIM1234567M")
                Issue.record("expected a transport error")
            } catch let e as BrokerError { #expect(e.isTransportError || e.isMalformedResponse) }
            h.sim.enqueueTokenFaults(.dropConnection)
            h.sim.expireAccessTokens()
            await #expect(throws: BrokerError.self) { _ = try await h.client.accounts() }
        }
    }

    @Test func malformedBodyIsReported() async throws {
        try await withTS { h in
            h.sim.enqueueFaults(.malformed)
            do { _ = try await h.client.orders(account: "SIM1234567M"); Issue.record("expected an error") } catch let e as BrokerError {
                #expect(e.isMalformedResponse)
            }
        }
    }

    @Test func latencyIsTolerated() async throws {
        try await withTS { h in
            h.sim.setLatency(.milliseconds(20))
            let n = try await h.client.accounts().count
            #expect(n == 2)
        }
    }

    @Test func transportFailureWhenSimulatorIsDown() async throws {
        let h = try await TSHarness.make()
        _ = try await h.client.accounts()
        await h.sim.stop()
        do { _ = try await h.client.accounts(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.isTransportError || e.isTimeout)
        }
    }

    @Test func authorizationCodeFlowThroughCallbackListener() async throws {
        try await withTS { h in
            let listener = try await OAuthCallbackListener.start(port: 0)
            #expect(listener.port > 0)
            let state = TradeStationAuth.randomState()
            let pkce = TradeStationAuth.PKCE()
            let url = TradeStationAuth.authorizeURL(
                authURL: h.sim.authURL, clientID: "sim-client", redirectURI: listener.redirectURI, state: state, pkce: pkce)
            let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
            #expect(query.first { $0.name == "code_challenge_method" }?.value == "S256")
            #expect(query.first { $0.name == "code_challenge" }?.value == pkce.challenge)
            // Play the browser: follow the simulator's redirect to the listener.
            async let code = listener.waitForCode(expectedState: state, timeout: .seconds(20))
            let (_, response) = try await URLSession.shared.data(from: url)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let received = try await code
            // A code without the verifier its challenge asked for is refused (an intercepted code is useless).
            await #expect(throws: BrokerError.self) {
                _ = try await h.client.auth.exchange(code: received, redirectURI: listener.redirectURI, codeVerifier: TradeStationAuth.PKCE().verifier)
            }
            let again = TradeStationAuth.authorizeURL(
                authURL: h.sim.authURL, clientID: "sim-client", redirectURI: "http://localhost:1", state: state, pkce: pkce)
            let (_, redirect) = try await URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil).data(from: again)
            let location = try #require((redirect as? HTTPURLResponse)?.value(forHTTPHeaderField: "Location"))
            let second = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value)
            let stored = try await h.client.auth.exchange(code: second, redirectURI: "http://localhost:1", codeVerifier: pkce.verifier)
            #expect(stored.refreshToken.hasPrefix("sim-refresh-code-"))
            #expect(h.tokens.current == stored)
            // The code is single-use.
            await #expect(throws: BrokerError.self) {
                _ = try await h.client.auth.exchange(code: second, redirectURI: "http://localhost:1", codeVerifier: pkce.verifier)
            }
            #expect(try await h.client.accounts().count == 2)
        }
    }

    @Test func pkceChallengeIsTheS256OfTheVerifier() {
        // RFC 7636, appendix B.
        #expect(TradeStationAuth.PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        let pkce = TradeStationAuth.PKCE()
        #expect(pkce.verifier.count == 43 && pkce.verifier != TradeStationAuth.PKCE().verifier)
    }

    @Test func callbackListenerIgnoresWrongStateAndTimesOut() async throws {
        let listener = try await OAuthCallbackListener.start(port: 0)
        async let result = listener.waitForCode(expectedState: "expected", timeout: .seconds(20))
        // Any web page can poke the port: a wrong state, even a "decline", neither ends the sign-in nor supplies the code.
        _ = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(listener.port)/?code=forged&state=forged")!)
        _ = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(listener.port)/?error=access_denied&state=forged")!)
        _ = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(listener.port)/?code=real-code&state=expected")!)
        #expect(try await result == "real-code")
        let second = try await OAuthCallbackListener.start(port: 0)
        do { _ = try await second.waitForCode(expectedState: "s", timeout: .milliseconds(50)); Issue.record("expected timeout") } catch let e as BrokerError {
            #expect(e.isTimeout)
        }
        let third = try await OAuthCallbackListener.start(port: 0)
        async let declined = third.waitForCode(expectedState: "s", timeout: .seconds(20))
        let escape = "%1B%5B31mred%1B%5B0m"
        _ = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(third.port)/?error=access_denied&error_description=\(escape)&state=s")!)
        do { _ = try await declined; Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.isAuthenticationFailure)
            #expect(!e.message.contains("\u{1B}") && e.message.contains("[31mred"), "control characters are removed: \(e.message)")
        }
    }
}

/// Stops at the first redirect (to read its `Location`).
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
