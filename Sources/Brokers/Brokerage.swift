public import Foundation

/// Buy or sell.
public enum OrderSide: String, Sendable, Codable, Hashable {
    case buy, sell
}

/// The kind of order and its prices.
public enum OrderType: Sendable, Hashable, Codable {
    case market
    case limit(Decimal)
    case stop(Decimal)
    case stopLimit(stop: Decimal, limit: Decimal)

    /// Limit price, when the type has one.
    public var limitPrice: Decimal? {
        switch self {
        case .limit(let p): return p
        case .stopLimit(_, let l): return l
        default: return nil
        }
    }

    /// Stop price, when the type has one.
    public var stopPrice: Decimal? {
        switch self {
        case .stop(let s): return s
        case .stopLimit(let s, _): return s
        default: return nil
        }
    }

    func validated() throws(BrokerError) -> OrderType {
        switch self {
        case .market: return self
        case .limit(let p): return .limit(try validatedPrice(p, field: "limit price"))
        case .stop(let p): return .stop(try validatedPrice(p, field: "stop price"))
        case .stopLimit(let s, let l):
            return .stopLimit(stop: try validatedPrice(s, field: "stop price"), limit: try validatedPrice(l, field: "limit price"))
        }
    }
}

/// How long an order works.
public enum TimeInForce: String, Sendable, Codable, Hashable {
    case day, goodTillCancelled, immediateOrCancel, fillOrKill
}

/// An order to send. Construct through ``init(symbol:side:quantity:type:timeInForce:key:)`` which validates.
///
/// ```swift
/// let order = try OrderRequest(symbol: "MSFT", side: .buy, quantity: 10, type: .limit(412.5),
///                              key: .derived(from: runID, "step-3"))
/// ```
public struct OrderRequest: Sendable, Hashable, Codable {
    /// Symbol to trade.
    public let symbol: Symbol
    /// Buy or sell.
    public let side: OrderSide
    /// Quantity (positive).
    public let quantity: Quantity
    /// Order type and prices.
    public let type: OrderType
    /// Time in force.
    public let timeInForce: TimeInForce
    /// Idempotency key (`OrderConfirmID` / `clOrdId`).
    public let key: IdempotencyKey

    /// Validates prices for the given type.
    public init(symbol: Symbol, side: OrderSide, quantity: Quantity, type: OrderType, timeInForce: TimeInForce = .day, key: IdempotencyKey) throws(BrokerError)
    {
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.type = try type.validated()
        self.timeInForce = timeInForce
        self.key = key
    }
}

/// A change to a working order: new quantity and/or prices, or conversion to market.
public struct OrderReplacement: Sendable, Hashable, Codable {
    /// New total quantity.
    public var quantity: Quantity?
    /// New limit price.
    public var limitPrice: Decimal?
    /// New stop price.
    public var stopPrice: Decimal?
    /// Convert to a market order.
    public var toMarket: Bool

    /// Creates a replacement; prices are validated.
    public init(quantity: Quantity? = nil, limitPrice: Decimal? = nil, stopPrice: Decimal? = nil, toMarket: Bool = false) throws(BrokerError) {
        self.quantity = quantity
        self.limitPrice = try limitPrice.map { (p) throws(BrokerError) in try validatedPrice(p, field: "limit price") }
        self.stopPrice = try stopPrice.map { (p) throws(BrokerError) in try validatedPrice(p, field: "stop price") }
        self.toMarket = toMarket
        guard quantity != nil || limitPrice != nil || stopPrice != nil || toMarket else {
            throw .invalid("a replacement must change the quantity, a price, or convert to market")
        }
    }
}

/// The small set of order states every broker maps to.
public enum OrderState: String, Sendable, Codable, Hashable, CaseIterable {
    /// Accepted by the broker, not yet working at the venue.
    case pending
    /// Working at the venue, nothing filled.
    case working
    /// Some filled, the rest still working.
    case partiallyFilled
    /// Completely filled.
    case filled
    /// Cancelled (including expired, replaced-out, and partly-filled-then-cancelled).
    case cancelled
    /// Rejected by the broker.
    case rejected
    /// A state the broker reported that we cannot classify.
    case unknown

    /// No further change will happen.
    public var isTerminal: Bool { [.filled, .cancelled, .rejected].contains(self) }

    /// Maps a TradeStation v3 `Status` code (BROKERS.md §1.6).
    public static func tradeStation(_ code: String, closed: Bool = false) -> OrderState {
        switch code.uppercased() {
        case "FLL", "BRF": return .filled
        case "FPR": return .partiallyFilled
        case "FLP": return .cancelled
        case "REJ", "TSC", "RJR", "BRO": return .rejected
        case "CAN", "EXP", "SCN", "UCH": return .cancelled
        case "OUT": return closed ? .cancelled : .working
        case "ACK", "DON", "PLA", "OSO", "DIS", "CND", "REC": return .pending
        case "OPN", "CHG", "COR", "ECN", "LAT", "RPD", "RSN", "STP", "STT", "SUS", "UCN", "CSN", "RJC", "ASS", "EXE", "DOA":
            return .working
        default: return .unknown
        }
    }

