public import Foundation
public import Logging

/// Tradovate environment: `demo` or `live`.
public struct TradovateEnvironment: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// Simulated money, real market data.
    public static let demo = TradovateEnvironment(name: "demo")
    /// Real money.
    public static let live = TradovateEnvironment(name: "live")
    private init(name: String) { self.name = name }

    /// Parses `demo` or `live`; anything else is an error naming the choices.
    public init(parsing text: String) throws(BrokerError) {
        switch text.lowercased() {
        case "demo": self = .demo
        case "live": self = .live
        default:
            throw BrokerError(.invalidConfiguration, broker: "tradovate", "environment '\(text)' is not valid for Tradovate; use 'demo' or 'live'")
        }
    }

    /// REST base including `/v1`.
    public var restURL: URL { URL(string: "https://\(name).tradovateapi.com/v1")! }
    /// Trading/user WebSocket.
    public var webSocketURL: URL { URL(string: "wss://\(name).tradovateapi.com/v1/websocket")! }
    /// Market-data WebSocket.
    public var marketDataURL: URL { URL(string: "wss://md.tradovateapi.com/v1/websocket")! }
    public var description: String { name }
}

/// Tradovate settings; secrets are named and read through a ``CredentialProvider``.
public struct TradovateConfiguration: Sendable {
    public var environment: TradovateEnvironment
    public var restURL: URL
    public var webSocketURL: URL
    public var marketDataURL: URL
    /// Credential names.
    public var usernameName: String
    public var passwordName: String
    public var cidName: String
    public var secretName: String
    /// App identification and a stable device id (strictly enforced on live).
    public var appID: String
    public var appVersion: String
    public var deviceID: String
    /// Renew this long before `expirationTime` (Tradovate advises ~15 minutes).
    public var renewMargin: TimeInterval
    /// How many `p-ticket` penalties to wait out before giving up.
    public var maxPenaltyRetries: Int
    public var timeout: TimeInterval

    public init(
        environment: TradovateEnvironment, restURL: URL? = nil, webSocketURL: URL? = nil, marketDataURL: URL? = nil,
        usernameName: String = "tradovate/username", passwordName: String = "tradovate/password",
        cidName: String = "tradovate/cid", secretName: String = "tradovate/secret",
        appID: String = "schedctl", appVersion: String = "1.0", deviceID: String,
        renewMargin: TimeInterval = 15 * 60, maxPenaltyRetries: Int = 3, timeout: TimeInterval = 30
    ) {
        self.environment = environment
        self.restURL = restURL ?? environment.restURL
        self.webSocketURL = webSocketURL ?? environment.webSocketURL
        self.marketDataURL = marketDataURL ?? environment.marketDataURL
        self.usernameName = usernameName
        self.passwordName = passwordName
        self.cidName = cidName
        self.secretName = secretName
        self.appID = appID
        self.appVersion = appVersion
        self.deviceID = deviceID
        self.renewMargin = renewMargin
        self.maxPenaltyRetries = maxPenaltyRetries
        self.timeout = timeout
    }
}

/// A Tradovate session's tokens.
public struct TradovateSession: Sendable, Hashable {
    public var accessToken: String
    public var mdAccessToken: String?
    public var expirationTime: Date
    public var userID: Int64?
}

