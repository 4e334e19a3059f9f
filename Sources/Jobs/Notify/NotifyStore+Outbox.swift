public import Foundation
import GRDB
import SchedctlBase
import Scheduler

/// The delivery outbox (`notify_outbox`): one row per alert, digest, report or test message
/// for one notifier, with a stable id that receivers see on every attempt. Workers claim due
/// rows with a lease, send, and record the result; a claim whose lease ran out (its process
/// died) is taken over.
extension NotifyStore {
    /// The outbox migration (registered after `notify-v1`).
    static func registerOutbox(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("notify-v2-outbox") { db in
            try db.execute(
                sql: """
                    CREATE TABLE notify_outbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        uid TEXT NOT NULL UNIQUE,
                        notifier TEXT NOT NULL,
                        event TEXT NOT NULL,
                        run_id INTEGER REFERENCES run(id) ON DELETE SET NULL,
                        event_id INTEGER,
                        severity TEXT NOT NULL CHECK (severity IN ('critical', 'routine')),
                        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'expired', 'folded', 'digested')),
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                        next_attempt_at REAL,
                        claimed_by TEXT,
                        lease_until REAL,
                        done_recipients TEXT NOT NULL DEFAULT '[]',
                        last_error TEXT,
                        message TEXT NOT NULL,
                        digest_line TEXT,
                        digest_id INTEGER,
                        finished_at REAL,
                        CHECK ((claimed_by IS NULL) = (lease_until IS NULL)),
                        CHECK (state = 'pending' OR claimed_by IS NULL)
                    );
                    CREATE INDEX notify_outbox_due ON notify_outbox(notifier, next_attempt_at) WHERE state = 'pending';
                    CREATE INDEX notify_outbox_window ON notify_outbox(notifier, created_at);
                    CREATE INDEX notify_outbox_folded ON notify_outbox(notifier) WHERE state = 'folded';
                    CREATE UNIQUE INDEX notify_outbox_event ON notify_outbox(event_id, notifier) WHERE event_id IS NOT NULL;
                    """)
        }
    }

    /// One outbox row.
    public struct OutboxDelivery: Sendable, Hashable {
        /// The row id.
        public var rowID: Int64
        /// The stable delivery id (`Schedctl-Delivery`).
        public var id: String
        /// The notifier's name.
        public var notifier: String
        /// The alert (`risk_limit`, …), `digest`, `report` or `test`.
        public var event: String
        /// The run it is about, if any.
        public var runID: Int64?
        /// `critical` or `routine`.
        public var severity: String
        /// `pending`, `delivered`, `failed`, `expired`, `folded` or `digested`.
        public var state: String
        /// When it was queued (seconds since 1970).
        public var createdAt: Double
        /// When it is given up.
        public var expiresAt: Double
        /// Attempts so far.
        public var attempts: Int
        /// When the next attempt is due (pending only).
        public var nextAttemptAt: Double?
        /// Who holds the claim, while a send is under way.
        public var claimedBy: String?
        /// When that claim lapses.
        public var leaseUntil: Double?
        /// Recipients that already accepted it (never sent to again).
        public var doneRecipients: [String]
        /// The last failure, redacted.
        public var lastError: String?
        /// The message (redacted).
        public var message: NotificationMessage

        /// Whether it is in `state` pending and claimed.
        public var isClaimed: Bool { claimedBy != nil }

        static let columns = """
            id, uid, notifier, event, run_id, severity, state, created_at, expires_at, attempts, next_attempt_at, claimed_by, lease_until,
            done_recipients, last_error, message
            """

        init(row: Row) {
            rowID = row["id"]
            id = row["uid"]
            notifier = row["notifier"]
            event = row["event"]
            runID = row["run_id"]
            severity = row["severity"]
            state = row["state"]
            createdAt = row["created_at"]
            expiresAt = row["expires_at"]
            attempts = row["attempts"]
            nextAttemptAt = row["next_attempt_at"]
            claimedBy = row["claimed_by"]
            leaseUntil = row["lease_until"]
            doneRecipients = (try? JSONDecoder().decode([String].self, from: Data((row["done_recipients"] as String).utf8))) ?? []
            lastError = row["last_error"]
            message =
                (try? JSONDecoder().decode(NotificationMessage.self, from: Data((row["message"] as String).utf8)))
                ?? NotificationMessage(subject: "", text: "")
        }
    }

