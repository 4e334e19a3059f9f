import ArgumentParser
import Foundation
import Inspection
import Scheduler

/// `schedctl calendar`: an exchange's sessions, holidays and early closes over a range.
struct CalendarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar",
        abstract: "Show an exchange's sessions, holidays and early closes.",
        discussion: "For CME, a session's date is its trade date; it opens the evening before. With --config, the file's calendar overrides apply.")

    @Argument(help: "XNYS or CME.") var market: String
    @Option(help: "First date (YYYY-MM-DD).") var from: String?
    @Option(help: "Last date (YYYY-MM-DD).") var to: String?
    @Option(help: "A whole year instead of --from/--to.") var year: Int?
    @Option(help: "Apply the calendar overrides in this configuration file.") var config: String?
    @Flag(help: "Print JSON: [{date, open, close}].") var json = false

    func run() async throws {
        try await exiting {
            guard let market = Market(rawValue: market.uppercased()) else {
                throw CommandFailure(message: "unknown market '\(market)'; use XNYS or CME", code: 64)
            }
            let range = try dateRange()
            let calendar: any TradingCalendar
            if let config {
                calendar = try Wiring.loadPlan(config).calendars[market]!
            } else {
                calendar = market.calendar()
            }
            let sessions = calendar.sessions(in: range)
            if json {
                let rows = sessions.map { ["date": $0.date.description, "open": $0.open.iso8601, "close": $0.close.iso8601] }
                print(try JSONText.encode(rows))
                return
            }
            let zone = calendar.zone
            print("\(market.rawValue) \(range.lowerBound) – \(range.upperBound): \(sessions.count) sessions (times in \(zone.identifier))")
            var table = TextTable(headers: ["date", "open", "close", "note"])
            for session in sessions {
                let open = zone.local(session.open)
                let openText =
                    open.date == session.date ? String(open.description.suffix(5)) : "\(open.date.weekday.shortName.capitalized) \(open.description.suffix(5))"
                table.add([
                    "\(session.date.weekday.shortName.capitalized) \(session.date)", openText, String(zone.local(session.close).description.suffix(5)),
                    session.shortened ?? "",
                ])
            }
            print(table.render())
            let notes = calendar.notes(in: range)
            if !notes.isEmpty {
                print("\nHolidays and early closes:")
                for note in notes {
                    print(
                        "  \(note.date.weekday.shortName.capitalized) \(note.date)  \(note.kind.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(note.reason)"
                    )
                }
            }
        }
    }

    private func dateRange() throws -> ClosedRange<LocalDate> {
        if let year {
            guard (1990...2200).contains(year), from == nil, to == nil else {
                throw CommandFailure(message: "--year takes 1990…2200 and replaces --from/--to", code: 64)
            }
            return LocalDate(year: year, month: 1, day: 1)!...LocalDate(year: year, month: 12, day: 31)!
        }
        guard let from, let to else { throw CommandFailure(message: "give --from and --to (YYYY-MM-DD), or --year", code: 64) }
        do {
            let start = try LocalDate(parsing: from)
            let end = try LocalDate(parsing: to)
            guard start <= end else { throw CommandFailure(message: "--from \(from) is after --to \(to)", code: 64) }
            guard end.daysSinceEpoch - start.daysSinceEpoch <= 366 * 20 else { throw CommandFailure(message: "the range is longer than 20 years", code: 64) }
            return start...end
        } catch let error as TimeParseError where error.kind == .time {
            throw CommandFailure(message: "\(error)", code: 64)
        }
    }
}
