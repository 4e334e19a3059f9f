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
            OptionSpec("ca_file", .string), OptionSpec("max_per_hour", .integer(1...10_000)),
        ],
        "twilio": [
            OptionSpec("account_sid", .secret, required: true), OptionSpec("auth_token", .secret, required: true),
            OptionSpec("from", .string, required: true), OptionSpec("to", .stringList, required: true), OptionSpec("base_url", .string),
            OptionSpec("max_segments", .integer(1...10)), OptionSpec("max_per_hour", .integer(1...10_000)),
        ],
        "webhook": [OptionSpec("url", .string, required: true), OptionSpec("secret", .secret), OptionSpec("max_per_hour", .integer(1...10_000))],
        "file": [OptionSpec("path", .string, required: true), OptionSpec("max_per_hour", .integer(1...10_000))],
    ]

    /// How many messages `spec` may send in an hour.
    public static func maxPerHour(_ spec: ComponentSpec) -> Int {
        spec.options["max_per_hour"]?.numberValue.map { NSDecimalNumber(decimal: $0).intValue } ?? defaultMaxPerHour
    }

    /// Problems of the notifiers that need no secret to see (the loader checks the keys).
    public static func problems(in plan: Plan) -> [Diagnostic] {
        var found: [Diagnostic] = []
        func add(_ path: String, _ message: String) { found.append(Diagnostic(file: plan.source, line: 0, column: 0, path: path, message: message)) }
        for (name, spec) in plan.notifiers.sorted(by: { $0.key < $1.key }) {
            let path = "notifiers.\(name)"
            switch spec.type {
            case "email":
                do {
                    _ = try EmailNotifier(
                        name: name, url: text(spec, "smtp_url") ?? "", from: "", to: [], startTLS: spec.options["starttls"]?.stringValue != "off")
                } catch {
                    add(path, error.message)
                }
            case "twilio":
                if let base = text(spec, "base_url"), httpURL(base) == nil {
                    add(path + ".base_url", "'\(base)' is not an http(s) URL; leave it out for https://api.twilio.com")
                }
            case "webhook":
                if let url = text(spec, "url"), httpURL(url) == nil { add(path + ".url", "'\(url)' is not an http(s) URL; write https://host/path") }
            default: break
            }
        }
        return found
    }

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
            return try EmailNotifier(
                name: name, url: try await value(spec, "smtp_url") ?? "", from: try await value(spec, "from") ?? "", to: try await list(spec, "to"),
                username: try await value(spec, "username"), password: try await value(spec, "password"),
                startTLS: spec.options["starttls"]?.stringValue != "off", caFile: try await value(spec, "ca_file").map(resolvePath), wall: wall)
        case "twilio":
            var base = URL(string: "https://api.twilio.com")!
            if let text = try await value(spec, "base_url") {
                guard let url = Self.httpURL(text) else { throw NotifyError(.configuration, notifier: name, "base_url '\(text)' is not an http(s) URL") }
                base = url
            }
            return TwilioNotifier(
                name: name, accountSID: try await value(spec, "account_sid") ?? "", authToken: try await value(spec, "auth_token") ?? "",
                from: try await value(spec, "from") ?? "", to: try await list(spec, "to"), baseURL: base,
                maxSegments: spec.options["max_segments"]?.numberValue.map { NSDecimalNumber(decimal: $0).intValue } ?? 1)
        case "webhook":
            let text = try await value(spec, "url") ?? ""
            guard let url = Self.httpURL(text) else { throw NotifyError(.configuration, notifier: name, "url '\(text)' is not an http(s) URL") }
            return WebhookNotifier(name: name, url: url, secret: try await value(spec, "secret"), sleep: sleep, wall: wall)
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
