/// One trading session of an exchange.
public struct Session: Hashable, Sendable, Codable {
    /// The trade date (for CME, the day the session closes).
    public var date: LocalDate
    /// When trading opens.
    public var open: Instant
    /// When trading closes (earlier on early-close and holiday-halt days).
    public var close: Instant
    /// Why the session is shorter than usual, if it is.
    public var shortened: String?

    /// A session.
    public init(date: LocalDate, open: Instant, close: Instant, shortened: String? = nil) {
        self.date = date
        self.open = open
        self.close = close
        self.shortened = shortened
    }
}

/// A day the exchange does not trade although it is a weekday, or trades a short session.
public struct CalendarNote: Hashable, Sendable {
    /// The kind of note.
    public enum Kind: String, Sendable { case closed, earlyClose = "early-close", halt }
    /// The date (a trade date).
    public var date: LocalDate
    /// Closed, early close or holiday halt.
    public var kind: Kind
    /// The holiday or reason, e.g. "Thanksgiving Day".
    public var reason: String
}

/// Dates the user adds to an exchange calendar in `jobs.yaml`.
public struct CalendarOverrides: Hashable, Sendable {
    /// Extra full closures, with a reason.
    public var closures: [LocalDate: String]
    /// Early (or changed) closes: the close as seconds after local midnight in the exchange zone.
    public var closes: [LocalDate: Int]

    /// Overrides; empty by default.
    public init(closures: [LocalDate: String] = [:], closes: [LocalDate: Int] = [:]) {
        self.closures = closures
        self.closes = closes
    }
}

/// An exchange's trading calendar: which days trade and when each session opens and closes.
public protocol TradingCalendar: Sendable {
    /// The calendar's code, `XNYS` or `CME`.
    var code: String { get }
    /// The exchange's own clock.
    var zone: ZoneRules { get }
    /// The session whose trade date is `date`, or `nil` when the exchange does not trade.
    func session(on date: LocalDate) -> Session?
    /// Closures, early closes and halts for trade dates in `range`, in date order.
    func notes(in range: ClosedRange<LocalDate>) -> [CalendarNote]
}

extension TradingCalendar {
    /// The sessions whose trade dates fall in `range`.
    public func sessions(in range: ClosedRange<LocalDate>) -> [Session] {
        var result: [Session] = []
        var day = range.lowerBound
        while day <= range.upperBound {
            if let session = session(on: day) { result.append(session) }
            day = day.adding(days: 1)
        }
        return result
    }

    /// The trade date of the next session on or after `date`, searching up to two weeks ahead.
    public func nextTradeDate(onOrAfter date: LocalDate) -> LocalDate? {
        for offset in 0..<15 {
            let day = date.adding(days: offset)
            if session(on: day) != nil { return day }
        }
        return nil
    }
}

/// The calendars schedctl knows, by code.
public enum Market: String, CaseIterable, Sendable, Codable {
    /// The New York Stock Exchange.
    case xnys = "XNYS"
    /// CME Globex equity index futures.
    case cme = "CME"

    /// The calendar for this market with `overrides` applied.
    public func calendar(overrides: CalendarOverrides = CalendarOverrides()) -> any TradingCalendar {
        switch self {
        case .xnys: return NYSECalendar(overrides: overrides)
        case .cme: return CMECalendar(overrides: overrides)
        }
    }
}

/// The exceptions of an exchange calendar by trade date — full closures and changed closes — and
/// what the calendars derive from them: sessions, the user's overrides, notes.
struct DayTable: Sendable {
    /// Closed days, with the reason.
    var closures: [LocalDate: String] = [:]
    /// Changed closes: seconds after local midnight, with the reason.
    var closes: [LocalDate: (second: Int, reason: String)] = [:]

    /// Applies `jobs.yaml` overrides: a user closure closes the day; a user close opens it (even
    /// on a holiday) with that close.
    mutating func apply(_ overrides: CalendarOverrides, closeReason: String) {
        for (date, reason) in overrides.closures {
            closures[date] = reason
            closes[date] = nil
        }
        for (date, second) in overrides.closes {
            closes[date] = (second, closeReason)
            closures[date] = nil
        }
    }

    /// The session of trade date `date`, opening at `open` and closing at `regularClose` (seconds
    /// after midnight in `zone`) unless the table shortens it; `nil` on weekends and closures.
    func session(on date: LocalDate, zone: ZoneRules, open: LocalDateTime, regularClose: Int) -> Session? {
        guard date.weekday.isWeekday, closures[date] == nil else { return nil }
        let opens = zone.instant(at: open)!
        if let changed = closes[date] {
            return Session(date: date, open: opens, close: zone.instant(at: LocalDateTime(date: date, secondOfDay: changed.second))!, shortened: changed.reason)
        }
        return Session(date: date, open: opens, close: zone.instant(at: LocalDateTime(date: date, secondOfDay: regularClose))!)
    }

    /// Closures and shortened sessions on the weekdays of `range`; `kind` classifies a changed
    /// close by its reason, and `zoneSuffix` follows the close time (e.g. " CT").
    func notes(in range: ClosedRange<LocalDate>, zoneSuffix: String, kind: (String) -> CalendarNote.Kind) -> [CalendarNote] {
        var result: [CalendarNote] = []
        var day = range.lowerBound
        while day <= range.upperBound {
            if day.weekday.isWeekday {
                if let reason = closures[day] {
                    result.append(CalendarNote(date: day, kind: .closed, reason: reason))
                } else if let changed = closes[day] {
                    let time = LocalDateTime(date: day, secondOfDay: changed.second).description.suffix(5)
                    result.append(CalendarNote(date: day, kind: kind(changed.reason), reason: "\(changed.reason), closes \(time)\(zoneSuffix)"))
                }
            }
            day = day.adding(days: 1)
        }
        return result
    }
}
