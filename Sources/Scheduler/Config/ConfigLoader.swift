import Foundation
import Yams

/// Turns `jobs.yaml` into a validated, immutable `Plan`, or reports every problem in one pass.
///
/// ```swift
/// let plan = try ConfigLoader(catalog: catalog).load(file: "jobs.yaml")
/// ```
public struct ConfigLoader: Sendable {
    /// The component types and job kinds this build knows.
    public var catalog: ConfigCatalog

    /// A loader for `catalog`.
    public init(catalog: ConfigCatalog) { self.catalog = catalog }

    /// Reads and validates the file at `path`.
    public func load(file path: String) throws(ConfigError) -> Plan {
        let (text, base) = try Self.read(path)
        return try load(text: text, file: path, baseDirectory: base)
    }

    /// Validates `text` as if read from `file`; relative paths resolve against `baseDirectory`.
    public func load(text: String, file: String, baseDirectory: String) throws(ConfigError) -> Plan {
        let reader = ConfigReader(file: file, catalog: catalog, baseDirectory: baseDirectory)
        let plan = reader.read(text)
        if let plan, reader.diagnostics.isEmpty { return plan }
        throw ConfigError(diagnostics: reader.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
    }

    /// Reads only `database` and `secrets` from the file at `path`: what the vault commands need,
    /// so that a half-written job elsewhere does not block storing the secrets it refers to.
    /// Problems in those two settings (or YAML syntax errors) are still reported.
    public func loadStorage(file path: String) throws(ConfigError) -> StorageSettings {
        let (text, base) = try Self.read(path)
        let reader = ConfigReader(file: path, catalog: catalog, baseDirectory: base)
        if let settings = reader.readStorage(text), reader.diagnostics.isEmpty { return settings }
        throw ConfigError(diagnostics: reader.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
    }

    /// The text of the file at `path` and the directory its relative paths resolve against.
    private static func read(_ path: String) throws(ConfigError) -> (text: String, base: String) {
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let base = (path as NSString).deletingLastPathComponent
            return (text, base.isEmpty ? "." : base)
        } catch {
            throw ConfigError(diagnostics: [
                Diagnostic(
                    file: path, line: 0, column: 0, path: "",
                    message: "cannot read the file (\(Self.reason(error))); check the path or run 'schedctl init' to write a starter jobs.yaml")
            ])
        }
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError || nsError.code == 260 { return "no such file" }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

/// The single-pass reader behind `ConfigLoader`; collects diagnostics instead of stopping.
final class ConfigReader {
    let file: String
    let catalog: ConfigCatalog
    let baseDirectory: String
    private(set) var diagnostics: [Diagnostic] = []
    /// The components, for kinds' ``ConfigCatalog/jobChecks``.
    var brokerSpecs: [String: ComponentSpec] = [:]
    var strategySpecs: [String: ComponentSpec] = [:]

    static let topKeys = ["timezone", "database", "secrets", "brokers", "strategies", "notifiers", "calendars", "service", "jobs", "notify"]
    static let jobKeys = ["type", "schedule", "misfire", "overlap", "retry", "timeout", "paused", "description", "notify"]

    init(file: String, catalog: ConfigCatalog, baseDirectory: String) {
        self.file = file
        self.catalog = catalog
        self.baseDirectory = baseDirectory
    }

    // MARK: Reporting

    /// Records a problem at `node`; `columnOffset` is a position inside the scalar's text (past
    /// its opening quote, if quoted), such as the offending field of a cron expression.
    func error(_ node: Node?, _ path: String, _ message: String, columnOffset: Int? = nil) {
        let mark = node?.mark
        var column = (mark?.column ?? 0) + (columnOffset ?? 0)
        if columnOffset != nil, case .scalar(let scalar) = node, scalar.style == .doubleQuoted || scalar.style == .singleQuoted {
            column += 1
        }
        diagnostics.append(Diagnostic(file: file, line: mark?.line ?? 0, column: column, path: path, message: message))
    }

    // MARK: Node helpers

    func mapping(_ node: Node, _ path: String, what: String = "a mapping") -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            if isNull(node) { return [] }
            error(node, path, "expected \(what), found \(describe(node))")
            return nil
        }
        // Duplicate keys never get here: the YAML parser rejects them (see `reportYAML`).
        var result: [(String, Node, Node)] = []
        result.reserveCapacity(mapping.count)
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                error(key, path, "keys must be plain text")
                continue
            }
            result.append((name, key, value))
        }
        return result
    }

    typealias Field = (key: String, keyNode: Node, value: Node)

    private var kindKeyCache: [String: (Set<String>, [String])] = [:]

    /// A job kind's own keys, and every key its jobs accept (computed once per kind).
    func keys(ofKind kind: String, _ specs: [OptionSpec]) -> (Set<String>, [String]) {
        if let cached = kindKeyCache[kind] { return cached }
        let result = (Set(specs.map(\.name)), Self.jobKeys + specs.map(\.name))
        kindKeyCache[kind] = result
        return result
    }

    /// The entry for `key`, found by index so that no other entry's nodes are copied.
    func lookup(_ fields: [Field], _ key: String) -> Field? {
        for index in fields.indices where fields[index].key == key { return fields[index] }
        return nil
    }

    /// The entries whose keys pass `keep`, found by index.
    func selecting(_ fields: [Field], where keep: (String) -> Bool) -> [Field] {
        var result: [Field] = []
        for index in fields.indices where keep(fields[index].key) { result.append(fields[index]) }
        return result
    }

    func checkKeys(_ entries: [(key: String, keyNode: Node, value: Node)], allowed: [String], _ path: String) {
        for index in entries.indices where !allowed.contains(entries[index].key) {
            let entry = entries[index]
            error(entry.keyNode, join(path, entry.key), "unknown key '\(entry.key)'\(Suggest.hint(for: entry.key, in: allowed))")
        }
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return isNull(node) ? "nothing" : "'\(s.string)'"
        case .alias: return "an alias"
        }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            error(node, path, "expected text, found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(node, path, "expected true or false, found '\(text)'")
            return nil
        }
    }

    func integer(_ node: Node, _ path: String, _ range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            error(node, path, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(text)'")
            return nil
        }
        return value
    }

    func duration(_ node: Node, _ path: String, allowNegative: Bool = false) -> Duration? {
        guard let text = string(node, path) else { return nil }
        guard let value = DurationText.parse(text) else {
            error(node, path, "'\(text)' is not a duration; write it like 30s, 15m, 1h30m or 2d")
            return nil
        }
        if !allowNegative && value < .zero {
            error(node, path, "'\(text)' must not be negative")
            return nil
        }
        return value
    }

    func zone(_ node: Node, _ path: String) -> ZoneRules? {
        guard let text = string(node, path) else { return nil }
        guard let rules = ZoneRules.named(text) else {
            let candidates = TimeZone.knownTimeZoneIdentifiers
            let hint = Suggest.closest(to: text, in: candidates).map { " — did you mean '\($0)'?" } ?? "; use an IANA name such as America/New_York or UTC"
            error(node, path, "unknown time zone '\(text)'\(hint)")
            return nil
        }
        return rules
    }

    // MARK: The file

    func read(_ text: String) -> Plan? {
        guard let top = readTop(text) else { return nil }
        checkKeys(top, allowed: Self.topKeys, "")
        let value = { (key: String) in self.lookup(top, key)?.value }

        var timezone = ZoneRules.utc
        if let node = value("timezone"), let rules = zone(node, "timezone") { timezone = rules }
        let storage = storageSettings(top)
        let database = storage.database
        let secrets = storage.secrets
        let brokers = components(value("brokers"), "brokers", types: catalog.brokers)
        let strategies = components(value("strategies"), "strategies", types: catalog.strategies)
        let notifiers = components(value("notifiers"), "notifiers", types: catalog.notifiers)
        let calendars = readCalendars(value("calendars"))
        let service = readService(value("service"))
        let references = References(
            brokers: Set(brokers.keys), strategies: Set(strategies.keys), notifiers: Set(notifiers.keys),
            strategyTypes: strategies.mapValues(\.type))
        brokerSpecs = brokers
        strategySpecs = strategies
        let notify = value("notify").flatMap { readNotify($0, "notify", references: references) }
        var jobs: [JobSpec] = []
        if let node = value("jobs"), let entries = mapping(node, "jobs") {
            if entries.isEmpty { error(node, "jobs", "'jobs:' is empty; add at least one job (see 'schedctl init')") }
            for entry in entries {
                if let job = readJob(entry.key, entry.keyNode, entry.value, timezone: timezone, calendars: calendars, references: references) {
                    jobs.append(job)
                }
            }
        } else if value("jobs") == nil {
            error(nil, "jobs", "no 'jobs:' section; add at least one job (see 'schedctl init')")
        }
        return Plan(
            source: file, timezone: timezone, database: database, secrets: secrets, brokers: brokers, strategies: strategies,
            notifiers: notifiers, calendars: calendars, service: service, jobs: jobs, notify: notify)
    }

    /// The top-level mapping, or nil (with a diagnostic) when the file is not one.
    func readTop(_ text: String) -> [Field]? {
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text, .basic) else {
                error(nil, "", "the file is empty; run 'schedctl init' for a starter jobs.yaml")
                return nil
            }
            root = composed
        } catch let yamlError as YamlError {
            reportYAML(yamlError)
            return nil
        } catch {
            self.error(nil, "", "cannot parse YAML: \(error)")
            return nil
        }
        return mapping(root, "", what: "a mapping of settings at the top level")
    }

    /// `database` and `secrets` from the top-level mapping.
    func storageSettings(_ top: [Field]) -> StorageSettings {
        var database = "state/schedctl.sqlite"
        if let node = lookup(top, "database")?.value, let text = string(node, "database") { database = text }
        if !database.hasPrefix("/") && database != ":memory:" { database = (baseDirectory as NSString).appendingPathComponent(database) }
        var secrets = SecretsSettings()
        if let node = lookup(top, "secrets")?.value, let entries = mapping(node, "secrets") {
            checkKeys(entries, allowed: ["ssh_key"], "secrets")
            if let key = lookup(entries, "ssh_key") { secrets.sshKey = string(key.value, "secrets.ssh_key") }
        }
        return StorageSettings(database: database, secrets: secrets)
    }

    /// Only `database` and `secrets`; every other section is left unread.
    func readStorage(_ text: String) -> StorageSettings? {
        guard let top = readTop(text) else { return nil }
        return storageSettings(top)
    }

    func reportYAML(_ yamlError: YamlError) {
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) \($0.text)" } ?? problem
            diagnostics.append(
                Diagnostic(
                    file: file, line: mark.line, column: mark.column, path: "", message: "invalid YAML: \(detail); check indentation and quoting on this line"))
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams rejects duplicate keys before the reader sees them, naming only the first
            // occurrence (and carrying the whole file as "context"); point at the repeat instead.
            let first = context.mark
            let key = duplicates.first ?? ""
            let again = Self.repeatedKey(key, after: first, in: context.text)
            let others = duplicates.dropFirst().map { "'\($0)'" }.joined(separator: ", ")
            let message = "duplicate key '\(key)' (first defined at line \(first.line)); keep one" + (others.isEmpty ? "" : " (also repeated: \(others))")
            let line = again?.line ?? first.line
            diagnostics.append(Diagnostic(file: file, line: line, column: again?.column ?? first.column, path: "", message: message))
        default:
            diagnostics.append(Diagnostic(file: file, line: 0, column: 0, path: "", message: "invalid YAML: \(yamlError)"))
        }
    }

    /// The line and column of the next block-style `key:` at the same column as `first`.
    static func repeatedKey(_ key: String, after first: Mark, in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line >= 1, first.column >= 1, !key.isEmpty else { return nil }
        for index in first.line..<lines.count {
            let line = Array(lines[index])
            let start = first.column - 1
            guard line.count > start, line[..<start].allSatisfy({ $0 == " " }) else { continue }
            let rest = String(line[start...])
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate) {
                if rest.dropFirst(candidate.count).drop(while: { $0 == " " }).first == ":" { return (index + 1, first.column) }
            }
        }
        return nil
    }

    // MARK: Components

    struct References {
        var brokers: Set<String>
        var strategies: Set<String>
        var notifiers: Set<String>
        /// Each strategy's type, for `days: strategy`.
        var strategyTypes: [String: String] = [:]
    }

    func components(_ node: Node?, _ section: String, types: [String: [OptionSpec]]) -> [String: ComponentSpec] {
        guard let node, let entries = mapping(node, section) else { return [:] }
        var result: [String: ComponentSpec] = [:]
        for entry in entries {
            let path = join(section, entry.key)
            validateName(entry.key, entry.keyNode, path)
            guard let fields = mapping(entry.value, path) else { continue }
            guard let typeEntry = lookup(fields, "type") else {
                error(entry.keyNode, path, "missing 'type'; one of: \(types.keys.sorted().joined(separator: ", "))")
                continue
            }
            guard let type = string(typeEntry.value, join(path, "type")) else { continue }
            guard let specs = types[type] else {
                error(
                    typeEntry.value, join(path, "type"),
                    "unknown \(section.dropLast(section.hasSuffix("ies") ? 3 : 1))\(section.hasSuffix("ies") ? "y" : "") type '\(type)'\(Suggest.hint(for: type, in: Array(types.keys)))"
                )
                continue
            }
            let options = readOptions(selecting(fields) { $0 != "type" }, specs: specs, path: path, parent: entry.keyNode, references: nil)
            result[entry.key] = ComponentSpec(name: entry.key, type: type, options: options)
        }
        return result
    }

    /// Letters, digits, `.`, `_`, `-` (ASCII only; names appear in paths, logs and SQL keys).
    static func isValidName(_ name: String, extra: Unicode.Scalar? = nil) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy { c in
                ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "." || c == "_" || c == "-" || c == extra
            }
    }

    func validateName(_ name: String, _ node: Node, _ path: String) {
        if !Self.isValidName(name) {
            error(node, path, "name '\(name)' may use only letters, digits, '.', '_' and '-'")
        }
    }

    func readOptions(
        _ fields: [(key: String, keyNode: Node, value: Node)], specs: [OptionSpec], path: String, parent: Node, references: References?
    ) -> [String: ConfigValue] {
        checkKeys(fields, allowed: specs.map(\.name), path)
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

    func option(_ node: Node, _ kind: OptionKind, _ path: String, references: References?) -> ConfigValue? {
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
            let nodes: [Node]
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
    func sessionEnd(_ node: Node, _ path: String) -> ConfigValue? {
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

    func secretOrString(_ text: String, _ node: Node, _ path: String) -> ConfigValue {
        guard text.hasPrefix("secret:") else { return .string(text) }
        let name = String(text.dropFirst("secret:".count))
        if !Self.isValidName(name, extra: "/") {
            error(node, path, "'\(text)' is not a valid secret reference; write secret:NAME with letters, digits, '.', '_', '/' or '-'")
        }
        return .secret(name)
    }

    // MARK: Calendars and service

    func readCalendars(_ node: Node?) -> [Market: any TradingCalendar] {
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

    func date(_ node: Node, _ path: String) -> LocalDate? {
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

    /// `service.retention: { runs: 90d, failed: 365d }` (each at least 1h; `failed` defaults to `runs`).
    func readRetention(_ node: Node, _ path: String) -> RetentionPolicy? {
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["runs", "failed"], path)
        var runs: Duration?
        var failed: Duration?
        for field in fields where field.key == "runs" || field.key == "failed" {
            let fieldPath = join(path, field.key)
            guard let d = duration(field.value, fieldPath) else { continue }
            guard d >= .seconds(3600) else {
                error(field.value, fieldPath, "keep history at least 1h (e.g. 90d); omit service.retention to keep it forever")
                continue
            }
            if field.key == "runs" { runs = d } else if field.key == "failed" { failed = d }
        }
        guard let runs else {
            if !fields.contains(where: { $0.key == "runs" }) { error(node, path, "missing 'runs' (how long finished runs are kept, e.g. 90d)") }
            return nil
        }
        return RetentionPolicy(runs: runs, failed: failed)
    }

    func readService(_ node: Node?) -> ServiceSettings {
        var settings = ServiceSettings()
        guard let node, let fields = mapping(node, "service") else { return settings }
        checkKeys(fields, allowed: ["max_concurrent_runs", "lease", "shutdown_grace", "log_format", "log_level", "retention", "durability"], "service")
        for field in fields {
            let path = join("service", field.key)
            switch field.key {
            case "max_concurrent_runs": if let n = integer(field.value, path, 1...10_000) { settings.maxConcurrentRuns = n }
            case "lease":
                if let d = duration(field.value, path) {
                    if d < .seconds(2) {
                        error(field.value, path, "a lease shorter than 2s cannot be renewed reliably; use at least 2s")
                    } else {
                        settings.leaseDuration = d
                    }
                }
            case "shutdown_grace": if let d = duration(field.value, path) { settings.shutdownGrace = d }
            case "retention": settings.retention = readRetention(field.value, path)
            case "durability":
                if let t = string(field.value, path) {
                    if let value = Durability(rawValue: t) {
                        settings.durability = value
                    } else {
                        error(field.value, path, "'\(t)' is not a durability; use 'full' (survives power loss) or 'normal' (faster; may lose the last commits)")
                    }
                }
            case "log_format":
                if let t = string(field.value, path) {
                    if ["logfmt", "json"].contains(t) {
                        settings.logFormat = t
                    } else {
                        error(field.value, path, "'\(t)' is not a log format; use 'logfmt' or 'json'")
                    }
                }
            case "log_level":
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                if let t = string(field.value, path) {
                    if levels.contains(t) {
                        settings.logLevel = t
                    } else {
                        error(field.value, path, "'\(t)' is not a log level\(Suggest.hint(for: t, in: levels))")
                    }
                }
            default: break
            }
        }
        return settings
    }

    // MARK: Jobs

    func readJob(
        _ name: String, _ keyNode: Node, _ node: Node, timezone: ZoneRules, calendars: [Market: any TradingCalendar], references: References
    ) -> JobSpec? {
        let path = join("jobs", name)
        validateName(name, keyNode, path)
        guard let fields = mapping(node, path) else { return nil }
        let field = { (key: String) in self.lookup(fields, key) }
        guard let typeField = field("type") else {
            error(keyNode, path, "missing 'type'; one of: \(catalog.jobKinds.keys.sorted().joined(separator: ", "))")
            return nil
        }
        guard let kind = string(typeField.value, join(path, "type")) else { return nil }
        guard let kindSpecs = catalog.jobKinds[kind] else {
            error(typeField.value, join(path, "type"), "unknown job type '\(kind)'\(Suggest.hint(for: kind, in: Array(catalog.jobKinds.keys)))")
            return nil
        }
        let (kindKeys, allowedKeys) = keys(ofKind: kind, kindSpecs)
        checkKeys(selecting(fields) { !kindKeys.contains($0) }, allowed: allowedKeys, path)
        let options = readOptions(
            selecting(fields) { kindKeys.contains($0) }, specs: kindSpecs, path: path, parent: keyNode, references: references)
        if let check = catalog.jobChecks[kind] {
            for problem in check(options, brokerSpecs, strategySpecs) {
                let top = String(problem.key.prefix { $0 != "." })
                error(lookup(fields, top)?.value ?? keyNode, join(path, problem.key), problem.message)
            }
        }

        var schedule: Schedule?
        if let scheduleField = field("schedule") {
            schedule = readSchedule(scheduleField.value, join(path, "schedule"), timezone: timezone, calendars: calendars)
        } else {
            error(keyNode, path, "missing 'schedule'; e.g. schedule: { cron: \"0 17 * * 1-5\" } or { market: XNYS, at: open, offset: 5m }")
        }
        if schedule?.strategyRule != nil, let scheduleField = field("schedule") {
            checkStrategyDays(scheduleField.value, join(path, "schedule.days"), options: options, kindSpecs: kindSpecs, references: references)
        }
        var job = JobSpec(name: name, kind: kind, schedule: schedule ?? Schedule(.once(Instant(seconds: 0))), options: options, line: keyNode.mark?.line ?? 0)
        if let f = field("misfire") { job.misfire = readMisfire(f.value, join(path, "misfire")) ?? job.misfire }
        if let f = field("overlap"), let text = string(f.value, join(path, "overlap")) {
            if let policy = OverlapPolicy(rawValue: text) {
                job.overlap = policy
            } else {
                error(f.value, join(path, "overlap"), "unknown overlap policy '\(text)'\(Suggest.hint(for: text, in: OverlapPolicy.allCases.map(\.rawValue)))")
            }
        }
        if let f = field("retry") { job.retry = readRetry(f.value, join(path, "retry")) ?? job.retry }
        if let f = field("timeout") { job.timeout = duration(f.value, join(path, "timeout")) }
        if let f = field("paused") { job.paused = bool(f.value, join(path, "paused")) ?? false }
        if let f = field("description") { job.description = string(f.value, join(path, "description")) }
        // A kind that declares its own `notify` option keeps it; otherwise `notify:` is the alert rule.
        if !kindKeys.contains("notify"), let f = field("notify") { job.notify = readNotify(f.value, join(path, "notify"), references: references) }
        return schedule == nil ? nil : job
    }

    /// `days: strategy` needs the job's `strategy:` to name a strategy that announces trade dates
    /// (`pennyvault`); `weights` and `file` strategies have none.
    func checkStrategyDays(_ scheduleNode: Node, _ path: String, options: [String: ConfigValue], kindSpecs: [OptionSpec], references: References) {
        var daysNode = scheduleNode
        if case .mapping(let mapping) = scheduleNode, let entry = mapping.first(where: { $0.key.scalar?.string == "days" }) { daysNode = entry.value }
        guard kindSpecs.contains(where: { $0.kind == .strategyReference }) else {
            error(
                daysNode, path,
                "'days: strategy' needs a job with a 'strategy:' (such as type: rebalance); this job type has none — use a day rule such as every-trading-day or first-trading-day-of-month"
            )
            return
        }
        guard let name = options.first(where: { key, _ in kindSpecs.contains { $0.name == key && $0.kind == .strategyReference } })?.value.stringValue else {
            error(daysNode, path, "'days: strategy' needs the job's 'strategy:' set to a pennyvault strategy; add 'strategy: NAME', or use another day rule")
            return
        }
        if let type = references.strategyTypes[name], type != "pennyvault" {
            error(
                daysNode, path,
                "'days: strategy' follows Penny Vault's next trade date, but strategy '\(name)' is type \(type), which has none; "
                    + "use a day rule such as first-trading-day-of-month, or a pennyvault strategy")
        }
    }

    func readMisfire(_ node: Node, _ path: String) -> MisfirePolicy? {
        var policy = MisfirePolicy()
        let modeNames = MisfirePolicy.Mode.allCases.map(\.rawValue)
        func mode(_ node: Node, _ path: String) -> MisfirePolicy.Mode? {
            guard let text = string(node, path) else { return nil }
            guard let mode = MisfirePolicy.Mode(rawValue: text) else {
                error(node, path, "unknown misfire policy '\(text)'\(Suggest.hint(for: text, in: modeNames))")
                return nil
            }
            return mode
        }
        if case .scalar = node { return mode(node, path).map { MisfirePolicy(mode: $0) } }
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["policy", "grace"], path)
        for field in fields {
            if field.key == "policy", let m = mode(field.value, join(path, "policy")) { policy.mode = m }
            if field.key == "grace", let g = duration(field.value, join(path, "grace")) { policy.grace = g }
        }
        return policy
    }

    func readRetry(_ node: Node, _ path: String) -> RetryPolicy? {
        var policy = RetryPolicy()
        if case .scalar = node {
            return integer(node, path, 1...100).map { RetryPolicy(attempts: $0) }
        }
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["attempts", "backoff", "max_backoff", "jitter"], path)
        for field in fields {
            let p = join(path, field.key)
            switch field.key {
            case "attempts": if let n = integer(field.value, p, 1...100) { policy.attempts = n }
            case "backoff": if let d = duration(field.value, p) { policy.backoff = d }
            case "max_backoff": if let d = duration(field.value, p) { policy.maxBackoff = d }
            case "jitter": if let b = bool(field.value, p) { policy.jitter = b }
            default: break
            }
        }
        if policy.maxBackoff < policy.backoff {
            error(
                node, path,
                "max_backoff (\(DurationText.format(policy.maxBackoff))) is shorter than backoff (\(DurationText.format(policy.backoff))); raise max_backoff")
        }
        return policy
    }

    // MARK: Schedules

    static let scheduleForms = ["cron", "every", "at", "market"]

    func readSchedule(_ node: Node, _ path: String, timezone: ZoneRules, calendars: [Market: any TradingCalendar]) -> Schedule? {
        if case .scalar = node {
            guard let text = string(node, path) else { return nil }
            return cron(text, node, path, zone: timezone, dst: nil)
        }
        guard let fields = mapping(node, path) else { return nil }
        let field = { (key: String) in self.lookup(fields, key) }
        let forms = fields.indices.map { fields[$0].key }.filter { $0 == "cron" || $0 == "every" || $0 == "market" }
        if forms.count > 1 {
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

    func cron(_ text: String, _ node: Node, _ path: String, zone: ZoneRules, dst: DSTPolicy?) -> Schedule? {
        do {
            return Schedule.cron(try CronExpression(text), zone: zone, dst: dst)
        } catch {
            self.error(node, path, error.message, columnOffset: error.column)
            return nil
        }
    }

    func readDST(_ node: Node, _ path: String) -> DSTPolicy? {
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

    func readDays(_ node: Node, _ path: String) -> DayRule? {
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
