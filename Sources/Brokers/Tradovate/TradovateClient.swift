public import Foundation
import SchedctlBase
import Synchronization

/// A Tradovate contract.
public struct TradovateContract: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var contractMaturityId: Int64?

    /// A contract.
    public init(id: Int64, name: String, contractMaturityId: Int64? = nil) {
        self.id = id
        self.name = name
        self.contractMaturityId = contractMaturityId
    }
}

/// A Tradovate product (e.g. `ES`: value per point 50, tick 0.25).
public struct TradovateProduct: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var valuePerPoint: Decimal
    public var tickSize: Decimal
}

/// `cashBalance/getcashbalancesnapshot`.
public struct TradovateCashSnapshot: Sendable, Hashable, Codable {
    public var totalCashValue: Decimal?
    public var netLiq: Decimal?
    public var openPnL: Decimal?
    public var realizedPnL: Decimal?
    public var initialMargin: Decimal?
    public var maintenanceMargin: Decimal?
}

/// Tradovate REST client. Orders are sent with `isAutomated: true` and the request's idempotency
/// key as `clOrdId`. Accounts may be named by their name (`DEMO123456`) or numeric id.
///
/// ```swift
/// let auth = TradovateAuth(configuration: config, credentials: vault, store: sharedStore)  // token shared by every process
/// let tv = TradovateClient(auth: auth)
/// let placed = try await tv.place(order, account: "DEMO123456")
/// ```
public final class TradovateClient: Brokerage {
    public let brokerName = "tradovate"
    public let auth: TradovateAuth
    let configuration: TradovateConfiguration
    let transport: HTTPTransport
    private let accountCache = Mutex<[TVAccount]>([])
    private let contractCache = Mutex<[Int64: TradovateContract]>([:])

    public init(auth: TradovateAuth) {
        self.auth = auth
        self.configuration = auth.configuration
        self.transport = HTTPTransport(broker: "tradovate", name: auth.configuration.name, timeout: auth.configuration.timeout)
    }

    struct TVAccount: Codable, Sendable { var id: Int64; var name: String; var accountType: String?; var active: Bool?; var closed: Bool? }
    struct TVPosition: Codable { var id: Int64?; var accountId: Int64; var contractId: Int64; var netPos: Int; var netPrice: Decimal? }
    struct TVOrder: Codable { var id: Int64; var accountId: Int64; var contractId: Int64?; var action: String; var ordStatus: String; var timestamp: String? }
    struct TVOrderVersion: Codable {
        var id: Int64?; var orderId: Int64; var orderQty: Int; var orderType: String; var price: Decimal?; var stopPrice: Decimal?
    }
    struct TVFill: Codable { var orderId: Int64; var qty: Int; var price: Decimal; var active: Bool? }
    struct TVPlaceResult: Codable { var orderId: Int64?; var failureReason: String?; var failureText: String? }
    struct TVCommandResult: Codable { var commandId: Int64?; var failureReason: String?; var failureText: String? }

    // MARK: Reads

    public func accounts() async throws -> [BrokerAccount] {
        try await loadAccounts().map {
            BrokerAccount(id: $0.name, type: $0.accountType ?? "Customer", status: ($0.closed ?? false) ? "Closed" : "Active", currency: "USD")
        }
    }

    @discardableResult
    func loadAccounts() async throws -> [TVAccount] {
        let list: [TVAccount] = try await get("account/list")
        accountCache.withLock { $0 = list }
        return list
    }

    func resolve(_ account: String) async throws -> TVAccount {
        func find(_ list: [TVAccount]) -> TVAccount? { list.first { $0.name == account || String($0.id) == account } }
        if let a = find(accountCache.withLock({ $0 })) { return a }
        if let a = find(try await loadAccounts()) { return a }
        throw BrokerError(.notFound, broker: brokerName, "Tradovate account '\(account)' is not visible to this user; check the account name in jobs.yaml")
    }

    public func balance(account: String) async throws -> AccountBalance {
        let s = try await cashSnapshot(account: account)
        let cash = s.totalCashValue ?? 0
        return AccountBalance(
            accountID: account, cash: cash, buyingPower: (s.netLiq ?? cash) - (s.initialMargin ?? 0),
            equity: s.netLiq ?? cash, marketValue: s.openPnL ?? 0)
    }

