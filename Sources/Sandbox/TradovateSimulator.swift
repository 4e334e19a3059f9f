import Brokers
public import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
public import SchedctlBase
import Synchronization

/// A loopback Tradovate server: REST (`/v1/...`) and the WebSocket (`/v1/websocket`) on one port.
///
/// Reproduces `accesstokenrequest` (tokens, `errorText`, `p-ticket` penalties, at most two
/// sessions per user, 5 failed sign-ins an hour then an hour of captcha), `renewaccesstoken`
/// (same session, 15 an hour then lengthening penalties; early retries are penalised), Bearer 401s, accounts, positions, cash
/// snapshots, contracts and products, orders (place/modify/cancel/liquidate; failures as HTTP 200
/// with `failureReason`), and the WebSocket framing (`o`, `h`, `a[...]`, `c[...]`), `authorize`,
/// client `[]` heartbeats (clients that stop are dropped), `user/syncrequest` + `props` events and
/// `md/subscribequote` + `md` events. Fault switches cover latency, 5xx, 429, malformed bodies,
/// dropped sockets, silent heartbeats and expired tokens.
public final class TradovateSimulator: Sendable {
    public enum Fault: Sendable, Equatable { case status(Int), throttle, malformed, dropConnection }
    /// A fault for the next order write (`order/*` POST other than reads).
    public enum WriteFault: Sendable, Equatable {
        /// Carries the write out, then closes the connection before a byte of the answer is sent.
        case acceptThenDrop
        /// Carries the write out, then answers with this HTTP status and no body (e.g. a gateway's 408).
        case acceptThenStatus(Int)
    }
    public enum FillMode: Sendable { case instant, manual }

    struct Order: Sendable {
        var id: Int64, accountId: Int64, contractId: Int64, action: String, status: String
        var qty: Int, type: String, price: Decimal?, stop: Decimal?, clOrdId: String?, isAutomated: Bool, timestamp: Date
    }
    struct Fill: Sendable { var id: Int64, orderId: Int64, contractId: Int64, action: String, qty: Int, price: Decimal, timestamp: Date }
    struct Pos: Sendable {
        var netPos: Int = 0, netPrice: Decimal = 0, bought = 0, sold = 0
        /// The position carried from the previous trade date, and that date's settlement price.
        var prevPos = 0, prevPrice: Decimal?
    }
    struct Conn: Sendable {
        var send: AsyncStream<String>.Continuation
        var channel: any Channel
        var token: String?
        var synced = false
        var quotes: Set<Int64> = []
        /// When the client last sent a frame, on the simulator's `timers` clock.
        var lastClientHeartbeat = Duration.zero
        /// Connected on the market-data path (`/v1/md/websocket`): serves `md/*` only.
        var marketData = false
    }
    struct Contract: Sendable { var id: Int64, name: String, maturityId: Int64, product: String }
    struct Product: Sendable { var id: Int64, name: String, valuePerPoint: Decimal, tickSize: Decimal }

    struct State: Sendable {
        var username = "demo-user", password = "demo-pass", cid = "1234", secret = "sim-secret", userId: Int64 = 7001
        var tokenLifetime: TimeInterval = 80 * 60
        var tokens: [String: (session: Int, expires: Date)] = [:]
        var sessions: [Int] = []
        var nextSession = 1
        var loginPenalties: [(time: Int, captcha: Bool)] = []
        var renewPenalty = false
        var faults: [Fault] = []
        var writeFaults: [WriteFault] = []
        var orderWrites: [String] = []
        var latency: Duration = .zero
        var accounts: [(id: Int64, name: String)] = [(1001, "DEMO123456")]
        var cash: [Int64: Decimal] = [1001: 50_000]
        var contracts: [Contract] = [
            Contract(id: 3001, name: "ESZ5", maturityId: 4001, product: "ES"), Contract(id: 3002, name: "MNQZ5", maturityId: 4002, product: "MNQ"),
        ]
        var products: [Product] = [
            Product(id: 5001, name: "ES", valuePerPoint: 50, tickSize: Decimal(string: "0.25")!),
            Product(id: 5002, name: "MNQ", valuePerPoint: 2, tickSize: Decimal(string: "0.25")!),
        ]
        var prices: [Int64: Decimal] = [3001: Decimal(string: "5000.25")!, 3002: Decimal(string: "21000.5")!]
        var orders: [Order] = []
        var fills: [Fill] = []
        var positions: [Int64: [Int64: Pos]] = [:]
        var nextID: Int64 = 600_000_001
        var fillMode: FillMode = .instant
        var rejectNext: String?
        var rejectLiquidations: [String] = []
        var liquidations = 0
        var marketDataSilent = false
        var deduplicateClOrdIds = true
        var conns: [Int: Conn] = [:]
        var nextConn = 1
        var sendHeartbeats = true
        var heartbeatInterval: Duration = .milliseconds(2500)
        var clientTimeout: TimeInterval = 10
        var loginCount = 0
        var renewCount = 0
        var placed: [Data] = []
        var wsConnects = 0
        var limits = AuthLimits()
        var failedSignIns: [Date] = []
        var signInLockedUntil: Date?
        var renewals: [Date] = []
        var renewViolations = 0
        /// Outstanding penalty tickets: when each may be used.
        var tickets: [String: Date] = [:]
        var captchaReplies = 0
        var earlyRetries = 0
        var evictions = 0
        var silent = false
        var mdConnects = 0
        var syncRequests = 0
        /// The fee charged per contract of every fill (a `fillFee` entity per fill), if any.
        var feePerContract: Decimal?
        /// Each charged fill's fee by fill id.
        var fillFees: [Int64: Decimal] = [:]
        /// Endpoints whose next request is carried out and then answered by a dropped connection.
        var loseAnswers: [String] = []
        /// Socket requests (endpoint, status) answered with that status instead of being served.
        var refusedSocketRequests: [(String, Int)] = []
        /// Statuses the next socket `authorize` requests get (whatever the token).
        var refusedAuthorizes: [Int] = []
        /// The order id of every `order/cancelorder` request received (duplicates included).
        var cancelRequests: [Int64] = []
    }

