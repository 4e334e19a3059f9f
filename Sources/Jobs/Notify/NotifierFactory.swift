public import Foundation
public import Scheduler

/// Builds notifiers from `jobs.yaml` components, resolving `secret:NAME` values at send time.
public struct NotifierFactory: Sendable {
    /// Resolves secrets (and registers their values for redaction).
    public var secrets: any SecretResolving
    /// Relative `file` paths resolve against this directory (the configuration file's).
    public var baseDirectory: String
    /// Waits between webhook retries.
    public var sleep: RetrySleep
    /// The time stamped on messages.
    public var wall: @Sendable () -> Date
    /// A webhook's attempts within one send (the alert outbox sets 1: it retries itself).
    public var webhookAttempts = 4

    /// A factory.
    public init(
        secrets: any SecretResolving, baseDirectory: String, sleep: @escaping RetrySleep = { try await Task.sleep(for: $0) },
        wall: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.secrets = secrets
        self.baseDirectory = baseDirectory
        self.sleep = sleep
        self.wall = wall
    }

    /// A factory for `plan` (relative paths against its file's directory).
    public init(plan: Plan, secrets: any SecretResolving, sleep: @escaping RetrySleep = { try await Task.sleep(for: $0) }) {
        let directory = (plan.source as NSString).deletingLastPathComponent
        self.init(secrets: secrets, baseDirectory: directory.isEmpty ? "." : directory, sleep: sleep)
    }

    /// The default of `max_per_hour`.
    public static let defaultMaxPerHour = 10

    /// The options each notifier type takes (the configuration catalog).
    public static let options: [String: [OptionSpec]] = [
        "email": [
            OptionSpec("smtp_url", .string, required: true), OptionSpec("from", .string, required: true), OptionSpec("to", .stringList, required: true),
            OptionSpec("username", .string), OptionSpec("password", .secret), OptionSpec("starttls", .choice(["required", "off"])),
            OptionSpec("ca_file", .string), OptionSpec("max_per_hour", .integer(1...10_000)), OptionSpec("timeout", .duration),
        ],
        "twilio": [
            OptionSpec("account_sid", .secret, required: true), OptionSpec("auth_token", .secret, required: true),
            OptionSpec("from", .string, required: true), OptionSpec("to", .stringList, required: true), OptionSpec("base_url", .string),
            OptionSpec("max_segments", .integer(1...10)), OptionSpec("max_per_hour", .integer(1...10_000)), OptionSpec("timeout", .duration),
        ],
        "webhook": [
            OptionSpec("url", .string, required: true), OptionSpec("secret", .secret), OptionSpec("max_per_hour", .integer(1...10_000)),
            OptionSpec("timeout", .duration), OptionSpec("format", .choice(WebhookNotifier.Format.all.map(\.name))), OptionSpec("bot_token", .secret),
            OptionSpec("chat_id", .string),
        ],
        "file": [OptionSpec("path", .string, required: true), OptionSpec("max_per_hour", .integer(1...10_000)), OptionSpec("timeout", .duration)],
    ]

    /// The default of `timeout`: the most one send may take in all.
    public static let defaultTimeout: Duration = .seconds(15)

    /// How long one send through `spec` may take in all (`timeout`, default 15 s).
    public static func timeout(_ spec: ComponentSpec) -> Duration { spec.options["timeout"]?.durationValue ?? defaultTimeout }

    /// How many messages `spec` may send in an hour.
    public static func maxPerHour(_ spec: ComponentSpec) -> Int {
        spec.options["max_per_hour"]?.numberValue.map { NSDecimalNumber(decimal: $0).intValue } ?? defaultMaxPerHour
    }

    /// Problems of a notifier that need no secret to see (the loader runs it after reading the keys).
    public static let check: ComponentCheck = { spec in
        var found: [OptionProblem] = []
        func add(_ key: String, _ message: String) { found.append(OptionProblem(key: key, message: message)) }
        switch spec.type {
        case "email":
            do {
                _ = try EmailNotifier(
                    name: spec.name, url: text(spec, "smtp_url") ?? "", from: "", to: [], startTLS: spec.options["starttls"]?.stringValue != "off")
            } catch let error as NotifyError {
                add("", error.message)  // smtp_url with starttls: at the notifier
            } catch {
                add("", "\(error)")
            }
        case "twilio":
            if let base = text(spec, "base_url"), let problem = urlProblem(base) {
                add("base_url", "\(problem); leave it out for https://api.twilio.com")
            }
        case "webhook":
            if let url = text(spec, "url"), let problem = urlProblem(url) { add("url", "\(problem); write https://host/path") }
            if spec.options["format"]?.stringValue == "telegram" && (spec.options["bot_token"] == nil || spec.options["chat_id"] == nil) {
                add("format", "format: telegram needs bot_token (secret:NAME) and chat_id; url is https://api.telegram.org")
            }
        default: break
        }
        if let timeout = spec.options["timeout"]?.durationValue, timeout < .seconds(1) || timeout > .seconds(600) {
            add("timeout", "timeout must be from 1s to 10m")
        }
        return found
    }

