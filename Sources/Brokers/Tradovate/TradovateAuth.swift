public import Foundation
public import Logging
public import SchedctlBase

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
    /// Attempt limits kept across every process sharing the token.
    public var limits: TradovateAuthLimits
    public var timeout: TimeInterval
    /// The configured broker's name (`brokers.NAME`), the `broker` label of its request metrics.
    public var name = "tradovate"

    public init(
        environment: TradovateEnvironment, restURL: URL? = nil, webSocketURL: URL? = nil, marketDataURL: URL? = nil,
        usernameName: String = "tradovate/username", passwordName: String = "tradovate/password",
        cidName: String = "tradovate/cid", secretName: String = "tradovate/secret",
        appID: String = "schedctl", appVersion: String = "1.0", deviceID: String,
        renewMargin: TimeInterval = 15 * 60, limits: TradovateAuthLimits = TradovateAuthLimits(), timeout: TimeInterval = 30
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
        self.limits = limits
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

/// What one call to ``TradovateAuth/renew(ahead:)`` did.
public struct TradovateTokenOutcome: Sendable, Hashable {
    /// What happened to the token.
    public enum Action: Sendable, Hashable {
        /// The stored token was still good for longer than asked.
        case reused
        /// Renewed with `renewaccesstoken` (same session).
        case renewed
        /// Signed in with `accesstokenrequest` (a new session).
        case signedIn
        /// Renewal was due but not possible now (penalty, limit, outage); the token was kept.
        case kept(reason: String)
    }
    public var session: TradovateSession
    public var action: Action
}

/// The Tradovate token, shared through a ``TradovateTokenStore`` by every process and command on
/// one database: no sign-in while a valid token is stored; renewal (same session) ahead of
/// `expirationTime`, at most once a minute and within the hourly limit, honouring `p-time` and
/// `p-ticket`; failed sign-ins stop well inside Tradovate's limit; a captcha demand stops every
/// attempt for an hour. Concurrent callers in one process share one in-flight request.
public actor TradovateAuth {
    let configuration: TradovateConfiguration
    let credentials: any CredentialProvider
    let store: any TradovateTokenStore
    let clock: WallClock
    let sleeper: Sleeper
    let transport: HTTPTransport
    let logger: Logger
    private var inFlight: Task<TradovateTokenOutcome, any Error>?
    /// Number of `accesstokenrequest` calls this instance made (each starts a session at Tradovate).
    public internal(set) var loginCount = 0
    /// Number of renewal requests this instance made.
    public internal(set) var renewCount = 0

    /// An auth; pass the vault-backed store so processes share the token (default: this process only).
    public init(
        configuration: TradovateConfiguration, credentials: any CredentialProvider, store: any TradovateTokenStore = InMemoryTradovateTokenStore(),
        clock: WallClock = .system, sleeper: Sleeper = .continuous, logger: Logger = Logger(label: "schedctl.brokers.tradovate")
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.store = store
        self.clock = clock
        self.sleeper = sleeper
        self.transport = HTTPTransport(broker: "tradovate", name: configuration.name, timeout: configuration.timeout)
        self.logger = logger
    }

    /// The current session, signing in or renewing when needed.
    public func currentSession() async throws -> TradovateSession { try await obtain(margin: configuration.renewMargin).session }

    /// The current access token.
    public func accessToken() async throws -> String { try await currentSession().accessToken }

    /// Renews when the token expires within `ahead` (signs in when none is stored), for the
    /// `token-renewal` job; says what it did.
    public func renew(ahead: TimeInterval) async throws -> TradovateTokenOutcome { try await obtain(margin: ahead) }

    /// The stored state (for `status`).
    public func storedState() async throws -> TradovateTokenState? { try await store.load()?.state }

    /// Forgets `token` after the server refused it, unless another caller already replaced it.
    public func invalidate(token: String) async {
        _ = try? await mutate { state in
            // A refused market-data token rotates the pair too: only a new sign-in issues one.
            guard state.accessToken == token || state.mdAccessToken == token else { return false }
            state.accessToken = nil
            state.mdAccessToken = nil
            state.expirationTime = nil
            return true
        }
    }

    private func obtain(margin: TimeInterval) async throws -> TradovateTokenOutcome {
        if let t = inFlight { return try await t.value }
        if let s = try await store.load()?.state.session, s.expirationTime.timeIntervalSince(clock.now()) > margin {
            return TradovateTokenOutcome(session: s, action: .reused)
        }
        if let t = inFlight { return try await t.value }
        let task = Task { try await self.settle(margin: margin) }
        inFlight = task
        defer { inFlight = nil }
        return try await task.value
    }

    /// One pass per stored version: every pass returns, throws, waits out a penalty or claim, or
    /// lost a compare-and-swap to another process (and re-reads).
    private func settle(margin: TimeInterval) async throws -> TradovateTokenOutcome {
        var penaltyWaits = 0
        for _ in 0..<64 {
            let loaded = try await store.load()
            var state = loaded?.state ?? TradovateTokenState()
            let now = clock.now()
            state.book.prune(before: now.addingTimeInterval(-3600))
            let valid = state.session.flatMap { $0.expirationTime > now ? $0 : nil }
            if let s = valid, s.expirationTime.timeIntervalSince(now) > margin { return TradovateTokenOutcome(session: s, action: .reused) }
            if let s = valid {
                if let reason = renewalBlock(state.book, now) { return TradovateTokenOutcome(session: s, action: .kept(reason: reason)) }
                var claimed = state
                claimed.book.renewals.append(now)
                let ticket = claimed.book.renewTicket
                claimed.book.renewTicket = nil
                claimed.book.renewNotBefore = nil
                guard try await store.replace(expectedVersion: loaded?.version, with: claimed) != nil else { continue }
                let result: RenewResult
                do {
                    result = try await renewRequest(s, ticket: ticket)
                } catch {
                    if s.expirationTime.timeIntervalSince(clock.now()) > 60 {
                        return TradovateTokenOutcome(session: s, action: .kept(reason: "the renewal failed (\(error)); the current token stays in use"))
                    }
                    throw error
                }
                switch result {
                case .renewed(var new):
                    new.mdAccessToken = new.mdAccessToken ?? s.mdAccessToken
                    new.userID = new.userID ?? s.userID
                    try await storeSession(new)
                    return TradovateTokenOutcome(session: new, action: .renewed)
                case .penalty(let seconds, let ticket):
                    let until = now.addingTimeInterval(seconds)
                    _ = try await mutate { state in
                        state.book.renewNotBefore = until
                        state.book.renewTicket = ticket
                        return true
                    }
                    logger.notice("token renewal penalised; keeping the current token", metadata: ["broker": "tradovate", "seconds": "\(seconds)"])
                    return TradovateTokenOutcome(
                        session: s, action: .kept(reason: "Tradovate imposed a \(Int(seconds)) s penalty on renewal; next attempt after \(iso(until))"))
                case .refused:
                    logger.notice("renewal refused (session closed); signing in again", metadata: ["broker": "tradovate"])
                    await invalidate(token: s.accessToken)
                    continue
                }
            }
            let digest = state.book.failedCredentials == nil ? nil : await credentialsDigest()
            try checkSignInAllowed(state.book, now, credentialsChanged: digest != nil && digest != state.book.failedCredentials)
            if let until = state.book.claimUntil, until > now {
                // Another process is signing in: wait for its token rather than open a second session.
                try await sleeper(.secondsDouble(min(until.timeIntervalSince(now), 1)))
                continue
            }
            if let until = state.book.signInNotBefore, until > now {
                guard penaltyWaits < configuration.limits.penaltyWaits else {
                    throw BrokerError(
                        .penalty, broker: "tradovate", retryAfter: until.timeIntervalSince(now),
                        "Tradovate kept imposing sign-in time penalties; no sign-in before \(iso(until)), then retry")
                }
                penaltyWaits += 1
                logger.notice("sign-in time penalty; waiting", metadata: ["broker": "tradovate", "until": "\(iso(until))"])
                try await sleeper(.secondsDouble(until.timeIntervalSince(now)))
                continue
            }
            var claimed = state
            claimed.book.signIns.append(now)
            claimed.book.claimUntil = now.addingTimeInterval(configuration.timeout + 10)
            let ticket = claimed.book.signInTicket
            guard try await store.replace(expectedVersion: loaded?.version, with: claimed) != nil else { continue }
            let result: SignInResult
            do {
                result = try await signInRequest(ticket: ticket)
            } catch {
                // A user-level 429 means an hour's pause for every process, not just this one.
                let throttled = (error as? BrokerError)?.isRateLimited == true
                // An answer that never came opened no session: it does not count against the hour.
                let unanswered = (error as? BrokerError).map { $0.isTransportError || $0.isServerError } ?? false
                _ = try? await mutate { state in
                    state.book.claimUntil = nil
                    if unanswered { state.book.signIns.removeAll { $0 == now } }
                    if throttled {
                        state.book.lockedUntil = now.addingTimeInterval(3600)
                        state.book.lockReason = "Tradovate rate-limited this user (HTTP 429)"
                    }
                    return true
                }
                throw error
            }
            switch result {
            case .session(let new):
                try await storeSession(new)
                return TradovateTokenOutcome(session: new, action: .signedIn)
            case .refused(let text):
                let next = now.addingTimeInterval(configuration.limits.failedSignInCooldown)
                let used = await credentialsDigest()
                _ = try await mutate { state in
                    state.book.claimUntil = nil
                    state.book.signInTicket = nil
                    state.book.failedSignIns.append(now)
                    state.book.lastFailure = text
                    state.book.failedCredentials = used
                    return true
                }
                throw BrokerError(
                    .authenticationFailed, broker: "tradovate",
                    "Tradovate refused the sign-in: \(text); \(credentialsFix); schedctl will not sign in with these credentials again before \(iso(next))")
            case .penalty(let seconds, let ticket, let captcha):
                let until = now.addingTimeInterval(captcha ? max(seconds, 3600) : seconds)
                if !captcha && !ServerWait.isAcceptable(seconds) {
                    // A penalty longer than the cap fails the call at once instead of parking it.
                    _ = try await mutate { state in
                        state.book.claimUntil = nil
                        state.book.signInNotBefore = until
                        state.book.signInTicket = ticket
                        return true
                    }
                    throw BrokerError(
                        .penalty, broker: "tradovate", retryAfter: seconds,
                        "Tradovate imposed a \(Int(seconds)) s sign-in penalty; no sign-in before \(iso(until)), then retry")
                }
                _ = try await mutate { state in
                    state.book.claimUntil = nil
                    if captcha {
                        state.book.lockedUntil = until
                        state.book.lockReason = "Tradovate demanded a captcha"
                        state.book.signInTicket = nil
                    } else {
                        state.book.signInNotBefore = until
                        state.book.signInTicket = ticket
                    }
                    return true
                }
                if captcha { throw lockedError(until: until, reason: "Tradovate demanded a captcha") }
            case .locked:
                let until = now.addingTimeInterval(3600)
                _ = try await mutate { state in
                    state.book.claimUntil = nil
                    state.book.lockedUntil = until
                    state.book.lockReason = "Tradovate locked sign-in (HTTP 423)"
                    return true
                }
                throw lockedError(until: until, reason: "Tradovate locked sign-in (HTTP 423)")
            }
        }
        throw BrokerError(.notReady, broker: "tradovate", "the shared Tradovate token kept changing under this process; retry")
    }

    /// Why a due renewal must not be attempted now, or nil.
    private func renewalBlock(_ book: TradovateAuthBook, _ now: Date) -> String? {
        if let until = book.renewNotBefore, until > now { return "a renewal penalty runs until \(iso(until))" }
        if let last = book.renewals.max(), now.timeIntervalSince(last) < configuration.limits.renewalInterval {
            return "the last renewal attempt was at \(iso(last)); at most one a minute"
        }
        if book.renewals.count >= configuration.limits.renewalsPerHour {
            return "\(book.renewals.count) renewal attempts in the last hour (limit \(configuration.limits.renewalsPerHour), Tradovate's is 15)"
        }
        return nil
    }

    /// Throws, with what to do, when no sign-in may be attempted now.
    /// `credentialsChanged`: the credentials differ from the ones the last refused sign-in used,
    /// so the cooldown after it does not apply (the hourly limit does).
    private func checkSignInAllowed(_ book: TradovateAuthBook, _ now: Date, credentialsChanged: Bool) throws {
        if let until = book.lockedUntil, until > now { throw lockedError(until: until, reason: book.lockReason ?? "Tradovate locked sign-in") }
        let limits = configuration.limits
        let fix = credentialsFix
        if book.failedSignIns.count >= limits.failedSignInsPerHour, let first = book.failedSignIns.min() {
            throw BrokerError(
                .authenticationFailed, broker: "tradovate", retryAfter: first.addingTimeInterval(3600).timeIntervalSince(now),
                "\(book.failedSignIns.count) Tradovate sign-ins failed in the last hour (last: \(book.lastFailure ?? "refused")); schedctl stops well before"
                    + " Tradovate's limit of 5 (then an hour of captcha lock-out). \(fix); next attempt after \(iso(first.addingTimeInterval(3600)))")
        }
        if !credentialsChanged, let last = book.failedSignIns.max(), now.timeIntervalSince(last) < limits.failedSignInCooldown {
            let next = last.addingTimeInterval(limits.failedSignInCooldown)
            throw BrokerError(
                .authenticationFailed, broker: "tradovate", retryAfter: next.timeIntervalSince(now),
                "the last Tradovate sign-in failed at \(iso(last)) (\(book.lastFailure ?? "refused")); \(fix); with the same credentials, next attempt after \(iso(next))"
            )
        }
        if book.signIns.count >= limits.signInsPerHour, let first = book.signIns.min() {
            throw BrokerError(
                .rateLimited, broker: "tradovate", retryAfter: first.addingTimeInterval(3600).timeIntervalSince(now),
                "schedctl signed in to Tradovate \(book.signIns.count) times in the last hour (limit \(limits.signInsPerHour)); something keeps closing"
                    + " the session (more than two sessions for this user?); next attempt after \(iso(first.addingTimeInterval(3600)))")
        }
    }

    private var credentialsFix: String {
        "fix the credentials with `schedctl secrets set \(configuration.passwordName)` (or \(configuration.usernameName), \(configuration.cidName),"
            + " \(configuration.secretName))"
    }

    private func lockedError(until: Date, reason: String) -> BrokerError {
        let advice =
            reason.contains("429")
            ? "Tradovate asks clients to pause for an hour; look for another program using this user"
            : "Check \(configuration.usernameName) and \(configuration.passwordName) (`schedctl secrets set`), sign in once on the Tradovate website"
                + " to clear the captcha, then retry after that time"
        return BrokerError(
            .penalty, broker: "tradovate", retryAfter: max(until.timeIntervalSince(clock.now()), 0),
            "\(reason) after sign-in attempts; schedctl makes no sign-in attempt before \(iso(until)). \(advice)")
    }

    /// Stores a fresh session (compare-and-swap, re-reading on a lost race).
    private func storeSession(_ s: TradovateSession) async throws {
        credentials.issued(s.accessToken)
        if let market = s.mdAccessToken { credentials.issued(market) }
        _ = try await mutate { state in
            state.accessToken = s.accessToken
            state.mdAccessToken = s.mdAccessToken
            state.expirationTime = s.expirationTime
            state.book.userID = s.userID ?? state.book.userID
            state.book.claimUntil = nil
            state.book.signInTicket = nil
            state.book.signInNotBefore = nil
            return true
        }
    }

    /// Applies `change` to the stored state by compare-and-swap; false when `change` declined.
    private func mutate(_ change: (inout TradovateTokenState) -> Bool) async throws -> Bool {
        for _ in 0..<32 {
            let loaded = try await store.load()
            var state = loaded?.state ?? TradovateTokenState()
            guard change(&state) else { return false }
            if try await store.replace(expectedVersion: loaded?.version, with: state) != nil { return true }
        }
        throw BrokerError(.notReady, broker: "tradovate", "could not store the Tradovate token: the vault kept changing; retry")
    }

    private func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
func parseTimestamp(_ s: String) -> Date? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: s) { return d }
    return ISO8601DateFormatter().date(from: s)
}
