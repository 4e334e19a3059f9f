import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import Secrets

@Suite("SSH private keys", .enabled(if: SSHKeygen.isAvailable, "needs ssh-keygen (apt-get install openssh-client)"))
struct SSHKeyTests {
    struct KeySpec: Sendable, CustomTestStringConvertible {
        let type: String
        let bits: Int?
        let format: String?
        let expectedType: String
        let expectedHeader: String
        var testDescription: String { "\(type)\(bits.map { "-\($0)" } ?? "") \(format ?? "OpenSSH")" }
    }

    static let specs: [KeySpec] = [
        KeySpec(type: "ed25519", bits: nil, format: nil, expectedType: "ssh-ed25519", expectedHeader: "OPENSSH PRIVATE KEY"),
        KeySpec(type: "ecdsa", bits: 256, format: nil, expectedType: "ecdsa-sha2-nistp256", expectedHeader: "OPENSSH PRIVATE KEY"),
        KeySpec(type: "ecdsa", bits: 384, format: nil, expectedType: "ecdsa-sha2-nistp384", expectedHeader: "OPENSSH PRIVATE KEY"),
        KeySpec(type: "ecdsa", bits: 521, format: nil, expectedType: "ecdsa-sha2-nistp521", expectedHeader: "OPENSSH PRIVATE KEY"),
        KeySpec(type: "rsa", bits: 2048, format: nil, expectedType: "ssh-rsa", expectedHeader: "OPENSSH PRIVATE KEY"),
        KeySpec(type: "rsa", bits: 2048, format: "PEM", expectedType: "ssh-rsa", expectedHeader: "RSA PRIVATE KEY"),
        KeySpec(type: "rsa", bits: 3072, format: "PKCS8", expectedType: "ssh-rsa", expectedHeader: "BEGIN PRIVATE KEY"),
        KeySpec(type: "ecdsa", bits: 256, format: "PEM", expectedType: "ecdsa-sha2-nistp256", expectedHeader: "EC PRIVATE KEY"),
        KeySpec(type: "ecdsa", bits: 384, format: "PKCS8", expectedType: "ecdsa-sha2-nistp384", expectedHeader: "BEGIN PRIVATE KEY"),
    ]

