import Yams

/// `service`: the settings of `schedctl serve`.
extension ConfigReader {
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
}
