public import Crypto
public import Foundation

/// Imports the credentials of `pv-tradestation` (the Go predecessor) into the vault.
///
/// It reads `tradestation.toml` as the Go code does: `mode`, `state_file`, `[auth] key_file`
/// (the older top-level `key_file` the README described is read too), `[auth] apikey` and
/// `secret` (sealed), `[pv] apikey` (plain text). pv-tradestation sealed each value with
/// AES-256-GCM under the BLAKE3-256 hash of the key file's raw bytes and stored it as base64 of
/// `nonce(12) ‖ ciphertext ‖ tag(16)`; the state file (its OAuth token JSON) is sealed the same
/// way or kept as plain JSON. The token's expiry comes from the access token's JWT `exp`; without
/// one the access token is imported as expired, so the first use refreshes it. Unlike the Go
/// code, a missing key file or an undecryptable value is an error, never an empty string.
///
/// The values are returned under these vault names: ``clientIDName``, ``clientSecretName``,
/// ``tokenStateName``, ``pennyVaultTokenName``.
///
/// ```swift
/// let imported = try PVTradeStationImport.load(configPath: "~/.config/pvts/tradestation.toml",
///                                              environment: ProcessInfo.processInfo.environment)
/// try vault.store(imported)
/// ```
public struct PVTradeStationImport: Sendable {
    /// `[auth] apikey`.
    public static let clientIDName = "tradestation/client_id"
    /// `[auth] secret`.
    public static let clientSecretName = "tradestation/client_secret"
    /// The state file's token JSON.
    public static let tokenStateName = "tradestation/token_state"
    /// `[pv] apikey`.
    public static let pennyVaultTokenName = "pennyvault/token"
    /// pv-tradestation's default key file when `key_file` is absent.
    public static let defaultKeyFile = "~/.ssh/id_rsa"

    /// One imported value.
    public struct Item: Sendable {
        /// The vault name it is stored under.
        public let name: String
        /// Where it came from (e.g. `[auth] apikey`), for messages.
        public let origin: String
        /// The decrypted value.
        public let value: Secret<String>
    }

    /// The TOML file read.
    public let configPath: String
    /// `mode` from the file (pv-tradestation's environment, e.g. `sim` or `live`), if set.
    public let mode: String?
    /// The key file whose BLAKE3 hash sealed the values.
    public let keyFilePath: String
    /// The state file, if one was named and found.
    public let stateFilePath: String?
    /// The decrypted values, in a fixed order.
    public let items: [Item]
    /// Things the user should know (e.g. a state file that does not exist). No secrets.
    public let warnings: [String]

