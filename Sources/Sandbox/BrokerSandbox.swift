public import Foundation

/// All loopback simulators together, for `schedctl sandbox` and end-to-end tests.
///
/// ```swift
/// let sandbox = BrokerSandbox()
/// let endpoints = try await sandbox.start()
/// print(endpoints.tradeStationBaseURL)   // http://127.0.0.1:PORT/v3
/// await sandbox.stop()
/// ```
public final class BrokerSandbox: Sendable {
    /// Where each simulator listens.
    public struct Endpoints: Sendable, Hashable {
        public var tradeStationBaseURL: URL
        public var tradeStationAuthURL: URL
        public var tradovateRESTURL: URL
        public var tradovateWebSocketURL: URL
        public var pennyVaultBaseURL: URL
        /// The Tradovate market-data socket (`md_url`).
        public var tradovateMarketDataURL: URL
        /// The Twilio simulator (a `twilio` notifier's `base_url`).
        public var twilioBaseURL: URL
    }

    public let tradeStation = TradeStationSimulator()
    public let tradovate = TradovateSimulator()
    public let pennyVault = PennyVaultSimulator()
    public let twilio = TwilioSimulator()

    public init() {}

    /// Starts the simulators on 127.0.0.1 (port 0 = any free port).
    public func start(tradeStationPort: Int = 0, tradovatePort: Int = 0, pennyVaultPort: Int = 0, twilioPort: Int = 0) async throws -> Endpoints {
        do {
            try await tradeStation.start(port: tradeStationPort)
            try await tradovate.start(port: tradovatePort)
            try await pennyVault.start(port: pennyVaultPort)
            try await twilio.start(port: twilioPort)
        } catch {
            await stop()
            throw error
        }
        return Endpoints(
            tradeStationBaseURL: tradeStation.baseURL, tradeStationAuthURL: tradeStation.authURL,
            tradovateRESTURL: tradovate.restURL, tradovateWebSocketURL: tradovate.webSocketURL,
            pennyVaultBaseURL: pennyVault.baseURL, tradovateMarketDataURL: tradovate.marketDataURL, twilioBaseURL: twilio.baseURL)
    }

    /// Stops every simulator.
    public func stop() async {
        await tradeStation.stop()
        await tradovate.stop()
        await pennyVault.stop()
        await twilio.stop()
    }
}
