import Crypto
public import Foundation

/// The secret vault: named values sealed with AES-256-GCM under a key derived from an SSH key.
///
/// Each value is sealed under a fresh random nonce; the associated data binds the value to its
/// name, the vault's key id and the format version, so a sealed value copied to another name
/// (or another vault) does not open. Every operation re-checks the header inside its
/// transaction, so a vault rekeyed by another process is never written with a stale key.
///
/// ```swift
/// let loaded = try SSHKeyLocation.load(path: path, passphrase: passphrase)
/// let vault = try Vault.open(storage: storage, key: loaded.key)
/// try vault.set("pennyvault/token", to: token)
/// let clientID = try vault.require("tradestation/client_id").value
/// ```
public struct Vault: Sendable {
    /// The format version this code writes and reads.
    public static let formatVersion = 1

    /// The storage backend.
    public let storage: any VaultStorage
    let key: VaultKey
    let redactor: Redactor?
    let now: @Sendable () -> Date

    /// Fingerprint of the SSH key the vault is sealed with.
    public var keyFingerprint: String { key.keyFingerprint }
    /// The vault's key id (a check value, not secret).
    public var keyID: Data { key.keyID }

    init(storage: any VaultStorage, key: VaultKey, redactor: Redactor?, now: @escaping @Sendable () -> Date) {
        self.storage = storage
        self.key = key
        self.redactor = redactor
        self.now = now
    }

