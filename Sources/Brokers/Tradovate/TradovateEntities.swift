public import Foundation

// Tradovate's entities as typed values: the sync snapshot and `props` events are decoded here, so
// no untyped JSON leaves Brokers. Fields follow Tradovate's documented shapes (BROKERS.md); the
// ones the session does not need are left out, and the ones Tradovate may omit are optional.

/// A Tradovate account (`id`, `name`).
public struct TradovateAccount: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String

    /// An account.
    public init(id: Int64, name: String) {
        self.id = id
        self.name = name
    }
}

/// A net position of one account in one contract (`netPrice`, the average entry, is absent when
/// flat; `prevPos` is the part carried from the previous trade date, `prevPrice` its settlement).
public struct TradovatePosition: Sendable, Hashable, Codable {
    public var id: Int64?
    public var accountId: Int64
    public var contractId: Int64
    public var netPos: Int
    public var netPrice: Decimal?
    public var prevPos: Int?
    public var prevPrice: Decimal?

    /// A position.
    public init(
        id: Int64? = nil, accountId: Int64, contractId: Int64, netPos: Int, netPrice: Decimal? = nil, prevPos: Int? = nil, prevPrice: Decimal? = nil
    ) {
        self.id = id
        self.accountId = accountId
        self.contractId = contractId
        self.netPos = netPos
        self.netPrice = netPrice
        self.prevPos = prevPos
        self.prevPrice = prevPrice
    }

    private enum CodingKeys: String, CodingKey { case id, accountId, contractId, netPos, netPrice, prevPos, prevPrice }

    /// Decodes a position; `prevPos` 0 (nothing carried) is absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decodeIfPresent(Int64.self, forKey: .id), accountId: try c.decode(Int64.self, forKey: .accountId),
            contractId: try c.decode(Int64.self, forKey: .contractId), netPos: try c.decode(Int.self, forKey: .netPos),
            netPrice: try c.decodeIfPresent(Decimal.self, forKey: .netPrice),
            prevPos: try c.decodeIfPresent(Int.self, forKey: .prevPos).flatMap { $0 == 0 ? nil : $0 },
            prevPrice: try c.decodeIfPresent(Decimal.self, forKey: .prevPrice))
    }

    /// The price today's P&L of this position counts from: the part carried from the previous
    /// trade date (at most `netPos`, on the same side) at its settlement `prevPrice` (the loss or
    /// gain up to it was that date's), the rest at `netPrice`. Without `prevPrice`, `netPrice`.
    public var openingPrice: Decimal {
        let entry = netPrice ?? 0
        guard netPos != 0, let settlement = prevPrice, let prev = prevPos, prev != 0, (prev > 0) == (netPos > 0) else { return entry }
        let carried = min(abs(prev), abs(netPos))
        return (settlement * Decimal(carried) + entry * Decimal(abs(netPos) - carried)) / Decimal(abs(netPos))
    }
}

/// An order's status (`ordStatus`); price and quantity live in its ``TradovateOrderVersion``.
public struct TradovateOrder: Sendable, Hashable, Codable {
    public var id: Int64
    public var accountId: Int64
    public var contractId: Int64?
    /// `Buy` or `Sell`.
    public var action: String
    /// `Working`, `Filled`, `Canceled`, `Rejected`, … (absent in some updates: unchanged).
    public var ordStatus: String?
    public var timestamp: String?

    /// Whether the order buys.
    public var isBuy: Bool { action == "Buy" }

    /// An order.
    public init(id: Int64, accountId: Int64, contractId: Int64?, action: String, ordStatus: String?, timestamp: String? = nil) {
        self.id = id
        self.accountId = accountId
        self.contractId = contractId
        self.action = action
        self.ordStatus = ordStatus
        self.timestamp = timestamp
    }
}

/// A version of an order: its quantity, type and prices.
public struct TradovateOrderVersion: Sendable, Hashable, Codable {
    public var id: Int64?
    public var orderId: Int64
    public var orderQty: Int
    public var orderType: String?
    public var price: Decimal?
    public var stopPrice: Decimal?

    /// An order version.
    public init(id: Int64? = nil, orderId: Int64, orderQty: Int, orderType: String? = nil, price: Decimal? = nil, stopPrice: Decimal? = nil) {
        self.id = id
        self.orderId = orderId
        self.orderQty = orderQty
        self.orderType = orderType
        self.price = price
        self.stopPrice = stopPrice
    }
}

/// An execution of (part of) an order.
public struct TradovateFill: Sendable, Hashable, Codable {
    public var id: Int64
    public var orderId: Int64
    public var contractId: Int64
    /// `Buy` or `Sell`.
    public var action: String
    public var qty: Int
    public var price: Decimal
    /// False for a busted fill.
    public var active: Bool?
    public var timestamp: String?

