public import Brokers
import Foundation
import Logging
public import Scheduler
import Synchronization

/// What a rebalance needs from the composition root: the configured brokers and strategies
/// (kept current across reloads) and how to build clients for them.
public struct RebalanceResources: Sendable {
    /// The configuration's brokers and strategies, and the XNYS calendar (with overrides).
    public var components: @Sendable () -> (brokers: [String: ComponentSpec], strategies: [String: ComponentSpec], calendar: any TradingCalendar)
    /// A client for broker `spec`.
    public var brokerage: @Sendable (ComponentSpec) async throws -> any Brokerage
    /// A source of target weights for strategy `spec`.
    public var strategy: @Sendable (ComponentSpec) async throws -> any StrategySource

    /// Resources from closures (tests build clients against the simulators this way).
    public init(
        components: @escaping @Sendable () -> (brokers: [String: ComponentSpec], strategies: [String: ComponentSpec], calendar: any TradingCalendar),
        brokerage: @escaping @Sendable (ComponentSpec) async throws -> any Brokerage,
        strategy: @escaping @Sendable (ComponentSpec) async throws -> any StrategySource
    ) {
        self.components = components
        self.brokerage = brokerage
        self.strategy = strategy
    }

    /// The standard resources: clients from `factory`, components from `plan` (update it on reload).
    public static func standard(plan: PlanHolder, factory: BrokerFactory) -> RebalanceResources {
        RebalanceResources(
            components: {
                let p = plan.current
                return (p.brokers, p.strategies, p.calendars[.xnys] ?? Market.xnys.calendar())
            },
            brokerage: { try await factory.brokerage($0) },
            strategy: { try StrategyFactory(factory: factory).source($0) })
    }
}

/// Builds strategy sources from `strategies:` components.
public struct StrategyFactory: Sendable {
    /// Credentials come from this factory's vault.
    public var factory: BrokerFactory

    /// A factory.
    public init(factory: BrokerFactory) { self.factory = factory }

    /// The source for `spec` (`pennyvault`, `weights`, `file`).
    public func source(_ spec: ComponentSpec) throws -> any StrategySource {
        switch spec.type {
        case "pennyvault":
            return PennyVaultClient(
                portfolio: spec.options["portfolio"]?.stringValue ?? "",
                baseURL: spec.options["base_url"]?.stringValue.flatMap(URL.init(string:)) ?? PennyVaultClient.defaultBaseURL,
                credentials: factory.credentials, tokenName: factory.secretName(spec, "token"), name: spec.name)
        case "weights":
            var map: [String: Decimal] = [:]
            for (k, v) in spec.options["weights"]?.mapValue ?? [:] { if let n = v.numberValue { map[k] = n } }
            do { return try InlineWeightsSource(map) } catch { throw JobFailure("strategy '\(spec.name)': \(error.message)", retryable: false) }
        case "file":
            return FileWeightsSource(url: URL(fileURLWithPath: spec.options["path"]?.stringValue ?? ""))
        default:
            throw JobFailure("strategy type '\(spec.type)' is not supported by this build", retryable: false)
        }
    }
}

/// `type: rebalance`: moves a stock account to a strategy's target weights with iterative limit
/// orders (sells first, then buys sized from the buying power left), idempotent across crashes
/// and takeovers. See docs/rebalancing.md.
public struct RebalanceJob: JobKind {
    public let name = "rebalance"
    public let options: [OptionSpec] = RebalanceOptions.specs
    /// Nil in the catalog-only registry (`validate`); the composition root wires the real one.
    public var resources: RebalanceResources?
    /// Polling and replan waits.
    public var clock: RebalanceClock

    /// A rebalance kind.
    public init(resources: RebalanceResources? = nil, clock: RebalanceClock = .system) {
        self.resources = resources
        self.clock = clock
    }

    public func run(_ context: RunContext) async throws -> RunOutcome {
        let options = try context.job.options(as: RebalanceOptions.self)
        let journal = try await IntentJournal.open(context, initial: RebalanceState())
        let (brokerSpec, broker, strategy, calendar) = try await connect(options)
        let execution = RebalanceExecution(
            options: options, broker: broker, account: try options.account(for: brokerSpec), strategy: strategy, calendar: calendar, clock: clock,
            journal: journal, context: context)
        do {
            return try await execution.run()
        } catch let error as BrokerError {
            // Retryable broker trouble (throttling, 5xx, transport) retries the run, which resumes
            // from its journal; the rest is final.
            throw JobFailure(context.secrets.redact(error.description), retryable: error.isRetryable)
        }
    }

    /// The plan right now, for `schedctl rebalance plan` (reads only; places nothing).
    public func preview(job: JobSpec) async throws -> RebalancePlan {
        let options = try job.options(as: RebalanceOptions.self)
        let (brokerSpec, broker, strategy, calendar) = try await connect(options)
        let weights = try await strategy.targetWeights()
        let execution = RebalanceExecution(
            options: options, broker: broker, account: try options.account(for: brokerSpec), strategy: strategy, calendar: calendar, clock: clock,
            journal: try await IntentJournal.open(PreviewContext.context(job), initial: RebalanceState()), context: PreviewContext.context(job))
        let (gathered, foreign) = try await execution.gather(targets: weights.weights, strict: true)
        var inputs = gathered
        if let refusal = RebalancePlanner.refusal(inputs, options: options) { throw JobFailure(refusal, retryable: false) }
        if options.existingOrders == .include { inputs.workingOrders = foreign }
        var plan = try RebalancePlanner.plan(inputs, options: options)
        if !foreign.isEmpty {
            plan.workingOrders = foreign.map(execution.describe)
            plan.warnings.append(
                "working orders this job did not place: \(foreign.map(execution.describe).joined(separator: "; ")) "
                    + "(existing_orders: \(options.existingOrders.rawValue))")
        }
        if let cap = options.maxNotional, plan.grossValue > cap {
            plan.warnings.append("gross \(plan.grossValue.plainString) is over max_notional \(cap.plainString): a run would fail before placing anything")
        }
        if !options.allowOutsideSession, !execution.inSession(clock.now()) {
            plan.warnings.append("\(calendar.code) is not in session now: a run now would place nothing")
        }
        return plan
    }

