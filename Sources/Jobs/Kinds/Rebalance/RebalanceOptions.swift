import Brokers
public import Foundation
public import Scheduler

/// The settings of one `type: rebalance` job, parsed and checked from its `jobs.yaml` options.
///
/// ```yaml
/// rebalance-growth: { type: rebalance, broker: tradestation, strategy: growth, cash_buffer: 1%, min_trade: 100,
///                     drift: 0.5%, pricing: { start: mid, step: 25%, limit: 0.5% }, deadline: 2h, max_notional: 250000 }
/// ```
public struct RebalanceOptions: CheckedJobOptions, Hashable, Codable {
    /// A percentage of equity or an amount of money.
    public enum Amount: Sendable, Hashable, Codable {
        /// A fraction of equity (0.01 = 1%).
        case fraction(Decimal)
        /// An amount in the account's currency.
        case value(Decimal)

        /// The amount for `equity`.
        public func of(_ equity: Decimal) -> Decimal {
            switch self {
            case .fraction(let f): return (equity * f).rounded(scale: 2)
            case .value(let v): return v
            }
        }
    }

    /// Where the first limit price sits.
    public enum Start: String, Sendable, Hashable, Codable, CaseIterable {
        /// The mid of bid and ask.
        case mid
        /// The passive side (the bid for a buy, the ask for a sell).
        case passive
        /// The touch (the ask for a buy, the bid for a sell).
        case touch
    }

    /// How limit prices are chosen and moved.
    public struct Pricing: Sendable, Hashable, Codable {
        /// The first price.
        public var start: Start = .mid
        /// Fraction of the spread each replan moves toward (and past) the touch.
        public var step: Decimal = Decimal(string: "0.25")!
        /// How far past the arrival touch a price may go, as a fraction of it.
        public var limit: Decimal = Decimal(string: "0.005")!
    }

    /// When the run stops working orders.
    public enum Deadline: Sendable, Hashable, Codable {
        /// This long after the run started.
        case after(Duration)
        /// Relative to today's session of `market`: `at` is `open` or `close`.
        case market(Market, at: String, offset: Duration)
    }

    public var broker: String
    public var strategy: String
    public var account: String?
    public var dryRun = false
    public var cashBuffer: Amount = .fraction(0)
    public var minTrade: Decimal = 0
    public var drift: Decimal = Decimal(string: "0.005")!
    public var pollEvery: Duration = .seconds(30)
    public var replanAfter: Duration = .seconds(300)
    public var pricing = Pricing()
    public var deadline: Deadline = .after(.seconds(7200))
    public var maxNotional: Decimal?
    public var allowOutsideSession = false
    public var fractional = false
    /// Buys may borrow: the budget is the broker's buying power instead of cash (`use_margin`).
    public var useMargin = false
    /// An empty or all-zero target set may sell every holding (`allow_liquidation`).
    public var allowLiquidation = false
    /// What to do about working orders on the plan's symbols that the run did not place.
    public var existingOrders: ExistingOrders = .refuse

    /// `existing_orders`: working orders the run finds on the symbols it trades.
    public enum ExistingOrders: String, Sendable, Hashable, Codable, CaseIterable {
        /// Fail before placing anything, naming the orders (the default).
        case refuse
        /// Cancel them (and wait for the cancels) before planning.
        case cancel
        /// Count their open quantity as if filled, and their buys as spent cash.
        case include
    }

    /// The keys a rebalance job takes (besides the common job keys).
    public static let specs: [OptionSpec] = [
        OptionSpec("broker", .brokerReference, required: true), OptionSpec("strategy", .strategyReference, required: true),
        OptionSpec("account", .string), OptionSpec("dry_run", .bool), OptionSpec("cash_buffer", .string), OptionSpec("min_trade", .number),
        OptionSpec("drift", .string), OptionSpec("poll_every", .duration), OptionSpec("replan_after", .duration),
        OptionSpec("pricing", .stringMap), OptionSpec("deadline", .textOrTextMap), OptionSpec("max_notional", .number),
        OptionSpec("allow_outside_session", .bool), OptionSpec("fractional", .bool), OptionSpec("use_margin", .bool),
        OptionSpec("allow_liquidation", .bool), OptionSpec("existing_orders", .string),
    ]

    /// Parses `job`'s options (``JobOptions``: once, at load).
    public init(job: JobSpec) throws { try self.init(job.options) }

