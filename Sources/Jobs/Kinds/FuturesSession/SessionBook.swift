import Brokers
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
    /// Fills whose fees were taken from ``realized`` (optional: checkpoints written before fees
    /// were counted still decode).
    public var feesCharged: Set<Int64>?
    /// The fees and commissions taken from ``realized``.
    public var fees: Decimal?

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

    /// Takes a fill's fees from the realized P&L once; false for a fee already charged.
    @discardableResult
    public mutating func charge(fee: Decimal, fillID: Int64) -> Bool {
        guard (feesCharged ?? []).contains(fillID) == false else { return false }
        feesCharged = (feesCharged ?? []).union([fillID])
        fees = (fees ?? 0) + fee
        realized -= fee
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
    public var json: String { SortedJSON.string(Wire(self)) }

    /// The report's JSON shape (the checkpoint keeps the synthesized keys).
    private struct Wire: Encodable {
        var orders, fills, rejects, reconnects: Int
        var realizedPnL, maxDrawdown: Decimal
        var locked, flattened: Bool
        var stopReason: String

        init(_ r: FuturesSessionReport) {
            (orders, fills, rejects, reconnects) = (r.orders, r.fills, r.rejects, r.reconnects)
            (realizedPnL, maxDrawdown, locked, flattened, stopReason) = (r.realizedPnL, r.maxDrawdown, r.locked, r.flattened, r.stopReason)
        }

        enum CodingKeys: String, CodingKey {
            case orders, fills, rejects, reconnects, locked, flattened
            case realizedPnL = "realized_pnl"
            case maxDrawdown = "max_drawdown"
            case stopReason = "stop_reason"
        }
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

/// What the session knows of the broker, kept from the typed sync snapshot and `props` events:
/// the account's positions in the session's contracts, their orders (with their quantities from
/// order versions, and fills against them), clOrdIds, quotes, and each contract's value per
/// point. Pure: the session applies broker entities and reads exposure and P&L from it; the P&L
/// that must survive a crash lives in ``FuturesSessionState``, which `apply` updates.
struct SessionBook: Sendable {
    /// An order of one of the session's contracts.
    struct LiveOrder: Sendable, Hashable {
        var status: String
        var contractID: Int64
        var buy: Bool
        /// The order's quantity (its latest order version; the requested quantity for the
        /// session's own placements); 0 until a version is known.
        var quantity: Int
        /// The quantity filled so far (fills the book saw).
        var filled = 0

        /// What is still to be filled.
        var remaining: Int { max(0, quantity - filled) }
    }

    /// What an applied entity changed, for the strategy and the risk checks.
    enum Change: Sendable, Hashable {
        case position(contractID: Int64, net: Int)
        case order(id: Int64, status: String)
        /// A fill counted into the P&L (once).
        case fill(TradovateFill)
        case cash(amount: Decimal?)
    }

    static let workingStatuses: Set<String> = ["Working", "PendingNew", "PendingReplace", "Suspended"]

    /// The account the session trades (entities of other accounts are not the session's).
    var accountID: Int64?
    /// The session's contracts: symbol by contract id, and value per point.
    private(set) var symbols: [Int64: String] = [:]
    private(set) var valuePerPoint: [Int64: Decimal] = [:]
    var positions: [Int64: Int] = [:]
    var orders: [Int64: LiveOrder] = [:]
    var clOrdIDs: [String: Int64] = [:]
    /// Order quantities from versions that arrived before their order.
    private var versions: [Int64: Int] = [:]
    /// Fees of fills not counted yet (the fee arrived first), by fill id.
    private var waitingFees: [Int64: Decimal] = [:]
    var bids: [Int64: Decimal] = [:]
    var asks: [Int64: Decimal] = [:]
    var prices: [Int64: Decimal] = [:]
    /// When each contract was last quoted (wall time).
    var lastQuote: [Int64: Date] = [:]

    /// Adds one of the session's contracts.
    mutating func add(contract id: Int64, symbol: String, valuePerPoint vpp: Decimal) {
        symbols[id] = symbol
        valuePerPoint[id] = vpp
    }

    /// Whether a Tradovate `contractId` is one of the session's symbols.
    func isSessionContract(_ id: Int64?) -> Bool { id.map { symbols[$0] != nil } ?? false }

    static func isWorking(_ o: LiveOrder) -> Bool { workingStatuses.contains(o.status) }

    /// Applies a `props` entity.
    mutating func apply(_ entity: TradovateEntity, state: inout FuturesSessionState) -> [Change] {
        switch entity {
        case .position(let p):
            guard p.accountId == accountID else { return [] }
            positions[p.contractId] = p.netPos
            return [.position(contractID: p.contractId, net: p.netPos)]
        case .order(let e):
            // Only the session's contracts: another contract's orders and fills (a second job, a
            // manual trade) are not this session's P&L, exposure or stop.
            guard e.accountId == accountID, orders[e.id] != nil || isSessionContract(e.contractId) else { return [] }
            var o = orders[e.id] ?? LiveOrder(status: "", contractID: e.contractId ?? 0, buy: e.isBuy, quantity: versions[e.id] ?? 0)
            o.status = e.ordStatus ?? o.status
            orders[e.id] = o
            return [.order(id: e.id, status: o.status)]
        case .orderVersion(let v):
            if orders[v.orderId] != nil { orders[v.orderId]?.quantity = v.orderQty } else { versions[v.orderId] = v.orderQty }
            return []
        case .command(let c):
            if let cl = c.clOrdId, let id = c.orderId { clOrdIDs[cl] = id }
            return []
        case .fill(let f):
            guard orders[f.orderId] != nil, isSessionContract(f.contractId) else { return [] }
            let changes = count(f, state: &state)
            if !changes.isEmpty { orders[f.orderId]?.filled += f.qty }
            return changes
        case .fillFee(let fee):
            if state.seenFills.contains(fee.id) {
                // A fill the session counted (fills before its baseline are marked charged then).
                state.charge(fee: fee.total, fillID: fee.id)
            } else {
                waitingFees[fee.id] = fee.total
            }
            return []
        case .cashBalance(let c):
            guard c.accountId == accountID else { return [] }
            return [.cash(amount: c.amount)]
        case .contract, .account:
            return []
        }
    }

    private mutating func count(_ f: TradovateFill, state: inout FuturesSessionState) -> [Change] {
        guard let vpp = valuePerPoint[f.contractId],
            state.apply(fillID: f.id, contractID: f.contractId, buy: f.isBuy, quantity: f.qty, price: f.price, valuePerPoint: vpp)
        else { return [] }
        if let fee = waitingFees.removeValue(forKey: f.id) { state.charge(fee: fee, fillID: f.id) }
        prices[f.contractId] = prices[f.contractId] ?? f.price
        return [.fill(f)]
    }

    /// Applies a sync snapshot of the account ``accountID``: positions, orders at their versions'
    /// quantities, clOrdIds, and fills and fees. The first snapshot of a session is its baseline:
    /// fills before it belong to earlier sessions, and positions held are valued from their
    /// average price. Later ones (after a reconnect) count the fills and fees missed meanwhile.
    mutating func apply(snapshot s: TradovateSyncSnapshot, state: inout FuturesSessionState) -> [Change] {
        let me = accountID
        for p in s.positions where p.accountId == me { positions[p.contractId] = p.netPos }
        for v in s.orderVersions { versions[v.orderId] = v.orderQty }
        var filled: [Int64: Int] = [:]
        for f in s.fills where f.active ?? true { filled[f.orderId, default: 0] += f.qty }
        for o in s.orders where o.accountId == me && isSessionContract(o.contractId) {
            orders[o.id] = LiveOrder(
                status: o.ordStatus ?? "", contractID: o.contractId ?? 0, buy: o.isBuy, quantity: versions[o.id] ?? orders[o.id]?.quantity ?? 0,
                filled: filled[o.id] ?? 0)
        }
        for c in s.commands {
            if let cl = c.clOrdId, let id = c.orderId { clOrdIDs[cl] = id }
        }
        let fills = s.fills.filter { orders[$0.orderId] != nil }
        var changes: [Change] = []
        if !state.baselined {
            for f in fills {
                state.seenFills.insert(f.id)
                // Its fee (if any) was an earlier session's: never charged to this one.
                state.feesCharged = (state.feesCharged ?? []).union([f.id])
            }
            for p in s.positions where p.accountId == me {
                guard symbols[p.contractId] != nil, p.netPos != 0 else { continue }
                // Valued from the previous settlement for the part carried from an earlier trade date.
                state.lots[p.contractId] = FuturesSessionState.Lot(quantity: p.netPos, averagePrice: p.openingPrice)
            }
            state.baselined = true
        } else {
            for f in fills { changes += count(f, state: &state) }
            for fee in s.fillFees {
                if state.seenFills.contains(fee.id) { state.charge(fee: fee.total, fillID: fee.id) } else { waitingFees[fee.id] = fee.total }
            }
        }
        return changes
    }

    /// Applies a quote; false when it carries no price.
    mutating func apply(quote q: TradovateQuote, at now: Date) -> Bool {
        if let bid = q.bid { bids[q.contractID] = bid }
        if let ask = q.ask { asks[q.contractID] = ask }
        if let price = q.last ?? q.bid.flatMap({ b in q.ask.map { (b + $0) / 2 } }) { prices[q.contractID] = price }
        guard q.bid != nil || q.ask != nil || q.last != nil else { return false }
        lastQuote[q.contractID] = now
        return true
    }

    /// The quantity still to fill of the working orders of `contract` on one side, plus
    /// `unknown` (orders whose placement outcome is unknown, at their requested quantity).
    func working(contract: Int64, buy: Bool, unknown: Int = 0) -> Int {
        orders.values.filter { $0.contractID == contract && $0.buy == buy && Self.isWorking($0) }.reduce(0) { $0 + $1.remaining } + unknown
    }

    /// The working orders of the session's contracts.
    var workingOrders: [(id: Int64, order: LiveOrder)] {
        orders.filter { Self.isWorking($0.value) && symbols[$0.value.contractID] != nil }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The closing-side mark of every contract with an open lot (bid for a long, ask for a short).
    func marks(_ state: FuturesSessionState) -> [Int64: Decimal] {
        var marks: [Int64: Decimal] = [:]
        for (cid, lot) in state.lots {
            if let mark = ClosingMark.price(quantity: lot.quantity, bid: bids[cid], ask: asks[cid], last: prices[cid]) { marks[cid] = mark }
        }
        return marks
    }

    /// Open P&L of the session's lots, each at its closing-side mark and its product's value per point.
    func openPnL(_ state: FuturesSessionState) -> Decimal { state.open(prices: marks(state), valuePerPoint: valuePerPoint) }

    /// Open P&L by symbol (contracts with an open lot and a mark).
    func openPnLBySymbol(_ state: FuturesSessionState) -> [String: Decimal] {
        let marks = marks(state)
        var out: [String: Decimal] = [:]
        for (cid, lot) in state.lots where lot.quantity != 0 {
            guard let symbol = symbols[cid], let mark = marks[cid], let vpp = valuePerPoint[cid] else { continue }
            out[symbol] = (mark - lot.averagePrice) * Decimal(lot.quantity) * vpp
        }
        return out
    }

    /// The session's contracts with a non-zero position.
    var openPositions: [Int64: Int] { positions.filter { symbols[$0.key] != nil && $0.value != 0 } }

    var isFlat: Bool { openPositions.isEmpty }
}

extension SessionBook {
    /// Records an order the session placed (or reconciled) at its requested quantity; what the
    /// book already learned of it from events (status, fills) is kept.
    mutating func placed(_ id: Int64, contract: Int64, buy: Bool, quantity: Int) {
        var o = orders[id] ?? LiveOrder(status: "Working", contractID: contract, buy: buy, quantity: quantity)
        o.quantity = quantity
        orders[id] = o
    }

    /// The broker's positions read over REST (contract id → net): authoritative for the
    /// session's contracts, which are flat when not listed.
    mutating func broker(positions list: [Int64: Int]) {
        for cid in symbols.keys { positions[cid] = 0 }
        for (cid, net) in list { positions[cid] = net }
    }
}