    /// Reads and decrypts everything `configPath` names. `~` is expanded with `HOME`; relative
    /// `key_file` / `state_file` paths are taken relative to the TOML file's directory.
    public static func load(configPath: String, environment: [String: String]) throws(SecretsError) -> PVTradeStationImport {
        let home = environment["HOME"]
        let path = SSHKeyLocation.expandTilde(configPath, home: home)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidConfiguration(
                path, FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "the file does not exist",
                fix: "give the path of pv-tradestation's tradestation.toml")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalidConfiguration(path, "the file is not UTF-8 text", fix: "give pv-tradestation's tradestation.toml")
        }
        let table: [String: TOMLReader.Value]
        do {
            table = try TOMLReader.parse(text)
        } catch {
            throw .invalidConfiguration("\(path):\(error.line)", error.message, fix: "fix the TOML syntax")
        }
        func stringValue(_ key: String) throws(SecretsError) -> String? {
            guard let value = table[key] else { return nil }
            guard let string = value.string else {
                throw .invalidConfiguration(path, "'\(key)' is not a string", fix: "quote the value")
            }
            return string
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String {
            let expanded = SSHKeyLocation.expandTilde(p, home: home)
            return expanded.hasPrefix("/") ? expanded : (directory as NSString).appendingPathComponent(expanded)
        }

        var warnings: [String] = []
        // The Go code reads `[auth] key_file`; the README told users to write it at the top level.
        let authKeyFile = try stringValue("auth.key_file")
        let topKeyFile = try stringValue("key_file")
        if let authKeyFile, let topKeyFile, authKeyFile != topKeyFile {
            warnings.append("both key_file and [auth] key_file are set; using [auth] key_file '\(authKeyFile)' as pv-tradestation did")
        }
        let keyFileSetting = authKeyFile ?? topKeyFile
        if keyFileSetting == nil {
            warnings.append("[auth] key_file is not set; using pv-tradestation's default \(defaultKeyFile)")
        }
        let keyFilePath = resolve(keyFileSetting ?? defaultKeyFile)
        guard FileManager.default.fileExists(atPath: keyFilePath) else {
            throw .invalidConfiguration(
                path, "key file '\(keyFilePath)' does not exist",
                fix: "set [auth] key_file to the file pv-tradestation used; its values cannot be decrypted without it")
        }
        guard let keyBytes = FileManager.default.contents(atPath: keyFilePath) else {
            throw .invalidConfiguration(path, "cannot read key file '\(keyFilePath)'", fix: "make it readable (chmod 600)")
        }
        let key = sealingKey(keyFileBytes: keyBytes)

        var items: [Item] = []
        for (tomlKey, origin, name) in [("auth.apikey", "[auth] apikey", clientIDName), ("auth.secret", "[auth] secret", clientSecretName)] {
            guard let sealed = try stringValue(tomlKey), !sealed.isEmpty else { continue }
            let plain = try open(sealed: sealed, key: key, what: origin, configPath: path, keyFile: keyFilePath)
            guard let text = String(data: plain, encoding: .utf8) else {
                throw .importDecryptionFailed(path, "\(origin) (not UTF-8 after decryption)", keyFile: keyFilePath)
            }
            items.append(Item(name: name, origin: origin, value: Secret(text)))
        }
        if let pvKey = try stringValue("pv.apikey"), !pvKey.isEmpty {
            // Plain text as the Go code keeps it; a value sealed under the key file (a layout
            // some setups followed) is opened. A plain key never opens by accident: the GCM tag
            // would have to match.
            let opened = decodeBase64(pvKey).flatMap { try? AES.GCM.open(AES.GCM.SealedBox(combined: $0), using: key) }
            let value = opened.flatMap { String(data: $0, encoding: .utf8) } ?? pvKey
            items.append(Item(name: pennyVaultTokenName, origin: "[pv] apikey", value: Secret(value)))
            warnings.append(
                "[pv] apikey is pv-tradestation's X-Pv-Api key for the old Penny Vault v1 API; Penny Vault v3 accepts only "
                    + "an Auth0 token (Authorization: Bearer), so replace it with `schedctl secrets set \(pennyVaultTokenName)`")
        }

        var stateFilePath: String?
        if let stateSetting = try stringValue("state_file"), !stateSetting.isEmpty {
            let statePath = resolve(stateSetting)
            if let stateData = FileManager.default.contents(atPath: statePath) {
                let json = try stateJSON(stateData, key: key, statePath: statePath, keyFile: keyFilePath)
                let state = try importedTokenState(json)
                if state.expiredForRefresh {
                    warnings.append("the access token in state_file has no readable expiry (JWT exp); it is imported as expired and refreshes on first use")
                }
                items.append(Item(name: tokenStateName, origin: "state_file", value: Secret(String(decoding: state.state.jsonData(), as: UTF8.self))))
                stateFilePath = statePath
            } else {
                warnings.append("state_file '\(statePath)' does not exist; no token state imported (sign in with `schedctl auth tradestation`)")
            }
        }
        guard !items.isEmpty else {
            throw .invalidConfiguration(
                path, "no credentials found (none of [auth] apikey, [auth] secret, [pv] apikey, state_file)",
                fix: "give the tradestation.toml that pv-tradestation used")
        }
        return PVTradeStationImport(
            configPath: path, mode: try stringValue("mode"), keyFilePath: keyFilePath,
            stateFilePath: stateFilePath, items: items, warnings: warnings)
    }

