import Testing

@testable import Scheduler

/// Daylight saving in America/New_York: both US transitions of 2026 and 2027, every DST policy,
/// wildcard-hour crons, and interval schedules that ignore the wall clock.
@Suite("Daylight saving")
struct DSTTests {
    /// One transition day and the UTC instants of the wall times around it.
    struct Transition: Sendable, CustomTestStringConvertible {
        var day: String
        var spring: Bool
        /// Local midnight at the start of the day, as UTC.
        var midnight: String
        /// Local midnight at the start of the next day, as UTC.
        var nextMidnight: String
        var testDescription: String { "\(spring ? "spring forward" : "fall back") \(day)" }
    }

    static let transitions: [Transition] = [
        Transition(day: "2026-03-08", spring: true, midnight: "2026-03-08T05:00:00Z", nextMidnight: "2026-03-09T04:00:00Z"),
        Transition(day: "2026-11-01", spring: false, midnight: "2026-11-01T04:00:00Z", nextMidnight: "2026-11-02T05:00:00Z"),
        Transition(day: "2027-03-14", spring: true, midnight: "2027-03-14T05:00:00Z", nextMidnight: "2027-03-15T04:00:00Z"),
        Transition(day: "2027-11-07", spring: false, midnight: "2027-11-07T04:00:00Z", nextMidnight: "2027-11-08T05:00:00Z"),
    ]

    @Test("the zone table has the US transitions", arguments: transitions)
    func zoneTransitions(_ t: Transition) {
        let midnight = instant(t.midnight)
        let next = instant(t.nextMidnight)
        #expect(newYork.local(midnight) == LocalDateTime(date: date(t.day), hour: 0, minute: 0))
        #expect(newYork.local(next) == LocalDateTime(date: date(t.day).adding(days: 1), hour: 0, minute: 0))
        #expect(next - midnight == .seconds(t.spring ? 23 * 3600 : 25 * 3600))
        let gapOrOverlap = LocalDateTime(date: date(t.day), hour: t.spring ? 2 : 1, minute: 30)
        #expect(newYork.instants(at: gapOrOverlap).count == (t.spring ? 0 : 2))
        #expect(newYork.startOfDay(date(t.day)) == midnight)
    }

    @Test("ZoneRules.instant(at:policy:) applies the policy at a gap and an overlap")
    func zoneInstantPolicy() {
        let gap = LocalDateTime(date: date("2026-03-08"), hour: 2, minute: 30)
        #expect(newYork.instant(at: gap, policy: DSTPolicy(gap: .shiftForward)) == instant("2026-03-08T07:30:00Z"))
        #expect(newYork.instant(at: gap, policy: DSTPolicy(gap: .skip)) == nil)
        let overlap = LocalDateTime(date: date("2026-11-01"), hour: 1, minute: 30)
        #expect(newYork.instants(at: overlap) == [instant("2026-11-01T05:30:00Z"), instant("2026-11-01T06:30:00Z")])
        #expect(newYork.instant(at: overlap, policy: DSTPolicy(overlap: .first)) == instant("2026-11-01T05:30:00Z"))
        #expect(newYork.instant(at: overlap, policy: DSTPolicy(overlap: .last)) == instant("2026-11-01T06:30:00Z"))
        #expect(newYork.instant(at: overlap, policy: DSTPolicy(overlap: .both)) == instant("2026-11-01T05:30:00Z"))
        #expect(instant("2026-11-01T05:30:00Z").iso8601(in: newYork) == "2026-11-01T01:30:00-04:00")
        #expect(instant("2026-11-01T06:30:00Z").iso8601(in: newYork) == "2026-11-01T01:30:00-05:00")
    }

    // MARK: Daily jobs at 02:30 and 01:30, every policy

    struct PolicyCase: Sendable, CustomTestStringConvertible {
        var cron: String
        var policy: DSTPolicy
        var after: String
        var expected: [String]
        var testDescription: String { "'\(cron)' \(policy.summary) after \(after)" }
    }

    static let allPolicies: [DSTPolicy] = DSTPolicy.Gap.allCases.flatMap { gap in
        DSTPolicy.Overlap.allCases.map { DSTPolicy(gap: gap, overlap: $0) }
    }

