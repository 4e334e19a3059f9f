import Brokers
public import Foundation

/// The rebalance's own state, saved in the run's checkpoint with the intent journal, so a
/// takeover continues the same plan with the same orders.
public struct RebalanceState: Sendable, Codable {
    /// Where the run is.
    public enum Phase: String, Sendable, Codable {
        case planning, sells, buys, done
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

    public init() {}
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
