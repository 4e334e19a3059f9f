import Brokers
public import Foundation
import Hummingbird
import Synchronization

/// A loopback Penny Vault v3 server (`/v3/portfolios/{slug}/prediction`) with fault switches.
public final class PennyVaultSimulator: Sendable {
    /// What a portfolio's prediction endpoint answers.
    public enum Mode: Sendable { case ready, recalculating, missing }
    /// One-shot faults for the next requests.
    public enum Fault: Sendable { case status(Int), throttle, malformed, dropConnection }

    struct State: Sendable {
        var tokens: Set<String> = ["pv-test-token"]
        var portfolios: [String: (mode: Mode, date: String, holdings: [(String, Decimal)])] = [:]
        var faults: [Fault] = []
        var latency: Duration = .zero
        var requests = 0
    }

    let state = Mutex(State())
    private let server = LoopbackServer()
    private let boundPort = Mutex<Int?>(nil)

    /// Starts with token `pv-test-token` and portfolio `adm` (VTI 0.6, BND 0.4).
    public init() {
        state.withLock { $0.portfolios["adm"] = (.ready, "2026-01-02", [("VTI", Decimal(string: "0.6")!), ("BND", Decimal(string: "0.4")!)]) }
    }

    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let p = try await server.start { onRunning in
            let router = Router()
            router.get("v3/portfolios/:slug/prediction") { request, context in
                await self.handle(request, slug: context.parameters.get("slug") ?? "")
            }
            return Application(router: router, configuration: appConfiguration(port: port), onServerRunning: onRunning, logger: simulatorLogger())
        }
        boundPort.withLock { $0 = p }
        return p
    }

    public func stop() async { await server.stop() }

    /// `http://127.0.0.1:PORT/v3`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(boundPort.withLock { $0 } ?? 0)/v3")! }
    /// Sets a portfolio's prediction (weights by Penny Vault ticker) and mode.
    public func setPortfolio(_ slug: String, mode: Mode = .ready, date: String = "2026-01-02", weights: [(String, Decimal)]) {
        state.withLock { $0.portfolios[slug] = (mode, date, weights) }
    }
    /// Changes a portfolio's mode.
    public func setMode(_ slug: String, _ mode: Mode) { state.withLock { $0.portfolios[slug]?.mode = mode } }
    /// Accepted bearer tokens.
    public func setTokens(_ tokens: Set<String>) { state.withLock { $0.tokens = tokens } }
    public func enqueueFaults(_ faults: Fault...) { state.withLock { $0.faults += faults } }
    public func setLatency(_ d: Duration) { state.withLock { $0.latency = d } }
    public var requestCount: Int { state.withLock { $0.requests } }

    private func handle(_ request: Request, slug: String) async -> Response {
        let latency = state.withLock { $0.latency }
        if latency > .zero { try? await Task.sleep(for: latency) }
        return state.withLock { s -> Response in
            s.requests += 1
            guard let t = request.bearerToken(), s.tokens.contains(t) else {
                return jsonResponse(.unauthorized, ["error": "unauthorized", "message": "invalid or missing token"])
            }
            if !s.faults.isEmpty {
                switch s.faults.removeFirst() {
                case .status(let c): return jsonResponse(.init(code: c), ["error": "simulated failure"])
                case .throttle: return Response(status: .tooManyRequests)
                case .malformed: return rawResponse(.ok, "{\"holdings\": [oops")
                case .dropConnection: return droppedConnectionResponse()
                }
            }
            guard let p = s.portfolios[slug] else { return jsonResponse(.notFound, ["error": "portfolio not found"]) }
            switch p.mode {
            case .missing: return jsonResponse(.notFound, ["error": "no prediction for this snapshot"])
            case .recalculating: return jsonResponse(.accepted, ["status": "Recalculating"])
            case .ready:
                let total: Decimal = 100_000
                let holdings: [[String: Any]] = p.holdings.map { t, w in
                    ["ticker": t, "quantity": 0, "marketValue": NSDecimalNumber(decimal: total * w), "weight": NSDecimalNumber(decimal: w)]
                }
                return jsonResponse(.ok, ["date": p.date, "holdings": holdings, "totalMarketValue": 100_000, "transactions": [], "annotations": []])
            }
        }
    }
}
