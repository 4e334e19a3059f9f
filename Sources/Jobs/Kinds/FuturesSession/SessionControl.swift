public import Foundation
import GRDB
public import Scheduler

/// The `futures_session` table: one row per `futures-session` job with its current run, state,
/// live figures for `schedctl session status`, and the stop flag `schedctl session stop` sets
/// and the running session polls. The `futures_lock` table holds the loss-limit locks by job and
/// CME trade date, so a lock outlives the run that set it; `futures_day` the realized P&L of each
/// run by trade date, so the daily loss of a later run the same day counts the earlier ones.
public struct SessionControl: Sendable {
    /// One session as `session status` shows it.
    public struct Row: Sendable, Hashable, Codable {
        public var job: String
        public var run: Int64
        /// `running`, `stopping` or `finished`.
        public var state: String
        public var stopAt: Date
        public var updated: Date
        public var stopRequested: Bool
        /// Whether the session's trade date is locked by the loss limit.
        public var locked: Bool
        /// Live figures as JSON (positions, P&L, counters).
        public var detail: String
        /// The CME trade date of the session (`2026-11-23`), once it opened.
        public var tradeDate: String?
        /// Why the trade date is locked, when it is.
        public var lockReason: String?
    }

    let store: Store

    /// The table in `store`.
    public init(store: Store) { self.store = store }

