import Scheduler

/// One documented key of a job kind: the key (`risk.stale_after` for a nested one), its default
/// as written in `jobs.yaml` (nil: none or required) and one line on what it does.
public struct OptionDoc: Sendable, Hashable {
    /// The key, dotted for keys of a nested mapping.
    public var key: String
    /// The default, as text (`10m`, `true`); nil when the key has none.
    public var defaultValue: String?
    /// What it does.
    public var meaning: String

    /// A documented key.
    public init(_ key: String, default defaultValue: String? = nil, _ meaning: String) {
        self.key = key
        self.defaultValue = defaultValue
        self.meaning = meaning
    }
}

extension JobKindDescriptor {
    /// The keys of the kind's options, dotted into nested mappings (`risk.daily_loss_limit`).
    public var optionKeys: [String] {
        func keys(_ specs: [OptionSpec], _ prefix: String) -> [String] {
            specs.flatMap { spec -> [String] in
                if case .options(let nested) = spec.kind { return keys(nested, prefix + spec.name + ".") }
                return [prefix + spec.name]
            }
        }
        return keys(options, "")
    }

    /// Problems of ``docs`` against ``options``: an option with no line, or a line for no option.
    /// A key whose value is a free mapping (`pricing`) may be documented by its keys (`pricing.step`).
    public var docProblems: [String] {
        let keys = optionKeys
        let documented = docs.map(\.key)
        var problems: [String] = []
        for key in keys where !documented.contains(where: { $0 == key || $0.hasPrefix(key + ".") }) {
            problems.append("\(name): option '\(key)' is not documented")
        }
        for key in documented where !keys.contains(where: { $0 == key || key.hasPrefix($0 + ".") }) {
            problems.append("\(name): '\(key)' is documented but is no option")
        }
        return problems
    }

    /// The option table of `docs/configuration.md` (`| key | meaning | default |`); a required key's
    /// default reads `required` (inside an optional mapping: "required when `strategy` is set").
    public var optionTable: String {
        /// The specs along `key`'s path, or nil when the path names no option.
        func path(_ key: String) -> [OptionSpec]? {
            var specs = options
            var found: [OptionSpec] = []
            for part in key.split(separator: ".").map(String.init) {
                guard let spec = specs.first(where: { $0.name == part }) else { return nil }
                found.append(spec)
                if case .options(let nested) = spec.kind { specs = nested } else { specs = [] }
            }
            return found
        }
        func requirement(_ key: String) -> String? {
            guard let specs = path(key), let leaf = specs.last, leaf.required else { return nil }
            var optional: [String] = []
            for (index, spec) in specs.dropLast().enumerated() where !spec.required {
                optional.append(specs[...index].map(\.name).joined(separator: "."))
            }
            return optional.isEmpty ? "required" : "required when " + optional.map { "`\($0)`" }.joined(separator: " and ") + " is set"
        }
        var lines = ["| key | meaning | default |", "|---|---|---|"]
        for doc in docs {
            let value = requirement(doc.key) ?? doc.defaultValue.map { "`\($0)`" } ?? "none"
            lines.append("| `\(doc.key)` | \(doc.meaning) | \(value) |")
        }
        return lines.joined(separator: "\n")
    }
}
