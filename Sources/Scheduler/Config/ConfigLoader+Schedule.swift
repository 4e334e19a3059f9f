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
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml, .basic)
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
