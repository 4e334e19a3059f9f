import Foundation
import SchedctlTesting
import Testing

@testable import Scheduler

/// The byte writers behind `next --json` against Foundation's formatters: the same text for
/// every instant tried (around each offset change of zones with negative, half-hour and
/// 45-minute offsets, on leap days, and at random), and the same JSON string escaping.
@Suite("ISO 8601 and JSON bytes")
struct TextBytesTests {
    static let zones = [
        "America/New_York", "America/Sao_Paulo", "America/St_Johns", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham",
        "Europe/London", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC",
    ]

    /// Foundation's text for `seconds` in `zone`: `2026-11-27T09:35:00-05:00` (`Z` form for UTC).
    func foundation(_ seconds: Int64, zone: String?) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = TimeZone(identifier: zone ?? "UTC")!
        formatter.dateFormat = zone == nil ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ssxxx"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    func bytes(_ write: (inout [UInt8]) -> Void) -> String {
        var out: [UInt8] = []
        write(&out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Instants around every offset change of `rules` (1970–2200), on leap days, and at random.
    func instants(_ rules: ZoneRules) -> [Int64] {
        var result: [Int64] = []
        for transition in rules.transitions {
            for delta: Int64 in [-86_400, -3601, -3600, -1, 0, 1, 1799, 3599, 3600, 86_399] { result.append(transition + delta) }
        }
        for day in ["1972-02-29", "2000-02-28", "2000-02-29", "2000-03-01", "2024-02-29", "2096-02-29", "2100-02-28", "2100-03-01"] {
            let midnight = try! LocalDate(parsing: day).daysSinceEpoch * 86_400
            for delta: Int64 in [-50_401, -1, 0, 1, 43_200, 50_400, 86_399] { result.append(midnight + delta) }
        }
        var rng = SplitMix64(seed: 8)
        for _ in 0..<2_000 { result.append(Int64.random(in: 0..<7_258_118_400, using: &rng)) }
        return result
    }

    @Test("instants in UTC and in zones print as Foundation prints them", arguments: zones)
    func instantsMatchFoundation(_ name: String) throws {
        let rules = try #require(ZoneRules.named(name))
        let zoned = DateFormatter()
        zoned.locale = Locale(identifier: "en_US_POSIX")
        zoned.calendar = Calendar(identifier: .gregorian)
        zoned.timeZone = TimeZone(identifier: name)!
        zoned.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
        let utc = DateFormatter()
        utc.locale = Locale(identifier: "en_US_POSIX")
        utc.calendar = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        utc.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        var mismatches: [String] = []
        let all = instants(rules)
        #expect(all.count >= 2_056)
        for seconds in all {
            let instant = Instant(seconds: seconds)
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let local = bytes { ISO8601Bytes.append(instant, in: rules, to: &$0) }
            let universal = bytes { ISO8601Bytes.appendUTC(instant, to: &$0) }
            if local != zoned.string(from: date) || local != instant.iso8601(in: rules) {
                mismatches.append("\(seconds): \(local) vs \(zoned.string(from: date))")
            }
            if universal != utc.string(from: date) || universal != instant.iso8601 {
                mismatches.append("\(seconds): \(universal) vs \(utc.string(from: date))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func negativeHalfHourAndLeapDayExamples() throws {
        let stJohns = try #require(ZoneRules.named("America/St_Johns"))
        let instant = try Instant(iso8601: "2024-02-29T12:00:00Z")
        #expect(bytes { ISO8601Bytes.append(instant, in: stJohns, to: &$0) } == "2024-02-29T08:30:00-03:30")
        #expect(bytes { ISO8601Bytes.append(instant, in: stJohns, to: &$0) } == foundation(instant.seconds, zone: "America/St_Johns"))
        #expect(bytes { ISO8601Bytes.appendUTC(Instant(seconds: -1), to: &$0) } == "1969-12-31T23:59:59Z")
        #expect(bytes { ISO8601Bytes.appendUTC(Instant(seconds: -1), to: &$0) } == foundation(-1, zone: nil))
    }

    @Test func stringsAreEscapedAsJSONEncoderEscapesThem() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var texts = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
        texts += [
            "", "cron '5 9 * * 1-5' (America/New_York)", "XNYS close -10m; session 2026-11-27 (early close 13:00)", "a/b\\c\"d", "é — ü 😀 \u{2028}\u{7F}",
            "line\nnext\ttab\r\u{0}\u{1F}",
        ]
        for text in texts {
            let expected = String(decoding: try encoder.encode([text]), as: UTF8.self)
            let written = "[" + bytes { JSONBytes.appendString(text, to: &$0) } + "]"
            #expect(written == expected, "\(Array(text.unicodeScalars).map(\.value))")
        }
    }
}
