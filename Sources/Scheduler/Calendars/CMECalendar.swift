/// CME Globex equity index futures (`CME`: ES, NQ, MES, MNQ).
///
/// The session for trade date T opens 17:00 America/Chicago on the evening before T and closes
/// 16:00 on T; the week opens Sunday 17:00. On US holidays when Globex trades, the session halts
/// at 12:00; July 3 (when the NYSE closes early), the day after Thanksgiving and Christmas Eve
/// close at 12:15; New Year's Day and Christmas Day have no session. Good Friday is closed except
/// in the years listed in `goodFridaySessions`; `specialCloses` holds CME's unplanned changes.
/// Every date can be overridden from `jobs.yaml`. docs/configuration.md's *Calendars* lists where this
/// differs from `pandas_market_calendars` and why.
public struct CMECalendar: TradingCalendar {
    public let code = "CME"
    public let zone: ZoneRules
    /// Holiday closures, halts, early closes and the user's changes.
    private let table: DayTable
    /// The years the holiday tables cover.
    private static let years = 1990...2200

    /// Good Fridays on which equity futures traded a short session (when the employment report
    /// fell on Good Friday), with its close (seconds after midnight, Chicago time). CME announces
    /// these each year; override in `jobs.yaml` as needed.
    public static let goodFridaySessions: [LocalDate: Int] = [
        LocalDate(year: 2015, month: 4, day: 3)!: 8 * 3600 + 15 * 60,
        LocalDate(year: 2023, month: 4, day: 7)!: 8 * 3600 + 15 * 60,
        LocalDate(year: 2026, month: 4, day: 3)!: 8 * 3600 + 15 * 60,
    ]

    /// Unplanned changes CME announced for equity products: a close (seconds after midnight,
    /// Chicago time) and the reason. 2025-01-09: CME's notice of 2024-12-30 — US equity markets
    /// open until 08:30 CT on the National Day of Mourning for President Carter.
    public static let specialCloses: [LocalDate: (second: Int, reason: String)] = [
        LocalDate(year: 2025, month: 1, day: 9)!: (8 * 3600 + 30 * 60, "National Day of Mourning for Jimmy Carter")
    ]

    /// The calendar with `overrides` applied.
    public init(overrides: CalendarOverrides = CalendarOverrides()) {
        self.zone = .chicago
        var table = DayTable()
        for year in CMECalendar.years {
            for holiday in USHolidays.observed(year) {
                if holiday.globexTrades {
                    table.closes[holiday.date] = (12 * 3600, "\(holiday.name) halt")
                } else if holiday.name == "Good Friday", let close = CMECalendar.goodFridaySessions[holiday.date] {
                    table.closes[holiday.date] = (close, "Good Friday short session")
                } else {
                    table.closures[holiday.date] = holiday.name
                }
            }
            for early in USHolidays.earlyCloseDays(year) where table.closures[early.date] == nil && table.closes[early.date] == nil {
                table.closes[early.date] = (12 * 3600 + 15 * 60, early.name)
            }
        }
        for (date, change) in CMECalendar.specialCloses { table.closes[date] = change }
        table.apply(overrides, closeReason: "changed close (jobs.yaml)")
        self.table = table
    }

    public func session(on date: LocalDate) -> Session? {
        table.session(on: date, zone: zone, open: LocalDateTime(date: date.adding(days: -1), hour: 17, minute: 0), regularClose: 16 * 3600)
    }

    public func notes(in range: ClosedRange<LocalDate>) -> [CalendarNote] {
        table.notes(in: range, zoneSuffix: " CT") { $0.hasSuffix("halt") ? .halt : .earlyClose }
    }
}