    /// Maps a Tradovate `ordStatus`.
    public static func tradovate(_ status: String) -> OrderState {
        switch status {
        case "Working", "PendingCancel", "PendingReplace", "Suspended": return .working
        case "PendingNew": return .pending
        case "Filled", "Completed": return .filled
        case "Canceled", "Expired": return .cancelled
        case "Rejected": return .rejected
        default: return .unknown
        }
    }
}

/// An account at a broker.
public struct BrokerAccount: Sendable, Hashable, Codable {
    /// Broker's account id.
    public var id: String
    /// Account type as the broker names it (`Cash`, `Margin`, `Futures`, …).
    public var type: String
    /// Status (`Active`, …).
    public var status: String
    /// Currency, e.g. `USD`.
    public var currency: String
    public init(id: String, type: String, status: String, currency: String) {
        self.id = id; self.type = type; self.status = status; self.currency = currency
    }
}

/// Cash and value of an account.
public struct AccountBalance: Sendable, Hashable, Codable {
    /// Account id.
    public var accountID: String
    /// Cash.
    public var cash: Decimal
    /// Buying power.
    public var buyingPower: Decimal
    /// Equity (cash + market value).
    public var equity: Decimal
    /// Market value of positions.
    public var marketValue: Decimal
    public init(accountID: String, cash: Decimal, buyingPower: Decimal, equity: Decimal, marketValue: Decimal) {
        self.accountID = accountID; self.cash = cash; self.buyingPower = buyingPower; self.equity = equity; self.marketValue = marketValue
    }
}

/// A holding. `quantity` is signed: negative for a short.
public struct Position: Sendable, Hashable, Codable {
    public var accountID: String
    public var symbol: Symbol
    /// Signed quantity (negative = short).
    public var quantity: Decimal
    /// Average entry price.
    public var averagePrice: Decimal
    /// Market value, when the broker reports it.
    public var marketValue: Decimal?
    public init(accountID: String, symbol: Symbol, quantity: Decimal, averagePrice: Decimal, marketValue: Decimal? = nil) {
        self.accountID = accountID; self.symbol = symbol; self.quantity = quantity; self.averagePrice = averagePrice; self.marketValue = marketValue
    }
}

/// A price snapshot.
public struct Quote: Sendable, Hashable, Codable {
    public var symbol: Symbol
    public var bid: Decimal?
    public var ask: Decimal?
    public var last: Decimal?
    /// When the bid and ask were last updated, when the broker says (TradeStation's snapshot
    /// does not: it has only the last trade's time). Staleness is judged from this.
    public var time: Date?
    /// When the symbol last traded (TradeStation `TradeTime`); a thin ETF may not have traded
    /// for hours while its bid and ask are live, so this never makes a quote stale.
    public var tradeTime: Date?
    /// The broker flags the quote as delayed.
    public var delayed: Bool
    /// The broker flags the symbol as halted.
    public var halted: Bool
    public init(
        symbol: Symbol, bid: Decimal?, ask: Decimal?, last: Decimal?, time: Date? = nil, tradeTime: Date? = nil, delayed: Bool = false,
        halted: Bool = false
    ) {
        self.symbol = symbol; self.bid = bid; self.ask = ask; self.last = last
        self.time = time; self.tradeTime = tradeTime; self.delayed = delayed; self.halted = halted
    }

    /// The mid of a usable two-sided quote (both sides positive, not crossed), else nil.
    public var twoSidedMid: Decimal? {
        guard let b = bid, let a = ask, b > 0, a > 0, a >= b else { return nil }
        return (b + a) / 2
    }

    /// The mid of bid and ask when both are positive and not crossed; else the last price.
    public var mid: Decimal? {
        if let b = bid, let a = ask, b > 0, a > 0, a >= b { return (b + a) / 2 }
        if let l = last, l > 0 { return l }
        return nil
    }
}

/// A per-item error a broker returned inside an otherwise successful response.
public struct PartialError: Sendable, Hashable, Codable {
    /// The item concerned (account id, symbol or order id).
    public var item: String
    /// Broker's error code (`Forbidden`, `FAILED`, …).
    public var code: String
    /// Broker's message.
    public var message: String
    public init(item: String, code: String, message: String) { self.item = item; self.code = code; self.message = message }
}

/// Items plus the per-item errors that came with them (a partial success is not hidden).
public struct PartialResult<Item: Sendable>: Sendable {
    public var items: [Item]
    public var errors: [PartialError]
    public init(items: [Item], errors: [PartialError]) { self.items = items; self.errors = errors }
}

extension PartialResult: Equatable where Item: Equatable {}

