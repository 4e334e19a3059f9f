import Crypto
import Foundation
import Testing

@testable import Secrets

/// A pv-tradestation setup laid out the way the Go code really writes it (BROKERS.md §6.0):
/// `key_file` under `[auth]`, `[pv] apikey` in plain text, a sealed state file whose token JSON
/// carries `expires_in`, Windows line endings. Keys and sealed values are made at test time.
struct PVTradeStationSetup {
    let dir: TemporaryDirectory
    let keyFile: String
    let key: SymmetricKey

    /// A fresh key file: an RSA key from `ssh-keygen` when it is installed (pv-tradestation's
    /// default `id_rsa`), else random PEM-like text.
    init() throws {
        dir = try TemporaryDirectory()
        keyFile = dir.path("id_rsa")
        if SSHKeygen.isAvailable {
            _ = try SSHKeygen.generate("rsa", bits: 2048, format: "PEM", at: keyFile)
        } else {
            let body = (0..<20).map { _ in Data((0..<48).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() }
            try Data(("-----BEGIN RSA PRIVATE KEY-----\n" + body.joined(separator: "\n") + "\n-----END RSA PRIVATE KEY-----\n").utf8)
                .write(to: URL(fileURLWithPath: keyFile))
        }
        key = PVTradeStationImport.sealingKey(keyFileBytes: try Data(contentsOf: URL(fileURLWithPath: keyFile)))
    }

    func seal(_ text: String) throws -> String { try PVTradeStationImport.seal(Data(text.utf8), key: key) }

    /// An unsigned JWT with `claims` (the import reads `exp` only; it never verifies).
    static func jwt(_ claims: String) -> String {
        func b64url(_ s: String) -> String {
            Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        return b64url(#"{"alg":"RS256","typ":"JWT"}"#) + "." + b64url(claims) + ".c2lnbmF0dXJl"
    }

    /// Writes `tradestation.toml` (CRLF) and the sealed state file; returns the TOML's path.
    func write(accessToken: String, mode: String = "sim", pvKey: String = "pv-v1-plain-key-0123") throws -> String {
        let tokenJSON =
            #"{"access_token":"\#(accessToken)","token_type":"Bearer","refresh_token":"layout-refresh-token","#
            + #""expires_in":1200,"id_token":"layout-id-token","scope":"openid profile MarketData ReadAccount Trade offline_access"}"#
        // The Go code writes only the base64 text; a Windows editor adds CRLF.
        try Data((try seal(tokenJSON) + "\r\n").utf8).write(to: URL(fileURLWithPath: dir.path("token.state")))
        let toml = [
            "sim = \"https://sim-api.tradestation.com/v3\"",
            "live = \"https://api.tradestation.com/v3\"",
            "mode = \"\(mode)\"",
            "state_file = \"\(dir.path("token.state"))\"",
            "debug = false",
            "",
            "[auth]",
            "key_file = \"\(keyFile)\"",
            "apikey = \"\(try seal("layout-client-id"))\"",
            "secret = \"\(try seal("layout-client-secret"))\"",
            "offline_access = true",
            "",
            "[pv]",
            "apikey = \"\(pvKey)\"",
            "url = \"https://api.pennyvault.com\"",
            "",
        ].joined(separator: "\r\n")
        let path = dir.path("tradestation.toml")
        try Data(toml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite("pv-tradestation import: the files as the Go code writes them")
struct PVTradeStationLayoutTests {
    func item(_ result: PVTradeStationImport, _ name: String) -> Secret<String>? {
        result.items.first { $0.name == name }?.value
    }

    @Test("[auth] key_file, plain [pv] apikey, CRLF, sealed state with expires_in: expiry from the JWT exp")
    func goLayout() throws {
        let setup = try PVTradeStationSetup()
        let access = PVTradeStationSetup.jwt(#"{"sub":"auth0|layout","exp":1800000000,"iat":1799998800}"#)
        let path = try setup.write(accessToken: access, mode: "simulation")
        let result = try PVTradeStationImport.load(configPath: path, environment: [:])
        #expect(result.keyFilePath == setup.keyFile)
        #expect(result.mode == "simulation")
        #expect(holds(item(result, PVTradeStationImport.clientIDName), "layout-client-id"))
        #expect(holds(item(result, PVTradeStationImport.clientSecretName), "layout-client-secret"))
        #expect(holds(item(result, PVTradeStationImport.pennyVaultTokenName), "pv-v1-plain-key-0123"))
        #expect(result.warnings.count == 1)
        #expect(result.warnings[0].contains("X-Pv-Api") && result.warnings[0].contains("v3"))
        #expect(!result.warnings[0].contains("pv-v1-plain-key-0123"))

        let vault = try Vault.open(storage: InMemoryVaultStorage(), key: try makeTestKey(seed: 9))
        try vault.store(result)
        let state = try #require(try vault.tokenState(for: "tradestation")).state
        #expect(state.accessToken == access)
        #expect(state.refreshToken == "layout-refresh-token")
        #expect(state.accessTokenExpiresAt == Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test("an access token without a readable exp is imported as expired, so it refreshes")
    func opaqueAccessToken() throws {
        let setup = try PVTradeStationSetup()
        let path = try setup.write(accessToken: "opaque-access-token")
        let result = try PVTradeStationImport.load(configPath: path, environment: [:])
        let json = try #require(item(result, PVTradeStationImport.tokenStateName))
        let state = try TokenState(json: Data(json.value.utf8))
        #expect(state.accessTokenExpiresAt == Date(timeIntervalSince1970: 0))
        #expect(state.refreshToken == "layout-refresh-token")
        #expect(result.warnings.contains { $0.contains("imported as expired") })

        // A JWT whose payload has no exp is treated the same way.
        let noExp = try setup.write(accessToken: PVTradeStationSetup.jwt(#"{"sub":"x"}"#))
        let again = try PVTradeStationImport.load(configPath: noExp, environment: [:])
        let json2 = try #require(item(again, PVTradeStationImport.tokenStateName))
        #expect(try TokenState(json: Data(json2.value.utf8)).accessTokenExpiresAt == Date(timeIntervalSince1970: 0))
    }

    @Test("[auth] key_file wins over a different top-level key_file, with a warning")
    func bothKeyFiles() throws {
        let setup = try PVTradeStationSetup()
        let path = try setup.write(accessToken: "opaque")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try Data(("key_file = \"elsewhere.key\"\r\n" + text).utf8).write(to: URL(fileURLWithPath: path))
        let result = try PVTradeStationImport.load(configPath: path, environment: [:])
        #expect(result.keyFilePath == setup.keyFile)
        #expect(result.warnings.contains { $0.contains("both key_file and [auth] key_file") })
    }

    @Test("sync.toml: keys matched without regard to case, TOML dates kept as written")
    func syncFile() throws {
        let dir = try TemporaryDirectory()
        try Data(
            "portfolioid = \"pv-portfolio-7\"\r\nACCOUNTID = \"SIM1234567M\"\r\nLastTradeDate = 2026-10-30T00:00:00Z\r\nNextTradeDate = 2026-11-30T00:00:00Z\r\n"
                .utf8
        ).write(to: URL(fileURLWithPath: dir.path("sync.toml")))
        let sync = try PVTradeStationSync.load(path: dir.path("sync.toml"), environment: [:])
        #expect(sync.portfolioID == "pv-portfolio-7")
        #expect(sync.accountID == "SIM1234567M")
        #expect(sync.nextTradeDate == "2026-11-30T00:00:00Z")

        try Data("PortfolioID = \"p\"\n".utf8).write(to: URL(fileURLWithPath: dir.path("bad.toml")))
        let error = #expect(throws: SecretsError.self) { try PVTradeStationSync.load(path: dir.path("bad.toml"), environment: [:]) }
        #expect(error?.message.contains("no AccountID") == true)
    }
}
