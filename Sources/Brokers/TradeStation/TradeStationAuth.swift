import Crypto
public import Foundation
public import SchedctlBase

/// TradeStation environment: `sim` or `live`.
public struct TradeStationEnvironment: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// Paper trading (`https://sim-api.tradestation.com/v3`).
    public static let sim = TradeStationEnvironment(name: "sim")
    /// Real money (`https://api.tradestation.com/v3`).
    public static let live = TradeStationEnvironment(name: "live")

    private init(name: String) { self.name = name }

    /// Parses `sim` or `live`; anything else is an error naming the choices.
    public init(parsing text: String) throws(BrokerError) {
        switch text.lowercased() {
        case "sim": self = .sim
        case "live": self = .live
        default:
            throw BrokerError(
                .invalidConfiguration, broker: "tradestation",
                "environment '\(text)' is not valid for TradeStation; use 'sim' or 'live'")
        }
    }

    /// Default API base URL.
    public var baseURL: URL { URL(string: self == .live ? "https://api.tradestation.com/v3" : "https://sim-api.tradestation.com/v3")! }
    /// Auth server (same for both).
    public var authURL: URL { URL(string: "https://signin.tradestation.com")! }
    public var description: String { name }
}

/// TradeStation client settings. Secrets are named, not held: they are read through a ``CredentialProvider``.
public struct TradeStationConfiguration: Sendable {
    public var environment: TradeStationEnvironment
    /// API base, including `/v3`. Defaults from the environment.
    public var baseURL: URL
    /// Auth server base (`/oauth/token`, `/authorize`). Defaults from the environment.
    public var authURL: URL
    /// Credential names for the API key and secret.
    public var clientIDName: String
    public var clientSecretName: String
    /// Refresh the access token this long before it expires.
    public var refreshMargin: TimeInterval
    /// Retries on 429 and on 5xx for reads.
    public var maxRetries: Int
    /// Request timeout.
    public var timeout: TimeInterval
    /// The configured broker's name (`brokers.NAME`), the `broker` label of its request metrics.
    public var name = "tradestation"

    public init(
        environment: TradeStationEnvironment, baseURL: URL? = nil, authURL: URL? = nil,
        clientIDName: String = "tradestation/client_id", clientSecretName: String = "tradestation/client_secret",
        refreshMargin: TimeInterval = 180, maxRetries: Int = 4, timeout: TimeInterval = 30
    ) {
        self.environment = environment
        self.baseURL = baseURL ?? environment.baseURL
        self.authURL = authURL ?? environment.authURL
        self.clientIDName = clientIDName
        self.clientSecretName = clientSecretName
        self.refreshMargin = refreshMargin
        self.maxRetries = maxRetries
        self.timeout = timeout
    }

    /// Default scopes for `schedctl auth tradestation`.
    public static let defaultScopes = ["openid", "profile", "offline_access", "MarketData", "ReadAccount", "Trade"]
    /// Default localhost callback port (registered on TradeStation keys by default).
    public static let defaultCallbackPort = 31022
}

