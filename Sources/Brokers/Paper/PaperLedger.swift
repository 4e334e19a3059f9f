public import Foundation
import Synchronization

/// A paper position.
public struct PaperHolding: Sendable, Hashable, Codable {
    public var quantity: Decimal
    public var averagePrice: Decimal
    public init(quantity: Decimal, averagePrice: Decimal) { self.quantity = quantity; self.averagePrice = averagePrice }
}

/// A paper order as stored.
public struct PaperOrder: Sendable, Hashable, Codable {
    public var id: String
    public var key: IdempotencyKey
    public var symbol: Symbol
    public var side: OrderSide
    public var quantity: Decimal
    public var filledQuantity: Decimal
    public var averageFillPrice: Decimal?
    public var limitPrice: Decimal?
    public var stopPrice: Decimal?
    public var timeInForce: TimeInForce
    public var state: OrderState
    public var rejectReason: String?
    public var openedAt: Date
    public var closedAt: Date?

    /// An order with every field given (the ledgers rebuild stored orders with it).
    package init(
        id: String, key: IdempotencyKey, symbol: Symbol, side: OrderSide, quantity: Decimal, filledQuantity: Decimal, averageFillPrice: Decimal?,
        limitPrice: Decimal?, stopPrice: Decimal?, timeInForce: TimeInForce, state: OrderState, rejectReason: String?, openedAt: Date,
        closedAt: Date?
    ) {
        self.id = id
        self.key = key
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.filledQuantity = filledQuantity
        self.averageFillPrice = averageFillPrice
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.state = state
        self.rejectReason = rejectReason
        self.openedAt = openedAt
        self.closedAt = closedAt
    }
}

/// The whole durable state of one paper account.
public struct PaperAccountState: Sendable, Hashable, Codable {
    public var accountID: String
    public var cash: Decimal
    /// Price step (advanced by ``PaperBroker/advance(steps:)``).
    public var step: Int
    public var nextOrderNumber: Int
    public var positions: [Symbol: PaperHolding]
    public var orders: [PaperOrder]

    public init(accountID: String, cash: Decimal) {
        self.accountID = accountID
        self.cash = cash
        self.step = 0
        self.nextOrderNumber = 1
        self.positions = [:]
        self.orders = []
    }
}

/// Durable storage for paper accounts. `save` must replace the whole state atomically, and
/// `update` must read, change and write in one transaction, so two processes sharing one
/// database never lose each other's orders or fills.
public protocol PaperLedger: Sendable {
    /// The stored state of `accountID`, or nil.
    func load(accountID: String) async throws -> PaperAccountState?
    /// Stores `state` atomically.
    func save(_ state: PaperAccountState) async throws
    /// Reads `accountID`, applies `body` and stores the result, all in one transaction; nothing
    /// is stored when `body` throws.
    func update<T: Sendable>(accountID: String, _ body: @Sendable (inout PaperAccountState) throws -> T) async throws -> T
}

/// A ``PaperLedger`` in memory.
public final class InMemoryPaperLedger: PaperLedger {
    private let states = Mutex<[String: PaperAccountState]>([:])
    public init() {}
    public func load(accountID: String) async throws -> PaperAccountState? { states.withLock { $0[accountID] } }
    public func save(_ state: PaperAccountState) async throws { states.withLock { $0[state.accountID] = state } }
    public func update<T: Sendable>(accountID: String, _ body: @Sendable (inout PaperAccountState) throws -> T) async throws -> T {
        try states.withLock { all in
            guard var state = all[accountID] else { throw BrokerError(.notFound, broker: "paper", "paper account '\(accountID)' does not exist") }
            let result = try body(&state)
            all[accountID] = state
            return result
        }
    }
}
