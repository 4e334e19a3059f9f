import Foundation
import SchedctlTesting
import Testing

@testable import Scheduler

/// Instants, dates and zone names.
@Suite("Time")
struct TimeTests {
    @Test(
        "ISO 8601 instants parse with Z or an offset, and print in UTC or a zone",
        arguments: [
            ("2026-11-27T14:35:00Z", "2026-11-27T14:35:00Z"), ("2026-11-27T09:35:00-05:00", "2026-11-27T14:35:00Z"),
            ("2026-11-27 14:35Z", "2026-11-27T14:35:00Z"), ("2026-11-27T20:05:00+0530", "2026-11-27T14:35:00Z"),
            ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
        ])
    func parseInstant(_ text: String, _ utc: String) throws {
        #expect(try Instant(iso8601: text).iso8601 == utc)
    }

    @Test(
        "malformed or zone-less instants are rejected",
        arguments: [
            "2026-11-27T14:35:00", "2026-11-27", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T14:35:00.5Z", "yesterday",
        ])
    func badInstant(_ text: String) {
        let error = #expect(throws: TimeParseError.self) { try Instant(iso8601: text) }
        #expect(error?.kind == .time)
    }

    @Test("an instant in a zone shows its offset")
    func instantInZone() {
        #expect(instant("2026-11-27T14:35:00Z").iso8601(in: newYork) == "2026-11-27T09:35:00-05:00")
        #expect(instant("2026-07-01T13:35:00Z").iso8601(in: newYork) == "2026-07-01T09:35:00-04:00")
        #expect(instant("2026-07-01T13:35:00Z").iso8601(in: .utc) == "2026-07-01T13:35:00+00:00")
    }

    @Test("dates: weekdays, leap years, epoch days round-trip")
    func dates() {
        #expect(date("1970-01-01").daysSinceEpoch == 0)
        #expect(date("1970-01-01").weekday == .thursday)
        #expect(date("2026-11-27").weekday == .friday)
        #expect(LocalDate(year: 2028, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 2100, month: 2, day: 29) == nil)
        #expect(LocalDate(year: 2000, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 2026, month: 4, day: 31) == nil)
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let d = LocalDate(daysSinceEpoch: days)
            #expect(d.daysSinceEpoch == days)
            #expect(LocalDate(year: d.year, month: d.month, day: d.day) == d)
        }
        #expect(date("2026-12-31").adding(days: 1) == date("2027-01-01"))
        #expect(Weekday(name: "Monday") == .monday)
        #expect(Weekday(name: "TUE") == .tuesday)
        #expect(Weekday(name: "mo") == nil)
        #expect(Weekday(name: "mond") == nil)
    }

    @Test(
        "IANA zone names load, including ones missing from Foundation's list on Linux",
        arguments: [
            "UTC", "Etc/UTC", "America/New_York", "America/Chicago", "Asia/Kolkata", "Asia/Tokyo", "Europe/London", "US/Eastern", "Etc/GMT+5",
        ])
    func zoneNames(_ name: String) throws {
        let zone = try #require(ZoneRules.named(name))
        #expect(zone.identifier == name || zone == .utc)
    }

    @Test(
        "abbreviations, offsets and misspellings are not zone names",
        arguments: ["EST", "PST", "GMT+5", "america/new_york", "America/New_york", "Mars/Olympus", "", "New York"])
    func badZoneNames(_ name: String) {
        #expect(ZoneRules.named(name) == nil)
    }

    @Test("Asia/Kolkata is UTC+5:30 all year")
    func kolkata() throws {
        let zone = try #require(ZoneRules.named("Asia/Kolkata"))
        #expect(zone.offset(at: instant("2026-01-01T00:00:00Z")) == 19_800)
        #expect(zone.offset(at: instant("2026-07-01T00:00:00Z")) == 19_800)
    }
}

/// The transition tables against Foundation, for every zone it knows.
@Suite("Zone tables")
struct ZoneTableTests {
    @Test("the offset at random instants 1970–2100 equals Foundation's, for every known zone")
    func offsetsMatchFoundation() throws {
        var rng = SplitMix64(seed: 2026)
        var mismatches: [String] = []
        for name in TimeZone.knownTimeZoneIdentifiers.sorted() {
            guard let rules = ZoneRules.named(name), let zone = TimeZone(identifier: name) else { continue }
            for _ in 0..<60 {
                let seconds = Int64.random(in: 0..<4_102_444_800, using: &rng)
                let expected = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
                let actual = rules.offset(at: Instant(seconds: seconds))
                if expected != actual { mismatches.append("\(name) at \(Instant(seconds: seconds)): \(actual) ≠ \(expected)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(20).joined(separator: "; "))")
    }
}
