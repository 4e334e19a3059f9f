public import Foundation
import GRDB

/// What `days: strategy` jobs know about their strategy's next trade date, one row per job.
public struct StrategyTradeDateRecord: Sendable, Hashable {
    /// The job.
    public var job: String
    /// The strategy's name in `jobs.yaml`.
    public var strategy: String
    /// The gate the occurrence planner applies.
    public var gate: TradeDateGate
    /// When the strategy was last asked (successfully or not).
    public var checkedAt: Date
    /// The run that last recorded a date, if a run did (nil: a refresh outside a run).
    public var runID: Int64?
}

extension Store {
    static func registerStrategyDates(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("strategy-dates-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE strategy_trade_date (
                        job TEXT PRIMARY KEY NOT NULL,
                        strategy TEXT NOT NULL,
                        next_date TEXT,
                        seen_at REAL,
                        checked_at REAL NOT NULL,
                        error TEXT,
                        fired_for TEXT,
                        run_id INTEGER
                    );
                    """)
        }
    }

    /// Records what asking `strategy` for `job`'s next trade date gave at `at`: a date (`error`
    /// nil), or a failure that keeps the date seen before. `runID` names the run that asked.
    public func recordStrategyTradeDate(
        job: String, strategy: String, date: LocalDate?, error: String? = nil, at: Date, runID: Int64? = nil
    ) async throws {
        let t = at.timeIntervalSince1970
        try await writer.write { db in
            if let date {
                try db.execute(
                    sql: """
                        INSERT INTO strategy_trade_date (job, strategy, next_date, seen_at, checked_at, error, run_id) VALUES (?, ?, ?, ?, ?, NULL, ?)
                        ON CONFLICT(job) DO UPDATE SET strategy = excluded.strategy, next_date = excluded.next_date, seen_at = excluded.seen_at,
                            checked_at = excluded.checked_at, error = NULL, run_id = COALESCE(excluded.run_id, run_id)
                        """,
                    arguments: [job, strategy, date.description, t, t, runID])
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO strategy_trade_date (job, strategy, checked_at, error) VALUES (?, ?, ?, ?)
                        ON CONFLICT(job) DO UPDATE SET strategy = excluded.strategy, checked_at = excluded.checked_at, error = excluded.error
                        """,
                    arguments: [job, strategy, t, error ?? "no date"])
            }
        }
    }

    /// Every job's record, by job name.
    public func strategyTradeDates() async throws -> [String: StrategyTradeDateRecord] {
        try await writer.read { db in
            var result: [String: StrategyTradeDateRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM strategy_trade_date") {
                let record = Self.strategyRecord(row)
                result[record.job] = record
            }
            return result
        }
    }

    /// The gate of `job` inside a transaction (an empty gate when nothing is recorded).
    static func tradeDateGate(_ db: Database, job: String) throws -> TradeDateGate {
        guard let row = try Row.fetchOne(db.cached("SELECT * FROM strategy_trade_date WHERE job = ?"), arguments: [job]) else {
            return TradeDateGate()
        }
        return strategyRecord(row).gate
    }

    static func strategyRecord(_ row: Row) -> StrategyTradeDateRecord {
        func day(_ column: String) -> LocalDate? { (row[column] as String?).flatMap { try? LocalDate(parsing: $0) } }
        let gate = TradeDateGate(
            nextTradeDate: day("next_date"), firedFor: day("fired_for"),
            seenAt: (row["seen_at"] as Double?).map(Date.init(timeIntervalSince1970:)), lastError: row["error"])
        return StrategyTradeDateRecord(
            job: row["job"], strategy: row["strategy"], gate: gate, checkedAt: Date(timeIntervalSince1970: row["checked_at"]), runID: row["run_id"])
    }
}
