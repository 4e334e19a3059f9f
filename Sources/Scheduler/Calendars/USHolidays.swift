/// US federal-style holiday dates the exchange calendars are built from.
enum USHolidays {
    /// Easter Sunday (Gregorian computus, the anonymous algorithm).
    static func easter(_ year: Int) -> LocalDate {
        let a = year % 19
        let b = year / 100
        let c = year % 100
        let d = b / 4
        let e = b % 4
        let f = (b + 8) / 25
        let g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4
        let k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = ((h + l - 7 * m + 114) % 31) + 1
        return LocalDate(year: year, month: month, day: day)!
    }

    /// The `n`th `weekday` of `month` (n = 1…5), or the last one when `n` is -1.
    static func nth(_ n: Int, _ weekday: Weekday, month: Int, year: Int) -> LocalDate {
        if n > 0 {
            let first = LocalDate(year: year, month: month, day: 1)!
            let shift = (weekday.rawValue - first.weekday.rawValue + 7) % 7
            return first.adding(days: shift + 7 * (n - 1))
        }
        let last = LocalDate(year: year, month: month, day: LocalDate.daysIn(month: month, year: year))!
        let shift = (last.weekday.rawValue - weekday.rawValue + 7) % 7
        return last.adding(days: -shift)
    }

    /// A fixed-date holiday moved to the nearest weekday (Saturday → Friday, Sunday → Monday).
    static func nearestWeekday(_ date: LocalDate) -> LocalDate {
        switch date.weekday {
        case .saturday: return date.adding(days: -1)
        case .sunday: return date.adding(days: 1)
        default: return date
        }
    }

    /// One observed holiday.
    struct Holiday {
        var date: LocalDate
        var name: String
        /// Whether CME Globex trades on it (halting at 12:00 CT) rather than closing.
        var globexTrades: Bool
    }

    /// The NYSE holidays of `year` as observed (NYSE Rule 7.2; valid from 2022 on).
    static func observed(_ year: Int) -> [Holiday] {
        var result: [Holiday] = []
        let newYear = LocalDate(year: year, month: 1, day: 1)!
        // Saturday: not observed at all (the Friday before is December 31, a trading day).
        if newYear.weekday == .sunday {
            result.append(Holiday(date: newYear.adding(days: 1), name: "New Year's Day", globexTrades: false))
        } else if newYear.weekday != .saturday {
            result.append(Holiday(date: newYear, name: "New Year's Day", globexTrades: false))
        }
        result.append(Holiday(date: nth(3, .monday, month: 1, year: year), name: "Martin Luther King Jr. Day", globexTrades: true))
        result.append(Holiday(date: nth(3, .monday, month: 2, year: year), name: "Washington's Birthday", globexTrades: true))
        result.append(Holiday(date: easter(year).adding(days: -2), name: "Good Friday", globexTrades: false))
        result.append(Holiday(date: nth(-1, .monday, month: 5, year: year), name: "Memorial Day", globexTrades: true))
        if year >= 2022 {
            result.append(Holiday(date: nearestWeekday(LocalDate(year: year, month: 6, day: 19)!), name: "Juneteenth", globexTrades: true))
        }
        result.append(Holiday(date: nearestWeekday(LocalDate(year: year, month: 7, day: 4)!), name: "Independence Day", globexTrades: true))
        result.append(Holiday(date: nth(1, .monday, month: 9, year: year), name: "Labor Day", globexTrades: true))
        result.append(Holiday(date: nth(4, .thursday, month: 11, year: year), name: "Thanksgiving Day", globexTrades: true))
        result.append(Holiday(date: nearestWeekday(LocalDate(year: year, month: 12, day: 25)!), name: "Christmas Day", globexTrades: false))
        return result
    }

    /// The days of `year` on which US equity markets close early, with the reason.
    static func earlyCloseDays(_ year: Int) -> [(date: LocalDate, name: String)] {
        var result: [(LocalDate, String)] = []
        let july3 = LocalDate(year: year, month: 7, day: 3)!
        if (1...4).contains(july3.weekday.rawValue) { result.append((july3, "Day before Independence Day")) }
        result.append((nth(4, .thursday, month: 11, year: year).adding(days: 1), "Day after Thanksgiving"))
        let christmasEve = LocalDate(year: year, month: 12, day: 24)!
        if (1...4).contains(christmasEve.weekday.rawValue) { result.append((christmasEve, "Christmas Eve")) }
        return result
    }
}
