public import Brokers
import Foundation
public import Scheduler
public import Secrets
import SecretsSQLite

/// Builds broker clients from `jobs.yaml` components, with credentials and OAuth token state
/// from the vault and the paper broker's ledger in the schedctl database.
public struct BrokerFactory: Sendable {
    /// The database (paper ledger).
    public var store: Store
    /// Opens the vault on first use; nil when no component needs it.
    public var vault: @Sendable () throws -> Vault

    /// A factory.
    public init(store: Store, vault: @escaping @Sendable () throws -> Vault) {
        self.store = store
        self.vault = vault
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
            let configuration = try tradovateConfiguration(spec)
            return TradovateClient(auth: TradovateAuth(configuration: configuration, credentials: VaultCredentials(vault: vault)))
        default:
            throw JobFailure("broker type '\(spec.type)' is not supported by this build", retryable: false)
        }
    }

    /// The client settings of Tradovate broker `spec` (environment; `base_url`, `ws_url` and
    /// `md_url` override the environment's REST, trading-socket and market-data-socket hosts).
    public func tradovateConfiguration(_ spec: ComponentSpec) throws -> TradovateConfiguration {
        TradovateConfiguration(
            environment: try TradovateEnvironment(parsing: spec.options["environment"]?.stringValue ?? ""),
            restURL: spec.options["base_url"]?.stringValue.flatMap(URL.init(string:)),
            webSocketURL: spec.options["ws_url"]?.stringValue.flatMap(URL.init(string:)),
            marketDataURL: spec.options["md_url"]?.stringValue.flatMap(URL.init(string:)),
            usernameName: secretName(spec, "username"), passwordName: secretName(spec, "password"), cidName: secretName(spec, "cid"),
            secretName: secretName(spec, "sec"), appID: spec.options["app_id"]?.stringValue ?? "schedctl",
            appVersion: spec.options["app_version"]?.stringValue ?? SchedulerInfo.version,
            deviceID: spec.options["device_id"]?.stringValue ?? "schedctl-\(spec.name)")
    }

    /// The client settings of TradeStation broker `spec` (environment, URL overrides, the vault
    /// names of its credentials).
    public func tradeStationConfiguration(_ spec: ComponentSpec) throws -> TradeStationConfiguration {
        TradeStationConfiguration(
            environment: try TradeStationEnvironment(parsing: spec.options["environment"]?.stringValue ?? ""),
            baseURL: spec.options["base_url"]?.stringValue.flatMap(URL.init(string:)),
            authURL: spec.options["auth_url"]?.stringValue.flatMap(URL.init(string:)),
            clientIDName: secretName(spec, "client_id"), clientSecretName: secretName(spec, "client_secret"))
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
