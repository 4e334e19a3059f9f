public import Brokers
import BrokersSQLite
import Foundation
public import SchedctlBase
public import Scheduler
public import Secrets

/// Builds broker clients from `jobs.yaml` components, with credentials and OAuth token state
/// from the vault and the paper broker's ledger in the schedctl database.
public struct BrokerFactory: Sendable {
    /// The database (paper ledger).
    public var store: Store
    /// Opens the vault on first use; nil when no component needs it.
    public var vault: @Sendable () throws -> Vault
    /// The wall clock token expiry is judged by, and how waits (penalties) are slept.
    public var clock: WallClock
    public var sleeper: Sleeper

    /// A factory.
    public init(store: Store, vault: @escaping @Sendable () throws -> Vault, clock: WallClock = .system, sleeper: Sleeper = .continuous) {
        self.store = store
        self.vault = vault
        self.clock = clock
        self.sleeper = sleeper
    }

    /// The migrations the paper broker needs in the schedctl database.
    public static let migrations: Store.MigrationRegistration = { SQLitePaperLedger.registerMigrations(&$0) }

    /// The client for `spec`.
    public func brokerage(_ spec: ComponentSpec) async throws -> any Brokerage {
        switch spec.type {
        case "paper":
            let cash = spec.options["cash"]?.numberValue ?? 100_000
            let seed = UInt64(truncating: (spec.options["seed"]?.numberValue ?? 1) as NSDecimalNumber)
            let prices: any PriceSource
            if let path = spec.options["prices"]?.stringValue {
                prices = try CSVPriceSource(contentsOf: URL(fileURLWithPath: path))
            } else {
                prices = RandomWalkPriceSource(seed: seed)
            }
            return try await PaperBroker.open(ledger: SQLitePaperLedger(writer: store.writer), accountID: spec.name, cash: cash, prices: prices)
        case "tradestation":
            let configuration = try tradeStationConfiguration(spec)
            return TradeStationClient(
                configuration: configuration, credentials: VaultCredentials(vault: vault), tokens: VaultTokenStore(vault: vault, broker: spec.name))
        case "tradovate":
            return TradovateClient(auth: try tradovateAuth(spec))
        default:
            throw JobFailure("broker type '\(spec.type)' is not supported by this build", retryable: false)
        }
    }

    /// The Tradovate sign-in of broker `spec`, sharing its token through the vault
    /// (`NAME/token_state`) with every other process and command on this database.
    public func tradovateAuth(_ spec: ComponentSpec) throws -> TradovateAuth {
        TradovateAuth(
            configuration: try tradovateConfiguration(spec), credentials: VaultCredentials(vault: vault),
            store: VaultTradovateTokenStore(vault: vault, broker: spec.name), clock: clock, sleeper: sleeper)
    }

    /// The client settings of Tradovate broker `spec` (environment; `base_url`, `ws_url` and
    /// `md_url` override the environment's REST, trading-socket and market-data-socket hosts).
    public func tradovateConfiguration(_ spec: ComponentSpec) throws -> TradovateConfiguration {
        var configuration = TradovateConfiguration(
            environment: try TradovateEnvironment(parsing: spec.options["environment"]?.stringValue ?? ""),
            restURL: try spec.options["base_url"]?.stringValue.map { try EndpointURL.parse($0, what: "brokers.\(spec.name).base_url") },
            webSocketURL: try spec.options["ws_url"]?.stringValue.map {
                try EndpointURL.parse($0, what: "brokers.\(spec.name).ws_url", secure: "wss", plain: "ws")
            },
            marketDataURL: try spec.options["md_url"]?.stringValue.map {
                try EndpointURL.parse($0, what: "brokers.\(spec.name).md_url", secure: "wss", plain: "ws")
            },
            usernameName: secretName(spec, "username"), passwordName: secretName(spec, "password"), cidName: secretName(spec, "cid"),
            secretName: secretName(spec, "sec"), appID: spec.options["app_id"]?.stringValue ?? "schedctl",
            appVersion: spec.options["app_version"]?.stringValue ?? SchedulerInfo.version,
            deviceID: spec.options["device_id"]?.stringValue ?? "schedctl-\(spec.name)")
        configuration.name = spec.name
        return configuration
    }

    /// The client settings of TradeStation broker `spec` (environment, URL overrides, the vault
    /// names of its credentials).
    public func tradeStationConfiguration(_ spec: ComponentSpec) throws -> TradeStationConfiguration {
        var configuration = TradeStationConfiguration(
            environment: try TradeStationEnvironment(parsing: spec.options["environment"]?.stringValue ?? ""),
            baseURL: try spec.options["base_url"]?.stringValue.map { try EndpointURL.parse($0, what: "brokers.\(spec.name).base_url") },
            authURL: try spec.options["auth_url"]?.stringValue.map { try EndpointURL.parse($0, what: "brokers.\(spec.name).auth_url") },
            clientIDName: secretName(spec, "client_id"), clientSecretName: secretName(spec, "client_secret"))
        configuration.name = spec.name
        return configuration
    }

