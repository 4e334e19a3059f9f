import Crypto
public import Foundation
import SchedctlBase

/// `type: webhook`: POSTs the message to `url`, shaped by `format` (`json`, `slack`, `discord`,
/// `ntfy`, `telegram`). Every request carries `Schedctl-Delivery: <id>`, the same on every
/// retry of one delivery; with a `secret`, `Schedctl-Signature: t=<unix seconds>,v1=<hex>` holds
/// the HMAC-SHA256 of `"<t>.<raw body>"` under the secret's value. A 5xx, 429 or transport error
/// is retried with backoff (1s, 2s, 4s, … up to `attempts`; the alert outbox sends one attempt
/// at a time and retries itself); a redirect is never followed.
public struct WebhookNotifier: Notifier {
    /// The body shapes.
    public struct Format: Hashable, Sendable {
        /// The name in `jobs.yaml`.
        public let name: String
        /// `{"id", "notifier", "subject", "text", "html", "short", "critical", "sent_at"}`.
        public static let json = Format(name: "json")
        /// A Slack incoming webhook: `{"text": …}` in mrkdwn.
        public static let slack = Format(name: "slack")
        /// A Discord webhook: `{"content": …}`, at most 2000 characters.
        public static let discord = Format(name: "discord")
        /// An ntfy topic URL: the text as the body, the subject in `Title`, a critical alert at
        /// `Priority: urgent`.
        public static let ntfy = Format(name: "ntfy")
        /// Telegram's `sendMessage`: `{"chat_id", "text"}` POSTed to `{url}/bot{bot_token}/sendMessage`.
        public static let telegram = Format(name: "telegram")
        /// Every format.
        public static let all: [Format] = [.json, .slack, .discord, .ntfy, .telegram]
    }

    public let name: String
    /// Where to POST.
    public var url: URL
    /// The HMAC key (resolved from the vault), if signing.
    public var secret: String?
    /// The body's shape.
    public var format: Format
    /// Telegram: the bot token (resolved from the vault) and the chat.
    public var botToken: String?
    /// Telegram: the chat id.
    public var chatID: String?
    /// Total attempts.
    public var attempts: Int
    /// The delay before the second attempt (doubling after).
    public var backoff: Duration
    /// Waits between attempts.
    public var sleep: RetrySleep
    /// The time stamped on messages.
    public var wall: @Sendable () -> Date

    /// The delivery id header.
    public static let deliveryHeader = "Schedctl-Delivery"
    /// The signature header.
    public static let signatureHeader = "Schedctl-Signature"

    /// A notifier.
    public init(
        name: String, url: URL, secret: String? = nil, format: Format = .json, botToken: String? = nil, chatID: String? = nil, attempts: Int = 4,
        backoff: Duration = .seconds(1), sleep: @escaping RetrySleep = { try await Task.sleep(for: $0) },
        wall: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.name = name
        self.url = url
        self.secret = secret
        self.format = format
        self.botToken = botToken
        self.chatID = chatID
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.wall = wall
    }

    static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    /// At most `limit` characters of `text`, an ellipsis marking a cut.
    static func cut(_ text: String, _ limit: Int) -> String { text.count <= limit ? text : String(text.prefix(limit - 1)) + "…" }

    /// The request for `message`: where it goes, its body and its format's headers.
    func request(_ message: NotificationMessage) -> (url: URL, body: Data, headers: [String: String]) {
        switch format {
        case .slack:
            return (url, Self.json(["text": Self.cut("*\(message.subject)*\n\(message.text)", 40_000)]), ["Content-Type": "application/json"])
        case .discord:
            return (url, Self.json(["content": Self.cut("**\(message.subject)**\n\(message.text)", 2000)]), ["Content-Type": "application/json"])
        case .ntfy:
            var headers = ["Content-Type": "text/plain; charset=utf-8", "Title": Self.headerSafe(message.subject), "Markdown": "yes"]
            if message.critical { headers["Priority"] = "urgent" }
            return (url, Data(Self.cut(message.text, 4000).utf8), headers)
        case .telegram:
            let target = url.appendingPathComponent("bot\(botToken ?? "")").appendingPathComponent("sendMessage")
            return (
                target, Self.json(["chat_id": chatID ?? "", "text": Self.cut("\(message.subject)\n\n\(message.text)", 4096)]),
                ["Content-Type": "application/json"]
            )
        default:
            var object: [String: Any] = [
                "notifier": name, "subject": message.subject, "text": message.text, "short": message.short, "critical": message.critical,
                "sent_at": ISO8601DateFormatter().string(from: wall()),
            ]
            if let html = message.html { object["html"] = html }
            if let id = message.deliveryID { object["id"] = id }
            return (url, Self.json(object), ["Content-Type": "application/json"])
        }
    }

    /// A header value without control characters (ntfy's `Title`).
    static func headerSafe(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }).prefix(250))
    }

    /// `t=<timestamp>,v1=<hex of HMAC-SHA256(key, "<timestamp>.<body>")>`.
    public static func signature(body: Data, key: String, timestamp: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: SymmetricKey(data: Data(key.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    public func send(_ message: NotificationMessage) async throws(NotifyError) {
        let (target, data, formatHeaders) = request(message)
        var headers = formatHeaders
        headers["User-Agent"] = "schedctl"
        if let id = message.deliveryID { headers[Self.deliveryHeader] = id }
        var last = ""
        for attempt in 1...max(1, attempts) {
            if attempt > 1 {
                do {
                    try await sleep(backoff * (1 << min(attempt - 2, 20)))
                } catch {
                    throw NotifyError(.transport, notifier: name, "cancelled while retrying (\(last))")
                }
            }
            if let secret {
                headers[Self.signatureHeader] = Self.signature(body: data, key: secret, timestamp: Int64(wall().timeIntervalSince1970.rounded(.down)))
            }
            do {
                let answer = try await HTTPClient.notifiers.send("POST", target, headers: headers, body: data)
                if (200..<300).contains(answer.status) { return }
                last = "HTTP \(answer.status)"
                if (300..<400).contains(answer.status) {
                    throw NotifyError(
                        .rejected, notifier: name,
                        "\(url.host ?? "?") answered with a redirect (HTTP \(answer.status)), which is not followed; put the final URL in 'url'")
                }
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
            .transport, notifier: name,
            attempts > 1
                ? "the webhook at \(url.host ?? "?") failed \(attempts) times (last: \(last)); check that the receiver is up"
                : "the webhook at \(url.host ?? "?") failed (\(last)); check that the receiver is up")
    }
}
