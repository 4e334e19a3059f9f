public import Foundation
public import Scheduler

/// Endpoint URLs from `jobs.yaml` (broker, strategy and notifier URLs): one that does not parse
/// is a configuration error, never a silent fall back to the default (which can be live), and a
/// clear-text scheme is allowed only to this machine.
public enum EndpointURL {
    /// Why `text` cannot be an endpoint with scheme `secure` (or `plain` to a loopback host), or
    /// nil when it can.
    public static func problem(_ text: String, secure: String = "https", plain: String = "http") -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == secure || scheme == plain, let host = url.host, !host.isEmpty
        else { return "'\(text)' is not a \(secure):// URL with a host" }
        if scheme == plain && !isLoopback(host) {
            return
                "'\(text)' is plain \(plain):// to another machine, which would send credentials and data in clear; use \(secure):// (\(plain):// is for 127.0.0.1, ::1 and localhost only)"
        }
        return nil
    }

    /// `text` as an endpoint URL, or a failure naming `what`.
    public static func parse(_ text: String, what: String, secure: String = "https", plain: String = "http") throws -> URL {
        if let problem = problem(text, secure: secure, plain: plain) { throw JobFailure("\(what): \(problem)", retryable: false) }
        return URL(string: text)!
    }

    /// Whether `host` is this machine: an IPv4 loopback literal (127.0.0.0/8), `::1`, or exactly
    /// `localhost` (never a name such as `127.mail.example.com`).
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255 }
    }

    /// The URL options of brokers and strategies in `plan` that cannot be used (`validate` runs this).
    public static func problems(in plan: Plan) -> [Diagnostic] {
        var found: [Diagnostic] = []
        func check(_ path: String, _ spec: ComponentSpec, _ key: String, secure: String, plain: String) {
            guard let text = spec.options[key]?.stringValue, let problem = problem(text, secure: secure, plain: plain) else { return }
            found.append(Diagnostic(file: plan.source, line: 0, column: 0, path: "\(path).\(key)", message: "\(problem); or leave it out for the default"))
        }
        for (name, spec) in plan.brokers.sorted(by: { $0.key < $1.key }) {
            for key in ["base_url", "auth_url"] { check("brokers.\(name)", spec, key, secure: "https", plain: "http") }
            for key in ["ws_url", "md_url"] { check("brokers.\(name)", spec, key, secure: "wss", plain: "ws") }
        }
        for (name, spec) in plan.strategies.sorted(by: { $0.key < $1.key }) { check("strategies.\(name)", spec, "base_url", secure: "https", plain: "http") }
        return found
    }
}