    /// Opens the vault in `storage` with `key`, creating it when `create` is true and the
    /// storage is empty. Fails (writing nothing) on an unknown format version, a different
    /// key, or a damaged header. Values read later are registered with `redactor`.
    public static func open(
        storage: any VaultStorage,
        key sshKey: SSHPrivateKey,
        create: Bool = true,
        redactor: Redactor? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> Vault {
        let existing = try wrapStorage { try storage.read { try $0.header() } }
        let header: VaultHeader
        if let existing {
            header = existing
        } else {
            guard create else { throw SecretsError.vaultNotInitialized() }
            let salt = VaultKey.randomSalt()
            let fresh = VaultKey(sshKey: sshKey, salt: salt)
            let created = now()
            header = try wrapStorage {
                try storage.write { transaction in
                    if let raced = try transaction.header() { return raced }  // created meanwhile
                    let header = VaultHeader(
                        formatVersion: formatVersion, salt: salt, keyFingerprint: fresh.keyFingerprint,
                        keyID: fresh.keyID, createdAt: created, rekeyedAt: created)
                    try transaction.setHeader(header)
                    return header
                }
            }
        }
        let key = try validate(header: header, sshKey: sshKey)
        return Vault(storage: storage, key: key, redactor: redactor, now: now)
    }

    /// Checks a header against an SSH key and derives the vault key.
    static func validate(header: VaultHeader, sshKey: SSHPrivateKey) throws(SecretsError) -> VaultKey {
        guard header.formatVersion == formatVersion else {
            throw .unsupportedVaultVersion(header.formatVersion, supported: formatVersion)
        }
        guard header.keyFingerprint == sshKey.fingerprint else {
            throw .wrongVaultKey(sealedWith: header.keyFingerprint, given: sshKey.fingerprint)
        }
        guard header.salt.count == VaultKey.saltLength else {
            throw .vaultCorrupted("the vault header's salt is \(header.salt.count) bytes, not \(VaultKey.saltLength)")
        }
        let key = VaultKey(sshKey: sshKey, salt: header.salt)
        guard constantTimeEqual(key.keyID, header.keyID) else {
            throw .vaultCorrupted("the vault header's key id does not match key \(sshKey.fingerprint)")
        }
        return key
    }

    // MARK: Secrets

    /// Stores `value` under `name`, replacing any previous value.
    public func set(_ name: String, to value: String) throws {
        try set(name, data: Data(value.utf8))
    }

    /// Stores raw bytes under `name`.
    public func set(_ name: String, data: Data) throws {
        try setAll([(name, data)])
    }

    /// Stores several values in one transaction (all or none). Text values are registered with
    /// the redactor.
    public func setAll(_ values: [(name: String, data: Data)]) throws {
        for (name, _) in values { try SecretName.validate(name) }
        let sealed = try values.map { ($0.name, try Self.seal($0.data, name: $0.name, key: key)) }
        let timestamp = now()
        try write { transaction in
            try checkHeader(transaction)
            for (name, bytes) in sealed {
                let version = (try transaction.record(named: name)?.version ?? 0) + 1
                try transaction.upsert(VaultRecord(name: name, sealed: bytes, version: version, updatedAt: timestamp))
            }
        }
        if let redactor {
            for (_, data) in values { if let text = String(data: data, encoding: .utf8) { redactor.register(text) } }
        }
    }

    /// The value named `name` as text, or nil when there is none.
    public func get(_ name: String) throws -> Secret<String>? {
        guard let data = try getData(name) else { return nil }
        guard let text = String(data: data.value, encoding: .utf8) else {
            throw SecretsError.vaultCorrupted("secret '\(name)' is not UTF-8 text", secretName: name)
        }
        redactor?.register(text)
        return Secret(text)
    }

    /// The value named `name` as bytes, or nil when there is none.
    public func getData(_ name: String) throws -> Secret<Data>? {
        guard let record = try storedRecord(name) else { return nil }
        return Secret(try Self.open(record.sealed, name: name, key: key))
    }

    /// The value named `name`; throws ``SecretsError/Kind/secretNotFound`` when missing.
    public func require(_ name: String) throws -> Secret<String> {
        guard let value = try get(name) else { throw SecretsError.secretNotFound(name) }
        return value
    }

    /// Resolves a `secret:NAME` reference.
    public func resolve(_ reference: SecretReference) throws -> Secret<String> {
        try require(reference.name)
    }

    /// Names, versions and update times of all secrets. Never values.
    public func list() throws -> [SecretInfo] {
        try read { transaction in
            try checkHeader(transaction)
            return try transaction.allRecords().map {
                SecretInfo(name: $0.name, version: $0.version, updatedAt: $0.updatedAt)
            }
        }
    }

    /// Removes `name`; returns whether it existed.
    @discardableResult
    public func remove(_ name: String) throws -> Bool {
        try SecretName.validate(name)
        return try write { transaction in
            try checkHeader(transaction)
            return try transaction.delete(named: name)
        }
    }

    /// Re-seals every secret under `newKey` (with a fresh salt) in one transaction and returns
    /// the vault opened with the new key. If any value fails to open, nothing is changed.
    public func rekey(to newKey: SSHPrivateKey) throws -> Vault {
        let salt = VaultKey.randomSalt()
        let fresh = VaultKey(sshKey: newKey, salt: salt)
        let timestamp = now()
        let oldKey = key
        try write { transaction in
            let header = try checkHeader(transaction)
            for record in try transaction.allRecords() {
                let plain = try Self.open(record.sealed, name: record.name, key: oldKey)
                var resealed = record
                resealed.sealed = try Self.seal(plain, name: record.name, key: fresh)
                try transaction.upsert(resealed)
            }
            var updated = header
            updated.salt = salt
            updated.keyFingerprint = fresh.keyFingerprint
            updated.keyID = fresh.keyID
            updated.rekeyedAt = timestamp
            try transaction.setHeader(updated)
        }
        return Vault(storage: storage, key: fresh, redactor: redactor, now: now)
    }

    // MARK: Token state

    /// The vault name of a broker's token state: `BROKER/token_state`.
    public static func tokenStateName(for broker: String) -> String { "\(broker)/token_state" }

    /// Registers `value` (a token a broker just issued) with the vault's redactor, if it has one.
    public func registerForRedaction(_ value: String) { redactor?.register(value) }

    /// The broker's token state with its version, or nil when none is stored.
    public func tokenState(for broker: String) throws -> VersionedTokenState? {
        let name = Self.tokenStateName(for: broker)
        guard let record = try storedRecord(name) else { return nil }
        let state = try TokenState(json: try Self.open(record.sealed, name: name, key: key), name: name)
        for value in state.secretValues { redactor?.register(value) }
        return VersionedTokenState(state: state, version: record.version, updatedAt: record.updatedAt)
    }

    /// Replaces the broker's token state if its version is still `expectedVersion` (nil: none
    /// stored yet), in one transaction. On a lost race throws
    /// ``SecretsError/Kind/tokenStateConflict`` and changes nothing: re-read and use the newer
    /// tokens, so a rotated refresh token is never overwritten by an older one.
    @discardableResult
    public func replaceTokenState(
        for broker: String, expectedVersion: Int64?, with state: TokenState
    ) throws -> VersionedTokenState {
        let name = Self.tokenStateName(for: broker)
        try SecretName.validate(name)
        redactor?.register(state.accessToken)
        if let refresh = state.refreshToken { redactor?.register(refresh) }
        let sealed = try Self.seal(state.jsonData(), name: name, key: key)
        // Freshly issued tokens are secrets from the moment they are stored.
        for value in state.secretValues { redactor?.register(value) }
        let timestamp = now()
        let version = try write { transaction in
            try checkHeader(transaction)
            let current = try transaction.record(named: name)?.version
            guard current == expectedVersion else {
                throw SecretsError.tokenStateConflict(name, expected: expectedVersion, actual: current)
            }
            let next = (current ?? 0) + 1
            try transaction.upsert(VaultRecord(name: name, sealed: sealed, version: next, updatedAt: timestamp))
            return next
        }
        return VersionedTokenState(state: state, version: version, updatedAt: timestamp)
    }

    // MARK: Sealing

    /// Associated data: `"schedctl-vault" ‖ uint32 version ‖ string(keyID) ‖ string(name)`.
    static func associatedData(name: String, keyID: Data, version: Int = formatVersion) -> Data {
        var writer = SSHWriter()
        writer.writeString("schedctl-vault")
        writer.writeUInt32(UInt32(version))
        writer.writeString(Array(keyID))
        writer.writeString(name)
        return Data(writer.bytes)
    }

    static func seal(_ plaintext: Data, name: String, key: VaultKey) throws -> Data {
        let box = try AES.GCM.seal(
            plaintext, using: key.symmetricKey, nonce: AES.GCM.Nonce(),
            authenticating: associatedData(name: name, keyID: key.keyID))
        guard let combined = box.combined else { throw SecretsError.storageFailure("AES-GCM produced no output") }
        return combined
    }

    static func open(_ sealed: Data, name: String, key: VaultKey) throws -> Data {
        guard sealed.count >= 12 + 16 else {
            throw SecretsError.vaultCorrupted("secret '\(name)' is truncated (\(sealed.count) bytes)", secretName: name)
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return try AES.GCM.open(box, using: key.symmetricKey, authenticating: associatedData(name: name, keyID: key.keyID))
        } catch {
            throw SecretsError.vaultCorrupted(
                "secret '\(name)' failed authentication (altered, truncated, or moved from another name)",
                secretName: name)
        }
    }

    // MARK: Transactions

    /// Verifies that the stored header still belongs to this vault's key.
    @discardableResult
    func checkHeader(_ transaction: any VaultTransaction) throws -> VaultHeader {
        guard let header = try transaction.header() else { throw SecretsError.vaultNotInitialized() }
        guard header.formatVersion == Self.formatVersion else {
            throw SecretsError.unsupportedVaultVersion(header.formatVersion, supported: Self.formatVersion)
        }
        guard header.keyFingerprint == key.keyFingerprint, constantTimeEqual(header.keyID, key.keyID) else {
            throw SecretsError.vaultChanged()
        }
        return header
    }

    private func write<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T {
        try Self.wrapStorage { try storage.write(body) }
    }

    /// The record named `name` (validated) after checking the vault's header, or nil.
    private func storedRecord(_ name: String) throws -> VaultRecord? {
        try SecretName.validate(name)
        return try read { transaction in
            try checkHeader(transaction)
            return try transaction.record(named: name)
        }
    }

    private func read<T: Sendable>(_ body: @Sendable (any VaultTransaction) throws -> T) throws -> T {
        try Self.wrapStorage { try storage.read(body) }
    }

    private static func wrapStorage<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SecretsError {
            throw error
        } catch {
            throw SecretsError.storageFailure(String(describing: error))
        }
    }
}

/// What `list` shows about a secret: never its value.
public struct SecretInfo: Sendable, Equatable {
    /// The secret's name.
    public let name: String
    /// Its write counter.
    public let version: Int64
    /// When it was last written.
    public let updatedAt: Date
}
