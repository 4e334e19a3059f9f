public import Foundation
public import SchedctlBase
import Synchronization

/// An in-process broker with durable cash, positions and orders.
///
/// Market orders fill at the current price; limit orders fill when the price source crosses the
/// limit (at the current price), stop orders trigger when the price reaches the stop. Buying more
/// than the cash allows, or selling more than is held, is rejected. Placing an order with an
/// idempotency key already used returns the existing order instead of a duplicate. Every
/// operation reads, changes and writes the ledger in one transaction, so two processes on one
/// database (a service and its successor after a takeover) never lose or double an order.
/// With `liquidity`, a crossing order fills at most that many shares per match (partial fills).
///
/// ```swift
/// let paper = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: db), cash: 100_000,
///                                        prices: RandomWalkPriceSource(seed: 42))
/// _ = try await paper.place(order, account: PaperBroker.defaultAccount)
/// try await paper.advance()   // next price step; fills working orders that cross
/// ```
public actor PaperBroker: Brokerage, OrderConfirming, GroupOrderPlacing, ClosedOrderListing {
    /// The account id used when none is given.
    public static let defaultAccount = "PAPER"
    public nonisolated let brokerName = "paper"

    private let ledger: any PaperLedger
    private let engine: PaperMatching
    private let accountID: String
    /// The last state this process read or wrote (for ``step`` and ``snapshot``).
    private var state: PaperAccountState

    private init(ledger: any PaperLedger, engine: PaperMatching, state: PaperAccountState) {
        self.ledger = ledger
        self.engine = engine
        self.accountID = state.accountID
        self.state = state
    }

    /// Opens the paper account `accountID`, creating it with `cash` the first time.
    public static func open(
        ledger: any PaperLedger, accountID: String = defaultAccount, cash: Decimal,
        prices: any PriceSource = RandomWalkPriceSource(seed: 1), clock: WallClock = .system, liquidity: Decimal? = nil
    ) async throws -> PaperBroker {
        guard cash >= 0 else { throw BrokerError.invalid("paper starting cash \(cash) must not be negative") }
        if let liquidity, liquidity <= 0 { throw BrokerError.invalid("paper liquidity \(liquidity) must be greater than zero") }
        let engine = PaperMatching(prices: prices, clock: clock, liquidity: liquidity)
        if let existing = try await ledger.load(accountID: accountID) {
            return PaperBroker(ledger: ledger, engine: engine, state: existing)
        }
        let fresh = PaperAccountState(accountID: accountID, cash: cash)
        try await ledger.save(fresh)
        return PaperBroker(ledger: ledger, engine: engine, state: fresh)
    }

    /// The price step as last seen by this process.
    public var step: Int { state.step }

    /// A copy of the whole state as last seen by this process (for reports and tests).
    public var snapshot: PaperAccountState { state }

    /// Moves prices `steps` forward and fills working orders that cross; persists.
    public func advance(steps: Int = 1) async throws {
        precondition(steps >= 0)
        try await transact { [engine] s in
            for _ in 0..<steps {
                s.step += 1
                engine.matchWorking(&s)
            }
        }
    }

    /// The current price of `symbol`.
    public func currentPrice(_ symbol: Symbol) async throws -> Decimal {
        try engine.price(symbol, atStep: try await fresh().step)
    }

    // MARK: Brokerage

    public func accounts() async throws -> [BrokerAccount] {
        [BrokerAccount(id: accountID, type: "Cash", status: "Active", currency: "USD")]
    }

    public func balance(account: String) async throws -> AccountBalance {
        try check(account)
        let s = try await fresh()
        var mv: Decimal = 0
        for (symbol, h) in s.positions { mv += h.quantity * ((try? engine.price(symbol, atStep: s.step)) ?? h.averagePrice) }
        return AccountBalance(accountID: accountID, cash: s.cash, buyingPower: s.cash - engine.reservedCash(s), equity: s.cash + mv, marketValue: mv)
    }

    public func positions(account: String) async throws -> [Position] {
        try check(account)
        let s = try await fresh()
        return s.positions.sorted { $0.key < $1.key }.map { symbol, h in
            Position(
                accountID: accountID, symbol: symbol, quantity: h.quantity, averagePrice: h.averagePrice,
                marketValue: (try? engine.price(symbol, atStep: s.step)).map { $0 * h.quantity })
        }
    }

    public func quotes(_ symbols: [Symbol]) async throws -> PartialResult<Quote> {
        let s = try await fresh()
        var out = PartialResult<Quote>(items: [], errors: [])
        for symbol in symbols {
            if let p = engine.prices.price(of: symbol, atStep: s.step) {
                out.items.append(Quote(symbol: symbol, bid: p, ask: p, last: p, time: engine.clock.now()))
            } else {
                out.errors.append(PartialError(item: symbol.rawValue, code: "FAILED", message: "unknown symbol"))
            }
        }
        return out
    }

    public func confirm(_ order: OrderRequest, account: String) async throws -> OrderConfirmation {
        try check(account)
        let price = try engine.price(order.symbol, atStep: try await fresh().step)
        let est = order.type.limitPrice ?? price
        return OrderConfirmation(
            key: order.key,
            summary: "\(order.side == .buy ? "Buy" : "Sell") \(order.quantity) \(order.symbol) @ \(order.type.limitPrice.map { $0.plainString } ?? "Market")",
            estimatedPrice: est, estimatedCost: est * order.quantity.value, estimatedCommission: 0)
    }

    public func place(_ order: OrderRequest, account: String) async throws -> PlacedOrder {
        try check(account)
        let (result, placed) = try await transact { [engine] s in
            let r = engine.accept(order, into: &s)
            return (r, s.orders.first { $0.id == r.orderID })
        }
        if let o = placed, o.state == .rejected, !result.existing {
            throw BrokerError(
                o.rejectReason?.contains("cash") == true ? .insufficientFunds : .rejected, broker: brokerName,
                "paper order \(o.id) rejected: \(o.rejectReason ?? "rejected")")
        }
        return PlacedOrder(orderID: result.orderID, message: result.message)
    }

    public func placeGroup(_ orders: [OrderRequest], type: OrderGroupType, account: String) async throws -> PartialResult<PlacedOrder> {
        try check(account)
        guard type == .normal else {
            throw BrokerError(.unsupported, broker: brokerName, "the paper broker supports only NORMAL order groups")
        }
        return try await transact { [engine] s in
            var out = PartialResult<PlacedOrder>(items: [], errors: [])
            for o in orders {
                let r = engine.accept(o, into: &s)
                if let placed = s.orders.first(where: { $0.id == r.orderID }), placed.state == .rejected {
                    out.errors.append(PartialError(item: r.orderID, code: "FAILED", message: placed.rejectReason ?? "rejected"))
                } else {
                    out.items.append(PlacedOrder(orderID: r.orderID, message: r.message))
                }
            }
            return out
        }
    }

    public func orders(account: String) async throws -> [Order] {
        try check(account)
        return try await fresh().orders.reversed().map(export)
    }

    public func closedOrders(account: String, since: Date) async throws -> [Order] {
        try check(account)
        return try await fresh().orders.reversed().filter { $0.closedAt.map { $0 >= since } ?? false }.map(export)
    }

    public func order(id: String, account: String) async throws -> Order {
        try check(account)
        guard let o = try await fresh().orders.first(where: { $0.id == id }) else {
            throw BrokerError(.notFound, broker: brokerName, "paper order \(id) does not exist")
        }
        return export(o)
    }

    public func replace(orderID: String, account: String, with replacement: OrderReplacement) async throws {
        try check(account)
        let broker = brokerName
        try await transact { [engine] s in
            let i = try Self.openOrder(orderID, in: s, broker: broker) { "paper order \(orderID) is \($0) and cannot be replaced" }
            if let q = replacement.quantity {
                guard q.value >= s.orders[i].filledQuantity else {
                    throw BrokerError(.rejected, broker: broker, "new quantity \(q) is below the \(s.orders[i].filledQuantity) already filled")
                }
                s.orders[i].quantity = q.value
            }
            if replacement.toMarket { s.orders[i].limitPrice = nil; s.orders[i].stopPrice = nil }
            if let l = replacement.limitPrice { s.orders[i].limitPrice = l }
            if let st = replacement.stopPrice { s.orders[i].stopPrice = st }
            engine.matchWorking(&s)
        }
    }

    /// The index of order `id` in `s`: not found, or rejected with `ended(state)` when it has
    /// already ended.
    private static func openOrder(_ id: String, in s: PaperAccountState, broker: String, ended: (String) -> String) throws(BrokerError) -> Int {
        guard let i = s.orders.firstIndex(where: { $0.id == id }) else {
            throw BrokerError(.notFound, broker: broker, "paper order \(id) does not exist")
        }
        guard !s.orders[i].state.isTerminal else { throw BrokerError(.rejected, broker: broker, ended(s.orders[i].state.rawValue)) }
        return i
    }

    public func cancel(orderID: String, account: String) async throws {
        try check(account)
        let broker = brokerName
        try await transact { [engine] s in
            let i = try Self.openOrder(orderID, in: s, broker: broker) { "paper order \(orderID) is already \($0)" }
            s.orders[i].state = .cancelled
            s.orders[i].closedAt = engine.clock.now()
        }
    }

    // MARK: Plumbing

    private func check(_ account: String) throws {
        guard account == accountID else {
            throw BrokerError(.notFound, broker: brokerName, "paper account '\(account)' does not exist (this one is '\(accountID)')")
        }
    }

    /// The stored state (another process may have changed it).
    private func fresh() async throws -> PaperAccountState {
        guard let s = try await ledger.load(accountID: accountID) else {
            throw BrokerError(.notFound, broker: brokerName, "paper account '\(accountID)' does not exist")
        }
        state = s
        return s
    }

    /// Read, change and write in one ledger transaction.
    private func transact<T: Sendable>(_ body: @escaping @Sendable (inout PaperAccountState) throws -> T) async throws -> T {
        let box = StateBox()
        let result = try await ledger.update(accountID: accountID) { s in
            let r = try body(&s)
            box.set(s)
            return r
        }
        if let s = box.get() { state = s }
        return result
    }

    private func export(_ o: PaperOrder) -> Order {
        Order(
            id: o.id, accountID: accountID, symbol: o.symbol, side: o.side, quantity: o.quantity, filledQuantity: o.filledQuantity,
            averageFillPrice: o.averageFillPrice, limitPrice: o.limitPrice, stopPrice: o.stopPrice, state: o.state,
            brokerStatus: o.state.rawValue, rejectReason: o.rejectReason, key: o.key.rawValue, openedAt: o.openedAt, closedAt: o.closedAt)
    }
}

