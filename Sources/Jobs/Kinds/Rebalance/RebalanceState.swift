import Brokers
public import Foundation

/// The rebalance's own state, saved in the run's checkpoint with the intent journal, so a
/// takeover continues the same plan with the same orders.
public struct RebalanceState: Sendable, Codable {
    /// Where the run is.
    public enum Phase: String, Sendable, Codable {
        case planning, sells, buys, check, done
    }

    /// Set by `schedctl run JOB --dry-run` before the run starts: this run places nothing.
    public var dryRun = false
    public var phase: Phase = .planning
    public var startedAt: Date?
    public var deadline: Date?
    public var plan: RebalancePlan?
    public var orders: [RebalanceOrder] = []
    public var sellRounds = 0
    public var buyRounds = 0
    /// When the working orders of the current phase were last (re)priced.
    public var lastPricedAt: Date?
    public var deadlineReached = false
    public var warnings: [String] = []
    public var nextTradeDate: Date?
    /// The options as they were when the run started (a reload mid-run changes nothing, not
    /// even `dry_run`).
    public var options: RebalanceOptions?
    /// The round the run is in (1 = the first plan's).
    public var round: Int?
    /// The target weights the run started with.
    public var targets: [String: Decimal]?
    /// Orders that were working at the broker before the run (never adopted as the run's own).
    public var foreign: [String]?
    /// Symbols the broker rejected this run (not tried again in a later round).
    public var blocked: [String]?
    /// Why the rounds ended before every line was within drift.
    public var stopReason: String?
    /// Orders that may still be working after the run's last cancel attempt.
    public var mayBeWorking: [String]?

    public init() {}

    /// The round the run is in.
    public var currentRound: Int { round ?? 1 }
}

/// The recorded result of placing one order.
struct PlacedOutcome: Codable, Sendable {
    /// The broker's id; nil when the broker rejected the order outright.
    var orderID: String?
    var rejected: String?
}

/// The recorded result of a replace or cancel.
struct DoneOutcome: Codable, Sendable {
    var note: String
    /// The id the order works under after a replace (the broker may issue a new one).
    var orderID: String?
}

/// The clock the rebalance waits on (injected in tests; polling and replans never sleep for real there).
public struct RebalanceClock: Sendable {
    public var now: @Sendable () -> Date
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// The system clock and real sleeping.
    public static let system = RebalanceClock(now: { Date() }, sleep: { try await Task.sleep(for: $0) })
}