    /// The cash balance snapshot of an account.
    public func cashSnapshot(account: String) async throws -> TradovateCashSnapshot {
        let a = try await resolve(account)
        let data = try await send("POST", "cashBalance/getcashbalancesnapshot", body: ["accountId": a.id])
        if let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let e = obj["errorText"] as? String, !e.isEmpty {
            throw BrokerError(.rejected, broker: brokerName, "Tradovate could not report the balance of \(account): \(e)")
        }
        return try decode(data)
    }

    public func positions(account: String) async throws -> [Position] {
        let a = try await resolve(account)
        let list: [TVPosition] = try await get("position/list")
        var out: [Position] = []
        for p in list where p.accountId == a.id && p.netPos != 0 {
            let c = try await contract(id: p.contractId)
            out.append(Position(accountID: account, symbol: try Symbol(c.name), quantity: Decimal(p.netPos), averagePrice: p.netPrice ?? 0))
        }
        return out
    }

    /// Raw positions with contract ids (for liquidation).
    public func positionContracts(account: String) async throws -> [(contractID: Int64, symbol: String, netPos: Int)] {
        let a = try await resolve(account)
        let list: [TVPosition] = try await get("position/list")
        var out: [(Int64, String, Int)] = []
        for p in list where p.accountId == a.id && p.netPos != 0 { out.append((p.contractId, try await contract(id: p.contractId).name, p.netPos)) }
        return out
    }

    /// Tradovate serves quotes over the market-data WebSocket only: a short subscription
    /// (``marketDataQuotes(_:timeout:socket:)``).
    public func quotes(_ symbols: [Symbol]) async throws -> PartialResult<Quote> {
        try await marketDataQuotes(symbols)
    }

    /// `contract/find?name=`.
    public func contract(named name: String) async throws -> TradovateContract {
        let c: TradovateContract = try await get("contract/find", query: [("name", name)])
        contractCache.withLock { $0[c.id] = c }
        return c
    }

    /// `contract/item?id=` (cached).
    public func contract(id: Int64) async throws -> TradovateContract {
        if let c = contractCache.withLock({ $0[id] }) { return c }
        let c: TradovateContract = try await get("contract/item", query: [("id", String(id))])
        contractCache.withLock { $0[id] = c }
        return c
    }

    /// `product/find?name=`.
    public func product(named name: String) async throws -> TradovateProduct {
        try await get("product/find", query: [("name", name)])
    }

    /// The product of a contract, from its maturity (`contractMaturity/item` → `productId` →
    /// `product/item`), never guessed from the contract's name. A contract without a maturity
    /// id falls back to its name less the month and year (`ESZ5` → `ES`).
    public func product(of contract: TradovateContract) async throws -> TradovateProduct {
        guard let maturity = contract.contractMaturityId else { return try await product(named: String(contract.name.dropLast(2))) }
        struct Maturity: Decodable { var productId: Int64 }
        let m: Maturity = try await get("contractMaturity/item", query: [("id", String(maturity))])
        return try await get("product/item", query: [("id", String(m.productId))])
    }

    public func orders(account: String) async throws -> [Order] {
        let a = try await resolve(account)
        let list: [TVOrder] = try await get("order/list")
        var out: [Order] = []
        for o in list where o.accountId == a.id { out.append(try await export(o, account: account)) }
        return out
    }

    public func order(id: String, account: String) async throws -> Order {
        guard let n = Int64(id) else { throw BrokerError.invalid("Tradovate order id '\(id.prefix(40))' must be a number") }
        let o: TVOrder = try await get("order/item", query: [("id", String(n))])
        return try await export(o, account: account)
    }

