public import Foundation

/// The one error type of the `Secrets` module.
///
/// Every error says what went wrong and how to fix it. No message ever contains a secret value:
/// only names, paths, key fingerprints and counts.
///
/// ```swift
/// do { _ = try vault.get("tradestation/client_id") }
/// catch let error as SecretsError where error.kind == .wrongVaultKey { print(error) }
/// ```
public struct SecretsError: Error, CustomStringConvertible, Sendable {
    fileprivate enum Code: Hashable, Sendable {
        case keyNotFound
        case keyFileMissing
        case keyFileUnreadable
        case invalidKeyFormat
        case unsupportedKey
        case passphraseRequired
        case wrongPassphrase
        case wrongVaultKey
        case vaultNotInitialized
        case unsupportedVaultVersion
        case vaultCorrupted
        case vaultChanged
        case secretNotFound
        case invalidSecretName
        case invalidSecretReference
        case tokenStateConflict
        case invalidTokenState
        case invalidConfiguration
        case importDecryptionFailed
        case storageFailure
    }

    /// A matchable category of ``SecretsError`` (an open set: new kinds may be added).
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }

        /// No SSH key was given and none of the default locations exists.
        public static let keyNotFound = Kind(.keyNotFound)
        /// The SSH key file does not exist.
        public static let keyFileMissing = Kind(.keyFileMissing)
        /// The SSH key file exists but cannot be read.
        public static let keyFileUnreadable = Kind(.keyFileUnreadable)
        /// The key file is not a private key in a format we understand, or it is damaged.
        public static let invalidKeyFormat = Kind(.invalidKeyFormat)
        /// The key type, cipher or KDF is not supported.
        public static let unsupportedKey = Kind(.unsupportedKey)
        /// The key is encrypted and no passphrase was given.
        public static let passphraseRequired = Kind(.passphraseRequired)
        /// The passphrase does not decrypt the key.
        public static let wrongPassphrase = Kind(.wrongPassphrase)
        /// The vault was sealed with another key.
        public static let wrongVaultKey = Kind(.wrongVaultKey)
        /// The vault has no header yet.
        public static let vaultNotInitialized = Kind(.vaultNotInitialized)
        /// The vault was written by a newer (or unknown) format version.
        public static let unsupportedVaultVersion = Kind(.unsupportedVaultVersion)
        /// A sealed value or the header failed authentication or is truncated.
        public static let vaultCorrupted = Kind(.vaultCorrupted)
        /// The vault was rekeyed by another process after this one opened it.
        public static let vaultChanged = Kind(.vaultChanged)
        /// No secret has that name.
        public static let secretNotFound = Kind(.secretNotFound)
        /// A secret name contains characters outside `[A-Za-z0-9._/-]`.
        public static let invalidSecretName = Kind(.invalidSecretName)
        /// A `secret:NAME` reference is malformed.
        public static let invalidSecretReference = Kind(.invalidSecretReference)
        /// Token state was changed by someone else since it was read (compare-and-swap lost).
        public static let tokenStateConflict = Kind(.tokenStateConflict)
        /// A stored token state is not valid JSON of the expected shape.
        public static let invalidTokenState = Kind(.invalidTokenState)
        /// A configuration file (e.g. `tradestation.toml`) is malformed or lacks a required key.
        public static let invalidConfiguration = Kind(.invalidConfiguration)
        /// A value sealed by pv-tradestation could not be decrypted.
        public static let importDecryptionFailed = Kind(.importDecryptionFailed)
        /// The storage backend failed.
        public static let storageFailure = Kind(.storageFailure)

        public var description: String { String(describing: code) }
    }

    /// What kind of failure this is.
    public var kind: Kind { Kind(code) }
    /// A message a user can act on: what went wrong, then the fix.
    public let message: String
    /// The file involved, if any.
    public let path: String?
    /// The secret name involved, if any (never its value).
    public let secretName: String?

    private let code: Code

    private init(_ code: Code, _ message: String, path: String? = nil, secretName: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.secretName = secretName
    }

    public var description: String { message }

    // MARK: Factories (internal; each message names the fix)

    static func keyNotFound(tried: [String]) -> SecretsError {
        SecretsError(
            .keyNotFound,
            "no SSH private key found (tried \(tried.joined(separator: ", "))); "
                + "pass --ssh-key PATH, set secrets.ssh_key in jobs.yaml or SCHEDCTL_SSH_KEY, "
                + "or create one with `ssh-keygen -t ed25519`"
        )
    }

    static func keyFileMissing(_ path: String) -> SecretsError {
        SecretsError(
            .keyFileMissing,
            "SSH key file '\(path)' does not exist; check the path given by --ssh-key, "
                + "secrets.ssh_key or SCHEDCTL_SSH_KEY",
            path: path
        )
    }

    static func passphraseFileUnreadable(_ path: String, reason: String) -> SecretsError {
        SecretsError(
            .keyFileUnreadable,
            "cannot read the passphrase file '\(path)' (\(reason)); check SCHEDCTL_SSH_PASSPHRASE_FILE or the "
                + "ssh-passphrase credential, and that the file is readable by the user running schedctl",
            path: path
        )
    }

    static func keyFileUnreadable(_ path: String, reason: String) -> SecretsError {
        SecretsError(
            .keyFileUnreadable,
            "cannot read SSH key file '\(path)' (\(reason)); make it readable by the user running "
                + "schedctl (chmod 600 '\(path)')",
            path: path
        )
    }

    static func invalidKeyFormat(_ path: String?, _ detail: String) -> SecretsError {
        SecretsError(
            .invalidKeyFormat,
            "\(path.map { "'\($0)'" } ?? "the key") is not a usable SSH private key: \(detail); "
                + "give the private key (not the .pub file) in OpenSSH or PEM format",
            path: path
        )
    }

    static func unsupportedKey(_ path: String?, _ detail: String, fix: String) -> SecretsError {
        SecretsError(
            .unsupportedKey,
            "\(path.map { "'\($0)'" } ?? "the key"): \(detail); \(fix)",
            path: path
        )
    }

    static func passphraseRequired(_ path: String?) -> SecretsError {
        let shown = path.map { "'\($0)'" } ?? "the SSH key"
        return SecretsError(
            .passphraseRequired,
            "\(shown) is protected by a passphrase; set SCHEDCTL_SSH_PASSPHRASE to it "
                + "(e.g. from a systemd credential) or run schedctl interactively to be prompted",
            path: path
        )
    }

    static func wrongPassphrase(_ path: String?) -> SecretsError {
        let shown = path.map { "'\($0)'" } ?? "the SSH key"
        return SecretsError(
            .wrongPassphrase,
            "the passphrase does not decrypt \(shown); check SCHEDCTL_SSH_PASSPHRASE "
                + "(test it with `ssh-keygen -y -f KEY`)",
            path: path
        )
    }

    static func wrongVaultKey(sealedWith: String, given: String) -> SecretsError {
        SecretsError(
            .wrongVaultKey,
            "the vault is sealed with key \(sealedWith), you gave \(given); "
                + "use the SSH key with fingerprint \(sealedWith) (`ssh-keygen -lf KEY` shows a key's fingerprint)"
        )
    }

    static func vaultNotInitialized() -> SecretsError {
        SecretsError(
            .vaultNotInitialized,
            "the secret vault has not been created yet; store a first secret with `schedctl secrets set NAME`"
        )
    }

    static func unsupportedVaultVersion(_ version: Int, supported: Int) -> SecretsError {
        SecretsError(
            .unsupportedVaultVersion,
            "the vault has format version \(version), this schedctl understands version \(supported) only; "
                + "upgrade schedctl (nothing was changed)"
        )
    }

    static func vaultCorrupted(_ detail: String, secretName: String? = nil) -> SecretsError {
        SecretsError(
            .vaultCorrupted,
            "\(detail); the vault may have been tampered with or damaged (nothing was changed); "
                + "restore the database from a backup or set the secret again",
            secretName: secretName
        )
    }

    static func vaultChanged() -> SecretsError {
        SecretsError(
            .vaultChanged,
            "the vault was rekeyed by another process since it was opened (nothing was changed); "
                + "open it again with the new key"
        )
    }

    static func secretNotFound(_ name: String) -> SecretsError {
        SecretsError(
            .secretNotFound,
            "no secret named '\(name)'; store it with `schedctl secrets set \(name)` "
                + "(`schedctl secrets list` shows the names)",
            secretName: name
        )
    }

    static func invalidSecretName(_ name: String) -> SecretsError {
        SecretsError(
            .invalidSecretName,
            "secret name '\(name.prefix(64))' is invalid; use 1–200 characters from A–Z a–z 0–9 . _ / - "
                + "(e.g. tradestation/client_id)"
        )
    }

    static func invalidSecretReference(_ text: String) -> SecretsError {
        SecretsError(
            .invalidSecretReference,
            "'\(text.prefix(64))' is not a secret reference; write secret:NAME, e.g. secret:tradestation/client_id"
        )
    }

    static func tokenStateConflict(_ name: String, expected: Int64?, actual: Int64?) -> SecretsError {
        let e = expected.map(String.init) ?? "none"
        let a = actual.map(String.init) ?? "none"
        return SecretsError(
            .tokenStateConflict,
            "token state '\(name)' changed since it was read (expected version \(e), found \(a)); "
                + "another process refreshed it: read it again and use the newer token",
            secretName: name
        )
    }

    static func invalidTokenState(_ name: String, _ detail: String) -> SecretsError {
        SecretsError(
            .invalidTokenState,
            "secret '\(name)' is not a valid token state (\(detail)); sign in again "
                + "(e.g. `schedctl auth tradestation`)",
            secretName: name
        )
    }

    static func invalidConfiguration(_ path: String?, _ detail: String, fix: String) -> SecretsError {
        SecretsError(
            .invalidConfiguration,
            "\(path.map { "\($0): " } ?? "")\(detail); \(fix)",
            path: path
        )
    }

    static func importDecryptionFailed(_ path: String?, _ what: String, keyFile: String) -> SecretsError {
        SecretsError(
            .importDecryptionFailed,
            "\(path.map { "\($0): " } ?? "")cannot decrypt \(what) with key file '\(keyFile)'; "
                + "use the key_file that pv-tradestation used when it saved these values",
            path: path
        )
    }

    static func storageFailure(_ detail: String) -> SecretsError {
        SecretsError(.storageFailure, "the secret store failed: \(detail)")
    }
}

extension SecretsError: LocalizedError {
    public var errorDescription: String? { message }
}
