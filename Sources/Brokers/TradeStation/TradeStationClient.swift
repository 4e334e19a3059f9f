public import Foundation
public import Logging
public import SchedctlBase

/// TradeStation Web API v3 client.
///
/// ```swift
/// let ts = TradeStationClient(configuration: .init(environment: try .init(parsing: "sim")),
///                             credentials: vault, tokens: tokenStore)
/// let balances = try await ts.balances(accounts: ["SIM1234567M"])
/// ```
public final class TradeStationClient: Brokerage, OrderConfirming, GroupOrderPlacing, ClosedOrderListing {
    public let brokerName = "tradestation"
    public let configuration: TradeStationConfiguration
    /// The token keeper (shared by everything that talks to this API key).
    public let auth: TradeStationAuth
    let transport: HTTPTransport
    let sleeper: Sleeper
    let logger: Logger

    /// Maximum symbols per quote request.
    public static let quoteBatchSize = 100
    /// Maximum account ids per request.
    public static let maxAccountsPerRequest = 25
    /// Maximum order ids per request.
    public static let maxOrderIDsPerRequest = 50

    public init(
        configuration: TradeStationConfiguration, credentials: any CredentialProvider, tokens: any TokenStore,
        clock: WallClock = .system, sleeper: Sleeper = .continuous, logger: Logger = Logger(label: "schedctl.brokers.tradestation")
    ) {
        self.configuration = configuration
        self.auth = TradeStationAuth(configuration: configuration, credentials: credentials, store: tokens, clock: clock)
        self.transport = HTTPTransport(broker: "tradestation", name: configuration.name, timeout: configuration.timeout)
        self.sleeper = sleeper
        self.logger = logger
    }

    // MARK: Reads

    public func accounts() async throws -> [BrokerAccount] {
        let r: TSAccountsResponse = try await request("GET", "brokerage/accounts")
        return r.accounts.map { BrokerAccount(id: $0.accountID, type: $0.accountType ?? "", status: $0.status ?? "", currency: $0.currency ?? "USD") }
    }

    /// Balances of 1–25 accounts; per-account errors are returned, not thrown.
    public func balances(accounts: [String]) async throws -> PartialResult<AccountBalance> {
        let r: TSBalancesResponse = try await request("GET", "brokerage/accounts/\(try accountPath(accounts))/balances")
        let items = try (r.balances ?? []).map { b -> AccountBalance in
            // A balance without its money fields is a malformed answer, never "use the cash":
            // equity taken as cash would shrink every target and sell most of the account.
            guard let cash = tsDecimal(b.cashBalance) else { throw malformed("balance of \(b.accountID) has no numeric CashBalance") }
            guard let equity = tsDecimal(b.equity) else { throw malformed("balance of \(b.accountID) has no numeric Equity") }
            guard let buyingPower = tsDecimal(b.buyingPower) else { throw malformed("balance of \(b.accountID) has no numeric BuyingPower") }
            return AccountBalance(
                accountID: b.accountID, cash: cash, buyingPower: buyingPower, equity: equity, marketValue: tsDecimal(b.marketValue) ?? 0)
        }
        return PartialResult(items: items, errors: (r.errors ?? []).map(\.partial))
    }

    public func balance(account: String) async throws -> AccountBalance {
        let r = try await balances(accounts: [account])
        if let b = r.items.first(where: { $0.accountID == account }) { return b }
        throw itemError(r.errors, account)
    }

    /// Positions of 1–25 accounts, optionally filtered (`MSFT,MSFT *`).
    public func positions(accounts: [String], symbolFilter: String? = nil) async throws -> PartialResult<Position> {
        var path = "brokerage/accounts/\(try accountPath(accounts))/positions"
        if let f = symbolFilter { path += "?symbol=\(f.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? f)" }
        let r: TSPositionsResponse = try await request("GET", path)
        let items = try (r.positions ?? []).map { p -> Position in
            guard var q = tsDecimal(p.quantity) else { throw malformed("position \(p.symbol) has a non-numeric Quantity") }
            if p.longShort == "Short", q > 0 { q = -q }
            return Position(
                accountID: p.accountID, symbol: try Symbol(p.symbol), quantity: q,
                averagePrice: tsDecimal(p.averagePrice) ?? 0, marketValue: tsDecimal(p.marketValue))
        }
        return PartialResult(items: items, errors: (r.errors ?? []).map(\.partial))
    }

