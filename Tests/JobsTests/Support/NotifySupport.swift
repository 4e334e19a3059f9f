import Crypto
import Foundation
import Jobs
import Scheduler
import Synchronization

/// Secrets from a dictionary; every value is redacted from text once resolved (like the vault).
final class DictionarySecrets: SecretResolving {
    let values: [String: String]
    private let resolved = Mutex<Set<String>>([])

    init(_ values: [String: String]) { self.values = values }

    func resolve(_ name: String) async throws -> String {
        guard let value = values[name] else { throw JobFailure("secret '\(name)' is not in the vault", retryable: false) }
        resolved.withLock { _ = $0.insert(value) }
        return value
    }

    func redact(_ text: String) -> String {
        resolved.withLock { set in set.sorted { $0.count > $1.count }.reduce(text) { $0.replacingOccurrences(of: $1, with: "‹redacted›") } }
    }
}

/// Records requested retry delays instead of sleeping.
final class SleepRecorder: Sendable {
    private let delays = Mutex<[Duration]>([])
    var recorded: [Duration] { delays.withLock { $0 } }
    var sleep: RetrySleep { { duration in self.delays.withLock { $0.append(duration) } } }
}

/// A decoded e-mail: headers and the decoded text of each MIME part by content type.
struct DecodedMail {
    var headers: [String: String] = [:]
    var parts: [String: String] = [:]

    init(_ raw: String) {
        let lines = raw.components(separatedBy: "\r\n")
        var index = 0
        while index < lines.count, !lines[index].isEmpty {
            let line = lines[index]
            if let colon = line.firstIndex(of: ":") {
                headers[String(line[..<colon]).lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            index += 1
        }
        var type: String?
        var body: [String] = []
        var inBody = false
        for line in lines[index...] {
            if line.hasPrefix("--") {
                if let type { parts[type] = String(decoding: Data(base64Encoded: body.joined()) ?? Data(), as: UTF8.self) }
                type = nil
                body = []
                inBody = false
            } else if line.lowercased().hasPrefix("content-type:") {
                type = line.dropFirst("content-type:".count).split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
            } else if line.isEmpty, type != nil {
                inBody = true
            } else if inBody {
                body.append(line)
            }
        }
    }
}

/// Verifies `Schedctl-Signature: t=<unix seconds>,v1=<hex>` as docs/reports-and-alerts.md tells receivers to:
/// HMAC-SHA256 of "<t>.<raw body>", compared in constant time, and `t` within 5 minutes of `now`.
func verifySignature(_ header: String, body: Data, key: String, now: Int64) -> Bool {
    var fields: [String: String] = [:]
    for part in header.split(separator: ",") {
        let pair = part.split(separator: "=", maxSplits: 1)
        if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
    }
    guard let t = fields["t"].flatMap({ Int64($0) }), let v1 = fields["v1"], abs(now - t) <= 300 else { return false }
    var given: [UInt8] = []
    var index = v1.startIndex
    while index < v1.endIndex {
        let next = v1.index(index, offsetBy: 2, limitedBy: v1.endIndex) ?? v1.endIndex
        guard let byte = UInt8(v1[index..<next], radix: 16) else { return false }
        given.append(byte)
        index = next
    }
    return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data("\(t).".utf8) + body, using: SymmetricKey(data: Data(key.utf8)))
}