    /// A new delivery to queue with an event's claim.
    public struct NewDelivery: Sendable {
        /// The notifier's name.
        public var notifier: String
        /// Its hourly limit for routine messages.
        public var limit: Int
        /// Whether the alert is critical.
        public var critical: Bool
        /// How long it may be retried.
        public var expire: Duration
        /// The line it becomes in a digest.
        public var digestLine: String

        /// A new delivery.
        public init(notifier: String, limit: Int, critical: Bool, expire: Duration, digestLine: String) {
            self.notifier = notifier
            self.limit = limit
            self.critical = critical
            self.expire = expire
            self.digestLine = digestLine
        }
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    /// Claims event `event` (moving cursor `name` past it) and queues one delivery per target,
    /// each admitted by `policy` (sent, or folded into the notifier's digest), in one
    /// transaction. Returns how many were queued and folded, or nil when another instance
    /// claimed the event first.
    public func enqueue(
        _ name: String, from: Int64, event: OutboxEvent, alert: String, message: NotificationMessage, targets: [NewDelivery],
        policy: DeliveryPolicy, now: Date
    ) async throws -> (queued: Int, folded: Int)? {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db in
            try db.execute(sql: "UPDATE notify_cursor SET event_id = ? WHERE name = ? AND event_id = ?", arguments: [event.id, name, from])
            guard db.changesCount == 1 else { return nil }
            var queued = 0
            var folded = 0
            for target in targets {
                let admission = policy.admit(critical: target.critical, used: try Self.usedRoutine(db, target.notifier, since: t - 3600), limit: target.limit)
                let state = admission == .send ? "pending" : "folded"
                try Self.insertOutbox(
                    db, notifier: target.notifier, event: alert, runID: event.runID, eventID: event.id, critical: target.critical, state: state,
                    createdAt: t, expiresAt: t + target.expire.seconds, message: message, digestLine: target.digestLine)
                if admission == .fold {
                    folded += 1
                    try Self.event(
                        db, event.runID, t, "notify-folded",
                        "to \(target.notifier): over its limit of \(target.limit) routine alerts an hour; folded into the next digest", nil)
                } else {
                    queued += 1
                }
            }
            return (queued, folded)
        }
    }

