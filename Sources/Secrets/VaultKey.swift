import Crypto
public import Foundation

/// The 256-bit key that seals the vault, derived from an SSH private key.
///
/// `HKDF-SHA256(ikm: key's canonical secret material, salt: per-vault random salt,
/// info: "schedctl vault v1")`. The input is the private scalar/seed (or RSA primes), not the
/// file's bytes, so re-saving the key or changing its passphrase keeps the vault readable.
public struct VaultKey: Sendable, CustomStringConvertible {
    /// The HKDF info string.
    public static let info = "schedctl vault v1"
    /// Salt length in bytes.
    public static let saltLength = 32
    /// Key id length in bytes.
    public static let keyIDLength = 16

    let symmetricKey: SymmetricKey
    /// Fingerprint of the SSH key this was derived from.
    public let keyFingerprint: String
    /// A check value derived from the vault key (HMAC-SHA256 of a fixed label, first 16 bytes):
    /// identifies the key without revealing it, and is bound into every sealed value.
    public let keyID: Data

    /// Derives the vault key for `salt` from `sshKey`.
    public init(sshKey: SSHPrivateKey, salt: Data) {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: sshKey.secretMaterial),
            salt: salt,
            info: Data(Self.info.utf8),
            outputByteCount: 32)
        let mac = HMAC<SHA256>.authenticationCode(for: Data("schedctl vault key id".utf8), using: key)
        self.symmetricKey = key
        self.keyFingerprint = sshKey.fingerprint
        self.keyID = Data(Array(mac).prefix(Self.keyIDLength))
    }

    /// A fresh random salt.
    public static func randomSalt() -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<saltLength).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public var description: String { "VaultKey(\(keyFingerprint), id \(Hex.encode(keyID)))" }
}
