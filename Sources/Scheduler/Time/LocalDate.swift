/// A day in the proleptic Gregorian calendar, with no time zone.
public struct LocalDate: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The year, e.g. 2026.
    public let year: Int
    /// The month, 1–12.
    public let month: Int
    /// The day of the month, 1–31.
    public let day: Int

    /// A validated date, or `nil` when the day does not exist (2026-02-29).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= LocalDate.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` after 1970-01-01.
    public init(daysSinceEpoch days: Int64) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.year = Int(yoe + era * 400 + (m <= 2 ? 1 : 0))
        self.month = Int(m)
        self.day = Int(d)
    }

    /// Parses `YYYY-MM-DD`.
    public init(parsing text: String) throws(TimeParseError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            let date = LocalDate(year: y, month: m, day: d)
        else { throw TimeParseError(text: text, expected: "a date such as 2026-11-27") }
        self = date
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int64 {
        // Howard Hinnant's days_from_civil.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The day of the week.
    public var weekday: Weekday { Weekday.of(daysSinceEpoch: daysSinceEpoch) }

    /// The date `count` days later (earlier when negative).
    public func adding(days count: Int) -> LocalDate { LocalDate(daysSinceEpoch: daysSinceEpoch + Int64(count)) }

    /// `YYYY-MM-DD`.
    public var description: String { LocalDate.pad(year, 4) + "-" + LocalDate.pad(month, 2) + "-" + LocalDate.pad(day, 2) }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Whether `year` has a February 29.
    public static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    /// The number of days in `month` of `year`.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

/// A day of the week; raw values follow cron (Sunday = 0).
public enum Weekday: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case sunday = 0, monday, tuesday, wednesday, thursday, friday, saturday

    /// The weekday of the day `days` after 1970-01-01 (a Thursday).
    static func of(daysSinceEpoch days: Int64) -> Weekday {
        let r = (days + 4).floorDivided(by: 7).remainder
        return Weekday(rawValue: Int(r))!
    }

    /// Three-letter lower-case name, as in cron (`mon`).
    public var shortName: String { ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][rawValue] }

    /// Parses `mon`, `Monday`, `MON`.
    public init?(name: String) {
        let lower = name.lowercased()
        guard lower.count >= 3, let match = Weekday.allCases.first(where: { lower.hasPrefix($0.shortName) }) else { return nil }
        let full = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"][match.rawValue]
        guard lower == match.shortName || lower == full else { return nil }
        self = match
    }

    public var description: String { shortName }

    /// Monday to Friday.
    public var isWeekday: Bool { self != .saturday && self != .sunday }
}

/// A wall-clock date and time with no zone, to the second.
public struct LocalDateTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The calendar day.
    public var date: LocalDate
    /// Seconds since local midnight, 0..<86400.
    public var secondOfDay: Int

    /// A date and a second of that day.
    public init(date: LocalDate, secondOfDay: Int) {
        self.date = date
        self.secondOfDay = secondOfDay
    }

    /// A date at `hour:minute:second`.
    public init(date: LocalDate, hour: Int, minute: Int, second: Int = 0) {
        self.init(date: date, secondOfDay: hour * 3600 + minute * 60 + second)
    }

    /// The wall time `localSeconds` after local 1970-01-01T00:00.
    public init(localSeconds: Int64) {
        let (days, secs) = localSeconds.floorDivided(by: 86_400)
        self.init(date: LocalDate(daysSinceEpoch: days), secondOfDay: Int(secs))
    }

    /// Seconds since local 1970-01-01T00:00 (the wall clock read as if it were UTC).
    public var localSeconds: Int64 { date.daysSinceEpoch * 86_400 + Int64(secondOfDay) }

    /// The hour, 0–23.
    public var hour: Int { secondOfDay / 3600 }
    /// The minute, 0–59.
    public var minute: Int { (secondOfDay % 3600) / 60 }
    /// The second, 0–59.
    public var second: Int { secondOfDay % 60 }

    /// `YYYY-MM-DDTHH:MM:SS`.
    public var iso8601: String {
        date.description + "T" + LocalDate.pad(hour, 2) + ":" + LocalDate.pad(minute, 2) + ":" + LocalDate.pad(second, 2)
    }

    /// `YYYY-MM-DD HH:MM` (with `:SS` when not zero).
    public var description: String {
        let base = date.description + " " + LocalDate.pad(hour, 2) + ":" + LocalDate.pad(minute, 2)
        return second == 0 ? base : base + ":" + LocalDate.pad(second, 2)
    }

    public static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool { lhs.localSeconds < rhs.localSeconds }
}
