import Crypto
import Foundation
import Testing

@testable import Secrets

@Suite("pv-tradestation import")
struct PVTradeStationImportTests {
    /// A throwaway key file (not an SSH key) and values sealed with it by an independent
    /// implementation: Python `cryptography` (AESGCM) and `blake3`, at authoring time.
    static let fixtureKeyFile = Data("throwaway pv-tradestation key file (not an SSH key), used only by schedctl tests\n".utf8)
    static let fixtureKeyHex = "724f2019c73b4f048acf0fac899b6939771e2986c601f5baa32a645e0fbf0a6b"
    static let sealedClientID = "AAECAwQFBgcICQoL4d8zcVgueXbrwoTDSW/jtamg1LgU6M/KTOxp/uexVsBMGzNVLfoR"
    static let sealedClientSecret = "DA0ODxAREhMUFRYXXFDSYo1s+rFsYb04ri6K8KVf//Sm0kQvrPyqSZpIjwXU9to/mRcYKYSOsXuKcwyMTA=="
    static let sealedPVToken = "GBkaGxwdHh8gISIjkCF7wP3UmetugLIw0yxnSxYJSXXk2PXmYiYoX7u/lWOc/hhd"
    static let sealedState =
        "JCUmJygpKissLS4veaoUJyvkdrmcY51knYmFEFRM92yHdwOyhQ3yphRHGQ4F1MH6VOE+SL+5i5c/2xiRh+m+U0xg/cr8ATYeDzR5NYw2nezCjw/FVdpNFbxhJwzNc/LKj8cTeNAuvtksqFDvgI8N5AfSZAOfha+W53AV3UwDGC/kjsfnsiqE2o9pvIPI/Gx1zUDsbNHPWLy4RU8h8luzFl9QR6qyOl+6ZgoN4oco364F"

    func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func item(_ result: PVTradeStationImport, _ name: String) -> Secret<String>? {
        result.items.first { $0.name == name }?.value
    }

    @Test("the sealing key is BLAKE3-256 of the key file bytes")
    func sealingKey() {
        #expect(Hex.encode(BLAKE3.hash(Self.fixtureKeyFile)) == Self.fixtureKeyHex)
        let key = PVTradeStationImport.sealingKey(keyFileBytes: Self.fixtureKeyFile)
        #expect(key.withUnsafeBytes { Hex.encode(Array($0)) } == Self.fixtureKeyHex)
    }

    @Test("values sealed by an independent implementation import under the documented names")
    func independentFixture() throws {
        let dir = try TemporaryDirectory()
        try Self.fixtureKeyFile.write(to: URL(fileURLWithPath: dir.path("pvts.key")))
        try write(Self.sealedState, to: dir.path("state.json"))
        try write(
            """
            # pv-tradestation settings
            mode = "sim"
            key_file = "pvts.key"   # relative to this file
            state_file = 'state.json'

            [auth]
            apikey = "\(Self.sealedClientID)"
            secret = "\(Self.sealedClientSecret)"
            callback = ["http://localhost:31022",
                        "http://localhost:8080"]

            [pv]
            apikey = "\(Self.sealedPVToken)"
            url = "https://api.pennyvault.com"
            debug = false
            """, to: dir.path("tradestation.toml"))

        let result = try PVTradeStationImport.load(configPath: dir.path("tradestation.toml"), environment: [:])
        #expect(result.mode == "sim")
        #expect(result.keyFilePath == dir.path("pvts.key"))
        #expect(result.stateFilePath == dir.path("state.json"))
        // The README's top-level key_file still works; the only warning is about the v1 PV key.
        #expect(result.warnings.count == 1)
        #expect(result.warnings[0].contains("X-Pv-Api"))
        #expect(
            result.items.map(\.name) == [
                "tradestation/client_id", "tradestation/client_secret", "pennyvault/token", "tradestation/token_state",
            ])
        #expect(holds(item(result, PVTradeStationImport.clientIDName), "ts-client-id-0123456789"))
        #expect(holds(item(result, PVTradeStationImport.clientSecretName), "ts-client-secret-abcdefghijklmnop"))
        #expect(holds(item(result, PVTradeStationImport.pennyVaultTokenName), "pv-api-token-ZYXWVUT"))