    public func positions(account: String) async throws -> [Position] {
        let r = try await positions(accounts: [account])
        if let e = r.errors.first(where: { $0.item == account }) { throw itemError([e], account) }
        return r.items
    }

    /// Quotes in batches of at most 100 symbols; unknown symbols come back in `errors`.
    public func quotes(_ symbols: [Symbol]) async throws -> PartialResult<Quote> {
        var out = PartialResult<Quote>(items: [], errors: [])
        var unique: [Symbol] = []
        for s in symbols where !unique.contains(s) { unique.append(s) }
        var start = 0
        while start < unique.count {
            let batch = unique[start..<min(start + Self.quoteBatchSize, unique.count)]
            start += Self.quoteBatchSize
            let joined = batch.map {
                $0.rawValue.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/,"))) ?? $0.rawValue
            }.joined(separator: ",")
            let r: TSQuotesResponse = try await request("GET", "marketdata/quotes/\(joined)")
            let times = ISO8601DateFormatter()
            for q in r.quotes ?? [] {
                out.items.append(
                    Quote(
                        symbol: try Symbol(q.symbol), bid: tsDecimal(q.bid), ask: tsDecimal(q.ask), last: tsDecimal(q.last),
                        time: nil, tradeTime: q.tradeTime.flatMap { times.date(from: $0) }, delayed: q.marketFlags?.isDelayed ?? false,
                        halted: q.marketFlags?.isHalted ?? false))
            }
            out.errors += (r.errors ?? []).map(\.partial)
        }
        return out
    }

    /// Today's and open orders of 1–25 accounts, all pages.
    public func orders(accounts: [String], pageSize: Int? = nil) async throws -> PartialResult<Order> {
        try await paged("brokerage/accounts/\(try accountPath(accounts))/orders", query: [], pageSize: pageSize)
    }

    public func orders(account: String) async throws -> [Order] {
        let r = try await orders(accounts: [account])
        if let e = r.errors.first(where: { $0.item == account }) { throw itemError([e], account) }
        return r.items
    }

    /// Closed orders since `since` (at most 90 days back), all pages.
    public func historicalOrders(accounts: [String], since: Date, pageSize: Int? = nil) async throws -> PartialResult<Order> {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return try await paged(
            "brokerage/accounts/\(try accountPath(accounts))/historicalorders", query: [("since", f.string(from: since))], pageSize: pageSize)
    }

    public func closedOrders(account: String, since: Date) async throws -> [Order] {
        let r = try await historicalOrders(accounts: [account], since: since)
        if let e = r.errors.first(where: { $0.item == account }) { throw itemError([e], account) }
        return r.items
    }

    /// Orders by id (1–50 ids).
    public func orders(ids: [String], accounts: [String]) async throws -> PartialResult<Order> {
        guard (1...Self.maxOrderIDsPerRequest).contains(ids.count) else {
            throw BrokerError.invalid("between 1 and 50 order ids may be requested at once, not \(ids.count)")
        }
        let r: TSOrdersResponse = try await request(
            "GET", "brokerage/accounts/\(try accountPath(accounts))/orders/\(try ids.map(orderIDPath).joined(separator: ","))")
        return PartialResult(items: (r.orders ?? []).map { $0.export() }, errors: (r.errors ?? []).map(\.partial))
    }

    public func order(id: String, account: String) async throws -> Order {
        let r = try await orders(ids: [id], accounts: [account])
        if let o = r.items.first(where: { $0.id == id }) { return o }
        throw BrokerError(
            .notFound, broker: brokerName, "TradeStation has no order \(id) in account \(account)\(r.errors.first.map { " (\($0.message))" } ?? "")")
    }