    /// Queues a digest of `notifier`'s folded alerts when it has room in its hourly window; the
    /// folded rows become `digested`. Returns the digest's row, or nil.
    public func enqueueDigest(
        notifier: String, limit: Int, expire: Duration, now: Date, compose: @escaping @Sendable ([String]) -> NotificationMessage
    ) async throws
        -> OutboxDelivery?
    {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db -> OutboxDelivery? in
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, digest_line FROM notify_outbox WHERE notifier = ? AND state = 'folded' ORDER BY id", arguments: [notifier])
            guard !rows.isEmpty, try Self.usedRoutine(db, notifier, since: t - 3600) < limit else { return nil }
            let lines = rows.map { ($0["digest_line"] as String?) ?? "" }
            let id = try Self.insertOutbox(
                db, notifier: notifier, event: "digest", runID: nil, eventID: nil, critical: false, state: "pending", createdAt: t,
                expiresAt: t + expire.seconds, message: compose(lines), digestLine: nil)
            let last: Int64 = rows.last!["id"]
            try db.execute(
                sql: "UPDATE notify_outbox SET state = 'digested', digest_id = ?, finished_at = ? WHERE notifier = ? AND state = 'folded' AND id <= ?",
                arguments: [id, t, notifier, last])
            return try Row.fetchOne(db, sql: "SELECT \(OutboxDelivery.columns) FROM notify_outbox WHERE id = ?", arguments: [id]).map(OutboxDelivery.init)
        }
    }

    /// Notifiers with folded alerts waiting.
    public func notifiersWithFolded() async throws -> [String] {
        try await store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT notifier FROM notify_outbox WHERE state = 'folded' ORDER BY notifier")
        }
    }

    /// Gives up `notifier`'s pending deliveries whose time ran out (and that nobody holds), each
    /// with a `notify-expired` run event. Returns how many.
    @discardableResult
    public func expire(notifier: String, policy: DeliveryPolicy, now: Date) async throws -> Int {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(OutboxDelivery.columns) FROM notify_outbox
                    WHERE notifier = ? AND state = 'pending' AND expires_at < ? AND (lease_until IS NULL OR lease_until <= ?)
                    """, arguments: [notifier, t, t]
            ).map(OutboxDelivery.init)
            for row in rows where policy.hasExpired(expiresAt: row.expiresAt, now: t) {
                try db.execute(
                    sql:
                        "UPDATE notify_outbox SET state = 'expired', claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, finished_at = ? WHERE id = ?",
                    arguments: [t, row.rowID])
                try Self.recordOnRuns(
                    db, row, t, "notify-expired", "not delivered within its expiry after \(row.attempts) attempts (last: \(row.lastError ?? "none"))")
            }
            return rows.count
        }
    }

    /// Claims `notifier`'s next due delivery for `claimer` until `leaseUntil`: a pending one
    /// whose attempt is due and that nobody holds, or one whose holder's lease ran out. Critical
    /// deliveries go first. The attempt is counted at the claim.
    public func claimNext(notifier: String, claimer: String, lease: Duration, now: Date) async throws -> OutboxDelivery? {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db -> OutboxDelivery? in
            guard
                let id = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT id FROM notify_outbox
                        WHERE notifier = ? AND state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                        ORDER BY severity = 'critical' DESC, next_attempt_at, id LIMIT 1
                        """, arguments: [notifier, t, t])
            else { return nil }
            try db.execute(
                sql: "UPDATE notify_outbox SET claimed_by = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                arguments: [claimer, t + lease.seconds, id])
            return try Row.fetchOne(db, sql: "SELECT \(OutboxDelivery.columns) FROM notify_outbox WHERE id = ?", arguments: [id]).map(OutboxDelivery.init)
        }
    }

    /// Records recipients that accepted delivery `rowID` while `claimer` still holds it.
    public func addDone(_ rowID: Int64, claimer: String, recipients: [String]) async throws {
        guard !recipients.isEmpty else { return }
        try await store.writer.write { db in
            guard
                let text = try String.fetchOne(
                    db, sql: "SELECT done_recipients FROM notify_outbox WHERE id = ? AND claimed_by = ?", arguments: [rowID, claimer])
            else { return }
            var done = (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
            for recipient in recipients where !done.contains(recipient) { done.append(recipient) }
            try db.execute(sql: "UPDATE notify_outbox SET done_recipients = ? WHERE id = ?", arguments: [Self.json(done), rowID])
        }
    }

    /// Records how an attempt on `delivery` ended, unless `claimer` lost its claim meanwhile
    /// (false then): delivered, retried at a later time, failed or expired, with a run event on
    /// every run the delivery covers.
    @discardableResult
    public func finishAttempt(_ delivery: OutboxDelivery, claimer: String, next: DeliveryPolicy.Next, error: String?, now: Date) async throws -> Bool {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db in
            switch next {
            case .retry(let at):
                try db.execute(
                    sql:
                        "UPDATE notify_outbox SET claimed_by = NULL, lease_until = NULL, next_attempt_at = ?, last_error = ? WHERE id = ? AND claimed_by = ? AND state = 'pending'",
                    arguments: [at, error, delivery.rowID, claimer])
            case .delivered, .failed, .expired:
                let state = next == .delivered ? "delivered" : next == .failed ? "failed" : "expired"
                try db.execute(
                    sql: """
                        UPDATE notify_outbox SET state = ?, claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, last_error = ?, finished_at = ?
                        WHERE id = ? AND claimed_by = ? AND state = 'pending'
                        """, arguments: [state, error, t, delivery.rowID, claimer])
            }
            guard db.changesCount == 1 else { return false }
            let what = delivery.event
            switch next {
            case .delivered:
                try Self.recordOnRuns(db, delivery, t, "notify-sent", "delivered (\(what), delivery \(delivery.id), attempt \(delivery.attempts))")
            case .retry(let at):
                try Self.recordOnRuns(
                    db, delivery, t, "notify-retry",
                    "attempt \(delivery.attempts) failed (\(error ?? "?")); retrying at \(Instant(seconds: Int64(at.rounded(.up))).iso8601)")
            case .failed:
                try Self.recordOnRuns(db, delivery, t, "notify-failed", "\(error ?? "failed") (\(what), delivery \(delivery.id); not retried)")
            case .expired:
                try Self.recordOnRuns(db, delivery, t, "notify-expired", "\(error ?? "failed") (\(what), delivery \(delivery.id); expired)")
            }
            return true
        }
    }

    /// Records a message sent outside the queue (`notify test`, reports) as a finished delivery.
    @discardableResult
    public func recordFinished(notifier: String, event: String, runID: Int64?, message: NotificationMessage, delivered: Bool, error: String?, now: Date)
        async throws -> String
    {
        let t = now.timeIntervalSince1970
        return try await store.writer.write { db in
            let id = try Self.insertOutbox(
                db, notifier: notifier, event: event, runID: runID, eventID: nil, critical: false, state: delivered ? "delivered" : "failed",
                createdAt: t, expiresAt: t, message: message, digestLine: nil, attempts: 1, lastError: error)
            return try String.fetchOne(db, sql: "SELECT uid FROM notify_outbox WHERE id = ?", arguments: [id]) ?? ""
        }
    }

    /// The newest `limit` deliveries, newest first (`notify log`).
    public func outbox(limit: Int = 50) async throws -> [OutboxDelivery] {
        try await store.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT \(OutboxDelivery.columns) FROM notify_outbox ORDER BY id DESC LIMIT ?", arguments: [limit]).map(
                OutboxDelivery.init)
        }
    }

    /// Routine messages `notifier` used since `since`: queued alerts and digests. Critical
    /// alerts, `notify test`, reports and folded alerts do not count.
    static func usedRoutine(_ db: Database, _ notifier: String, since: Double) throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) FROM notify_outbox WHERE notifier = ? AND created_at > ? AND severity = 'routine'
                AND state IN ('pending', 'delivered', 'failed', 'expired') AND event NOT IN ('test', 'report')
                """, arguments: [notifier, since]) ?? 0
    }

    @discardableResult
    static func insertOutbox(
        _ db: Database, notifier: String, event: String, runID: Int64?, eventID: Int64?, critical: Bool, state: String, createdAt: Double,
        expiresAt: Double, message: NotificationMessage, digestLine: String?, attempts: Int = 0, lastError: String? = nil
    ) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO notify_outbox (uid, notifier, event, run_id, event_id, severity, state, created_at, expires_at, attempts, next_attempt_at,
                    last_error, message, digest_line, finished_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                UUID().uuidString.lowercased(), notifier, event, runID, eventID, critical ? "critical" : "routine", state, createdAt, expiresAt, attempts,
                state == "pending" ? createdAt : nil, lastError, json(message), digestLine, state == "delivered" || state == "failed" ? createdAt : nil,
            ])
        return db.lastInsertedRowID
    }

    /// Records a run event on the run `delivery` is about, or on every run a digest covers.
    static func recordOnRuns(_ db: Database, _ delivery: OutboxDelivery, _ t: Double, _ kind: String, _ message: String) throws {
        let runs: [Int64]
        if delivery.event == "digest" {
            runs = try Int64.fetchAll(
                db, sql: "SELECT DISTINCT run_id FROM notify_outbox WHERE digest_id = ? AND run_id IS NOT NULL ORDER BY run_id", arguments: [delivery.rowID])
        } else {
            runs = delivery.runID.map { [$0] } ?? []
        }
        for runID in runs { try event(db, runID, t, kind, "to \(delivery.notifier) (\(delivery.event)): \(message)", nil) }
    }
}
