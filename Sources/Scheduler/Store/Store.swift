import Foundation
public import GRDB

/// The durable state of schedctl in one SQLite file: per-job watermarks and pause state, runs
/// (unique per job and nominal instant), run events, leases, checkpoints and live instances.
///
/// Writes are `BEGIN IMMEDIATE` transactions in WAL mode with a busy timeout, so several
/// `schedctl serve` processes can share one database. Every method keeps the invariants in
/// `docs/DESIGN.md`; callers never write SQL.
///
/// Tables other modules own (the vault, the paper ledger, Jobs' notify outbox, reports and
/// futures sessions) are schema extensions: their migrations are registered through
/// `extraMigrations`, and each has one repository type next to them (`SQLiteVaultStorage`,
/// `SQLitePaperLedger`, `NotifyStore`, `ReportStore`, `SessionControl`) that alone writes their
/// SQL through the `package` ``writer``.
public final class Store: Sendable {
    /// The GRDB connection pool: for the store's own methods and the schema extensions'
    /// repositories in this package; not public API.
    package let writer: DatabasePool
    /// The database file.
    public let path: String

    /// Adds migrations of other modules (the vault, the paper broker) to the store's migrator.
    public typealias MigrationRegistration = @Sendable (inout DatabaseMigrator) -> Void

    /// How hard each commit is pushed to the disk.
    public let durability: Durability

