import Brokers
import Foundation
import GRDB
import Scheduler

/// The report tables: when each report job last reported, and the equity it saw per account
/// (the base of "P&L since the last report" and of the day's P&L).
struct ReportStore: Sendable {
    let store: Store

    /// When `job` last delivered a report.
    func lastReport(job: String) async throws -> Double? {
        try await store.writer.read { db in try Double.fetchOne(db, sql: "SELECT MAX(at) FROM report_log WHERE job = ?", arguments: [job]) }
    }

    /// The equity `job` saw for the account at its last report.
    func equity(job: String, broker: String, account: String) async throws -> Decimal? {
        try await store.writer.read { db in
            try String.fetchOne(
                db, sql: "SELECT equity FROM report_snapshot WHERE job = ? AND broker = ? AND account = ? ORDER BY at DESC, id DESC LIMIT 1",
                arguments: [job, broker, account]
            ).flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
        }
    }

    /// The latest equity any report saw for the account before `before`.
    func equity(broker: String, account: String, before: Double) async throws -> Decimal? {
        try await store.writer.read { db in
            try String.fetchOne(
                db, sql: "SELECT equity FROM report_snapshot WHERE broker = ? AND account = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
                arguments: [broker, account, before]
            ).flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
        }
    }

    /// Runs that failed, were abandoned or skipped after `since` (at most `limit`, oldest first).
    func troubles(since: Double, limit: Int = 50) async throws -> [ReportData.RunLine] {
        try await store.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, job, state, COALESCE(finished_at, created_at) AS at, COALESCE(error, reason, '') AS why FROM run
                    WHERE state IN ('failed', 'abandoned', 'skipped') AND COALESCE(finished_at, created_at) > ?
                    ORDER BY at, id LIMIT ?
                    """, arguments: [since, limit]
            ).map { row in
                ReportData.RunLine(
                    id: row["id"], job: row["job"], state: row["state"], at: Instant(seconds: Int64((row["at"] as Double).rounded(.down))), reason: row["why"])
            }
        }
    }

    /// Records a delivered report and the equities it showed.
    func record(job: String, runID: Int64, at: Double, accounts: [ReportData.Account]) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "INSERT INTO report_log (job, run_id, at) VALUES (?, ?, ?)", arguments: [job, runID, at])
            for account in accounts {
                guard let equity = account.balance?.equity else { continue }
                try db.execute(
                    sql: "INSERT INTO report_snapshot (job, broker, account, at, equity) VALUES (?, ?, ?, ?, ?)",
                    arguments: [job, account.broker, account.account, at, NSDecimalNumber(decimal: equity).stringValue])
            }
        }
    }
}
