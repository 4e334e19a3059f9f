public import Foundation

/// What a session keeps across crashes (inside the intent journal's state): the lock, the P&L
/// accounting of fills, the orders placed by tag, and the report counters.
public struct FuturesSessionState: Codable, Sendable, Hashable {
    /// One open lot per contract, from the fills the session saw.
    public struct Lot: Codable, Sendable, Hashable {
        public var quantity: Int
        public var averagePrice: Decimal
    }

    /// An order the session placed for a strategy tag.
    public struct Placed: Codable, Sendable, Hashable {
        public var orderID: Int64
        public var clOrdID: String
        public var symbol: String
        public var side: String
        public var quantity: Int
    }

    /// Whether the loss limit locked the session (no new order until the next session).
    public var locked = false
    /// Why it is locked.
    public var lockReason: String?
    /// Whether the stop sequence finished and the report was recorded.
    public var finished = false
    /// The report, once finished.
    public var report: FuturesSessionReport?
    /// Realized P&L of fills seen in this session.
    public var realized: Decimal = 0
    /// Open lots by contract id.
    public var lots: [Int64: Lot] = [:]
    /// Fill ids already accounted for.
    public var seenFills: Set<Int64> = []
    /// Whether the first sync snapshot was taken (fills before it belong to earlier sessions).
    public var baselined = false
    /// Highest equity (realized + open) seen and the largest drop from it.
    public var peak: Decimal = 0
    public var maxDrawdown: Decimal = 0
    /// Orders placed by tag.
    public var placed: [String: Placed] = [:]
    /// Wall-clock times of recent placements (for `max_orders_per_minute`).
    public var recentOrders: [Date] = []
    /// Counters for the report.
    public var ordersPlaced = 0
    public var fills = 0
    public var rejects = 0
    /// Reconnects of earlier attempts (a takeover adds its own).
    public var reconnects = 0
    /// Flatten rounds, so each has its own journal steps.
    public var flattens = 0
    /// Why the run failed after its report (the stop could not make it flat), if it did.
    public var failure: String?

    /// A fresh state.
    public init() {}

    /// Applies a fill once; returns false for a fill already counted.
    @discardableResult
    public mutating func apply(fillID: Int64, contractID: Int64, buy: Bool, quantity: Int, price: Decimal, valuePerPoint: Decimal) -> Bool {
        guard quantity > 0, seenFills.insert(fillID).inserted else { return false }
        fills += 1
        var lot = lots[contractID] ?? Lot(quantity: 0, averagePrice: 0)
        let signed = buy ? quantity : -quantity
        if lot.quantity == 0 || (lot.quantity > 0) == (signed > 0) {
            let total = abs(lot.quantity) + quantity
            lot.averagePrice = (lot.averagePrice * Decimal(abs(lot.quantity)) + price * Decimal(quantity)) / Decimal(total)
        } else {
            let closing = min(abs(lot.quantity), quantity)
            realized += (price - lot.averagePrice) * Decimal(closing) * valuePerPoint * (lot.quantity > 0 ? 1 : -1)
            if quantity > abs(lot.quantity) { lot.averagePrice = price }
        }
        lot.quantity += signed
        if lot.quantity == 0 { lot.averagePrice = 0 }
        lots[contractID] = lot
        return true
    }

    /// Open P&L of the lots at `prices` (contract id → last price).
    public func open(prices: [Int64: Decimal], valuePerPoint: [Int64: Decimal]) -> Decimal {
        lots.reduce(Decimal(0)) { sum, entry in
            guard entry.value.quantity != 0, let price = prices[entry.key] else { return sum }
            return sum + (price - entry.value.averagePrice) * Decimal(entry.value.quantity) * (valuePerPoint[entry.key] ?? 1)
        }
    }

    /// Updates the peak and the maximum drawdown with the current equity.
    public mutating func mark(equity: Decimal) {
        if equity > peak { peak = equity }
        maxDrawdown = max(maxDrawdown, peak - equity)
    }
}

/// The summary of a finished session (the run's summary and the `session-report` event).
public struct FuturesSessionReport: Codable, Sendable, Hashable {
    public var orders: Int
    public var fills: Int
    public var rejects: Int
    public var realizedPnL: Decimal
    public var maxDrawdown: Decimal
    public var reconnects: Int
    public var locked: Bool
    public var flattened: Bool
    public var stopReason: String

    /// One line for `history`.
    public var summary: String {
        "session \(stopReason): \(orders) orders, \(fills) fills, realized P&L \(realizedPnL), max drawdown \(maxDrawdown), "
            + "\(reconnects) reconnects\(locked ? ", locked by the loss limit" : "")"
    }

    /// Canonical JSON (`orders`, `fills`, `rejects`, `realized_pnl`, `max_drawdown`, `reconnects`, `locked`, `flattened`, `stop_reason`).
    public var json: String {
        let object: [String: Any] = [
            "orders": orders, "fills": fills, "rejects": rejects, "realized_pnl": NSDecimalNumber(decimal: realizedPnL),
            "max_drawdown": NSDecimalNumber(decimal: maxDrawdown), "reconnects": reconnects, "locked": locked, "flattened": flattened,
            "stop_reason": stopReason,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// The checks every order passes before it reaches the broker.
public struct RiskGuard: Sendable {
    /// The limits.
    public var limits: FuturesSessionSettings.Risk

    /// A guard.
    public init(limits: FuturesSessionSettings.Risk) { self.limits = limits }

    /// Why an order must not be sent, or nil. `net` is the broker's net position of the symbol,
    /// `working` the open quantity of working orders on the same side.
    public func rejection(
        state: FuturesSessionState, now: Date, buy: Bool, quantity: Int, net: Int, working: Int
    ) -> String? {
        if state.locked { return "locked: the daily loss limit was reached; no new order until the next session" }
        let recent = state.recentOrders.filter { now.timeIntervalSince($0) < 60 }.count
        if recent >= limits.maxOrdersPerMinute {
            return "max_orders_per_minute: \(recent) orders in the last minute (limit \(limits.maxOrdersPerMinute))"
        }
        let worst = buy ? net + working + quantity : net - working - quantity
        if abs(worst) > limits.maxPosition {
            return "max_position: the position could reach \(worst) contracts (limit \(limits.maxPosition))"
        }
        return nil
    }

    /// Whether realized plus open P&L reached the loss limit.
    public func lossLimitReached(total: Decimal) -> Bool { total <= -limits.dailyLossLimit }
}