    /// Opens (creating with mode 0600 if needed) and migrates the database at `path`.
    /// `durability` sets SQLite's `synchronous` (`full` by default: a commit survives power loss).
    ///
    /// Throws `StoreError` when the file was written by a newer schedctl, is not a database,
    /// cannot be created, or the SQLite library is older than ``minimumSQLiteVersion``; nothing
    /// is written in those cases. Several processes may open a fresh
    /// file at once: each waits for the others' migration instead of failing.
    public init(path: String, durability: Durability = .full, extraMigrations: [MigrationRegistration] = []) throws {
        self.path = path
        self.durability = durability
        if let version = Store.sqliteVersion { try Store.checkSQLiteVersion(version, path: path) }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError(.cannotCreate, path: path, detail: "cannot create the directory \(directory): \(error.localizedDescription)")
            }
        }
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0o600)
            if fd < 0 && errno != EEXIST {
                throw StoreError(.cannotCreate, path: path, detail: String(cString: strerror(errno)))
            }
            if fd >= 0 { close(fd) }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(Double(Store.busyTimeoutMilliseconds) / 1000)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA foreign_keys = ON") }
        writer = try Store.openPool(path: path, configuration: configuration)
        do {
            // Only the writer commits. GRDB sets `synchronous = NORMAL` on it when it turns on WAL
            // (after `prepareDatabase`), so it is set here, once the pool is open.
            let synchronous = durability == .full ? "FULL" : "NORMAL"
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        } catch {
            throw StoreError(.notADatabase, path: path, detail: "\(error)")
        }
        var migrator = Store.migrator
        for register in extraMigrations { register(&migrator) }
        do {
            let superseded = try writer.read { db in try migrator.hasBeenSuperseded(db) }
            if superseded {
                throw StoreError(.newerSchema, path: path, detail: "")
            }
            try Store.migrate(writer, with: migrator)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.notADatabase, path: path, detail: "\(error)")
        }
        for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o600) }
    }

    /// The oldest SQLite whose SQL the store uses: `->>` (3.38) and `RETURNING` (3.35).
    public static let minimumSQLiteVersion = "3.38.0"

    /// The linked SQLite library's version (`sqlite_version()`), read once in memory.
    static let sqliteVersion: String? = try? DatabaseQueue().read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") }

    /// Throws ``StoreError`` (``SchedulerError/Kind/oldSQLite``) when `version` (as
    /// `sqlite_version()` prints it) is older than ``minimumSQLiteVersion``.
    static func checkSQLiteVersion(_ version: String, path: String) throws {
        func parts(_ text: String) -> [Int] {
            let numbers = text.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
            return numbers + Array(repeating: 0, count: max(0, 3 - numbers.count))
        }
        if parts(version).lexicographicallyPrecedes(parts(minimumSQLiteVersion)) {
            throw StoreError(.oldSQLite, path: path, detail: version)
        }
    }

    /// Opens the pool; a fresh file that another process is turning into WAL at this moment is
    /// retried briefly rather than reported as "not a database".
    private static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        var attempt = 0
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && attempt < 50 {
                attempt += 1
                usleep(20_000)
            } catch {
                throw StoreError(.notADatabase, path: path, detail: "\(error)")
            }
        }
    }

    /// Applies the pending migrations. Each migration runs in its own transaction, so when
    /// several processes race on a fresh file, the losers see "already exists" errors: they
    /// re-read what was applied and continue.
    private static func migrate(_ writer: DatabasePool, with migrator: DatabaseMigrator) throws {
        var attempt = 0
        while true {
            do {
                try migrator.migrate(writer)
                return
            } catch is DatabaseError where attempt < 20 {
                let applied = try writer.read { db in try migrator.hasCompletedMigrations(db) }
                if applied { return }
                attempt += 1
                usleep(20_000)
            }
        }
    }

    /// The schema, as named migrations. Never edit a landed migration: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("engine-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE job_state (
                        job TEXT PRIMARY KEY NOT NULL,
                        watermark INTEGER,
                        paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
                        paused_at REAL,
                        first_seen REAL NOT NULL
                    );
                    CREATE TABLE run (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job TEXT NOT NULL,
                        nominal INTEGER NOT NULL,
                        trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'backfill')),
                        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'abandoned')),
                        attempt INTEGER NOT NULL DEFAULT 0,
                        max_attempts INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
                        takeovers INTEGER NOT NULL DEFAULT 0,
                        generation INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL,
                        due_at REAL NOT NULL,
                        started_at REAL,
                        finished_at REAL,
                        cancel_requested INTEGER NOT NULL DEFAULT 0,
                        reason TEXT,
                        error TEXT,
                        summary TEXT,
                        detail TEXT
                    );
                    CREATE UNIQUE INDEX run_occurrence ON run(job, nominal) WHERE trigger != 'manual';
                    CREATE INDEX run_pending ON run(state, due_at) WHERE state = 'pending';
                    CREATE INDEX run_job_state ON run(job, state);
                    CREATE TABLE lease (
                        run_id INTEGER PRIMARY KEY NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        owner TEXT NOT NULL,
                        generation INTEGER NOT NULL,
                        acquired_at REAL NOT NULL,
                        expires_at REAL NOT NULL
                    );
                    CREATE INDEX lease_expiry ON lease(expires_at);
                    CREATE TABLE run_event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        at REAL NOT NULL,
                        kind TEXT NOT NULL,
                        message TEXT NOT NULL,
                        instance TEXT
                    );
                    CREATE INDEX run_event_run ON run_event(run_id);
                    CREATE TABLE checkpoint (
                        run_id INTEGER PRIMARY KEY NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        generation INTEGER NOT NULL,
                        value TEXT NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE TABLE instance (
                        id TEXT PRIMARY KEY NOT NULL,
                        pid INTEGER NOT NULL,
                        host TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        heartbeat_at REAL NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('running', 'draining')),
                        config TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("engine-v2") { db in
            // The jobs each live instance has (rolling reloads: a run is cancelled as "removed
            // from the configuration" only when no live instance has its job).
            try db.execute(sql: "ALTER TABLE instance ADD COLUMN jobs TEXT")
        }
        registerHistoryIndexes(&migrator)
        registerStrategyDates(&migrator)
        migrator.registerMigration("engine-v3-active-index") { db in
            // Runs by job only while active: a few pages that every start and end touches, where
            // an index of every run by (job, state) made each state change write a leaf page of
            // a large index per run.
            try db.execute(sql: "DROP INDEX run_job_state")
            try db.execute(sql: "CREATE INDEX run_job_active ON run(job) WHERE \(Store.active)")
        }
        migrator.registerMigration("engine-v4-lease-length") { db in
            // The owner's lease length (a taker waits the longer of its own and the owner's, so
            // instances with different `service.lease` never take a live owner's run), and a
            // count of renewals (a renewal always changes the row, whatever the wall clock does).
            try db.execute(sql: "ALTER TABLE lease ADD COLUMN duration REAL")
            try db.execute(sql: "ALTER TABLE lease ADD COLUMN renewals INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("engine-v5-instance-process") { db in
            // Who an instance's pid is (boot, PID namespace, start time), so `schedctl reload`
            // never signals a later process that reused the pid.
            try db.execute(sql: "ALTER TABLE instance ADD COLUMN boot TEXT")
            try db.execute(sql: "ALTER TABLE instance ADD COLUMN pidns TEXT")
            try db.execute(sql: "ALTER TABLE instance ADD COLUMN pid_start INTEGER")
        }
        return migrator
    }
}

extension Store {
    /// How long a statement waits for another connection's lock before it fails (SQLITE_BUSY).
    static let busyTimeoutMilliseconds = 10_000

    /// The condition of the partial index `run_job_active`, word for word: a query by job that
    /// repeats it uses the index (SQLite matches the text of the condition).
    static let active = "state IN ('pending', 'running')"
}

/// How hard each commit is pushed to the disk (`service.durability`).
public enum Durability: String, Sendable, Hashable, CaseIterable {
    /// `synchronous=FULL`: a commit survives power loss (the default).
    case full
    /// `synchronous=NORMAL` in WAL mode: faster; a power loss can lose the last commits
    /// (never corrupts the file).
    case normal
}

/// Facts about this build of the Scheduler module.
public enum SchedulerInfo {
    /// The schedctl version.
    public static let version = "0.1.0"
}
