/// When a job fires: a rule that yields nominal fire instants deterministically, each computed
/// from the previous nominal instant (never from "now"), in an explicit time zone.
///
/// ```swift
/// let schedule = Schedule.cron(try CronExpression("35 9 * * 1-5"), zone: .newYork)
/// let first = schedule.next(after: try Instant(iso8601: "2026-11-26T00:00:00Z"))
/// ```
public struct Schedule: Sendable, Hashable {
    /// The rule itself.
    public enum Rule: Sendable, Hashable {
        /// A cron expression read on the wall clock of `zone`.
        case cron(CronExpression, zone: ZoneRules, dst: DSTPolicy)
        /// Every `seconds` of elapsed time; `aligned` puts fires on multiples of the interval
        /// counted from the zone's standard-time midnight (every 15m → :00, :15, :30, :45).
        case interval(seconds: Int64, aligned: Bool, zone: ZoneRules)
        /// Once, at an instant.
        case once(Instant)
        /// Relative to an exchange's session open or close.
        case market(MarketRule)
    }

    /// The rule.
    public var rule: Rule
    /// The largest random delay added to each fire (the nominal instant does not move).
    public var jitter: Duration

    /// A schedule from a rule.
    public init(_ rule: Rule, jitter: Duration = .zero) {
        self.rule = rule
        self.jitter = jitter
    }

    /// A cron schedule; the DST policy defaults to `.default`, or `.everyRealHour` when the hour
    /// field is a wildcard.
    public static func cron(_ expression: CronExpression, zone: ZoneRules, dst: DSTPolicy? = nil) -> Schedule {
        Schedule(.cron(expression, zone: zone, dst: dst ?? (expression.hourIsWildcard ? .everyRealHour : .default)))
    }

    /// The first nominal fire instant strictly after `instant`, or `nil` when there is none.
    public func next(after instant: Instant) -> Instant? {
        switch rule {
        case .cron(let expression, let zone, let dst):
            return expression.next(after: instant, in: zone, policy: dst)
        case .interval(let seconds, let aligned, let zone):
            guard aligned else { return Instant(seconds: instant.seconds + seconds) }
            let shift = Int64(zone.standardOffset)
            let (q, _) = (instant.seconds + shift).floorDivided(by: seconds)
            return Instant(seconds: (q + 1) * seconds - shift)
        case .once(let at):
            return at > instant ? at : nil
        case .market(let rule):
            return rule.next(after: instant)
        }
    }

    /// Up to `count` nominal instants after `instant`, in order.
    public func upcoming(after instant: Instant, count: Int) -> [Instant] {
        var result: [Instant] = []
        var cursor = instant
        while result.count < count, let next = next(after: cursor) {
            result.append(next)
            cursor = next
        }
        return result
    }

    /// The exchange rule of a `days: strategy` schedule, else nil.
    public var strategyRule: MarketRule? {
        if case .market(let rule) = rule, rule.days == .strategy { return rule }
        return nil
    }

    /// The time zone fire times are shown in.
    public var displayZone: ZoneRules {
        switch rule {
        case .cron(_, let zone, _), .interval(_, _, let zone): return zone
        case .once: return .utc
        case .market(let rule): return rule.calendar.zone
        }
    }

    /// A one-line description of the rule, e.g. `cron '5 9 * * 1-5' (America/New_York)`.
    public var summary: String {
        switch rule {
        case .cron(let expression, let zone, _): return "cron '\(expression.source)' (\(zone.identifier))"
        case .interval(let seconds, let aligned, _):
            return "every \(DurationText.format(.seconds(seconds)))" + (aligned ? " aligned" : "")
                + (jitter > .zero ? " jitter \(DurationText.format(jitter))" : "")
        case .once(let at): return "once at \(at)"
        case .market(let rule): return rule.summary
        }
    }

    /// Why `instant` is a fire time: the rule, plus what the calendar or DST did on that day.
    public func explain(_ instant: Instant) -> String { explain(instant, summary: summary) }

    /// ``explain(_:)`` given this schedule's ``summary``, for callers that explain many instants
    /// and build the summary once.
    public func explain(_ instant: Instant, summary: String) -> String {
        switch rule {
        case .cron(let expression, let zone, let dst):
            // DST shifts a fire or repeats it only within hours of a change of offset.
            guard zone.changesOffset(near: instant, within: 86_400) else { return summary }
            let local = zone.local(instant)
            if expression.firstMatch(from: local.localSeconds, before: local.localSeconds + 1) == nil {
                return summary + ", shifted forward past the spring-forward gap (\(dst.summary))"
            }
            if zone.instants(at: local).count == 2 {
                return summary + ", repeated hour at fall-back (\(dst.summary))"
            }
            return summary
        case .market(let rule): return rule.explain(instant)
        default: return summary
        }
    }
}

/// "`offset` after the `event` of each session of `calendar` whose trade date passes `days`".
public struct MarketRule: Sendable, Hashable {
    /// Open or close.
    public enum Event: String, Sendable, Hashable, CaseIterable { case open, close }

    /// The market.
    public var market: Market
    /// The calendar (with `jobs.yaml` overrides applied).
    public var calendar: any TradingCalendar
    /// The session event the schedule is relative to.
    public var event: Event
    /// Added to the event (negative: before it).
    public var offset: Duration
    /// Which trade dates fire.
    public var days: DayRule

    /// A market rule.
    public init(market: Market, calendar: any TradingCalendar, event: Event, offset: Duration = .zero, days: DayRule = .everyTradingDay) {
        self.market = market
        self.calendar = calendar
        self.event = event
        self.offset = offset
        self.days = days
    }

