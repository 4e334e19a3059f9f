import Foundation

/// A cron expression: five fields (minute hour day-of-month month day-of-week), or six with a
/// leading seconds field; names (`jan`, `mon`), ranges, steps, lists and the `@daily` family.
///
/// When day-of-month and day-of-week are both restricted, a day matches when **either** does
/// (classic cron); a field that starts with `*` (such as `*/2`) counts as unrestricted for that
/// rule, and so does `?`. Every value is range-checked, and an expression that can never fire is an error.
/// ```swift
/// let cron = try CronExpression("5 9 * * mon-fri")
/// ```
public struct CronExpression: Hashable, Sendable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    let seconds: UInt64
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    let daysOfWeek: UInt64
    let dayOfMonthStar: Bool
    let dayOfWeekStar: Bool
    /// Whether the hour field is unrestricted (`*` or `*/n`): such rules run on every real hour.
    public let hourIsWildcard: Bool

    public var description: String { source }

    /// Parses `text`; the error names the field, the value and the allowed range.
    public init(_ text: String) throws(CronError) {
        let trimmed = String(ASCIIText.trimmed(Substring(text)))
        self.source = trimmed
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            switch trimmed.lowercased() {
            case "@yearly", "@annually": expanded = "0 0 1 1 *"
            case "@monthly": expanded = "0 0 1 * *"
            case "@weekly": expanded = "0 0 * * 0"
            case "@daily", "@midnight": expanded = "0 0 * * *"
            case "@hourly": expanded = "0 * * * *"
            default:
                throw CronError(expression: trimmed, message: "unknown shorthand '\(trimmed)'; use @yearly, @monthly, @weekly, @daily or @hourly")
            }
        }
        // Split into fields, remembering where each starts (for error columns).
        var fields: [(text: Substring, offset: Int)] = []
        let bytes = Array(expanded.utf8)
        var index = 0
        while index < bytes.count {
            while index < bytes.count, bytes[index] == 32 || bytes[index] == 9 { index += 1 }
            guard index < bytes.count else { break }
            let start = index
            while index < bytes.count, bytes[index] != 32, bytes[index] != 9 { index += 1 }
            fields.append((Substring(String(decoding: bytes[start..<index], as: UTF8.self)), start))
        }
        guard fields.count == 5 || fields.count == 6 else {
            throw CronError(
                expression: trimmed,
                message:
                    "'\(trimmed)' has \(fields.count) field\(fields.count == 1 ? "" : "s"); cron takes 5 (minute hour day-of-month month day-of-week) or 6 (with a leading seconds field)"
            )
        }
        let hasSeconds = fields.count == 6
        let specs = hasSeconds ? CronField.all : Array(CronField.all.dropFirst())
        var bits: [UInt64] = []
        for (spec, field) in zip(specs, fields) {
            bits.append(try spec.parse(field.text, expression: trimmed, column: field.offset))
        }
        if !hasSeconds { bits.insert(1, at: 0) }
        self.seconds = bits[0]
        self.minutes = bits[1]
        self.hours = bits[2]
        self.daysOfMonth = bits[3]
        self.months = bits[4]
        // Sunday may be written 0 or 7.
        self.daysOfWeek = (bits[5] | (bits[5] >> 7)) & 0x7F
        let offset = hasSeconds ? 1 : 0
        // `?` is read as `*` (Quartz style), so it counts as unrestricted here too.
        func isWildcard(_ field: Substring) -> Bool { field.hasPrefix("*") || field.hasPrefix("?") }
        self.dayOfMonthStar = isWildcard(fields[offset + 2].text)
        self.dayOfWeekStar = isWildcard(fields[offset + 4].text)
        self.hourIsWildcard = isWildcard(fields[offset + 1].text)
        if !canEverFire {
            throw CronError(expression: trimmed, message: "'\(trimmed)' can never fire: no month it allows has the day of the month it asks for")
        }
    }

    private var canEverFire: Bool {
        if !dayOfMonthStar && !dayOfWeekStar { return true }  // either may match: some weekday will
        for month in 1...12 where months & (1 << month) != 0 {
            let longest = month == 2 ? 29 : LocalDate.daysIn(month: month, year: 2001)
            if daysOfMonth & ((UInt64(1) << (longest + 1)) - 2) != 0 { return true }
        }
        return false
    }

    /// Whether the day `date` (whose weekday is `weekday`) matches the day and month fields.
    func matchesDay(month: Int, day: Int, weekday: Int) -> Bool {
        guard months & (1 << month) != 0 else { return false }
        let dom = daysOfMonth & (1 << day) != 0
        let dow = daysOfWeek & (1 << weekday) != 0
        return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow
    }

    /// The smallest set bit at or after `from`, if any.
    static func next(_ bits: UInt64, from: Int) -> Int? {
        guard from < 64 else { return nil }
        let rest = bits >> UInt64(from)
        return rest == 0 ? nil : from + rest.trailingZeroBitCount
    }

    /// The first wall-clock time (in local seconds) at or after `low` and before `high` that
    /// matches every field.
    func firstMatch(from low: Int64, before high: Int64) -> Int64? {
        var (days, secondOfDay) = low.floorDivided(by: 86_400)
        let date = LocalDate(daysSinceEpoch: days)
        var (year, month, day) = (date.year, date.month, date.day)
        var hour = Int(secondOfDay) / 3600
        var minute = (Int(secondOfDay) % 3600) / 60
        var second = Int(secondOfDay) % 60
        let lastDay = min((high - 1).floorDivided(by: 86_400).quotient, days + 366 * 30)
        while days <= lastDay {
            if months & (1 << month) == 0 {
                // Jump to the first day of the next month.
                days += Int64(LocalDate.daysIn(month: month, year: year) - day + 1)
                month += 1
                if month == 13 { month = 1; year += 1 }
                day = 1
                hour = 0; minute = 0; second = 0
                continue
            }
            let weekday = Int((days + 4).floorDivided(by: 7).remainder)
            if matchesDay(month: month, day: day, weekday: weekday),
                let h = CronExpression.next(hours, from: hour)
            {
                if h != hour { hour = h; minute = 0; second = 0 }
                if let m = CronExpression.next(minutes, from: minute) {
                    if m != minute { minute = m; second = 0 }
                    if let s = CronExpression.next(seconds, from: second) {
                        let result = days * 86_400 + Int64(hour * 3600 + minute * 60 + s)
                        return result < high ? result : nil
                    }
                    minute += 1
                    second = 0
                    if minute < 60 { continue }
                }
                hour += 1
                minute = 0
                second = 0
                if hour < 24 { continue }
            }
            // Next day.
            days += 1
            day += 1
            if day > LocalDate.daysIn(month: month, year: year) {
                day = 1
                month += 1
                if month == 13 { month = 1; year += 1 }
            }
            hour = 0; minute = 0; second = 0
        }
        return nil
    }

    /// The first fire instant strictly after `instant` in `zone` under `policy`.
    public func next(after instant: Instant, in zone: ZoneRules, policy: DSTPolicy) -> Instant? {
        WallClockSearch.next(after: instant, in: zone, policy: policy) { firstMatch(from: $0, before: $1) }
    }
}

