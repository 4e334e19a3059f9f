import Foundation

/// The one error type of the `Brokers` module.
///
/// Messages are written for the person running `schedctl`: they say what went wrong and what to do,
/// and never contain a credential, token or secret.
public struct BrokerError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        case invalidInput
        case invalidConfiguration
        case authenticationFailed
        case reauthorizationRequired
        case rateLimited
        case penalty
        case notFound
        case rejected
        case server
        case transport
        case malformedResponse
        case insufficientFunds
        case unsupported
        case notReady
        case timeout
        case storage
    }

    let code: Code
    /// Broker name (`tradestation`, `tradovate`, `pennyvault`, `paper`, …) when known.
    public let broker: String?
    /// HTTP status when the error came from an HTTP response.
    public let httpStatus: Int?
    /// Seconds the broker asked us to wait (429 backoff or a Tradovate `p-time` penalty).
    public let retryAfter: Double?
    /// A message a user can act on. Never contains credentials.
    public let message: String

    package init(_ code: Code, broker: String? = nil, httpStatus: Int? = nil, retryAfter: Double? = nil, _ message: String) {
        self.code = code
        self.broker = broker
        self.httpStatus = httpStatus
        self.retryAfter = retryAfter
        self.message = message
    }

    public var description: String {
        if let broker { return "\(broker): \(message)" }
        return message
    }

    /// The request was invalid before anything was sent (bad symbol, quantity, key …).
    public var isInvalidInput: Bool { code == .invalidInput }
    /// The configuration (environment, URL) is invalid.
    public var isInvalidConfiguration: Bool { code == .invalidConfiguration }
    /// The user must sign in again (e.g. `schedctl auth tradestation`).
    public var requiresReauthorization: Bool { code == .reauthorizationRequired }
    /// Credentials were refused.
    public var isAuthenticationFailure: Bool { code == .authenticationFailed || code == .reauthorizationRequired }
    /// The broker throttled us (HTTP 429) and retries were exhausted.
    public var isRateLimited: Bool { code == .rateLimited }
    /// Tradovate returned a time penalty (`p-ticket`) that could not be resolved automatically.
    public var isPenalty: Bool { code == .penalty }
    /// The thing asked for does not exist.
    public var isNotFound: Bool { code == .notFound }
    /// The broker rejected an order or business request.
    public var isRejected: Bool { code == .rejected }
    /// Cash or buying power was insufficient.
    public var isInsufficientFunds: Bool { code == .insufficientFunds }
    /// A 5xx or similar server-side failure.
    public var isServerError: Bool { code == .server }
    /// The connection failed.
    public var isTransportError: Bool { code == .transport }
    /// The response body could not be decoded.
    public var isMalformedResponse: Bool { code == .malformedResponse }
    /// The data is not ready yet (e.g. Penny Vault is recalculating, HTTP 202).
    public var isNotReady: Bool { code == .notReady }
    /// The operation is not supported by this broker.
    public var isUnsupported: Bool { code == .unsupported }
    /// The operation timed out.
    public var isTimeout: Bool { code == .timeout }
    /// Persistence failed.
    public var isStorageError: Bool { code == .storage }
    /// Whether retrying later may succeed.
    public var isRetryable: Bool { [.rateLimited, .server, .transport, .notReady, .timeout].contains(code) }

    static func invalid(_ message: String) -> BrokerError { BrokerError(.invalidInput, message) }
}
