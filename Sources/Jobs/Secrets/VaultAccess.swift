import Foundation
public import Scheduler
public import Secrets
import SecretsSQLite
import Synchronization

/// Opens the secret vault kept in the schedctl database, with the user's SSH key.
public enum VaultAccess {
    /// The store migrations the vault needs (registered by the composition root).
    public static let migrations: Store.MigrationRegistration = { SQLiteVaultStorage.registerMigrations(&$0) }

    /// Finds and loads the SSH key: `explicitPath` (`--ssh-key`), then `secrets.ssh_key` from
    /// `jobs.yaml`, then `SCHEDCTL_SSH_KEY`, `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`. An encrypted
    /// key's passphrase comes from `SCHEDCTL_SSH_PASSPHRASE`, `SCHEDCTL_SSH_PASSPHRASE_FILE` or the
    /// systemd credential `ssh-passphrase`, else from `prompt` (nil: fail with what to do).
    public static func loadKey(
        explicitPath: String?, configured: String?, environment: [String: String] = ProcessHardening.startEnvironment,
        prompt: (@Sendable (String) -> String?)? = nil
    ) throws -> SSHKeyLocation.Loaded {
        let location = try SSHKeyLocation.resolve(
            explicitPath: explicitPath ?? configured, environment: environment, fileExists: { FileManager.default.fileExists(atPath: $0) })
        return try SSHKeyLocation.load(path: location.path) { () throws(SecretsError) -> String? in
            if let passphrase = try SSHKeyLocation.passphrase(environment: environment) { return passphrase }
            return prompt?("Passphrase for \(location.path): ")
        }
    }

    /// Re-seals the vault in `store` under `newKey` and leaves no value sealed under the old key
    /// on disk: secure delete for the rekey, then a `VACUUM` and an emptied write-ahead log.
    public static func rekey(_ vault: Vault, store: Store, to newKey: SSHPrivateKey) throws -> Vault {
        let storage = SQLiteVaultStorage(writer: store.writer)
        try storage.enableSecureDelete()
        let rekeyed = try vault.rekey(to: newKey)
        try storage.scrubFreedContent()
        return rekeyed
    }

    /// The vault in `store`, sealed with `key`; created on first use when `create` is true.
    public static func open(store: Store, key: SSHPrivateKey, create: Bool, redactor: Redactor? = nil) throws -> Vault {
        try Vault.open(storage: SQLiteVaultStorage(writer: store.writer), key: key, create: create, redactor: redactor)
    }
}

/// Resolves `secret:NAME` from the vault when a job runs, opening the vault on first use, and
/// registers every resolved value with the redactor that guards logs, errors and the database.
public final class VaultSecretResolver: SecretResolving {
    private let store: Store
    private let keyPath: String?
    private let environment: [String: String]
    /// The redactor every resolved value is registered with.
    public let redactor: Redactor
    private let vault = Mutex<Result<Vault, SecretsError>?>(nil)

    /// A resolver for the vault in `store`, keyed by the SSH key at `keyPath` (or the defaults).
    public init(store: Store, keyPath: String?, redactor: Redactor, environment: [String: String] = ProcessHardening.startEnvironment) {
        self.store = store
        self.keyPath = keyPath
        self.redactor = redactor
        self.environment = environment
    }

    /// The vault, opened on first use (the SSH key's passphrase only from the environment).
    public func openedVault() throws -> Vault { try openVault() }

    private func openVault() throws -> Vault {
        if let cached = vault.withLock({ $0 }) { return try cached.get() }
        let result: Result<Vault, SecretsError>
        do {
            let key = try VaultAccess.loadKey(explicitPath: nil, configured: keyPath, environment: environment)
            result = .success(try VaultAccess.open(store: store, key: key.key, create: false, redactor: redactor))
        } catch let error as SecretsError {
            result = .failure(error)
        } catch {
            throw JobFailure("cannot open the vault: \(error)", retryable: false)
        }
        vault.withLock { $0 = result }
        return try result.get()
    }

    public func resolve(_ name: String) async throws -> String {
        do {
            let value = try openVault().require(name).value
            redactor.register(value)
            return value
        } catch let error as SecretsError {
            throw JobFailure("secret '\(name)': \(error)", retryable: false)
        }
    }

    public func redact(_ text: String) -> String { redactor.redact(text) }
}
