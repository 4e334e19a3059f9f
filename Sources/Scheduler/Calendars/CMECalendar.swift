/// CME Globex equity index futures (`CME`: ES, NQ, MES, MNQ).
///
/// The session for trade date T opens 17:00 America/Chicago on the evening before T and closes
/// 16:00 on T; the week opens Sunday 17:00. On US holidays when Globex trades, the session halts
/// at 12:00; the day after Thanksgiving and Christmas Eve close at 12:15; New Year's Day and
/// Christmas Day have no session. Good Friday is closed except in the years listed in
/// `goodFridaySessions`. Every date can be overridden from `jobs.yaml`.
public struct CMECalendar: TradingCalendar {
    public let code = "CME"
    public let zone: ZoneRules
    private let closures: [LocalDate: String]
    private let closes: [LocalDate: (second: Int, reason: String)]
    private static let years = 1990...2200

    /// Good Fridays on which equity futures traded a short session, with its close (seconds after
    /// midnight, Chicago time). CME announces these each year; override in `jobs.yaml` as needed.
    public static let goodFridaySessions: [LocalDate: Int] = [
        LocalDate(year: 2026, month: 4, day: 3)!: 8 * 3600 + 15 * 60
    ]

    /// The calendar with `overrides` applied.
    public init(overrides: CalendarOverrides = CalendarOverrides()) {
        self.zone = .chicago
        var closures: [LocalDate: String] = [:]
        var closes: [LocalDate: (Int, String)] = [:]
        for year in CMECalendar.years {
            for holiday in USHolidays.observed(year) {
                if holiday.globexTrades {
                    closes[holiday.date] = (12 * 3600, "\(holiday.name) halt")
                } else if holiday.name == "Good Friday", let close = CMECalendar.goodFridaySessions[holiday.date] {
                    closes[holiday.date] = (close, "Good Friday short session")
                } else {
                    closures[holiday.date] = holiday.name
                }
            }
            for early in USHolidays.earlyCloseDays(year) where early.name != "Day before Independence Day" {
                if closures[early.date] == nil { closes[early.date] = (12 * 3600 + 15 * 60, early.name) }
            }
        }
        for (date, reason) in overrides.closures {
            closures[date] = reason
            closes[date] = nil
        }
        for (date, second) in overrides.closes {
            closes[date] = (second, "changed close (jobs.yaml)")
            closures[date] = nil
        }
        self.closures = closures
        self.closes = closes
    }

    public func session(on date: LocalDate) -> Session? {
        guard date.weekday.isWeekday, closures[date] == nil else { return nil }
        let open = zone.instant(at: LocalDateTime(date: date.adding(days: -1), hour: 17, minute: 0))!
        if let early = closes[date] {
            let close = zone.instant(at: LocalDateTime(date: date, secondOfDay: early.second))!
            return Session(date: date, open: open, close: close, shortened: early.reason)
        }
        return Session(date: date, open: open, close: zone.instant(at: LocalDateTime(date: date, hour: 16, minute: 0))!)
    }

    public func notes(in range: ClosedRange<LocalDate>) -> [CalendarNote] {
        var result: [CalendarNote] = []
        var day = range.lowerBound
        while day <= range.upperBound {
            if day.weekday.isWeekday {
                if let reason = closures[day] {
                    result.append(CalendarNote(date: day, kind: .closed, reason: reason))
                } else if let early = closes[day] {
                    let local = LocalDateTime(date: day, secondOfDay: early.second)
                    let kind: CalendarNote.Kind = early.reason.hasSuffix("halt") ? .halt : .earlyClose
                    result.append(CalendarNote(date: day, kind: kind, reason: "\(early.reason), closes \(local.description.suffix(5)) CT"))
                }
            }
            day = day.adding(days: 1)
        }
        return result
    }
}
