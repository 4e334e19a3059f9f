public import Brokers
public import Foundation
public import Scheduler

/// A Tradovate client for a session and the account it trades (`account` of the broker, or the
/// first account the user sees).
public struct FuturesBrokerConnection: Sendable {
    public var client: TradovateClient
    public var account: String?
    /// A connection.
    public init(client: TradovateClient, account: String?) {
        self.client = client
        self.account = account
    }
}

/// What a futures session needs from outside: brokers by name, calendars, the session table,
/// time (a wall clock for the stop and the order rate, a clock for polling) and socket settings.
public struct FuturesSessionResources: Sendable {
    /// The Tradovate client of broker `name`.
    public var connect: @Sendable (_ name: String) async throws -> FuturesBrokerConnection
    /// Exchange calendars (with `jobs.yaml` overrides).
    public var calendars: [Market: any TradingCalendar]
    /// The `futures_session` table (status and stop requests).
    public var control: SessionControl
    /// Wall time.
    public var wall: @Sendable () -> Date
    /// The clock the session polls on (stop time, stop requests, status).
    public var clock: any Clock<Duration>
    /// How often it polls.
    public var pollInterval: Duration
    /// How many polls the stop waits for positions to go flat, and how many liquidation rounds
    /// (one a poll) a flatten may use before it fails with `flatten-failed`.
    public var flattenTicks: Int
    /// How many messages may wait for a strategy that does not read its stdin (quotes count once
    /// per symbol) before it is ended and the session goes on risk-only.
    public var strategyQueueLimit: Int = 1000
    /// How many intents a strategy may have waiting unhandled before it is ended as a flood.
    public var strategyIntentBacklog: Int = 1000
    /// Trading and market-data socket settings (heartbeat, watchdog, reconnect backoff).
    public var socket: TradovateWebSocketConfiguration
    /// How many times a crashed strategy is restarted before the session goes on risk-only.
    public var maxStrategyRestarts: Int
    /// The running plan, followed by a session while it runs: a reload that moves its stop (the
    /// job's `stop:` or a calendar override of that day) moves the running session's stop. Nil:
    /// the stop computed at the start holds.
    public var plan: PlanSource?

    /// Resources.
    public init(
        connect: @escaping @Sendable (_ name: String) async throws -> FuturesBrokerConnection, calendars: [Market: any TradingCalendar],
        control: SessionControl, wall: @escaping @Sendable () -> Date = { Date() }, clock: any Clock<Duration> = ContinuousClock(),
        pollInterval: Duration = .seconds(1), flattenTicks: Int = 30, socket: TradovateWebSocketConfiguration = .init(), maxStrategyRestarts: Int = 3,
        plan: PlanSource? = nil
    ) {
        self.plan = plan
        self.connect = connect
        self.calendars = calendars
        self.control = control
        self.wall = wall
        self.clock = clock
        self.pollInterval = pollInterval
        self.flattenTicks = flattenTicks
        self.socket = socket
        self.maxStrategyRestarts = maxStrategyRestarts
    }

    /// Resources for the running plan (reloads included): Tradovate brokers built by `factory`, the plan's calendars, the
    /// session table in `factory.store`.
    public static func live(plan holder: PlanHolder, factory: BrokerFactory) -> FuturesSessionResources {
        FuturesSessionResources(
            connect: { name in
                let plan = holder.current
                guard let spec = plan.brokers[name] else { throw JobFailure("no broker '\(name)' in \(plan.source)", retryable: false) }
                guard spec.type == "tradovate", let client = try await factory.brokerage(spec) as? TradovateClient else {
                    throw JobFailure(
                        "futures-session needs a tradovate broker; '\(name)' is \(spec.type) (fix 'broker:' in \(plan.source))", retryable: false)
                }
                return FuturesBrokerConnection(client: client, account: spec.options["account"]?.stringValue)
            }, calendars: holder.current.calendars, control: SessionControl(store: factory.store), plan: holder)
    }
}

/// `type: futures-session`: one run is one Tradovate futures session from its start to `stop`,
/// with risk limits schedctl enforces, an optional strategy process, and a report at the end.
///
/// ```yaml
/// es-day:
///   type: futures-session
///   broker: tradovate
///   schedule: { market: CME, at: open, offset: 5m }
///   stop: { market: CME, at: close, offset: -10m }
///   symbols: [MESZ6]
///   risk: { daily_loss_limit: 500, max_position: 2, max_orders_per_minute: 10 }
///   flatten_at_stop: true
/// ```
public struct FuturesSessionJob: JobKind {
    public let name = "futures-session"
    public let options = FuturesSessionSettings.options
    /// Nil in builds that only validate configurations.
    public let resources: FuturesSessionResources?

    /// The kind; without resources a run fails with what is missing.
    public init(resources: FuturesSessionResources? = nil) { self.resources = resources }

    public func run(_ context: RunContext) async throws -> RunOutcome {
        guard let resources else { throw JobFailure("futures-session runs only under 'schedctl serve' or 'schedctl run'", retryable: false) }
        let settings = try context.job.options(as: Options.self)
        let stopAt = try settings.stopInstant(start: context.nominal, calendars: resources.plan?.current.calendars ?? resources.calendars).date
        let journal = try await IntentJournal.open(context, initial: FuturesSessionState())
        let state = await journal.state
        if state.finished, let report = state.report {
            if let failure = state.failure { throw JobFailure(failure, retryable: false) }
            return RunOutcome(summary: report.summary, detail: report.json)
        }
        let connection = try await resources.connect(settings.broker)
        let session = FuturesSession(
            context: context, settings: settings, resources: resources, journal: journal, connection: connection, stopAt: stopAt, state: state)
        return try await session.run()
    }
}

extension FuturesSessionJob: TypedJobKind {
    /// Its jobs' options, parsed once at load.
    public typealias Options = FuturesSessionSettings

    /// The kind's descriptor (one line in ``JobsRegistry/standard``).
    public static let descriptor = JobKindDescriptor(
        capabilities: [.placesOrders], check: FuturesSessionSettings.check,
        docs: [
            OptionDoc("broker", "the Tradovate broker (another type is a configuration error)"),
            OptionDoc("stop", "`{ market: CME\\|XNYS, at: open\\|close, offset: D }` (the first such event after the start) or a duration up to `23h`"),
            OptionDoc("symbols", "contracts (`MESZ6`: letters and digits), at least one, each once"),
            OptionDoc("risk.daily_loss_limit", "realized plus open loss (dollars) that liquidates and locks the job until the next CME trade date"),
            OptionDoc("risk.max_position", "largest absolute net position per symbol, counting working orders on the same side"),
            OptionDoc("risk.max_orders_per_minute", "placements allowed in any 60 seconds"),
            OptionDoc("risk.stale_after", default: "10s", "how long a held contract may go without a quote before it is a risk event"),
            OptionDoc("risk.on_stale", default: "flatten", "`flatten`: cancel, flatten and refuse new orders until quotes return; `alert`: only the event"),
            OptionDoc("flatten_at_stop", default: "true", "liquidate the session's symbols at the stop"),
            OptionDoc("strategy.command", "the strategy process (none: risk-only)"),
            OptionDoc("strategy.env", "the strategy's extra environment; values may be `secret:NAME`"),
            OptionDoc("strategy.workdir", "the strategy's working directory"),
        ]
    ) { environment in
        guard let plan = environment.plan, let factory = environment.factory else { return FuturesSessionJob() }
        return FuturesSessionJob(resources: .live(plan: plan, factory: factory))
    }
}
