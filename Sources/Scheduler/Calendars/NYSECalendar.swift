/// The NYSE (`XNYS`) calendar: 09:30–16:00 America/New_York, holidays by rule (NYSE Rule 7.2,
/// valid from 2022), 13:00 early closes, known ad hoc closures and the user's own overrides.
public struct NYSECalendar: TradingCalendar {
    public let code = "XNYS"
    public let zone: ZoneRules
    /// Closures by trade date (holidays, ad hoc and user-added), with the reason.
    private let closures: [LocalDate: String]
    /// Early closes: seconds after midnight, with the reason.
    private let closes: [LocalDate: (second: Int, reason: String)]
    /// The years the precomputed tables cover; other years are computed on the fly.
    private static let years = 1990...2200

    /// Unplanned closures the exchange has announced (national days of mourning, weather).
    public static let adHocClosures: [LocalDate: String] = [
        LocalDate(year: 2012, month: 10, day: 29)!: "Hurricane Sandy",
        LocalDate(year: 2012, month: 10, day: 30)!: "Hurricane Sandy",
        LocalDate(year: 2018, month: 12, day: 5)!: "National Day of Mourning for George H. W. Bush",
        LocalDate(year: 2025, month: 1, day: 9)!: "National Day of Mourning for Jimmy Carter",
    ]

    /// The calendar with `overrides` (user closures win over early closes).
    public init(overrides: CalendarOverrides = CalendarOverrides()) {
        self.zone = .newYork
        var closures: [LocalDate: String] = NYSECalendar.adHocClosures
        var closes: [LocalDate: (Int, String)] = [:]
        for year in NYSECalendar.years {
            for holiday in USHolidays.observed(year) { closures[holiday.date] = holiday.name }
            for early in USHolidays.earlyCloseDays(year) where closures[early.date] == nil {
                closes[early.date] = (13 * 3600, early.name)
            }
        }
        for (date, reason) in overrides.closures {
            closures[date] = reason
            closes[date] = nil
        }
        for (date, second) in overrides.closes {
            // A close set by the user opens the day even if the rules call it a holiday.
            closes[date] = (second, "early close (jobs.yaml)")
            closures[date] = nil
        }
        self.closures = closures
        self.closes = closes
    }

    public func session(on date: LocalDate) -> Session? {
        guard date.weekday.isWeekday, closures[date] == nil else { return nil }
        let open = zone.instant(at: LocalDateTime(date: date, hour: 9, minute: 30))!
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
                    result.append(CalendarNote(date: day, kind: .earlyClose, reason: "\(early.reason), closes \(local.description.suffix(5))"))
                }
            }
            day = day.adding(days: 1)
        }
        return result
    }
}