    private func export(_ o: TVOrder, account: String) async throws -> Order {
        let versions: [TVOrderVersion] = try await get("orderVersion/deps", query: [("masterid", String(o.id))])
        let fills: [TVFill] = try await get("fill/deps", query: [("masterid", String(o.id))])
        let v = versions.last
        let filled = fills.filter { $0.active ?? true }.reduce(0) { $0 + $1.qty }
        let value = fills.filter { $0.active ?? true }.reduce(Decimal(0)) { $0 + Decimal($1.qty) * $1.price }
        var state = OrderState.tradovate(o.ordStatus)
        if state == .working, filled > 0 { state = .partiallyFilled }
        var symbol: Symbol?
        if let cid = o.contractId { symbol = try Symbol(try await contract(id: cid).name) }
        return Order(
            id: String(o.id), accountID: account, symbol: symbol, side: o.action == "Buy" ? .buy : .sell,
            quantity: Decimal(v?.orderQty ?? 0), filledQuantity: Decimal(filled),
            averageFillPrice: filled > 0 ? value / Decimal(filled) : nil, limitPrice: v?.price, stopPrice: v?.stopPrice,
            state: state, brokerStatus: o.ordStatus, openedAt: o.timestamp.flatMap(parseTimestamp))
    }

    // MARK: Orders

    public func place(_ order: OrderRequest, account: String) async throws -> PlacedOrder {
        guard order.quantity.isWhole else { throw BrokerError.invalid("futures quantity must be a whole number of contracts, not \(order.quantity)") }
        let a = try await resolve(account)
        var body: [String: Any] = [
            "accountSpec": a.name, "accountId": a.id, "clOrdId": order.key.rawValue, "action": order.side == .buy ? "Buy" : "Sell",
            "symbol": order.symbol.rawValue, "orderQty": NSDecimalNumber(decimal: order.quantity.value).intValue, "isAutomated": true,
            "timeInForce": tif(order.timeInForce),
        ]
        switch order.type {
        case .market: body["orderType"] = "Market"
        case .limit(let p): body["orderType"] = "Limit"; body["price"] = NSDecimalNumber(decimal: p)
        case .stop(let s): body["orderType"] = "Stop"; body["stopPrice"] = NSDecimalNumber(decimal: s)
        case .stopLimit(let s, let l):
            body["orderType"] = "StopLimit"; body["stopPrice"] = NSDecimalNumber(decimal: s); body["price"] = NSDecimalNumber(decimal: l)
        }
        let r: TVPlaceResult = try decode(try await send("POST", "order/placeorder", body: body))
        guard let id = r.orderId, r.failureReason == nil || r.failureReason == "Success" else {
            throw BrokerError(
                .rejected, broker: brokerName,
                "Tradovate rejected \(order.side.rawValue) \(order.quantity) \(order.symbol): \(r.failureReason ?? "UnknownReason")\(r.failureText.map { " – \($0)" } ?? "")"
            )
        }
        return PlacedOrder(orderID: String(id), message: "Placed \(order.side.rawValue) \(order.quantity) \(order.symbol)")
    }

    public func replace(orderID: String, account: String, with replacement: OrderReplacement) async throws {
        guard let n = Int64(orderID) else { throw BrokerError.invalid("Tradovate order id '\(orderID.prefix(40))' must be a number") }
        let versions: [TVOrderVersion] = try await get("orderVersion/deps", query: [("masterid", String(n))])
        guard let v = versions.last else { throw BrokerError(.notFound, broker: brokerName, "Tradovate has no order \(orderID)") }
        var body: [String: Any] = ["orderId": n, "orderQty": v.orderQty, "orderType": replacement.toMarket ? "Market" : v.orderType, "isAutomated": true]
        if let q = replacement.quantity {
            guard q.isWhole else { throw BrokerError.invalid("futures quantity must be whole, not \(q)") }
            body["orderQty"] = NSDecimalNumber(decimal: q.value).intValue
        }
        if !replacement.toMarket {
            if let p = replacement.limitPrice ?? v.price { body["price"] = NSDecimalNumber(decimal: p) }
            if let s = replacement.stopPrice ?? v.stopPrice { body["stopPrice"] = NSDecimalNumber(decimal: s) }
        }
        try command(try await send("POST", "order/modifyorder", body: body), what: "modify order \(orderID)")
    }

    public func cancel(orderID: String, account: String) async throws {
        guard let n = Int64(orderID) else { throw BrokerError.invalid("Tradovate order id '\(orderID.prefix(40))' must be a number") }
        try command(try await send("POST", "order/cancelorder", body: ["orderId": n, "isAutomated": true]), what: "cancel order \(orderID)")
    }

