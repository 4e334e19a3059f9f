import Brokers
public import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A loopback TradeStation v3 + Auth0 token server for tests and `schedctl sandbox`.
///
/// Reproduces: form-encoded `/oauth/token` (refresh with optional rotation, `invalid_grant`,
/// authorization codes via `/authorize`), Bearer checks with 401 bodies, numbers as strings,
/// multi-account paths with `Errors[]`, confirm/place/group/replace/cancel, order lifecycles
/// (ACK/OPN → FLL, FPR, CAN, REJ) with cash and positions kept consistent, `nextToken` paging,
/// a quote-snapshot quota (429), and fault switches.
///
/// ```swift
/// let sim = TradeStationSimulator()
/// let port = try await sim.start(port: 0)
/// let config = TradeStationConfiguration(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL)
/// ```
public final class TradeStationSimulator: Sendable {
    /// A one-shot fault applied to the next API request(s).
    public enum Fault: Sendable, Equatable {
        /// Respond with this status and the generic error body.
        case status(Int)
        /// Respond 429 TooManyRequests (with `Retry-After: 1`).
        case throttle
        /// Respond 429 TooManyRequests with this `Retry-After` value, however odd.
        case throttleAsking(String)
        /// Respond 200 with a body that is not JSON.
        case malformed
        /// Respond 401 as if the token had expired.
        case unauthorized
        /// Break the connection in the middle of the response.
        case dropConnection
    }

    /// A one-shot fault for the next order write (place, replace or cancel): how the real API
    /// fails where the outcome matters.
    public enum WriteFault: Sendable, Equatable {
        /// Carry the write out, then close the connection without a byte of answer (the
        /// answer is lost: the client cannot know the order exists).
        case acceptThenDrop
        /// Carry the write out, then answer with this 5xx status.
        case acceptThenStatus(Int)
        /// Answer with this status without carrying the write out.
        case status(Int)
        /// Carry the write out, then answer only after this long (a client gone meanwhile
        /// never learns the outcome).
        case acceptThenDelay(Duration)
    }

    /// How orders fill.
    public enum FillMode: Sendable { case instant, manual }

    struct SimOrder: Sendable {
        var id: String
        var account: String
        var symbol: String
        var side: SimSide
        var quantity: Decimal
        var filled: Decimal = 0
        var fillValue: Decimal = 0
        var orderType: String
        var limit: Decimal?
        var stop: Decimal?
        var duration: String
        var status: String
        var confirmID: String?
        var rejectReason: String?
        var opened: Date
        var closed: Date?
        var group: String?
    }

    struct SimAccount: Sendable {
        var id: String
        var type: String
        var cash: Decimal
        var positions: [String: (qty: Decimal, avg: Decimal)] = [:]
        /// Margin: buying power is cash plus (multiplier − 1) × equity, and cash may go negative
        /// (a margin loan) down to that. 1 = a cash account.
        var marginMultiplier: Decimal = 1
        /// Added to the reported `Equity` (a broker figure that disagrees with the positions).
        var equityAdjustment: Decimal = 0
    }

    struct State: Sendable {
        var clientID = "sim-client"
        var clientSecret = "sim-secret"
        var rotateRefreshTokens = false
        var refreshTokens: Set<String> = []
        var accessTokens: [String: Date] = [:]
        var codes: [String: String] = [:]  // code → redirect_uri
        var challenges: [String: String] = [:]  // code → PKCE S256 challenge
        var accounts: [String: SimAccount] = [:]
        var accountOrder: [String] = []
        var prices: [String: Decimal] = [:]
        var orders: [SimOrder] = []
        var nextOrderID = 900_000_001
        var faults: [Fault] = []
        var tokenFaults: [Fault] = []
        var fillMode: FillMode = .instant
        var rejectNext = 0
        var asyncCancel = false
        var latency: Duration = .zero
        var quoteQuota = 30
        var quoteWindowStart: Date?
        var quoteCount = 0
        var pageTokens: [String: Int] = [:]
        var tokenCounter = 0
        var requestLog: [String] = []
        var tokenRequests = 0
        var placeConfirmIDs: [String] = []
        var confirmCount = 0
        var liquidity: Decimal?
        var halfSpread = Decimal(string: "0.01")!
        var staleSymbols: Set<String> = []
        var quoteOverrides: [String: (bid: Decimal, ask: Decimal)] = [:]
        var writeFaults: [WriteFault] = []
        var neverFill: Set<String> = []
        var replaceIssuesNewID = false
        var lastTradeAge: [String: TimeInterval] = [:]
        var omittedBalanceFields: Set<String> = []
        var orderWrites = 0
    }

    let state = Mutex(State())
    private let server = LoopbackServer()
    private let boundPort = Mutex<Int?>(nil)

    /// Creates a simulator with accounts `SIM1234567M` (Margin, $100,000) and `SIM1234567F`
    /// (Futures, $50,000), prices for a few symbols, and refresh token `sim-refresh-token`.
    public init() {
        state.withLock { s in
            s.accounts["SIM1234567M"] = SimAccount(id: "SIM1234567M", type: "Margin", cash: 100_000)
            s.accounts["SIM1234567F"] = SimAccount(id: "SIM1234567F", type: "Futures", cash: 50_000)
            s.accountOrder = ["SIM1234567M", "SIM1234567F"]
            s.prices = [
                "MSFT": Decimal(string: "412.50")!, "SPY": Decimal(string: "500.00")!, "BND": Decimal(string: "72.10")!,
                "VTI": Decimal(string: "250.00")!, "AAPL": Decimal(string: "190.25")!,
            ]
            s.refreshTokens = ["sim-refresh-token"]
        }
    }

    // MARK: Lifecycle