        // Stored in the vault, the Go oauth2 token JSON reads back as token state.
        let vault = try Vault.open(storage: InMemoryVaultStorage(), key: try makeTestKey(seed: 4))
        try vault.store(result)
        let state = try #require(try vault.tokenState(for: "tradestation"))
        #expect(state.version == 1)
        #expect(state.state.accessToken == "eyJ.fixture.access")
        #expect(state.state.refreshToken == "fixture-refresh-token-42")
        #expect(state.state.tokenType == "Bearer")
        let expiry = try #require(state.state.accessTokenExpiresAt)
        // 2026-03-02T15:04:05.123456789-05:00, kept to the millisecond in the vault's form
        #expect(abs(expiry.timeIntervalSince1970 - 1_772_481_845.123456789) < 0.001)
        #expect(holds(try vault.get("tradestation/client_id"), "ts-client-id-0123456789"))
    }

    @Test("round trip through our own BLAKE3 and AES-GCM, with a plain JSON state file and ~ paths")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        let keyBytes = Data((0..<3000).map { UInt8(($0 * 7) % 256) })  // spans several BLAKE3 chunks
        try FileManager.default.createDirectory(atPath: dir.path(".pvts"), withIntermediateDirectories: true)
        try keyBytes.write(to: URL(fileURLWithPath: dir.path(".pvts/key")))
        let key = PVTradeStationImport.sealingKey(keyFileBytes: keyBytes)
        let values = ["round-trip-id", "round-trip-secret", "round-trip-pv"]
        let sealed = try values.map { try PVTradeStationImport.seal(Data($0.utf8), key: key) }
        try write(
            #"{"access_token":"rt-access","refresh_token":"rt-refresh","expiry":"0001-01-01T00:00:00Z"}"#,
            to: dir.path("state.json"))
        try write(
            """
            key_file = "~/.pvts/key"
            state_file = "\(dir.path("state.json"))"
            [auth]
            apikey = "\(sealed[0])"
            secret = "\(sealed[1])"
            [pv]
            apikey = "\(sealed[2])"
            """, to: dir.path("ts.toml"))
        let result = try PVTradeStationImport.load(configPath: "~/ts.toml", environment: ["HOME": dir.url.path])
        #expect(result.mode == nil)
        #expect(holds(item(result, PVTradeStationImport.clientIDName), values[0]))
        #expect(holds(item(result, PVTradeStationImport.clientSecretName), values[1]))
        #expect(holds(item(result, PVTradeStationImport.pennyVaultTokenName), values[2]))
        let json = try #require(item(result, PVTradeStationImport.tokenStateName))
        let state = try TokenState(json: Data(json.value.utf8))
        #expect(state.refreshToken == "rt-refresh")
        // Go's zero time and no JWT exp: imported as expired, so the first use refreshes.
        #expect(state.accessTokenExpiresAt == Date(timeIntervalSince1970: 0))
        #expect(result.warnings.contains { $0.contains("imported as expired") })
    }

    @Test("a missing key file is an error, not empty strings")
    func missingKeyFile() throws {
        let dir = try TemporaryDirectory()
        try write("key_file = \"absent.key\"\n[auth]\napikey = \"\(Self.sealedClientID)\"\n", to: dir.path("t.toml"))
        let error = #expect(throws: SecretsError.self) {
            try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.message.contains("absent.key") == true)
        #expect(error?.message.contains("does not exist") == true)
    }

    @Test("the wrong key file fails to decrypt and names the value")
    func wrongKeyFile() throws {
        let dir = try TemporaryDirectory()
        try Data("some other file".utf8).write(to: URL(fileURLWithPath: dir.path("other.key")))
        try write("[auth]\nkey_file = \"other.key\"\nsecret = \"\(Self.sealedClientSecret)\"\n", to: dir.path("t.toml"))
        let error = #expect(throws: SecretsError.self) {
            try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        }
        #expect(error?.kind == .importDecryptionFailed)
        #expect(error?.message.contains("[auth] secret") == true)
        #expect(error?.message.contains("other.key") == true)
    }

    @Test("tampered and unsealed values are rejected")
    func tamperedValue() throws {
        let dir = try TemporaryDirectory()
        try Self.fixtureKeyFile.write(to: URL(fileURLWithPath: dir.path("k")))
        var bytes = try #require(Data(base64Encoded: Self.sealedClientID))
        bytes[20] ^= 1
        try write("key_file = \"k\"\n[auth]\napikey = \"\(bytes.base64EncodedString())\"\n", to: dir.path("t.toml"))
        let tampered = #expect(throws: SecretsError.self) {
            try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        }
        #expect(tampered?.kind == .importDecryptionFailed)

        try write("key_file = \"k\"\n[auth]\napikey = \"not sealed!\"\n", to: dir.path("t.toml"))
        let plain = #expect(throws: SecretsError.self) {
            try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        }
        #expect(plain?.kind == .invalidConfiguration)
        #expect(plain?.message.contains("not a sealed value") == true)
        #expect(plain?.message.contains("not sealed!") == false)  // values never appear in errors
    }

    @Test("a missing state file is a warning; no credentials at all is an error")
    func stateFileAndEmpty() throws {
        let dir = try TemporaryDirectory()
        try Self.fixtureKeyFile.write(to: URL(fileURLWithPath: dir.path("k")))
        try write("key_file = \"k\"\nstate_file = \"gone.json\"\n[pv]\napikey = \"\(Self.sealedPVToken)\"\n", to: dir.path("t.toml"))
        let result = try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        #expect(result.items.map(\.name) == ["pennyvault/token"])
        #expect(result.warnings.count == 2)
        #expect(result.warnings.contains { $0.contains("gone.json") })

        try write("key_file = \"k\"\nmode = \"live\"\n", to: dir.path("t.toml"))
        let empty = #expect(throws: SecretsError.self) {
            try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        }
        #expect(empty?.message.contains("no credentials found") == true)
    }
}

