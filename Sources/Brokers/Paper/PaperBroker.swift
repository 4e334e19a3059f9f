public import Foundation

/// An in-process broker with durable cash, positions and orders.
///
/// Market orders fill at the current price; limit orders fill when the price source crosses the
/// limit (at the current price), stop orders trigger when the price reaches the stop. Buying more
/// than the cash allows, or selling more than is held, is rejected. Placing an order with an
/// idempotency key already used returns the existing order instead of a duplicate.
///
/// ```swift
/// let paper = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: db), cash: 100_000,
///                                        prices: RandomWalkPriceSource(seed: 42))
/// _ = try await paper.place(order, account: PaperBroker.defaultAccount)
/// try await paper.advance()   // next price step; fills working orders that cross
/// ```
public actor PaperBroker: Brokerage, OrderConfirming, GroupOrderPlacing {
    /// The account id used when none is given.
    public static let defaultAccount = "PAPER"
    public nonisolated let brokerName = "paper"

    private let ledger: any PaperLedger
    private let prices: any PriceSource
    private let clock: WallClock
    private var state: PaperAccountState

    private init(ledger: any PaperLedger, prices: any PriceSource, clock: WallClock, state: PaperAccountState) {
        self.ledger = ledger
        self.prices = prices
        self.clock = clock
        self.state = state
    }

    /// Opens the paper account `accountID`, creating it with `cash` the first time.
    public static func open(
        ledger: any PaperLedger, accountID: String = defaultAccount, cash: Decimal,
        prices: any PriceSource = RandomWalkPriceSource(seed: 1), clock: WallClock = .system
    ) async throws -> PaperBroker {
        guard cash >= 0 else { throw BrokerError.invalid("paper starting cash \(cash) must not be negative") }
        if let existing = try await ledger.load(accountID: accountID) {
            return PaperBroker(ledger: ledger, prices: prices, clock: clock, state: existing)
        }
        let fresh = PaperAccountState(accountID: accountID, cash: cash)
        try await ledger.save(fresh)
        return PaperBroker(ledger: ledger, prices: prices, clock: clock, state: fresh)
    }

    /// The current price step.
    public var step: Int { state.step }

    /// A copy of the whole state (for reports and tests).
    public var snapshot: PaperAccountState { state }

    /// Moves prices `steps` forward and fills working orders that cross; persists.
    public func advance(steps: Int = 1) async throws {
        precondition(steps >= 0)
        var next = state
        for _ in 0..<steps {
            next.step += 1
            try matchWorking(&next)
        }
        try await commit(next)
    }

    /// The current price of `symbol`.
    public func currentPrice(_ symbol: Symbol) throws -> Decimal {
        guard let p = prices.price(of: symbol, atStep: state.step) else {
            throw BrokerError(.notFound, broker: brokerName, "no paper price for \(symbol)")
        }
        return p
    }

    // MARK: Brokerage

    public func accounts() async throws -> [BrokerAccount] {
        [BrokerAccount(id: state.accountID, type: "Cash", status: "Active", currency: "USD")]
    }

    public func balance(account: String) async throws -> AccountBalance {
        try check(account)
        var mv: Decimal = 0
        for (symbol, h) in state.positions { mv += h.quantity * ((try? currentPrice(symbol)) ?? h.averagePrice) }
        return AccountBalance(
            accountID: state.accountID, cash: state.cash, buyingPower: state.cash - reservedCash(state),
            equity: state.cash + mv, marketValue: mv)
    }

    public func positions(account: String) async throws -> [Position] {
        try check(account)
        return state.positions.sorted { $0.key < $1.key }.map { symbol, h in
            Position(
                accountID: state.accountID, symbol: symbol, quantity: h.quantity, averagePrice: h.averagePrice,
                marketValue: (try? currentPrice(symbol)).map { $0 * h.quantity })
        }
    }

    public func quotes(_ symbols: [Symbol]) async throws -> PartialResult<Quote> {
        var out = PartialResult<Quote>(items: [], errors: [])
        for s in symbols {
            if let p = prices.price(of: s, atStep: state.step) {
                out.items.append(Quote(symbol: s, bid: p, ask: p, last: p))
            } else {
                out.errors.append(PartialError(item: s.rawValue, code: "FAILED", message: "unknown symbol"))
            }
        }
        return out
    }

    public func confirm(_ order: OrderRequest, account: String) async throws -> OrderConfirmation {
        try check(account)
        let price = try currentPrice(order.symbol)
        let est = order.type.limitPrice ?? price
        return OrderConfirmation(
            key: order.key,
            summary: "\(order.side == .buy ? "Buy" : "Sell") \(order.quantity) \(order.symbol) @ \(order.type.limitPrice.map { $0.plainString } ?? "Market")",
            estimatedPrice: est, estimatedCost: est * order.quantity.value, estimatedCommission: 0)
    }

    public func place(_ order: OrderRequest, account: String) async throws -> PlacedOrder {
        try check(account)
        var next = state
        let result = try accept(order, into: &next)
        try await commit(next)
        if let o = next.orders.first(where: { $0.id == result.orderID }), o.state == .rejected, !result.existing {
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
        var next = state
        var out = PartialResult<PlacedOrder>(items: [], errors: [])
        for o in orders {
            let r = try accept(o, into: &next)
            if let placed = next.orders.first(where: { $0.id == r.orderID }), placed.state == .rejected {
                out.errors.append(PartialError(item: r.orderID, code: "FAILED", message: placed.rejectReason ?? "rejected"))
            } else {
                out.items.append(PlacedOrder(orderID: r.orderID, message: r.message))
            }
        }
        try await commit(next)
        return out
    }

    public func orders(account: String) async throws -> [Order] {
        try check(account)
        return state.orders.reversed().map(export)
    }

    public func order(id: String, account: String) async throws -> Order {
        try check(account)
        guard let o = state.orders.first(where: { $0.id == id }) else {
            throw BrokerError(.notFound, broker: brokerName, "paper order \(id) does not exist")
        }
        return export(o)
    }

    public func replace(orderID: String, account: String, with replacement: OrderReplacement) async throws {
        try check(account)
        var next = state
        guard let i = next.orders.firstIndex(where: { $0.id == orderID }) else {
            throw BrokerError(.notFound, broker: brokerName, "paper order \(orderID) does not exist")
        }
        guard !next.orders[i].state.isTerminal else {
            throw BrokerError(.rejected, broker: brokerName, "paper order \(orderID) is \(next.orders[i].state.rawValue) and cannot be replaced")
        }
        if let q = replacement.quantity {
            guard q.value >= next.orders[i].filledQuantity else {
                throw BrokerError(.rejected, broker: brokerName, "new quantity \(q) is below the \(next.orders[i].filledQuantity) already filled")
            }
            next.orders[i].quantity = q.value
        }
        if replacement.toMarket { next.orders[i].limitPrice = nil; next.orders[i].stopPrice = nil }
        if let l = replacement.limitPrice { next.orders[i].limitPrice = l }
        if let s = replacement.stopPrice { next.orders[i].stopPrice = s }
        try matchWorking(&next)
        try await commit(next)
    }

    public func cancel(orderID: String, account: String) async throws {
        try check(account)
        var next = state
        guard let i = next.orders.firstIndex(where: { $0.id == orderID }) else {
            throw BrokerError(.notFound, broker: brokerName, "paper order \(orderID) does not exist")
        }
        guard !next.orders[i].state.isTerminal else {
            throw BrokerError(.rejected, broker: brokerName, "paper order \(orderID) is already \(next.orders[i].state.rawValue)")
        }
        next.orders[i].state = .cancelled
        next.orders[i].closedAt = clock.now()
        try await commit(next)
    }

    // MARK: Matching

    private func check(_ account: String) throws {
        guard account == state.accountID else {
            throw BrokerError(.notFound, broker: brokerName, "paper account '\(account)' does not exist (this one is '\(state.accountID)')")
        }
    }

    private func commit(_ next: PaperAccountState) async throws {
        try await ledger.save(next)
        state = next
    }

    private func accept(_ order: OrderRequest, into s: inout PaperAccountState) throws -> (orderID: String, message: String, existing: Bool) {
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
        try matchWorking(&s)
        let verb = order.side == .buy ? "Buy" : "Sell"
        return (id, "Sent order: \(verb) \(order.quantity) \(order.symbol) @ \(order.type.limitPrice?.plainString ?? "Market")", false)
    }

    private func reject(_ s: inout PaperAccountState, _ i: Int, _ reason: String) {
        s.orders[i].state = .rejected
        s.orders[i].rejectReason = reason
        s.orders[i].closedAt = clock.now()
    }

    private func reservedCash(_ s: PaperAccountState, excluding: String? = nil) -> Decimal {
        s.orders.filter { !$0.state.isTerminal && $0.side == .buy && $0.id != excluding }.reduce(0) { sum, o in
            let p = o.limitPrice ?? prices.price(of: o.symbol, atStep: s.step) ?? 0
            return sum + p * (o.quantity - o.filledQuantity)
        }
    }

    private func reservedShares(_ s: PaperAccountState, _ symbol: Symbol, excluding: String) -> Decimal {
        s.orders.filter { !$0.state.isTerminal && $0.side == .sell && $0.symbol == symbol && $0.id != excluding }
            .reduce(0) { $0 + $1.quantity - $1.filledQuantity }
    }

    private func matchWorking(_ s: inout PaperAccountState) throws {
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
            let qty = o.quantity - o.filledQuantity
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
            s.orders[i].filledQuantity = o.quantity
            s.orders[i].averageFillPrice = ((prevValue + value) / o.quantity).rounded(scale: 6)
            s.orders[i].state = .filled
            s.orders[i].closedAt = clock.now()
        }
    }

    private func export(_ o: PaperOrder) -> Order {
        let accountID = state.accountID
        return Order(
            id: o.id, accountID: accountID, symbol: o.symbol, side: o.side, quantity: o.quantity, filledQuantity: o.filledQuantity,
            averageFillPrice: o.averageFillPrice, limitPrice: o.limitPrice, stopPrice: o.stopPrice, state: o.state,
            brokerStatus: o.state.rawValue, rejectReason: o.rejectReason, key: o.key.rawValue, openedAt: o.openedAt, closedAt: o.closedAt)
    }
}