    /// Whether the fill bought.
    public var isBuy: Bool { action == "Buy" }

    /// A fill.
    public init(
        id: Int64, orderId: Int64, contractId: Int64, action: String, qty: Int, price: Decimal, active: Bool? = nil, timestamp: String? = nil
    ) {
        self.id = id
        self.orderId = orderId
        self.contractId = contractId
        self.action = action
        self.qty = qty
        self.price = price
        self.active = active
        self.timestamp = timestamp
    }
}

/// The fees of one fill (`fillFee`, its `id` is the fill's id); every part is optional.
public struct TradovateFillFee: Sendable, Hashable, Codable {
    public var id: Int64
    public var clearingFee: Decimal?
    public var exchangeFee: Decimal?
    public var nfaFee: Decimal?
    public var brokerageFee: Decimal?
    public var ipFee: Decimal?
    public var commission: Decimal?
    public var orderRoutingFee: Decimal?

    /// A fill's fees.
    public init(
        id: Int64, clearingFee: Decimal? = nil, exchangeFee: Decimal? = nil, nfaFee: Decimal? = nil, brokerageFee: Decimal? = nil,
        ipFee: Decimal? = nil, commission: Decimal? = nil, orderRoutingFee: Decimal? = nil
    ) {
        self.id = id
        self.clearingFee = clearingFee
        self.exchangeFee = exchangeFee
        self.nfaFee = nfaFee
        self.brokerageFee = brokerageFee
        self.ipFee = ipFee
        self.commission = commission
        self.orderRoutingFee = orderRoutingFee
    }

    /// The sum of every fee and the commission.
    public var total: Decimal {
        [clearingFee, exchangeFee, nfaFee, brokerageFee, ipFee, commission, orderRoutingFee].reduce(Decimal(0)) { $0 + ($1 ?? 0) }
    }
}

/// A command (a placement, modification or cancel), linking a `clOrdId` to its order.
public struct TradovateCommand: Sendable, Hashable, Codable {
    public var id: Int64?
    public var orderId: Int64?
    public var clOrdId: String?

    /// A command.
    public init(id: Int64? = nil, orderId: Int64?, clOrdId: String?) {
        self.id = id
        self.orderId = orderId
        self.clOrdId = clOrdId
    }
}

/// An account's cash balance (`amount`, and the day's `realizedPnL` when Tradovate sends it).
public struct TradovateCashBalance: Sendable, Hashable, Codable {
    public var id: Int64?
    public var accountId: Int64
    public var amount: Decimal?
    public var realizedPnL: Decimal?

    /// A cash balance.
    public init(id: Int64? = nil, accountId: Int64, amount: Decimal?, realizedPnL: Decimal? = nil) {
        self.id = id
        self.accountId = accountId
        self.amount = amount
        self.realizedPnL = realizedPnL
    }
}

/// The first answer of `user/syncrequest`: the user's accounts, positions, orders and their
/// versions, commands, fills, cash balances and contracts. A missing array is empty; an element
/// that lacks a required field is skipped (the rest of the snapshot still counts).
public struct TradovateSyncSnapshot: Sendable, Hashable, Codable {
    public var accounts: [TradovateAccount] = []
    public var positions: [TradovatePosition] = []
    public var orders: [TradovateOrder] = []
    public var orderVersions: [TradovateOrderVersion] = []
    public var commands: [TradovateCommand] = []
    public var fills: [TradovateFill] = []
    public var fillFees: [TradovateFillFee] = []
    public var cashBalances: [TradovateCashBalance] = []
    public var contracts: [TradovateContract] = []

    /// A snapshot.
    public init(
        accounts: [TradovateAccount] = [], positions: [TradovatePosition] = [], orders: [TradovateOrder] = [],
        orderVersions: [TradovateOrderVersion] = [], commands: [TradovateCommand] = [], fills: [TradovateFill] = [],
        fillFees: [TradovateFillFee] = [], cashBalances: [TradovateCashBalance] = [], contracts: [TradovateContract] = []
    ) {
        self.accounts = accounts
        self.positions = positions
        self.orders = orders
        self.orderVersions = orderVersions
        self.commands = commands
        self.fills = fills
        self.fillFees = fillFees
        self.cashBalances = cashBalances
        self.contracts = contracts
    }