@Suite("TOML reader")
struct TOMLReaderTests {
    @Test("flat keys, tables, strings, escapes and comments")
    func parses() throws {
        let table = try TOMLReader.parse(
            """
            # comment
            mode = "sim"  # trailing comment
            'quoted key' = 'literal \\n kept'
            count = 3
            [auth]
            apikey = "a\\tb\\u00e9\\"c"
            "dotted.key" = "x"
            list = [1,
              2]
            [pv]
            apikey = ""
            """)
        #expect(table["mode"] == .string("sim"))
        #expect(table["quoted key"] == .string("literal \\n kept"))
        #expect(table["count"] == .raw("3"))
        #expect(table["auth.apikey"] == .string("a\tbé\"c"))
        #expect(table["auth.dotted.key"] == .string("x"))
        #expect(table["auth.list"] == .raw("[1, 2]"))
        #expect(table["pv.apikey"] == .string(""))
    }

    @Test(
        "errors carry the line number",
        arguments: [
            ("a = \"unterminated", 1),
            ("ok = 1\nnot a pair", 2),
            ("a = 1\na = 2", 2),
            ("x = \"\"\"\nmulti\n\"\"\"", 1),
            ("[[array]]", 1),
            ("a = \"x\" junk", 1),
        ])
    func errors(text: String, line: Int) {
        #expect(throws: TOMLReader.ParseError.self) { try TOMLReader.parse(text) }
        do {
            _ = try TOMLReader.parse(text)
        } catch {
            #expect(error.line == line)
        }
    }

    @Test("a syntax error in the config names file and line")
    func configError() throws {
        let dir = try TemporaryDirectory()
        try Data("mode = \"sim\"\nbroken\n".utf8).write(to: URL(fileURLWithPath: dir.path("t.toml")))
        let error = #expect(throws: SecretsError.self) {
            try PVTradeStationImport.load(configPath: dir.path("t.toml"), environment: [:])
        }
        #expect(error?.message.contains("t.toml:2") == true)
    }
}

@Suite("TOML reader: Windows line endings")
struct TOMLReaderCRLFTests {
    @Test("CRLF lines parse like LF lines, and errors keep their line numbers")
    func crlf() throws {
        let table = try TOMLReader.parse("mode = \"sim\"\r\n[auth]\r\nkey_file = 'k'\r\n# c\r\nn = 3\r\n")
        #expect(table["mode"] == .string("sim"))
        #expect(table["auth.key_file"] == .string("k"))
        #expect(table["auth.n"] == .raw("3"))
        do {
            _ = try TOMLReader.parse("a = 1\r\nb = 2\r\nbroken\r\n")
            Issue.record("a line without '=' parsed")
        } catch {
            #expect(error.line == 3)
        }
    }
}
