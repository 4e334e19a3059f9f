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
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.intValue > YAMLGuard.maxBytes {
            throw ConfigError(diagnostics: [
                Diagnostic(
                    file: path, line: 0, column: 0, path: "",
                    message: "the file is \(size.intValue >> 20) MiB; jobs.yaml may be at most \(YAMLGuard.maxBytes >> 20) MiB (is this the right file?)")
            ])
        }
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
    func error(_ node: ConfigNode?, _ path: String, _ message: String, columnOffset: Int? = nil) {
        let mark = node?.mark
        var column = (mark?.column ?? 0) + (columnOffset ?? 0)
        if columnOffset != nil, case .scalar(let scalar) = node, scalar.style == .doubleQuoted || scalar.style == .singleQuoted {
            column += 1
        }
        diagnostics.append(Diagnostic(file: file, line: mark?.line ?? 0, column: column, path: path, message: message))
    }

    // MARK: Node helpers

    func mapping(_ node: ConfigNode, _ path: String, what: String = "a mapping") -> [Field]? {
        guard case .mapping(let mapping) = node else {
            if isNull(node) { return [] }
            error(node, path, "expected \(what), found \(describe(node))")
            return nil
        }
        // Duplicate keys never get here: the YAML parser rejects them (see `reportYAML`).
        var result: [Field] = []
        result.reserveCapacity(mapping.count)
        var index = 0
        while index + 1 < mapping.items.count {
            let key = mapping.items[index]
            if case .scalar(let scalar) = key {
                result.append(Field(key: scalar.string, keyNode: key, value: mapping.items[index + 1]))
            } else {
                error(key, path, "keys must be plain text")
            }
            index += 2
        }
        return result
    }

    /// The entries of Yams' `node` (see the other `mapping`).
    func mapping(_ node: Node, _ path: String, what: String = "a mapping") -> [Field]? {
        mapping(ConfigNode(node), path, what: what)
    }

    /// One entry of a mapping whose key is text: the key, its node and the value. (A struct, not
    /// a tuple: the compiler copies a tuple of these through its generic value witnesses.)
    struct Field {
        var key: String
        var keyNode: ConfigNode
        var value: ConfigNode
    }

    private var kindKeyCache: [String: (Set<String>, [String])] = [:]

    /// Cron expressions parsed so far, by their text: a file repeats a few (`0 17 * * 1-5`).
    var cronExpressions: [String: CronExpression] = [:]

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

    func checkKeys(_ entries: [Field], allowed: [String], _ path: String) {
        for index in entries.indices where !allowed.contains(entries[index].key) {
            let entry = entries[index]
            error(entry.keyNode, join(path, entry.key), "unknown key '\(entry.key)'\(Suggest.hint(for: entry.key, in: allowed))")
        }
    }

    func isNull(_ node: ConfigNode) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func describe(_ node: ConfigNode) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return isNull(node) ? "nothing" : "'\(s.string)'"
        }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // The leaf readers take their key path as an autoclosure: it is built only for a diagnostic.

    func string(_ node: ConfigNode, _ path: @autoclosure () -> String) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            error(node, path(), "expected text, found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    func bool(_ node: ConfigNode, _ path: @autoclosure () -> String) -> Bool? {
        guard let text = string(node, path()) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(node, path(), "expected true or false, found '\(text)'")
            return nil
        }
    }

    func integer(_ node: ConfigNode, _ path: @autoclosure () -> String, _ range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path()) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            error(node, path(), "expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(text)'")
            return nil
        }
        return value
    }

    func duration(_ node: ConfigNode, _ path: @autoclosure () -> String, allowNegative: Bool = false) -> Duration? {
        guard let text = string(node, path()) else { return nil }
        guard let value = DurationText.parse(text) else {
            error(node, path(), "'\(text)' is not a duration; write it like 30s, 15m, 1h30m or 2d")
            return nil
        }
        if !allowNegative && value < .zero {
            error(node, path(), "'\(text)' must not be negative")
            return nil
        }
        return value
    }

    func zone(_ node: ConfigNode, _ path: @autoclosure () -> String) -> ZoneRules? {
        guard let text = string(node, path()) else { return nil }
        guard let rules = ZoneRules.named(text) else {
            let candidates = TimeZone.knownTimeZoneIdentifiers
            let hint = Suggest.closest(to: text, in: candidates).map { " — did you mean '\($0)'?" } ?? "; use an IANA name such as America/New_York or UTC"
            error(node, path(), "unknown time zone '\(text)'\(hint)")
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
            jobs.reserveCapacity(entries.count)
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
        let root: ConfigNode
        // (A text over the size limit is refused unscanned.)
        let scan = text.utf8.count > YAMLGuard.maxBytes ? YAMLGuard.Scan() : YAMLGuard.scan(text)
        if let problem = YAMLGuard.problem(beforeParsing: text, scan: scan) {
            error(nil, "", "\(problem); nothing was loaded")
            return nil
        }
        if YAMLComposer.marksHold {
            do {
                guard let composed = try YAMLComposer.composeConfig(text) else {
                    error(nil, "", "the file is empty; run 'schedctl init' for a starter jobs.yaml")
                    return nil
                }
                root = composed
            } catch {
                switch error {
                case .syntax(let detail, let line, let column):
                    diagnostics.append(
                        Diagnostic(
                            file: file, line: line, column: column, path: "", message: "invalid YAML: \(detail); check indentation and quoting on this line"))
                case .duplicateKeys(let keys, let line, let column):
                    reportDuplicates(keys, firstLine: line, firstColumn: column, in: text)
                case .yams(let yamlError):
                    reportYAML(yamlError)
                }
                return nil
            }
        } else {
            do {
                guard let composed = try Yams.compose(yaml: text, .basic) else {
                    error(nil, "", "the file is empty; run 'schedctl init' for a starter jobs.yaml")
                    return nil
                }
                root = ConfigNode(composed)
            } catch let yamlError as YamlError {
                reportYAML(yamlError)
                return nil
            } catch {
                self.error(nil, "", "cannot parse YAML: \(error)")
                return nil
            }
        }
        if scan.aliases > 0, let problem = YAMLGuard.problem(afterComposing: root) {
            error(nil, "", "\(problem); nothing was loaded")
            return nil
        }
        return mapping(root, "", what: "a mapping of settings at the top level")
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
            reportDuplicates(duplicates, firstLine: context.mark.line, firstColumn: context.mark.column, in: context.text)
        default:
            diagnostics.append(Diagnostic(file: file, line: 0, column: 0, path: "", message: "invalid YAML: \(yamlError)"))
        }
    }

    /// Keys repeated in one mapping: the parser names only the first occurrence of the first
    /// of them; the diagnostic points at the repeat instead.
    func reportDuplicates(_ duplicates: [String], firstLine: Int, firstColumn: Int, in text: String) {
        let key = duplicates.first ?? ""
        let again = Self.repeatedKey(key, afterLine: firstLine, column: firstColumn, in: text)
        let others = duplicates.dropFirst().map { "'\($0)'" }.joined(separator: ", ")
        let message = "duplicate key '\(key)' (first defined at line \(firstLine)); keep one" + (others.isEmpty ? "" : " (also repeated: \(others))")
        diagnostics.append(Diagnostic(file: file, line: again?.line ?? firstLine, column: again?.column ?? firstColumn, path: "", message: message))
    }

    /// The line and column of the next block-style `key:` at the same column as the first one
    /// (at `firstLine`, `column`).
    static func repeatedKey(_ key: String, afterLine firstLine: Int, column: Int, in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard firstLine >= 1, column >= 1, !key.isEmpty else { return nil }
        for index in firstLine..<lines.count {
            let line = Array(lines[index])
            let start = column - 1
            guard line.count > start, line[..<start].allSatisfy({ $0 == " " }) else { continue }
            let rest = String(line[start...])
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate) {
                if rest.dropFirst(candidate.count).drop(while: { $0 == " " }).first == ":" { return (index + 1, column) }
            }
        }
        return nil
    }
}
