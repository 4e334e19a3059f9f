import Foundation
import Yams

extension ConfigLoader {
    /// Builds a schedule from the keys of a job's `schedule:` mapping (`cron`, `every`, `align`,
    /// `market`, `at`, `offset`, `days`, `timezone`, …) with exactly the rules and messages of
    /// `jobs.yaml`, so `schedctl next --cron …` and a job agree. Values are given as text;
    /// diagnostics carry the key path `schedule.KEY` and `source` as their file.
    public func schedule(_ fields: [(key: String, value: String)], source: String) throws(ConfigError) -> Schedule {
        let reader = ConfigReader(file: source, catalog: catalog, baseDirectory: ".")
        let yaml = "{" + fields.map { "\(Self.flowScalar($0.key)): \(Self.flowScalar($0.value))" }.joined(separator: ", ") + "}"
        let calendars = Dictionary(uniqueKeysWithValues: Market.allCases.map { ($0, $0.calendar()) })
        let node: ConfigNode?
        do {
            node = try Yams.compose(yaml: yaml, .basic).map(ConfigNode.init)
        } catch {
            throw ConfigError(diagnostics: [Diagnostic(file: source, line: 0, column: 0, path: "schedule", message: "cannot read the rule: \(error)")])
        }
        let schedule = node.flatMap { reader.readSchedule($0, "schedule", timezone: .utc, calendars: calendars) }
        if let schedule, reader.diagnostics.isEmpty { return schedule }
        var diagnostics = reader.diagnostics
        if diagnostics.isEmpty {
            diagnostics = [Diagnostic(file: source, line: 0, column: 0, path: "schedule", message: "not a schedule")]
        }
        throw ConfigError(diagnostics: diagnostics)
    }