    /// The Go `oauth2.Token` JSON as token state: expiry from the access token's JWT `exp`,
    /// else an RFC 3339 `expiry` (older files), else the Unix epoch (expired: refresh first).
    static func importedTokenState(_ json: String) throws(SecretsError) -> (state: TokenState, expiredForRefresh: Bool) {
        var state = try TokenState(json: Data(json.utf8), name: "state_file")
        if let exp = jwtExpiry(state.accessToken) {
            state.accessTokenExpiresAt = exp
            return (state, false)
        }
        if state.accessTokenExpiresAt != nil { return (state, false) }
        state.accessTokenExpiresAt = Date(timeIntervalSince1970: 0)
        return (state, true)
    }

    /// The `exp` claim (seconds since the epoch) of a JWT, or nil when it is not a readable JWT.
    static func jwtExpiry(_ token: String) -> Date? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = decodeBase64(String(parts[1])),
            let claims = (try? JSONSerialization.jsonObject(with: payload)) as? [String: Any],
            let exp = (claims["exp"] as? NSNumber)?.doubleValue, exp > 0
        else { return nil }
        return Date(timeIntervalSince1970: exp)
    }

    /// The sealing key pv-tradestation used: BLAKE3-256 of the key file's raw bytes.
    public static func sealingKey(keyFileBytes: Data) -> SymmetricKey {
        SymmetricKey(data: BLAKE3.hash(keyFileBytes, outputLength: 32))
    }

    /// Seals `plaintext` the way pv-tradestation did (base64 of nonce ‖ ciphertext ‖ tag).
    public static func seal(_ plaintext: Data, key: SymmetricKey) throws -> String {
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else {
            throw SecretsError.storageFailure("AES-GCM produced no output")
        }
        return combined.base64EncodedString()
    }

    /// Opens one sealed value; `what` names it in errors.
    static func open(sealed: String, key: SymmetricKey, what: String, configPath: String?, keyFile: String) throws(SecretsError) -> Data {
        guard let combined = decodeBase64(sealed), combined.count >= 12 + 16 else {
            throw .invalidConfiguration(
                configPath, "\(what) is not a sealed value (expected base64 of nonce, ciphertext and tag)",
                fix: "give the tradestation.toml written by pv-tradestation, or set the value with `schedctl secrets set`")
        }
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: combined), using: key)
        } catch {
            throw .importDecryptionFailed(configPath, what, keyFile: keyFile)
        }
    }

    private static func stateJSON(_ data: Data, key: SymmetricKey, statePath: String, keyFile: String) throws(SecretsError) -> String {
        guard let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw .invalidConfiguration(statePath, "the state file is not text", fix: "check state_file")
        }
        let json: Data
        if text.hasPrefix("{") {
            json = Data(text.utf8)
        } else {
            json = try open(sealed: text, key: key, what: "the state file", configPath: statePath, keyFile: keyFile)
        }
        guard (try? JSONSerialization.jsonObject(with: json)) is [String: Any], let result = String(data: json, encoding: .utf8) else {
            throw .invalidConfiguration(statePath, "the state file is not a JSON object", fix: "check state_file")
        }
        return result
    }

    /// Standard or URL-safe base64, padded or not, surrounding whitespace ignored.
    static func decodeBase64(_ text: String) -> Data? {
        var s = text.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}

extension Vault {
    /// Stores every imported value under its documented name, in one transaction.
    public func store(_ imported: PVTradeStationImport) throws {
        try setAll(imported.items.map { (name: $0.name, data: Data($0.value.value.utf8)) })
    }
}
