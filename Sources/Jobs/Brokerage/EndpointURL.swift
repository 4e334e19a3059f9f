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

    /// A check of `keys` (https or http to this machine) and `socketKeys` (wss or ws to this
    /// machine): the URL options of a broker or strategy type.
    public static func check(keys: [String], socketKeys: [String] = []) -> ComponentCheck {
        { spec in
            var found: [OptionProblem] = []
            for (key, secure, plain) in keys.map({ ($0, "https", "http") }) + socketKeys.map({ ($0, "wss", "ws") }) {
                guard let text = spec.options[key]?.stringValue, let problem = problem(text, secure: secure, plain: plain) else { continue }
                found.append(OptionProblem(key: key, message: "\(problem); or leave it out for the default"))
            }
            return found
        }
    }
}