    /// Credentials from the vault.
    public var credentials: any CredentialProvider { VaultCredentials(vault: vault) }

    /// The vault-backed OAuth token store of broker `spec` (`NAME/token_state`).
    public func tokenStore(for spec: ComponentSpec) -> any TokenStore { VaultTokenStore(vault: vault, broker: spec.name) }

    /// The vault name configured for `key` (`secret:NAME`), or `<broker>/<key>`.
    public func secretName(_ spec: ComponentSpec, _ key: String) -> String {
        if case .secret(let name) = spec.options[key] { return name }
        return "\(spec.name)/\(key)"
    }
}

/// Broker credentials read from the vault.
struct VaultCredentials: CredentialProvider {
    let vault: @Sendable () throws -> Vault

    func value(for name: String) async throws -> String {
        guard let value = try vault().get(name) else {
            throw JobFailure("secret '\(name)' is not in the vault; add it with 'schedctl secrets set \(name)'", retryable: false)
        }
        return value.value
    }

    func issued(_ token: String) { (try? vault())?.registerForRedaction(token) }
}

/// OAuth token state kept in the vault (`BROKER/token_state`), updated by compare-and-swap so a
/// rotated refresh token is never lost and two processes never overwrite a newer token.
struct VaultTokenStore: TokenStore {
    let vault: @Sendable () throws -> Vault
    let broker: String

    func load() async throws -> OAuthTokenState? {
        try vault().tokenState(for: broker).map { Self.oauth($0.state) }
    }

    func update(from expected: OAuthTokenState?, to new: OAuthTokenState) async throws -> Bool {
        let vault = try vault()
        let current = try vault.tokenState(for: broker)
        guard current.map({ Self.oauth($0.state) }) == expected else { return false }
        do {
            try vault.replaceTokenState(for: broker, expectedVersion: current?.version, with: Self.token(new))
            return true
        } catch let error as SecretsError where error.kind == .tokenStateConflict {
            return false
        }
    }

    /// The vault keeps what the clients need to resume; OAuth scopes are not kept.
    static func oauth(_ state: TokenState) -> OAuthTokenState {
        OAuthTokenState(
            accessToken: state.accessToken.isEmpty ? nil : state.accessToken, accessTokenExpiresAt: state.accessTokenExpiresAt,
            refreshToken: state.refreshToken ?? "")
    }

    static func token(_ state: OAuthTokenState) -> TokenState {
        TokenState(
            accessToken: state.accessToken ?? "", accessTokenExpiresAt: state.accessTokenExpiresAt, refreshToken: state.refreshToken, tokenType: "Bearer")
    }
}

/// The shared Tradovate token and its sign-in bookkeeping in the vault (`BROKER/token_state`):
/// the tokens as the token state's access token and `mdAccessToken` attribute, the bookkeeping as
/// JSON in the `tradovate` attribute; written by compare-and-swap on the record's version.
struct VaultTradovateTokenStore: TradovateTokenStore {
    let vault: @Sendable () throws -> Vault
    let broker: String

    func load() async throws -> VersionedTradovateTokenState? {
        guard let stored = try vault().tokenState(for: broker) else { return nil }
        let t = stored.state
        let book = t.attributes["tradovate"].flatMap { try? JSONDecoder().decode(TradovateAuthBook.self, from: Data($0.utf8)) } ?? TradovateAuthBook()
        let state = TradovateTokenState(
            accessToken: t.accessToken.isEmpty ? nil : t.accessToken, mdAccessToken: t.attributes["mdAccessToken"],
            expirationTime: t.accessTokenExpiresAt, book: book)
        return VersionedTradovateTokenState(state: state, version: stored.version)
    }

    func replace(expectedVersion: Int64?, with state: TradovateTokenState) async throws -> Int64? {
        var attributes = ["tradovate": String(decoding: try JSONEncoder().encode(state.book), as: UTF8.self)]
        if let md = state.mdAccessToken { attributes["mdAccessToken"] = md }
        let token = TokenState(
            accessToken: state.accessToken ?? "", accessTokenExpiresAt: state.expirationTime, tokenType: "Bearer", attributes: attributes)
        do {
            return try vault().replaceTokenState(for: broker, expectedVersion: expectedVersion, with: token).version
        } catch let error as SecretsError where error.kind == .tokenStateConflict {
            return nil
        }
    }
}
