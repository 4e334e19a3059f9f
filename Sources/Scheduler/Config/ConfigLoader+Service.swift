/// `service`: the settings of `schedctl serve`.
extension ConfigReader {
    /// `service.retention: { runs: 90d, failed: 365d }` (each at least 1h; `failed` defaults to `runs`).
    func readRetention(_ node: ConfigNode, _ path: String) -> RetentionPolicy? {
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

    /// `service.http`: `off`, or `{ listen: HOST:PORT, token: secret:NAME }`. A listen address
    /// that is not loopback needs a token.
    func readHTTP(_ node: ConfigNode, _ path: String) -> HTTPSettings? {
        if case .scalar(let scalar) = node, !isNull(node) {
            if ["off", "false", "no"].contains(scalar.string.lowercased()) { return nil }
            error(node, path, "expected 'off' or a mapping like { listen: 127.0.0.1:8377 }, found '\(scalar.string)'")
            return HTTPSettings()
        }
        var settings = HTTPSettings()
        guard let fields = mapping(node, path) else { return settings }
        checkKeys(fields, allowed: ["listen", "token"], path)
        var listenNode: ConfigNode?
        if let field = lookup(fields, "listen"), let text = string(field.value, join(path, "listen")) {
            listenNode = field.value
            if let (host, port) = HTTPSettings.parseListen(text) {
                (settings.host, settings.port) = (host, port)
            } else {
                error(field.value, join(path, "listen"), "'\(text)' is not a listen address; write HOST:PORT, e.g. 127.0.0.1:8377 (port 0 picks a free one)")
                listenNode = nil
            }
        }
        if let field = lookup(fields, "token"), let text = string(field.value, join(path, "token")) {
            if case .secret(let name) = secretOrString(text, field.value, join(path, "token")) {
                settings.token = name
            } else {
                error(
                    field.value, join(path, "token"),
                    "the token does not belong in jobs.yaml; store it with 'schedctl secrets set NAME' and write 'secret:NAME' here")
            }
        }
        if let listenNode, !HTTPSettings.isLoopback(settings.host), settings.token == nil {
            error(
                listenNode, join(path, "listen"),
                "'\(settings.address)' is reachable from other machines; add 'token: secret:NAME' (clients send it as Authorization: Bearer) or listen on 127.0.0.1"
            )
        }
        return settings
    }

    func readService(_ node: ConfigNode?) -> ServiceSettings {
        var settings = ServiceSettings()
        guard let node, let fields = mapping(node, "service") else { return settings }
        checkKeys(fields, allowed: ["max_concurrent_runs", "lease", "shutdown_grace", "log_format", "log_level", "retention", "durability", "http"], "service")
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
            case "http": settings.http = readHTTP(field.value, path)
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
