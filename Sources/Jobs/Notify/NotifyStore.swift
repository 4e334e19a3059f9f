public import Foundation
import GRDB
public import Scheduler

/// The notification tables in the schedctl database: the alert cursor over `run_event` (the
/// outbox) and every delivery, which is also the rate-limit window and the digest queue.
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

    /// One delivery row.
    public struct Delivery: Sendable, Hashable {
        public var id: Int64
        public var notifier: String
        public var at: Double
        public var runID: Int64?
        public var alert: String
        public var state: String
        public var detail: String?
    }

    /// What to do with one alert for one notifier.
    public enum Slot: Sendable, Hashable {
        /// Send now: the delivery row `id` is in state `sending`.
        case send(id: Int64)
        /// The notifier is over its hourly limit: folded into the next digest.
        case folded
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

    /// Claims event `event` (moving cursor `name` past it) and, for each notifier in `targets`,
    /// takes a slot in its hourly window or folds the alert (`line`) into its digest. Returns nil
    /// when another instance claimed the event first.
    public func claim(
        _ name: String, from: Int64, event: OutboxEvent, alert: String, line: String, targets: [(notifier: String, limit: Int)], now: Date
    ) async throws -> [String: Slot]? {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db in
            try db.execute(sql: "UPDATE notify_cursor SET event_id = ? WHERE name = ? AND event_id = ?", arguments: [event.id, name, from])
            guard db.changesCount == 1 else { return nil }
            var slots: [String: Slot] = [:]
            for target in targets {
                if try Self.used(db, target.notifier, since: t - 3600) < target.limit {
                    try Self.insert(db, target.notifier, t, event.runID, event.id, alert, "sending", nil)
                    slots[target.notifier] = .send(id: db.lastInsertedRowID)
                } else {
                    try Self.insert(db, target.notifier, t, event.runID, event.id, alert, "folded", line)
                    try Self.event(
                        db, event.runID, t, "notify-folded",
                        "to \(target.notifier): over its limit of \(target.limit) an hour; folded into the next digest", nil)
                    slots[target.notifier] = .folded
                }
            }
            return slots
        }
    }

    /// Records how delivery `id` ended, and a run event when it belongs to a run.
    public func finish(_ id: Int64, delivered: Bool, detail: String, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(
                sql: "UPDATE notify_delivery SET state = ?, detail = ? WHERE id = ?", arguments: [delivered ? "sent" : "failed", detail, id])
            if let row = try Row.fetchOne(db, sql: "SELECT notifier, run_id, alert FROM notify_delivery WHERE id = ?", arguments: [id]),
                let runID = row["run_id"] as Int64?
            {
                let notifier: String = row["notifier"]
                try Self.event(
                    db, runID, now.timeIntervalSince1970, delivered ? "notify-sent" : "notify-failed",
                    "to \(notifier) (\(row["alert"] as String)): \(detail)", nil)
            }
        }
    }

    /// For a notifier with folded alerts and room in its window: takes one slot and marks the
    /// folded rows as digested. Returns the slot's id and the folded rows (oldest first).
    public func claimDigest(notifier: String, limit: Int, now: Date) async throws -> (id: Int64, items: [Delivery])? {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db in
            let items = try Row.fetchAll(
                db, sql: "SELECT id, notifier, at, run_id, alert, state, detail FROM notify_delivery WHERE notifier = ? AND state = 'folded' ORDER BY id",
                arguments: [notifier]
            ).map { Delivery(id: $0[0], notifier: $0[1], at: $0[2], runID: $0[3], alert: $0[4], state: $0[5], detail: $0[6]) }
            guard !items.isEmpty, try Self.used(db, notifier, since: t - 3600) < limit else { return nil }
            try Self.insert(db, notifier, t, nil, nil, "digest", "sending", "\(items.count) alerts")
            let id = db.lastInsertedRowID
            try db.execute(
                sql:
                    "UPDATE notify_delivery SET state = 'digested', detail = detail || ' [digest #' || ? || ']' WHERE notifier = ? AND state = 'folded' AND id <= ?",
                arguments: [id, notifier, items.last!.id])
            return (id, items)
        }
    }

    /// Records a digest's result on every run it covered.
    public func finishDigest(_ id: Int64, items: [Delivery], delivered: Bool, detail: String, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(
                sql: "UPDATE notify_delivery SET state = ?, detail = ? WHERE id = ?", arguments: [delivered ? "sent" : "failed", detail, id])
            for runID in Set(items.compactMap(\.runID)).sorted() {
                try Self.event(
                    db, runID, now.timeIntervalSince1970, delivered ? "notify-sent" : "notify-failed",
                    "to \(items[0].notifier) (digest of \(items.count) alerts): \(detail)", nil)
            }
        }
    }

    /// Notifiers with folded alerts waiting.
    public func notifiersWithFoldedAlerts() async throws -> [String] {
        try await store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT notifier FROM notify_delivery WHERE state = 'folded' ORDER BY notifier")
        }
    }

    /// Every delivery, newest first (for tests and `notify log`).
    public func deliveries(limit: Int = 100) async throws -> [Delivery] {
        try await store.writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, notifier, at, run_id, alert, state, detail FROM notify_delivery ORDER BY id DESC LIMIT ?", arguments: [limit]
            ).map { Delivery(id: $0[0], notifier: $0[1], at: $0[2], runID: $0[3], alert: $0[4], state: $0[5], detail: $0[6]) }
        }
    }

    /// Records a delivery outside the alert path (`notify test`, reports): one row, sent or failed.
    public func record(notifier: String, alert: String, runID: Int64?, delivered: Bool, detail: String, now: Date) async throws {
        try await store.writer.write { db in
            try Self.insert(db, notifier, now.timeIntervalSince1970, runID, nil, alert, delivered ? "sent" : "failed", detail)
        }
    }

    static func used(_ db: Database, _ notifier: String, since: Double) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM notify_delivery WHERE notifier = ? AND at > ? AND state IN ('sending', 'sent', 'failed') AND alert != 'report'",
            arguments: [notifier, since]) ?? 0
    }

    static func insert(
        _ db: Database, _ notifier: String, _ at: Double, _ runID: Int64?, _ eventID: Int64?, _ alert: String, _ state: String, _ detail: String?
    ) throws {
        try db.execute(
            sql: "INSERT INTO notify_delivery (notifier, at, run_id, event_id, alert, state, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [notifier, at, runID, eventID, alert, state, detail])
    }

    static func event(_ db: Database, _ runID: Int64, _ at: Double, _ kind: String, _ message: String, _ instance: String?) throws {
        try db.execute(
            sql: "INSERT INTO run_event (run_id, at, kind, message, instance) VALUES (?, ?, ?, ?, ?)", arguments: [runID, at, kind, message, instance])
    }
}