    enum CodingKeys: String, CodingKey {
        case accounts, positions, orders, orderVersions, commands, fills, fillFees, cashBalances, contracts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func lossy<T: Decodable>(_ key: CodingKeys) throws -> [T] {
            try c.decodeIfPresent([Lossy<T>].self, forKey: key)?.compactMap(\.value) ?? []
        }
        accounts = try lossy(.accounts)
        positions = try lossy(.positions)
        orders = try lossy(.orders)
        orderVersions = try lossy(.orderVersions)
        commands = try lossy(.commands)
        fills = try lossy(.fills)
        fillFees = try lossy(.fillFees)
        cashBalances = try lossy(.cashBalances)
        contracts = try lossy(.contracts)
    }

    /// Decodes a snapshot; throws a `malformedResponse` error when `data` is not a JSON object.
    public static func decode(_ data: Data) throws -> TradovateSyncSnapshot {
        do { return try JSONDecoder().decode(TradovateSyncSnapshot.self, from: data) } catch {
            throw BrokerError(.malformedResponse, broker: "tradovate", "Tradovate answered user/syncrequest with an unreadable snapshot")
        }
    }
}

/// One element of an array that may fail to decode (then nil, and skipped).
struct Lossy<T: Decodable>: Decodable {
    let value: T?
    init(from decoder: any Decoder) throws { value = try? T(from: decoder) }
}

/// A `props` entity, by its `entityType`.
public enum TradovateEntity: Sendable, Hashable {
    case position(TradovatePosition)
    case order(TradovateOrder)
    case orderVersion(TradovateOrderVersion)
    case fill(TradovateFill)
    case fillFee(TradovateFillFee)
    case command(TradovateCommand)
    case cashBalance(TradovateCashBalance)
    case contract(TradovateContract)
    case account(TradovateAccount)

    /// The entity type's name as Tradovate spells it.
    public var entityType: String {
        switch self {
        case .position: return "position"
        case .order: return "order"
        case .orderVersion: return "orderVersion"
        case .fill: return "fill"
        case .fillFee: return "fillFee"
        case .command: return "command"
        case .cashBalance: return "cashBalance"
        case .contract: return "contract"
        case .account: return "account"
        }
    }

    /// The entity's JSON (its typed fields only).
    public var json: Data {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        let data: Data?
        switch self {
        case .position(let v): data = try? e.encode(v)
        case .order(let v): data = try? e.encode(v)
        case .orderVersion(let v): data = try? e.encode(v)
        case .fill(let v): data = try? e.encode(v)
        case .fillFee(let v): data = try? e.encode(v)
        case .command(let v): data = try? e.encode(v)
        case .cashBalance(let v): data = try? e.encode(v)
        case .contract(let v): data = try? e.encode(v)
        case .account(let v): data = try? e.encode(v)
        }
        return data ?? Data("{}".utf8)
    }

    /// Why an entity was not decoded.
    public enum Failure: Error, Sendable, Hashable {
        /// An entity type the session does not use (ignored).
        case unknownType(String)
        /// A known type whose entity lacks a required field or has one of the wrong type.
        case unreadable(type: String)
    }

    /// Decodes the entity of a `props` event of `entityType`.
    public static func decode(entityType: String, entity: Data) -> Result<TradovateEntity, Failure> {
        func d<T: Decodable>(_ type: T.Type, _ wrap: (T) -> TradovateEntity) -> Result<TradovateEntity, Failure> {
            guard let v = try? JSONDecoder().decode(T.self, from: entity) else { return .failure(.unreadable(type: entityType)) }
            return .success(wrap(v))
        }
        switch entityType {
        case "position": return d(TradovatePosition.self, TradovateEntity.position)
        case "order": return d(TradovateOrder.self, TradovateEntity.order)
        case "orderVersion": return d(TradovateOrderVersion.self, TradovateEntity.orderVersion)
        case "fill": return d(TradovateFill.self, TradovateEntity.fill)
        case "fillFee": return d(TradovateFillFee.self, TradovateEntity.fillFee)
        case "command": return d(TradovateCommand.self, TradovateEntity.command)
        case "cashBalance": return d(TradovateCashBalance.self, TradovateEntity.cashBalance)
        case "contract": return d(TradovateContract.self, TradovateEntity.contract)
        case "account": return d(TradovateAccount.self, TradovateEntity.account)
        default: return .failure(.unknownType(entityType))
        }
    }
}

/// A `props` event: an entity `Created`, `Updated` or `Deleted`.
public struct TradovateProps: Sendable, Hashable {
    /// `Created`, `Updated` or `Deleted` (empty when Tradovate left it out).
    public var eventType: String
    public var entity: TradovateEntity

    /// A props event.
    public init(eventType: String, entity: TradovateEntity) {
        self.eventType = eventType
        self.entity = entity
    }

    /// Whether the entity was deleted.
    public var isDeleted: Bool { eventType == "Deleted" }
}
