import Crypto
public import Foundation

/// An SSH private key, loaded only to derive the vault key from it.
///
/// Understands the OpenSSH container (`-----BEGIN OPENSSH PRIVATE KEY-----`, `openssh-key-v1`)
/// for ed25519, ECDSA (nistp256/384/521) and RSA, unencrypted or protected with `bcrypt` and
/// `aes256-ctr` (also `aes128-ctr`, `aes192-ctr`, `aes256-gcm@openssh.com`), and PEM keys:
/// PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY` and unencrypted PKCS#8 `PRIVATE KEY`.
///
/// ```swift
/// let key = try SSHPrivateKey(pemText: text, passphrase: env["SCHEDCTL_SSH_PASSPHRASE"])
/// print(key.fingerprint)   // SHA256:… exactly as `ssh-keygen -lf` prints it
/// ```
///
/// The type never exposes the private material; printing it shows the type and fingerprint only.
public struct SSHPrivateKey: Sendable, CustomStringConvertible, CustomReflectable {
    /// The SSH key type name: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ….
    public let keyType: String
    /// The public key in SSH wire format (what a `.pub` file holds, base64-decoded).
    public let publicKeyBlob: Data
    /// The key's comment (empty for PEM keys).
    public let comment: String
    /// Canonical encoding of the secret part, independent of the file format and passphrase:
    /// `string(keyType) ‖ string(seed)` for ed25519, `string(keyType) ‖ string(scalar)` with the
    /// scalar left-padded to the field size for ECDSA, `string("ssh-rsa") ‖ mpint(min(p,q)) ‖ mpint(max(p,q))` for RSA.
    let secretMaterial: [UInt8]

    init(keyType: String, publicKeyBlob: [UInt8], comment: String, secretMaterial: [UInt8]) {
        self.keyType = keyType
        self.publicKeyBlob = Data(publicKeyBlob)
        self.comment = comment
        self.secretMaterial = secretMaterial
    }

    /// `SHA256:` followed by the unpadded base64 SHA-256 of ``publicKeyBlob``, as `ssh-keygen -lf` prints.
    public var fingerprint: String {
        let digest = SHA256.hash(data: publicKeyBlob)
        var b64 = Data(digest).base64EncodedString()
        while b64.hasSuffix("=") { b64.removeLast() }
        return "SHA256:" + b64
    }

    /// The public key as one `authorized_keys` line (`TYPE BASE64 COMMENT`).
    public var publicKeyLine: String {
        let base = "\(keyType) \(publicKeyBlob.base64EncodedString())"
        return comment.isEmpty ? base : "\(base) \(comment)"
    }

    public var description: String { "SSHPrivateKey(\(keyType), \(fingerprint))" }
    public var customMirror: Mirror {
        Mirror(self, children: ["keyType": keyType, "fingerprint": fingerprint], displayStyle: .struct)
    }

    /// Parses a private key file's contents. `path` is only used in error messages.
    public init(fileContents: Data, passphrase: String?, path: String? = nil) throws(SecretsError) {
        guard let text = String(data: fileContents, encoding: .utf8) else {
            throw .invalidKeyFormat(path, "the file is not text (PEM/OpenSSH keys are ASCII armored)")
        }
        try self.init(pemText: text, passphrase: passphrase, path: path)
    }

    /// Parses an armored private key (`-----BEGIN … PRIVATE KEY-----`).
    public init(pemText: String, passphrase: String?, path: String? = nil) throws(SecretsError) {
        let armor = try PEMArmor(text: pemText, path: path)
        switch armor.label {
        case "OPENSSH PRIVATE KEY":
            self = try OpenSSHKeyParser.parse(armor.body, passphrase: passphrase, path: path)
        case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY":
            if armor.headers["Proc-Type"]?.contains("ENCRYPTED") == true {
                throw .unsupportedKey(
                    path, "legacy encrypted PEM keys are not supported",
                    fix: "convert it to the OpenSSH format with `ssh-keygen -p -f KEY` (the key stays the same)")
            }
            self = try PEMKeyParser.parse(label: armor.label, der: armor.body, path: path)
        case "ENCRYPTED PRIVATE KEY":
            throw .unsupportedKey(
                path, "encrypted PKCS#8 keys are not supported",
                fix: "convert it to the OpenSSH format with `ssh-keygen -p -f KEY` (the key stays the same)")
        case let other where other.hasSuffix("PUBLIC KEY"):
            throw .invalidKeyFormat(path, "it is a public key (\(other))")
        default:
            throw .invalidKeyFormat(path, "unknown PEM block '\(armor.label)'")
        }
    }

