extension ConfigReader {
    /// `notify: { on: [failure, skipped], to: [phone], expire: 24h }` (per job, or the file's default).
    func readNotify(_ node: ConfigNode, _ path: String, references: References) -> NotifyRule? {
        guard let fields = mapping(node, path, what: "a mapping like { on: [failure], to: [phone] }") else { return nil }
        checkKeys(fields, allowed: ["on", "to", "expire"], path)
        var rule = NotifyRule(on: [], to: [])
        var valid = true
        let names = catalog.alertEvents.map(\.event.rawValue)
        if let on = lookup(fields, "on") {
            let items: [ConfigNode]
            if case .sequence(let sequence) = on.value { items = Array(sequence) } else { items = [on.value] }
            for item in items {
                guard let text = string(item, join(path, "on")) else {
                    valid = false
                    continue
                }
                let event = AlertEvent(text)
                guard names.contains(text) else {
                    error(item, join(path, "on"), "unknown event '\(text)'\(Suggest.hint(for: text, in: names))")
                    valid = false
                    continue
                }
                if !rule.on.contains(event) { rule.on.append(event) }
            }
        } else {
            error(node, path, "missing 'on'; list the events that alert, e.g. on: [failure, retries_exhausted]")
            valid = false
        }
        if let expire = lookup(fields, "expire") {
            if let value = duration(expire.value, join(path, "expire")) {
                if value < .seconds(60) {
                    error(expire.value, join(path, "expire"), "expire must be at least 1m: an alert needs time for its retries")
                    valid = false
                } else {
                    rule.expire = value
                }
            } else {
                valid = false
            }
        }
        if let to = lookup(fields, "to") {
            guard let list = option(to.value, .notifierReferences, join(path, "to"), references: references)?.listValue else { return nil }
            rule.to = list.compactMap(\.stringValue)
            if let duplicate = rule.to.first(where: { name in rule.to.filter { $0 == name }.count > 1 }) {
                error(to.value, join(path, "to"), "'\(duplicate)' is named twice; name each notifier once")
                valid = false
            }
            let expected: Int
            if case .sequence(let items) = to.value { expected = items.count } else { expected = 1 }
            if rule.to.count != expected {
                valid = false
            } else if rule.to.isEmpty {
                error(to.value, join(path, "to"), "the list of notifiers is empty; name at least one defined under 'notifiers:'")
                valid = false
            }
        } else if !rule.on.isEmpty {
            error(node, path, "missing 'to'; name the notifiers that receive the alerts, e.g. to: [phone]")
            valid = false
        }
        return valid ? rule : nil
    }
}
