public import Foundation

/// "Flatten means flat", one round at a time: each round the shell reads the broker's positions
/// over REST and asks what to do. Flat: done. Not flat: liquidate what is open (a rejected,
/// partial or late-filled liquidation is simply liquidated again next round). Still open after
/// `maxRounds` liquidation rounds: failed, naming what is open.
public struct FlattenLoop: Sendable, Hashable {
    /// What to do this round.
    public enum Action: Sendable, Hashable {
        /// No position is open: the flatten is done.
        case flat
        /// Liquidate these net positions by contract id.
        case liquidate([Int64: Int])
        /// Out of rounds and still open: these positions.
        case failed([Int64: Int])
    }

    /// How many liquidation rounds the loop may use.
    public let maxRounds: Int
    /// Rounds used so far.
    public private(set) var rounds = 0

    /// A loop of at most `maxRounds` liquidation rounds.
    public init(maxRounds: Int) { self.maxRounds = max(1, maxRounds) }

    /// The action for the broker's `open` positions (contract id → net), read this round.
    public mutating func next(open: [Int64: Int]) -> Action {
        let open = open.filter { $0.value != 0 }
        if open.isEmpty { return .flat }
        guard rounds < maxRounds else { return .failed(open) }
        rounds += 1
        return .liquidate(open)
    }
}

/// The price an open position is marked at: the side that would close it (the bid for a long,
/// the ask for a short), the last trade when that side is missing.
public enum ClosingMark {
    /// The mark of a net `quantity`; nil when nothing is quoted.
    public static func price(quantity: Int, bid: Decimal?, ask: Decimal?, last: Decimal?) -> Decimal? {
        if quantity > 0 { return bid ?? last ?? ask }
        if quantity < 0 { return ask ?? last ?? bid }
        return last ?? bid.flatMap { b in ask.map { (b + $0) / 2 } } ?? bid ?? ask
    }
}

/// Quote staleness: a contract with a position and no quote for `staleAfter` (counted from the
/// later of its last quote and the session's open) is stale.
public struct QuoteWatch: Sendable, Hashable {
    /// How long a held contract may go without a quote.
    public var staleAfter: TimeInterval

    /// A watch.
    public init(staleAfter: TimeInterval) { self.staleAfter = staleAfter }

    /// The held contracts (net ≠ 0) with no quote since `staleAfter` before `now`.
    public func stale(positions: [Int64: Int], lastQuote: [Int64: Date], opened: Date, now: Date) -> [Int64] {
        positions.filter { $0.value != 0 }.keys.filter { cid in
            let since = max(lastQuote[cid] ?? opened, opened)
            return now.timeIntervalSince(since) >= staleAfter
        }.sorted()
    }
}

/// The session's risk checks as one pure type: given the figures of this moment it says what to
/// do (lock and flatten at the loss limit, act on stale quotes, refuse an order). The session
/// only carries the decisions out; it runs ``check(_:)`` on every tick, quote and fill.
public struct RiskMonitor: Sendable, Hashable {
    /// The figures one check looks at.
    public struct Snapshot: Sendable, Hashable {
        /// Realized P&L of earlier runs of the trade date, of this run, and open P&L now.
        public var earlierRealized: Decimal
        public var realized: Decimal
        public var open: Decimal
        /// Whether the trade date is locked already.
        public var locked: Bool
        /// Net positions of the session's contracts, when each was last quoted, and the
        /// contracts already reported stale (each stale spell is reported once).
        public var positions: [Int64: Int]
        public var lastQuote: [Int64: Date]
        public var alreadyStale: Set<Int64>
        public var opened: Date
        public var now: Date

        /// A snapshot.
        public init(
            earlierRealized: Decimal = 0, realized: Decimal = 0, open: Decimal = 0, locked: Bool = false, positions: [Int64: Int] = [:],
            lastQuote: [Int64: Date] = [:], alreadyStale: Set<Int64> = [], opened: Date, now: Date
        ) {
            self.earlierRealized = earlierRealized
            self.realized = realized
            self.open = open
            self.locked = locked
            self.positions = positions
            self.lastQuote = lastQuote
            self.alreadyStale = alreadyStale
            self.opened = opened
            self.now = now
        }

        /// The day's P&L: earlier runs, this run's realized, and open.
        public var total: Decimal { earlierRealized + realized + open }
    }

    /// What a check decided.
    public enum Decision: Sendable, Hashable {
        /// The day's loss reached the limit: lock the trade date, cancel working orders, flatten.
        case lock(total: Decimal)
        /// These held contracts went stale: flatten (`on_stale: flatten`) or only alert.
        case stale([Int64], flatten: Bool)
    }

    /// The limits.
    public var limits: FuturesSessionSettings.Risk

    /// A monitor of `limits`.
    public init(limits: FuturesSessionSettings.Risk) { self.limits = limits }

    /// The decisions for this moment, the loss limit first.
    public func check(_ s: Snapshot) -> [Decision] {
        var decisions: [Decision] = []
        if !s.locked, RiskGuard(limits: limits).lossLimitReached(total: s.total) { decisions.append(.lock(total: s.total)) }
        let after = limits.staleAfter.components
        let watch = QuoteWatch(staleAfter: Double(after.seconds) + Double(after.attoseconds) / 1e18)
        let fresh = watch.stale(positions: s.positions, lastQuote: s.lastQuote, opened: s.opened, now: s.now).filter { !s.alreadyStale.contains($0) }
        if !fresh.isEmpty { decisions.append(.stale(fresh, flatten: limits.onStale == .flatten)) }
        return decisions
    }

    /// Why an order must not be sent, or nil (the lock, the order rate, max_position with
    /// `working` counting working and unknown-outcome orders on the same side).
    public func rejection(state: FuturesSessionState, now: Date, buy: Bool, quantity: Int, net: Int, working: Int) -> String? {
        RiskGuard(limits: limits).rejection(state: state, now: now, buy: buy, quantity: quantity, net: net, working: working)
    }
}