    /// Whether an armored key needs a passphrase (so a caller can prompt before parsing).
    public static func isEncrypted(pemText: String) -> Bool {
        guard let armor = try? PEMArmor(text: pemText, path: nil) else { return false }
        switch armor.label {
        case "OPENSSH PRIVATE KEY": return OpenSSHKeyParser.isEncrypted(armor.body)
        case "ENCRYPTED PRIVATE KEY": return true
        default: return armor.headers["Proc-Type"]?.contains("ENCRYPTED") == true
        }
    }

    // MARK: Canonical construction (shared by both parsers)

    static func ed25519(seed: [UInt8], publicKey: [UInt8]?, comment: String, path: String?) throws(SecretsError) -> SSHPrivateKey {
        guard seed.count == 32 else { throw .invalidKeyFormat(path, "ed25519 seed is \(seed.count) bytes, not 32") }
        let derived: [UInt8]
        do {
            derived = Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed).publicKey.rawRepresentation)
        } catch {
            throw .invalidKeyFormat(path, "invalid ed25519 private key")
        }
        if let publicKey, publicKey != derived {
            throw .invalidKeyFormat(path, "the ed25519 public key does not match the private key")
        }
        var blob = SSHWriter()
        blob.writeString("ssh-ed25519")
        blob.writeString(derived)
        var secret = SSHWriter()
        secret.writeString("ssh-ed25519")
        secret.writeString(seed)
        return SSHPrivateKey(keyType: "ssh-ed25519", publicKeyBlob: blob.bytes, comment: comment, secretMaterial: secret.bytes)
    }

    /// NIST curves as SSH names them.
    enum Curve: String, CaseIterable {
        case p256 = "nistp256", p384 = "nistp384", p521 = "nistp521"

        var scalarLength: Int {
            switch self {
            case .p256: 32
            case .p384: 48
            case .p521: 66
            }
        }

        func publicPoint(scalar: [UInt8]) throws -> [UInt8] {
            switch self {
            case .p256: Array(try P256.Signing.PrivateKey(rawRepresentation: scalar).publicKey.x963Representation)
            case .p384: Array(try P384.Signing.PrivateKey(rawRepresentation: scalar).publicKey.x963Representation)
            case .p521: Array(try P521.Signing.PrivateKey(rawRepresentation: scalar).publicKey.x963Representation)
            }
        }
    }

    static func ecdsa(curve: Curve, scalar: [UInt8], publicPoint: [UInt8]?, comment: String, path: String?) throws(SecretsError) -> SSHPrivateKey {
        guard let padded = scalar.leftPadded(to: curve.scalarLength) else {
            throw .invalidKeyFormat(path, "ECDSA private scalar is too long for \(curve.rawValue)")
        }
        let derived: [UInt8]
        do {
            derived = try curve.publicPoint(scalar: padded)
        } catch {
            throw .invalidKeyFormat(path, "invalid \(curve.rawValue) private key")
        }
        if let publicPoint, publicPoint != derived {
            throw .invalidKeyFormat(path, "the ECDSA public key does not match the private key")
        }
        let keyType = "ecdsa-sha2-\(curve.rawValue)"
        var blob = SSHWriter()
        blob.writeString(keyType)
        blob.writeString(curve.rawValue)
        blob.writeString(derived)
        var secret = SSHWriter()
        secret.writeString(keyType)
        secret.writeString(padded)
        return SSHPrivateKey(keyType: keyType, publicKeyBlob: blob.bytes, comment: comment, secretMaterial: secret.bytes)
    }

    /// RSA from magnitudes (big-endian, unsigned). The secret material is the prime pair, so
    /// formats that compute `d` differently (λ(n) or φ(n)) still derive the same vault key.
    static func rsa(n: [UInt8], e: [UInt8], p: [UInt8], q: [UInt8], comment: String, path: String?) throws(SecretsError) -> SSHPrivateKey {
        let n = Array(n.drop(while: { $0 == 0 })), e = Array(e.drop(while: { $0 == 0 }))
        let p = Array(p.drop(while: { $0 == 0 })), q = Array(q.drop(while: { $0 == 0 }))
        guard !n.isEmpty, !e.isEmpty, !p.isEmpty, !q.isEmpty else {
            throw .invalidKeyFormat(path, "RSA key has an empty component")
        }
        guard n.count * 8 >= 1024 else {
            throw .unsupportedKey(
                path, "RSA keys shorter than 1024 bits are not accepted",
                fix: "create a new key with `ssh-keygen -t ed25519`")
        }
        guard multiplyMagnitudes(p, q) == n else {
            throw .invalidKeyFormat(path, "the RSA primes do not match the modulus (damaged key)")
        }
        func less(_ a: [UInt8], _ b: [UInt8]) -> Bool {
            a.count != b.count ? a.count < b.count : a.lexicographicallyPrecedes(b)
        }
        let (small, large) = less(p, q) ? (p, q) : (q, p)
        var blob = SSHWriter()
        blob.writeString("ssh-rsa")
        blob.writeMPInt(unsigned: e)
        blob.writeMPInt(unsigned: n)
        var secret = SSHWriter()
        secret.writeString("ssh-rsa")
        secret.writeMPInt(unsigned: small)
        secret.writeMPInt(unsigned: large)
        return SSHPrivateKey(keyType: "ssh-rsa", publicKeyBlob: blob.bytes, comment: comment, secretMaterial: secret.bytes)
    }
}

