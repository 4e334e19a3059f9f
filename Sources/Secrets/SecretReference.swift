/// A `secret:NAME` reference from a config file, resolved from the vault at run time.
///
/// ```swift
/// let ref = try SecretReference(parsing: "secret:tradestation/client_id")
/// ref.name   // "tradestation/client_id"
/// SecretReference.isReference("plain value")  // false
/// ```
public struct SecretReference: Hashable, Sendable, CustomStringConvertible {
    /// The prefix that marks a reference.
    public static let prefix = "secret:"

    /// The secret's name in the vault.
    public let name: String

    /// Parses `secret:NAME`; the name must be valid (see ``SecretName/validate(_:)``).
    public init(parsing text: String) throws(SecretsError) {
        guard text.hasPrefix(Self.prefix) else { throw .invalidSecretReference(text) }
        let name = String(text.dropFirst(Self.prefix.count))
        guard SecretName.isValid(name) else { throw .invalidSecretReference(text) }
        self.name = name
    }

    /// A reference to `name` (validated).
    public init(name: String) throws(SecretsError) {
        try SecretName.validate(name)
        self.name = name
    }

    /// Whether `text` looks like a reference (starts with `secret:`), valid or not.
    public static func isReference(_ text: String) -> Bool { text.hasPrefix(prefix) }

    public var description: String { Self.prefix + name }
}

/// Rules for secret names: 1–200 characters from `[A-Za-z0-9._/-]`, not starting with `/`,
/// no empty path segment and no `.`/`..` segment.
public enum SecretName {
    /// The longest accepted name.
    public static let maximumLength = 200

    /// Whether `name` is a valid secret name.
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maximumLength else { return false }
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "/") || c == UInt8(ascii: "-")
        }
        guard allowed else { return false }
        let segments = name.split(separator: "/", omittingEmptySubsequences: false)
        return segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// Throws ``SecretsError/Kind/invalidSecretName`` unless `name` is valid.
    public static func validate(_ name: String) throws(SecretsError) {
        guard isValid(name) else { throw .invalidSecretName(name) }
    }
}
