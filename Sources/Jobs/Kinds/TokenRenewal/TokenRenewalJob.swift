import Brokers
import Foundation
import SchedctlBase
public import Scheduler

/// `type: token-renewal`: keeps a broker's stored token alive unattended. When the token expires
/// within `ahead` (default 10m) it is renewed (TradeStation: refresh-token grant, a rotated
/// refresh token stored by compare-and-swap; Tradovate: `renewaccesstoken`, signing in only when
/// no valid token is stored, within the shared attempt limits). A token that cannot be renewed
/// and will expire is recorded as a `token-expiring` run event.
///
/// ```yaml
/// ts-token: { type: token-renewal, broker: ts, ahead: 10m, schedule: { every: 5m } }
/// ```
public struct TokenRenewalJob: JobKind {
    public let name = "token-renewal"
    public let options: [OptionSpec] = [OptionSpec("broker", .brokerReference, required: true), OptionSpec("ahead", .duration)]
    /// The running plan (its brokers; replaced on reload); nil when unbound.
    let plan: PlanHolder?
    /// Builds the broker sign-ins (vault, clock); nil when this process runs no broker jobs.
    let factory: BrokerFactory?

    /// The kind, bound to a plan's brokers and the vault (unbound: only its options are known).
    public init(plan: PlanHolder? = nil, factory: BrokerFactory? = nil) {
        self.plan = plan
        self.factory = factory
    }

    /// The default `ahead`.
    public static let defaultAhead: Duration = .seconds(600)

    public func run(_ context: RunContext) async throws -> RunOutcome {
        let options = try context.job.options(as: Options.self)
        let name = options.broker
        guard let factory, let spec = plan?.current.brokers[name] else {
            throw JobFailure("broker '\(name)' is not available to this process; define it under 'brokers:'", retryable: false)
        }
        let seconds = TimeInterval(options.ahead.components.seconds)
        if BrokerTypes.type(spec.type, has: .browserSignIn) { return try await renewTradeStation(spec, factory: factory, ahead: seconds, context) }
        if BrokerTypes.type(spec.type, has: .passwordSignIn) { return try await renewTradovate(spec, factory: factory, ahead: seconds, context) }
        throw JobFailure(
            "broker '\(name)' is a \(spec.type) broker, which has no token to renew; token-renewal works with "
                + "\(BrokerTypes.named(with: .renewableToken).joined(separator: " and ")) brokers (jobs.yaml:\(context.job.line))", retryable: false)
    }

    private func renewTradeStation(_ spec: ComponentSpec, factory: BrokerFactory, ahead: TimeInterval, _ context: RunContext) async throws -> RunOutcome {
        let store = factory.tokenStore(for: spec)
        guard let before = try await store.load() else {
            throw JobFailure(
                "no TradeStation sign-in is stored for broker '\(spec.name)'; run `schedctl auth tradestation --broker \(spec.name)`", retryable: false)
        }
        var configuration = try factory.tradeStationConfiguration(spec)
        configuration.refreshMargin = ahead
        let auth = TradeStationAuth(configuration: configuration, credentials: factory.credentials, store: store, clock: factory.clock)
        do {
            _ = try await auth.accessToken()
        } catch let error as BrokerError {
            let fix =
                error.requiresReauthorization
                ? "TradeStation refused the stored sign-in (invalid_grant: expired or revoked); run `schedctl auth tradestation --broker \(spec.name)`"
                : error.message
            try await expiring(spec, before.accessTokenExpiresAt, because: fix, factory, context)
            throw JobFailure(fix, retryable: error.isRetryable)
        }
        let after = try await store.load()
        let expires = after?.accessTokenExpiresAt.map(iso) ?? "unknown"
        guard let after, after.accessToken != before.accessToken else {
            return RunOutcome(summary: "\(spec.name): token valid until \(expires); nothing to renew")
        }
        let rotated = after.refreshToken != before.refreshToken ? "; the rotated refresh token is stored" : ""
        return RunOutcome(summary: "\(spec.name): token renewed, valid until \(expires)\(rotated)")
    }

    private func renewTradovate(_ spec: ComponentSpec, factory: BrokerFactory, ahead: TimeInterval, _ context: RunContext) async throws -> RunOutcome {
        let auth = try factory.tradovateAuth(spec)
        let before = try await auth.storedState()
        let outcome: TradovateTokenOutcome
        do {
            outcome = try await auth.renew(ahead: ahead)
        } catch let error as BrokerError {
            try await expiring(spec, before?.expirationTime, because: error.message, factory, context)
            throw JobFailure(error.message, retryable: error.isRetryable)
        }
        let expires = iso(outcome.session.expirationTime)
        switch outcome.action {
        case .reused: return RunOutcome(summary: "\(spec.name): token valid until \(expires); nothing to renew")
        case .renewed: return RunOutcome(summary: "\(spec.name): token renewed (same session), valid until \(expires)")
        case .signedIn: return RunOutcome(summary: "\(spec.name): signed in; token valid until \(expires)")
        case .kept(let reason):
            try await expiring(spec, outcome.session.expirationTime, because: reason, factory, context)
            throw JobFailure("\(spec.name): could not renew the token (\(reason)); it expires at \(expires)")
        }
    }

    /// Records `token-expiring` when a still-valid token could not be renewed.
    private func expiring(_ spec: ComponentSpec, _ expires: Date?, because reason: String, _ factory: BrokerFactory, _ context: RunContext) async throws {
        guard let expires, expires > factory.clock.now() else { return }
        let message = "the \(spec.type) token of broker '\(spec.name)' expires at \(iso(expires)) and could not be renewed: \(reason)"
        try await context.events.record("token-expiring", context.secrets.redact(message))
    }

    private func iso(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}

extension TokenRenewalJob: TypedJobKind {
    /// Its jobs' options, parsed once at load.
    public typealias Options = TokenRenewalOptions

    /// The kind's descriptor (one line in ``JobsRegistry/standard``).
    public static let descriptor = JobKindDescriptor(
        check: check,
        docs: [
            OptionDoc("broker", "a `tradestation` or `tradovate` broker (any other type is a configuration error)"),
            OptionDoc("ahead", default: "10m", "renew when the token expires within this long"),
        ]
    ) { environment in
        TokenRenewalJob(plan: environment.plan, factory: environment.factory)
    }

    /// `validate`'s check of a token-renewal job: its broker has a token to renew
    /// (``Capability/renewableToken``).
    public static let check: JobOptionCheck = { options, brokers, _ in
        guard let name = options["broker"]?.stringValue, let broker = brokers[name], !BrokerTypes.type(broker.type, has: .renewableToken) else {
            return []
        }
        let types = BrokerTypes.named(with: .renewableToken).joined(separator: " or ")
        return [
            .init(
                key: "broker",
                message: "broker '\(name)' is a \(broker.type) broker, which has no token to renew; use a \(types) broker")
        ]
    }
}
