import Testing

@testable import Scheduler

/// The cron dialect: parsing, range checks, the day-of-month/day-of-week rule and fixed fire
/// tables in UTC and America/New_York.
@Suite("Cron expressions")
struct CronTests {
    // MARK: Parsing

    struct Case: Sendable, CustomTestStringConvertible {
        var expression: String
        var after: String
        var expected: [String]
        var testDescription: String { "'\(expression)' after \(after)" }
    }

    static let utcCases: [Case] = [
        // Plain fields, weekday range by name (2026-11-27 is a Friday).
        Case(
            expression: "5 9 * * mon-fri", after: "2026-11-27T00:00:00Z",
            expected: ["2026-11-27T09:05:00Z", "2026-11-30T09:05:00Z", "2026-12-01T09:05:00Z"]),
        // Upper-case names.
        Case(
            expression: "5 9 * * MON-FRI", after: "2026-11-27T00:00:00Z",
            expected: ["2026-11-27T09:05:00Z", "2026-11-30T09:05:00Z", "2026-12-01T09:05:00Z"]),
        // Steps over `*`.
        Case(
            expression: "*/15 * * * *", after: "2026-01-01T00:07:00Z",
            expected: ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"]),
        // A step from a start value runs to the end of the range.
        Case(
            expression: "5/15 * * * *", after: "2026-01-01T00:00:00Z",
            expected: ["2026-01-01T00:05:00Z", "2026-01-01T00:20:00Z", "2026-01-01T00:35:00Z", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z"]),
        // A stepped range.
        Case(
            expression: "0 9-17/4 * * *", after: "2026-01-01T00:00:00Z",
            expected: ["2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"]),
        // Lists.
        Case(
            expression: "0 0 1,15 * *", after: "2026-01-01T00:00:00Z",
            expected: ["2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-15T00:00:00Z"]),
        // Mixed list of a value, a range and a step.
        Case(
            expression: "0,10-12,*/30 0 1 1 *", after: "2025-12-31T00:00:00Z",
            expected: [
                "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:11:00Z", "2026-01-01T00:12:00Z", "2026-01-01T00:30:00Z", "2027-01-01T00:00:00Z",
            ]),
        // Month names in a list.
        Case(
            expression: "0 0 1 jan,jul *", after: "2026-01-31T00:00:00Z",
            expected: ["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        // Month name range.
        Case(
            expression: "0 0 1 mar-may *", after: "2026-01-01T00:00:00Z",
            expected: ["2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z", "2027-03-01T00:00:00Z"]),
        // Sunday as 0, as 7 and as a name (2026-11-29 is a Sunday).
        Case(expression: "0 12 * * 0", after: "2026-11-27T00:00:00Z", expected: ["2026-11-29T12:00:00Z", "2026-12-06T12:00:00Z"]),
        Case(expression: "0 12 * * 7", after: "2026-11-27T00:00:00Z", expected: ["2026-11-29T12:00:00Z", "2026-12-06T12:00:00Z"]),
        Case(expression: "0 12 * * sun", after: "2026-11-27T00:00:00Z", expected: ["2026-11-29T12:00:00Z", "2026-12-06T12:00:00Z"]),
        Case(
            expression: "0 12 * * fri-7", after: "2026-11-26T00:00:00Z",
            expected: ["2026-11-27T12:00:00Z", "2026-11-28T12:00:00Z", "2026-11-29T12:00:00Z", "2026-12-04T12:00:00Z"]),
        // `?` is accepted as `*`, also for the day-of-month/day-of-week rule.
        Case(expression: "0 0 ? * mon", after: "2026-11-27T00:00:00Z", expected: ["2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z"]),
        Case(expression: "0 0 13 * ?", after: "2026-01-01T00:00:00Z", expected: ["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"]),
        // Six fields: a leading seconds field.
        Case(expression: "30 15 10 1 5 *", after: "2026-01-01T00:00:00Z", expected: ["2026-05-01T10:15:30Z", "2027-05-01T10:15:30Z"]),
        Case(
            expression: "*/20 * * * * *", after: "2026-01-01T00:00:00Z",
            expected: ["2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"]),
        // Strictly after: an instant that matches is not returned again.
        Case(expression: "0 0 * * *", after: "2026-01-01T00:00:00Z", expected: ["2026-01-02T00:00:00Z"]),
        Case(expression: "0 0 * * *", after: "2025-12-31T23:59:59Z", expected: ["2026-01-01T00:00:00Z"]),
        // Extra whitespace between fields.
        Case(expression: "  0   0\t*  * *  ", after: "2026-01-01T00:00:00Z", expected: ["2026-01-02T00:00:00Z"]),
        // Shorthands.
        Case(expression: "@yearly", after: "2026-06-01T00:00:00Z", expected: ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
        Case(expression: "@annually", after: "2026-06-01T00:00:00Z", expected: ["2027-01-01T00:00:00Z"]),
        Case(expression: "@monthly", after: "2026-01-15T00:00:00Z", expected: ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
        Case(expression: "@weekly", after: "2026-11-27T00:00:00Z", expected: ["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"]),
        Case(expression: "@daily", after: "2026-11-27T10:00:00Z", expected: ["2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z"]),
        Case(expression: "@midnight", after: "2026-11-27T10:00:00Z", expected: ["2026-11-28T00:00:00Z"]),
        Case(expression: "@hourly", after: "2026-11-27T10:00:00Z", expected: ["2026-11-27T11:00:00Z", "2026-11-27T12:00:00Z"]),
        Case(expression: "@DAILY", after: "2026-11-27T10:00:00Z", expected: ["2026-11-28T00:00:00Z"]),
        // Month ends: the 31st only in months that have one.
        Case(
            expression: "0 0 31 * *", after: "2026-01-31T00:00:00Z",
            expected: [
                "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z",
                "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z",
            ]),
        Case(expression: "0 0 30 * *", after: "2026-01-30T00:00:00Z", expected: ["2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"]),
        // Leap years: February 29 from 2027 is 2028, then 2032; 2100 is not a leap year.
        Case(expression: "0 0 29 2 *", after: "2027-01-01T00:00:00Z", expected: ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        Case(expression: "0 0 29 2 *", after: "2096-03-01T00:00:00Z", expected: ["2104-02-29T00:00:00Z"]),
        Case(
            expression: "59 23 28-29 feb *", after: "2027-02-01T00:00:00Z",
            expected: ["2027-02-28T23:59:00Z", "2028-02-28T23:59:00Z", "2028-02-29T23:59:00Z", "2029-02-28T23:59:00Z"]),
        // Year end roll-over.
        Case(expression: "59 23 31 12 *", after: "2026-12-31T23:59:00Z", expected: ["2027-12-31T23:59:00Z"]),
    ]

    @Test("fires at the expected UTC instants", arguments: utcCases)
    func utcTable(_ c: Case) throws {
        let schedule = Schedule.cron(try CronExpression(c.expression), zone: .utc)
        #expect(schedule.upcomingText(after: c.after, count: c.expected.count) == c.expected)
    }

    static let newYorkCases: [Case] = [
        // EST (UTC-5) in late November.
        Case(
            expression: "35 9 * * 1-5", after: "2026-11-26T00:00:00Z",
            expected: ["2026-11-26T14:35:00Z", "2026-11-27T14:35:00Z", "2026-11-30T14:35:00Z"]),
        // EDT (UTC-4) in July.
        Case(
            expression: "35 9 * * 1-5", after: "2026-07-01T00:00:00Z",
            expected: ["2026-07-01T13:35:00Z", "2026-07-02T13:35:00Z", "2026-07-03T13:35:00Z", "2026-07-06T13:35:00Z"]),
        // Across the spring change: Friday in EST, Monday in EDT.
        Case(expression: "0 17 * * mon-fri", after: "2026-03-06T00:00:00Z", expected: ["2026-03-06T22:00:00Z", "2026-03-09T21:00:00Z"]),
        // Across the autumn change.
        Case(expression: "0 17 * * mon-fri", after: "2026-10-30T00:00:00Z", expected: ["2026-10-30T21:00:00Z", "2026-11-02T22:00:00Z"]),
        // Local midnight of the fall-back day is still EDT.
        Case(expression: "0 0 1 * *", after: "2026-10-31T12:00:00Z", expected: ["2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z"]),
        // The local date decides the weekday, not the UTC date: 21:00 Friday in New York is Saturday in UTC.
        Case(expression: "0 21 * * fri", after: "2026-11-27T00:00:00Z", expected: ["2026-11-28T02:00:00Z", "2026-12-05T02:00:00Z"]),
        // New Year in New York is 05:00Z.
        Case(expression: "@yearly", after: "2026-06-01T00:00:00Z", expected: ["2027-01-01T05:00:00Z"]),
    ]

    @Test("fires at the expected instants in America/New_York", arguments: newYorkCases)
    func newYorkTable(_ c: Case) throws {
        let schedule = Schedule.cron(try CronExpression(c.expression), zone: newYork)
        #expect(schedule.upcomingText(after: c.after, count: c.expected.count) == c.expected)
    }

    @Test("the expression keeps its source text")
    func source() throws {
        let expression = try CronExpression("  5 9 * * mon-fri ")
        #expect(expression.source == "5 9 * * mon-fri")
        #expect(expression.description == "5 9 * * mon-fri")
        #expect(try CronExpression("@daily").source == "@daily")
    }

    @Test(
        "a wildcard hour field is detected",
        arguments: [
            ("0 * * * *", true), ("0 */2 * * *", true), ("0 9 * * *", false), ("0 9-17 * * *", false), ("0 0 * * * *", true), ("@hourly", true),
            ("@daily", false),
        ])
    func hourWildcard(_ text: String, _ wildcard: Bool) throws {
        #expect(try CronExpression(text).hourIsWildcard == wildcard)
    }

    // MARK: Day-of-month and day-of-week

    @Test("both day fields restricted: a day matches when either does (classic cron)")
    func dayOrRule() throws {
        // January 2026: the 1st is a Thursday; Fridays are 2, 9, 16, 23, 30; the 13th is a Tuesday.
        let schedule = Schedule.cron(try CronExpression("0 0 13 * fri"), zone: .utc)
        #expect(
            schedule.upcomingText(after: "2026-01-01T00:00:00Z", count: 6) == [
                "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z",
                "2026-01-30T00:00:00Z",
            ])
        // A range without `*` is still a restriction: odd days OR Fridays.
        let odd = Schedule.cron(try CronExpression("0 0 1-31/2 * fri"), zone: .utc)
        #expect(
            odd.upcomingText(after: "2026-01-01T00:00:00Z", count: 4) == [
                "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z",
            ])
    }

    @Test("a day field that starts with '*' makes the rule AND")
    func dayAndRule() throws {
        // Odd days of the month that are Fridays: Jan 9, Jan 23, Feb 13, Feb 27.
        let schedule = Schedule.cron(try CronExpression("0 0 */2 * fri"), zone: .utc)
        #expect(
            schedule.upcomingText(after: "2026-01-01T00:00:00Z", count: 4) == [
                "2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-27T00:00:00Z",
            ])
        // Day of month with a `*`-prefixed day of week: the 13th when it is a weekday.
        let weekday13 = Schedule.cron(try CronExpression("0 0 13 * */1"), zone: .utc)
        #expect(weekday13.upcomingText(after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"])
    }

    @Test("only one day field restricted: just that field counts")
    func singleDayField() throws {
        #expect(
            Schedule.cron(try CronExpression("0 0 13 * *"), zone: .utc).upcomingText(after: "2026-01-01T00:00:00Z", count: 2) == [
                "2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z",
            ])
        #expect(
            Schedule.cron(try CronExpression("0 0 * * fri"), zone: .utc).upcomingText(after: "2026-01-01T00:00:00Z", count: 2) == [
                "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z",
            ])
    }

    @Test("February 30 with a weekday list still fires on those weekdays (OR rule)")
    func impossibleDayOrWeekday() throws {
        // February 2027: Mondays are 1, 8, 15, 22.
        let schedule = Schedule.cron(try CronExpression("0 0 30 2 mon"), zone: .utc)
        #expect(
            schedule.upcomingText(after: "2027-01-01T00:00:00Z", count: 4) == [
                "2027-02-01T00:00:00Z", "2027-02-08T00:00:00Z", "2027-02-15T00:00:00Z", "2027-02-22T00:00:00Z",
            ])
    }

    // MARK: Errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var expression: String
        var message: String
        var column: Int?
        var testDescription: String { "'\(expression)'" }
    }

    static let rangeErrors: [ErrorCase] = [
        ErrorCase(expression: "61 * * * *", message: "minute 61 is out of range 0–59 in '61 * * * *'", column: 0),
        ErrorCase(expression: "60 * * * *", message: "minute 60 is out of range 0–59 in '60 * * * *'", column: 0),
        ErrorCase(expression: "0 24 * * *", message: "hour 24 is out of range 0–23 in '0 24 * * *'", column: 2),
        ErrorCase(expression: "0 0 0 * *", message: "day-of-month 0 is out of range 1–31 in '0 0 0 * *'", column: 4),
        ErrorCase(expression: "0 0 32 * *", message: "day-of-month 32 is out of range 1–31 in '0 0 32 * *'", column: 4),
        ErrorCase(expression: "0 0 * 13 *", message: "month 13 is out of range 1–12 or jan–dec in '0 0 * 13 *'", column: 6),
        ErrorCase(expression: "0 0 * 0 *", message: "month 0 is out of range 1–12 or jan–dec in '0 0 * 0 *'", column: 6),
        ErrorCase(expression: "0 0 * * 8", message: "day-of-week 8 is out of range 0–7 or sun–sat (0 and 7 are Sunday) in '0 0 * * 8'", column: 8),
        ErrorCase(expression: "60 0 0 * * *", message: "second 60 is out of range 0–59 in '60 0 0 * * *'", column: 0),
        ErrorCase(expression: "0 60 0 * * *", message: "minute 60 is out of range 0–59 in '0 60 0 * * *'", column: 2),
        ErrorCase(expression: "-1 * * * *", message: "minute -1 is out of range 0–59 in '-1 * * * *'", column: 0),
        // The column points at the bad item of a list and at the bad end of a range.
        ErrorCase(expression: "0 1,2,70 * * *", message: "hour 70 is out of range 0–23 in '0 1,2,70 * * *'", column: 6),
        ErrorCase(expression: "0 1-30 * * *", message: "hour 30 is out of range 0–23 in '0 1-30 * * *'", column: 4),
        ErrorCase(expression: "0 0 * * mon-9", message: "day-of-week 9 is out of range 0–7 or sun–sat (0 and 7 are Sunday) in '0 0 * * mon-9'", column: 12),
    ]

    @Test("every field is range-checked, naming the field, the value and the range", arguments: rangeErrors)
    func rangeError(_ c: ErrorCase) {
        #expect(throws: CronError(expression: c.expression, message: c.message, column: c.column)) { try CronExpression(c.expression) }
    }

    static let syntaxErrors: [ErrorCase] = [
        ErrorCase(expression: "0 0 * foo *", message: "'foo' is not a valid month in '0 0 * foo *'; allowed: 1–12 or jan–dec", column: 6),
        ErrorCase(
            expression: "0 0 * * funday", message: "'funday' is not a valid day-of-week in '0 0 * * funday'; allowed: 0–7 or sun–sat (0 and 7 are Sunday)",
            column: 8),
        ErrorCase(expression: "0 0 mon * *", message: "'mon' is not a valid day-of-month in '0 0 mon * *'; allowed: 1–31", column: 4),
        ErrorCase(expression: "0,,5 * * * *", message: "empty minute value in '0,,5 * * * *'", column: 2),
        // Backwards ranges.
        ErrorCase(
            expression: "30-10 * * * *", message: "minute range '30-10' runs backwards in '30-10 * * * *'; write it as two ranges, e.g. '10-…,…-30'", column: 0),
        ErrorCase(
            expression: "0 0 * * fri-mon", message: "day-of-week range 'fri-mon' runs backwards in '0 0 * * fri-mon'; write it as two ranges, e.g. '1-…,…-5'",
            column: 8),
        ErrorCase(
            expression: "0 0 * dec-jan *", message: "month range 'dec-jan' runs backwards in '0 0 * dec-jan *'; write it as two ranges, e.g. '1-…,…-12'",
            column: 6),
        // Bad steps.
        ErrorCase(expression: "*/0 * * * *", message: "step '0' in minute '*/0' must be a whole number from 1 to 60 in '*/0 * * * *'", column: 0),
        ErrorCase(expression: "*/61 * * * *", message: "step '61' in minute '*/61' must be a whole number from 1 to 60 in '*/61 * * * *'", column: 0),
        ErrorCase(expression: "0 */25 * * *", message: "step '25' in hour '*/25' must be a whole number from 1 to 24 in '0 */25 * * *'", column: 2),
        ErrorCase(expression: "0 0 */x * *", message: "step 'x' in day-of-month '*/x' must be a whole number from 1 to 31 in '0 0 */x * *'", column: 4),
        ErrorCase(expression: "0 0 * * */", message: "step '' in day-of-week '*/' must be a whole number from 1 to 8 in '0 0 * * */'", column: 8),
        // Field counts and shorthands.
        ErrorCase(
            expression: "* * * *",
            message: "'* * * *' has 4 fields; cron takes 5 (minute hour day-of-month month day-of-week) or 6 (with a leading seconds field)"),
        ErrorCase(
            expression: "* * * * * * *",
            message: "'* * * * * * *' has 7 fields; cron takes 5 (minute hour day-of-month month day-of-week) or 6 (with a leading seconds field)"),
        ErrorCase(expression: "", message: "'' has 0 fields; cron takes 5 (minute hour day-of-month month day-of-week) or 6 (with a leading seconds field)"),
        ErrorCase(
            expression: "daily", message: "'daily' has 1 field; cron takes 5 (minute hour day-of-month month day-of-week) or 6 (with a leading seconds field)"),
        ErrorCase(expression: "@weekdays", message: "unknown shorthand '@weekdays'; use @yearly, @monthly, @weekly, @daily or @hourly"),
    ]

    @Test("syntax errors say what is wrong and where", arguments: syntaxErrors)
    func syntaxError(_ c: ErrorCase) {
        #expect(throws: CronError(expression: c.expression, message: c.message, column: c.column)) { try CronExpression(c.expression) }
    }

    @Test(
        "an expression that can never fire is an error",
        arguments: [
            "0 0 30 2 *", "0 0 31 2 *", "0 0 31 4 *", "0 0 31 apr,jun,sep,nov *", "0 0 30,31 feb *", "0 0 0 31 6 *",
        ])
    func neverFires(_ text: String) {
        #expect(
            throws: CronError(
                expression: text, message: "'\(text)' can never fire: no month it allows has the day of the month it asks for")
        ) {
            try CronExpression(text)
        }
    }

    @Test("expressions that fire rarely are accepted", arguments: ["0 0 29 2 *", "0 0 31 12 *", "0 0 30 2 mon", "0 0 31 2,3 *"])
    func rareButValid(_ text: String) throws {
        let schedule = Schedule.cron(try CronExpression(text), zone: .utc)
        #expect(schedule.next(after: instant("2026-01-01T00:00:00Z")) != nil)
    }

    @Test("the error message is the description")
    func errorDescription() {
        do {
            _ = try CronExpression("0 25 * * *")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "hour 25 is out of range 0–23 in '0 25 * * *'")
            #expect(error.column == 2)
        }
    }
}