    /// Tradovate's documented auth limits (BROKERS.md §2.7), per IP (every loopback client shares them).
    public struct AuthLimits: Sendable {
        /// Failed sign-ins per rolling hour; the next attempt gets a captcha penalty for an hour.
        public var failedSignInsPerHour = 5
        /// Renewals per rolling hour (successes count); beyond it a `p-ticket` penalty.
        public var renewalsPerHour = 15
        /// The first penalty's `p-time`; repeated violations double it.
        public var penaltySeconds = 15
        /// The defaults.
        public init() {}
    }

    let state = Mutex(State())
    private let server = LoopbackServer()
    private let boundPort = Mutex<Int?>(nil)
    /// The time token expiry and the hourly auth limits are measured against.
    let clock: WallClock
    /// The clock of the socket timers: server `h` heartbeats and the client-heartbeat timeout.
    let timers: any Clock<Duration>
    private let elapsed: @Sendable () -> Duration

    /// User `demo-user` / `demo-pass`, cid `1234`, secret `sim-secret`; account `DEMO123456`
    /// (id 1001, $50,000); contracts `ESZ5` (3001) and `MNQZ5` (3002). Token expiry and the
    /// hourly limits follow `clock` (tests share a manual clock with the client); the socket
    /// heartbeats and the client-heartbeat timeout run on `timers` (a manual clock in tests that
    /// drive the client's heartbeat and watchdog by hand).
    public init(clock: WallClock = .system, timers: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
        self.timers = timers
        self.elapsed = Self.stopwatch(timers)
    }

    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    // MARK: Lifecycle

    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let p = try await server.start { onRunning in
            Application(
                router: self.router(),
                server: .http1WebSocketUpgrade { request, channel, _ in
                    let marketData = request.path?.hasPrefix("/v1/md/websocket") == true
                    guard marketData || request.path?.hasPrefix("/v1/websocket") == true else { return .dontUpgrade }
                    return .upgrade([:]) { inbound, outbound, _ in try await self.session(inbound, outbound, channel, marketData: marketData) }
                },
                configuration: appConfiguration(port: port), onServerRunning: onRunning, logger: simulatorLogger())
        }
        boundPort.withLock { $0 = p }
        return p
    }

    public func stop() async {
        state.withLock { s in for c in s.conns.values { c.send.finish() } }
        await server.stop()
    }

    public var restURL: URL { URL(string: "http://127.0.0.1:\(port)/v1")! }
    public var webSocketURL: URL { URL(string: "ws://127.0.0.1:\(port)/v1/websocket")! }
    /// The market-data socket: it serves `md/subscribequote` and refuses trading requests, as the
    /// trading socket refuses `md/*`.
    public var marketDataURL: URL { URL(string: "ws://127.0.0.1:\(port)/v1/md/websocket")! }
    private var port: Int { boundPort.withLock { $0 } ?? 0 }

    // MARK: Controls

    public func setCredentials(username: String, password: String, cid: String, secret: String) {
        state.withLock {
            $0.username = username; $0.password = password; $0.cid = cid; $0.secret = secret
        }
    }
    /// Token lifetime for new and renewed tokens.
    public func setTokenLifetime(_ t: TimeInterval) { state.withLock { $0.tokenLifetime = t } }
    /// The next sign-ins answer with a `p-ticket` penalty.
    public func enqueueLoginPenalty(seconds: Int, captcha: Bool = false) { state.withLock { $0.loginPenalties.append((seconds, captcha)) } }
    /// The next renewal answers with a `p-ticket` penalty (HTTP 200).
    public func enqueueRenewPenalty() { state.withLock { $0.renewPenalty = true } }
    /// Replaces the documented auth limits.
    public func setAuthLimits(_ l: AuthLimits) { state.withLock { $0.limits = l } }
    /// Sign-in attempts answered with a captcha penalty (lock-out after failed sign-ins).
    public var captchaReplyCount: Int { state.withLock { $0.captchaReplies } }
    /// Retries that came before their penalty's `p-time` had passed, or beyond a limit.
    public var earlyRetryCount: Int { state.withLock { $0.earlyRetries } }
    /// Failed sign-ins received in the current hour.
    public var failedSignInCount: Int { state.withLock { s in s.failedSignIns.filter { $0 > self.clock.now().addingTimeInterval(-3600) }.count } }
    /// Sessions closed because a third one started.
    public var evictedSessionCount: Int { state.withLock { $0.evictions } }
    /// Invalidates every token (next REST call gets 401; renewal is refused).
    public func expireTokens() { state.withLock { $0.tokens.removeAll() } }
    /// Invalidates only the market-data tokens (`mdAccessToken`); access tokens stay valid.
    public func expireMarketDataTokens() { state.withLock { s in s.tokens = s.tokens.filter { !$0.key.hasPrefix("tv-md-") } } }
    public func enqueueFaults(_ f: Fault...) { state.withLock { $0.faults += f } }
    /// Queues faults for the next order writes (`order/placeorder`, `modifyorder`, `cancelorder`, …).
    public func enqueueWriteFaults(_ f: WriteFault...) { state.withLock { $0.writeFaults += f } }
    /// Order writes by endpoint (for example `order/placeorder`), counted as each request arrives,
    /// before its body is read (a re-sent request whose body never comes still counts).
    public func orderWriteCount(_ endpoint: String) -> Int { state.withLock { $0.orderWrites.filter { $0 == endpoint }.count } }
    /// Carries out the next request to `endpoint` (e.g. `order/cancelorder`), then drops the
    /// connection instead of answering: the broker did it, the client cannot know.
    public func loseNextAnswer(to endpoint: String) { state.withLock { $0.loseAnswers.append(endpoint) } }
    /// Answers the next `count` socket requests to `endpoint` (e.g. `user/syncrequest`) with `status`.
    public func refuseSocketRequests(to endpoint: String, status: Int, count: Int = 1) {
        state.withLock { $0.refusedSocketRequests += Array(repeating: (endpoint, status), count: count) }
    }
    /// Answers the next socket `authorize` with `status` (e.g. 500 or 429 during an incident).
    public func refuseNextAuthorize(status: Int) { state.withLock { $0.refusedAuthorizes.append(status) } }
    /// `order/cancelorder` requests received for `orderID` (duplicates included).
    public func cancelRequests(orderID: Int64) -> Int { state.withLock { $0.cancelRequests.filter { $0 == orderID }.count } }
    /// Every `order/cancelorder` request received.
    public var cancelRequestCount: Int { state.withLock { $0.cancelRequests.count } }
    public func setLatency(_ d: Duration) { state.withLock { $0.latency = d } }
    public func setFillMode(_ m: FillMode) { state.withLock { $0.fillMode = m } }
    /// The next placement fails with this `failureReason` (HTTP 200).
    public func rejectNextOrder(reason: String) { state.withLock { $0.rejectNext = reason } }
    /// Rejects the next `count` `order/liquidateposition` requests (HTTP 200 with `failureReason`,
    /// as Tradovate refuses one, e.g. while the market is halted); the position stays open.
    public func rejectLiquidations(_ count: Int = 1, reason: String = "MarketClosed") {
        state.withLock { $0.rejectLiquidations += Array(repeating: reason, count: count) }
    }
    /// Whether a placement with a `clOrdId` already used is refused ("Duplicate clOrdId", the
    /// default) or placed as a second order (Tradovate documents no de-duplication).
    public func setDeduplicateClOrdIds(_ on: Bool) { state.withLock { $0.deduplicateClOrdIds = on } }
    /// Charges `fee` per contract of every later fill: a `fillFee` entity (its `commission`) is
    /// pushed after each fill and listed in the sync snapshot. Nil: no fees (the default).
    public func setFillFee(perContract fee: Decimal?) { state.withLock { $0.feePerContract = fee } }
    /// Adds an account the user sees (with 50 000 cash).
    public func addAccount(id: Int64, name: String) {
        state.withLock { s in
            s.accounts.append((id, name))
            s.cash[id] = 50_000
        }
    }
    /// `order/liquidateposition` requests received (rejected ones included).
    public var liquidationRequestCount: Int { state.withLock { $0.liquidations } }
    /// Stops (or resumes) pushing quotes on the market-data sockets; they stay connected and
    /// keep their heartbeats (a stale feed, not a dead one).
    public func setMarketDataSilent(_ on: Bool) { state.withLock { $0.marketDataSilent = on } }
    /// Server heartbeat (`h`) interval and client heartbeat timeout.
    public func setHeartbeat(interval: Duration, clientTimeout: TimeInterval) {
        state.withLock {
            $0.heartbeatInterval = interval; $0.clientTimeout = clientTimeout
        }
    }
    /// Stops (or resumes) sending `h` frames, to exercise client watchdogs.
    public func setSendHeartbeats(_ on: Bool) { state.withLock { $0.sendHeartbeats = on } }
    /// Goes silent (or speaks again): no `h` frames, no replies, no events, while sockets stay open.
    public func setSilent(_ on: Bool) { state.withLock { $0.silent = on } }
    /// `user/syncrequest` requests answered.
    public var syncRequestCount: Int { state.withLock { $0.syncRequests } }
    /// Connections made to the market-data socket.
    public var marketDataConnectCount: Int { state.withLock { $0.mdConnects } }
    /// `order/placeorder` requests that carried `clOrdId` (duplicates included).
    public func placements(clOrdId: String) -> Int { placedOrderBodies.filter { $0["clOrdId"] as? String == clOrdId }.count }
    /// Orders the simulator accepted (rejections and duplicates excluded).
    public var acceptedOrderCount: Int { state.withLock { $0.orders.count } }
    /// Working orders.
    public var workingOrderCount: Int { state.withLock { $0.orders.filter { $0.status == "Working" }.count } }
    /// Drops every WebSocket connection abruptly (no close frame).
    public func dropConnections() {
        let chans = state.withLock { s in s.conns.values.map(\.channel) }
        for c in chans { c.close(promise: nil) }
    }
    /// Sends `c[...]` close frames and closes every WebSocket.
    public func closeConnections() {
        state.withLock { s in for c in s.conns.values { c.send.yield("c[1000,\"Server shutting down\"]"); c.send.finish() } }
    }
    /// Sets a price; pushes `md` quotes to subscribers and fills crossing working orders.
    public func setPrice(symbol: String, _ price: Decimal) {
        state.withLock { s in
            guard let c = s.contracts.first(where: { $0.name == symbol }) else { return }
            s.prices[c.id] = price
            Self.pushQuote(&s, c.id)
            if s.fillMode == .instant { Self.matchAll(&s) }
        }
    }
    /// Ends the trade date of `symbol` at a settlement `price`: every account's position in it is
    /// carried (`prevPos`, `prevPrice`) into the next, whose `bought` and `sold` start at 0;
    /// `netPrice` stays the entry, as Tradovate's does.
    public func settle(symbol: String, price: Decimal) {
        state.withLock { s in
            guard let c = s.contracts.first(where: { $0.name == symbol }) else { return }
            for (account, held) in s.positions {
                guard var p = held[c.id] else { continue }
                (p.prevPos, p.prevPrice, p.bought, p.sold) = (p.netPos, price, 0, 0)
                s.positions[account]?[c.id] = p
            }
        }
    }
    /// Lists one more contract of an existing product (e.g. a name that is not the product plus a
    /// month and a one-digit year), at `price`.
    public func addContract(id: Int64, name: String, product: String, price: Decimal) {
        state.withLock { s in
            s.contracts.append(Contract(id: id, name: name, maturityId: id + 1000, product: product))
            s.prices[id] = price
        }
    }
    /// Fills a working order (manually).
    @discardableResult
    public func fill(orderID: Int64, quantity: Int? = nil) -> Bool {
        state.withLock { s in
            guard let i = s.orders.firstIndex(where: { $0.id == orderID }), s.orders[i].status == "Working" else { return false }
            let done = s.fills.filter { $0.orderId == orderID }.reduce(0) { $0 + $1.qty }
            Self.execute(&s, i, min(quantity ?? (s.orders[i].qty - done), s.orders[i].qty - done))
            return true
        }
    }
    public var loginCount: Int { state.withLock { $0.loginCount } }
    public var renewCount: Int { state.withLock { $0.renewCount } }
    public var activeSessionCount: Int { state.withLock { $0.sessions.count } }
    public var webSocketConnectCount: Int { state.withLock { $0.wsConnects } }
    public var openWebSocketCount: Int { state.withLock { $0.conns.count } }
    /// Bodies of `order/placeorder` requests received.
    public var placedOrderBodies: [[String: Any]] {
        state.withLock { $0.placed }.compactMap { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] }
    }
    public func netPosition(account: Int64 = 1001, symbol: String) -> Int {
        state.withLock { s in s.contracts.first { $0.name == symbol }.flatMap { s.positions[account]?[$0.id]?.netPos } ?? 0 }
    }
    public func orderStatus(_ id: Int64) -> String? { state.withLock { s in s.orders.first { $0.id == id }?.status } }

    // MARK: Matching

    static func execute(_ s: inout State, _ i: Int, _ qty: Int) {
        guard qty > 0 else { return }
        let o = s.orders[i]
        guard let price = o.type == "Limit" ? o.price : s.prices[o.contractId] else { return }
        let id = s.nextID; s.nextID += 1
        s.fills.append(Fill(id: id, orderId: o.id, contractId: o.contractId, action: o.action, qty: qty, price: price, timestamp: Date()))
        var p = s.positions[o.accountId]?[o.contractId] ?? Pos()
        let signed = o.action == "Buy" ? qty : -qty
        let vpp = s.products.first { pr in s.contracts.first { $0.id == o.contractId }?.product == pr.name }?.valuePerPoint ?? 1
        if p.netPos == 0 || (p.netPos > 0) == (signed > 0) {
            let total = abs(p.netPos) + qty
            p.netPrice = (p.netPrice * Decimal(abs(p.netPos)) + price * Decimal(qty)) / Decimal(total)
        } else {
            let closing = min(abs(p.netPos), qty)
            let pnl = (price - p.netPrice) * Decimal(closing) * vpp * (p.netPos > 0 ? 1 : -1)
            s.cash[o.accountId, default: 0] += pnl
            pushProps(
                &s, "cashBalance",
                [
                    "id": o.accountId, "accountId": o.accountId, "amount": NSDecimalNumber(decimal: s.cash[o.accountId] ?? 0),
                    "realizedPnL": NSDecimalNumber(decimal: (s.cash[o.accountId] ?? 0) - 50_000),
                ], "Updated")
            if qty > abs(p.netPos) { p.netPrice = price }
        }
        p.netPos += signed
        if o.action == "Buy" { p.bought += qty } else { p.sold += qty }
        if p.netPos == 0 { p.netPrice = 0 }
        s.positions[o.accountId, default: [:]][o.contractId] = p
        let filled = s.fills.filter { $0.orderId == o.id }.reduce(0) { $0 + $1.qty }
        if filled >= o.qty { s.orders[i].status = "Filled" }
        pushProps(&s, "order", orderJSON(s.orders[i]), "Updated")
        pushProps(&s, "position", positionJSON(o.accountId, o.contractId, p), "Updated")
        pushProps(
            &s, "fill", ["id": id, "orderId": o.id, "contractId": o.contractId, "qty": qty, "price": NSDecimalNumber(decimal: price), "action": o.action],
            "Created")
        if let fee = s.feePerContract {
            s.fillFees[id] = fee * Decimal(qty)
            pushProps(&s, "fillFee", feeJSON(id, fee * Decimal(qty)), "Created")
        }
    }

    static func feeJSON(_ fillID: Int64, _ fee: Decimal) -> [String: Any] { ["id": fillID, "commission": NSDecimalNumber(decimal: fee)] }

    static func matchAll(_ s: inout State) {
        for i in s.orders.indices where s.orders[i].status == "Working" {
            let o = s.orders[i]
            guard let px = s.prices[o.contractId] else { continue }
            let marketable: Bool
            switch o.type {
            case "Market": marketable = true
            case "Limit": marketable = o.action == "Buy" ? px <= (o.price ?? 0) : px >= (o.price ?? 0)
            case "Stop": marketable = o.action == "Buy" ? px >= (o.stop ?? 0) : px <= (o.stop ?? 0)
            default: marketable = false
            }
            if marketable {
                let done = s.fills.filter { $0.orderId == o.id }.reduce(0) { $0 + $1.qty }
                if o.type == "Limit" {
                    // Fill at the better of limit and market.
                    s.orders[i].price = o.action == "Buy" ? min(px, o.price ?? px) : max(px, o.price ?? px)
                    execute(&s, i, o.qty - done)
                    s.orders[i].price = o.price
                } else {
                    execute(&s, i, o.qty - done)
                }
            }
        }
    }

    static func orderJSON(_ o: Order) -> [String: Any] {
        [
            "id": o.id, "accountId": o.accountId, "contractId": o.contractId, "action": o.action, "ordStatus": o.status,
            "timestamp": ISO8601DateFormatter().string(from: o.timestamp), "admin": false,
        ]
    }
    static func commandJSON(_ o: Order) -> [String: Any] {
        var c: [String: Any] = [
            "id": o.id, "orderId": o.id, "commandType": "New", "commandStatus": "RiskPassed", "isAutomated": o.isAutomated,
            "timestamp": ISO8601DateFormatter().string(from: o.timestamp),
        ]
        if let cl = o.clOrdId { c["clOrdId"] = cl }
        return c
    }
    static func versionJSON(_ o: Order) -> [String: Any] {
        var v: [String: Any] = ["id": o.id, "orderId": o.id, "orderQty": o.qty, "orderType": o.type]
        if let p = o.price { v["price"] = NSDecimalNumber(decimal: p) }
        if let st = o.stop { v["stopPrice"] = NSDecimalNumber(decimal: st) }
        return v
    }
    static func positionJSON(_ account: Int64, _ contract: Int64, _ p: Pos) -> [String: Any] {
        var d: [String: Any] = [
            "id": account * 100_000 + contract, "accountId": account, "contractId": contract, "netPos": p.netPos,
            "bought": p.bought, "sold": p.sold, "prevPos": p.prevPos, "timestamp": ISO8601DateFormatter().string(from: Date()),
            "tradeDate": ["year": 2026, "month": 1, "day": 2], "boughtValue": 0, "soldValue": 0,
        ]
        if p.netPos != 0 { d["netPrice"] = NSDecimalNumber(decimal: p.netPrice) }
        if let prev = p.prevPrice { d["prevPrice"] = NSDecimalNumber(decimal: prev) }
        return d
    }

    static func frame(_ messages: [Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: messages, options: [.sortedKeys])) ?? Data("[]".utf8)
        return "a" + String(decoding: data, as: UTF8.self)
    }

    static func pushProps(_ s: inout State, _ type: String, _ entity: [String: Any], _ event: String) {
        let f = frame([["e": "props", "d": ["entityType": type, "entity": entity, "eventType": event]]])
        guard !s.silent else { return }
        for c in s.conns.values where c.synced { c.send.yield(f) }
    }

    static func pushQuote(_ s: inout State, _ contract: Int64) {
        guard let px = s.prices[contract] else { return }
        let tick = s.products.first { pr in s.contracts.first { $0.id == contract }?.product == pr.name }?.tickSize ?? Decimal(string: "0.25")!
        let q: [String: Any] = [
            "timestamp": ISO8601DateFormatter().string(from: Date()), "contractId": contract,
            "entries": [
                "Bid": ["price": NSDecimalNumber(decimal: px - tick), "size": 7],
                "Offer": ["price": NSDecimalNumber(decimal: px + tick), "size": 12],
                "Trade": ["price": NSDecimalNumber(decimal: px), "size": 2],
            ],
        ]
        let f = frame([["e": "md", "d": ["quotes": [q]]]])
        guard !s.silent, !s.marketDataSilent else { return }
        for c in s.conns.values where c.quotes.contains(contract) { c.send.yield(f) }
    }

    // MARK: Dispatch (shared by REST and WebSocket)

    struct Reply { var status: Int; var payload: Any? }

    private func valid(_ s: State, _ token: String?) -> Bool {
        guard let token, let t = s.tokens[token] else { return false }
        return t.expires > clock.now() && s.sessions.contains(t.session)
    }

    private func issue(_ s: inout State, session: Int) -> [String: Any] {
        let token = "tv-access-\(UUID().uuidString.prefix(12))"
        let md = "tv-md-\(UUID().uuidString.prefix(12))"
        let exp = clock.now().addingTimeInterval(s.tokenLifetime)
        s.tokens[token] = (session, exp)
        s.tokens[md] = (session, exp)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return [
            "accessToken": token, "mdAccessToken": md, "expirationTime": f.string(from: exp), "userId": s.userId, "name": s.username,
            "userStatus": "Active", "hasLive": false,
        ]
    }

    /// A `p-ticket` penalty answer (HTTP 200); the ticket may be used after `seconds`.
    static func penalty(_ s: inout State, _ ticket: String, seconds: Int, captcha: Bool, _ now: Date) -> Reply {
        s.tickets[ticket] = now.addingTimeInterval(TimeInterval(seconds))
        return Reply(status: 200, payload: ["p-ticket": ticket, "p-time": seconds, "p-captcha": captcha])
    }

    /// Checks a retry's ticket: nil when it may proceed; a longer penalty when it came too early
    /// or the ticket is unknown ("repeated violations lengthen the back-off").
    static func redeem(_ s: inout State, _ ticket: String?, _ now: Date) -> Reply? {
        guard let ticket else { return nil }
        if let allowed = s.tickets[ticket], allowed <= now {
            s.tickets[ticket] = nil
            return nil
        }
        s.earlyRetries += 1
        s.tickets[ticket] = nil
        return penalty(&s, ticket + "+", seconds: 30 << min(s.earlyRetries, 8), captcha: false, now)
    }

    func dispatch(_ endpoint: String, query: [String: String], body: Data?, token: String?) -> Reply {
        state.withLock { s -> Reply in
            let json = body.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any] ?? [:]
            switch endpoint {
            case "auth/accesstokenrequest":
                s.loginCount += 1
                let now = clock.now()
                s.failedSignIns.removeAll { $0 <= now.addingTimeInterval(-3600) }
                if let until = s.signInLockedUntil, until > now {
                    s.captchaReplies += 1
                    return Reply(status: 200, payload: ["p-ticket": "captcha-\(s.loginCount)", "p-time": Int(until.timeIntervalSince(now)), "p-captcha": true])
                }
                if let early = Self.redeem(&s, json["p-ticket"] as? String, now) { return early }
                if json["p-ticket"] == nil, !s.loginPenalties.isEmpty {
                    let p = s.loginPenalties.removeFirst()
                    if p.captcha { s.signInLockedUntil = now.addingTimeInterval(TimeInterval(max(p.time, 3600))) }
                    return Self.penalty(&s, "ticket-\(s.loginCount)", seconds: p.time, captcha: p.captcha, now)
                }
                let refusal: String?
                if json["name"] as? String != s.username || json["password"] as? String != s.password {
                    refusal = "Incorrect username or password. Please try again."
                } else if "\(json["cid"] ?? "")" != s.cid || json["sec"] as? String != s.secret {
                    refusal = "The app is not registered"
                } else {
                    refusal = nil
                }
                if let refusal {
                    s.failedSignIns.append(now)
                    if s.failedSignIns.count >= s.limits.failedSignInsPerHour { s.signInLockedUntil = now.addingTimeInterval(3600) }
                    return Reply(status: 200, payload: ["errorText": refusal])
                }
                let session = s.nextSession
                s.nextSession += 1
                s.sessions.append(session)
                if s.sessions.count > 2 {
                    s.sessions.removeFirst()
                    s.evictions += 1
                }
                return Reply(status: 200, payload: issue(&s, session: session))
            case "auth/renewaccesstoken":
                s.renewCount += 1
                let now = clock.now()
                guard let token, valid(s, token), let t = s.tokens[token] else {
                    return Reply(status: 401, payload: nil)
                }
                s.renewals.removeAll { $0 <= now.addingTimeInterval(-3600) }
                if let ticket = query["p-ticket"] {
                    if let early = Self.redeem(&s, ticket, now) { return early }
                } else if s.renewPenalty {
                    s.renewPenalty = false
                    return Self.penalty(&s, "renew-ticket-\(s.renewCount)", seconds: s.limits.penaltySeconds, captcha: false, now)
                } else if s.renewals.count >= s.limits.renewalsPerHour {
                    s.renewViolations += 1
                    let seconds = s.limits.penaltySeconds << min(s.renewViolations - 1, 8)
                    return Self.penalty(&s, "renew-ticket-\(s.renewCount)", seconds: seconds, captcha: false, now)
                }
                s.renewals.append(now)
                return Reply(status: 200, payload: issue(&s, session: t.session))
            default: break
            }
            guard valid(s, token) else { return Reply(status: 401, payload: "Access is denied") }
            func account(_ id: Any?) -> Int64? { (id as? NSNumber)?.int64Value ?? (id as? String).flatMap { Int64($0) } }
            switch endpoint {
            case "account/list":
                return Reply(
                    status: 200,
                    payload: s.accounts.map {
                        [
                            "id": $0.id, "name": $0.name, "userId": s.userId, "accountType": "Customer",
                            "active": true, "closed": false, "clearingHouseId": 1, "riskCategoryId": 1,
                            "autoLiqProfileId": 1, "marginAccountType": "Speculator", "legalStatus": "Individual",
                            "timestamp": "2026-01-01T00:00:00Z",
                        ] as [String: Any]
                    })
            case "position/list":
                return Reply(status: 200, payload: s.positions.flatMap { a, m in m.map { Self.positionJSON(a, $0.key, $0.value) } })
            case "cashBalance/getcashbalancesnapshot":
                guard let a = account(json["accountId"]), let cash = s.cash[a] else {
                    return Reply(status: 200, payload: ["errorText": "Account not found"])
                }
                var open: Decimal = 0
                var margin: Decimal = 0
                for (cid, p) in s.positions[a] ?? [:] where p.netPos != 0 {
                    let vpp = s.products.first { pr in s.contracts.first { $0.id == cid }?.product == pr.name }?.valuePerPoint ?? 1
                    open += ((s.prices[cid] ?? p.netPrice) - p.netPrice) * Decimal(p.netPos) * vpp
                    margin += Decimal(abs(p.netPos)) * 500
                }
                return Reply(
                    status: 200,
                    payload: [
                        "totalCashValue": NSDecimalNumber(decimal: cash), "netLiq": NSDecimalNumber(decimal: cash + open),
                        "openPnL": NSDecimalNumber(decimal: open), "realizedPnL": NSDecimalNumber(decimal: cash - 50_000),
                        "initialMargin": NSDecimalNumber(decimal: margin), "maintenanceMargin": NSDecimalNumber(decimal: margin),
                    ])
            case "contract/find":
                guard let c = s.contracts.first(where: { $0.name == query["name"] }) else { return Reply(status: 404, payload: nil) }
                return Reply(status: 200, payload: ["id": c.id, "name": c.name, "contractMaturityId": c.maturityId, "timestamp": "2026-01-01T00:00:00Z"])
            case "contract/item":
                guard let c = s.contracts.first(where: { String($0.id) == query["id"] }) else { return Reply(status: 404, payload: nil) }
                return Reply(status: 200, payload: ["id": c.id, "name": c.name, "contractMaturityId": c.maturityId, "timestamp": "2026-01-01T00:00:00Z"])
            case "contractMaturity/item":
                guard let c = s.contracts.first(where: { String($0.maturityId) == query["id"] }),
                    let p = s.products.first(where: { $0.name == c.product })
                else { return Reply(status: 404, payload: nil) }
                return Reply(
                    status: 200,
                    payload: ["id": c.maturityId, "productId": p.id, "expirationMonth": 12, "expirationDate": "2026-12-18T14:30:00Z", "isFront": true])
            case "product/find", "product/item":
                guard let p = s.products.first(where: { endpoint == "product/item" ? String($0.id) == query["id"] : $0.name == query["name"] })
                else { return Reply(status: 404, payload: nil) }
                return Reply(
                    status: 200,
                    payload: [
                        "id": p.id, "name": p.name, "valuePerPoint": NSDecimalNumber(decimal: p.valuePerPoint),
                        "tickSize": NSDecimalNumber(decimal: p.tickSize), "productType": "Futures", "status": "Verified",
                        "currencyId": 1, "description": p.name, "exchangeId": 1, "contractGroupId": 1, "priceFormatType": "Decimal", "priceFormat": -2,
                    ])
            case "command/list":
                return Reply(status: 200, payload: s.orders.filter { $0.clOrdId != nil }.map(Self.commandJSON))
            case "order/list":
                return Reply(status: 200, payload: s.orders.map(Self.orderJSON))
            case "order/item":
                guard let o = s.orders.first(where: { String($0.id) == query["id"] }) else { return Reply(status: 404, payload: nil) }
                return Reply(status: 200, payload: Self.orderJSON(o))
            case "orderVersion/deps":
                return Reply(status: 200, payload: s.orders.filter { String($0.id) == query["masterid"] }.map(Self.versionJSON))
            case "fill/deps":
                return Reply(
                    status: 200,
                    payload: s.fills.filter { String($0.orderId) == query["masterid"] }.map {
                        [
                            "id": $0.id, "orderId": $0.orderId, "contractId": $0.contractId, "qty": $0.qty, "price": NSDecimalNumber(decimal: $0.price),
                            "action": $0.action, "active": true, "finallyPaired": false, "timestamp": ISO8601DateFormatter().string(from: $0.timestamp),
                            "tradeDate": ["year": 2026, "month": 1, "day": 2],
                        ] as [String: Any]
                    })
            case "order/placeorder":
                s.placed.append(body ?? Data())
                guard let action = json["action"] as? String, ["Buy", "Sell"].contains(action), let symbol = json["symbol"] as? String,
                    let qty = (json["orderQty"] as? NSNumber)?.intValue, qty > 0, let type = json["orderType"] as? String
                else {
                    return Reply(
                        status: 200, payload: ["failureReason": "UnknownReason", "failureText": "action, symbol, orderQty and orderType are required"])
                }
                guard let acct = account(json["accountId"]), s.accounts.contains(where: { $0.id == acct && $0.name == json["accountSpec"] as? String }) else {
                    return Reply(
                        status: 200, payload: ["failureReason": "UnknownReason", "failureText": "accountSpec and accountId must name one of your accounts"])
                }
                guard let c = s.contracts.first(where: { $0.name == symbol }) else {
                    return Reply(status: 200, payload: ["failureReason": "InvalidContract", "failureText": "Unknown symbol \(symbol)"])
                }
                if let r = s.rejectNext { s.rejectNext = nil; return Reply(status: 200, payload: ["failureReason": r, "failureText": "Simulated rejection"]) }
                if s.deduplicateClOrdIds, let cl = json["clOrdId"] as? String, s.orders.contains(where: { $0.clOrdId == cl }) {
                    return Reply(status: 200, payload: ["failureReason": "UnknownReason", "failureText": "Duplicate clOrdId \(cl)"])
                }
                let id = s.nextID; s.nextID += 1
                let o = Order(
                    id: id, accountId: acct, contractId: c.id, action: action, status: "Working", qty: qty, type: type,
                    price: jsonDecimal(json["price"]), stop: jsonDecimal(json["stopPrice"]), clOrdId: json["clOrdId"] as? String,
                    isAutomated: json["isAutomated"] as? Bool ?? false, timestamp: Date())
                s.orders.append(o)
                Self.pushProps(&s, "order", Self.orderJSON(o), "Created")
                Self.pushProps(&s, "orderVersion", Self.versionJSON(o), "Created")
                Self.pushProps(&s, "command", Self.commandJSON(o), "Created")
                if s.fillMode == .instant { Self.matchAll(&s) }
                return Reply(status: 200, payload: ["orderId": id])
            case "order/modifyorder":
                guard let id = account(json["orderId"]), let i = s.orders.firstIndex(where: { $0.id == id }) else {
                    return Reply(status: 200, payload: ["failureReason": "UnknownReason", "failureText": "Order not found"])
                }
                guard s.orders[i].status == "Working" else {
                    return Reply(status: 200, payload: ["failureReason": "TooLate", "failureText": "Order is \(s.orders[i].status)"])
                }
                if let q = (json["orderQty"] as? NSNumber)?.intValue { s.orders[i].qty = q }
                if let t = json["orderType"] as? String { s.orders[i].type = t }
                s.orders[i].price = jsonDecimal(json["price"])
                s.orders[i].stop = jsonDecimal(json["stopPrice"])
                Self.pushProps(&s, "order", Self.orderJSON(s.orders[i]), "Updated")
                Self.pushProps(&s, "orderVersion", Self.versionJSON(s.orders[i]), "Created")
                if s.fillMode == .instant { Self.matchAll(&s) }
                return Reply(status: 200, payload: ["commandId": s.nextID])
            case "order/cancelorder":
                if let id = account(json["orderId"]) { s.cancelRequests.append(id) }
                guard let id = account(json["orderId"]), let i = s.orders.firstIndex(where: { $0.id == id }) else {
                    return Reply(status: 200, payload: ["failureReason": "UnknownReason", "failureText": "Order not found"])
                }
                guard s.orders[i].status == "Working" else {
                    return Reply(status: 200, payload: ["failureReason": "TooLate", "failureText": "Order is \(s.orders[i].status)"])
                }
                s.orders[i].status = "Canceled"
                Self.pushProps(&s, "order", Self.orderJSON(s.orders[i]), "Updated")
                return Reply(status: 200, payload: ["commandId": s.nextID])
            case "order/liquidateposition":
                s.liquidations += 1
                if !s.rejectLiquidations.isEmpty {
                    let reason = s.rejectLiquidations.removeFirst()
                    return Reply(status: 200, payload: ["failureReason": reason, "failureText": "Simulated liquidation rejection"])
                }
                guard let a = account(json["accountId"]), let cid = account(json["contractId"]), let p = s.positions[a]?[cid], p.netPos != 0 else {
                    return Reply(status: 200, payload: ["failureReason": "UnknownReason", "failureText": "No position to liquidate"])
                }
                let id = s.nextID; s.nextID += 1
                s.orders.append(
                    Order(
                        id: id, accountId: a, contractId: cid, action: p.netPos > 0 ? "Sell" : "Buy", status: "Working", qty: abs(p.netPos),
                        type: "Market", price: nil, stop: nil, clOrdId: nil, isAutomated: json["isAutomated"] as? Bool ?? false, timestamp: Date()))
                Self.matchAll(&s)
                return Reply(status: 200, payload: ["orderId": id])
            default:
                return Reply(status: 404, payload: nil)
            }
        }
    }

    // MARK: REST

    /// The order-writing endpoints (counted, and subject to write faults).
    static let orderWrites: Set<String> = [
        "order/placeorder", "order/modifyorder", "order/cancelorder", "order/liquidateposition",
    ]

    private func router() -> Router<SimRequestContext> {
        let router = Router(context: SimRequestContext.self)
        let handler: @Sendable (Request, SimRequestContext) async throws -> Response = { request, context in
            let endpoint = String(request.uri.path.dropFirst("/v1/".count))
            let write = request.method == .post && Self.orderWrites.contains(endpoint)
            if write { self.state.withLock { $0.orderWrites.append(endpoint) } }
            var r = request
            let body = request.method == .post ? try await r.bodyData() : nil
            let latency = self.state.withLock { $0.latency }
            if latency > .zero { try? await Task.sleep(for: latency) }
            if !endpoint.hasPrefix("auth/"), let fault = self.state.withLock({ s -> Fault? in s.faults.isEmpty ? nil : s.faults.removeFirst() }) {
                switch fault {
                case .status(let c): return rawResponse(.init(code: c), "")
                case .throttle: return Response(status: .tooManyRequests)
                case .malformed: return rawResponse(.ok, "[{\"id\": ")
                case .dropConnection: return droppedConnectionResponse()
                }
            }
            var query: [String: String] = [:]
            for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
            let reply = self.dispatch(endpoint, query: query, body: body, token: request.bearerToken())
            switch write ? self.state.withLock({ s -> WriteFault? in s.writeFaults.isEmpty ? nil : s.writeFaults.removeFirst() }) : nil {
            case .acceptThenDrop:
                // The write is done; the connection closes before a byte of the answer is sent.
                try await context.channel.close()
                throw SimulatedDrop()
            case .acceptThenStatus(let code):
                return rawResponse(.init(code: code), "")
            case nil: break
            }
            let lose = self.state.withLock { s -> Bool in
                guard reply.status == 200, let i = s.loseAnswers.firstIndex(of: endpoint) else { return false }
                s.loseAnswers.remove(at: i)
                return true
            }
            if lose { return droppedConnectionResponse() }
            if reply.status == 401 { return rawResponse(.unauthorized, "Access is denied", contentType: "text/plain") }
            guard let payload = reply.payload else { return Response(status: .init(code: reply.status)) }
            return jsonResponse(.init(code: reply.status), payload)
        }
        router.get("v1/**", use: handler)
        router.post("v1/**", use: handler)
        return router
    }

    // MARK: WebSocket

    private func session(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, _ channel: any Channel, marketData: Bool) async throws {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let id = state.withLock { s -> Int in
            let id = s.nextConn
            s.nextConn += 1
            s.wsConnects += 1
            if marketData { s.mdConnects += 1 }
            s.conns[id] = Conn(send: continuation, channel: channel, lastClientHeartbeat: elapsed(), marketData: marketData)
            return id
        }
        defer { _ = state.withLock { $0.conns.removeValue(forKey: id) } }
        continuation.yield("o")
        let (timers, clockTime) = (self.timers, self.elapsed)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await text in stream {
                    try await outbound.write(.text(text))
                    if text.hasPrefix("c") { return }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    let (interval, send, timeout) = self.state.withLock { ($0.heartbeatInterval, $0.sendHeartbeats && !$0.silent, $0.clientTimeout) }
                    try await timers.sleep(for: interval)
                    let now = clockTime()
                    let stale = self.state.withLock { s -> Bool in
                        guard let c = s.conns[id] else { return true }
                        return now - c.lastClientHeartbeat > .milliseconds(Int64(timeout * 1000))
                    }
                    if stale { channel.close(promise: nil); return }
                    if send { continuation.yield("h") }
                }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    self.handleFrame(id, text)
                }
                continuation.finish()
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func handleFrame(_ conn: Int, _ text: String) {
        let now = elapsed()
        state.withLock { $0.conns[conn]?.lastClientHeartbeat = now }
        if text == "[]" || state.withLock({ $0.silent }) { return }
        let parts = text.split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, let rid = Int(parts[1]) else { return }
        let endpoint = parts[0]
        let query = parts.count > 2 ? parts[2] : ""
        let body = parts.count > 3 ? parts[3] : ""
        func reply(_ status: Int, _ payload: Any? = nil) {
            var m: [String: Any] = ["s": status, "i": rid]
            if let payload { m["d"] = payload }
            _ = state.withLock { $0.conns[conn]?.send.yield(Self.frame([m])) }
        }
        if endpoint == "authorize" {
            let token = body.trimmingCharacters(in: CharacterSet(charactersIn: "\" \n"))
            if let status = state.withLock({ s -> Int? in s.refusedAuthorizes.isEmpty ? nil : s.refusedAuthorizes.removeFirst() }) {
                reply(status, "Service unavailable")
                return
            }
            let ok = state.withLock { s -> Bool in
                guard valid(s, token) else { return false }
                s.conns[conn]?.token = token
                return true
            }
            ok ? reply(200) : reply(401, "Access is denied")
            return
        }
        guard let token = state.withLock({ $0.conns[conn]?.token }) else { reply(401, "Access is denied"); return }
        let marketData = state.withLock { $0.conns[conn]?.marketData ?? false }
        if marketData != endpoint.lowercased().hasPrefix("md/") {
            reply(404, ["errorText": marketData ? "The market-data socket serves md/* only" : "md/* is served on the market-data socket"])
            return
        }
        let refused = state.withLock { s -> Int? in
            guard let i = s.refusedSocketRequests.firstIndex(where: { $0.0 == endpoint }) else { return nil }
            return s.refusedSocketRequests.remove(at: i).1
        }
        if let refused {
            reply(refused, ["errorText": "refused by the simulator"])
            return
        }
        switch endpoint.lowercased() {
        case "user/syncrequest":
            let snapshot = state.withLock { s -> [String: Any]? in
                guard valid(s, token) else { return nil }
                s.conns[conn]?.synced = true
                s.syncRequests += 1
                return [
                    "users": [["id": s.userId, "name": s.username]],
                    "accounts": s.accounts.map { ["id": $0.id, "name": $0.name, "userId": s.userId] as [String: Any] },
                    "positions": s.positions.flatMap { a, m in m.map { Self.positionJSON(a, $0.key, $0.value) } },
                    "orders": s.orders.map(Self.orderJSON), "orderVersions": s.orders.map(Self.versionJSON),
                    "cashBalances": s.cash.map { ["accountId": $0.key, "amount": NSDecimalNumber(decimal: $0.value)] as [String: Any] },
                    "contracts": s.contracts.map { ["id": $0.id, "name": $0.name] as [String: Any] }, "contractGroups": [],
                    "commands": s.orders.map(Self.commandJSON), "fillFees": s.fillFees.sorted { $0.key < $1.key }.map { Self.feeJSON($0.key, $0.value) },
                    "fills": s.fills.map {
                        [
                            "id": $0.id, "orderId": $0.orderId, "contractId": $0.contractId, "qty": $0.qty, "price": NSDecimalNumber(decimal: $0.price),
                            "action": $0.action, "active": true,
                        ] as [String: Any]
                    },
                ]
            }
            if let snapshot { reply(200, snapshot) } else { reply(401, "Access is denied") }
        case "md/subscribequote", "md/unsubscribequote":
            let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            let sym = json["symbol"]
            let found = state.withLock { s -> Bool in
                guard valid(s, token), let c = s.contracts.first(where: { $0.name == sym as? String || (sym as? NSNumber)?.int64Value == $0.id }) else {
                    return false
                }
                if endpoint.lowercased() == "md/subscribequote" { s.conns[conn]?.quotes.insert(c.id) } else { s.conns[conn]?.quotes.remove(c.id) }
                return true
            }
            guard found else { reply(404, ["errorText": "Unknown symbol"]); return }
            reply(200)
            if endpoint.lowercased() == "md/subscribequote" {
                state.withLock { s in
                    if let c = s.contracts.first(where: { $0.name == sym as? String || (sym as? NSNumber)?.int64Value == $0.id }) { Self.pushQuote(&s, c.id) }
                }
            }
        default:
            var q: [String: String] = [:]
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { q[kv[0]] = kv[1] }
            }
            let r = dispatch(endpoint, query: q, body: body.isEmpty ? nil : Data(body.utf8), token: token)
            reply(r.status, r.payload)
        }
    }
}
