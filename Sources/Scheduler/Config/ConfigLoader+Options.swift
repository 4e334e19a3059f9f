import Foundation

/// Option values of components and jobs, read by their declared ``OptionKind``.
extension ConfigReader {
    func readOptions(
        _ fields: [Field], specs: [OptionSpec], path: String, parent: ConfigNode, references: References?
    ) -> [String: ConfigValue] {
        if fields.contains(where: { field in !specs.contains { $0.name == field.key } }) { checkKeys(fields, allowed: specs.map(\.name), path) }
        var options: [String: ConfigValue] = [:]
        for spec in specs {
            guard let field = lookup(fields, spec.name) else {
                if spec.required { error(parent, path, "missing required key '\(spec.name)'") }
                continue
            }
            if let value = option(field.value, spec.kind, join(path, spec.name), references: references) {
                options[spec.name] = value
            }
        }
        return options
    }

    func option(_ node: ConfigNode, _ kind: OptionKind, _ path: String, references: References?) -> ConfigValue? {
        switch kind {
        case .string:
            guard let text = string(node, path) else { return nil }
            return secretOrString(text, node, path)
        case .secret:
            guard let text = string(node, path) else { return nil }
            let value = secretOrString(text, node, path)
            if case .string = value {
                error(node, path, "credentials do not belong in jobs.yaml; store it with 'schedctl secrets set NAME' and write 'secret:NAME' here")
                return nil
            }
            return value
        case .number:
            guard let text = string(node, path) else { return nil }
            guard let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), text.first?.isNumber == true || text.first == "-" else {
                error(node, path, "expected a number, found '\(text)'")
                return nil
            }
            return .number(number)
        case .integer(let range):
            return integer(node, path, range).map { .number(Decimal($0)) }
        case .bool:
            return bool(node, path).map { .bool($0) }
        case .duration:
            return duration(node, path).map { .duration($0) }
        case .choice(let choices):
            guard let text = string(node, path) else { return nil }
            guard choices.contains(text) else {
                error(node, path, "'\(text)' is not allowed here; use \(choices.map { "'\($0)'" }.joined(separator: " or "))")
                return nil
            }
            return .string(text)
        case .stringList:
            guard case .sequence(let items) = node else {
                error(node, path, "expected a list, found \(describe(node))")
                return nil
            }
            return .list(items.compactMap { item in string(item, path).map { secretOrString($0, item, path) } })
        case .command:
            if case .sequence(let items) = node {
                let argv = items.compactMap { string($0, path) }
                if argv.isEmpty { error(node, path, "the command is empty; give at least the program, e.g. [\"/bin/echo\", \"hello\"]") }
                return .list(argv.map { .string($0) })
            }
            guard let text = string(node, path), !text.isEmpty else { return nil }
            return .list([.string("/bin/sh"), .string("-c"), .string(text)])
        case .stringMap:
            guard let entries = mapping(node, path) else { return nil }
            var map: [String: ConfigValue] = [:]
            for entry in entries {
                if let text = string(entry.value, join(path, entry.key)) { map[entry.key] = secretOrString(text, entry.value, join(path, entry.key)) }
            }
            return .map(map)
        case .numberMap:
            guard let entries = mapping(node, path) else { return nil }
            var map: [String: ConfigValue] = [:]
            for entry in entries { if let number = option(entry.value, .number, join(path, entry.key), references: nil) { map[entry.key] = number } }
            return .map(map)
        case .brokerReference, .strategyReference:
            guard let name = string(node, path) else { return nil }
            if let references {
                let (known, section) = kind == .brokerReference ? (references.brokers, "brokers") : (references.strategies, "strategies")
                if !known.contains(name) {
                    error(
                        node, path,
                        "unknown \(section == "brokers" ? "broker" : "strategy") '\(name)'\(known.isEmpty ? "; define it under '\(section):'" : Suggest.hint(for: name, in: Array(known)))"
                    )
                    return nil
                }
            }
            return .string(name)
        case .textOrTextMap:
            if case .mapping = node {
                guard let entries = mapping(node, path) else { return nil }
                var map: [String: ConfigValue] = [:]
                for entry in entries { if let text = string(entry.value, join(path, entry.key)) { map[entry.key] = .string(text) } }
                return .map(map)
            }
            return string(node, path).map { .string($0) }
        case .notifierReferences:
            let nodes: [ConfigNode]
            if case .sequence(let items) = node { nodes = Array(items) } else { nodes = [node] }
            var names: [ConfigValue] = []
            for item in nodes {
                guard let name = string(item, path) else { continue }
                if let references, !references.notifiers.contains(name) {
                    error(
                        item, path,
                        "unknown notifier '\(name)'\(references.notifiers.isEmpty ? "; define it under 'notifiers:'" : Suggest.hint(for: name, in: Array(references.notifiers)))"
                    )
                    continue
                }
                names.append(.string(name))
            }
            return .list(names)
        case .options(let specs):
            guard let entries = mapping(node, path) else { return nil }
            return .map(readOptions(entries, specs: specs, path: path, parent: node, references: references))
        case .sessionEnd:
            return sessionEnd(node, path)
        }
    }

    /// `6h`, or `{ market: CME, at: close, offset: -10m }`.
    func sessionEnd(_ node: ConfigNode, _ path: String) -> ConfigValue? {
        if case .scalar = node {
            guard let d = duration(node, path) else { return nil }
            guard d > .zero else {
                error(node, path, "the session length must be positive, e.g. 6h, or a market rule { market: CME, at: close, offset: -10m }")
                return nil
            }
            return .duration(d)
        }
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["market", "at", "offset"], path)
        guard let m = lookup(fields, "market"), let name = string(m.value, join(path, "market")) else {
            error(node, path, "missing 'market'; write { market: CME, at: close, offset: -10m } or a duration such as 6h")
            return nil
        }
        guard Market(rawValue: name) != nil else {
            error(m.value, join(path, "market"), "unknown market '\(name)'; use XNYS (NYSE) or CME (Globex equity index futures)")
            return nil
        }
        guard let a = lookup(fields, "at"), let at = string(a.value, join(path, "at")) else {
            error(node, path, "missing 'at: open' or 'at: close'")
            return nil
        }
        guard MarketRule.Event(rawValue: at) != nil else {
            error(a.value, join(path, "at"), "'\(at)' is not a market event; use 'open' or 'close'")
            return nil
        }
        var offset: Duration = .zero
        if let o = lookup(fields, "offset") {
            guard let d = duration(o.value, join(path, "offset"), allowNegative: true) else { return nil }
            guard (d < .zero ? .zero - d : d) <= MarketRule.maximumOffset else {
                error(o.value, join(path, "offset"), "offset \(DurationText.format(d)) is too large; keep it within ±12h")
                return nil
            }
            offset = d
        }
        return .map(["market": .string(name), "at": .string(at), "offset": .duration(offset)])
    }

    func secretOrString(_ text: String, _ node: ConfigNode, _ path: String) -> ConfigValue {
        guard text.hasPrefix("secret:") else { return .string(text) }
        let name = String(text.dropFirst("secret:".count))
        if !Self.isValidName(name, extra: "/") {
            error(node, path, "'\(text)' is not a valid secret reference; write secret:NAME with letters, digits, '.', '_', '/' or '-'")
        }
        return .secret(name)
    }
}