    /// Starts on 127.0.0.1:`port` (0 = a free port); returns the bound port.
    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let p = try await server.start { onRunning in
            Application(router: self.router(), configuration: appConfiguration(port: port), onServerRunning: onRunning, logger: simulatorLogger())
        }
        boundPort.withLock { $0 = p }
        return p
    }

    /// Stops the server.
    public func stop() async { await server.stop() }

    /// `http://127.0.0.1:PORT/v3`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(boundPort.withLock { $0 } ?? 0)/v3")! }
    /// `http://127.0.0.1:PORT` (token and authorize endpoints).
    public var authURL: URL { URL(string: "http://127.0.0.1:\(boundPort.withLock { $0 } ?? 0)")! }

    // MARK: Controls (tests, sandbox)

    /// Client credentials the token endpoint accepts.
    public func setClient(id: String, secret: String) {
        state.withLock {
            $0.clientID = id; $0.clientSecret = secret
        }
    }
    /// Adds a valid refresh token.
    public func addRefreshToken(_ token: String) { _ = state.withLock { $0.refreshTokens.insert(token) } }
    /// Revokes every refresh token (next refresh gets `invalid_grant`).
    public func revokeRefreshTokens() { state.withLock { $0.refreshTokens.removeAll() } }
    /// Whether refresh responses carry a new refresh token (which replaces the old one).
    public func setRotateRefreshTokens(_ on: Bool) { state.withLock { $0.rotateRefreshTokens = on } }
    /// The currently valid refresh tokens.
    public var validRefreshTokens: Set<String> { state.withLock { $0.refreshTokens } }
    /// Makes every issued access token invalid (the next API call gets 401).
    public func expireAccessTokens() { state.withLock { $0.accessTokens.removeAll() } }
    /// Number of `/oauth/token` requests served.
    public var tokenRequestCount: Int { state.withLock { $0.tokenRequests } }
    /// Queues one-shot faults for the next API requests.
    public func enqueueFaults(_ faults: Fault...) { state.withLock { $0.faults += faults } }
    /// Queues one-shot faults for the next token requests.
    public func enqueueTokenFaults(_ faults: Fault...) { state.withLock { $0.tokenFaults += faults } }
    /// Delay added to every response.
    public func setLatency(_ d: Duration) { state.withLock { $0.latency = d } }
    /// Quote snapshot quota per minute (TradeStation: 30).
    public func setQuoteQuota(_ n: Int) {
        state.withLock {
            $0.quoteQuota = n; $0.quoteCount = 0; $0.quoteWindowStart = nil
        }
    }
    /// Instant fills (like SIM) or manual (orders stay open until ``fill(orderID:quantity:price:)``).
    public func setFillMode(_ m: FillMode) { state.withLock { $0.fillMode = m } }
    /// Cancellation like the real API: DELETE moves the order to `UCN` (cancel sent) and the next
    /// read shows `CAN` (or `FLP` when partly filled). Off by default (immediate).
    public func setAsyncCancel(_ on: Bool) { state.withLock { $0.asyncCancel = on } }
    /// The next `n` accepted orders end up `REJ` with a reject reason.
    public func rejectNextOrders(_ n: Int) { state.withLock { $0.rejectNext = n } }
    /// Sets a price; working limit/stop orders that cross fill (in instant mode).
    public func setPrice(_ symbol: String, _ price: Decimal) {
        state.withLock { s in
            s.prices[symbol.uppercased()] = price
            if s.fillMode == .instant { Self.matchAll(&s) }
        }
    }
    /// Adds or replaces an account.
    public func setAccount(_ id: String, type: String = "Margin", cash: Decimal) {
        state.withLock { s in
            if s.accounts[id] == nil { s.accountOrder.append(id) }
            s.accounts[id] = SimAccount(id: id, type: type, cash: cash)
        }
    }
    /// Sets a position directly.
    public func setPosition(account: String, symbol: String, quantity: Decimal, averagePrice: Decimal) {
        state.withLock { $0.accounts[account]?.positions[symbol.uppercased()] = (quantity, averagePrice) }
    }
    /// Cash of an account.
    public func cash(account: String) -> Decimal? { state.withLock { $0.accounts[account]?.cash } }
    /// Position quantity.
    public func positionQuantity(account: String, symbol: String) -> Decimal { state.withLock { $0.accounts[account]?.positions[symbol]?.qty ?? 0 } }
    /// Status code of an order (`OPN`, `FLL`, …).
    public func orderStatus(_ id: String) -> String? { state.withLock { s in s.orders.first { $0.id == id }?.status } }
    /// Number of orders the simulator holds.
    public var orderCount: Int { state.withLock { $0.orders.count } }
    /// Paths of API requests received, in order.
    public var requestLog: [String] { state.withLock { $0.requestLog } }

    /// The `OrderConfirmID` of every order placement received (accepted or not), in order: a
    /// confirm id appearing twice means a client sent the same order twice.
    public var placedConfirmIDs: [String] { state.withLock { $0.placeConfirmIDs } }
    /// Number of `orderconfirm` / `ordergroupconfirm` requests served.
    public var confirmRequestCount: Int { state.withLock { $0.confirmCount } }
    /// Orders placed so far as (id, symbol, side, quantity, filled, limit, status), oldest first.
    public var orderSummaries: [(id: String, symbol: String, buy: Bool, quantity: Decimal, filled: Decimal, limit: Decimal?, status: String)] {
        state.withLock { s in s.orders.map { ($0.id, $0.symbol, $0.side == .buy, $0.quantity, $0.filled, $0.limit, $0.status) } }
    }
    /// At most `shares` of a crossing order fill per match (nil: all); the rest stays `FPR`.
    public func setLiquidity(_ shares: Decimal?) { state.withLock { $0.liquidity = shares } }
    /// Half the bid/ask spread quoted around each price (default 0.01).
    public func setHalfSpread(_ d: Decimal) { state.withLock { $0.halfSpread = d } }
    /// Quotes of `symbol` carry a `TradeTime` an hour old and `IsDelayed` (a stale quote).
    public func setQuoteStale(_ symbol: String, _ stale: Bool = true) {
        state.withLock { s in if stale { s.staleSymbols.insert(symbol.uppercased()) } else { s.staleSymbols.remove(symbol.uppercased()) } }
    }
    /// Quotes `symbol` with this bid and ask (zero or crossed ones too), regardless of its price.
    public func setQuote(_ symbol: String, bid: Decimal, ask: Decimal) { state.withLock { $0.quoteOverrides[symbol.uppercased()] = (bid, ask) } }
    /// Queues one-shot faults for the next order writes (place, replace, cancel) only.
    public func enqueueWriteFaults(_ faults: WriteFault...) { state.withLock { $0.writeFaults += faults } }
    /// Makes `account` a margin account: `BuyingPower` = cash + (multiplier − 1) × equity, and
    /// buys may borrow (cash below zero) up to that.
    public func setMargin(account: String, multiplier: Decimal) { state.withLock { $0.accounts[account]?.marginMultiplier = multiplier } }
    /// Adds `adjustment` to the `Equity` the balances report (a figure off from the positions).
    public func setEquityAdjustment(account: String, _ adjustment: Decimal) { state.withLock { $0.accounts[account]?.equityAdjustment = adjustment } }
    /// Leaves these fields (`Equity`, `CashBalance`, `BuyingPower`) out of balance answers.
    public func omitBalanceFields(_ fields: Set<String>) { state.withLock { $0.omittedBalanceFields = fields } }
    /// Orders in `symbol` never fill, however they are priced (a market that never trades there).
    public func setNeverFill(_ symbol: String, _ on: Bool = true) {
        state.withLock { s in if on { s.neverFill.insert(symbol.uppercased()) } else { s.neverFill.remove(symbol.uppercased()) } }
    }
    /// A replace issues a new `OrderID` (answered in the replace response) and ends the old order
    /// `UCH` Replaced, instead of keeping the id.
    public func setReplaceIssuesNewOrderID(_ on: Bool) { state.withLock { $0.replaceIssuesNewID = on } }
    /// Quotes of `symbol` carry a `TradeTime` this old while bid and ask stay live (a thinly
    /// traded ETF).
    public func setLastTradeAge(_ symbol: String, seconds: TimeInterval) { state.withLock { $0.lastTradeAge[symbol.uppercased()] = seconds } }
    /// An order working at the broker before any run (a manual order, a leftover): returns its id.
    @discardableResult
    public func addWorkingOrder(account: String, symbol: String, buy: Bool, quantity: Decimal, limit: Decimal) -> String {
        state.withLock { s in
            let id = String(s.nextOrderID)
            s.nextOrderID += 1
            s.orders.append(
                SimOrder(
                    id: id, account: account, symbol: symbol.uppercased(), side: buy ? .buy : .sell, quantity: quantity, orderType: "Limit",
                    limit: limit, stop: nil, duration: "DAY", status: "OPN", confirmID: nil, opened: Date().addingTimeInterval(-3600), group: nil))
            return id
        }
    }
    /// Number of order writes (place, group, replace, cancel requests) that reached the server,
    /// whatever their body: a client that re-sends a write shows here.
    public var orderWriteCount: Int { state.withLock { $0.orderWrites } }
    /// Orders that are still working (not final), as ids.
    public var workingOrderIDs: [String] { state.withLock { s in s.orders.filter { Self.isOpen($0.status) || $0.status == "UCN" }.map(\.id) } }

    /// Total value (cash plus positions at current prices) of an account.
    public func equity(account: String) -> Decimal? {
        state.withLock { s in
            s.accounts[account].map { a in a.cash + a.positions.reduce(Decimal(0)) { $0 + $1.value.qty * (s.prices[$1.key] ?? $1.value.avg) } }
        }
    }
    /// Current price of `symbol`.
    public func price(_ symbol: String) -> Decimal? { state.withLock { $0.prices[symbol.uppercased()] } }

    /// Fills `quantity` (default: the rest) of a working order at `price` (default: current price).
    /// A partial fill leaves the order `FPR`. Returns false when the order cannot fill (not working,
    /// no cash, no shares).
    @discardableResult
    public func fill(orderID: String, quantity: Decimal? = nil, price: Decimal? = nil) -> Bool {
        state.withLock { s in
            guard let i = s.orders.firstIndex(where: { $0.id == orderID }), Self.isOpen(s.orders[i].status), !s.neverFill.contains(s.orders[i].symbol) else {
                return false
            }
            let o = s.orders[i]
            let q = min(quantity ?? (o.quantity - o.filled), o.quantity - o.filled)
            guard q > 0, let p = price ?? s.prices[o.symbol] else { return false }
            return Self.execute(&s, i, q, p)
        }
    }

    // MARK: Matching

    static func isOpen(_ status: String) -> Bool { ["ACK", "OPN", "FPR", "DON"].contains(status) }

    static func execute(_ s: inout State, _ i: Int, _ q: Decimal, _ p: Decimal) -> Bool {
        let o = s.orders[i]
        guard var acct = s.accounts[o.account] else { return false }
        let value = q * p
        if o.side == .buy {
            guard acct.cash + (acct.marginMultiplier - 1) * equityOf(s, acct) >= value else {
                s.orders[i].status = "REJ"; s.orders[i].rejectReason = "Insufficient buying power"; s.orders[i].closed = Date()
                return false
            }
            acct.cash -= value
            let cur = acct.positions[o.symbol] ?? (0, 0)
            let nq = cur.qty + q
            acct.positions[o.symbol] = (nq, ((cur.qty * cur.avg + value) / nq).rounded(scale: 4))
        } else {
            let cur = acct.positions[o.symbol] ?? (0, 0)
            guard cur.qty >= q else {
                s.orders[i].status = "REJ"; s.orders[i].rejectReason = "Insufficient shares"; s.orders[i].closed = Date()
                return false
            }
            acct.cash += value
            acct.positions[o.symbol] = cur.qty - q == 0 ? nil : (cur.qty - q, cur.avg)
        }
        s.accounts[o.account] = acct
        s.orders[i].filled += q
        s.orders[i].fillValue += value
        if s.orders[i].filled == o.quantity {
            s.orders[i].status = "FLL"
            s.orders[i].closed = Date()
        } else {
            s.orders[i].status = "FPR"
        }
        return true
    }

    static func equityOf(_ s: State, _ a: SimAccount) -> Decimal {
        a.cash + a.positions.reduce(Decimal(0)) { $0 + $1.value.qty * (s.prices[$1.key] ?? $1.value.avg) }
    }

    static func buyingPower(_ s: State, _ a: SimAccount) -> Decimal {
        a.marginMultiplier > 1 ? max(0, a.cash + (a.marginMultiplier - 1) * equityOf(s, a)) : a.cash
    }

    static func matchAll(_ s: inout State) {
        for i in s.orders.indices where isOpen(s.orders[i].status) {
            let o = s.orders[i]
            if s.neverFill.contains(o.symbol) {
                if o.status == "ACK" { s.orders[i].status = "OPN" }
                continue
            }
            guard let p = s.prices[o.symbol] else { continue }
            let marketable: Bool
            switch o.orderType {
            case "Market": marketable = true
            case "Limit": marketable = o.side == .buy ? p <= (o.limit ?? 0) : p >= (o.limit ?? .greatestFiniteMagnitude)
            case "StopMarket": marketable = o.side == .buy ? p >= (o.stop ?? 0) : p <= (o.stop ?? 0)
            default:
                let trig = o.side == .buy ? p >= (o.stop ?? 0) : p <= (o.stop ?? 0)
                marketable = trig && (o.side == .buy ? p <= (o.limit ?? 0) : p >= (o.limit ?? 0))
            }
            if marketable {
                _ = execute(&s, i, min(o.quantity - o.filled, s.liquidity ?? .greatestFiniteMagnitude), p)
            } else if o.status == "ACK" {
                s.orders[i].status = "OPN"
            }
        }
    }

    // MARK: HTTP

    private func router() -> Router<SimRequestContext> {
        let router = Router(context: SimRequestContext.self)
        router.get("authorize") { request, _ in self.authorize(request) }
        router.post("oauth/token") { request, _ in
            var r = request
            return await self.token(try await r.bodyData())
        }
        router.get("v3/brokerage/accounts") { request, _ in
            await self.api(request) { s in
                .init(
                    .ok,
                    [
                        "Accounts": s.accountOrder.compactMap { s.accounts[$0] }.map {
                            ["AccountID": $0.id, "AccountType": $0.type, "Currency": "USD", "Status": "Active"] as [String: Any]
                        }
                    ])
            }
        }
        router.get("v3/brokerage/accounts/:accounts/balances") { request, context in
            let ids = Self.split(context.parameters.get("accounts") ?? "")
            return await self.api(request) { s in
                var balances: [[String: Any]] = [], errors: [[String: Any]] = []
                for id in ids {
                    guard let a = s.accounts[id] else { errors.append(Self.accountError(id)); continue }
                    let mv = a.positions.reduce(Decimal(0)) { $0 + $1.value.qty * (s.prices[$1.key] ?? $1.value.avg) }
                    var b: [String: Any] = [
                        "AccountID": id, "AccountType": a.type, "CashBalance": a.cash.plainString,
                        "BuyingPower": Self.buyingPower(s, a).plainString, "Equity": (a.cash + mv + a.equityAdjustment).plainString,
                        "MarketValue": mv.plainString, "TodaysProfitLoss": "0", "UnclearedDeposit": "0", "Commission": "0",
                        "BalanceDetail": ["RealizedProfitLoss": "0"],
                    ]
                    for field in s.omittedBalanceFields { b[field] = nil }
                    balances.append(b)
                }
                return .init(.ok, errors.isEmpty ? ["Balances": balances] : ["Balances": balances, "Errors": errors])
            }
        }
        router.get("v3/brokerage/accounts/:accounts/positions") { request, context in
            let ids = Self.split(context.parameters.get("accounts") ?? "")
            return await self.api(request) { s in
                var positions: [[String: Any]] = [], errors: [[String: Any]] = []
                for id in ids {
                    guard let a = s.accounts[id] else { errors.append(Self.accountError(id)); continue }
                    for (sym, p) in a.positions.sorted(by: { $0.key < $1.key }) {
                        let last = s.prices[sym] ?? p.avg
                        positions.append([
                            "AccountID": id, "Symbol": sym, "Quantity": p.qty.plainString, "AveragePrice": p.avg.plainString,
                            "AssetType": "STOCK", "LongShort": p.qty < 0 ? "Short" : "Long", "Last": last.plainString,
                            "Bid": last.plainString, "Ask": last.plainString, "MarketValue": (p.qty * last).plainString,
                            "TotalCost": (p.qty * p.avg).plainString, "Timestamp": "2026-01-02T15:00:00Z",
                        ])
                    }
                }
                return .init(.ok, errors.isEmpty ? ["Positions": positions] : ["Positions": positions, "Errors": errors])
            }
        }
        router.get("v3/brokerage/accounts/:accounts/orders") { request, context in
            let ids = Self.split(context.parameters.get("accounts") ?? "")
            return await self.api(request) { s in self.orderList(&s, request, ids, historical: false) }
        }
        router.get("v3/brokerage/accounts/:accounts/historicalorders") { request, context in
            let ids = Self.split(context.parameters.get("accounts") ?? "")
            return await self.api(request) { s in
                guard request.uri.queryParameters["since"] != nil else {
                    return .init(.badRequest, ["Error": "BadRequest", "Message": "since is required"])
                }
                return self.orderList(&s, request, ids, historical: true)
            }
        }
        router.get("v3/brokerage/accounts/:accounts/orders/:ids") { request, context in
            let accounts = Set(Self.split(context.parameters.get("accounts") ?? ""))
            let ids = Self.split(context.parameters.get("ids") ?? "")
            return await self.api(request) { s in
                var out: [[String: Any]] = [], errors: [[String: Any]] = []
                defer { Self.settleCancels(&s) }
                for id in ids {
                    if let o = s.orders.first(where: { $0.id == id && accounts.contains($0.account) }) {
                        out.append(Self.wire(o))
                    } else {
                        errors.append(["OrderID": id, "Error": "NotFound", "Message": "Order not found"])
                    }
                }
                return .init(.ok, errors.isEmpty ? ["Orders": out] : ["Orders": out, "Errors": errors])
            }
        }
        router.get("v3/marketdata/quotes/:symbols") { request, context in
            let symbols = Self.split(context.parameters.get("symbols") ?? "")
            return await self.api(request, quote: true) { s in
                guard symbols.count <= 100 else {
                    return .init(.badRequest, ["Error": "BadRequest", "Message": "Too many symbols; the maximum is 100"])
                }
                var quotes: [[String: Any]] = [], errors: [[String: Any]] = []
                for sym in symbols {
                    guard let p = s.prices[sym.uppercased()] else { errors.append(["Symbol": sym, "Error": "FAILED, INVALID SYMBOL"]); continue }
                    let spread = s.halfSpread
                    let stale = s.staleSymbols.contains(sym.uppercased())
                    let override = s.quoteOverrides[sym.uppercased()]
                    quotes.append([
                        "Symbol": sym.uppercased(), "Bid": (override?.bid ?? (p - spread)).plainString,
                        "Ask": (override?.ask ?? (p + spread)).plainString, "Last": p.plainString,
                        "Close": p.plainString, "Volume": "1000",
                        "TradeTime": ISO8601DateFormatter().string(from: Date().addingTimeInterval(stale ? -3600 : -(s.lastTradeAge[sym.uppercased()] ?? 1))),
                        "MarketFlags": ["IsDelayed": stale, "IsHalted": false, "IsBats": false, "IsHardToBorrow": false],
                    ])
                }
                return .init(.ok, errors.isEmpty ? ["Quotes": quotes] : ["Quotes": quotes, "Errors": errors])
            }
        }
        router.post("v3/orderexecution/orderconfirm") { request, _ in
            var r = request
            let body = try await r.bodyData()
            return await self.api(request) { s in
                s.confirmCount += 1
                return self.confirm(&s, [body], group: false)
            }
        }
        router.post("v3/orderexecution/ordergroupconfirm") { request, _ in
            var r = request
            let body = try await r.bodyData()
            return await self.api(request) { s in self.confirm(&s, [body], group: true) }
        }
        router.post("v3/orderexecution/orders") { request, context in
            self.noteWrite()
            var r = request
            let body = try await r.bodyData()
            return try await self.api(request, write: context) { s in self.place(&s, body, group: false) }
        }
        router.post("v3/orderexecution/ordergroups") { request, context in
            self.noteWrite()
            var r = request
            let body = try await r.bodyData()
            return try await self.api(request, write: context) { s in self.place(&s, body, group: true) }
        }
        router.put("v3/orderexecution/orders/:id") { request, context in
            self.noteWrite()
            var r = request
            let body = try await r.bodyData()
            let id = context.parameters.get("id") ?? ""
            return try await self.api(request, write: context) { s in self.replace(&s, id, body) }
        }
        router.delete("v3/orderexecution/orders/:id") { request, context in
            self.noteWrite()
            let id = context.parameters.get("id") ?? ""
            return try await self.api(request, write: context) { s in
                guard let i = s.orders.firstIndex(where: { $0.id == id }) else {
                    return .init(.notFound, ["Error": "NotFound", "Message": "Order \(id) not found"])
                }
                guard Self.isOpen(s.orders[i].status) else {
                    return .init(.badRequest, ["Error": "BadRequest", "Message": "Order \(id) is not open and cannot be canceled"])
                }
                if s.asyncCancel {
                    s.orders[i].status = "UCN"
                } else {
                    s.orders[i].status = s.orders[i].filled > 0 ? "FLP" : "CAN"
                    s.orders[i].closed = Date()
                }
                return .init(.ok, ["OrderID": id, "Message": "Cancel request sent"])
            }
        }
        return router
    }

    struct Reply {
        var status: HTTPResponse.Status
        var object: Any
        init(_ status: HTTPResponse.Status, _ object: Any) { self.status = status; self.object = object }
    }

    static func split(_ s: String) -> [String] {
        (s.removingPercentEncoding ?? s).split(separator: ",").map { String($0) }
    }

    static func accountError(_ id: String) -> [String: Any] {
        ["AccountID": id, "Error": "Forbidden", "Message": "Request not supported for account type."]
    }

    /// Counts an order write as it arrives, before its body is read (a re-sent request whose body
    /// never comes still counts).
    private func noteWrite() { state.withLock { $0.orderWrites += 1 } }

    /// An order write: ``api(_:quote:_:)`` with the next write fault applied.
    private func api(_ request: Request, write context: SimRequestContext, _ body: (inout State) -> Reply) async throws -> Response {
        let fault = state.withLock { s -> WriteFault? in s.writeFaults.isEmpty ? nil : s.writeFaults.removeFirst() }
        switch fault {
        case nil:
            return await api(request, body)
        case .status(let code):
            state.withLock { $0.requestLog.append("\(request.method) \(request.uri.path)") }
            return jsonResponse(.init(code: code), ["Error": code >= 500 ? "InternalServerError" : "BadRequest", "Message": "Simulated failure"])
        case .acceptThenStatus(let code):
            _ = await api(request, body)
            return jsonResponse(.init(code: code), ["Error": "InternalServerError", "Message": "Simulated failure after the write"])
        case .acceptThenDelay(let delay):
            let response = await api(request, body)
            try? await Task.sleep(for: delay)
            return response
        case .acceptThenDrop:
            _ = await api(request, body)
            // The write is done; the connection closes before a byte of the answer is sent.
            try await context.channel.close()
            throw SimulatedDrop()
        }
    }

    /// Applies latency, auth, faults and quotas, then runs `body` under the state lock.
    private func api(_ request: Request, quote: Bool = false, _ body: (inout State) -> Reply) async -> Response {
        let latency = state.withLock { $0.latency }
        if latency > .zero { try? await Task.sleep(for: latency) }
        let token = request.bearerToken()
        let pre: Response? = state.withLock { s in
            s.requestLog.append("\(request.method) \(request.uri.path)")
            guard let token, let exp = s.accessTokens[token], exp > Date() else {
                return jsonResponse(.unauthorized, ["Error": "Unauthorized", "Message": "Invalid or expired access token"])
            }
            if !s.faults.isEmpty {
                switch s.faults.removeFirst() {
                case .status(let code):
                    let errName = code >= 500 ? "InternalServerError" : "BadRequest"
                    return jsonResponse(.init(code: code), ["Error": errName, "Message": "Simulated failure"])
                case .throttle:
                    var h = HTTPFields(); h[HTTPField.Name("Retry-After")!] = "1"
                    return jsonResponse(.tooManyRequests, ["Error": "TooManyRequests", "Message": "Quota exceeded"], headers: h)
                case .throttleAsking(let value):
                    var h = HTTPFields(); h[HTTPField.Name("Retry-After")!] = value
                    return jsonResponse(.tooManyRequests, ["Error": "TooManyRequests", "Message": "Quota exceeded"], headers: h)
                case .malformed:
                    return rawResponse(.ok, "{\"Orders\": [ this is not json")
                case .unauthorized:
                    return jsonResponse(.unauthorized, ["Error": "Unauthorized", "Message": "Access token expired"])
                case .dropConnection:
                    return droppedConnectionResponse()
                }
            }
            if quote {
                let now = Date()
                if let start = s.quoteWindowStart, now.timeIntervalSince(start) < 60 {
                    s.quoteCount += 1
                } else {
                    s.quoteWindowStart = now
                    s.quoteCount = 1
                }
                if s.quoteCount > s.quoteQuota {
                    var h = HTTPFields(); h[HTTPField.Name("Retry-After")!] = "1"
                    return jsonResponse(.tooManyRequests, ["Error": "TooManyRequests", "Message": "Quote Snapshot quota exceeded"], headers: h)
                }
            }
            return nil
        }
        if let pre { return pre }
        let reply = state.withLock { body(&$0) }
        return jsonResponse(reply.status, reply.object)
    }

    private func authorize(_ request: Request) -> Response {
        let q = request.uri.queryParameters
        guard let redirect = q["redirect_uri"].map(String.init), let clientID = q["client_id"].map(String.init) else {
            return jsonResponse(.badRequest, ["error": "invalid_request", "error_description": "missing redirect_uri or client_id"])
        }
        let state = q["state"].map(String.init) ?? ""
        let ok = self.state.withLock { $0.clientID == clientID }
        var c = URLComponents(string: redirect)!
        if ok {
            let code = "code-\(UUID().uuidString.prefix(12))"
            let challenge = q["code_challenge_method"] == "S256" ? q["code_challenge"].map(String.init) : nil
            self.state.withLock {
                $0.codes[code] = redirect
                $0.challenges[code] = challenge
            }
            c.queryItems = [URLQueryItem(name: "code", value: code), URLQueryItem(name: "state", value: state)]
        } else {
            c.queryItems = [URLQueryItem(name: "error", value: "access_denied"), URLQueryItem(name: "state", value: state)]
        }
        var h = HTTPFields()
        h[.location] = c.url!.absoluteString
        return Response(status: .found, headers: h)
    }

    private func token(_ body: Data) async -> Response {
        let latency = state.withLock { $0.latency }
        if latency > .zero { try? await Task.sleep(for: latency) }
        let form = formDecode(body)
        return state.withLock { s -> Response in
            s.tokenRequests += 1
            if !s.tokenFaults.isEmpty {
                switch s.tokenFaults.removeFirst() {
                case .status(let code): return jsonResponse(.init(code: code), ["error": "server_error", "error_description": "Simulated failure"])
                case .throttle, .throttleAsking: return jsonResponse(.tooManyRequests, ["error": "too_many_requests", "error_description": "slow down"])
                case .malformed: return rawResponse(.ok, "<html>not json</html>", contentType: "text/html")
                case .unauthorized: return jsonResponse(.unauthorized, ["error": "invalid_client", "error_description": "Unauthorized"])
                case .dropConnection: return droppedConnectionResponse()
                }
            }
            guard form["client_id"] == s.clientID, form["client_secret"] == s.clientSecret else {
                return jsonResponse(.unauthorized, ["error": "invalid_client", "error_description": "Unknown client or wrong secret"])
            }
            s.tokenCounter += 1
            let access = "sim-access-\(s.tokenCounter)-\(UUID().uuidString.prefix(8))"
            switch form["grant_type"] {
            case "refresh_token":
                guard let rt = form["refresh_token"], s.refreshTokens.contains(rt) else {
                    return jsonResponse(.forbidden, ["error": "invalid_grant", "error_description": "Unknown or invalid refresh token."])
                }
                s.accessTokens[access] = Date().addingTimeInterval(1200)
                var out: [String: Any] = [
                    "access_token": access, "expires_in": 1200, "token_type": "Bearer",
                    "scope": "openid profile MarketData ReadAccount Trade offline_access", "id_token": "sim-id-token",
                ]
                if s.rotateRefreshTokens {
                    let next = "sim-refresh-\(s.tokenCounter)"
                    s.refreshTokens.remove(rt)
                    s.refreshTokens.insert(next)
                    out["refresh_token"] = next
                }
                return jsonResponse(.ok, out)
            case "authorization_code":
                guard let code = form["code"], let redirect = s.codes.removeValue(forKey: code), redirect == form["redirect_uri"] else {
                    return jsonResponse(.forbidden, ["error": "invalid_grant", "error_description": "Invalid authorization code"])
                }
                if let challenge = s.challenges.removeValue(forKey: code),
                    form["code_verifier"].map(TradeStationAuth.PKCE.challenge(for:)) != challenge
                {
                    return jsonResponse(.forbidden, ["error": "invalid_grant", "error_description": "Failed to verify code verifier"])
                }
                let rt = "sim-refresh-code-\(s.tokenCounter)"
                s.refreshTokens.insert(rt)
                s.accessTokens[access] = Date().addingTimeInterval(1200)
                return jsonResponse(
                    .ok,
                    [
                        "access_token": access, "refresh_token": rt, "expires_in": 1200, "token_type": "Bearer",
                        "scope": "openid profile MarketData ReadAccount Trade offline_access", "id_token": "sim-id-token",
                    ])
            default:
                return jsonResponse(
                    .badRequest, ["error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token or authorization_code"])
            }
        }
    }

    /// Completes pending cancels (`UCN` → `CAN`/`FLP`) and, in instant mode, lets resting orders
    /// that now cross fill (the market moved); called before every order read.
    static func settleCancels(_ s: inout State) {
        if s.fillMode == .instant { matchAll(&s) }
        for i in s.orders.indices where s.orders[i].status == "UCN" {
            s.orders[i].status = s.orders[i].filled > 0 ? "FLP" : "CAN"
            s.orders[i].closed = Date()
        }
    }

    private func orderList(_ s: inout State, _ request: Request, _ ids: [String], historical: Bool) -> Reply {
        defer { Self.settleCancels(&s) }
        var errors: [[String: Any]] = []
        for id in ids where s.accounts[id] == nil { errors.append(Self.accountError(id)) }
        let selected = s.orders.filter { ids.contains($0.account) && (!historical || $0.closed != nil) }.reversed().map { $0 }
        let q = request.uri.queryParameters
        var start = 0
        if let token = q["nextToken"].map(String.init) {
            guard let offset = s.pageTokens.removeValue(forKey: token) else {
                return .init(.badRequest, ["Error": "BadRequest", "Message": "Invalid or expired nextToken"])
            }
            start = offset
        }
        let size = q["pageSize"].flatMap { Int(String($0)) } ?? 600
        guard (1...600).contains(size) else { return .init(.badRequest, ["Error": "BadRequest", "Message": "pageSize must be 1–600"]) }
        let page = Array(selected.dropFirst(start).prefix(size))
        var out: [String: Any] = ["Orders": page.map(Self.wire)]
        if start + size < selected.count {
            let token = UUID().uuidString
            s.pageTokens[token] = start + size
            out["NextToken"] = token
        }
        if !errors.isEmpty { out["Errors"] = errors }
        return .init(.ok, out)
    }

    static func wire(_ o: SimOrder) -> [String: Any] {
        let f = ISO8601DateFormatter()
        var d: [String: Any] = [
            "AccountID": o.account, "OrderID": o.id, "Status": o.status, "StatusDescription": statusDescription(o.status),
            "OrderType": o.orderType, "Duration": o.duration, "OpenedDateTime": f.string(from: o.opened), "Currency": "USD",
            "CommissionFee": "0", "Routing": "Intelligent",
            "FilledPrice": o.filled > 0 ? (o.fillValue / o.filled).rounded(scale: 4).plainString : "0",
            "Legs": [
                [
                    "AssetType": "STOCK", "BuyOrSell": o.side == .buy ? "Buy" : "Sell", "Symbol": o.symbol, "OpenOrClose": o.side == .buy ? "Open" : "Close",
                    "QuantityOrdered": o.quantity.plainString, "ExecQuantity": o.filled.plainString, "QuantityRemaining": (o.quantity - o.filled).plainString,
                    "ExecutionPrice": o.filled > 0 ? (o.fillValue / o.filled).rounded(scale: 4).plainString : "0",
                ]
            ],
        ]
        if let l = o.limit { d["LimitPrice"] = l.plainString }
        if let st = o.stop { d["StopPrice"] = st.plainString }
        if let c = o.closed { d["ClosedDateTime"] = f.string(from: c) }
        if let r = o.rejectReason { d["RejectReason"] = r }
        if let g = o.group { d["GroupName"] = g }
        return d
    }

    static func statusDescription(_ code: String) -> String {
        [
            "ACK": "Received", "OPN": "Sent", "FLL": "Filled", "FPR": "Partial Fill (Alive)", "CAN": "Canceled", "REJ": "Rejected", "UCH": "Replaced",
            "UCN": "Cancel Sent", "FLP": "Partial Fill (UROut)",
        ][code] ?? code
    }

    struct SimError: Error {
        var message: String
        init(_ m: String) { message = m }
    }

    struct ParsedOrder {
        var account: String, symbol: String, side: SimSide, quantity: Decimal, orderType: String
        var limit: Decimal?, stop: Decimal?, duration: String, confirmID: String?
    }

    /// Parses an OrderRequest object; returns an error message for a 400.
    static func parseOrder(_ o: [String: Any]) -> Result<ParsedOrder, SimError> {
        guard let account = o["AccountID"] as? String, let symbol = o["Symbol"] as? String, let qtyText = o["Quantity"] as? String,
            let type = o["OrderType"] as? String, let action = o["TradeAction"] as? String,
            let tif = o["TimeInForce"] as? [String: Any], let duration = tif["Duration"] as? String
        else { return .failure(SimError("AccountID, Symbol, Quantity, OrderType, TradeAction and TimeInForce.Duration are required")) }
        guard let qty = Decimal(exactly: qtyText), qty > 0 else { return .failure(SimError("Quantity must be a positive number string")) }
        guard ["Market", "Limit", "StopMarket", "StopLimit"].contains(type) else { return .failure(SimError("OrderType \(type) is invalid")) }
        let side: SimSide
        switch action.uppercased() {
        case "BUY", "BUYTOCOVER", "BUYTOOPEN", "BUYTOCLOSE": side = .buy
        case "SELL", "SELLSHORT", "SELLTOOPEN", "SELLTOCLOSE": side = .sell
        default: return .failure(SimError("TradeAction \(action) is invalid"))
        }
        let limit = (o["LimitPrice"] as? String).flatMap { Decimal(exactly: $0) }
        let stop = (o["StopPrice"] as? String).flatMap { Decimal(exactly: $0) }
        if (type == "Limit" || type == "StopLimit") && limit == nil { return .failure(SimError("LimitPrice is required for \(type)")) }
        if (type == "StopMarket" || type == "StopLimit") && stop == nil { return .failure(SimError("StopPrice is required for \(type)")) }
        let confirm = o["OrderConfirmID"] as? String
        if let c = confirm, c.isEmpty || c.count > 22 { return .failure(SimError("OrderConfirmID must be 1-22 characters")) }
        return .success(
            ParsedOrder(
                account: account, symbol: symbol.uppercased(), side: side, quantity: qty, orderType: type,
                limit: limit, stop: stop, duration: duration, confirmID: confirm))
    }

    private func requests(_ body: Data, group: Bool) -> Result<([[String: Any]], String?), SimError> {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return .failure(SimError("Body is not a JSON object")) }
        if group {
            guard let type = json["Type"] as? String, ["NORMAL", "OCO", "BRK"].contains(type), let orders = json["Orders"] as? [[String: Any]], !orders.isEmpty
            else {
                return .failure(SimError("Type (NORMAL, OCO, BRK) and Orders are required"))
            }
            return .success((orders, type))
        }
        return .success(([json], nil))
    }

    private func confirm(_ s: inout State, _ bodies: [Data], group: Bool) -> Reply {
        guard case .success(let (orders, _)) = requests(bodies[0], group: group) else {
            return .init(.badRequest, ["Error": "BadRequest", "Message": "Invalid order request"])
        }
        var confirmations: [[String: Any]] = []
        for raw in orders {
            switch Self.parseOrder(raw) {
            case .failure(let m): return .init(.badRequest, ["Error": "BadRequest", "Message": m.message])
            case .success(let o):
                let price: Decimal = o.limit ?? s.prices[o.symbol] ?? 0
                let cost: String = (price * o.quantity).plainString
                let verb: String = o.side == .buy ? "Buy" : "Sell"
                let at: String = o.limit?.plainString ?? "Market"
                var c: [String: Any] = ["AccountID": o.account, "Route": "Intelligent", "OrderAssetCategory": "EQUITY", "Currency": "USD"]
                c["TimeInForce"] = ["Duration": o.duration]
                c["OrderConfirmID"] = o.confirmID ?? ""
                c["EstimatedPrice"] = price.plainString
                c["EstimatedCost"] = cost
                c["DebitCreditEstimatedCost"] = cost
                c["EstimatedCommission"] = "0"
                c["SummaryMessage"] = "\(verb) \(o.quantity.plainString) \(o.symbol) @ \(at)"
                confirmations.append(c)
            }
        }
        return .init(.ok, ["Confirmations": confirmations])
    }

    private func place(_ s: inout State, _ body: Data, group: Bool) -> Reply {
        let parsed: ([[String: Any]], String?)
        switch requests(body, group: group) {
        case .failure(let m): return .init(.badRequest, ["Error": "BadRequest", "Message": m.message])
        case .success(let p): parsed = p
        }
        var placed: [[String: Any]] = [], errors: [[String: Any]] = []
        let groupName = parsed.1.map { "\($0) \(s.nextOrderID)" }
        for raw in parsed.0 {
            let o: ParsedOrder
            switch Self.parseOrder(raw) {
            case .failure(let m): return .init(.badRequest, ["Error": "BadRequest", "Message": m.message])
            case .success(let p): o = p
            }
            let id = String(s.nextOrderID)
            s.nextOrderID += 1
            func fail(_ reason: String) { errors.append(["OrderID": id, "Error": "FAILED", "Message": "Order failed. Reason: \(reason)"]) }
            if let c = o.confirmID { s.placeConfirmIDs.append(c) }
            guard let acct = s.accounts[o.account] else { fail("Account \(o.account) is not valid for this user"); continue }
            if let c = o.confirmID, s.orders.contains(where: { $0.confirmID == c }) { fail("Duplicate OrderConfirmID \(c)"); continue }
            guard let price = s.prices[o.symbol] else { fail("Invalid symbol \(o.symbol)"); continue }
            if o.side == .buy {
                let reserved = s.orders.filter { $0.account == o.account && Self.isOpen($0.status) && $0.side == .buy }
                    .reduce(Decimal(0)) { $0 + ($1.quantity - $1.filled) * ($1.limit ?? s.prices[$1.symbol] ?? 0) }
                if (o.limit ?? price) * o.quantity > Self.buyingPower(s, acct) - reserved { fail("Insufficient buying power"); continue }
            } else if (acct.positions[o.symbol]?.qty ?? 0) < o.quantity {
                fail("Short selling is not enabled in the simulator; position too small"); continue
            }
            var order = SimOrder(
                id: id, account: o.account, symbol: o.symbol, side: o.side, quantity: o.quantity, orderType: o.orderType,
                limit: o.limit, stop: o.stop, duration: o.duration, status: "ACK", confirmID: o.confirmID, opened: Date(), group: groupName)
            if s.rejectNext > 0 {
                s.rejectNext -= 1
                order.status = "REJ"
                order.rejectReason = "Simulated rejection by the exchange"
                order.closed = Date()
            }
            s.orders.append(order)
            let verb = o.side == .buy ? "Buy" : "Sell"
            placed.append(["OrderID": id, "Message": "Sent order: \(verb) \(o.quantity.plainString) \(o.symbol) @ \(o.limit?.plainString ?? "Market")"])
        }
        if s.fillMode == .instant { Self.matchAll(&s) }
        var out: [String: Any] = ["Orders": placed]
        if !errors.isEmpty { out["Errors"] = errors }
        return .init(.ok, out)
    }

    private func replace(_ s: inout State, _ id: String, _ body: Data) -> Reply {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return .init(.badRequest, ["Error": "BadRequest", "Message": "Body is not a JSON object"])
        }
        guard let i = s.orders.firstIndex(where: { $0.id == id }) else {
            return .init(.notFound, ["Error": "NotFound", "Message": "Order \(id) not found"])
        }
        guard Self.isOpen(s.orders[i].status) else {
            return .init(
                .badRequest, ["Error": "BadRequest", "Message": "Order \(id) is \(Self.statusDescription(s.orders[i].status)) and cannot be replaced"])
        }
        let originalQuantity = s.orders[i].quantity
        let originalLimit = s.orders[i].limit
        if let q = (json["Quantity"] as? String).flatMap({ Decimal(exactly: $0) }) {
            guard q >= s.orders[i].filled, q > 0 else { return .init(.badRequest, ["Error": "BadRequest", "Message": "Quantity below filled quantity"]) }
            s.orders[i].quantity = q
        }
        if let l = (json["LimitPrice"] as? String).flatMap({ Decimal(exactly: $0) }) { s.orders[i].limit = l }
        if let st = (json["StopPrice"] as? String).flatMap({ Decimal(exactly: $0) }) { s.orders[i].stop = st }
        if let t = json["OrderType"] as? String {
            guard t == "Market" else { return .init(.badRequest, ["Error": "BadRequest", "Message": "OrderType can only be changed to Market"]) }
            s.orders[i].orderType = "Market"
            s.orders[i].limit = nil
            s.orders[i].stop = nil
        }
        var answered = id
        if s.replaceIssuesNewID {
            // The old order ends `UCH` Replaced with its fills; the rest works under a new id.
            var next = s.orders[i]
            next.id = String(s.nextOrderID)
            s.nextOrderID += 1
            next.quantity = s.orders[i].quantity - s.orders[i].filled
            next.filled = 0
            next.fillValue = 0
            next.status = "ACK"
            next.confirmID = nil
            next.opened = Date()
            s.orders[i].quantity = originalQuantity
            s.orders[i].limit = originalLimit
            s.orders[i].status = "UCH"
            s.orders[i].closed = Date()
            s.orders.append(next)
            answered = next.id
        }
        if s.fillMode == .instant { Self.matchAll(&s) }
        return .init(.ok, ["OrderID": answered, "Message": "Cancel/Replace order sent."])
    }
}

/// The simulator's request context: the basic one plus the connection, so a fault can close it
/// without answering.
struct SimRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