    /// `text` as a YAML flow scalar: booleans and plain words stay plain, anything else is quoted.
    static func flowScalar(_ text: String) -> String {
        if ["true", "false"].contains(text) { return text }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += String(format: "\\x%02x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

/// `schedule`: cron, every, at and market rules, with their time zone, DST and day options.
extension ConfigReader {
    static let scheduleForms = ["cron", "every", "at", "market"]

    func readSchedule(_ node: ConfigNode, _ path: String, timezone: ZoneRules, calendars: [Market: any TradingCalendar]) -> Schedule? {
        if case .scalar = node {
            guard let text = string(node, path) else { return nil }
            return cron(text, node, path, zone: timezone, dst: nil)
        }
        guard let fields = mapping(node, path) else { return nil }
        let field = { (key: String) in self.lookup(fields, key) }
        let isForm = { (key: String) in key == "cron" || key == "every" || key == "market" }
        if fields.count(where: { isForm($0.key) }) > 1 {
            let forms = fields.map(\.key).filter(isForm)
            error(node, path, "a schedule takes one of cron, every, at or market; found \(forms.joined(separator: " and "))")
            return nil
        }
        var zone = timezone
        if let f = field("timezone"), let z = self.zone(f.value, join(path, "timezone")) { zone = z }
        var jitter: Duration = .zero
        if let f = field("jitter"), let d = duration(f.value, join(path, "jitter")) { jitter = d }

        if let f = field("cron") {
            checkKeys(fields, allowed: ["cron", "timezone", "dst", "jitter"], path)
            let dst = field("dst").flatMap { readDST($0.value, join(path, "dst")) }
            guard let text = string(f.value, join(path, "cron")) else { return nil }
            guard var schedule = cron(text, f.value, join(path, "cron"), zone: zone, dst: dst) else { return nil }
            schedule.jitter = jitter
            return schedule
        }
        if let f = field("every") {
            checkKeys(fields, allowed: ["every", "align", "timezone", "jitter"], path)
            guard let every = duration(f.value, join(path, "every")) else { return nil }
            let seconds = every.components.seconds
            guard seconds >= 1, every.components.attoseconds == 0 else {
                error(f.value, join(path, "every"), "the interval must be a whole number of seconds, at least 1s")
                return nil
            }
            var aligned = false
            if let a = field("align"), let b = bool(a.value, join(path, "align")) { aligned = b }
            if aligned && 86_400 % seconds != 0 {
                error(
                    f.value, join(path, "every"),
                    "align: true needs an interval that divides a day evenly (such as 5m, 15m, 1h, 4h); \(DurationText.format(every)) does not")
                return nil
            }
            if jitter >= every {
                error(
                    field("jitter")?.value, join(path, "jitter"),
                    "jitter (\(DurationText.format(jitter))) must be shorter than the interval (\(DurationText.format(every)))")
            }
            return Schedule(.interval(seconds: seconds, aligned: aligned, zone: zone), jitter: jitter)
        }
        if let f = field("market") {
            checkKeys(fields, allowed: ["market", "at", "offset", "days", "jitter"], path)
            guard let name = string(f.value, join(path, "market")) else { return nil }
            guard let market = Market(rawValue: name) else {
                error(f.value, join(path, "market"), "unknown market '\(name)'; use XNYS (NYSE) or CME (Globex equity index futures)")
                return nil
            }
            var event = MarketRule.Event.open
            if let a = field("at"), let text = string(a.value, join(path, "at")) {
                guard let e = MarketRule.Event(rawValue: text) else {
                    error(a.value, join(path, "at"), "'\(text)' is not a market event; use 'open' or 'close'")
                    return nil
                }
                event = e
            } else if field("at") == nil {
                error(node, path, "missing 'at: open' or 'at: close' for the market schedule")
                return nil
            }
            var offset: Duration = .zero
            if let o = field("offset") {
                guard let d = duration(o.value, join(path, "offset"), allowNegative: true) else { return nil }
                let magnitude = d < .zero ? .zero - d : d
                if magnitude > MarketRule.maximumOffset {
                    error(
                        o.value, join(path, "offset"),
                        "offset \(DurationText.format(d)) moves the market \(event.rawValue) past the next session; keep it within ±12h")
                    return nil
                }
                offset = d
            }
            var days = DayRule.everyTradingDay
            if let d = field("days") { days = readDays(d.value, join(path, "days")) ?? days }
            return Schedule(.market(MarketRule(market: market, calendar: calendars[market]!, event: event, offset: offset, days: days)), jitter: jitter)
        }
        if let f = field("at") {
            checkKeys(fields, allowed: ["at", "timezone"], path)
            guard let text = string(f.value, join(path, "at")) else { return nil }
            if let instant = try? Instant(iso8601: text) { return Schedule(.once(instant)) }
            if let parsed = ISO8601Text.parse(text), parsed.offsetSeconds == nil {
                guard let instant = zone.instant(at: parsed.local, policy: DSTPolicy(gap: .skip)) else {
                    error(f.value, join(path, "at"), "\(parsed.local) does not exist in \(zone.identifier) (daylight saving gap); pick another time")
                    return nil
                }
                return Schedule(.once(instant))
            }
            error(f.value, join(path, "at"), "'\(text)' is not a date and time; write 2026-12-01T14:35:00Z, or a local 2026-12-01T09:35:00 with timezone")
            return nil
        }
        checkKeys(fields, allowed: Self.scheduleForms + ["timezone", "dst", "align", "offset", "days", "jitter"], path)
        error(node, path, "a schedule needs one of: cron, every, at, market")
        return nil
    }

    func cron(_ text: String, _ node: ConfigNode, _ path: @autoclosure () -> String, zone: ZoneRules, dst: DSTPolicy?) -> Schedule? {
        do {
            if let known = cronExpressions[text] { return Schedule.cron(known, zone: zone, dst: dst) }
            let expression = try CronExpression(text)
            cronExpressions[text] = expression
            return Schedule.cron(expression, zone: zone, dst: dst)
        } catch {
            self.error(node, path(), error.message, columnOffset: error.column)
            return nil
        }
    }

    func readDST(_ node: ConfigNode, _ path: String) -> DSTPolicy? {
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["spring_forward", "fall_back"], path)
        var policy = DSTPolicy()
        for field in fields {
            let p = join(path, field.key)
            guard let text = string(field.value, p) else { continue }
            if field.key == "spring_forward" {
                if let gap = DSTPolicy.Gap(rawValue: text) {
                    policy.gap = gap
                } else {
                    error(field.value, p, "'\(text)' is not allowed; use 'shift' or 'skip'")
                }
            } else if field.key == "fall_back" {
                if let overlap = DSTPolicy.Overlap(rawValue: text) {
                    policy.overlap = overlap
                } else {
                    error(field.value, p, "'\(text)' is not allowed; use 'first', 'last' or 'both'")
                }
            }
        }
        return policy
    }

    func readDays(_ node: ConfigNode, _ path: String) -> DayRule? {
        if case .sequence(let items) = node {
            var set = Set<Weekday>()
            for item in items {
                guard let text = string(item, path) else { continue }
                guard let day = Weekday(name: text) else {
                    error(item, path, "'\(text)' is not a weekday; use mon, tue, wed, thu or fri")
                    continue
                }
                guard day.isWeekday else {
                    error(item, path, "'\(text)' has no trading sessions; use mon, tue, wed, thu or fri")
                    continue
                }
                set.insert(day)
            }
            if items.isEmpty {
                error(node, path, "the list of days is empty; give weekdays such as [mon, wed, fri], or leave 'days' out for every trading day")
            }
            return set.isEmpty ? nil : .weekdays(set)
        }
        guard let text = string(node, path) else { return nil }
        if text == "strategy" { return .strategy }
        if let rule = DayRule.parse(text) {
            // Trade dates are Monday to Friday: a weekend day would never fire.
            if case .weekdays(let set) = rule, let weekend = set.filter({ !$0.isWeekday }).min(by: { $0.rawValue < $1.rawValue }) {
                error(node, path, "'\(weekend.shortName)' has no trading sessions; use mon, tue, wed, thu or fri")
                return nil
            }
            return rule
        }
        let names = DayRule.names.keys.sorted()
        error(node, path, "unknown day rule '\(text)'\(Suggest.hint(for: text, in: names + ["mon,wed,fri", "strategy"]))")
        return nil
    }
}

extension DayRule {
    /// Parses a rule name (`first-trading-day-of-month`) or a weekday list (`mon,wed,fri`).
    public static func parse(_ text: String) -> DayRule? {
        if let rule = names[text] { return rule }
        let days = text.split(separator: ",").map { Weekday(name: String(ASCIIText.trimmed($0))) }
        guard !days.isEmpty, days.allSatisfy({ $0 != nil }) else { return nil }
        return .weekdays(Set(days.compactMap { $0 }))
    }
}
