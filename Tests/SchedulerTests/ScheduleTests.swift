import SchedctlTesting
import Testing

@testable import Scheduler

/// Exchange-relative and one-shot schedules, and property tests of every rule against
/// brute-force oracles.
@Suite("Schedules")
struct ScheduleTests {
    static func market(
        _ market: Market, _ event: MarketRule.Event, _ offset: Duration = .zero, days: DayRule = .everyTradingDay,
        overrides: CalendarOverrides = CalendarOverrides()
    ) -> Schedule {
        Schedule(.market(MarketRule(market: market, calendar: market.calendar(overrides: overrides), event: event, offset: offset, days: days)))
    }

    // MARK: Exchange-relative

    @Test("five minutes after the open fires 14:35Z on 2026-11-27 and not on Thanksgiving")
    func openPlusFive() {
        let schedule = Self.market(.xnys, .open, .seconds(300))
        #expect(
            schedule.upcomingText(after: "2026-11-26T00:00:00Z", count: 3) == [
                "2026-11-27T14:35:00Z", "2026-11-30T14:35:00Z", "2026-12-01T14:35:00Z",
            ])
        #expect(schedule.upcomingText(after: "2026-11-25T14:35:00Z", count: 1) == ["2026-11-27T14:35:00Z"])
        // In summer the same wall time is 13:35Z.
        #expect(schedule.upcomingText(after: "2026-07-06T00:00:00Z", count: 1) == ["2026-07-06T13:35:00Z"])
    }

    @Test("ten minutes before the close fires 12:50 New York on the 2026-11-27 early close")
    func closeMinusTen() {
        let schedule = Self.market(.xnys, .close, .seconds(-600))
        let fires = schedule.upcoming(after: instant("2026-11-26T00:00:00Z"), count: 2)
        #expect(fires.map(\.iso8601) == ["2026-11-27T17:50:00Z", "2026-11-30T20:50:00Z"])
        #expect(newYork.local(fires[0]) == LocalDateTime(date: date("2026-11-27"), hour: 12, minute: 50))
        #expect(schedule.explain(fires[0]) == "XNYS close -10m, every trading day; session 2026-11-27 (Day after Thanksgiving)")
        #expect(schedule.explain(fires[1]) == "XNYS close -10m, every trading day; session 2026-11-30")
        #expect(schedule.summary == "XNYS close -10m, every trading day")
        #expect(schedule.displayZone == newYork)
    }

    @Test("the instant of an event itself is not returned again (strictly after)")
    func strictlyAfter() {
        let schedule = Self.market(.xnys, .open)
        #expect(schedule.upcomingText(after: "2026-11-27T14:30:00Z", count: 1) == ["2026-11-30T14:30:00Z"])
        #expect(schedule.upcomingText(after: "2026-11-27T14:29:59Z", count: 1) == ["2026-11-27T14:30:00Z"])
    }

    @Test(
        "day rules",
        arguments: [
            // First trading day of 2026-01 is Friday Jan 2; of 2026-02 is Monday Feb 2.
            ("first-trading-day-of-month", "open", 300, "2025-12-31T12:00:00Z", ["2026-01-02T14:35:00Z", "2026-02-02T14:35:00Z", "2026-03-02T14:35:00Z"]),
            // Last trading day of 2026-11 is Monday Nov 30; of 2026-12 is Thursday Dec 31; of 2027-01 Friday Jan 29.
            ("last-trading-day-of-month", "close", -600, "2026-11-01T00:00:00Z", ["2026-11-30T20:50:00Z", "2026-12-31T20:50:00Z", "2027-01-29T20:50:00Z"]),
            // The first trading day of the week of MLK Day 2026 is Tuesday Jan 20.
            ("first-trading-day-of-week", "open", 0, "2026-01-10T00:00:00Z", ["2026-01-12T14:30:00Z", "2026-01-20T14:30:00Z", "2026-01-26T14:30:00Z"]),
            // The last trading day of Good Friday's week (2026-04-03) is Thursday Apr 2; of Christmas week 2026, Thursday Dec 24 (13:00 close).
            ("last-trading-day-of-week", "close", 0, "2026-03-28T00:00:00Z", ["2026-04-02T20:00:00Z", "2026-04-10T20:00:00Z"]),
            ("last-trading-day-of-week", "close", 0, "2026-12-19T00:00:00Z", ["2026-12-24T18:00:00Z", "2026-12-31T21:00:00Z"]),
            // Weekday lists skip holidays: Thanksgiving Thursday does not fire.
            (
                "mon,wed,fri", "open", 0, "2026-11-23T00:00:00Z",
                ["2026-11-23T14:30:00Z", "2026-11-25T14:30:00Z", "2026-11-27T14:30:00Z", "2026-11-30T14:30:00Z"]
            ),
            ("thu", "open", 0, "2026-11-20T00:00:00Z", ["2026-12-03T14:30:00Z"]),
            ("trading-days", "open", 0, "2026-12-24T00:00:00Z", ["2026-12-24T14:30:00Z", "2026-12-28T14:30:00Z"]),
        ])
    func dayRules(_ days: String, _ event: String, _ offsetSeconds: Int64, _ after: String, _ expected: [String]) throws {
        let rule = try #require(DayRule.parse(days))
        let schedule = Self.market(.xnys, try #require(MarketRule.Event(rawValue: event)), .seconds(offsetSeconds), days: rule)
        #expect(schedule.upcomingText(after: after, count: expected.count) == expected)
    }

    @Test("CME open -5m fires on Sunday evening for Monday's session")
    func cmeSundayOpen() {
        let schedule = Self.market(.cme, .open, .seconds(-300))
        // Friday afternoon → Sunday 2026-11-29 16:55 CST.
        let fires = schedule.upcoming(after: instant("2026-11-27T20:00:00Z"), count: 2)
        #expect(fires.map(\.iso8601) == ["2026-11-29T22:55:00Z", "2026-11-30T22:55:00Z"])
        #expect(chicago.local(fires[0]) == LocalDateTime(date: date("2026-11-29"), hour: 16, minute: 55))
        #expect(schedule.displayZone == chicago)
        #expect(schedule.explain(fires[0]) == "CME open -5m, every trading day; session 2026-11-30")
    }

    @Test("CME close -10m follows halts and early closes")
    func cmeCloseMinusTen() {
        let schedule = Self.market(.cme, .close, .seconds(-600))
        #expect(
            schedule.upcomingText(after: "2026-11-25T00:00:00Z", count: 4) == [
                "2026-11-25T21:50:00Z",  // 15:50 CST
                "2026-11-26T17:50:00Z",  // Thanksgiving halt 12:00 → 11:50
                "2026-11-27T18:05:00Z",  // 12:15 early close → 12:05
                "2026-11-30T21:50:00Z",
            ])
        // Christmas 2026 and New Year 2027 have no session.
        #expect(
            schedule.upcomingText(after: "2026-12-24T00:00:00Z", count: 3) == [
                "2026-12-24T18:05:00Z", "2026-12-28T21:50:00Z", "2026-12-29T21:50:00Z",
            ])
    }

    @Test("CME first trading day of the week is Monday, whose session opens Sunday")
    func cmeFirstOfWeek() {
        let schedule = Self.market(.cme, .open, .seconds(300), days: .firstTradingDayOfWeek)
        #expect(schedule.upcomingText(after: "2026-11-24T00:00:00Z", count: 2) == ["2026-11-29T23:05:00Z", "2026-12-06T23:05:00Z"])
    }

    @Test("offsets of up to 12 hours move fires across midnight")
    func largeOffsets() {
        // XNYS close + 12h: 04:00 New York the next morning (09:00Z); from the 13:00 close, 01:00 (06:00Z).
        // Tuesday's close + 12h is Wednesday 09:00Z, after the start.
        let late = Self.market(.xnys, .close, .seconds(12 * 3600))
        #expect(
            late.upcomingText(after: "2026-11-25T00:00:00Z", count: 4) == [
                "2026-11-25T09:00:00Z", "2026-11-26T09:00:00Z", "2026-11-28T06:00:00Z", "2026-12-01T09:00:00Z",
            ])
        // CME open − 12h: 05:00 CT on the day before the trade date (Sunday morning for Monday).
        let early = Self.market(.cme, .open, .seconds(-12 * 3600))
        #expect(early.upcomingText(after: "2026-11-27T12:00:00Z", count: 2) == ["2026-11-29T11:00:00Z", "2026-11-30T11:00:00Z"])
    }

    @Test("calendar overrides move exchange-relative fires")
    func overridesApply() {
        let closed = Self.market(.xnys, .open, .seconds(300), overrides: CalendarOverrides(closures: [date("2026-11-30"): "closed"]))
        #expect(closed.upcomingText(after: "2026-11-27T15:00:00Z", count: 1) == ["2026-12-01T14:35:00Z"])
        let early = Self.market(.xnys, .close, .seconds(-600), overrides: CalendarOverrides(closes: [date("2026-11-30"): 13 * 3600]))
        #expect(early.upcomingText(after: "2026-11-28T00:00:00Z", count: 1) == ["2026-11-30T17:50:00Z"])
    }

    @Test("a one-shot schedule fires once")
    func once() {
        let at = instant("2026-12-01T14:35:00Z")
        let schedule = Schedule(.once(at))
        #expect(schedule.next(after: instant("2026-01-01T00:00:00Z")) == at)
        #expect(schedule.next(after: at - .seconds(1)) == at)
        #expect(schedule.next(after: at) == nil)
        #expect(schedule.upcoming(after: instant("2026-01-01T00:00:00Z"), count: 5) == [at])
        #expect(schedule.summary == "once at 2026-12-01T14:35:00Z")
        #expect(schedule.displayZone == .utc)
    }

    @Test("summaries")
    func summaries() {
        #expect(Schedule.cron(cron("5 9 * * 1-5"), zone: newYork).summary == "cron '5 9 * * 1-5' (America/New_York)")
        #expect(Schedule(.interval(seconds: 900, aligned: true, zone: .utc), jitter: .seconds(30)).summary == "every 15m aligned jitter 30s")
        #expect(Schedule(.interval(seconds: 5400, aligned: false, zone: .utc)).summary == "every 1h30m")
        #expect(Self.market(.xnys, .open, .seconds(300), days: .firstTradingDayOfMonth).summary == "XNYS open +5m, first trading day of the month")
        #expect(Self.market(.cme, .close).summary == "CME close, every trading day")
        #expect(DayRule.weekdays([.friday, .monday]).description == "trading days on mon,fri")
    }

    // MARK: Property tests

    /// Whether `i` is a fire of `expression` in `zone` under `policy`, decided from the wall clock
    /// alone: the local reading matches (and, in an overlap, it is the copy the policy wants), or
    /// the reading one gap earlier did not exist, matches, and the policy shifts it forward.
    static func isCronFire(_ i: Instant, _ expression: CronExpression, _ zone: ZoneRules, _ policy: DSTPolicy) -> Bool {
        let local = zone.local(i)
        if expression.matches(local) {
            let copies = zone.instants(at: local)
            if copies.count < 2 || policy.overlap == .both { return true }
            if copies[policy.overlap == .first ? 0 : 1] == i { return true }
        }
        guard policy.gap == .shiftForward else { return false }
        let gap = zone.offset(at: i) - zone.offset(at: i - .seconds(86_400))
        guard gap > 0 else { return false }
        let missing = LocalDateTime(localSeconds: local.localSeconds - Int64(gap))
        return zone.instants(at: missing).isEmpty && expression.matches(missing) && zone.instant(at: missing, policy: policy) == i
    }

    /// A random cron field: `*`, a value, a list, a range or a step.
    static func randomField(_ range: ClosedRange<Int>, _ rng: inout SplitMix64, starBias: Double) -> String {
        if Double.random(in: 0..<1, using: &rng) < starBias { return "*" }
        func value() -> Int { Int.random(in: range, using: &rng) }
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return "\(value())"
        case 1: return Set((0..<Int.random(in: 2...4, using: &rng)).map { _ in value() }).sorted().map(String.init).joined(separator: ",")
        case 2:
            let a = value(), b = value()
            return "\(min(a, b))-\(max(a, b))"
        case 3: return "*/\(Int.random(in: 1...max(1, (range.upperBound - range.lowerBound) / 2), using: &rng))"
        default: return "\(value())/\(Int.random(in: 1...10, using: &rng))"
        }
    }

    static let propertyZones = ["UTC", "America/New_York", "America/Chicago", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata"]

    /// A start instant: anywhere in 2025–2030, or within a few hours of one of the zone's transitions.
    static func randomStart(_ zone: ZoneRules, _ rng: inout SplitMix64) -> Instant {
        let low = instant("2025-01-01T00:00:00Z").seconds
        let high = instant("2031-01-01T00:00:00Z").seconds
        let nearby = zone.transitions.filter { (low..<high).contains($0) }
        if !nearby.isEmpty && Bool.random(using: &rng) {
            return Instant(seconds: nearby.randomElement(using: &rng)! + Int64.random(in: -4 * 3600...4 * 3600, using: &rng))
        }
        return Instant(seconds: Int64.random(in: low..<high, using: &rng))
    }

    @Test("cron: fires strictly increase, each matches its expression or is a DST shift, and none is missed", arguments: 0..<60)
    func cronProperty(_ batch: Int) throws {
        var rng = SplitMix64(seed: 0xC0FFEE &+ UInt64(batch))
        for _ in 0..<5 {
            let withSeconds = Int.random(in: 0..<5, using: &rng) == 0
            var fields = [
                Self.randomField(0...59, &rng, starBias: 0.1), Self.randomField(0...23, &rng, starBias: 0.4), Self.randomField(1...31, &rng, starBias: 0.8),
                Self.randomField(1...12, &rng, starBias: 0.85), Self.randomField(0...7, &rng, starBias: 0.7),
            ]
            if withSeconds { fields.insert(["0", "30", "15,45", "*/20"].randomElement(using: &rng)!, at: 0) }
            let text = fields.joined(separator: " ")
            guard let expression = try? CronExpression(text) else { continue }  // e.g. Feb 30: rejected, tested elsewhere
            let zone = try #require(ZoneRules.named(Self.propertyZones.randomElement(using: &rng)!))
            let policy = [
                nil, DSTPolicy.default, .everyRealHour, DSTPolicy(gap: .skip, overlap: .first), DSTPolicy(gap: .shiftForward, overlap: .last),
                DSTPolicy(gap: .shiftForward, overlap: .both),
            ].randomElement(using: &rng)!
            let schedule = Schedule.cron(expression, zone: zone, dst: policy)
            guard case .cron(_, _, let effective) = schedule.rule else { continue }
            let start = Self.randomStart(zone, &rng)
            let context = "'\(text)' \(zone) \(effective.summary) after \(start)"

            // Successive fires strictly increase and each one is a fire.
            let fires = schedule.upcoming(after: start, count: 25)
            #expect(!fires.isEmpty, "\(context)")
            var previous = start
            for fire in fires {
                #expect(fire > previous, "\(context): \(fire) after \(previous)")
                #expect(Self.isCronFire(fire, expression, zone, effective), "\(context): \(fire) (\(zone.local(fire)))")
                previous = fire
            }

            // Brute force over the next two days, every minute (and every allowed second).
            let windowEnd = start + .seconds(2 * 86_400)
            var expected: [Instant] = []
            var minute = (start.seconds / 60) * 60
            while minute <= windowEnd.seconds {
                for second in 0..<60 where expression.seconds & (UInt64(1) << UInt64(second)) != 0 {
                    let candidate = Instant(seconds: minute + Int64(second))
                    if candidate > start, candidate <= windowEnd, Self.isCronFire(candidate, expression, zone, effective) {
                        expected.append(candidate)
                    }
                }
                minute += 60
            }
            #expect(schedule.instants(after: start, through: windowEnd) == expected, "\(context)")
        }
    }

    /// Whether `day` passes `rule`, written from the definitions (not from `DayRule.matches`).
    static func passes(_ day: LocalDate, _ rule: DayRule, _ calendar: any TradingCalendar) -> Bool {
        func noSession(_ from: LocalDate, _ to: LocalDate) -> Bool {
            var d = from
            while d <= to {
                if calendar.session(on: d) != nil { return false }
                d = d.adding(days: 1)
            }
            return true
        }
        let weekStart = day.adding(days: -((day.weekday.rawValue + 6) % 7))
        switch rule {
        case .everyTradingDay, .strategy: return true  // strategy: every session is a candidate; the gate decides
        case .weekdays(let set): return set.contains(day.weekday)
        case .firstTradingDayOfWeek: return noSession(weekStart, day.adding(days: -1))
        case .lastTradingDayOfWeek: return noSession(day.adding(days: 1), weekStart.adding(days: 6))
        case .firstTradingDayOfMonth: return noSession(LocalDate(year: day.year, month: day.month, day: 1)!, day.adding(days: -1))
        case .lastTradingDayOfMonth:
            return noSession(day.adding(days: 1), LocalDate(year: day.year, month: day.month, day: LocalDate.daysIn(month: day.month, year: day.year))!)
        }
    }

    @Test("market: fires strictly increase and equal the sessions' events plus the offset on matching days", arguments: 0..<30)
    func marketProperty(_ batch: Int) throws {
        var rng = SplitMix64(seed: 0x5EED &+ UInt64(batch) &* 7919)
        let rules: [DayRule] = [
            .everyTradingDay, .firstTradingDayOfWeek, .lastTradingDayOfWeek, .firstTradingDayOfMonth, .lastTradingDayOfMonth,
            .weekdays([.monday]), .weekdays([.tuesday, .thursday]), .weekdays([.friday, .monday, .wednesday]),
        ]
        for _ in 0..<4 {
            let market = Market.allCases.randomElement(using: &rng)!
            let calendar = market.calendar()
            let event = MarketRule.Event.allCases.randomElement(using: &rng)!
            let offset: Duration = .seconds(
                Int64.random(in: -12 * 60...12 * 60, using: &rng) * 60 + (Bool.random(using: &rng) ? 0 : Int64.random(in: 0..<60, using: &rng)))
            let clamped: Duration =
                offset > MarketRule.maximumOffset
                ? MarketRule.maximumOffset : (offset < .zero - MarketRule.maximumOffset ? .zero - MarketRule.maximumOffset : offset)
            let days = rules.randomElement(using: &rng)!
            let rule = MarketRule(market: market, calendar: calendar, event: event, offset: clamped, days: days)
            let schedule = Schedule(.market(rule))
            let start = Instant(seconds: Int64.random(in: instant("2024-01-01T00:00:00Z").seconds..<instant("2031-01-01T00:00:00Z").seconds, using: &rng))
            let context = "\(rule.summary) after \(start)"
            let count = 8

            // The oracle: every session in a generous range of trade dates, filtered and shifted.
            let first = newYork.local(start).date.adding(days: -3)
            var oracle: [Instant] = []
            var day = first
            while day <= first.adding(days: 400) {
                if let session = calendar.session(on: day), Self.passes(day, days, calendar) {
                    let at = (event == .open ? session.open : session.close) + clamped
                    if at > start { oracle.append(at) }
                }
                day = day.adding(days: 1)
            }
            oracle.sort()
            let fires = schedule.upcoming(after: start, count: count)
            #expect(fires == Array(oracle.prefix(count)), "\(context)")
            for (a, b) in zip(fires, fires.dropFirst()) { #expect(a < b, "\(context)") }
            #expect(fires.first.map { $0 > start } ?? false, "\(context)")
        }
    }

    @Test("interval: fires strictly increase by the interval; aligned ones sit on multiples of it", arguments: 0..<20)
    func intervalProperty(_ batch: Int) throws {
        var rng = SplitMix64(seed: 0x1A7E + UInt64(batch))
        let divisors: [Int64] = [1, 5, 60, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200, 86_400]
        for _ in 0..<10 {
            let aligned = Bool.random(using: &rng)
            let seconds = aligned ? divisors.randomElement(using: &rng)! : Int64.random(in: 1...200_000, using: &rng)
            let zone = try #require(ZoneRules.named(Self.propertyZones.randomElement(using: &rng)!))
            let schedule = Schedule(.interval(seconds: seconds, aligned: aligned, zone: zone))
            let start = Self.randomStart(zone, &rng)
            let fires = schedule.upcoming(after: start, count: 20)
            #expect(fires.count == 20)
            #expect(fires[0] > start)
            #expect(fires[0] - start <= .seconds(seconds))
            for (a, b) in zip(fires, fires.dropFirst()) { #expect(b - a == .seconds(seconds)) }
            if aligned {
                // Multiples of the interval counted from standard-time local midnight.
                let shift = Int64(zone.standardOffset)
                #expect(fires.allSatisfy { ($0.seconds + shift).floorDivided(by: seconds).remainder == 0 }, "\(zone) every \(seconds)s")
            } else {
                #expect(fires[0] - start == .seconds(seconds))
            }
        }
    }
}
