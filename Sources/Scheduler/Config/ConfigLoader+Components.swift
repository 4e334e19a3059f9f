/// `brokers`, `strategies` and `notifiers`: named components with a `type` and its options.
extension ConfigReader {
    struct References {
        var brokers: Set<String>
        var strategies: Set<String>
        var notifiers: Set<String>
        /// Each strategy's type, for `days: strategy`.
        var strategyTypes: [String: String] = [:]
    }

    func components(_ node: ConfigNode?, _ section: String, types: [String: [OptionSpec]]) -> [String: ComponentSpec] {
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
            let spec = ComponentSpec(name: entry.key, type: type, options: options)
            if let check = catalog.componentChecks[section]?[type] {
                for problem in check(spec) {
                    error(optionNode(at: problem.key, in: fields) ?? entry.keyNode, problem.key.isEmpty ? path : join(path, problem.key), problem.message)
                }
            }
            result[entry.key] = spec
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

    func validateName(_ name: String, _ node: ConfigNode, _ path: String) {
        if !Self.isValidName(name) {
            error(node, path, "name '\(name)' may use only letters, digits, '.', '_' and '-'")
        }
    }
}
