/// `calendars`: closures and early closes added to the built-in exchange calendars.
extension ConfigReader {
    func readCalendars(_ node: ConfigNode?) -> [Market: any TradingCalendar] {
        var overrides: [Market: CalendarOverrides] = [:]
        if let node, let entries = mapping(node, "calendars") {
            for entry in entries {
                let path = join("calendars", entry.key)
                guard let market = Market(rawValue: entry.key) else {
                    error(entry.keyNode, path, "unknown calendar '\(entry.key)'; use XNYS or CME")
                    continue
                }
                guard let fields = mapping(entry.value, path) else { continue }
                checkKeys(fields, allowed: ["closures", "early_closes"], path)
                var result = CalendarOverrides()
                if let closures = lookup(fields, "closures") {
                    let cpath = join(path, "closures")
                    if case .sequence(let items) = closures.value {
                        for item in items { if let date = date(item, cpath) { result.closures[date] = "closed (jobs.yaml)" } }
                    } else if let map = mapping(closures.value, cpath, what: "a list of dates or a mapping of date to reason") {
                        for pair in map {
                            if let date = date(pair.keyNode, cpath) { result.closures[date] = string(pair.value, join(cpath, pair.key)) ?? "closed" }
                        }
                    }
                }
                if let closes = lookup(fields, "early_closes"), let map = mapping(closes.value, join(path, "early_closes")) {
                    for pair in map {
                        let ppath = join(path, "early_closes.\(pair.key)")
                        guard let date = date(pair.keyNode, ppath), let text = string(pair.value, ppath) else { continue }
                        guard let second = Self.clockTime(text) else {
                            error(pair.value, ppath, "'\(text)' is not a time of day; write it like 13:00 (in the exchange's own time zone)")
                            continue
                        }
                        if market == .xnys && !(9 * 3600 + 30 * 60 < second && second <= 16 * 3600) {
                            error(
                                pair.value, ppath,
                                "an XNYS close of \(text) is outside the session; give a time after 09:30 and no later than 16:00 (New York time)")
                            continue
                        }
                        result.closes[date] = second
                    }
                }
                overrides[market] = result
            }
        }
        var calendars: [Market: any TradingCalendar] = [:]
        for market in Market.allCases { calendars[market] = market.calendar(overrides: overrides[market] ?? CalendarOverrides()) }
        return calendars
    }

    func date(_ node: ConfigNode, _ path: String) -> LocalDate? {
        guard let text = string(node, path) else { return nil }
        do {
            return try LocalDate(parsing: text)
        } catch {
            self.error(node, path, "\(error)")
            return nil
        }
    }

    static func clockTime(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h),
            (0..<60).contains(m)
        else { return nil }
        return h * 3600 + m * 60
    }
}
