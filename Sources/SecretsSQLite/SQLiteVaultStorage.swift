import Foundation
public import GRDB
public import Secrets

/// ``VaultStorage`` in SQLite through GRDB: the vault lives in the application's database.
///
/// The caller owns the database: it registers ``registerMigrations(_:)`` in its migrator, runs
/// the migrator, and configures the writer (WAL via `DatabasePool`, a busy timeout). Every
/// vault write goes through `writer.write`, which GRDB 7 opens with `BEGIN IMMEDIATE` (its
/// default for writes; `Configuration.defaultTransactionKind` no longer exists in GRDB 7).
/// Tables hold sealed bytes only, never plaintext.
///
/// ```swift
/// var migrator = DatabaseMigrator()
/// SQLiteVaultStorage.registerMigrations(&migrator)
/// try migrator.migrate(dbPool)
/// let vault = try Vault.open(storage: SQLiteVaultStorage(writer: dbPool), key: sshKey)
/// ```
public struct SQLiteVaultStorage: VaultStorage {
    /// The name of the migration that creates the vault tables.
    public static let migrationName = "secrets-v1"

    /// The database.
    public let writer: any DatabaseWriter

    /// Wraps `writer`; the vault migration must have run on it.
    public init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    /// Adds the vault's migrations (`secrets-v1`: tables `vault_header` and `vault_secret`).
    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration(migrationName) { db in
            try db.execute(
                sql: """
                    CREATE TABLE vault_header (
                        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                        format_version INTEGER NOT NULL,
                        salt BLOB NOT NULL,
                        key_fingerprint TEXT NOT NULL,
                        key_id BLOB NOT NULL,
                        created_at DATETIME NOT NULL,
                        rekeyed_at DATETIME NOT NULL
                    );
                    CREATE TABLE vault_secret (
                        name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                        sealed BLOB NOT NULL,
                        version INTEGER NOT NULL CHECK (version >= 1),
                        updated_at DATETIME NOT NULL
                    );
                    """)
        }
    }

    public func write<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T {
        try writer.write { db in try body(Transaction(db: db)) }
    }

    /// Makes the writer connection zero deleted content (`PRAGMA secure_delete`), for a rekey.
    public func enableSecureDelete() throws {
        try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
    }

    /// Leaves no old sealed value on disk after a rekey: rebuilds the database without its free
    /// pages (`VACUUM`) and empties the write-ahead log (`wal_checkpoint(TRUNCATE)`), so values
    /// sealed under the old key survive neither in free pages nor in the WAL.
    public func scrubFreedContent() throws {
        try writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            try db.execute(sql: "VACUUM")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T {
        try writer.read { db in try body(Transaction(db: db)) }
    }

    private final class Transaction: VaultTransaction {
        let db: Database

        init(db: Database) { self.db = db }

        func header() throws -> VaultHeader? {
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM vault_header WHERE id = 1") else { return nil }
            return VaultHeader(
                formatVersion: row["format_version"],
                salt: row["salt"],
                keyFingerprint: row["key_fingerprint"],
                keyID: row["key_id"],
                createdAt: row["created_at"],
                rekeyedAt: row["rekeyed_at"])
        }

        func setHeader(_ header: VaultHeader) throws {
            try db.execute(
                sql: """
                    INSERT INTO vault_header (id, format_version, salt, key_fingerprint, key_id, created_at, rekeyed_at)
                    VALUES (1, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        format_version = excluded.format_version, salt = excluded.salt,
                        key_fingerprint = excluded.key_fingerprint, key_id = excluded.key_id,
                        created_at = excluded.created_at, rekeyed_at = excluded.rekeyed_at
                    """,
                arguments: [
                    header.formatVersion, header.salt, header.keyFingerprint, header.keyID,
                    header.createdAt, header.rekeyedAt,
                ])
        }

        func record(named name: String) throws -> VaultRecord? {
            try Row.fetchOne(db, sql: "SELECT * FROM vault_secret WHERE name = ?", arguments: [name]).map(Self.record)
        }

        func allRecords() throws -> [VaultRecord] {
            try Row.fetchAll(db, sql: "SELECT * FROM vault_secret ORDER BY name").map(Self.record)
        }

        func upsert(_ record: VaultRecord) throws {
            try db.execute(
                sql: """
                    INSERT INTO vault_secret (name, sealed, version, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET
                        sealed = excluded.sealed, version = excluded.version, updated_at = excluded.updated_at
                    """,
                arguments: [record.name, record.sealed, record.version, record.updatedAt])
        }

        func delete(named name: String) throws -> Bool {
            try db.execute(sql: "DELETE FROM vault_secret WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }

        private static func record(_ row: Row) -> VaultRecord {
            VaultRecord(name: row["name"], sealed: row["sealed"], version: row["version"], updatedAt: row["updated_at"])
        }
    }
}