/// The product of two unsigned big-endian magnitudes, without leading zeros (schoolbook).
func multiplyMagnitudes(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    // Little-endian 32-bit limbs.
    func limbs(_ bytes: [UInt8]) -> [UInt64] {
        var result: [UInt64] = []
        var index = bytes.count
        while index > 0 {
            let start = max(0, index - 4)
            var limb: UInt64 = 0
            for byte in bytes[start..<index] { limb = limb << 8 | UInt64(byte) }
            result.append(limb)
            index = start
        }
        return result
    }
    let x = limbs(a), y = limbs(b)
    guard !x.isEmpty, !y.isEmpty else { return [] }
    var product = [UInt64](repeating: 0, count: x.count + y.count)
    for i in 0..<x.count {
        var carry: UInt64 = 0
        for j in 0..<y.count {
            let t = x[i] * y[j] + product[i + j] + carry  // < 2^64: (2^32-1)^2 + 2·(2^32-1)
            product[i + j] = t & 0xFFFF_FFFF
            carry = t >> 32
        }
        product[i + y.count] += carry
    }
    var bytes: [UInt8] = []
    for limb in product.reversed() {
        bytes += [
            UInt8(truncatingIfNeeded: limb >> 24), UInt8(truncatingIfNeeded: limb >> 16),
            UInt8(truncatingIfNeeded: limb >> 8), UInt8(truncatingIfNeeded: limb),
        ]
    }
    return Array(bytes.drop(while: { $0 == 0 }))
}

/// An ASCII-armored block: `-----BEGIN LABEL-----`, optional RFC 1421 headers, base64 body.
struct PEMArmor {
    let label: String
    let headers: [String: String]
    let body: [UInt8]

    init(text: String, path: String?) throws(SecretsError) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
            if text.hasPrefix("ssh-") || text.hasPrefix("ecdsa-") {
                throw .invalidKeyFormat(path, "it is a public key (.pub)")
            }
            throw .invalidKeyFormat(path, "no '-----BEGIN … PRIVATE KEY-----' line")
        }
        let label = String(lines[begin].dropFirst(11).dropLast(5))
        guard let end = lines[(begin + 1)...].firstIndex(of: "-----END \(label)-----") else {
            throw .invalidKeyFormat(path, "the '-----END \(label)-----' line is missing (file truncated?)")
        }
        var headers: [String: String] = [:]
        var base64 = ""
        var inHeaders = true
        for line in lines[(begin + 1)..<end] {
            if inHeaders, let colon = line.firstIndex(of: ":") {
                headers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                continue
            }
            inHeaders = false
            base64 += line
        }
        guard let data = Data(base64Encoded: base64), !data.isEmpty else {
            throw .invalidKeyFormat(path, "the base64 body of the \(label) block is damaged")
        }
        self.label = label
        self.headers = headers
        self.body = Array(data)
    }
}