    @Test("unencrypted keys load and their fingerprints equal ssh-keygen -lf", arguments: specs)
    func fingerprintMatchesSSHKeygen(spec: KeySpec) throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate(spec.type, bits: spec.bits, format: spec.format, at: dir.path("key"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(spec.expectedHeader))
        let loaded = try SSHKeyLocation.load(path: path, passphrase: nil)
        #expect(loaded.key.keyType == spec.expectedType)
        #expect(loaded.key.fingerprint == (try SSHKeygen.fingerprint(of: path)))
        #expect(loaded.warnings.isEmpty)  // ssh-keygen writes 0600
        // The public key line equals the .pub file's type and base64.
        let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8).split(separator: " ")
        #expect(loaded.key.publicKeyLine.split(separator: " ").prefix(2) == pub.prefix(2))
        #expect(!SSHPrivateKey.isEncrypted(pemText: text))
    }

    @Test(
        "passphrase-protected keys",
        arguments: [
            ("ed25519", nil as Int?, nil as String?),
            ("ecdsa", 256, nil),
            ("rsa", 2048, nil),
            ("ed25519", nil, "aes256-gcm@openssh.com"),
            ("ed25519", nil, "aes128-ctr"),
        ])
    func passphraseProtected(type: String, bits: Int?, cipher: String?) throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate(type, bits: bits, passphrase: "pass", rounds: 4, cipher: cipher, at: dir.path("key"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(SSHPrivateKey.isEncrypted(pemText: text))
        let key = try SSHPrivateKey(pemText: text, passphrase: "pass", path: path)
        #expect(key.fingerprint == (try SSHKeygen.fingerprint(of: path)))

        let missing = #expect(throws: SecretsError.self) { try SSHPrivateKey(pemText: text, passphrase: nil, path: path) }
        #expect(missing?.kind == .passphraseRequired)
        #expect(missing?.message.contains("SCHEDCTL_SSH_PASSPHRASE") == true)
        #expect(missing?.message.contains("interactively") == true)

        let wrong = #expect(throws: SecretsError.self) { try SSHPrivateKey(pemText: text, passphrase: "nope", path: path) }
        #expect(wrong?.kind == .wrongPassphrase)
    }

    @Test("the passphrase provider is asked only for encrypted keys")
    func passphraseProvider() throws {
        let dir = try TemporaryDirectory()
        let plain = try SSHKeygen.generate("ed25519", at: dir.path("plain"))
        let locked = try SSHKeygen.generate("ed25519", passphrase: "pass", rounds: 2, at: dir.path("locked"))
        var asked = 0
        _ = try SSHKeyLocation.load(
            path: plain,
            passphraseProvider: {
                asked += 1; return "unused"
            })
        #expect(asked == 0)
        let key = try SSHKeyLocation.load(
            path: locked,
            passphraseProvider: {
                asked += 1; return "pass"
            }
        ).key
        #expect(asked == 1)
        #expect(key.fingerprint == (try SSHKeygen.fingerprint(of: locked)))
        let refused = #expect(throws: SecretsError.self) {
            try SSHKeyLocation.load(path: locked, passphraseProvider: { nil })
        }
        #expect(refused?.kind == .passphraseRequired)
    }

    @Test("RSA primes that do not multiply to the modulus are rejected")
    func rsaMismatch() {
        let p = [UInt8](repeating: 0xFB, count: 64), q = [UInt8](repeating: 0xF7, count: 64)
        var n = multiplyMagnitudes(p, q)
        #expect(n.count == 128)
        #expect((try? SSHPrivateKey.rsa(n: n, e: [1, 0, 1], p: p, q: q, comment: "", path: nil)) != nil)
        n[100] ^= 1
        let error = #expect(throws: SecretsError.self) {
            try SSHPrivateKey.rsa(n: n, e: [1, 0, 1], p: p, q: q, comment: "", path: nil)
        }
        #expect(error?.kind == .invalidKeyFormat)
    }

    @Test("default bcrypt rounds (16) as ssh-keygen writes them")
    func defaultRounds() throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate("ed25519", passphrase: "correct horse", at: dir.path("key"))
        let key = try SSHKeyLocation.load(path: path, passphrase: "correct horse").key
        #expect(key.fingerprint == (try SSHKeygen.fingerprint(of: path)))
    }

    /// Rewrites the bcrypt round count inside an encrypted OpenSSH key file.
    static func withRounds(_ rounds: UInt32, keyAt path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var blob = [UInt8](try #require(Data(base64Encoded: body)))
        let marker = Array("bcrypt".utf8)
        let at = try #require((0...(blob.count - marker.count)).first { Array(blob[$0..<$0 + marker.count]) == marker })
        // kdfname "bcrypt", then kdfoptions: uint32 length, string salt (uint32 length + bytes), uint32 rounds.
        let saltLengthAt = at + marker.count + 4
        let saltLength = blob[saltLengthAt..<saltLengthAt + 4].reduce(0) { $0 << 8 | Int($1) }
        let roundsAt = saltLengthAt + 4 + saltLength
        for i in 0..<4 { blob[roundsAt + i] = UInt8((rounds >> (24 - 8 * UInt32(i))) & 0xff) }
        let encoded = Data(blob).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN OPENSSH PRIVATE KEY-----\n\(encoded)\n-----END OPENSSH PRIVATE KEY-----\n"
    }

    @Test("a key asking for an absurd bcrypt round count fails at once, saying how to re-save it", arguments: [UInt32.max, 1 << 20, 1025])
    func absurdRoundsFailFast(rounds: UInt32) throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate("ed25519", passphrase: "pass", rounds: 2, at: dir.path("key"))
        let hostile = try Self.withRounds(rounds, keyAt: path)
        let error = #expect(throws: SecretsError.self) { try SSHPrivateKey(pemText: hostile, passphrase: "pass", path: path) }
        #expect(error?.kind == .unsupportedKey)
        #expect(error?.message.contains("\(rounds) bcrypt rounds") == true)
        #expect(error?.message.contains("ssh-keygen -p -a 16 -f KEY") == true)
        // The rewriting itself is sound: the original count still loads.
        let intact = try Self.withRounds(2, keyAt: path)
        #expect(try SSHPrivateKey(pemText: intact, passphrase: "pass", path: path).fingerprint == (try SSHKeygen.fingerprint(of: path)))
    }

    @Test("changing the passphrase keeps the derived vault key", arguments: ["ed25519", "ecdsa", "rsa"])
    func passphraseChangeKeepsDerivedKey(type: String) throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate(type, bits: type == "rsa" ? 2048 : nil, passphrase: "first", rounds: 2, at: dir.path("key"))
        let salt = VaultKey.randomSalt()
        let before = VaultKey(sshKey: try SSHKeyLocation.load(path: path, passphrase: "first").key, salt: salt)
        let bytesBefore = try Data(contentsOf: URL(fileURLWithPath: path))

        try SSHKeygen.changePassphrase(path, old: "first", new: "second", rounds: 3)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) != bytesBefore)  // the file did change
        let after = VaultKey(sshKey: try SSHKeyLocation.load(path: path, passphrase: "second").key, salt: salt)
        #expect(after.keyID == before.keyID)
        #expect(after.symmetricKey == before.symmetricKey)

        // Removing the passphrase altogether keeps it too.
        try SSHKeygen.changePassphrase(path, old: "second", new: "")
        let plain = VaultKey(sshKey: try SSHKeyLocation.load(path: path, passphrase: nil).key, salt: salt)
        #expect(plain.symmetricKey == before.symmetricKey)
    }

    @Test("re-saving an RSA key as PEM keeps the derived vault key")
    func formatConversionKeepsDerivedKey() throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate("rsa", bits: 2048, at: dir.path("key"))
        let salt = VaultKey.randomSalt()
        let openssh = try SSHKeyLocation.load(path: path, passphrase: nil).key
        try SSHKeygen.changePassphrase(path, old: "", new: "", format: "PEM")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("BEGIN RSA PRIVATE KEY"))
        let pem = try SSHKeyLocation.load(path: path, passphrase: nil).key
        #expect(pem.fingerprint == openssh.fingerprint)
        #expect(VaultKey(sshKey: pem, salt: salt).symmetricKey == VaultKey(sshKey: openssh, salt: salt).symmetricKey)
    }

    @Test("different keys and different salts derive different vault keys")
    func derivationSeparates() throws {
        let a = try makeTestKey(seed: 1), b = try makeTestKey(seed: 2)
        let salt = VaultKey.randomSalt()
        #expect(VaultKey(sshKey: a, salt: salt).symmetricKey != VaultKey(sshKey: b, salt: salt).symmetricKey)
        #expect(VaultKey(sshKey: a, salt: salt).symmetricKey != VaultKey(sshKey: a, salt: VaultKey.randomSalt()).symmetricKey)
        #expect(VaultKey(sshKey: a, salt: salt).keyID.count == 16)
    }

    @Test("PKCS#8 Ed25519 keys load")
    func pkcs8Ed25519() throws {
        let raw = Curve25519.Signing.PrivateKey()
        let key = try SSHPrivateKey(pemText: raw.pemRepresentation, passphrase: nil)
        var blob = SSHWriter()
        blob.writeString("ssh-ed25519")
        blob.writeString(Array(raw.publicKey.rawRepresentation))
        #expect(key.publicKeyBlob == Data(blob.bytes))
        #expect(key.keyType == "ssh-ed25519")
    }

    @Test("a key printed or dumped shows no private material")
    func keyDoesNotLeak() throws {
        let key = try makeTestKey(seed: 7)
        var dumped = ""
        dump(key, to: &dumped)
        let material = Hex.encode(key.secretMaterial)
        #expect(!"\(key)".contains(material))
        #expect(!dumped.contains("secretMaterial"))
        #expect("\(key)".contains(key.fingerprint))
    }

    @Test("damaged and wrong files give clear errors")
    func damagedFiles() throws {
        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate("ed25519", at: dir.path("key"))
        let text = try String(contentsOfFile: path, encoding: .utf8)

        let pub = #expect(throws: SecretsError.self) { try SSHKeyLocation.load(path: path + ".pub", passphrase: nil) }
        #expect(pub?.kind == .invalidKeyFormat)
        #expect(pub?.message.contains("public key") == true)

        var lines = text.split(separator: "\n")
        lines.removeLast()  // END line
        let truncated = #expect(throws: SecretsError.self) { try SSHPrivateKey(pemText: lines.joined(separator: "\n"), passphrase: nil) }
        #expect(truncated?.kind == .invalidKeyFormat)

        // Cut the body short but keep the armor.
        lines = text.split(separator: "\n")
        let shortened = ([lines[0], lines[1]] + [lines[lines.count - 1]]).joined(separator: "\n")
        let short = #expect(throws: SecretsError.self) { try SSHPrivateKey(pemText: shortened, passphrase: nil) }
        #expect(short?.kind == .invalidKeyFormat)

        let garbage = #expect(throws: SecretsError.self) { try SSHPrivateKey(pemText: "hello", passphrase: nil) }
        #expect(garbage?.kind == .invalidKeyFormat)
    }
}

