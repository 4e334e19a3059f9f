import Crypto
public import Foundation

/// `type: webhook`: POSTs the message as JSON to `url`. With a `secret`, the header
/// `X-Schedctl-Signature: sha256=HEX` carries the HMAC-SHA256 of the exact body bytes under the
/// secret's value. A 5xx, 429 or transport error is retried with backoff (1s, 2s, 4s, …).
public struct WebhookNotifier: Notifier {
    public let name: String
    /// Where to POST.
    public var url: URL
    /// The HMAC key (resolved from the vault), if signing.
    public var secret: String?
    /// Total attempts.
    public var attempts: Int
    /// The delay before the second attempt (doubling after).
    public var backoff: Duration
    /// Waits between attempts.
    public var sleep: RetrySleep
    /// The time stamped on messages.
    public var wall: @Sendable () -> Date

    /// The signature header.
    public static let signatureHeader = "X-Schedctl-Signature"

    /// A notifier.
    public init(
        name: String, url: URL, secret: String? = nil, attempts: Int = 4, backoff: Duration = .seconds(1),
        sleep: @escaping RetrySleep = { try await Task.sleep(for: $0) }, wall: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.name = name
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.wall = wall
    }

    /// The body: `{"notifier", "subject", "text", "html", "short", "sent_at"}` with sorted keys.
    func body(_ message: NotificationMessage) -> Data {
        var object: [String: Any] = [
            "notifier": name, "subject": message.subject, "text": message.text, "short": message.short,
            "sent_at": ISO8601DateFormatter().string(from: wall()),
        ]
        if let html = message.html { object["html"] = html }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` under `key`.
    public static func signature(body: Data, key: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(key.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    public func send(_ message: NotificationMessage) async throws(NotifyError) {
        let data = body(message)
        var headers = ["Content-Type": "application/json", "User-Agent": "schedctl"]
        if let secret { headers[Self.signatureHeader] = Self.signature(body: data, key: secret) }
        var last = ""
        for attempt in 1...max(1, attempts) {
            if attempt > 1 {
                do {
                    try await sleep(backoff * (1 << min(attempt - 2, 20)))
                } catch {
                    throw NotifyError(.transport, notifier: name, "cancelled while retrying (\(last))")
                }
            }
            do {
                let answer = try await HTTPPost().post(url, headers: headers, body: data)
                if (200..<300).contains(answer.status) { return }
                last = "HTTP \(answer.status)"
                if answer.status != 429 && answer.status < 500 {
                    throw NotifyError(
                        .rejected, notifier: name,
                        "\(url.host ?? "?") answered HTTP \(answer.status) to the webhook; check 'url' and the receiver (not retried)")
                }
            } catch let error as NotifyError {
                throw error
            } catch {
                last = error.localizedDescription
            }
        }
        throw NotifyError(
            .transport, notifier: name, "the webhook at \(url.host ?? "?") failed \(attempts) times (last: \(last)); check that the receiver is up")
    }
}