/// Keeps a TradeStation access token fresh: refreshes shortly before expiry, stores rotated
/// refresh tokens through the ``TokenStore`` (compare-and-swap), and shares one in-flight refresh.
public actor TradeStationAuth {
    let configuration: TradeStationConfiguration
    let credentials: any CredentialProvider
    let store: any TokenStore
    let clock: WallClock
    let transport: HTTPTransport
    private var inFlight: Task<String, any Error>?

    public init(configuration: TradeStationConfiguration, credentials: any CredentialProvider, store: any TokenStore, clock: WallClock = .system) {
        self.configuration = configuration
        self.credentials = credentials
        self.store = store
        self.clock = clock
        self.transport = HTTPTransport(broker: "tradestation", name: configuration.name, timeout: configuration.timeout)
    }

    /// A valid access token; refreshes when missing or near expiry. Pass the token the server just
    /// refused as `rejected` to force a refresh (skipped when another caller already replaced it).
    /// Concurrent callers share one in-flight refresh.
    public func accessToken(rejected: String? = nil) async throws -> String {
        if let t = inFlight { return try await t.value }
        let stored = try await store.load()
        if let t = inFlight { return try await t.value }  // re-check after the suspension
        if let s = stored, let tok = s.accessToken, let exp = s.accessTokenExpiresAt,
            exp.timeIntervalSince(clock.now()) > configuration.refreshMargin, tok != rejected
        {
            return tok
        }
        let task = Task { try await self.refresh() }
        inFlight = task
        defer { inFlight = nil }
        return try await task.value
    }

    /// Performs a refresh-token grant now and stores the result.
    private func refresh(retryingAfterRace: Bool = false) async throws -> String {
        guard let current = try await store.load() else {
            throw BrokerError(
                .reauthorizationRequired, broker: "tradestation",
                "no TradeStation sign-in is stored; run `schedctl auth tradestation`")
        }
        let clientID = try await credentials.value(for: configuration.clientIDName)
        let secret = try await credentials.value(for: configuration.clientSecretName)
        let token: OAuthTokenResponse
        do {
            token = try await tokenRequest([
                ("grant_type", "refresh_token"), ("client_id", clientID), ("client_secret", secret), ("refresh_token", current.refreshToken),
            ])
        } catch let e as BrokerError where e.requiresReauthorization && !retryingAfterRace {
            // Another process may have rotated the refresh token after we read it: use its result.
            guard let latest = try await store.load(), latest.refreshToken != current.refreshToken else { throw e }
            if let tok = latest.accessToken, let exp = latest.accessTokenExpiresAt, exp.timeIntervalSince(clock.now()) > configuration.refreshMargin {
                return tok
            }
            return try await refresh(retryingAfterRace: true)
        }
        guard let access = token.access_token else {
            throw BrokerError(.malformedResponse, broker: "tradestation", "the token endpoint answered without an access_token")
        }
        credentials.issued(access)
        if let rotated = token.refresh_token { credentials.issued(rotated) }
        let new = OAuthTokenState(
            accessToken: access, accessTokenExpiresAt: clock.now().addingTimeInterval(token.expires_in ?? 1200),
            refreshToken: token.refresh_token ?? current.refreshToken, scope: token.scope ?? current.scope)
        if try await store.update(from: current, to: new) { return access }
        // Someone else refreshed meanwhile; their (possibly rotated) state wins. Store ours only if
        // we hold a newer rotated refresh token, so it is never lost.
        if let latest = try await store.load() {
            if token.refresh_token != nil, latest.refreshToken == current.refreshToken,
                try await store.update(from: latest, to: new)
            {
                return access
            }
            if let tok = latest.accessToken, let exp = latest.accessTokenExpiresAt, exp > clock.now() { return tok }
        }
        return access
    }

    /// Exchanges an authorization code (from the browser login) and stores the tokens; with
    /// PKCE, `codeVerifier` is the verifier whose challenge went with the authorize request.
    public func exchange(code: String, redirectURI: String, codeVerifier: String? = nil) async throws -> OAuthTokenState {
        let clientID = try await credentials.value(for: configuration.clientIDName)
        let secret = try await credentials.value(for: configuration.clientSecretName)
        var fields = [
            ("grant_type", "authorization_code"), ("client_id", clientID), ("client_secret", secret), ("code", code), ("redirect_uri", redirectURI),
        ]
        if let codeVerifier { fields.append(("code_verifier", codeVerifier)) }
        let token = try await tokenRequest(fields)
        guard let access = token.access_token, let refresh = token.refresh_token else {
            throw BrokerError(
                .authenticationFailed, broker: "tradestation",
                "TradeStation returned no refresh token; make sure the scope includes offline_access")
        }
        credentials.issued(access)
        credentials.issued(refresh)
        let state = OAuthTokenState(
            accessToken: access, accessTokenExpiresAt: clock.now().addingTimeInterval(token.expires_in ?? 1200),
            refreshToken: refresh, scope: token.scope)
        var previous = try await store.load()
        while !(try await store.update(from: previous, to: state)) { previous = try await store.load() }
        return state
    }

    private func tokenRequest(_ fields: [(String, String)]) async throws -> OAuthTokenResponse {
        let url = configuration.authURL.appendingPathComponent("oauth/token")
        let response = try await transport.send(
            "POST", url, headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: formEncode(fields))
        let decoded = try? JSONDecoder().decode(OAuthTokenResponse.self, from: response.body)
        if (200..<300).contains(response.status), let decoded, decoded.error == nil { return decoded }
        let code = decoded?.error ?? ""
        if code == "invalid_grant" {
            throw BrokerError(
                .reauthorizationRequired, broker: "tradestation", httpStatus: response.status,
                "TradeStation refused the stored sign-in (invalid_grant: expired or revoked); run `schedctl auth tradestation` to sign in again")
        }
        if code == "invalid_client" || code == "unauthorized_client" || code == "access_denied" {
            throw BrokerError(
                .authenticationFailed, broker: "tradestation", httpStatus: response.status,
                "TradeStation refused the API key (\(code)); check tradestation/client_id and tradestation/client_secret with `schedctl secrets`")
        }
        if response.status == 429 {
            throw BrokerError(.rateLimited, broker: "tradestation", httpStatus: 429, "TradeStation's sign-in server is throttling requests; retry in a minute")
        }
        if response.status >= 500 {
            throw BrokerError(
                .server, broker: "tradestation", httpStatus: response.status, "TradeStation's sign-in server failed (HTTP \(response.status)); retry later")
        }
        if decoded == nil {
            throw BrokerError(
                .malformedResponse, broker: "tradestation", httpStatus: response.status,
                "TradeStation's token endpoint returned an unreadable body (HTTP \(response.status))")
        }
        throw BrokerError(
            .authenticationFailed, broker: "tradestation", httpStatus: response.status,
            "TradeStation's token endpoint refused the request (\(code.isEmpty ? "HTTP \(response.status)" : code))")
    }

    /// A PKCE pair (RFC 7636, `S256`): the verifier stays here, its challenge goes with the
    /// authorize request, so an intercepted code is useless without the verifier.
    public struct PKCE: Sendable, Hashable {
        /// 43 characters of base64url from 32 random bytes.
        public let verifier: String
        /// `base64url(SHA-256(verifier))`.
        public var challenge: String { Self.challenge(for: verifier) }

        /// A fresh random pair.
        public init() {
            var g = SystemRandomNumberGenerator()
            verifier = Self.base64URL(Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }))
        }

        /// The `S256` challenge of `verifier`.
        public static func challenge(for verifier: String) -> String { base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))) }

        static func base64URL(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
    }

    /// The browser URL for `schedctl auth tradestation` (with `pkce`, its `S256` challenge).
    public static func authorizeURL(
        authURL: URL = TradeStationEnvironment.live.authURL, clientID: String, redirectURI: String,
        scopes: [String] = TradeStationConfiguration.defaultScopes, state: String, pkce: PKCE? = nil
    ) -> URL {
        var c = URLComponents(url: authURL.appendingPathComponent("authorize"), resolvingAgainstBaseURL: false)!
        c.queryItems = [
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "client_id", value: clientID),
            URLQueryItem(name: "audience", value: "https://api.tradestation.com"),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "scope", value: scopes.joined(separator: " ")),
            URLQueryItem(name: "state", value: state),
        ]
        if let pkce {
            c.queryItems! += [URLQueryItem(name: "code_challenge", value: pkce.challenge), URLQueryItem(name: "code_challenge_method", value: "S256")]
        }
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return c.url!
    }

    /// A random CSRF `state` value.
    public static func randomState() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(g.next(), radix: 36) }.joined()
    }
}
