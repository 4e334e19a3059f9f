public import Foundation

/// Where the SSH key that protects the vault comes from, and loading it from disk.
///
/// Resolution order: an explicit path (`--ssh-key` or `secrets.ssh_key` in jobs.yaml), then
/// `SCHEDCTL_SSH_KEY`, then `~/.ssh/id_ed25519`, then `~/.ssh/id_rsa`.
///
/// ```swift
/// let location = try SSHKeyLocation.resolve(explicitPath: options.sshKey,
///                                           environment: ProcessInfo.processInfo.environment,
///                                           fileExists: { FileManager.default.fileExists(atPath: $0) })
/// let loaded = try SSHKeyLocation.load(path: location.path, passphrase: env["SCHEDCTL_SSH_PASSPHRASE"])
/// loaded.warnings.forEach { logger.warning("\($0)") }
/// ```
public struct SSHKeyLocation: Sendable, Equatable {
    /// Why this path was chosen.
    public enum Source: String, Sendable, Equatable {
        /// Given explicitly (`--ssh-key`, or `secrets.ssh_key` in the config).
        case explicit
        /// From the `SCHEDCTL_SSH_KEY` environment variable.
        case environment
        /// The default `~/.ssh/id_ed25519`.
        case defaultEd25519
        /// The default `~/.ssh/id_rsa`.
        case defaultRSA
    }

    /// The environment variable naming the key file.
    public static let keyEnvironmentVariable = "SCHEDCTL_SSH_KEY"
    /// The environment variable holding the key's passphrase.
    public static let passphraseEnvironmentVariable = "SCHEDCTL_SSH_PASSPHRASE"
    /// The environment variable naming a file that holds the key's passphrase.
    public static let passphraseFileEnvironmentVariable = "SCHEDCTL_SSH_PASSPHRASE_FILE"
    /// The systemd credential (`LoadCredential=ssh-passphrase:…`) holding the passphrase.
    public static let passphraseCredential = "ssh-passphrase"

    /// The passphrase from the environment, without prompting: `SCHEDCTL_SSH_PASSPHRASE`, else
    /// the file `SCHEDCTL_SSH_PASSPHRASE_FILE` names, else the systemd credential
    /// `$CREDENTIALS_DIRECTORY/ssh-passphrase`; one trailing newline of a file is dropped.
    /// Nil when none is set; throws when a named file cannot be read.
    public static func passphrase(
        environment: [String: String], readFile: (String) throws -> Data = { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    ) throws(SecretsError) -> String? {
        if let value = environment[passphraseEnvironmentVariable] { return value }
        var path: String?
        if let file = environment[passphraseFileEnvironmentVariable], !file.isEmpty {
            path = file
        } else if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let candidate = (directory as NSString).appendingPathComponent(passphraseCredential)
            if FileManager.default.fileExists(atPath: candidate) { path = candidate }
        }
        guard let path else { return nil }
        let data: Data
        do {
            data = try readFile(path)
        } catch {
            throw SecretsError.passphraseFileUnreadable(path, reason: (error as NSError).localizedDescription)
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// The absolute (tilde-expanded) path.
    public let path: String
    /// Where the path came from.
    public let source: Source

    public init(path: String, source: Source) {
        self.path = path
        self.source = source
    }

    /// Picks the key file. Pure: the environment and the existence check are injected.
    ///
    /// An explicit path or `SCHEDCTL_SSH_KEY` is returned even when the file is missing (loading
    /// then reports it clearly); the defaults are only taken when they exist.
    public static func resolve(
        explicitPath: String?,
        environment: [String: String],
        fileExists: (String) -> Bool
    ) throws(SecretsError) -> SSHKeyLocation {
        let home = environment["HOME"]
        if let explicitPath, !explicitPath.isEmpty {
            return SSHKeyLocation(path: expandTilde(explicitPath, home: home), source: .explicit)
        }
        if let fromEnvironment = environment[keyEnvironmentVariable], !fromEnvironment.isEmpty {
            return SSHKeyLocation(path: expandTilde(fromEnvironment, home: home), source: .environment)
        }
        var tried: [String] = []
        if let home {
            for (name, source) in [("id_ed25519", Source.defaultEd25519), ("id_rsa", .defaultRSA)] {
                let path = (home as NSString).appendingPathComponent(".ssh/\(name)")
                if fileExists(path) { return SSHKeyLocation(path: path, source: source) }
                tried.append(path)
            }
        } else {
            tried = ["~/.ssh/id_ed25519 and ~/.ssh/id_rsa (HOME is not set)"]
        }
        throw .keyNotFound(tried: tried)
    }

    /// Expands a leading `~` or `~/`.
    public static func expandTilde(_ path: String, home: String?) -> String {
        guard let home, path == "~" || path.hasPrefix("~/") else { return path }
        return home + path.dropFirst()
    }

    /// A key read from disk, with the warnings found along the way (e.g. loose permissions).
    public struct Loaded: Sendable {
        /// The parsed key.
        public let key: SSHPrivateKey
        /// Human-readable warnings to log (never containing key material).
        public let warnings: [String]
    }

    /// The warning for a key file readable by group or others, or nil when the mode is private.
    public static func permissionWarning(path: String, mode: Int) -> String? {
        guard mode & 0o077 != 0 else { return nil }
        let shown = String(mode & 0o777, radix: 8)
        return "permissions 0\(shown) for '\(path)' are too open: the private key is readable by "
            + "group or others; run `chmod 600 '\(path)'`"
    }

    /// Reads and parses the key at `path`. Errors clearly when it is missing, unreadable,
    /// encrypted without a passphrase, or not a private key.
    public static func load(path: String, passphrase: String?) throws(SecretsError) -> Loaded {
        try load(path: path, passphraseProvider: { passphrase })
    }

    /// Like ``load(path:passphrase:)``, but asks `passphraseProvider` only when the key is
    /// encrypted (e.g. read `SCHEDCTL_SSH_PASSPHRASE`, else prompt on a terminal; return nil
    /// when neither is possible).
    public static func load(
        path: String, passphraseProvider: () throws(SecretsError) -> String?
    ) throws(SecretsError) -> Loaded {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .keyFileMissing(path)
        }
        guard !isDirectory.boolValue else {
            throw .keyFileUnreadable(path, reason: "it is a directory")
        }
        var warnings: [String] = []
        if let attributes = try? manager.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue,
            let warning = permissionWarning(path: path, mode: mode)
        {
            warnings.append(warning)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .keyFileUnreadable(path, reason: manager.isReadableFile(atPath: path) ? "read failed" : "permission denied")
        }
        let encrypted = String(data: data, encoding: .utf8).map(SSHPrivateKey.isEncrypted(pemText:)) ?? false
        let passphrase = encrypted ? try passphraseProvider() : nil
        let key = try SSHPrivateKey(fileContents: data, passphrase: passphrase, path: path)
        return Loaded(key: key, warnings: warnings)
    }
}