    /// Parses `options`; the first problem is thrown as a non-retryable failure.
    public init(_ options: [String: ConfigValue]) throws {
        var problems: [OptionProblem] = []
        self.init(options, problems: &problems)
        if let first = problems.first { throw JobFailure("\(first.key): \(first.message)", retryable: false) }
    }

    init(_ o: [String: ConfigValue], problems: inout [OptionProblem]) {
        broker = o["broker"]?.stringValue ?? ""
        strategy = o["strategy"]?.stringValue ?? ""
        account = o["account"]?.stringValue
        dryRun = o["dry_run"]?.boolValue ?? false
        allowOutsideSession = o["allow_outside_session"]?.boolValue ?? false
        fractional = o["fractional"]?.boolValue ?? false
        useMargin = o["use_margin"]?.boolValue ?? false
        allowLiquidation = o["allow_liquidation"]?.boolValue ?? false
        if let text = o["existing_orders"]?.stringValue {
            if let mode = ExistingOrders(rawValue: text) {
                existingOrders = mode
            } else {
                problems.append(.init(key: "existing_orders", message: "'\(text)' is not allowed; use refuse, cancel or include"))
            }
        }
        if let text = o["cash_buffer"]?.stringValue {
            if let f = Self.percent(text) {
                if f < 0 || f >= 1 { problems.append(.init(key: "cash_buffer", message: "'\(text)' must be from 0% to below 100%")) }
                cashBuffer = .fraction(f)
            } else if let v = Decimal(exactly: text), v >= 0 {
                cashBuffer = .value(v)
            } else {
                problems.append(.init(key: "cash_buffer", message: "'\(text)' is neither a percentage of equity (1%) nor an amount (500)"))
            }
        }
        if let m = o["min_trade"]?.numberValue {
            if m < 0 { problems.append(.init(key: "min_trade", message: "must not be negative")) }
            minTrade = m
        }
        if let text = o["drift"]?.stringValue {
            if Self.percent(text) == nil, let f = Decimal(exactly: text), f >= Decimal(string: "0.1")! {
                // `drift: 0.5` meant as 0.5% would read as 50%: nothing would ever trade.
                problems.append(.init(key: "drift", message: "'\(text)' reads as \((f * 100).plainString)%; write the percentage, e.g. 0.5%"))
            } else if let f = Self.fraction(text), f >= 0, f < 1 {
                drift = f
            } else {
                problems.append(.init(key: "drift", message: "'\(text)' is not a weight tolerance; write a percentage such as 0.5%"))
            }
        }
        if let d = o["poll_every"]?.durationValue {
            if d < .seconds(1) { problems.append(.init(key: "poll_every", message: "must be at least 1s")) }
            pollEvery = d
        }
        if let d = o["replan_after"]?.durationValue {
            if d < .seconds(1) { problems.append(.init(key: "replan_after", message: "must be at least 1s")) }
            replanAfter = d
        }
        if let map = o["pricing"]?.mapValue {
            for key in map.keys where !["start", "step", "limit"].contains(key) {
                problems.append(.init(key: "pricing.\(key)", message: "unknown key '\(key)'; pricing takes start, step and limit"))
            }
            if let text = map["start"]?.stringValue {
                if let s = Start(rawValue: text) {
                    pricing.start = s
                } else {
                    problems.append(.init(key: "pricing.start", message: "'\(text)' is not allowed; use mid, passive or touch"))
                }
            }
            if let text = map["step"]?.stringValue {
                if let f = Self.fraction(text), f > 0, f <= 1 {
                    pricing.step = f
                } else {
                    problems.append(.init(key: "pricing.step", message: "'\(text)' must be a share of the spread above 0% and at most 100%, e.g. 25%"))
                }
            }
            if let text = map["limit"]?.stringValue {
                if let f = Self.fraction(text), f >= 0, f < Decimal(string: "0.1")! {
                    pricing.limit = f
                } else {
                    problems.append(.init(key: "pricing.limit", message: "'\(text)' must be a percentage from 0% to below 10%, e.g. 0.5%"))
                }
            }
        }
        if let value = o["deadline"] {
            if let text = value.stringValue {
                if let d = DurationText.parse(text), d > .zero {
                    deadline = .after(d)
                } else {
                    problems.append(
                        .init(key: "deadline", message: "'\(text)' is not a positive duration; write 2h or { market: XNYS, at: close, offset: -5m }"))
                }
            } else if let map = value.mapValue {
                for key in map.keys where !["market", "at", "offset"].contains(key) {
                    problems.append(.init(key: "deadline.\(key)", message: "unknown key '\(key)'; a market deadline takes market, at and offset"))
                }
                let market = Market(rawValue: map["market"]?.stringValue ?? "XNYS")
                let at = map["at"]?.stringValue ?? "close"
                var offset = Duration.zero
                if let text = map["offset"]?.stringValue {
                    let negative = text.hasPrefix("-")
                    if let d = DurationText.parse(negative ? String(text.dropFirst()) : text) {
                        offset = negative ? .zero - d : d
                    } else {
                        problems.append(.init(key: "deadline.offset", message: "'\(text)' is not a duration such as -5m"))
                    }
                }
                if market == nil { problems.append(.init(key: "deadline.market", message: "use XNYS (or CME)")) }
                if !["open", "close"].contains(at) { problems.append(.init(key: "deadline.at", message: "'\(at)' is not allowed; use open or close")) }
                deadline = .market(market ?? .xnys, at: at, offset: offset)
            }
        }
        if let n = o["max_notional"]?.numberValue {
            if n <= 0 { problems.append(.init(key: "max_notional", message: "must be greater than zero")) }
            maxNotional = n
        }
        if pollEvery > replanAfter {
            problems.append(.init(key: "poll_every", message: "poll_every (\(DurationText.format(pollEvery))) must not exceed replan_after"))
        }
    }

