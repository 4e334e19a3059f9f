import Foundation
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Brokers
@testable import Sandbox

/// Credentials that remember every token the broker clients report as freshly issued.
final class RecordingCredentials: CredentialProvider {
    let inner: InMemoryCredentials
    let tokens = Mutex<[String]>([])

    init(_ inner: InMemoryCredentials) { self.inner = inner }

    func value(for name: String) async throws -> String { try await inner.value(for: name) }
    func issued(_ token: String) { tokens.withLock { $0.append(token) } }
}

@Suite("freshly issued tokens are reported for redaction")
struct IssuedTokenTests {
    @Test func tradovateSessionTokensAreReported() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        let credentials = RecordingCredentials(tvSecrets)
        let auth = TradovateAuth(configuration: tvConfig(sim), credentials: credentials, sleeper: .immediate)
        let session = try await auth.currentSession()
        let reported = credentials.tokens.withLock { $0 }
        #expect(reported.contains(session.accessToken))
        if let market = session.mdAccessToken { #expect(reported.contains(market)) }
        await sim.stop()
    }

    @Test func tradeStationAccessAndRotatedRefreshTokensAreReported() async throws {
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        let tokens = InMemoryTokenStore(OAuthTokenState(refreshToken: "sim-refresh-token"))
        let credentials = RecordingCredentials(
            InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "sim-secret"]))
        let config = TradeStationConfiguration(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL, timeout: 10)
        let auth = TradeStationAuth(configuration: config, credentials: credentials, store: tokens)
        let access = try await auth.accessToken()
        let stored = try #require(try await tokens.load())
        let reported = credentials.tokens.withLock { $0 }
        #expect(reported.contains(access))
        #expect(reported.contains(stored.refreshToken) || stored.refreshToken == "sim-refresh-token")
        await sim.stop()
    }
}