    /// The notifier types, one descriptor each (options and check), for the registry.
    public static let types: [ComponentType] = options.keys.sorted().map { name in
        ComponentType(section: "notifiers", name: name, options: options[name] ?? [], check: check)
    }

    /// Why `text` cannot be an endpoint: it does not parse as an http(s) URL with a host, or it
    /// is `http://` to a host other than this machine. Nil when it can.
    public static func urlProblem(_ text: String) -> String? { EndpointURL.problem(text) }

    /// Whether `host` is this machine (see ``EndpointURL/isLoopback(_:)``).
    public static func isLoopbackHost(_ host: String) -> Bool { EndpointURL.isLoopback(host) }

    static func text(_ spec: ComponentSpec, _ key: String) -> String? { spec.options[key]?.stringValue }

    static func httpURL(_ text: String) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else { return nil }
        return url
    }

    /// The value of `key` (plain, or resolved from the vault).
    func value(_ spec: ComponentSpec, _ key: String) async throws(NotifyError) -> String? {
        switch spec.options[key] {
        case .string(let text): return text
        case .secret(let secret):
            do {
                return try await secrets.resolve(secret)
            } catch {
                throw NotifyError(.configuration, notifier: spec.name, "\(key): \(error)")
            }
        default: return nil
        }
    }

    func list(_ spec: ComponentSpec, _ key: String) async throws(NotifyError) -> [String] {
        var values: [String] = []
        for item in spec.options[key]?.listValue ?? [] {
            switch item {
            case .string(let text): values.append(text)
            case .secret(let secret):
                do {
                    values.append(try await secrets.resolve(secret))
                } catch {
                    throw NotifyError(.configuration, notifier: spec.name, "\(key): \(error)")
                }
            default: break
            }
        }
        return values
    }

    /// The notifier for `spec`, its secrets resolved.
    public func notifier(_ spec: ComponentSpec) async throws(NotifyError) -> any Notifier {
        let name = spec.name
        switch spec.type {
        case "email":
            var email = try EmailNotifier(
                name: name, url: try await value(spec, "smtp_url") ?? "", from: try await value(spec, "from") ?? "", to: try await list(spec, "to"),
                username: try await value(spec, "username"), password: try await value(spec, "password"),
                startTLS: spec.options["starttls"]?.stringValue != "off", caFile: try await value(spec, "ca_file").map(resolvePath), wall: wall)
            email.timeoutSeconds = max(1, Int(Self.timeout(spec).components.seconds))
            return email
        case "twilio":
            var base = URL(string: "https://api.twilio.com")!
            if let text = try await value(spec, "base_url") {
                if let problem = Self.urlProblem(text) { throw NotifyError(.configuration, notifier: name, "base_url: \(problem)") }
                base = Self.httpURL(text)!
            }
            return TwilioNotifier(
                name: name, accountSID: try await value(spec, "account_sid") ?? "", authToken: try await value(spec, "auth_token") ?? "",
                from: try await value(spec, "from") ?? "", to: try await list(spec, "to"), baseURL: base,
                maxSegments: spec.options["max_segments"]?.numberValue.map { NSDecimalNumber(decimal: $0).intValue } ?? 1)
        case "webhook":
            let text = try await value(spec, "url") ?? ""
            if let problem = Self.urlProblem(text) { throw NotifyError(.configuration, notifier: name, "url: \(problem)") }
            let format = WebhookNotifier.Format.all.first { $0.name == spec.options["format"]?.stringValue } ?? .json
            return WebhookNotifier(
                name: name, url: Self.httpURL(text)!, secret: try await value(spec, "secret"), format: format, botToken: try await value(spec, "bot_token"),
                chatID: try await value(spec, "chat_id"), attempts: webhookAttempts, sleep: sleep, wall: wall)
        case "file":
            return FileNotifier(name: name, path: resolvePath(try await value(spec, "path") ?? ""), wall: wall)
        default:
            throw NotifyError(.configuration, notifier: name, "notifier type '\(spec.type)' is not supported by this build")
        }
    }

    func resolvePath(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        return expanded.hasPrefix("/") ? expanded : (baseDirectory as NSString).appendingPathComponent(expanded)
    }

    /// A set of every notifier in `plan`; a notifier whose secrets cannot be resolved is left out
    /// and reported in `failures`.
    public func notifiers(for plan: Plan, only names: Set<String>? = nil) async -> (set: NotifierSet, failures: [String: NotifyError]) {
        var built: [any Notifier] = []
        var failures: [String: NotifyError] = [:]
        for (name, spec) in plan.notifiers.sorted(by: { $0.key < $1.key }) where names?.contains(name) ?? true {
            do {
                built.append(try await notifier(spec))
            } catch {
                failures[name] = error
            }
        }
        let secrets = self.secrets
        return (NotifierSet(built, redact: { secrets.redact($0) }), failures)
    }
}
