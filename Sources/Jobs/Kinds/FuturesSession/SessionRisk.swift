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
