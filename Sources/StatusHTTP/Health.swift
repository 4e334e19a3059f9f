public import Foundation
import GRDB
import SchedctlBase
import Synchronization

/// One named check of `/healthz`.
public struct HealthCheck: Encodable, Sendable, Hashable {
    /// `ok` or `fail`.
    public var status: String
    /// What was seen, in words.
    public var detail: String

    static func ok(_ detail: String) -> HealthCheck { HealthCheck(status: "ok", detail: detail) }
    static func fail(_ detail: String) -> HealthCheck { HealthCheck(status: "fail", detail: detail) }
}

/// The body of `/healthz`: `{"status":"ok","checks":{…}}`, or `fail` naming the failing checks.
public struct HealthReport: Encodable, Sendable, Hashable {
    /// `ok` when every check is.
    public var status: String
    /// `loop`, `database` and `leases`.
    public var checks: [String: HealthCheck]
    /// Whether every check passed (200, else 503).
    public var healthy: Bool { status == "ok" }
}

/// How long each liveness fact may be stale before `/healthz` fails.
public struct HealthPolicy: Sendable, Hashable {
    /// The engine loop completes a pass at least every `maxSleep` (0.5 s); longer than this is a stall.
    public var loopStallAfter: Duration = .seconds(10)
    /// No write transaction could begin for this long: the database is not writable.
    public var writeFailingFor: Duration = .seconds(15)
    /// Defaults.
    public init() {}
}

/// The pure decision of `/healthz` from the facts (table-tested).
public enum HealthVerdict {
    /// The report as of `now`; `since` is when the service started (facts not seen yet count from it).
    public static func evaluate(
        engine: EngineLiveness.Facts, database: WriteProbe.Facts, now: Date, since: Date, policy: HealthPolicy = HealthPolicy()
    ) -> HealthReport {
        var checks: [String: HealthCheck] = [:]
        let sincePass = now.timeIntervalSince(engine.lastPass ?? since)
        if sincePass > policy.loopStallAfter.seconds {
            checks["loop"] = .fail(
                engine.lastPass == nil
                    ? String(format: "the engine loop has not completed a pass in %.1fs since start", sincePass)
                    : String(format: "the engine loop last completed a pass %.1fs ago (stalled)", sincePass))
        } else {
            checks["loop"] = .ok(engine.lastPass == nil ? "starting" : String(format: "last pass %.1fs ago", max(0, sincePass)))
        }
        let sinceWrite = now.timeIntervalSince(database.lastSuccess ?? since)
        if database.unwritable {
            // Not a lock someone holds: the file refused the write (read-only, I/O error, full disk).
            checks["database"] = .fail("the database does not take writes: " + (database.lastError ?? "unknown error"))
        } else if database.lastFailure != nil, database.lastSuccess.map({ $0 < database.lastFailure! }) ?? true, sinceWrite > policy.writeFailingFor.seconds {
            checks["database"] = .fail(
                String(format: "no write transaction could begin for %.1fs: ", sinceWrite) + (database.lastError ?? "unknown error"))
        } else {
            checks["database"] = .ok(database.lastSuccess.map { String(format: "writable %.1fs ago", max(0, now.timeIntervalSince($0))) } ?? "not probed yet")
        }
        if let failed = engine.lastRenewalFailure, engine.lastRenewal.map({ $0 < failed }) ?? true {
            checks["leases"] = .fail(String(format: "the last lease renewal failed %.1fs ago", max(0, now.timeIntervalSince(failed))))
        } else {
            checks["leases"] = .ok(engine.lastRenewal.map { String(format: "renewed %.1fs ago", max(0, now.timeIntervalSince($0))) } ?? "no renewal needed yet")
        }
        let healthy = checks.values.allSatisfy { $0.status == "ok" }
        return HealthReport(status: healthy ? "ok" : "fail", checks: checks)
    }
}

/// Whether the database takes writes: on its own connection, a `BEGIN IMMEDIATE` transaction (it
/// waits a short busy timeout for the write lock) that rewrites the header's `user_version` with
/// its own value and commits. No data changes, but the commit writes a page, so a file that no
/// longer takes writes (remounted read-only, immutable, an I/O error, a full disk) fails the
/// probe; a `BEGIN` alone writes nothing and would not notice. `/healthz` reads the outcome of
/// the last probes; `StatusServer` probes every `probeInterval`.
public final class WriteProbe: Sendable {
    /// What the probes saw.
    public struct Facts: Sendable, Hashable {
        /// When a probe last began a write transaction.
        public var lastSuccess: Date?
        /// When a probe last could not, and why.
        public var lastFailure: Date?
        public var lastError: String?
        /// Whether the last probe failed because the file refused the write (not a wait for the lock).
        public var unwritable: Bool
        /// Nothing seen.
        public init(lastSuccess: Date? = nil, lastFailure: Date? = nil, lastError: String? = nil, unwritable: Bool = false) {
            self.lastSuccess = lastSuccess
            self.lastFailure = lastFailure
            self.lastError = lastError
            self.unwritable = unwritable
        }
    }

    private let queue: DatabaseQueue
    private let wall: @Sendable () -> Date
    private let state = Mutex(Facts())

    /// A probe of the database at `path` that waits at most `timeout` for the write lock.
    public init(path: String, timeout: Duration = .seconds(1), wall: @escaping @Sendable () -> Date = { Date() }) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(timeout.seconds)
        configuration.label = "schedctl.health"
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.wall = wall
    }

    /// The facts so far.
    public var facts: Facts { state.withLock { $0 } }

    /// Tries once; returns whether a write transaction could be committed.
    @discardableResult
    public func probe() async -> Bool {
        do {
            try await queue.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                do {
                    let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                    try db.execute(sql: "PRAGMA user_version = \(version)")
                    try db.execute(sql: "COMMIT")
                } catch {
                    if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                    throw error
                }
            }
            let now = wall()
            state.withLock {
                $0.lastSuccess = now
                $0.unwritable = false
            }
            return true
        } catch {
            let now = wall()
            let databaseError = error as? DatabaseError
            let message = databaseError.map { "\($0.extendedResultCode): \($0.message ?? "")" } ?? "\(error)"
            let busy = databaseError.map { $0.resultCode == .SQLITE_BUSY || $0.resultCode == .SQLITE_LOCKED } ?? false
            state.withLock {
                $0.lastFailure = now
                $0.lastError = message
                $0.unwritable = !busy
            }
            return false
        }
    }
}