/// Carries the state written inside a ledger transaction back out of it.
private final class StateBox: Sendable {
    private let value = Mutex<PaperAccountState?>(nil)
    func set(_ s: PaperAccountState) { value.withLock { $0 = s } }
    func get() -> PaperAccountState? { value.withLock { $0 } }
}

/// The paper broker's matching rules, pure functions of the state, prices and clock.
struct PaperMatching: Sendable {
    let prices: any PriceSource
    let clock: WallClock
    let liquidity: Decimal?

    func price(_ symbol: Symbol, atStep step: Int) throws -> Decimal {
        guard let p = prices.price(of: symbol, atStep: step) else {
            throw BrokerError(.notFound, broker: "paper", "no paper price for \(symbol)")
        }
        return p
    }

    func accept(_ order: OrderRequest, into s: inout PaperAccountState) -> (orderID: String, message: String, existing: Bool) {
        if let existing = s.orders.first(where: { $0.key == order.key }) {
            return (existing.id, "Order already placed with key \(order.key)", true)
        }
        let id = "P\(s.nextOrderNumber)"
        s.nextOrderNumber += 1
        let o = PaperOrder(
            id: id, key: order.key, symbol: order.symbol, side: order.side, quantity: order.quantity.value,
            filledQuantity: 0, averageFillPrice: nil, limitPrice: order.type.limitPrice,
            stopPrice: order.type.stopPrice, timeInForce: order.timeInForce, state: .working, rejectReason: nil,
            openedAt: clock.now(), closedAt: nil)
        s.orders.append(o)
        let i = s.orders.count - 1
        guard let price = prices.price(of: order.symbol, atStep: s.step) else {
            reject(&s, i, "no price for \(order.symbol)")
            return (id, "Rejected", false)
        }
        // Up-front checks against cash and holdings (working orders included).
        if order.side == .buy {
            let cost = (order.type.limitPrice ?? price) * order.quantity.value
            let available = s.cash - reservedCash(s, excluding: id)
            if cost > available {
                reject(&s, i, "insufficient cash: needs \(cost.plainString), available \(available.plainString)")
                return (id, "Rejected", false)
            }
        } else {
            let held = s.positions[order.symbol]?.quantity ?? 0
            let committed = reservedShares(s, order.symbol, excluding: id)
            if order.quantity.value > held - committed {
                reject(
                    &s, i, "insufficient position: selling \(order.quantity) \(order.symbol), holding \((held - committed).plainString) not already committed")
                return (id, "Rejected", false)
            }
        }
        matchWorking(&s)
        let verb = order.side == .buy ? "Buy" : "Sell"
        return (id, "Sent order: \(verb) \(order.quantity) \(order.symbol) @ \(order.type.limitPrice?.plainString ?? "Market")", false)
    }

