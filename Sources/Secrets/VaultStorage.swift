public import Foundation
import Synchronization

/// The vault's header: one row per vault.
public struct VaultHeader: Sendable, Equatable {
    /// The vault format version (``Vault/formatVersion`` when written by this code).
    public var formatVersion: Int
    /// The random per-vault HKDF salt (32 bytes).
    public var salt: Data
    /// Fingerprint of the SSH key the vault is sealed with (`SHA256:…`).
    public var keyFingerprint: String
    /// Key id: a check value derived from the vault key, bound into every sealed value.
    public var keyID: Data
    /// When the vault was created.
    public var createdAt: Date
    /// When the vault was last rekeyed (or created).
    public var rekeyedAt: Date

    public init(formatVersion: Int, salt: Data, keyFingerprint: String, keyID: Data, createdAt: Date, rekeyedAt: Date) {
        self.formatVersion = formatVersion
        self.salt = salt
        self.keyFingerprint = keyFingerprint
        self.keyID = keyID
        self.createdAt = createdAt
        self.rekeyedAt = rekeyedAt
    }
}

/// One sealed secret as stored. Holds no plaintext.
public struct VaultRecord: Sendable, Equatable {
    /// The secret's name (see ``SecretName``).
    public var name: String
    /// `nonce(12) ‖ ciphertext ‖ tag(16)` of AES-256-GCM.
    public var sealed: Data
    /// Starts at 1 and grows by one on every write of this name (compare-and-swap token).
    public var version: Int64
    /// When the value was last written.
    public var updatedAt: Date

    public init(name: String, sealed: Data, version: Int64, updatedAt: Date) {
        self.name = name
        self.sealed = sealed
        self.version = version
        self.updatedAt = updatedAt
    }
}

/// Persistence for the vault. Implementations: ``InMemoryVaultStorage`` and, in module
/// `SecretsSQLite`, `SQLiteVaultStorage`. All of them pass one conformance suite.
public protocol VaultStorage: Sendable {
    /// Runs `body` in one write transaction (all or nothing): if `body` throws, nothing it did
    /// is kept. Concurrent writers are serialized.
    func write<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T
    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T
}

/// Access to the stored vault inside one transaction. Mutating calls are only valid inside
/// ``VaultStorage/write(_:)``.
public protocol VaultTransaction {
    /// The header, or nil for an empty vault.
    func header() throws -> VaultHeader?
    /// Creates or replaces the header.
    func setHeader(_ header: VaultHeader) throws
    /// The record named `name`, if any.
    func record(named name: String) throws -> VaultRecord?
    /// Every record, sorted by name.
    func allRecords() throws -> [VaultRecord]
    /// Inserts or replaces the record with `record.name`.
    func upsert(_ record: VaultRecord) throws
    /// Deletes the record named `name`; returns whether it existed.
    @discardableResult
    func delete(named name: String) throws -> Bool
}

/// A vault kept in memory, for tests and for tools that do not persist.
public final class InMemoryVaultStorage: VaultStorage {
    struct State: Sendable {
        var header: VaultHeader?
        var records: [String: VaultRecord] = [:]
    }

    private final class Transaction: VaultTransaction {
        var state: State
        let writable: Bool

        init(state: State, writable: Bool) {
            self.state = state
            self.writable = writable
        }

        func header() throws -> VaultHeader? { state.header }

        func setHeader(_ header: VaultHeader) throws {
            try requireWritable()
            state.header = header
        }

        func record(named name: String) throws -> VaultRecord? { state.records[name] }

        func allRecords() throws -> [VaultRecord] { state.records.values.sorted { $0.name < $1.name } }

        func upsert(_ record: VaultRecord) throws {
            try requireWritable()
            state.records[record.name] = record
        }

        func delete(named name: String) throws -> Bool {
            try requireWritable()
            return state.records.removeValue(forKey: name) != nil
        }

        private func requireWritable() throws {
            guard writable else { throw SecretsError.storageFailure("write attempted in a read transaction") }
        }
    }

    private let state = Mutex(State())

    public init() {}

    public func write<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T {
        try state.withLock { current in
            let transaction = Transaction(state: current, writable: true)
            let result = try body(transaction)
            current = transaction.state  // commit only when body returned
            return result
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T {
        let snapshot = state.withLock { $0 }
        return try body(Transaction(state: snapshot, writable: false))
    }
}
