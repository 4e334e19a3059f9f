public import Foundation
import GRDB
public import Scheduler

/// The notification tables in the schedctl database: the alert cursor over `run_event` and the
/// delivery outbox (`notify_outbox`), which is also the rate-limit window and the digest queue.
/// The `notify_delivery` table of `notify-v1` is no longer written.
public struct NotifyStore: Sendable {
    /// The database.
    public var store: Store

    /// A view of `store`'s notification tables.
    public init(store: Store) { self.store = store }

    /// The migrations (registered through `StoreSchema`).
    public static let migrations: Store.MigrationRegistration = { migrator in
        migrator.registerMigration("notify-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE notify_cursor (
                        name TEXT PRIMARY KEY NOT NULL,
                        event_id INTEGER NOT NULL
                    );
                    CREATE TABLE notify_delivery (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        notifier TEXT NOT NULL,
                        at REAL NOT NULL,
                        run_id INTEGER REFERENCES run(id) ON DELETE SET NULL,
                        event_id INTEGER,
                        alert TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'folded', 'digested')),
                        detail TEXT
                    );
                    CREATE INDEX notify_delivery_window ON notify_delivery(notifier, at);
                    CREATE INDEX notify_delivery_folded ON notify_delivery(notifier) WHERE state = 'folded';
                    CREATE TABLE report_log (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job TEXT NOT NULL,
                        run_id INTEGER,
                        at REAL NOT NULL
                    );
                    CREATE INDEX report_log_job ON report_log(job, at);
                    CREATE TABLE report_snapshot (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job TEXT NOT NULL,
                        broker TEXT NOT NULL,
                        account TEXT NOT NULL,
                        at REAL NOT NULL,
                        equity TEXT NOT NULL
                    );
                    CREATE INDEX report_snapshot_account ON report_snapshot(broker, account, at);
                    """)
        }
        registerOutbox(&migrator)
    }

    /// One run event joined with its run, as the dispatcher reads it.
    public struct OutboxEvent: Sendable, Hashable {
        public var id: Int64
        public var runID: Int64
        public var at: Double
        public var kind: String
        public var message: String
        public var job: String
        public var nominal: Int64
    }

    /// The cursor `name`, started at the newest event when missing (history is not alerted).
    public func cursor(_ name: String) async throws -> Int64 {
        try await store.writer.write { db in
            if let value = try Int64.fetchOne(db, sql: "SELECT event_id FROM notify_cursor WHERE name = ?", arguments: [name]) { return value }
            let newest = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM run_event") ?? 0
            try db.execute(sql: "INSERT INTO notify_cursor (name, event_id) VALUES (?, ?)", arguments: [name, newest])
            return newest
        }
    }

    /// Up to `limit` events after `cursor`, oldest first.
    public func events(after cursor: Int64, limit: Int = 200) async throws -> [OutboxEvent] {
        try await store.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.id, e.run_id, e.at, e.kind, e.message, r.job, r.nominal FROM run_event e JOIN run r ON r.id = e.run_id
                    WHERE e.id > ? ORDER BY e.id LIMIT ?
                    """, arguments: [cursor, limit]
            ).map { row in
                OutboxEvent(id: row[0], runID: row[1], at: row[2], kind: row[3], message: row[4], job: row[5], nominal: row[6])
            }
        }
    }

    /// Moves cursor `name` from `from` to `to` unless another instance moved it first (false).
    public func advance(_ name: String, from: Int64, to: Int64) async throws -> Bool {
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE notify_cursor SET event_id = ? WHERE name = ? AND event_id = ?", arguments: [to, name, from])
            return db.changesCount == 1
        }
    }

    /// Records a message sent outside the alert queue (`notify test`, reports) as a finished
    /// delivery in the outbox; it does not count against the notifier's hourly limit.
    public func record(notifier: String, alert: String, runID: Int64?, message: NotificationMessage, delivered: Bool, detail: String, now: Date)
        async throws
    {
        try await recordFinished(
            notifier: notifier, event: alert, runID: runID, message: message, delivered: delivered, error: delivered ? nil : detail, now: now)
    }

    static func event(_ db: Database, _ runID: Int64, _ at: Double, _ kind: String, _ message: String, _ instance: String?) throws {
        try db.execute(
            sql: "INSERT INTO run_event (run_id, at, kind, message, instance) VALUES (?, ?, ?, ?, ?)", arguments: [runID, at, kind, message, instance])
    }
}
