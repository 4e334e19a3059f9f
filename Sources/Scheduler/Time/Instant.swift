public import Foundation

/// A point in time with whole-second precision: seconds since 1970-01-01T00:00:00Z.
///
/// Nominal fire instants are `Instant`s, so an occurrence key is exact and cheap to compare.
/// ```swift
/// let at = try Instant(iso8601: "2026-11-27T14:35:00Z")
/// print(at)  // 2026-11-27T14:35:00Z
/// ```
public struct Instant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Seconds since the Unix epoch.
    public var seconds: Int64

    /// An instant `seconds` after the Unix epoch.
    public init(seconds: Int64) { self.seconds = seconds }

    /// The instant of `date`, rounded down to the second.
    public init(_ date: Date) { self.seconds = Int64(date.timeIntervalSince1970.rounded(.down)) }

    /// This instant as a Foundation `Date`.
    public var date: Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.seconds < rhs.seconds }

    /// The instant `duration` later.
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(seconds: lhs.seconds + rhs.components.seconds)
    }

    /// The instant `duration` earlier.
    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(seconds: lhs.seconds - rhs.components.seconds)
    }

    /// The elapsed time from `rhs` to `lhs`.
    public static func - (lhs: Instant, rhs: Instant) -> Duration { .seconds(lhs.seconds - rhs.seconds) }

    /// ISO 8601 in UTC, e.g. `2026-11-27T14:35:00Z`.
    public var description: String { iso8601 }

    /// ISO 8601 in UTC, e.g. `2026-11-27T14:35:00Z`.
    public var iso8601: String {
        let (days, secs) = seconds.floorDivided(by: 86_400)
        return LocalDateTime(date: LocalDate(daysSinceEpoch: days), secondOfDay: Int(secs)).iso8601 + "Z"
    }

    /// ISO 8601 with the UTC offset that applies in `zone`, e.g. `2026-11-27T09:35:00-05:00`.
    public func iso8601(in zone: ZoneRules) -> String {
        let offset = zone.offset(at: self)
        let local = LocalDateTime(localSeconds: seconds + Int64(offset))
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        return local.iso8601 + sign + String(format: "%02d:%02d", magnitude / 3600, (magnitude % 3600) / 60)
    }

    /// Parses an ISO 8601 instant with `Z` or a numeric offset: `2026-12-01T14:35:00Z`,
    /// `2026-12-01T09:35:00-05:00`, `2026-12-01 14:35Z`. Fractional seconds are rejected.
    public init(iso8601 text: String) throws(TimeParseError) {
        guard let parsed = ISO8601Text.parse(text) else { throw TimeParseError(text: text, expected: "an ISO 8601 instant such as 2026-12-01T14:35:00Z") }
        guard let offset = parsed.offsetSeconds else {
            throw TimeParseError(text: text, expected: "an instant with 'Z' or an offset such as -05:00 (or give a time zone)")
        }
        self.seconds = parsed.local.localSeconds - Int64(offset)
    }
}

/// A minimal ISO 8601 reader for `YYYY-MM-DD[T ]HH:MM[:SS][Z|±HH:MM]`.
enum ISO8601Text {
    struct Parsed {
        var local: LocalDateTime
        var offsetSeconds: Int?
    }

    static func parse(_ text: String) -> Parsed? {
        let chars = Array(text.utf8)
        var index = 0
        func number(_ count: Int) -> Int? {
            guard index + count <= chars.count else { return nil }
            var value = 0
            for c in chars[index..<(index + count)] {
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            index += count
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard index < chars.count, chars[index] == c else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2) else { return nil }
        guard let date = LocalDate(year: year, month: month, day: day) else { return nil }
        guard index < chars.count, chars[index] == 84 || chars[index] == 116 || chars[index] == 32 else { return nil }
        index += 1
        guard let hour = number(2), expect(58), let minute = number(2) else { return nil }
        var second = 0
        if expect(58) {
            guard let s = number(2) else { return nil }
            second = s
        }
        guard hour < 24, minute < 60, second < 60 else { return nil }
        let local = LocalDateTime(date: date, secondOfDay: hour * 3600 + minute * 60 + second)
        if index == chars.count { return Parsed(local: local, offsetSeconds: nil) }
        if chars[index] == 90 || chars[index] == 122 {
            return index + 1 == chars.count ? Parsed(local: local, offsetSeconds: 0) : nil
        }
        guard chars[index] == 43 || chars[index] == 45 else { return nil }
        let negative = chars[index] == 45
        index += 1
        guard let oh = number(2) else { return nil }
        _ = expect(58)
        guard let om = number(2), index == chars.count, oh < 24, om < 60 else { return nil }
        let offset = oh * 3600 + om * 60
        return Parsed(local: local, offsetSeconds: negative ? -offset : offset)
    }
}

extension Int64 {
    /// Floor division and its non-negative remainder.
    func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = self / divisor
        let r = self % divisor
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}
