public import Foundation

/// What `days: strategy` knows about a job's strategy: the next trade date it last saw (Penny
/// Vault's prediction `date`) and the trade date an occurrence already ran for. The store keeps
/// it per job; the Jobs module refreshes it. The Scheduler knows nothing about where it comes from.
///
/// A session fires when its trade date is on or after `nextTradeDate` and no occurrence has run
/// for that date yet (`firedFor`), so one announced trade date gives one run even when the date
/// is not refreshed in time.
public struct TradeDateGate: Sendable, Hashable {
    /// The strategy's next trade date, as last seen.
    public var nextTradeDate: LocalDate?
    /// The next trade date an occurrence was last claimed for.
    public var firedFor: LocalDate?
    /// When `nextTradeDate` was seen.
    public var seenAt: Date?
    /// Why the last refresh failed, if it did (no secrets).
    public var lastError: String?

    /// A gate.
    public init(nextTradeDate: LocalDate? = nil, firedFor: LocalDate? = nil, seenAt: Date? = nil, lastError: String? = nil) {
        self.nextTradeDate = nextTradeDate
        self.firedFor = firedFor
        self.seenAt = seenAt
        self.lastError = lastError
    }

    /// What the gate says about one occurrence.
    public enum Verdict: Sendable, Hashable {
        /// A candidate: the trade date is on or after the next trade date.
        case fire(for: LocalDate)
        /// Not a trading day the strategy trades on: no run, no record.
        case wait
        /// Recorded as skipped with the reason (nothing known, or already ran for this date).
        case skip(String)
    }

    /// The verdict for the occurrence at `instant` of `rule`.
    public func verdict(_ instant: Instant, rule: MarketRule) -> Verdict {
        guard let next = nextTradeDate else {
            let why = lastError.map { " (last attempt: \($0))" } ?? ""
            return .skip("days: strategy: the strategy's next trade date is not known yet\(why)")
        }
        guard let date = rule.tradeDate(of: instant), date >= next else { return .wait }
        if firedFor == next {
            return .skip("days: strategy: already ran for trade date \(next); waiting for the strategy's next trade date")
        }
        return .fire(for: next)
    }

    /// The first instant after `instant` at which `schedule` fires under this gate (at most
    /// `limit` sessions looked at), or nil.
    public func nextFire(of schedule: Schedule, after instant: Instant, limit: Int = 800) -> Instant? {
        guard let rule = schedule.strategyRule else { return schedule.next(after: instant) }
        var cursor = instant
        for _ in 0..<limit {
            guard let next = schedule.next(after: cursor) else { return nil }
            if case .fire = verdict(next, rule: rule) { return next }
            cursor = next
        }
        return nil
    }
}
