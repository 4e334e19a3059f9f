public import Foundation
public import Scheduler

/// The options of one `futures-session` job, read from its validated `jobs.yaml` options.
public struct FuturesSessionSettings: JobOptions, Hashable {
    /// When the session ends.
    public enum Stop: Sendable, Hashable {
        /// This long after the run's nominal start.
        case after(Duration)
        /// A market event (plus offset) after the start.
        case market(Market, MarketRule.Event, offset: Duration)
    }

    /// The risk limits schedctl enforces before anything reaches the broker.
    public struct Risk: Sendable, Hashable {
        /// Realized plus open loss (a positive amount) that liquidates and locks the session.
        public var dailyLossLimit: Decimal
        /// The largest absolute net position per symbol, working orders included.
        public var maxPosition: Int
        /// Orders (placements) allowed in any 60-second window.
        public var maxOrdersPerMinute: Int
        /// How long a held contract may go without a quote before it is a risk event (`stale_after`).
        public var staleAfter: Duration
        /// What a stale quote does (`on_stale`).
        public var onStale: OnStale

        /// `risk.on_stale`: what a held contract without quotes for `stale_after` does.
        public enum OnStale: String, Sendable, Hashable, CaseIterable {
            /// Cancel working orders, flatten, and refuse new orders until quotes come back.
            case flatten
            /// Record a `risk-stale` event (an alert) and keep the position.
            case alert
        }

        /// Limits.
        public init(
            dailyLossLimit: Decimal, maxPosition: Int, maxOrdersPerMinute: Int, staleAfter: Duration = .seconds(10), onStale: OnStale = .flatten
        ) {
            self.dailyLossLimit = dailyLossLimit
            self.maxPosition = maxPosition
            self.maxOrdersPerMinute = maxOrdersPerMinute
            self.staleAfter = staleAfter
            self.onStale = onStale
        }
    }

    /// The optional strategy process.
    public struct Strategy: Sendable, Hashable {
        /// Program and arguments.
        public var command: [String]
        /// Extra environment (`secret:NAME` values resolved at run time).
        public var env: [String: EnvironmentValue]
        /// Working directory.
        public var workdir: String?
    }

    /// The broker's name under `brokers:`.
    public var broker: String
    /// The end of the session.
    public var stop: Stop
    /// The contracts traded (`MESZ6`).
    public var symbols: [String]
    /// The limits.
    public var risk: Risk
    /// Whether positions are liquidated at the stop (default true).
    public var flattenAtStop: Bool
    /// The strategy process, if any.
    public var strategy: Strategy?

    /// The keys `jobs.yaml` accepts for the kind.
    public static let options: [OptionSpec] = [
        OptionSpec("broker", .brokerReference, required: true),
        OptionSpec("stop", .sessionEnd, required: true),
        OptionSpec("symbols", .stringList, required: true),
        OptionSpec(
            "risk",
            .options([
                OptionSpec("daily_loss_limit", .number, required: true), OptionSpec("max_position", .integer(1...10_000), required: true),
                OptionSpec("max_orders_per_minute", .integer(1...10_000), required: true), OptionSpec("stale_after", .duration),
                OptionSpec("on_stale", .choice(Risk.OnStale.allCases.map(\.rawValue))),
            ]), required: true),
        OptionSpec("flatten_at_stop", .bool),
        OptionSpec("strategy", .options([OptionSpec("command", .command, required: true), OptionSpec("env", .stringMap), OptionSpec("workdir", .string)])),
    ]

    /// Reads the options of `job` (``JobOptions``: once, at load).
    public init(job: JobSpec) throws { try self.init(job) }

    /// Reads the options of `job` (already validated by the loader; anything missing is a clear failure).
    public init(_ job: JobSpec) throws {
        let o = job.options
        guard let broker = o["broker"]?.stringValue else { throw JobFailure("futures-session '\(job.name)' has no broker", retryable: false) }
        self.broker = broker
        switch o["stop"] {
        case .duration(let d)?: stop = .after(d)
        case .map(let m)?:
            guard let market = m["market"]?.stringValue.flatMap(Market.init(rawValue:)),
                let event = m["at"]?.stringValue.flatMap(MarketRule.Event.init(rawValue:))
            else { throw JobFailure("futures-session '\(job.name)': stop needs market and at", retryable: false) }
            stop = .market(market, event, offset: m["offset"]?.durationValue ?? .zero)
        default: throw JobFailure("futures-session '\(job.name)' has no stop; e.g. stop: { market: CME, at: close, offset: -10m }", retryable: false)
        }
        symbols = (o["symbols"]?.listValue ?? []).compactMap(\.stringValue)
        guard !symbols.isEmpty else { throw JobFailure("futures-session '\(job.name)' lists no symbols; e.g. symbols: [MESZ6]", retryable: false) }
        guard let r = o["risk"]?.mapValue, let limit = r["daily_loss_limit"]?.numberValue, limit > 0,
            let maxPosition = r["max_position"]?.numberValue, let perMinute = r["max_orders_per_minute"]?.numberValue
        else {
            throw JobFailure(
                "futures-session '\(job.name)' needs risk: { daily_loss_limit: 500, max_position: 2, max_orders_per_minute: 10 } (a positive loss limit)",
                retryable: false)
        }
        risk = Risk(
            dailyLossLimit: limit, maxPosition: NSDecimalNumber(decimal: maxPosition).intValue,
            maxOrdersPerMinute: NSDecimalNumber(decimal: perMinute).intValue, staleAfter: r["stale_after"]?.durationValue ?? .seconds(10),
            onStale: r["on_stale"]?.stringValue.flatMap(Risk.OnStale.init(rawValue:)) ?? .flatten)
        guard risk.staleAfter > .zero else {
            throw JobFailure("futures-session '\(job.name)': risk.stale_after must be a positive duration, e.g. 10s", retryable: false)
        }
        flattenAtStop = o["flatten_at_stop"]?.boolValue ?? true
        if let s = o["strategy"]?.mapValue {
            let argv = (s["command"]?.listValue ?? []).compactMap(\.stringValue)
            guard !argv.isEmpty else { throw JobFailure("futures-session '\(job.name)': strategy.command is empty", retryable: false) }
            strategy = Strategy(command: argv, env: EnvironmentValue.map(s["env"]), workdir: s["workdir"]?.stringValue)
        }
    }

    /// The instant the session that started at `start` stops (the first matching market event
    /// after `start`, or `start` plus the duration).
    public func stopInstant(start: Instant, calendars: [Market: any TradingCalendar]) throws -> Instant {
        switch stop {
        case .after(let d): return start + d
        case .market(let market, let event, let offset):
            let calendar = calendars[market] ?? market.calendar()
            guard let next = Schedule(.market(MarketRule(market: market, calendar: calendar, event: event, offset: offset))).next(after: start) else {
                throw JobFailure("the \(market.rawValue) calendar has no \(event.rawValue) after \(start.iso8601)", retryable: false)
            }
            return next
        }
    }
}