    /// Expected fires of daily 02:30 and 01:30 jobs from the day before each transition to the day after.
    static var policyCases: [PolicyCase] {
        var cases: [PolicyCase] = []
        for policy in allPolicies {
            // Spring forward: 02:30 does not exist. Shift: 03:30 EDT (= 07:30Z); skip: no fire that day.
            for (before, day, after, shifted) in [
                ("2026-03-07", "2026-03-08", "2026-03-09", "2026-03-08T07:30:00Z"), ("2027-03-13", "2027-03-14", "2027-03-15", "2027-03-14T07:30:00Z"),
            ] {
                var expected = ["\(before)T07:30:00Z"]
                if policy.gap == .shiftForward { expected.append(shifted) }
                expected.append("\(after)T06:30:00Z")
                cases.append(PolicyCase(cron: "30 2 * * *", policy: policy, after: "\(before)T00:00:00Z", expected: expected))
                // 01:30 exists once on the spring day (EST): unaffected by any policy.
                cases.append(
                    PolicyCase(
                        cron: "30 1 * * *", policy: policy, after: "\(before)T00:00:00Z",
                        expected: ["\(before)T06:30:00Z", "\(day)T06:30:00Z", "\(after)T05:30:00Z"]))
            }
            // Fall back: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
            for (before, day, after) in [("2026-10-31", "2026-11-01", "2026-11-02"), ("2027-11-06", "2027-11-07", "2027-11-08")] {
                var expected = ["\(before)T05:30:00Z"]
                switch policy.overlap {
                case .first: expected.append("\(day)T05:30:00Z")
                case .last: expected.append("\(day)T06:30:00Z")
                case .both: expected += ["\(day)T05:30:00Z", "\(day)T06:30:00Z"]
                }
                expected.append("\(after)T06:30:00Z")
                cases.append(PolicyCase(cron: "30 1 * * *", policy: policy, after: "\(before)T00:00:00Z", expected: expected))
                // 02:30 exists once on the fall day (EST): unaffected by any policy.
                cases.append(
                    PolicyCase(
                        cron: "30 2 * * *", policy: policy, after: "\(before)T00:00:00Z",
                        expected: ["\(before)T06:30:00Z", "\(day)T07:30:00Z", "\(after)T07:30:00Z"]))
            }
        }
        return cases
    }

    @Test("daily jobs in the gap and the overlap follow their policy", arguments: policyCases)
    func dailyPolicy(_ c: PolicyCase) {
        let schedule = Schedule.cron(cron(c.cron), zone: newYork, dst: c.policy)
        #expect(schedule.upcomingText(after: c.after, count: c.expected.count) == c.expected)
    }

