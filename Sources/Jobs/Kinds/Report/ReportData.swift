public import Brokers
public import Foundation
public import Scheduler

/// What a report shows, gathered by `ReportJob` and rendered by `ReportRenderer`.
public struct ReportData: Sendable, Hashable {
    /// One section of a report (`sections:` in `jobs.yaml`).
    public enum Section: String, Sendable, Hashable, CaseIterable, Codable {
        case balances, positions, orders, pnl, runs, upcoming
    }

    /// One brokerage account.
    public struct Account: Sendable, Hashable {
        /// The broker's name in `jobs.yaml`.
        public var broker: String
        /// The account id.
        public var account: String
        /// Its balance (nil when the broker could not be read).
        public var balance: AccountBalance?
        /// Its positions.
        public var positions: [Position]
        /// Today's and open orders.
        public var orders: [Order]
        /// Equity at the last report before today began, for the day's P&L.
        public var equityAtDayStart: Decimal?
        /// Equity at this job's previous report.
        public var equityAtLastReport: Decimal?
        /// Why the account could not be read (redacted).
        public var error: String?

        /// An account.
        public init(
            broker: String, account: String, balance: AccountBalance? = nil, positions: [Position] = [], orders: [Order] = [],
            equityAtDayStart: Decimal? = nil, equityAtLastReport: Decimal? = nil, error: String? = nil
        ) {
            self.broker = broker
            self.account = account
            self.balance = balance
            self.positions = positions
            self.orders = orders
            self.equityAtDayStart = equityAtDayStart
            self.equityAtLastReport = equityAtLastReport
            self.error = error
        }
    }

    /// A run that failed, was abandoned or skipped since the last report.
    public struct RunLine: Sendable, Hashable {
        public var id: Int64
        public var job: String
        public var state: String
        public var at: Instant
        public var reason: String
        /// A line.
        public init(id: Int64, job: String, state: String, at: Instant, reason: String) {
            self.id = id
            self.job = job
            self.state = state
            self.at = at
            self.reason = reason
        }
    }

    /// The next fire of a trading job.
    public struct Upcoming: Sendable, Hashable {
        public var job: String
        public var kind: String
        public var at: Instant
        public var rule: String
        /// An upcoming fire.
        public init(job: String, kind: String, at: Instant, rule: String) {
            self.job = job
            self.kind = kind
            self.at = at
            self.rule = rule
        }
    }

    /// The heading.
    public var title: String
    /// When the report was made.
    public var at: Instant
    /// The zone its times are shown in.
    public var zone: ZoneRules
    /// The sections, in order.
    public var sections: [Section]
    /// Accounts, by broker then account.
    public var accounts: [Account]
    /// Failures and skips since the last report.
    public var runs: [RunLine]
    /// Since when `runs` counts (the previous report, or the start of the day).
    public var runsSince: Instant
    /// Next fires of trading jobs.
    public var upcoming: [Upcoming]

    /// A report.
    public init(
        title: String, at: Instant, zone: ZoneRules, sections: [Section], accounts: [Account], runs: [RunLine], runsSince: Instant,
        upcoming: [Upcoming]
    ) {
        self.title = title
        self.at = at
        self.zone = zone
        self.sections = sections
        self.accounts = accounts
        self.runs = runs
        self.runsSince = runsSince
        self.upcoming = upcoming
    }
}
