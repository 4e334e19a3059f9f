public import Foundation
public import SchedctlBase
import Synchronization

/// One holding in a Penny Vault prediction.
public struct PennyVaultHolding: Sendable, Hashable {
    /// Ticker as Penny Vault writes it (`BRK/B`).
    public var ticker: String
    public var figi: String?
    public var quantity: Decimal
    public var marketValue: Decimal
    public var weight: Decimal
}

/// `GET /portfolios/{slug}/prediction`.
public struct PennyVaultPrediction: Sendable, Hashable {
    /// The next scheduled trade date.
    public var date: Date?
    public var holdings: [PennyVaultHolding]
    public var totalMarketValue: Decimal?
    /// Number of predicted transactions (0 = would not trade).
    public var transactionCount: Int
}

/// Penny Vault v3 client: target weights from a portfolio's prediction.
///
/// ```swift
/// let pv = PennyVaultClient(portfolio: "my-portfolio", credentials: vault)
/// let targets = try await pv.targetWeights()
/// ```
public struct PennyVaultClient: StrategySource {
    public static let defaultBaseURL = URL(string: "https://api.pennyvault.com/v3")!
    public let portfolio: String
    public let baseURL: URL
    let credentials: any CredentialProvider
    let tokenName: String
    let transport: HTTPTransport
    let sleeper: Sleeper
    let maxRetries: Int

    public init(
        portfolio: String, baseURL: URL = PennyVaultClient.defaultBaseURL, credentials: any CredentialProvider,
        tokenName: String = "pennyvault/token", sleeper: Sleeper = .continuous, maxRetries: Int = 3, timeout: TimeInterval = 30,
        name: String? = nil
    ) {
        self.portfolio = portfolio
        self.baseURL = baseURL
        self.credentials = credentials
        self.tokenName = tokenName
        self.transport = HTTPTransport(broker: "pennyvault", name: name, timeout: timeout)
        self.sleeper = sleeper
        self.maxRetries = maxRetries
    }

    /// Fetches the prediction.
    public func prediction() async throws -> PennyVaultPrediction {
        guard !portfolio.isEmpty, portfolio.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw BrokerError.invalid("Penny Vault portfolio '\(portfolio.prefix(40))' must be a slug of letters, digits, - and _")
        }
        let token = try await credentials.value(for: tokenName)
        let url = baseURL.appendingPathComponent("portfolios").appendingPathComponent(portfolio).appendingPathComponent("prediction")
        var attempt = 0
        while true {
            let r = try await transport.send("GET", url, headers: ["Authorization": "Bearer \(token)", "Accept": "application/json"])
            switch r.status {
            case 200: return try parse(r.body)
            case 202:
                throw BrokerError(
                    .notReady, broker: "pennyvault", httpStatus: 202,
                    "Penny Vault is recalculating portfolio '\(portfolio)'; try again in a few minutes")
            case 401, 403:
                throw BrokerError(
                    .authenticationFailed, broker: "pennyvault", httpStatus: r.status,
                    "Penny Vault refused the API token for portfolio '\(portfolio)'; update it with `schedctl secrets set \(tokenName)`")
            case 404:
                throw BrokerError(
                    .notFound, broker: "pennyvault", httpStatus: 404,
                    "Penny Vault has no prediction for portfolio '\(portfolio)'; check the slug, or run the portfolio in Penny Vault first")
            case let code
            where (code == 429 || code >= 500) && attempt < maxRetries
                && ServerWait.isAcceptable(ServerWait.retryAfter(r.header("Retry-After")) ?? 0):
                try await sleeper(.secondsDouble(ServerWait.retryAfter(r.header("Retry-After")) ?? backoff(attempt: attempt)))
                attempt += 1
            case 429:
                throw BrokerError(.rateLimited, broker: "pennyvault", httpStatus: 429, "Penny Vault is throttling requests; try again later")
            default:
                throw BrokerError(
                    r.status >= 500 ? .server : .rejected, broker: "pennyvault", httpStatus: r.status,
                    "Penny Vault answered HTTP \(r.status) for portfolio '\(portfolio)'; try again later")
            }
        }
    }

    public func targetWeights() async throws -> TargetWeights {
        let p = try await prediction()
        var map: [Symbol: Decimal] = [:]
        for h in p.holdings where h.ticker != "$CASH" && h.weight > 0 {
            let symbol: Symbol
            do { symbol = try Symbol(Self.brokerTicker(h.ticker)) } catch {
                throw BrokerError(.malformedResponse, broker: "pennyvault", "Penny Vault returned an unusable ticker '\(h.ticker.prefix(40))'")
            }
            map[symbol, default: 0] += h.weight
        }
        do { return try TargetWeights(map, nextTradeDate: p.date) } catch {
            throw BrokerError(.malformedResponse, broker: "pennyvault", "Penny Vault's weights for '\(portfolio)' are invalid: \(error.message)")
        }
    }

    /// Penny Vault writes share classes with `/` (`BRK/B`); brokers use `.`.
    public static func brokerTicker(_ pv: String) -> String { pv.replacingOccurrences(of: "/", with: ".") }

    func parse(_ data: Data) throws -> PennyVaultPrediction {
        func bad(_ m: String) -> BrokerError { BrokerError(.malformedResponse, broker: "pennyvault", "Penny Vault returned an unreadable prediction: \(m)") }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw bad("not a JSON object") }
        guard let holdings = obj["holdings"] as? [[String: Any]] else { throw bad("missing holdings") }
        var out: [PennyVaultHolding] = []
        for h in holdings {
            guard let ticker = h["ticker"] as? String, let weight = jsonDecimal(h["weight"]) else { throw bad("holding without ticker or weight") }
            out.append(
                PennyVaultHolding(
                    ticker: ticker, figi: h["figi"] as? String, quantity: jsonDecimal(h["quantity"]) ?? 0,
                    marketValue: jsonDecimal(h["marketValue"]) ?? 0, weight: weight))
        }
        return PennyVaultPrediction(
            date: (obj["date"] as? String).flatMap(parseDay), holdings: out,
            totalMarketValue: jsonDecimal(obj["totalMarketValue"]),
            transactionCount: (obj["transactions"] as? [Any])?.count ?? 0)
    }
}

func jsonDecimal(_ v: Any?) -> Decimal? {
    switch v {
    case let s as String: return Decimal(exactly: s)
    case let n as NSNumber: return Decimal(string: n.stringValue, locale: Locale(identifier: "en_US_POSIX"))
    default: return nil
    }
}
