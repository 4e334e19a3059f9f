import Crypto
import CryptoExtras
import Foundation

/// Parser for OpenSSH's `openssh-key-v1` private key container (PROTOCOL.key in OpenSSH).
enum OpenSSHKeyParser {
    /// The most bcrypt KDF rounds a key may ask for (ssh-keygen writes 16; `-a 100` is common).
    static let maximumBcryptRounds: UInt32 = 1024

    static let magic = Array("openssh-key-v1".utf8) + [0]

    struct Cipher {
        let name: String
        let keyLength: Int
        let ivLength: Int
        let blockSize: Int
        let tagLength: Int

        static let all: [Cipher] = [
            Cipher(name: "none", keyLength: 0, ivLength: 0, blockSize: 8, tagLength: 0),
            Cipher(name: "aes128-ctr", keyLength: 16, ivLength: 16, blockSize: 16, tagLength: 0),
            Cipher(name: "aes192-ctr", keyLength: 24, ivLength: 16, blockSize: 16, tagLength: 0),
            Cipher(name: "aes256-ctr", keyLength: 32, ivLength: 16, blockSize: 16, tagLength: 0),
            Cipher(name: "aes256-gcm@openssh.com", keyLength: 32, ivLength: 12, blockSize: 16, tagLength: 16),
        ]
    }

    struct Container {
        var cipherName: String
        var kdfName: String
        var kdfOptions: [UInt8]
        var publicKey: [UInt8]
        var encrypted: [UInt8]
        var tag: [UInt8]
    }

    static func isEncrypted(_ body: [UInt8]) -> Bool {
        guard let container = try? container(body, path: nil) else { return false }
        return container.cipherName != "none"
    }

    static func container(_ body: [UInt8], path: String?) throws(SecretsError) -> Container {
        guard body.starts(with: magic) else {
            throw .invalidKeyFormat(path, "missing the openssh-key-v1 magic")
        }
        var reader = SSHReader(body.dropFirst(magic.count))
        do {
            let cipherName = try reader.readUTF8()
            let kdfName = try reader.readUTF8()
            let kdfOptions = try reader.readString()
            let count = try reader.readUInt32()
            guard count == 1 else {
                throw SecretsError.unsupportedKey(path, "the file holds \(count) keys", fix: "use a file with exactly one key")
            }
            let publicKey = try reader.readString()
            let encrypted = try reader.readString()
            let tagLength = Cipher.all.first(where: { $0.name == cipherName })?.tagLength ?? 0
            let tag = try reader.readBytes(tagLength)
            return Container(
                cipherName: cipherName, kdfName: kdfName, kdfOptions: kdfOptions,
                publicKey: publicKey, encrypted: encrypted, tag: tag)
        } catch let error as SecretsError {
            throw error
        } catch {
            throw .invalidKeyFormat(path, "the key file is truncated")
        }
    }

