import Testing

@testable import Scheduler

/// The XNYS and CME calendars against CALENDARS.md, BROKERS.md §3.2 and reference data.
@Suite("Trading calendars")
struct CalendarTests {
    let nyse = NYSECalendar()
    let cme = CMECalendar()

    // MARK: XNYS by year

    struct YearCase: Sendable, CustomTestStringConvertible {
        var year: Int
        var sessions: Int
        /// Weekdays without a session, as MM-DD.
        var closed: [String]
        /// Sessions that close at 13:00, as MM-DD.
        var early: [String]
        var testDescription: String { "XNYS \(year)" }
    }

    /// Every weekday closure and 13:00 close of 2022–2035. The same dates as the `exchange_calendars`
    /// package (4.13.2, XNYS); 2025–2028 also match the NYSE table in BROKERS.md §3.2, and 2025
    /// includes the 2025-01-09 day of mourning.
    static let years: [YearCase] = [
        YearCase(year: 2022, sessions: 251, closed: ["01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"], early: ["11-25"]),
        YearCase(
            year: 2023, sessions: 250, closed: ["01-02", "01-16", "02-20", "04-07", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"],
            early: ["07-03", "11-24"]),
        YearCase(
            year: 2024, sessions: 252, closed: ["01-01", "01-15", "02-19", "03-29", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"],
            early: ["07-03", "11-29", "12-24"]),
        YearCase(
            year: 2025, sessions: 250, closed: ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"],
            early: ["07-03", "11-28", "12-24"]),
        YearCase(
            year: 2026, sessions: 251, closed: ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"],
            early: ["11-27", "12-24"]),
        YearCase(
            year: 2027, sessions: 251, closed: ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"], early: ["11-26"]),
        YearCase(
            year: 2028, sessions: 251, closed: ["01-17", "02-21", "04-14", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"], early: ["07-03", "11-24"]),
        YearCase(
            year: 2029, sessions: 251, closed: ["01-01", "01-15", "02-19", "03-30", "05-28", "06-19", "07-04", "09-03", "11-22", "12-25"],
            early: ["07-03", "11-23", "12-24"]),
        YearCase(
            year: 2030, sessions: 251, closed: ["01-01", "01-21", "02-18", "04-19", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"],
            early: ["07-03", "11-29", "12-24"]),
        YearCase(
            year: 2031, sessions: 251, closed: ["01-01", "01-20", "02-17", "04-11", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"],
            early: ["07-03", "11-28", "12-24"]),
        YearCase(
            year: 2032, sessions: 252, closed: ["01-01", "01-19", "02-16", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"], early: ["11-26"]),
        YearCase(year: 2033, sessions: 251, closed: ["01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"], early: ["11-25"]),
        YearCase(
            year: 2034, sessions: 250, closed: ["01-02", "01-16", "02-20", "04-07", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"],
            early: ["07-03", "11-24"]),
        YearCase(
            year: 2035, sessions: 251, closed: ["01-01", "01-15", "02-19", "03-23", "05-28", "06-19", "07-04", "09-03", "11-22", "12-25"],
            early: ["07-03", "11-23", "12-24"]),
    ]

    @Test("XNYS closures, early closes and session counts", arguments: years)
    func nyseYear(_ c: YearCase) {
        let range = date("\(c.year)-01-01")...date("\(c.year)-12-31")
        let sessions = nyse.sessions(in: range)
        #expect(sessions.count == c.sessions)
        var closed: [String] = []
        var day = range.lowerBound
        while day <= range.upperBound {
            if day.weekday.isWeekday && nyse.session(on: day) == nil { closed.append(String(day.description.suffix(5))) }
            day = day.adding(days: 1)
        }
        #expect(closed == c.closed)
        let early = sessions.filter { newYork.local($0.close).hour != 16 }
        #expect(early.map { String($0.date.description.suffix(5)) } == c.early)
        for session in early {
            #expect(newYork.local(session.close) == LocalDateTime(date: session.date, hour: 13, minute: 0))
            #expect(session.shortened != nil)
        }
        for session in sessions {
            #expect(newYork.local(session.open) == LocalDateTime(date: session.date, hour: 9, minute: 30))
            #expect(session.date.weekday.isWeekday)
        }
        // The notes list exactly the closures and early closes.
        let notes = nyse.notes(in: range)
        #expect(notes.filter { $0.kind == .closed }.map { String($0.date.description.suffix(5)) } == c.closed)
        #expect(notes.filter { $0.kind == .earlyClose }.map { String($0.date.description.suffix(5)) } == c.early)
    }

    @Test("2026 worked example from CALENDARS.md")
    func nyse2026() throws {
        let sessions = nyse.sessions(in: date("2026-01-01")...date("2026-12-31"))
        #expect(sessions.count == 251)
        for closed in [
            "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
        ] {
            #expect(nyse.session(on: date(closed)) == nil, "\(closed)")
        }
        let friday = try #require(nyse.session(on: date("2026-11-27")))
        #expect(friday.open == instant("2026-11-27T14:30:00Z"))
        #expect(friday.close == instant("2026-11-27T18:00:00Z"))
        #expect(friday.shortened == "Day after Thanksgiving")
        let eve = try #require(nyse.session(on: date("2026-12-24")))
        #expect(eve.close == instant("2026-12-24T18:00:00Z"))
        #expect(eve.shortened == "Christmas Eve")
        // A normal summer day in EDT.
        let summer = try #require(nyse.session(on: date("2026-07-07")))
        #expect(summer.open == instant("2026-07-07T13:30:00Z"))
        #expect(summer.close == instant("2026-07-07T20:00:00Z"))
        #expect(summer.shortened == nil)
    }

    @Test("early closes of 2025 and 2028 on July 3", arguments: ["2025-07-03", "2028-07-03"])
    func july3(_ day: String) throws {
        let session = try #require(nyse.session(on: date(day)))
        #expect(newYork.local(session.close) == LocalDateTime(date: date(day), hour: 13, minute: 0))
        #expect(session.shortened == "Day before Independence Day")
    }

    @Test("no early close on a July 3 that is the observed holiday or a Friday", arguments: ["2026-07-03", "2020-07-03", "2015-07-03"])
    func july3Holiday(_ day: String) {
        #expect(nyse.session(on: date(day)) == nil)
    }

    @Test("the 2025-01-09 day of mourning is closed; the days around it trade")
    func adHocClosure() throws {
        #expect(nyse.session(on: date("2025-01-09")) == nil)
        #expect(nyse.session(on: date("2025-01-08")) != nil)
        #expect(nyse.session(on: date("2025-01-10")) != nil)
        #expect(nyse.session(on: date("2018-12-05")) == nil)
        #expect(nyse.session(on: date("2012-10-29")) == nil)
        #expect(nyse.session(on: date("2012-10-30")) == nil)
        let note = try #require(nyse.notes(in: date("2025-01-09")...date("2025-01-09")).first)
        #expect(note.kind == .closed)
        #expect(note.reason.contains("Jimmy Carter"))
    }

    // MARK: XNYS rules for many years

    @Test("New Year's Day on a Saturday is not observed: December 31 trades", arguments: [2022, 2028, 2033, 2039, 2050])
    func newYearSaturday(_ year: Int) {
        #expect(date("\(year)-01-01").weekday == .saturday)
        #expect(nyse.session(on: date("\(year - 1)-12-31")) != nil)
        #expect(nyse.session(on: date("\(year)-01-03")) != nil)
        #expect(!USHolidays.observed(year).contains { $0.name == "New Year's Day" })
    }

    @Test("New Year's Day on a Sunday is observed on Monday", arguments: [2023, 2034, 2040])
    func newYearSunday(_ year: Int) {
        #expect(date("\(year)-01-01").weekday == .sunday)
        #expect(nyse.session(on: date("\(year)-01-02")) == nil)
    }

    @Test("Juneteenth and the other fixed holidays move to the nearest weekday", arguments: 2022...2060)
    func fixedHolidays(_ year: Int) {
        for (month, day) in [(6, 19), (7, 4), (12, 25)] {
            let actual = LocalDate(year: year, month: month, day: day)!
            let observed: LocalDate
            switch actual.weekday {
            case .saturday: observed = actual.adding(days: -1)
            case .sunday: observed = actual.adding(days: 1)
            default: observed = actual
            }
            #expect(nyse.session(on: observed) == nil, "\(observed)")
            #expect(nyse.session(on: observed.adding(days: observed.weekday == .friday ? 3 : 1)) != nil || month == 12, "\(observed)")
        }
    }

    @Test("Monday holidays fall on the right Monday", arguments: 2022...2060)
    func mondayHolidays(_ year: Int) {
        func mondays(_ month: Int) -> [LocalDate] {
            (1...LocalDate.daysIn(month: month, year: year)).map { LocalDate(year: year, month: month, day: $0)! }.filter { $0.weekday == .monday }
        }
        let closedMondays = [mondays(1)[2], mondays(2)[2], mondays(5).last!, mondays(9)[0]]
        for day in closedMondays { #expect(nyse.session(on: day) == nil, "\(day)") }
        let thursdays = (1...30).map { LocalDate(year: year, month: 11, day: $0)! }.filter { $0.weekday == .thursday }
        #expect(nyse.session(on: thursdays[3]) == nil)
        #expect(nyse.session(on: thursdays[3].adding(days: 1))?.shortened == "Day after Thanksgiving")
        // The other Mondays of those months trade (unless another holiday lands there).
        #expect(nyse.session(on: mondays(1)[1]) != nil)
        #expect(nyse.session(on: mondays(2)[1]) != nil)
    }

    /// Easter by Gauss's algorithm (with its two exceptions): independent of the code's computus.
    static func gaussEaster(_ year: Int) -> LocalDate {
        let a = year % 19, b = year % 4, c = year % 7
        let k = year / 100, p = (13 + 8 * k) / 25, q = k / 4
        let m = (15 - p + k - q) % 30, n = (4 + k - q) % 7
        let d = (19 * a + m) % 30, e = (2 * b + 4 * c + 6 * d + n) % 7
        if d == 29 && e == 6 { return LocalDate(year: year, month: 4, day: 19)! }
        if d == 28 && e == 6 && (11 * m + 11) % 30 < 19 { return LocalDate(year: year, month: 4, day: 18)! }
        let day = 22 + d + e
        return day <= 31 ? LocalDate(year: year, month: 3, day: day)! : LocalDate(year: year, month: 4, day: day - 31)!
    }

    @Test(
        "Good Friday by computus, 2022–2035",
        arguments: [
            (2022, "2022-04-15"), (2023, "2023-04-07"), (2024, "2024-03-29"), (2025, "2025-04-18"), (2026, "2026-04-03"),
            (2027, "2027-03-26"), (2028, "2028-04-14"), (2029, "2029-03-30"), (2030, "2030-04-19"), (2031, "2031-04-11"),
            (2032, "2032-03-26"), (2033, "2033-04-15"), (2034, "2034-04-07"), (2035, "2035-03-23"),
        ])
    func goodFriday(_ year: Int, _ expected: String) {
        #expect(USHolidays.easter(year).adding(days: -2) == date(expected))
        #expect(nyse.session(on: date(expected)) == nil)
        #expect(nyse.session(on: date(expected).adding(days: -1)) != nil)
        #expect(nyse.session(on: date(expected).adding(days: 3)) != nil)
    }

    @Test(
        "well-known Easter Sundays",
        arguments: [
            "1818-03-22", "1886-04-25", "1943-04-25", "2000-04-23", "2008-03-23", "2011-04-24", "2019-04-21", "2038-04-25", "2285-03-22",
        ])
    func knownEaster(_ text: String) {
        let expected = date(text)
        #expect(USHolidays.easter(expected.year) == expected)
        #expect(expected.weekday == .sunday)
    }

    @Test("the computus agrees with Gauss's algorithm for 1583–4099")
    func computusCrossCheck() {
        for year in 1583...4099 {
            let easter = USHolidays.easter(year)
            #expect(easter == Self.gaussEaster(year), "\(year)")
            #expect(easter.weekday == .sunday, "\(year)")
        }
    }

    @Test("early closes follow the rule for many years", arguments: 2022...2060)
    func earlyCloseRule(_ year: Int) {
        let july3 = LocalDate(year: year, month: 7, day: 3)!
        let eve = LocalDate(year: year, month: 12, day: 24)!
        for day in [july3, eve] {
            let session = nyse.session(on: day)
            switch day.weekday {
            case .monday, .tuesday, .wednesday, .thursday:
                #expect(session.map { newYork.local($0.close).hour } == 13, "\(day)")
            case .friday:
                // The observed Independence Day / Christmas: closed.
                #expect(session == nil, "\(day)")
            default:
                #expect(session == nil, "\(day)")
            }
        }
    }

    @Test("every year has 250 to 253 sessions", arguments: 2022...2100)
    func sessionCounts(_ year: Int) {
        let count = nyse.sessions(in: date("\(year)-01-01")...date("\(year)-12-31")).count
        #expect((250...253).contains(count), "\(year): \(count)")
    }

    @Test("nextTradeDate skips weekends and holidays")
    func nextTradeDate() {
        #expect(nyse.nextTradeDate(onOrAfter: date("2026-11-26")) == date("2026-11-27"))
        #expect(nyse.nextTradeDate(onOrAfter: date("2026-11-28")) == date("2026-11-30"))
        #expect(nyse.nextTradeDate(onOrAfter: date("2026-12-25")) == date("2026-12-28"))
        #expect(nyse.nextTradeDate(onOrAfter: date("2026-11-30")) == date("2026-11-30"))
    }

    // MARK: CME

    @Test("a CME session opens 17:00 CT the evening before and closes 16:00 CT")
    func cmeRegular() throws {
        // Monday 2026-11-30: opens Sunday 17:00 CST.
        let monday = try #require(cme.session(on: date("2026-11-30")))
        #expect(monday.open == instant("2026-11-29T23:00:00Z"))
        #expect(monday.close == instant("2026-11-30T22:00:00Z"))
        #expect(chicago.local(monday.open) == LocalDateTime(date: date("2026-11-29"), hour: 17, minute: 0))
        // Tuesday in summer (CDT).
        let tuesday = try #require(cme.session(on: date("2026-07-07")))
        #expect(tuesday.open == instant("2026-07-06T22:00:00Z"))
        #expect(tuesday.close == instant("2026-07-07T21:00:00Z"))
        // In New York terms: 18:00 to 17:00 all year.
        for session in [monday, tuesday] {
            #expect(newYork.local(session.open).hour == 18)
            #expect(newYork.local(session.close).hour == 17)
        }
        // No trade date on weekends.
        #expect(cme.session(on: date("2026-11-28")) == nil)
        #expect(cme.session(on: date("2026-11-29")) == nil)
    }

    @Test("a CME week opens Sunday and closes Friday, across a DST change")
    func cmeWeekAcrossDST() throws {
        // 2026-03-09 (Monday) opens Sunday 2026-03-08 17:00 CDT (the change was at 02:00 that morning).
        let monday = try #require(cme.session(on: date("2026-03-09")))
        #expect(monday.open == instant("2026-03-08T22:00:00Z"))
        let friday = try #require(cme.session(on: date("2026-03-06")))
        #expect(friday.close == instant("2026-03-06T22:00:00Z"))
    }

    @Test("MLK Day 2026: halt at 12:00 CT, reopen 17:00 CT for Tuesday")
    func cmeMLK() throws {
        let mlk = try #require(cme.session(on: date("2026-01-19")))
        #expect(mlk.open == instant("2026-01-18T23:00:00Z"))
        #expect(mlk.close == instant("2026-01-19T18:00:00Z"))
        #expect(mlk.shortened == "Martin Luther King Jr. Day halt")
        let tuesday = try #require(cme.session(on: date("2026-01-20")))
        #expect(tuesday.open == instant("2026-01-19T23:00:00Z"))
        #expect(tuesday.close == instant("2026-01-20T22:00:00Z"))
        let note = try #require(cme.notes(in: date("2026-01-19")...date("2026-01-19")).first)
        #expect(note.kind == .halt)
        #expect(note.reason == "Martin Luther King Jr. Day halt, closes 12:00 CT")
    }

    @Test(
        "holidays on which Globex trades halt at 12:00 CT",
        arguments: [
            "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26", "2027-07-05",
        ])
    func cmeHalts(_ day: String) throws {
        let session = try #require(cme.session(on: date(day)))
        #expect(chicago.local(session.close) == LocalDateTime(date: date(day), hour: 12, minute: 0))
        #expect(session.shortened?.hasSuffix("halt") == true)
        // The next trade date reopens at 17:00 the same evening.
        let next = try #require(cme.nextTradeDate(onOrAfter: date(day).adding(days: 1)))
        #expect(chicago.local(try #require(cme.session(on: next)).open) == LocalDateTime(date: next.adding(days: -1), hour: 17, minute: 0))
    }

    @Test("Thanksgiving 2026: halt 12:00, the day after closes 12:15 CT")
    func cmeThanksgiving() throws {
        let thanksgiving = try #require(cme.session(on: date("2026-11-26")))
        #expect(thanksgiving.close == instant("2026-11-26T18:00:00Z"))
        let friday = try #require(cme.session(on: date("2026-11-27")))
        #expect(friday.open == instant("2026-11-26T23:00:00Z"))
        #expect(friday.close == instant("2026-11-27T18:15:00Z"))
        #expect(friday.shortened == "Day after Thanksgiving")
        let notes = cme.notes(in: date("2026-11-26")...date("2026-11-27"))
        #expect(notes.map(\.kind) == [.halt, .earlyClose])
    }

    @Test("Christmas Eve closes 12:15 CT; Christmas and New Year have no session")
    func cmeChristmasNewYear() throws {
        let eve = try #require(cme.session(on: date("2026-12-24")))
        #expect(eve.close == instant("2026-12-24T18:15:00Z"))
        #expect(cme.session(on: date("2026-12-25")) == nil)
        #expect(cme.session(on: date("2027-01-01")) == nil)
        #expect(cme.session(on: date("2026-01-01")) == nil)
        // The next trade dates open on the holiday's evening (Christmas Friday → Sunday; New Year Thursday → Thursday evening).
        #expect(cme.session(on: date("2026-12-28"))?.open == instant("2026-12-27T23:00:00Z"))
        #expect(cme.session(on: date("2026-01-02"))?.open == instant("2026-01-01T23:00:00Z"))
        #expect(cme.session(on: date("2025-12-26"))?.open == instant("2025-12-25T23:00:00Z"))
        let notes = cme.notes(in: date("2026-12-24")...date("2026-12-25"))
        #expect(notes.map(\.kind) == [.earlyClose, .closed])
    }

    @Test("Good Friday 2026 is a short session closing 08:15 CT")
    func cmeGoodFriday2026() throws {
        let session = try #require(cme.session(on: date("2026-04-03")))
        #expect(session.open == instant("2026-04-02T22:00:00Z"))
        #expect(session.close == instant("2026-04-03T13:15:00Z"))
        #expect(session.shortened == "Good Friday short session")
    }

    @Test("Good Friday 2023 (payrolls day) traded until 08:15 CT")
    func cmeGoodFriday2023() throws {
        let session = try #require(cme.session(on: date("2023-04-07")))
        #expect(session.close == instant("2023-04-07T13:15:00Z"))
    }

    @Test("other Good Fridays are closed", arguments: ["2022-04-15", "2024-03-29", "2025-04-18", "2027-03-26", "2028-04-14"])
    func cmeGoodFridayClosed(_ day: String) {
        #expect(cme.session(on: date(day)) == nil)
        #expect(cme.notes(in: date(day)...date(day)).first?.kind == .closed)
    }

    @Test(
        "July 3 before Independence Day closes 12:15 CT (CME notices), only when the NYSE closes early",
        arguments: ["2024-07-03", "2025-07-03", "2028-07-03", "2029-07-03", "2030-07-03"])
    func cmeJuly3(_ day: String) throws {
        let session = try #require(cme.session(on: date(day)))
        #expect(chicago.local(session.close) == LocalDateTime(date: date(day), hour: 12, minute: 15))
        #expect(session.shortened == "Day before Independence Day")
    }

    @Test("2026-07-02 (Thursday before the observed holiday) has a full session; 2026-07-03 halts at 12:00")
    func cmeJuly2026() throws {
        #expect(chicago.local(try #require(cme.session(on: date("2026-07-02"))).close).hour == 16)
        #expect(chicago.local(try #require(cme.session(on: date("2026-07-03"))).close).hour == 12)
    }

    @Test("2025-01-09, the National Day of Mourning: equity futures traded until 08:30 CT")
    func cmeDayOfMourning() throws {
        let session = try #require(cme.session(on: date("2025-01-09")))
        #expect(session.open == instant("2025-01-08T23:00:00Z"))
        #expect(session.close == instant("2025-01-09T14:30:00Z"))
        #expect(session.shortened == "National Day of Mourning for Jimmy Carter")
        // The next trade date opens at the regular time that evening.
        #expect(cme.session(on: date("2025-01-10"))?.open == instant("2025-01-09T23:00:00Z"))
    }

    // MARK: Overrides

    @Test("XNYS overrides: added closures and early closes")
    func nyseOverrides() throws {
        let calendar = NYSECalendar(
            overrides: CalendarOverrides(
                closures: [date("2026-12-31"): "snow day", date("2026-11-27"): "closed instead of early"],
                closes: [date("2026-12-30"): 12 * 3600 + 30 * 60]))
        #expect(calendar.session(on: date("2026-12-31")) == nil)
        #expect(calendar.session(on: date("2026-11-27")) == nil)
        let early = try #require(calendar.session(on: date("2026-12-30")))
        #expect(early.close == instant("2026-12-30T17:30:00Z"))
        #expect(early.shortened == "early close (jobs.yaml)")
        #expect(calendar.sessions(in: date("2026-01-01")...date("2026-12-31")).count == 249)
        let notes = calendar.notes(in: date("2026-12-30")...date("2026-12-31"))
        #expect(notes.map(\.kind) == [.earlyClose, .closed])
        #expect(notes.last?.reason == "snow day")
        // The default calendar is untouched.
        #expect(nyse.session(on: date("2026-12-31")) != nil)
    }

    @Test("CME overrides: a closure replaces a short session, a close opens a closed day")
    func cmeOverrides() throws {
        let calendar = CMECalendar(
            overrides: CalendarOverrides(
                closures: [date("2026-04-03"): "no Good Friday session"],
                closes: [date("2025-04-18"): 8 * 3600 + 15 * 60, date("2026-12-31"): 12 * 3600 + 15 * 60]))
        #expect(calendar.session(on: date("2026-04-03")) == nil)
        let goodFriday = try #require(calendar.session(on: date("2025-04-18")))
        #expect(goodFriday.close == instant("2025-04-18T13:15:00Z"))
        #expect(goodFriday.shortened == "changed close (jobs.yaml)")
        let newYearsEve = try #require(calendar.session(on: date("2026-12-31")))
        #expect(newYearsEve.close == instant("2026-12-31T18:15:00Z"))
    }

    @Test("Market.calendar passes overrides through")
    func marketCalendar() {
        let overrides = CalendarOverrides(closures: [date("2026-12-31"): "x"])
        #expect(Market.xnys.calendar(overrides: overrides).session(on: date("2026-12-31")) == nil)
        #expect(Market.cme.calendar(overrides: overrides).session(on: date("2026-12-31")) == nil)
        #expect(Market.xnys.calendar().code == "XNYS")
        #expect(Market.cme.calendar().code == "CME")
        #expect(Market.xnys.calendar().zone == newYork)
        #expect(Market.cme.calendar().zone == chicago)
    }
}

@Suite("Calendar overrides")
struct CalendarOverrideTests {
    @Test func anXNYSEarlyCloseOnAHolidayOpensTheDay() throws {
        let christmas = try LocalDate(parsing: "2026-12-25")
        #expect(NYSECalendar().session(on: christmas) == nil)
        let calendar = NYSECalendar(overrides: CalendarOverrides(closes: [christmas: 13 * 3600]))
        let session = try #require(calendar.session(on: christmas))
        #expect(session.close == (try Instant(iso8601: "2026-12-25T18:00:00Z")))
    }
}