    @Test("the default for a fixed-hour cron is shift forward and first")
    func defaultPolicy() {
        let schedule = Schedule.cron(cron("30 2 * * *"), zone: newYork)
        guard case .cron(_, _, let dst) = schedule.rule else {
            Issue.record("not a cron rule")
            return
        }
        #expect(dst == .default)
        #expect(dst == DSTPolicy(gap: .shiftForward, overlap: .first))
        #expect(schedule.upcomingText(after: "2026-03-08T00:00:00Z", count: 1) == ["2026-03-08T07:30:00Z"])
        #expect(
            Schedule.cron(cron("30 1 * * *"), zone: newYork).upcomingText(after: "2026-11-01T00:00:00Z", count: 2) == [
                "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z",
            ])
    }

    @Test("a shifted fire is still found when the search starts inside the shifted hour")
    func shiftedFromInsideTheGap() {
        let schedule = Schedule.cron(cron("30 2 * * *"), zone: newYork, dst: .default)
        // 03:10 EDT, before the shifted 03:30.
        #expect(schedule.upcomingText(after: "2026-03-08T07:10:00Z", count: 1) == ["2026-03-08T07:30:00Z"])
        // 03:30 EDT itself: the next is the next day.
        #expect(schedule.upcomingText(after: "2026-03-08T07:30:00Z", count: 1) == ["2026-03-09T06:30:00Z"])
    }

    @Test("a last-policy overlap fire is found when the search starts between the two copies")
    func overlapFromBetweenCopies() {
        let both = Schedule.cron(cron("30 1 * * *"), zone: newYork, dst: DSTPolicy(overlap: .both))
        #expect(both.upcomingText(after: "2026-11-01T05:45:00Z", count: 2) == ["2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"])
        let last = Schedule.cron(cron("30 1 * * *"), zone: newYork, dst: DSTPolicy(overlap: .last))
        #expect(last.upcomingText(after: "2026-11-01T05:45:00Z", count: 1) == ["2026-11-01T06:30:00Z"])
        let first = Schedule.cron(cron("30 1 * * *"), zone: newYork, dst: DSTPolicy(overlap: .first))
        #expect(first.upcomingText(after: "2026-11-01T05:45:00Z", count: 1) == ["2026-11-02T06:30:00Z"])
    }

    @Test("explain says when DST moved a fire")
    func explain() {
        let schedule = Schedule.cron(cron("30 2 * * *"), zone: newYork)
        #expect(schedule.explain(instant("2026-03-08T07:30:00Z")).contains("shifted forward past the spring-forward gap"))
        #expect(schedule.explain(instant("2026-03-09T06:30:00Z")) == "cron '30 2 * * *' (America/New_York)")
        let fall = Schedule.cron(cron("30 1 * * *"), zone: newYork, dst: DSTPolicy(overlap: .both))
        #expect(fall.explain(instant("2026-11-01T06:30:00Z")).contains("repeated hour at fall-back"))
    }

    // MARK: Wildcard hours

    /// Fires whose New York date is `day`.
    static func fires(_ schedule: Schedule, on t: Transition) -> [Instant] {
        schedule.instants(after: instant(t.midnight) - .seconds(1), through: instant(t.nextMidnight) - .seconds(1))
    }

    @Test("a wildcard-hour cron runs on every real hour: skips the missing one, runs both repeated ones", arguments: transitions)
    func wildcardHour(_ t: Transition) {
        let schedule = Schedule.cron(cron("30 * * * *"), zone: newYork)
        guard case .cron(_, _, let dst) = schedule.rule else { return }
        #expect(dst == .everyRealHour)
        let fires = Self.fires(schedule, on: t)
        #expect(fires.count == (t.spring ? 23 : 25))
        // Every real hour: the fires are exactly one hour apart in elapsed time.
        for (a, b) in zip(fires, fires.dropFirst()) { #expect(b - a == .seconds(3600)) }
        #expect(fires.first == instant(t.midnight) + .seconds(1800))
        #expect(fires.allSatisfy { newYork.local($0).minute == 30 })
    }

    @Test("an hourly cron on the fall-back day fires at both 01:00s", arguments: [("2026-11-01", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z")])
    func hourlyFallBack(_ day: String, _ first: String, _ second: String) {
        let schedule = Schedule.cron(cron("0 * * * *"), zone: newYork)
        #expect(schedule.upcomingText(after: "2026-11-01T04:30:00Z", count: 3) == [first, second, "2026-11-01T07:00:00Z"])
        #expect(Schedule.cron(cron("@hourly"), zone: newYork).upcomingText(after: "2026-11-01T04:30:00Z", count: 3) == [first, second, "2026-11-01T07:00:00Z"])
    }

    @Test("a stepped-hour cron skips 02:00 on the spring day and has one 02:00 on the fall day")
    func steppedHours() {
        let schedule = Schedule.cron(cron("0 */2 * * *"), zone: newYork)
        // Spring: 00:00 EST (05:00Z), [02:00 missing], 04:00 EDT (08:00Z).
        #expect(schedule.upcomingText(after: "2026-03-08T04:30:00Z", count: 2) == ["2026-03-08T05:00:00Z", "2026-03-08T08:00:00Z"])
        // Fall: 00:00 EDT (04:00Z), 02:00 EST (07:00Z), 04:00 EST (09:00Z).
        #expect(
            schedule.upcomingText(after: "2026-11-01T03:30:00Z", count: 3) == [
                "2026-11-01T04:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T09:00:00Z",
            ])
    }

    @Test("a wildcard-hour cron with an explicit policy follows it")
    func wildcardHourExplicitPolicy() {
        // Shift + first: the missing 02:30 shifts onto the real 03:30 (one fire), the second 01:30 is skipped.
        let schedule = Schedule.cron(cron("30 * * * *"), zone: newYork, dst: .default)
        #expect(
            schedule.upcomingText(after: "2026-03-08T05:00:00Z", count: 4) == [
                "2026-03-08T05:30:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z",
            ])
        #expect(
            schedule.upcomingText(after: "2026-11-01T04:00:00Z", count: 3) == [
                "2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:30:00Z",
            ])
        let last = Schedule.cron(cron("30 * * * *"), zone: newYork, dst: DSTPolicy(gap: .skip, overlap: .last))
        #expect(
            last.upcomingText(after: "2026-11-01T04:00:00Z", count: 3) == [
                "2026-11-01T04:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z",
            ])
    }

    @Test("DST policies do not matter in UTC")
    func utcHasNoTransitions() {
        for policy in Self.allPolicies {
            let schedule = Schedule.cron(cron("30 1,2 * * *"), zone: .utc, dst: policy)
            #expect(schedule.upcomingText(after: "2026-11-01T00:00:00Z", count: 2) == ["2026-11-01T01:30:00Z", "2026-11-01T02:30:00Z"])
            #expect(schedule.upcomingText(after: "2026-03-08T00:00:00Z", count: 2) == ["2026-03-08T01:30:00Z", "2026-03-08T02:30:00Z"])
        }
    }

    // MARK: Intervals

    @Test("interval schedules run on elapsed time: every 1h gives 25 fires on the fall-back day, 23 on the spring day", arguments: transitions)
    func intervalIsDSTBlind(_ t: Transition) {
        for aligned in [false, true] {
            let schedule = Schedule(.interval(seconds: 3600, aligned: aligned, zone: newYork))
            let fires = Self.fires(schedule, on: t)
            #expect(fires.count == (t.spring ? 23 : 25), "aligned: \(aligned)")
            for (a, b) in zip(fires, fires.dropFirst()) { #expect(b - a == .seconds(3600)) }
        }
    }

    @Test("an unaligned interval counts from the previous instant")
    func unalignedInterval() {
        let schedule = Schedule(.interval(seconds: 900, aligned: false, zone: newYork))
        #expect(
            schedule.upcomingText(after: "2026-11-01T05:52:10Z", count: 3) == [
                "2026-11-01T06:07:10Z", "2026-11-01T06:22:10Z", "2026-11-01T06:37:10Z",
            ])
    }

    @Test("aligned 15-minute intervals land on :00, :15, :30 and :45, through both transitions", arguments: transitions)
    func alignedQuarterHours(_ t: Transition) {
        let schedule = Schedule(.interval(seconds: 900, aligned: true, zone: newYork))
        let fires = schedule.upcoming(after: instant(t.midnight) + .seconds(7), count: 4 * 26)
        #expect(fires.first == instant(t.midnight) + .seconds(900))
        for (a, b) in zip(fires, fires.dropFirst()) { #expect(b - a == .seconds(900)) }
        #expect(fires.allSatisfy { [0, 15, 30, 45].contains(newYork.local($0).minute) && newYork.local($0).second == 0 })
    }

    @Test(
        "aligned intervals",
        arguments: [
            // From just after a boundary.
            ("UTC", 900, "2026-01-01T00:00:01Z", ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"]),
            // Exactly on a boundary: strictly after.
            ("UTC", 300, "2026-01-01T00:05:00Z", ["2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z"]),
            // Counted from standard-time midnight: every 4h in New York is 00:00, 04:00 … EST, i.e. 01:00, 05:00 … EDT in summer.
            ("America/New_York", 14_400, "2026-01-15T00:00:00Z", ["2026-01-15T01:00:00Z", "2026-01-15T05:00:00Z", "2026-01-15T09:00:00Z"]),
            ("America/New_York", 14_400, "2026-07-01T00:00:00Z", ["2026-07-01T01:00:00Z", "2026-07-01T05:00:00Z", "2026-07-01T09:00:00Z"]),
            // A half-hour zone: whole local hours are :30 in UTC.
            ("Asia/Kolkata", 3600, "2026-01-01T00:00:00Z", ["2026-01-01T00:30:00Z", "2026-01-01T01:30:00Z"]),
            // A day: local standard midnight.
            ("America/New_York", 86_400, "2026-01-01T12:00:00Z", ["2026-01-02T05:00:00Z", "2026-01-03T05:00:00Z"]),
        ])
    func alignedTable(_ zone: String, _ seconds: Int64, _ after: String, _ expected: [String]) throws {
        let rules = try #require(ZoneRules.named(zone))
        let schedule = Schedule(.interval(seconds: seconds, aligned: true, zone: rules))
        #expect(schedule.upcomingText(after: after, count: expected.count) == expected)
    }
}