/// The result of a dry-run confirmation.
public struct OrderConfirmation: Sendable, Hashable, Codable {
    public var key: IdempotencyKey?
    public var summary: String
    public var estimatedPrice: Decimal?
    public var estimatedCost: Decimal?
    public var estimatedCommission: Decimal?
    public init(key: IdempotencyKey?, summary: String, estimatedPrice: Decimal?, estimatedCost: Decimal?, estimatedCommission: Decimal?) {
        self.key = key; self.summary = summary; self.estimatedPrice = estimatedPrice; self.estimatedCost = estimatedCost;
        self.estimatedCommission = estimatedCommission
    }
}

/// One order the broker accepted at placement.
public struct PlacedOrder: Sendable, Hashable, Codable {
    public var orderID: String
    public var message: String
    public init(orderID: String, message: String) { self.orderID = orderID; self.message = message }
}

/// An order as the broker reports it.
public struct Order: Sendable, Hashable, Codable {
    public var id: String
    public var accountID: String
    public var symbol: Symbol?
    public var side: OrderSide?
    public var quantity: Decimal
    public var filledQuantity: Decimal
    public var averageFillPrice: Decimal?
    public var limitPrice: Decimal?
    public var stopPrice: Decimal?
    public var state: OrderState
    /// The broker's own status code (e.g. TradeStation `FLL`), for logs and reconciliation.
    public var brokerStatus: String
    public var rejectReason: String?
    /// Idempotency key, when the broker echoes it.
    public var key: String?
    public var openedAt: Date?
    public var closedAt: Date?
    public init(
        id: String, accountID: String, symbol: Symbol?, side: OrderSide?, quantity: Decimal, filledQuantity: Decimal,
        averageFillPrice: Decimal?, limitPrice: Decimal?, stopPrice: Decimal?, state: OrderState, brokerStatus: String,
        rejectReason: String? = nil, key: String? = nil, openedAt: Date? = nil, closedAt: Date? = nil
    ) {
        self.id = id; self.accountID = accountID; self.symbol = symbol; self.side = side; self.quantity = quantity
        self.filledQuantity = filledQuantity; self.averageFillPrice = averageFillPrice; self.limitPrice = limitPrice
        self.stopPrice = stopPrice; self.state = state; self.brokerStatus = brokerStatus; self.rejectReason = rejectReason
        self.key = key; self.openedAt = openedAt; self.closedAt = closedAt
    }
}

/// How a group of orders relate.
public enum OrderGroupType: String, Sendable, Codable, Hashable {
    /// Independent orders sent together.
    case normal = "NORMAL"
    /// One-cancels-other.
    case oneCancelsOther = "OCO"
    /// Bracket exit.
    case bracket = "BRK"
}

/// The brokerage operations every broker supports.
public protocol Brokerage: Sendable {
    /// Short broker name (`tradestation`, `tradovate`, `paper`).
    var brokerName: String { get }
    /// Accounts the credentials can see.
    func accounts() async throws -> [BrokerAccount]
    /// Balances of an account.
    func balance(account: String) async throws -> AccountBalance
    /// Positions of an account.
    func positions(account: String) async throws -> [Position]
    /// Quotes; symbols the broker does not know come back in `errors`.
    func quotes(_ symbols: [Symbol]) async throws -> PartialResult<Quote>
    /// Places one order. A business rejection throws a `BrokerError` with `isRejected`.
    func place(_ order: OrderRequest, account: String) async throws -> PlacedOrder
    /// Today's and open orders of an account.
    func orders(account: String) async throws -> [Order]
    /// One order by id.
    func order(id: String, account: String) async throws -> Order
    /// Replaces a working order.
    func replace(orderID: String, account: String, with replacement: OrderReplacement) async throws
    /// Requests cancellation (asynchronous at most brokers: poll ``order(id:account:)``).
    func cancel(orderID: String, account: String) async throws
    /// Replaces a working order and returns the id the order works under afterwards (a broker
    /// may issue a new one; the old one then ends as replaced).
    func replaceOrder(orderID: String, account: String, with replacement: OrderReplacement) async throws -> String
}

extension Brokerage {
    /// Brokers that keep the id on a replace: ``replace(orderID:account:with:)``, then the same id.
    public func replaceOrder(orderID: String, account: String, with replacement: OrderReplacement) async throws -> String {
        try await replace(orderID: orderID, account: account, with: replacement)
        return orderID
    }
}

/// Brokers that can list orders closed since a date (TradeStation `historicalorders`), for
/// reconciliation after a takeover: an order placed and filled earlier today may no longer be
/// among the open ones.
public protocol ClosedOrderListing: Brokerage {
    /// Closed orders since `since` (the date part counts).
    func closedOrders(account: String, since: Date) async throws -> [Order]
}

/// Brokers that can dry-run an order.
public protocol OrderConfirming: Brokerage {
    /// Confirms (dry run, nothing placed).
    func confirm(_ order: OrderRequest, account: String) async throws -> OrderConfirmation
}

/// Brokers that place several orders in one request.
public protocol GroupOrderPlacing: Brokerage {
    /// Places a group. Accepted orders and per-order errors are both returned: a partly placed
    /// group is never hidden.
    func placeGroup(_ orders: [OrderRequest], type: OrderGroupType, account: String) async throws -> PartialResult<PlacedOrder>
}