    /// Flattens one contract's position (`order/liquidateposition`).
    @discardableResult
    public func liquidate(account: String, contractID: Int64) async throws -> String {
        let a = try await resolve(account)
        let r: TVPlaceResult = try decode(
            try await send(
                "POST", "order/liquidateposition",
                body: ["accountId": a.id, "contractId": contractID, "admin": false, "isAutomated": true]))
        guard let id = r.orderId, r.failureReason == nil || r.failureReason == "Success" else {
            throw BrokerError(
                .rejected, broker: brokerName,
                "Tradovate could not liquidate contract \(contractID): \(r.failureReason ?? "UnknownReason")\(r.failureText.map { " – \($0)" } ?? "")")
        }
        return String(id)
    }

    /// The id of the order placed with `clOrdId` (found among the user's commands, REST
    /// `command/list`), or nil when the broker has no command with it.
    public func orderID(clOrdID: String) async throws -> Int64? {
        struct TVCommand: Codable { var orderId: Int64?; var clOrdId: String? }
        let list: [TVCommand] = try await get("command/list")
        return list.first { $0.clOrdId == clOrdID }?.orderId
    }

    private func command(_ data: Data, what: String) throws {
        let r: TVCommandResult = try decode(data)
        if let f = r.failureReason, f != "Success" {
            throw BrokerError(.rejected, broker: brokerName, "Tradovate refused to \(what): \(f)\(r.failureText.map { " – \($0)" } ?? "")")
        }
    }

    private func tif(_ t: TimeInForce) -> String {
        switch t {
        case .day: return "Day"
        case .goodTillCancelled: return "GTC"
        case .immediateOrCancel: return "IOC"
        case .fillOrKill: return "FOK"
        }
    }

    // MARK: Plumbing

    private func get<T: Decodable>(_ path: String, query: [(String, String)] = []) async throws -> T {
        try decode(try await send("GET", path, query: query))
    }

    private func decode<T: Decodable>(_ data: Data) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw BrokerError(.malformedResponse, broker: brokerName, "Tradovate returned an unreadable body: \(decodingSummary(error))")
        }
    }

    /// The order-writing endpoints: an ambiguous HTTP answer to one of them is an unknown outcome.
    static let orderWrites: Set<String> = ["order/placeorder", "order/liquidateposition", "order/modifyorder", "order/cancelorder"]

    /// Sends with the shared token; on 401 the token is invalidated and the request retried once.
    func send(_ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil) async throws -> Data {
        var c = URLComponents(url: configuration.restURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { c.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = c.url else { throw BrokerError.invalid("cannot build a Tradovate URL for \(path)") }
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        var retried = false
        while true {
            let token = try await auth.accessToken()
            var headers = ["Authorization": "Bearer \(token)", "Accept": "application/json"]
            if data != nil { headers["Content-Type"] = "application/json" }
            let r = try await transport.send(method, url, headers: headers, body: data)
            switch r.status {
            case 200..<300: return r.body
            case 401 where !retried:
                retried = true
                await auth.invalidate(token: token)
            case 401:
                throw BrokerError(
                    .authenticationFailed, broker: brokerName, httpStatus: 401, "Tradovate refused the access token for \(path) even after signing in again")
            case 404:
                throw BrokerError(.notFound, broker: brokerName, httpStatus: 404, "Tradovate found nothing at \(path)")
            case 429:
                throw BrokerError(
                    .rateLimited, broker: brokerName, httpStatus: 429, retryAfter: 3600,
                    "Tradovate rate-limited this user (HTTP 429); Tradovate asks clients to pause for an hour")
            case 400..<500 where method == "POST" && Self.orderWrites.contains(path):
                // Only Tradovate's answer with a `failureReason` says an order write was refused;
                // a gateway's 408, a 409 or a proxy's 4xx may follow a write that was carried out.
                throw BrokerError(
                    .server, broker: brokerName, httpStatus: r.status,
                    "Tradovate answered \(method) \(path) with HTTP \(r.status); whether it was carried out is unknown (reconcile before sending it again)")
            default:
                throw BrokerError(
                    r.status >= 500 ? .server : .rejected, broker: brokerName, httpStatus: r.status,
                    "Tradovate failed \(method) \(path) (HTTP \(r.status)); retry later")
            }
        }
    }
}