    public static func == (lhs: MarketRule, rhs: MarketRule) -> Bool {
        lhs.market == rhs.market && lhs.event == rhs.event && lhs.offset == rhs.offset && lhs.days == rhs.days
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(market)
        hasher.combine(event)
        hasher.combine(offset)
        hasher.combine(days)
    }

    /// The largest offset magnitude allowed: more would move an event past the next session.
    public static let maximumOffset: Duration = .seconds(12 * 3600)

    /// The fire instant for `session`.
    func fire(_ session: Session) -> Instant { (event == .open ? session.open : session.close) + offset }

    func next(after instant: Instant) -> Instant? {
        let zone = calendar.zone
        var day = zone.local(instant).date.adding(days: -2)
        var best: Instant?
        var looked = 0
        // Events are at least 16 hours apart and |offset| ≤ 12 h, so the first hit and the one
        // after it bracket the answer.
        for _ in 0..<800 {
            defer { day = day.adding(days: 1) }
            guard let session = calendar.session(on: day), days.matches(day, in: calendar) else { continue }
            let at = fire(session)
            if at > instant {
                best = min(best ?? at, at)
                looked += 1
                if looked == 2 { break }
            }
        }
        return best
    }

    var summary: String {
        let sign = offset < .zero ? "-" : "+"
        let magnitude = offset < .zero ? .zero - offset : offset
        let offsetText = offset == .zero ? "" : " \(sign)\(DurationText.format(magnitude))"
        return "\(market.rawValue) \(event.rawValue)\(offsetText), \(days.description)"
    }

    /// The trade date of the session whose event `instant` is, or nil when it is none.
    public func tradeDate(of instant: Instant) -> LocalDate? {
        let date = calendar.zone.local(instant - offset).date
        for candidate in [date, date.adding(days: 1), date.adding(days: -1)] {
            if let session = calendar.session(on: candidate), fire(session) == instant { return candidate }
        }
        return nil
    }

    func explain(_ instant: Instant) -> String {
        let date = calendar.zone.local(instant - offset).date
        for candidate in [date, date.adding(days: 1), date.adding(days: -1)] {
            if let session = calendar.session(on: candidate), fire(session) == instant {
                let note = session.shortened.map { " (\($0))" } ?? ""
                return "\(summary); session \(candidate)\(note)"
            }
        }
        return summary
    }
}

/// Which trade dates an exchange-relative schedule fires on.
public enum DayRule: Sendable, Hashable, CustomStringConvertible {
    /// Every session.
    case everyTradingDay
    /// The first session of each Monday–Sunday week.
    case firstTradingDayOfWeek
    /// The last session of each week.
    case lastTradingDayOfWeek
    /// The first session of each month.
    case firstTradingDayOfMonth
    /// The last session of each month.
    case lastTradingDayOfMonth
    /// Sessions whose trade date falls on one of these weekdays.
    case weekdays(Set<Weekday>)
    /// Sessions on or after the job's strategy's next trade date (`days: strategy`). Every
    /// session is a candidate; the occurrence planner lets through only those a
    /// ``TradeDateGate`` admits, so the schedule itself stays pure.
    case strategy

    /// The spellings accepted in `jobs.yaml` and on the command line.
    public static let names: [String: DayRule] = [
        "every-trading-day": .everyTradingDay, "trading-days": .everyTradingDay,
        "first-trading-day-of-week": .firstTradingDayOfWeek, "last-trading-day-of-week": .lastTradingDayOfWeek,
        "first-trading-day-of-month": .firstTradingDayOfMonth, "last-trading-day-of-month": .lastTradingDayOfMonth,
    ]

    public var description: String {
        switch self {
        case .everyTradingDay: return "every trading day"
        case .firstTradingDayOfWeek: return "first trading day of the week"
        case .lastTradingDayOfWeek: return "last trading day of the week"
        case .firstTradingDayOfMonth: return "first trading day of the month"
        case .lastTradingDayOfMonth: return "last trading day of the month"
        case .weekdays(let set): return "trading days on " + set.sorted { $0.rawValue < $1.rawValue }.map(\.shortName).joined(separator: ",")
        case .strategy: return "trading days on or after the strategy's next trade date"
        }
    }

    /// Whether the trade date `date` (which has a session) fires.
    func matches(_ date: LocalDate, in calendar: any TradingCalendar) -> Bool {
        switch self {
        case .everyTradingDay, .strategy: return true
        case .weekdays(let set): return set.contains(date.weekday)
        case .firstTradingDayOfWeek:
            let back = (date.weekday.rawValue + 6) % 7  // days since Monday
            return (1...max(1, back)).allSatisfy { back == 0 || calendar.session(on: date.adding(days: -$0)) == nil }
        case .lastTradingDayOfWeek:
            let ahead = (7 - date.weekday.rawValue) % 7  // days until Sunday
            return ahead == 0 || (1...ahead).allSatisfy { calendar.session(on: date.adding(days: $0)) == nil }
        case .firstTradingDayOfMonth:
            return date.day == 1 || (1..<date.day).allSatisfy { calendar.session(on: date.adding(days: -$0)) == nil }
        case .lastTradingDayOfMonth:
            let last = LocalDate.daysIn(month: date.month, year: date.year)
            return date.day == last || (1...(last - date.day)).allSatisfy { calendar.session(on: date.adding(days: $0)) == nil }
        }
    }
}