    private func paged(_ path: String, query: [(String, String)], pageSize: Int?) async throws -> PartialResult<Order> {
        var out = PartialResult<Order>(items: [], errors: [])
        var token: String?
        var seen = Set<String>()
        if let p = pageSize, !(1...600).contains(p) { throw BrokerError.invalid("pageSize must be 1–600, not \(p)") }
        repeat {
            var c = URLComponents()
            var items = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            if let p = pageSize { items.append(URLQueryItem(name: "pageSize", value: String(p))) }
            if let token { items.append(URLQueryItem(name: "nextToken", value: token)) }
            c.queryItems = items.isEmpty ? nil : items
            let q = (c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")).map { "?\($0)" } ?? ""
            let r: TSOrdersResponse = try await request("GET", path + q)
            out.items += (r.orders ?? []).map { $0.export() }
            out.errors += (r.errors ?? []).map(\.partial)
            token = r.nextToken.flatMap { $0.isEmpty ? nil : $0 }
            if let t = token {
                guard seen.insert(t).inserted else {
                    throw malformed("TradeStation repeated a nextToken while paging \(path); stopping to avoid an endless loop")
                }
            }
        } while token != nil
        return out
    }

    // MARK: Orders

    public func confirm(_ order: OrderRequest, account: String) async throws -> OrderConfirmation {
        let r: TSConfirmResponse = try await request("POST", "orderexecution/orderconfirm", body: wire(order, account: account))
        guard let c = r.confirmations?.first else { throw itemError((r.errors ?? []).map(\.partial), order.symbol.rawValue) }
        return export(c)
    }

    /// Dry-runs a group.
    public func confirmGroup(_ orders: [OrderRequest], type: OrderGroupType, account: String) async throws -> [OrderConfirmation] {
        let body = TSGroupRequest(type: type.rawValue, orders: try orders.map { try wire($0, account: account) })
        let r: TSConfirmResponse = try await request("POST", "orderexecution/ordergroupconfirm", body: body)
        if (r.confirmations ?? []).isEmpty, let errors = r.errors, !errors.isEmpty { throw itemError(errors.map(\.partial), account) }
        return (r.confirmations ?? []).map(export)
    }

    public func place(_ order: OrderRequest, account: String) async throws -> PlacedOrder {
        let r: TSPlaceResponse = try await request("POST", "orderexecution/orders", body: wire(order, account: account))
        // An accepted OrderID wins over an error entry in the same answer: dropping it would
        // orphan a live order.
        if let o = r.orders?.first, !o.orderID.isEmpty { return PlacedOrder(orderID: o.orderID, message: o.message ?? "") }
        if let e = r.errors?.first {
            throw BrokerError(
                .rejected, broker: brokerName,
                "TradeStation rejected \(order.side.rawValue) \(order.quantity) \(order.symbol): \(e.message ?? e.error ?? "FAILED")")
        }
        guard let o = r.orders?.first else { throw malformed("TradeStation accepted the order but returned no OrderID") }
        return PlacedOrder(orderID: o.orderID, message: o.message ?? "")
    }

    public func placeGroup(_ orders: [OrderRequest], type: OrderGroupType, account: String) async throws -> PartialResult<PlacedOrder> {
        guard !orders.isEmpty else { throw BrokerError.invalid("an order group needs at least one order") }
        let body = TSGroupRequest(type: type.rawValue, orders: try orders.map { try wire($0, account: account) })
        let r: TSPlaceResponse = try await request("POST", "orderexecution/ordergroups", body: body)
        let result = PartialResult(
            items: (r.orders ?? []).map { PlacedOrder(orderID: $0.orderID, message: $0.message ?? "") },
            errors: (r.errors ?? []).map(\.partial))
        if !result.errors.isEmpty {
            logger.warning(
                "order group partly rejected", metadata: ["broker": "tradestation", "accepted": "\(result.items.count)", "rejected": "\(result.errors.count)"])
        }
        return result
    }

    public func replace(orderID: String, account: String, with replacement: OrderReplacement) async throws {
        _ = try await replaceOrder(orderID: orderID, account: account, with: replacement)
    }

    /// Replaces a working order; returns the `OrderID` of the answer (TradeStation may issue a
    /// new one, the old order then ends `UCH` Replaced).
    public func replaceOrder(orderID: String, account: String, with replacement: OrderReplacement) async throws -> String {
        let body = TSReplaceRequest(
            quantity: replacement.quantity?.description, limitPrice: replacement.limitPrice.map { TickSize.round($0).plainString },
            stopPrice: replacement.stopPrice.map { TickSize.round($0).plainString }, orderType: replacement.toMarket ? "Market" : nil)
        let r: TSOrderMessage = try await request("PUT", "orderexecution/orders/\(try orderIDPath(orderID))", body: body)
        return r.orderID.flatMap { $0.isEmpty ? nil : $0 } ?? orderID
    }

    public func cancel(orderID: String, account: String) async throws {
        let _: TSOrderMessage = try await request("DELETE", "orderexecution/orders/\(try orderIDPath(orderID))")
    }

    // MARK: Plumbing

    func wire(_ o: OrderRequest, account: String) throws -> TSOrderRequest {
        let type: String
        switch o.type {
        case .market: type = "Market"
        case .limit: type = "Limit"
        case .stop: type = "StopMarket"
        case .stopLimit: type = "StopLimit"
        }
        let duration: String
        switch o.timeInForce {
        case .day: duration = "DAY"
        case .goodTillCancelled: duration = "GTC"
        case .immediateOrCancel: duration = "IOC"
        case .fillOrKill: duration = "FOK"
        }
        return TSOrderRequest(
            accountID: try accountPath([account]), symbol: o.symbol.rawValue, quantity: o.quantity.description,
            orderType: type, tradeAction: o.side == .buy ? "BUY" : "SELL", timeInForce: TSTimeInForce(duration: duration),
            limitPrice: o.type.limitPrice.map { TickSize.round($0, side: o.side).plainString },
            stopPrice: o.type.stopPrice.map { TickSize.round($0).plainString },
            orderConfirmID: o.key.rawValue, route: nil)
    }

    private func export(_ c: TSConfirmation) -> OrderConfirmation {
        OrderConfirmation(
            key: c.orderConfirmID.flatMap { try? IdempotencyKey($0) }, summary: c.summaryMessage ?? "",
            estimatedPrice: tsDecimal(c.estimatedPrice), estimatedCost: tsDecimal(c.estimatedCost),
            estimatedCommission: tsDecimal(c.estimatedCommission))
    }

    func accountPath(_ ids: [String]) throws(BrokerError) -> String {
        guard (1...Self.maxAccountsPerRequest).contains(ids.count) else {
            throw .invalid("between 1 and 25 TradeStation accounts may be requested at once, not \(ids.count)")
        }
        for id in ids where id.isEmpty || id.count > 32 || !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            throw .invalid("TradeStation account id '\(id.prefix(40))' must be letters and digits only")
        }
        return ids.joined(separator: ",")
    }

