import Foundation
import Testing

@testable import Brokers
@testable import Sandbox

@Suite struct SandboxTests {
    @Test func allSimulatorsServeTheirClients() async throws {
        let sandbox = BrokerSandbox()
        let e = try await sandbox.start()
        #expect(e.tradeStationBaseURL.host == "127.0.0.1" && e.tradeStationBaseURL.port != 0)
        #expect(e.tradovateWebSocketURL.scheme == "ws")
        let ts = TradeStationClient(
            configuration: .init(environment: .sim, baseURL: e.tradeStationBaseURL, authURL: e.tradeStationAuthURL),
            credentials: InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "sim-secret"]),
            tokens: InMemoryTokenStore(OAuthTokenState(refreshToken: "sim-refresh-token")))
        #expect(try await ts.accounts().count == 2)
        let tv = TradovateClient(auth: TradovateAuth(configuration: tvConfig(sandbox.tradovate), credentials: tvSecrets))
        #expect(try await tv.accounts().map(\.id) == ["DEMO123456"])
        let pv = PennyVaultClient(portfolio: "adm", baseURL: e.pennyVaultBaseURL, credentials: InMemoryCredentials(["pennyvault/token": "pv-test-token"]))
        #expect(try await pv.targetWeights().weights.count == 2)
        await sandbox.stop()
        await #expect(throws: BrokerError.self) { _ = try await pv.targetWeights() }
    }

    @Test func busyPortIsAnErrorAndNothingLeaks() async throws {
        let first = PennyVaultSimulator()
        let port = try await first.start(port: 0)
        let sandbox = BrokerSandbox()
        await #expect(throws: (any Error).self) { _ = try await sandbox.start(pennyVaultPort: port) }
        await first.stop()
    }
}
