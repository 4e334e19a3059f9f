import Foundation
import Testing

@testable import Scheduler

/// The CME calendar compared day by day with `pandas_market_calendars` (`CME_Equity`), when that
/// Python package is installed (`pip install pandas_market_calendars`); skipped otherwise.
@Suite("CME calendar against pandas_market_calendars")
struct CMEReferenceTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/compare-cme-calendar.py").path

    /// Whether `python3` can import `pandas_market_calendars`.
    static let referenceInstalled: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import pandas_market_calendars"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Every trade date where schedctl deliberately differs, with CME's close on our side and the
    /// package's (CT; nil: no session). docs/configuration.md's *Calendars* gives the source of each.
    static let documented: [String: (ours: String?, theirs: String?)] = {
        var rows: [String: (String?, String?)] = [:]
        // Good Friday: CME opens equity futures only when payrolls are released that day (2026);
        // the package assumes an 08:15 session every year.
        for day in ["2024-03-29", "2025-04-18", "2027-03-26", "2028-04-14", "2029-03-30", "2030-04-19"] { rows[day] = (nil, "08:15") }
        // CME equity early closes are 12:15 CT; the package uses 12:00.
        for day in [
            "2024-07-03", "2025-07-03", "2028-07-03", "2029-07-03", "2030-07-03",
            "2024-11-29", "2025-11-28", "2026-11-27", "2027-11-26", "2028-11-24", "2029-11-23", "2030-11-29",
            "2024-12-24", "2025-12-24", "2026-12-24", "2029-12-24", "2030-12-24",
        ] {
            rows[day] = ("12:15", "12:00")
        }
        // National Day of Mourning: CME kept equities open until 08:30 CT; the package closes the day.
        rows["2025-01-09"] = ("08:30", nil)
        return rows
    }()

    @Test("2024–2030 agree day by day except the documented dates", .enabled(if: referenceInstalled, "pandas_market_calendars is not installed"))
    func agreesExceptDocumented() throws {
        let cme = CMECalendar()
        let sessions = cme.sessions(in: LocalDate(year: 2024, month: 1, day: 1)!...LocalDate(year: 2030, month: 12, day: 31)!)
        #expect(sessions.count > 1700)
        let rows = sessions.map { ["date": $0.date.description, "open": $0.open.iso8601, "close": $0.close.iso8601] }
        let input = try JSONSerialization.data(withJSONObject: rows)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "2024-01-01", "2030-12-31"]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)

        var found: [String: (ours: String?, theirs: String?)] = [:]
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let day = try #require(object["date"] as? String)
            found[day] = (object["schedctl"] as? String, object["pandas"] as? String)
        }
        #expect(
            found.keys.sorted() == Self.documented.keys.sorted(),
            "undocumented differences: \(Set(found.keys).symmetricDifference(Self.documented.keys).sorted())")
        for (day, expected) in Self.documented {
            #expect(found[day]?.ours == expected.ours, "\(day): schedctl")
            #expect(found[day]?.theirs == expected.theirs, "\(day): pandas_market_calendars")
        }
    }
}