    func reject(_ s: inout PaperAccountState, _ i: Int, _ reason: String) {
        s.orders[i].state = .rejected
        s.orders[i].rejectReason = reason
        s.orders[i].closedAt = clock.now()
    }

    func reservedCash(_ s: PaperAccountState, excluding: String? = nil) -> Decimal {
        s.orders.filter { !$0.state.isTerminal && $0.side == .buy && $0.id != excluding }.reduce(0) { sum, o in
            let p = o.limitPrice ?? prices.price(of: o.symbol, atStep: s.step) ?? 0
            return sum + p * (o.quantity - o.filledQuantity)
        }
    }

    func reservedShares(_ s: PaperAccountState, _ symbol: Symbol, excluding: String) -> Decimal {
        s.orders.filter { !$0.state.isTerminal && $0.side == .sell && $0.symbol == symbol && $0.id != excluding }
            .reduce(0) { $0 + $1.quantity - $1.filledQuantity }
    }

    func matchWorking(_ s: inout PaperAccountState) {
        for i in s.orders.indices where !s.orders[i].state.isTerminal {
            let o = s.orders[i]
            guard let price = prices.price(of: o.symbol, atStep: s.step) else { continue }
            var marketable: Bool
            switch (o.limitPrice, o.stopPrice) {
            case (nil, nil): marketable = true
            case (let l?, nil): marketable = o.side == .buy ? price <= l : price >= l
            case (nil, let st?): marketable = o.side == .buy ? price >= st : price <= st
            case (let l?, let st?):
                let triggered = o.side == .buy ? price >= st : price <= st
                marketable = triggered && (o.side == .buy ? price <= l : price >= l)
            }
            guard marketable else { continue }
            let qty = min(o.quantity - o.filledQuantity, liquidity ?? .greatestFiniteMagnitude)
            let value = qty * price
            if o.side == .buy {
                guard value <= s.cash else {
                    reject(&s, i, "insufficient cash at fill: needs \(value.plainString), have \(s.cash.plainString)")
                    continue
                }
                s.cash -= value
                let h = s.positions[o.symbol] ?? PaperHolding(quantity: 0, averagePrice: 0)
                let newQty = h.quantity + qty
                s.positions[o.symbol] = PaperHolding(quantity: newQty, averagePrice: ((h.quantity * h.averagePrice + value) / newQty).rounded(scale: 6))
            } else {
                guard let h = s.positions[o.symbol], h.quantity >= qty else {
                    reject(&s, i, "insufficient position at fill")
                    continue
                }
                s.cash += value
                let left = h.quantity - qty
                s.positions[o.symbol] = left == 0 ? nil : PaperHolding(quantity: left, averagePrice: h.averagePrice)
            }
            let prevValue = (o.averageFillPrice ?? 0) * o.filledQuantity
            let filled = o.filledQuantity + qty
            s.orders[i].filledQuantity = filled
            s.orders[i].averageFillPrice = ((prevValue + value) / filled).rounded(scale: 6)
            if filled == o.quantity {
                s.orders[i].state = .filled
                s.orders[i].closedAt = clock.now()
            } else {
                s.orders[i].state = .partiallyFilled
            }
        }
    }
}