    /// The migration that creates the table (registered through ``StoreSchema``).
    public static let migrations: Store.MigrationRegistration = { migrator in
        migrator.registerMigration("futures_v1_session") { db in
            try db.create(table: "futures_session") { t in
                t.primaryKey("job", .text)
                t.column("run_id", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("stop_at", .double).notNull()
                t.column("updated", .double).notNull()
                t.column("stop_requested", .integer).notNull().defaults(to: 0)
                t.column("locked", .integer).notNull().defaults(to: 0)
                t.column("detail", .text).notNull().defaults(to: "{}")
            }
        }
        migrator.registerMigration("futures_v2_lock_and_day") { db in
            try db.create(table: "futures_lock") { t in
                t.column("job", .text).notNull()
                t.column("trade_date", .text).notNull()
                t.column("run_id", .integer).notNull()
                t.column("locked_at", .double).notNull()
                t.column("reason", .text).notNull()
                t.primaryKey(["job", "trade_date"])
            }
            try db.alter(table: "futures_session") { t in t.add(column: "trade_date", .text) }
            try db.create(table: "futures_day") { t in
                t.column("job", .text).notNull()
                t.column("trade_date", .text).notNull()
                t.column("run_id", .integer).notNull()
                t.column("realized", .text).notNull()
                t.primaryKey(["job", "trade_date", "run_id"])
            }
        }
    }

    /// Marks `job`'s session `run` (on CME trade date `tradeDate`) running; a new run clears the
    /// previous run's stop flag, a resumed run keeps its own.
    public func begin(job: String, run: Int64, tradeDate: LocalDate, stopAt: Date, locked: Bool, now: Date) async throws {
        try await store.writer.write { db in
            let current = try Int64.fetchOne(db, sql: "SELECT run_id FROM futures_session WHERE job = ?", arguments: [job])
            if current == run {
                try db.execute(
                    sql: "UPDATE futures_session SET state = 'running', stop_at = ?, updated = ?, locked = ?, trade_date = ? WHERE job = ?",
                    arguments: [stopAt.timeIntervalSince1970, now.timeIntervalSince1970, locked, tradeDate.description, job])
            } else {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO futures_session (job, run_id, state, stop_at, updated, stop_requested, locked, detail, trade_date)
                        VALUES (?, ?, 'running', ?, ?, 0, ?, '{}', ?)
                        """, arguments: [job, run, stopAt.timeIntervalSince1970, now.timeIntervalSince1970, locked, tradeDate.description])
            }
        }
    }

    /// Whether run `run` was asked to cancel (on request, or replaced under `overlap: cancel_previous`).
    public func cancelRequested(run: Int64) async throws -> Bool {
        try await store.run(id: run)?.run.cancelRequested ?? false
    }

    /// Locks `job` for CME trade date `tradeDate` (the loss limit was reached in `run`): no
    /// session of the job places an order on that trade date again, whichever run or process.
    /// The first lock of a day is kept.
    public func lock(job: String, tradeDate: LocalDate, run: Int64, reason: String, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO futures_lock (job, trade_date, run_id, locked_at, reason) VALUES (?, ?, ?, ?, ?)",
                arguments: [job, tradeDate.description, run, now.timeIntervalSince1970, reason])
            try db.execute(sql: "UPDATE futures_session SET locked = 1 WHERE job = ? AND trade_date = ?", arguments: [job, tradeDate.description])
        }
    }

    /// Records the realized P&L of `run` on CME trade date `tradeDate` (replacing its last figure).
    public func record(job: String, tradeDate: LocalDate, run: Int64, realized: Decimal) async throws {
        try await store.writer.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO futures_day (job, trade_date, run_id, realized) VALUES (?, ?, ?, ?)",
                arguments: [job, tradeDate.description, run, "\(realized)"])
        }
    }

    /// The realized P&L the runs of `job` other than `excludingRun` recorded for `tradeDate`.
    public func realized(job: String, tradeDate: LocalDate, excludingRun: Int64) async throws -> Decimal {
        let figures = try await store.writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT realized FROM futures_day WHERE job = ? AND trade_date = ? AND run_id != ?",
                arguments: [job, tradeDate.description, excludingRun])
        }
        return figures.reduce(Decimal(0)) { $0 + (Decimal(string: $1) ?? 0) }
    }

    /// Why `job` is locked on CME trade date `tradeDate`, or nil when it may trade.
    public func lockReason(job: String, tradeDate: LocalDate) async throws -> String? {
        try await store.writer.read { db in
            try String.fetchOne(
                db, sql: "SELECT reason FROM futures_lock WHERE job = ? AND trade_date = ?", arguments: [job, tradeDate.description])
        }
    }

    /// Records the live figures (and state) of `run`.
    public func update(job: String, run: Int64, state: String, locked: Bool, detail: String, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(
                sql: "UPDATE futures_session SET state = ?, locked = ?, detail = ?, updated = ? WHERE job = ? AND run_id = ?",
                arguments: [state, locked, detail, now.timeIntervalSince1970, job, run])
        }
    }

    /// Whether someone asked `run` to stop.
    public func stopRequested(job: String, run: Int64) async throws -> Bool {
        try await store.writer.read { db in
            try Bool.fetchOne(db, sql: "SELECT stop_requested FROM futures_session WHERE job = ? AND run_id = ?", arguments: [job, run]) ?? false
        }
    }

    /// Asks `job`'s running session to stop; false when it has none running.
    public func requestStop(job: String, now: Date) async throws -> Bool {
        try await store.writer.write { db in
            try db.execute(
                sql: "UPDATE futures_session SET stop_requested = 1, updated = ? WHERE job = ? AND state IN ('running', 'stopping')",
                arguments: [now.timeIntervalSince1970, job])
            return db.changesCount > 0
        }
    }

    /// Every session, by job name.
    public func rows() async throws -> [Row] {
        try await store.writer.read { db in
            let sql = """
                SELECT s.*, l.reason AS lock_reason FROM futures_session s
                LEFT JOIN futures_lock l ON l.job = s.job AND l.trade_date = s.trade_date ORDER BY s.job
                """
            return try GRDB.Row.fetchAll(db, sql: sql).map { r in
                let reason: String? = r["lock_reason"]
                let locked: Bool = r["locked"]
                return Row(
                    job: r["job"], run: r["run_id"], state: r["state"], stopAt: Date(timeIntervalSince1970: r["stop_at"]),
                    updated: Date(timeIntervalSince1970: r["updated"]), stopRequested: r["stop_requested"], locked: locked || reason != nil,
                    detail: r["detail"], tradeDate: r["trade_date"], lockReason: reason)
            }
        }
    }
}