    /// The checkpoint `schedctl run JOB --dry-run` seeds its run with: whichever process runs
    /// it, the run only plans and validates.
    public static func dryRunCheckpoint() -> String {
        struct Document: Encodable {
            var version = 1
            var state: RebalanceState
            var journal: [String] = []
        }
        var state = RebalanceState()
        state.dryRun = true
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(Document(state: state))) ?? Data(), as: UTF8.self)
    }

    private func connect(
        _ options: RebalanceOptions
    ) async throws -> (ComponentSpec, any Brokerage, any StrategySource, any TradingCalendar) {
        guard let resources else { throw JobFailure("the rebalance kind is not wired to brokers in this process", retryable: false) }
        let (brokers, strategies, calendar) = resources.components()
        guard let brokerSpec = brokers[options.broker] else {
            throw JobFailure("broker '\(options.broker)' is not configured", retryable: false)
        }
        if !BrokerTypes.type(brokerSpec.type, has: .stockOrders) {
            throw JobFailure(RebalanceOptions.noStockOrders(brokerSpec), retryable: false)
        }
        guard let strategySpec = strategies[options.strategy] else {
            throw JobFailure("strategy '\(options.strategy)' is not configured", retryable: false)
        }
        return (brokerSpec, try await resources.brokerage(brokerSpec), try await resources.strategy(strategySpec), calendar)
    }
}

/// A context for read-only previews: no store, checkpoints kept in memory.
enum PreviewContext {
    static func context(_ job: JobSpec) -> RunContext {
        RunContext(
            job: job, runID: 0, nominal: Instant(Date()), attempt: 1, generation: 0, logger: .init(label: "schedctl.rebalance.plan"),
            checkpoints: MemoryCheckpoints())
    }

    final class MemoryCheckpoints: CheckpointAccess {
        private let value = Mutex<String?>(nil)
        func load() async throws -> String? { value.withLock { $0 } }
        func save(_ text: String) async throws { value.withLock { $0 = text } }
    }
}

extension RebalanceJob: TypedJobKind {
    /// Its jobs' options, parsed once at load.
    public typealias Options = RebalanceOptions

    /// The kind's descriptor (one line in ``JobsRegistry/standard``).
    public static let descriptor = JobKindDescriptor(
        capabilities: [.dryRun, .placesOrders], dryRunCheckpoint: dryRunCheckpoint(),
        docs: [
            OptionDoc("broker", "a `paper` or `tradestation` broker (`tradovate` is an error: futures accounts are not rebalanced)"),
            OptionDoc("strategy", "a `pennyvault`, `weights` or `file` strategy"),
            OptionDoc("account", default: "the broker's", "the account; optional when the broker names one (a paper broker's account is its name)"),
            OptionDoc(
                "dry_run", default: "false",
                "plan with live data, validate each order with the broker's confirm endpoint, place nothing; the plan is the run's summary"),
            OptionDoc("cash_buffer", default: "0%", "cash kept out of the targets: a percentage of equity (`1%`) or an amount (`500`)"),
            OptionDoc("min_trade", default: "0", "skip a trade worth less than this"),
            OptionDoc("drift", default: "0.5%", "skip a symbol whose weight is within this of its target; also the success tolerance"),
            OptionDoc("poll_every", default: "30s", "how often working orders are read (≥ `1s`, ≤ `replan_after`)"),
            OptionDoc("replan_after", default: "5m", "an order still unfilled this long after its last price is replaced at the next price step"),
            OptionDoc("pricing.start", default: "mid", "first limit: `mid`, `passive` (bid for a buy, ask for a sell) or `touch`"),
            OptionDoc("pricing.step", default: "25%", "each replan moves this share of the (fresh) spread toward and past the touch, at least one tick"),
            OptionDoc("pricing.limit", default: "0.5%", "never beyond the arrival touch by more than this"),
            OptionDoc(
                "deadline", default: "2h",
                "a duration from the run's start, or `{ market: XNYS, at: open\\|close, offset: D }`; what is still working then is cancelled"),
            OptionDoc("max_notional", "the gross value one run may trade; required when the broker's `environment` is `live`"),
            OptionDoc("allow_outside_session", default: "false", "trade outside the XNYS session (otherwise a run outside it places nothing and fails)"),
            OptionDoc("fractional", default: "false", "fractional shares (4 decimals) instead of whole shares; TradeStation takes whole shares only"),
            OptionDoc("use_margin", default: "false", "buys may borrow: the budget is the broker's buying power instead of cash"),
            OptionDoc("allow_liquidation", default: "false", "an empty or all-zero target set may sell every holding"),
            OptionDoc("existing_orders", default: "refuse", "working orders on the plan's symbols the run did not place: `refuse`, `cancel` or `include`"),
        ]
    ) { environment in
        guard let plan = environment.plan, let factory = environment.factory else { return RebalanceJob() }
        return RebalanceJob(resources: .standard(plan: plan, factory: factory))
    }
}