    func orderIDPath(_ id: String) throws(BrokerError) -> String {
        let trimmed = id.replacingOccurrences(of: "-", with: "")
        guard !trimmed.isEmpty, trimmed.count <= 32, trimmed.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw .invalid("TradeStation order id '\(id.prefix(40))' must be letters and digits")
        }
        return trimmed
    }

    private func malformed(_ m: String) -> BrokerError { BrokerError(.malformedResponse, broker: brokerName, m) }

    private func itemError(_ errors: [PartialError], _ item: String) -> BrokerError {
        guard let e = errors.first else { return BrokerError(.notFound, broker: brokerName, "TradeStation returned nothing for \(item)") }
        let code: BrokerError.Code = e.code == "Forbidden" || e.code == "Unauthorized" ? .authenticationFailed : (e.code == "FAILED" ? .rejected : .notFound)
        return BrokerError(code, broker: brokerName, "TradeStation: \(e.item.isEmpty ? item : e.item): \(e.code) \(e.message)")
    }

    private func request<T: Decodable>(_ method: String, _ path: String) async throws -> T {
        try await request(method, path, bodyData: nil)
    }

    private func request<T: Decodable, B: Encodable>(_ method: String, _ path: String, body: B) async throws -> T {
        let data: Data
        do { data = try TSCoding.encoder.encode(body) } catch { throw BrokerError.invalid("cannot encode request: \(error)") }
        return try await request(method, path, bodyData: data)
    }

    /// Sends with bearer auth; one refresh + retry on 401; backoff on 429 (and 5xx for GET).
    private func request<T: Decodable>(_ method: String, _ path: String, bodyData: Data?) async throws -> T {
        guard let url = URL(string: configuration.baseURL.absoluteString.trimmingSuffix("/") + "/" + path) else {
            throw BrokerError.invalid("cannot build a URL for \(path)")
        }
        var refreshed = false
        var attempt = 0
        while true {
            let token = try await auth.accessToken()
            var headers = ["Authorization": "Bearer \(token)", "Accept": "application/json"]
            if bodyData != nil { headers["Content-Type"] = "application/json" }
            let response: HTTPAnswer
            do {
                response = try await transport.send(method, url, headers: headers, body: bodyData)
            } catch {
                let retryable = method == "GET" && (error.isTransportError || error.isTimeout) && attempt < configuration.maxRetries
                guard retryable else { throw error }
                logger.notice("transport error on a read; retrying", metadata: ["broker": "tradestation", "path": "\(url.path)"])
                try await sleeper(.secondsDouble(backoff(attempt: attempt, base: 0.5, cap: 10)))
                attempt += 1
                continue
            }
            switch response.status {
            case 200..<300:
                do { return try TSCoding.decoder.decode(T.self, from: response.body) } catch {
                    throw malformed("TradeStation returned an unreadable body for \(method) \(url.path) (HTTP \(response.status)): \(decodingSummary(error))")
                }
            case 401 where !refreshed:
                refreshed = true
                _ = try await auth.accessToken(rejected: token)
                continue
            case 429 where attempt < configuration.maxRetries && ServerWait.isAcceptable(ServerWait.retryAfter(response.header("Retry-After")) ?? 0):
                let wait = ServerWait.retryAfter(response.header("Retry-After")) ?? backoff(attempt: attempt)
                logger.notice("rate limited; backing off", metadata: ["broker": "tradestation", "path": "\(url.path)", "seconds": "\(wait)"])
                try await sleeper(.secondsDouble(wait))
                attempt += 1
                continue
            case 500...599 where method == "GET" && attempt < configuration.maxRetries:
                try await sleeper(.secondsDouble(backoff(attempt: attempt, base: 0.5, cap: 10)))
                attempt += 1
                continue
            default:
                throw httpError(response, method: method, path: url.path)
            }
        }
    }

    private func httpError(_ r: HTTPAnswer, method: String, path: String) -> BrokerError {
        let body = try? TSCoding.decoder.decode(TSErrorBody.self, from: r.body)
        let detail = [body?.error, body?.message].compactMap { $0 }.joined(separator: ": ")
        let suffix = detail.isEmpty ? "" : " (\(detail))"
        switch r.status {
        case 401:
            return BrokerError(
                .authenticationFailed, broker: brokerName, httpStatus: 401,
                "TradeStation refused the access token for \(method) \(path) even after a refresh\(suffix); run `schedctl auth tradestation`")
        case 403:
            return BrokerError(
                .authenticationFailed, broker: brokerName, httpStatus: 403,
                "TradeStation forbids \(method) \(path)\(suffix); check the API key's scopes and the account type")
        case 404:
            return BrokerError(.notFound, broker: brokerName, httpStatus: 404, "TradeStation found nothing at \(path)\(suffix)")
        case 429:
            return BrokerError(
                .rateLimited, broker: brokerName, httpStatus: 429, retryAfter: ServerWait.retryAfter(r.header("Retry-After")),
                "TradeStation is throttling \(path)\(suffix); quotas reset within 1–5 minutes, try again then")
        case 400..<500:
            return BrokerError(.rejected, broker: brokerName, httpStatus: r.status, "TradeStation refused \(method) \(path) (HTTP \(r.status))\(suffix)")
        default:
            return BrokerError(
                .server, broker: brokerName, httpStatus: r.status, "TradeStation failed \(method) \(path) (HTTP \(r.status))\(suffix); retry later")
        }
    }
}

func decodingSummary(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let k, _): return "missing field \(k.stringValue)"
    case DecodingError.typeMismatch(_, let c): return "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
    case DecodingError.valueNotFound(_, let c): return "null at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
    case DecodingError.dataCorrupted(let c): return "invalid JSON \(c.codingPath.map(\.stringValue).joined(separator: ".")) \(c.debugDescription)"
    default: return "\(error)"
    }
}

extension String {
    func trimmingSuffix(_ s: String) -> String { hasSuffix(s) ? String(dropLast(s.count)) : self }
}