/// The fields of a cron expression with their ranges and names.
struct CronField: Sendable {
    let name: String
    let range: ClosedRange<Int>
    let names: [String]  // names[i] is the value range.lowerBound + i

    static let all: [CronField] = [
        CronField(name: "second", range: 0...59, names: []),
        CronField(name: "minute", range: 0...59, names: []),
        CronField(name: "hour", range: 0...23, names: []),
        CronField(name: "day-of-month", range: 1...31, names: []),
        CronField(name: "month", range: 1...12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]),
        CronField(name: "day-of-week", range: 0...7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    ]

    private var rangeText: String {
        let base = "\(range.lowerBound)–\(range.upperBound)"
        switch name {
        case "month": return base + " or jan–dec"
        case "day-of-week": return base + " or sun–sat (0 and 7 are Sunday)"
        default: return base
        }
    }

    func parse(_ text: Substring, expression: String, column: Int) throws(CronError) -> UInt64 {
        var bits: UInt64 = 0
        var itemOffset = column
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            bits |= try parseItem(item, expression: expression, column: itemOffset)
            itemOffset += item.count + 1
        }
        return bits
    }

    private func fail(_ message: String, _ expression: String, _ column: Int) -> CronError {
        CronError(expression: expression, message: message, column: column)
    }

    private func value(_ text: Substring, _ expression: String, _ column: Int) throws(CronError) -> Int {
        if let number = Int(text) {
            guard range.contains(number) else {
                throw fail("\(name) \(number) is out of range \(rangeText) in '\(expression)'", expression, column)
            }
            return number
        }
        let lower = text.lowercased()
        if let index = names.firstIndex(of: lower) { return range.lowerBound + index }
        if text.isEmpty { throw fail("empty \(name) value in '\(expression)'", expression, column) }
        throw fail("'\(text)' is not a valid \(name) in '\(expression)'; allowed: \(rangeText)", expression, column)
    }

    private func parseItem(_ item: Substring, expression: String, column: Int) throws(CronError) -> UInt64 {
        var body = item
        var step = 1
        if let slash = item.firstIndex(of: "/") {
            body = item[..<slash]
            let stepText = item[item.index(after: slash)...]
            guard let s = Int(stepText), s >= 1, s <= range.upperBound - range.lowerBound + 1 else {
                throw fail(
                    "step '\(stepText)' in \(name) '\(item)' must be a whole number from 1 to \(range.upperBound - range.lowerBound + 1) in '\(expression)'",
                    expression, column)
            }
            step = s
        }
        var low: Int
        var high: Int
        if body == "*" || body == "?" {
            low = range.lowerBound
            high = name == "day-of-week" ? 6 : range.upperBound
        } else if let dash = body.firstIndex(of: "-"), dash != body.startIndex {
            low = try value(body[..<dash], expression, column)
            high = try value(body[body.index(after: dash)...], expression, column + body.distance(from: body.startIndex, to: dash) + 1)
            guard low <= high else {
                throw fail("\(name) range '\(body)' runs backwards in '\(expression)'; write it as two ranges, e.g. '\(high)-…,…-\(low)'", expression, column)
            }
        } else {
            low = try value(body, expression, column)
            high = item.contains("/") ? range.upperBound : low
        }
        var bits: UInt64 = 0
        var v = low
        while v <= high {
            bits |= 1 << UInt64(v)
            v += step
        }
        return bits
    }
}