    /// `validate`'s check of a rebalance job against its broker and strategy: what parsing finds,
    /// then ``problems(brokers:strategies:)`` (the loader does both with one parse).
    public static let check: JobOptionCheck = { options, brokers, strategies in
        var problems: [OptionProblem] = []
        let parsed = RebalanceOptions(options: options, problems: &problems)
        return problems + parsed.problems(brokers: brokers, strategies: strategies)
    }

    /// Parses `options`, appending every problem found.
    public init(options: [String: ConfigValue], problems: inout [OptionProblem]) { self.init(options, problems: &problems) }

    /// What is wrong with these options given the file's brokers.
    public func problems(brokers: [String: ComponentSpec], strategies: [String: ComponentSpec]) -> [OptionProblem] {
        let parsed = self
        var problems: [OptionProblem] = []
        guard let broker = brokers[parsed.broker] else { return problems }
        guard BrokerTypes.type(broker.type, has: .stockOrders) else {
            return problems + [.init(key: "broker", message: Self.noStockOrders(broker))]
        }
        switch broker.type {
        case "tradestation":
            if parsed.fractional {
                problems.append(.init(key: "fractional", message: "TradeStation takes whole shares only; remove fractional: true"))
            }
            if broker.options["environment"]?.stringValue == "live", parsed.maxNotional == nil {
                problems.append(
                    .init(key: "max_notional", message: "broker '\(broker.name)' trades a live account: add max_notional (the gross value one run may trade)"))
            }
            if let a = parsed.account, let named = broker.options["account"]?.stringValue, a != named {
                problems.append(.init(key: "account", message: "'\(a)' differs from broker '\(broker.name)' account '\(named)'; remove one"))
            }
        case "paper":
            if let a = parsed.account, a != broker.name {
                problems.append(.init(key: "account", message: "a paper broker has one account, named like the broker ('\(broker.name)'); remove 'account'"))
            }
        default: break
        }
        return problems
    }

    /// Why broker `spec`, whose type trades no shares, cannot be rebalanced.
    static func noStockOrders(_ spec: ComponentSpec) -> String {
        let types = BrokerTypes.named(with: .stockOrders).joined(separator: " or ")
        if BrokerTypes.type(spec.type, has: .futuresSession) {
            return "broker '\(spec.name)' is a \(spec.type) futures account; futures accounts are not rebalanced (use \(types))"
        }
        return "broker '\(spec.name)' is a \(spec.type) broker, which trades no shares; a rebalance needs a \(types) broker"
    }

    /// The account to trade at broker `spec`.
    public func account(for spec: ComponentSpec) throws -> String {
        if let account { return account }
        if spec.type == "paper" { return spec.name }
        if let named = spec.options["account"]?.stringValue { return named }
        throw JobFailure("no account: set 'account' on the job or on broker '\(spec.name)'", retryable: false)
    }

    /// `1%` → 0.01.
    static func percent(_ text: String) -> Decimal? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard t.hasSuffix("%"), let n = Decimal(exactly: String(t.dropLast()).trimmingCharacters(in: .whitespaces)) else { return nil }
        return n / 100
    }

    /// `0.5%` → 0.005, `0.005` → 0.005.
    static func fraction(_ text: String) -> Decimal? { percent(text) ?? Decimal(exactly: text) }
}
