public import Brokers
import Foundation
public import GRDB

/// A ``PaperLedger`` in SQLite through GRDB. Tables are prefixed `paper_`; amounts are stored as
/// exact decimal text. The owner of the database runs ``registerMigrations(_:)`` in its migrator.
///
/// ```swift
/// var migrator = DatabaseMigrator()
/// SQLitePaperLedger.registerMigrations(&migrator)
/// try migrator.migrate(dbQueue)
/// let ledger = SQLitePaperLedger(writer: dbQueue)
/// ```
public struct SQLitePaperLedger: PaperLedger {
    let writer: any DatabaseWriter

    public init(writer: any DatabaseWriter) { self.writer = writer }

    /// Adds the named migrations that create the `paper_` tables.
    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("paper_v1_ledger") { db in
            try db.create(table: "paper_accounts") { t in
                t.primaryKey("account_id", .text)
                t.column("cash", .text).notNull()
                t.column("step", .integer).notNull().check { $0 >= 0 }
                t.column("next_order_number", .integer).notNull().check { $0 >= 1 }
            }
            try db.create(table: "paper_positions") { t in
                t.column("account_id", .text).notNull().references("paper_accounts", onDelete: .cascade)
                t.column("symbol", .text).notNull()
                t.column("quantity", .text).notNull()
                t.column("average_price", .text).notNull()
                t.primaryKey(["account_id", "symbol"])
            }
            try db.create(table: "paper_orders") { t in
                t.column("account_id", .text).notNull().references("paper_accounts", onDelete: .cascade)
                t.column("order_id", .text).notNull()
                t.column("idempotency_key", .text).notNull()
                t.column("symbol", .text).notNull()
                t.column("side", .text).notNull().check { ["buy", "sell"].contains($0) }
                t.column("quantity", .text).notNull()
                t.column("filled_quantity", .text).notNull()
                t.column("average_fill_price", .text)
                t.column("limit_price", .text)
                t.column("stop_price", .text)
                t.column("time_in_force", .text).notNull()
                t.column("state", .text).notNull()
                t.column("reject_reason", .text)
                t.column("opened_at", .double).notNull()
                t.column("closed_at", .double)
                t.primaryKey(["account_id", "order_id"])
                t.uniqueKey(["account_id", "idempotency_key"])
            }
        }
    }

    public func load(accountID: String) async throws -> PaperAccountState? {
        do {
            return try await writer.read { db in try Self.load(db, accountID) }
        } catch let e as BrokerError { throw e } catch {
            throw BrokerError(.storage, broker: "paper", "cannot read the paper ledger: \(error)")
        }
    }

    public func update<T: Sendable>(accountID: String, _ body: @Sendable (inout PaperAccountState) throws -> T) async throws -> T {
        do {
            // One write transaction: another process's update waits for it and then sees it.
            return try await writer.write { db in
                guard var state = try Self.load(db, accountID) else {
                    throw BrokerError(.notFound, broker: "paper", "paper account '\(accountID)' does not exist")
                }
                let result = try body(&state)
                try Self.save(db, state)
                return result
            }
        } catch let e as BrokerError { throw e } catch {
            throw BrokerError(.storage, broker: "paper", "cannot update the paper ledger: \(error)")
        }
    }

    static func load(_ db: Database, _ accountID: String) throws -> PaperAccountState? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM paper_accounts WHERE account_id = ?", arguments: [accountID]) else {
            return nil
        }
        var state = PaperAccountState(accountID: accountID, cash: try dec(row["cash"]))
        state.step = row["step"]
        state.nextOrderNumber = row["next_order_number"]
        for p in try Row.fetchAll(db, sql: "SELECT * FROM paper_positions WHERE account_id = ?", arguments: [accountID]) {
            let symbol = try Symbol(p["symbol"] as String)
            state.positions[symbol] = PaperHolding(quantity: try dec(p["quantity"]), averagePrice: try dec(p["average_price"]))
        }
        for o in try Row.fetchAll(db, sql: "SELECT * FROM paper_orders WHERE account_id = ? ORDER BY opened_at, order_id", arguments: [accountID]) {
            guard let side = OrderSide(rawValue: o["side"]), let tif = TimeInForce(rawValue: o["time_in_force"]),
                let st = OrderState(rawValue: o["state"])
            else { throw BrokerError(.storage, broker: "paper", "paper ledger row for order \(o["order_id"] as String) is corrupt") }
            state.orders.append(
                PaperOrder(
                    id: o["order_id"], key: try IdempotencyKey(o["idempotency_key"] as String), symbol: try Symbol(o["symbol"] as String),
                    side: side, quantity: try dec(o["quantity"]), filledQuantity: try dec(o["filled_quantity"]),
                    averageFillPrice: try optDec(o["average_fill_price"]), limitPrice: try optDec(o["limit_price"]),
                    stopPrice: try optDec(o["stop_price"]), timeInForce: tif, state: st, rejectReason: o["reject_reason"],
                    openedAt: Date(timeIntervalSince1970: o["opened_at"]),
                    closedAt: (o["closed_at"] as Double?).map { Date(timeIntervalSince1970: $0) }))
        }
        state.orders.sort { $0.openedAt == $1.openedAt ? $0.id.localizedStandardCompare($1.id) == .orderedAscending : $0.openedAt < $1.openedAt }
        return state
    }

    public func save(_ state: PaperAccountState) async throws {
        do {
            try await writer.write { db in try Self.save(db, state) }
        } catch {
            throw BrokerError(.storage, broker: "paper", "cannot write the paper ledger: \(error)")
        }
    }

    static func save(_ db: Database, _ state: PaperAccountState) throws {
        try db.execute(
            sql: """
                INSERT INTO paper_accounts(account_id, cash, step, next_order_number) VALUES (?, ?, ?, ?)
                ON CONFLICT(account_id) DO UPDATE SET cash = excluded.cash, step = excluded.step,
                next_order_number = excluded.next_order_number
                """,
            arguments: [state.accountID, state.cash.plainString, state.step, state.nextOrderNumber])
        try db.execute(sql: "DELETE FROM paper_positions WHERE account_id = ?", arguments: [state.accountID])
        for (symbol, h) in state.positions {
            try db.execute(
                sql: "INSERT INTO paper_positions(account_id, symbol, quantity, average_price) VALUES (?, ?, ?, ?)",
                arguments: [state.accountID, symbol.rawValue, h.quantity.plainString, h.averagePrice.plainString])
        }
        try db.execute(sql: "DELETE FROM paper_orders WHERE account_id = ?", arguments: [state.accountID])
        for o in state.orders {
            try db.execute(
                sql: """
                    INSERT INTO paper_orders(account_id, order_id, idempotency_key, symbol, side, quantity, filled_quantity,
                      average_fill_price, limit_price, stop_price, time_in_force, state, reject_reason, opened_at, closed_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    state.accountID, o.id, o.key.rawValue, o.symbol.rawValue, o.side.rawValue, o.quantity.plainString,
                    o.filledQuantity.plainString, o.averageFillPrice?.plainString, o.limitPrice?.plainString,
                    o.stopPrice?.plainString, o.timeInForce.rawValue, o.state.rawValue, o.rejectReason,
                    o.openedAt.timeIntervalSince1970, o.closedAt?.timeIntervalSince1970,
                ])
        }
    }
}

private func dec(_ text: String?) throws -> Decimal {
    guard let text, let d = Decimal(exactly: text) else {
        throw BrokerError(.storage, broker: "paper", "paper ledger holds a non-decimal amount '\(text ?? "null")'")
    }
    return d
}

private func optDec(_ text: String?) throws -> Decimal? {
    guard let text else { return nil }
    return try dec(text)
}
