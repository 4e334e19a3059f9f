@testable import Scheduler

/// `2026-11-27T14:35:00Z` as an instant; traps on a malformed literal (a bug in the test).
func instant(_ text: String) -> Instant {
    do { return try Instant(iso8601: text) } catch { fatalError("bad instant literal \(text): \(error)") }
}

/// `2026-11-27` as a date; traps on a malformed literal.
func date(_ text: String) -> LocalDate {
    do { return try LocalDate(parsing: text) } catch { fatalError("bad date literal \(text): \(error)") }
}

/// A cron expression from a literal; traps when it does not parse.
func cron(_ text: String) -> CronExpression {
    do { return try CronExpression(text) } catch { fatalError("bad cron literal \(text): \(error)") }
}

let newYork = ZoneRules.newYork
let chicago = ZoneRules.chicago

extension Schedule {
    /// The ISO 8601 (UTC) texts of the first `count` instants after `start`.
    func upcomingText(after start: String, count: Int) -> [String] {
        upcoming(after: instant(start), count: count).map(\.iso8601)
    }

    /// The instants in `(start, end]`.
    func instants(after start: Instant, through end: Instant) -> [Instant] {
        var result: [Instant] = []
        var cursor = start
        while let next = next(after: cursor), next <= end {
            result.append(next)
            cursor = next
        }
        return result
    }
}

extension CronExpression {
    /// Whether a wall-clock reading matches every field (an oracle independent of `firstMatch`).
    func matches(_ local: LocalDateTime) -> Bool {
        func has(_ bits: UInt64, _ value: Int) -> Bool { bits & (UInt64(1) << UInt64(value)) != 0 }
        guard has(seconds, local.second), has(minutes, local.minute), has(hours, local.hour), has(months, local.date.month) else {
            return false
        }
        let dom = has(daysOfMonth, local.date.day)
        let dow = has(daysOfWeek, local.date.weekday.rawValue)
        return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow
    }
}