/// One shared Tradovate token per process: concurrent callers share one in-flight login or
/// renewal (never a login storm), tokens are renewed ahead of `expirationTime` with
/// `renewaccesstoken` (same session), and `p-ticket` penalties are waited out.
public actor TradovateAuth {
    let configuration: TradovateConfiguration
    let credentials: any CredentialProvider
    let clock: WallClock
    let sleeper: Sleeper
    let transport: HTTPTransport
    let logger: Logger
    private var session: TradovateSession?
    private var inFlight: Task<TradovateSession, any Error>?
    /// Number of `accesstokenrequest` calls made (each starts a session at Tradovate).
    public private(set) var loginCount = 0
    /// Number of renewals made.
    public private(set) var renewCount = 0

    public init(
        configuration: TradovateConfiguration, credentials: any CredentialProvider, clock: WallClock = .system,
        sleeper: Sleeper = .continuous, logger: Logger = Logger(label: "schedctl.brokers.tradovate")
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.clock = clock
        self.sleeper = sleeper
        self.transport = HTTPTransport(broker: "tradovate", timeout: configuration.timeout)
        self.logger = logger
    }

    /// The current session, logging in or renewing when needed.
    public func currentSession() async throws -> TradovateSession {
        if let t = inFlight { return try await t.value }
        if let s = session, s.expirationTime.timeIntervalSince(clock.now()) > configuration.renewMargin { return s }
        let existing = session
        let task = Task { () throws -> TradovateSession in
            if let existing, existing.expirationTime > self.clock.now() {
                do {
                    return try await self.renew(existing)
                } catch {
                    let refused = (error as? BrokerError)?.isAuthenticationFailure ?? false
                    if !refused, existing.expirationTime.timeIntervalSince(self.clock.now()) > 60 {
                        // A penalty or outage on renewal: keep the still-valid token and try again later.
                        self.logger.notice("token renewal failed; keeping the current token", metadata: ["broker": "tradovate"])
                        return existing
                    }
                    if !refused { throw error }
                    self.logger.notice("renewal refused; logging in again", metadata: ["broker": "tradovate"])
                }
            }
            return try await self.login()
        }
        inFlight = task
        defer { inFlight = nil }
        let s = try await task.value
        session = s
        return s
    }

    /// The current access token.
    public func accessToken() async throws -> String { try await currentSession().accessToken }

    /// Forgets the session after the server refused its token (next call renews or logs in).
    public func invalidate(token: String) {
        if session?.accessToken == token { session = nil }
    }

    /// Renews now if the token is within the renew margin (for a periodic renewal job).
    @discardableResult
    public func renewIfNeeded() async throws -> TradovateSession { try await currentSession() }

    private func login() async throws -> TradovateSession {
        let name = try await credentials.value(for: configuration.usernameName)
        let password = try await credentials.value(for: configuration.passwordName)
        let cid = try await credentials.value(for: configuration.cidName)
        let sec = try await credentials.value(for: configuration.secretName)
        var body: [String: Any] = [
            "name": name, "password": password, "appId": configuration.appID, "appVersion": configuration.appVersion,
            "deviceId": configuration.deviceID, "cid": cid, "sec": sec,
        ]
        var penalties = 0
        while true {
            loginCount += 1
            let r = try await transport.send(
                "POST", configuration.restURL.appendingPathComponent("auth/accesstokenrequest"),
                headers: ["Content-Type": "application/json", "Accept": "application/json"],
                body: try JSONSerialization.data(withJSONObject: body))
            let obj = try checkAuthResponse(r, what: "sign-in")
            if let ticket = obj["p-ticket"] as? String {
                let wait = ServerWait.seconds(jsonDecimal(obj["p-time"]).map { NSDecimalNumber(decimal: $0).doubleValue }) ?? 15
                if obj["p-captcha"] as? Bool == true {
                    throw BrokerError(
                        .penalty, broker: "tradovate", retryAfter: 3600,
                        "Tradovate locked sign-in behind a captcha after too many attempts; wait about an hour, then retry (check tradovate/username and tradovate/password first)"
                    )
                }
                guard penalties < configuration.maxPenaltyRetries, ServerWait.isAcceptable(wait) else {
                    throw BrokerError(
                        .penalty, broker: "tradovate", retryAfter: wait, "Tradovate kept imposing sign-in time penalties; wait a few minutes and retry")
                }
                penalties += 1
                logger.notice("sign-in time penalty; waiting", metadata: ["broker": "tradovate", "seconds": "\(wait)"])
                try await sleeper(.secondsDouble(wait))
                body["p-ticket"] = ticket
                continue
            }
            return try session(from: obj, what: "sign-in")
        }
    }

    private func renew(_ current: TradovateSession) async throws -> TradovateSession {
        renewCount += 1
        let r = try await transport.send(
            "GET", configuration.restURL.appendingPathComponent("auth/renewaccesstoken"),
            headers: ["Authorization": "Bearer \(current.accessToken)", "Accept": "application/json"])
        let obj = try checkAuthResponse(r, what: "token renewal")
        if obj["p-ticket"] != nil {
            throw BrokerError(
                .penalty, broker: "tradovate", retryAfter: ServerWait.seconds(jsonDecimal(obj["p-time"]).map { NSDecimalNumber(decimal: $0).doubleValue }),
                "Tradovate imposed a time penalty on token renewal; the current token stays in use until it expires")
        }
        var s = try session(from: obj, what: "token renewal")
        if s.mdAccessToken == nil { s.mdAccessToken = current.mdAccessToken }
        if s.userID == nil { s.userID = current.userID }
        return s
    }

    private func checkAuthResponse(_ r: RawHTTPResponse, what: String) throws -> [String: Any] {
        switch r.status {
        case 200: break
        case 401:
            throw BrokerError(.authenticationFailed, broker: "tradovate", httpStatus: 401, "Tradovate refused the \(what) (HTTP 401)")
        case 423:
            throw BrokerError(
                .penalty, broker: "tradovate", httpStatus: 423, retryAfter: 3600,
                "Tradovate locked the account after failed sign-ins; stop all calls for an hour, then check tradovate/username and tradovate/password")
        case 429:
            throw BrokerError(
                .rateLimited, broker: "tradovate", httpStatus: 429, retryAfter: 3600,
                "Tradovate rate-limited this user; Tradovate asks clients to wait an hour")
        default:
            throw BrokerError(
                r.status >= 500 ? .server : .rejected, broker: "tradovate", httpStatus: r.status,
                "Tradovate \(what) failed (HTTP \(r.status)); retry later")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: r.body)) as? [String: Any] else {
            throw BrokerError(.malformedResponse, broker: "tradovate", "Tradovate returned an unreadable \(what) response")
        }
        if let text = obj["errorText"] as? String, !text.isEmpty {
            throw BrokerError(
                .authenticationFailed, broker: "tradovate",
                "Tradovate refused the \(what): \(text); check the tradovate/* secrets with `schedctl secrets`")
        }
        return obj
    }

    private func session(from obj: [String: Any], what: String) throws -> TradovateSession {
        guard let token = obj["accessToken"] as? String, let expText = obj["expirationTime"] as? String,
            let exp = parseTimestamp(expText)
        else { throw BrokerError(.malformedResponse, broker: "tradovate", "Tradovate's \(what) response has no accessToken/expirationTime") }
        credentials.issued(token)
        if let market = obj["mdAccessToken"] as? String { credentials.issued(market) }
        return TradovateSession(
            accessToken: token, mdAccessToken: obj["mdAccessToken"] as? String, expirationTime: exp,
            userID: (obj["userId"] as? NSNumber)?.int64Value)
    }
}

func parseTimestamp(_ s: String) -> Date? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: s) { return d }
    return ISO8601DateFormatter().date(from: s)
}