/// Finds the next instant whose wall-clock reading matches a rule, walking the zone's spans of
/// constant offset and applying a DST policy at the transitions between them.
enum WallClockSearch {
    /// `match(low, high)` returns the first matching local time in `[low, high)`.
    static func next(
        after instant: Instant,
        in zone: ZoneRules,
        policy: DSTPolicy,
        match: (Int64, Int64) -> Int64?
    ) -> Instant? {
        let p = instant.seconds
        let transitions = zone.transitions
        let offsets = zone.offsets
        var j = zone.segment(containing: p)
        let far = Int64(1) << 50
        while true {
            let offset = Int64(offsets[j])
            let start = j > 0 ? transitions[j - 1] : -far
            let end = j < transitions.count ? transitions[j] : far
            var best: Int64?
            var low = max(start, p + 1) + offset
            var high = end + offset
            if j > 0, Int64(offsets[j - 1]) > offset, policy.overlap == .first {
                low = max(low, start + Int64(offsets[j - 1]))
            }
            if j < transitions.count, Int64(offsets[j + 1]) < offset, policy.overlap == .last {
                high = min(high, end + Int64(offsets[j + 1]))
            }
            if low < high, let local = match(low, high) { best = local - offset }
            if j > 0, policy.gap == .shiftForward {
                let previous = Int64(offsets[j - 1])
                if previous < offset {
                    let gapLow = max(start, p + 1) + previous
                    let gapHigh = start + offset
                    if gapLow < gapHigh, let local = match(gapLow, gapHigh) {
                        best = min(best ?? .max, local - previous)
                    }
                }
            }
            if let best { return Instant(seconds: best) }
            if j >= transitions.count { return nil }
            j += 1
        }
    }
}