    static func parse(_ body: [UInt8], passphrase: String?, path: String?) throws(SecretsError) -> SSHPrivateKey {
        let c = try container(body, path: path)
        guard let cipher = Cipher.all.first(where: { $0.name == c.cipherName }) else {
            throw .unsupportedKey(
                path, "cipher '\(c.cipherName)' is not supported",
                fix: "re-encrypt the key with `ssh-keygen -p -Z aes256-ctr -f KEY`")
        }
        let plain: [UInt8]
        if cipher.name == "none" {
            guard c.kdfName == "none" else { throw .invalidKeyFormat(path, "KDF '\(c.kdfName)' without a cipher") }
            plain = c.encrypted
        } else {
            guard c.kdfName == "bcrypt" else {
                throw .unsupportedKey(
                    path, "KDF '\(c.kdfName)' is not supported",
                    fix: "re-encrypt the key with `ssh-keygen -p -f KEY`")
            }
            guard let passphrase else { throw .passphraseRequired(path) }
            var options = SSHReader(c.kdfOptions)
            let salt: [UInt8]
            let rounds: UInt32
            do {
                salt = try options.readString()
                rounds = try options.readUInt32()
            } catch {
                throw .invalidKeyFormat(path, "damaged bcrypt KDF options")
            }
            guard rounds >= 1, !salt.isEmpty, salt.count <= 1024 else {
                throw .invalidKeyFormat(path, "implausible bcrypt parameters (\(rounds) rounds, \(salt.count)-byte salt)")
            }
            // Each round costs a full bcrypt hash: a damaged or hostile count would hang the caller.
            guard rounds <= OpenSSHKeyParser.maximumBcryptRounds else {
                throw .unsupportedKey(
                    path, "the key asks for \(rounds) bcrypt rounds (at most \(OpenSSHKeyParser.maximumBcryptRounds) are accepted)",
                    fix: "if the file is intact, re-save it with fewer rounds: `ssh-keygen -p -a 16 -f KEY`; otherwise restore it from a backup")
            }
            guard !passphrase.isEmpty else { throw .wrongPassphrase(path) }
            guard c.encrypted.count % cipher.blockSize == 0 else {
                throw .invalidKeyFormat(path, "the encrypted section is not a whole number of blocks (truncated?)")
            }
            let material = BcryptPBKDF.deriveKey(
                password: Array(passphrase.utf8), salt: salt, rounds: Int(rounds),
                keyLength: cipher.keyLength + cipher.ivLength)
            let key = SymmetricKey(data: material[0..<cipher.keyLength])
            let iv = Array(material[cipher.keyLength...])
            do {
                if cipher.tagLength > 0 {
                    let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: c.encrypted, tag: c.tag)
                    plain = Array(try AES.GCM.open(box, using: key))
                } else {
                    plain = Array(try AES._CTR.decrypt(c.encrypted, using: key, nonce: AES._CTR.Nonce(nonceBytes: iv)))
                }
            } catch {
                // GCM authentication failure: with OpenSSH's format this means a wrong passphrase
                // (or a damaged file, which the check words below cannot tell apart either).
                throw .wrongPassphrase(path)
            }
        }
        return try parsePrivateSection(
            plain, outerPublicKey: c.publicKey, blockSize: cipher.blockSize, encrypted: cipher.name != "none", path: path)
    }

    private static func parsePrivateSection(
        _ plain: [UInt8], outerPublicKey: [UInt8], blockSize: Int, encrypted: Bool, path: String?
    ) throws(SecretsError) -> SSHPrivateKey {
        var r = SSHReader(plain)
        let key: SSHPrivateKey
        do {
            let check1 = try r.readUInt32()
            let check2 = try r.readUInt32()
            guard check1 == check2 else {
                throw encrypted
                    ? SecretsError.wrongPassphrase(path)
                    : SecretsError.invalidKeyFormat(path, "the private section's check words differ (damaged key)")
            }
            let keyType = try r.readUTF8()
            switch keyType {
            case "ssh-ed25519":
                let publicKey = try r.readString()
                let privateKey = try r.readString()
                guard privateKey.count == 64 else {
                    throw SecretsError.invalidKeyFormat(path, "ed25519 private key is \(privateKey.count) bytes, not 64")
                }
                guard Array(privateKey[32...]) == publicKey else {
                    throw SecretsError.invalidKeyFormat(path, "the ed25519 key halves do not match")
                }
                let comment = try r.readUTF8()
                key = try SSHPrivateKey.ed25519(seed: Array(privateKey[..<32]), publicKey: publicKey, comment: comment, path: path)
            case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
                let curveName = try r.readUTF8()
                guard let curve = SSHPrivateKey.Curve(rawValue: curveName), keyType.hasSuffix(curveName) else {
                    throw SecretsError.invalidKeyFormat(path, "ECDSA curve '\(curveName)' does not match key type \(keyType)")
                }
                let point = try r.readString()
                let scalar = try r.readMPIntMagnitude()
                let comment = try r.readUTF8()
                key = try SSHPrivateKey.ecdsa(curve: curve, scalar: scalar, publicPoint: point, comment: comment, path: path)
            case "ssh-rsa":
                let n = try r.readMPIntMagnitude()
                let e = try r.readMPIntMagnitude()
                _ = try r.readMPIntMagnitude()  // d
                _ = try r.readMPIntMagnitude()  // iqmp
                let p = try r.readMPIntMagnitude()
                let q = try r.readMPIntMagnitude()
                let comment = try r.readUTF8()
                key = try SSHPrivateKey.rsa(n: n, e: e, p: p, q: q, comment: comment, path: path)
            default:
                throw SecretsError.unsupportedKey(
                    path, "key type '\(keyType)' is not supported",
                    fix: "use an ed25519, ECDSA or RSA key (`ssh-keygen -t ed25519`)")
            }
        } catch let error as SecretsError {
            throw error
        } catch {
            throw .invalidKeyFormat(path, "the private section is truncated")
        }
        // Padding is 1, 2, 3, … up to the block size.
        let padding = r.readRest()
        guard padding.count < max(blockSize, 8), padding.enumerated().allSatisfy({ $0.element == UInt8($0.offset + 1) }) else {
            throw .invalidKeyFormat(path, "bad padding after the private key")
        }
        guard Array(key.publicKeyBlob) == outerPublicKey else {
            throw .invalidKeyFormat(path, "the public key does not match the private key")
        }
        return key
    }
}
