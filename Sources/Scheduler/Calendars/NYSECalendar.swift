/// The NYSE (`XNYS`) calendar: 09:30–16:00 America/New_York, holidays by rule (NYSE Rule 7.2,
/// valid from 2022), 13:00 early closes, known ad hoc closures and the user's own overrides.
public struct NYSECalendar: TradingCalendar {
    public let code = "XNYS"
    public let zone: ZoneRules
    /// Holidays, ad hoc and user closures, and 13:00 early closes.
    private let table: DayTable
    /// The years the holiday tables cover.
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
        var table = DayTable(closures: NYSECalendar.adHocClosures)
        for year in NYSECalendar.years {
            for holiday in USHolidays.observed(year) { table.closures[holiday.date] = holiday.name }
            for early in USHolidays.earlyCloseDays(year) where table.closures[early.date] == nil {
                table.closes[early.date] = (13 * 3600, early.name)
            }
        }
        table.apply(overrides, closeReason: "early close (jobs.yaml)")
        self.table = table
    }

    public func session(on date: LocalDate) -> Session? {
        table.session(on: date, zone: zone, open: LocalDateTime(date: date, hour: 9, minute: 30), regularClose: 16 * 3600)
    }

    public func notes(in range: ClosedRange<LocalDate>) -> [CalendarNote] {
        table.notes(in: range, zoneSuffix: "") { _ in .earlyClose }
    }
}
