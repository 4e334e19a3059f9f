import Scheduler

/// The CME clearing trade date: the one calendar function the futures session's loss lock, day
/// P&L, stop and status use.
enum CMETradeDate {
    /// The trade date `instant` clears with: the date of the session it falls in (or of the next
    /// session, between sessions). A holiday's shortened Globex session (a halt, e.g. Martin
    /// Luther King Day's Sunday 17:00 to Monday 12:00) clears with the next trade date, as CME
    /// clears it; the calendar keeps it as its own session for scheduling.
    static func of(_ instant: Instant, calendar: any TradingCalendar) -> LocalDate {
        let day = calendar.zone.local(instant).date
        for offset in -1..<15 {
            let candidate = day.adding(days: offset)
            guard let session = calendar.session(on: candidate), instant < session.close else { continue }
            return isHolidayHalt(session) ? next(after: candidate, calendar: calendar) ?? candidate : candidate
        }
        return day
    }

    /// When trading for trade date `date` ends: the close of its session.
    static func end(of date: LocalDate, calendar: any TradingCalendar) -> Instant? {
        calendar.session(on: date)?.close
    }

    /// A holiday session that halts early (CME clears it with the next trade date).
    static func isHolidayHalt(_ session: Session) -> Bool { session.shortened?.hasSuffix(" halt") == true }

    private static func next(after date: LocalDate, calendar: any TradingCalendar) -> LocalDate? {
        (1..<15).lazy.map { date.adding(days: $0) }.first { calendar.session(on: $0) != nil }
    }
}