@Suite("Key file location")
struct SSHKeyLocationTests {
    let env = ["HOME": "/home/u"]

    @Test("explicit path wins, then SCHEDCTL_SSH_KEY, then id_ed25519, then id_rsa")
    func resolutionOrder() throws {
        let all: Set = ["/home/u/.ssh/id_ed25519", "/home/u/.ssh/id_rsa", "/keys/env", "/keys/explicit"]
        var withEnv = env
        withEnv["SCHEDCTL_SSH_KEY"] = "/keys/env"

        let explicit = try SSHKeyLocation.resolve(explicitPath: "~/k", environment: withEnv, fileExists: all.contains)
        #expect(explicit == SSHKeyLocation(path: "/home/u/k", source: .explicit))

        let fromEnv = try SSHKeyLocation.resolve(explicitPath: nil, environment: withEnv, fileExists: all.contains)
        #expect(fromEnv == SSHKeyLocation(path: "/keys/env", source: .environment))

        let ed = try SSHKeyLocation.resolve(explicitPath: nil, environment: env, fileExists: all.contains)
        #expect(ed == SSHKeyLocation(path: "/home/u/.ssh/id_ed25519", source: .defaultEd25519))

        let rsa = try SSHKeyLocation.resolve(explicitPath: "", environment: env, fileExists: { $0 == "/home/u/.ssh/id_rsa" })
        #expect(rsa == SSHKeyLocation(path: "/home/u/.ssh/id_rsa", source: .defaultRSA))

        let none = #expect(throws: SecretsError.self) {
            try SSHKeyLocation.resolve(explicitPath: nil, environment: env, fileExists: { _ in false })
        }
        #expect(none?.kind == .keyNotFound)
        #expect(none?.message.contains("/home/u/.ssh/id_ed25519") == true)
        #expect(none?.message.contains("SCHEDCTL_SSH_KEY") == true)
    }

    @Test("an explicit path is returned even when missing, so loading can say so")
    func explicitMissing() throws {
        let location = try SSHKeyLocation.resolve(explicitPath: "/nope/key", environment: env, fileExists: { _ in false })
        #expect(location.path == "/nope/key")
        let error = #expect(throws: SecretsError.self) { try SSHKeyLocation.load(path: location.path, passphrase: nil) }
        #expect(error?.kind == .keyFileMissing)
        #expect(error?.message.contains("/nope/key") == true)
    }

    @Test("a directory is reported as unreadable")
    func directory() throws {
        let dir = try TemporaryDirectory()
        let error = #expect(throws: SecretsError.self) { try SSHKeyLocation.load(path: dir.url.path, passphrase: nil) }
        #expect(error?.kind == .keyFileUnreadable)
    }

    @Test("group- or world-readable key files warn", .enabled(if: SSHKeygen.isAvailable))
    func permissions() throws {
        #expect(SSHKeyLocation.permissionWarning(path: "/k", mode: 0o600) == nil)
        #expect(SSHKeyLocation.permissionWarning(path: "/k", mode: 0o400) == nil)
        #expect(SSHKeyLocation.permissionWarning(path: "/k", mode: 0o640)?.contains("0640") == true)
        #expect(SSHKeyLocation.permissionWarning(path: "/k", mode: 0o604)?.contains("chmod 600") == true)

        let dir = try TemporaryDirectory()
        let path = try SSHKeygen.generate("ed25519", at: dir.path("key"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let loaded = try SSHKeyLocation.load(path: path, passphrase: nil)
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings.first?.contains("too open") == true)
    }
}

@Suite("Big-number helper")
struct MultiplyTests {
    @Test(
        "products of magnitudes",
        arguments: [
            ("ff", "ff", "fe01"),
            ("0100000000", "0100000000", "010000000000000000"),
            ("ffffffffffffffff", "ffffffffffffffff", "fffffffffffffffe0000000000000001"),
            ("0000abcdef", "01", "abcdef"),
            ("123456789abcdef0123456789abcdef", "fedcba9876543210fedcba98765432", "0121fa00ad77d742247acc9140513b74335b54a7dd7e1232100282174aa4ae"),
        ])
    func multiply(a: String, b: String, product: String) {
        let pad = { (s: String) in s.count % 2 == 0 ? s : "0" + s }
        #expect(Hex.encode(multiplyMagnitudes(Hex.decode(pad(a))!, Hex.decode(pad(b))!)) == product)
    }
}
