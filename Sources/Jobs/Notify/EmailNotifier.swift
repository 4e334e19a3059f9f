public import Foundation

/// `type: email`: SMTP submission through the system libcurl. `smtp://host:587` requires
/// STARTTLS; `smtps://host:465` is TLS from the start; `starttls: off` (a relay on this machine
/// only) speaks in clear. Text and HTML go as `multipart/alternative`.
public struct EmailNotifier: RecipientNotifier {
    public let name: String
    /// `smtp://…` or `smtps://…`.
    public var url: URL
    /// The envelope and header sender.
    public var from: String
    /// Recipients.
    public var to: [String]
    /// The SMTP user, if the relay wants authentication.
    public var username: String?
    /// The SMTP password (resolved from the vault).
    public var password: String?
    /// Whether `smtp://` upgrades with STARTTLS (it must, unless the relay is on this machine).
    public var startTLS: Bool
    /// A CA bundle for a relay with a private certificate authority.
    public var caFile: String?
    /// The time stamped on messages.
    public var wall: @Sendable () -> Date
    /// The most one SMTP transaction may take, in seconds (curl's own limit).
    public var timeoutSeconds = 60

    /// A notifier; throws `NotifyError(.configuration)` for a URL it cannot use.
    public init(
        name: String, url: String, from: String, to: [String], username: String? = nil, password: String? = nil, startTLS: Bool = true,
        caFile: String? = nil, wall: @escaping @Sendable () -> Date = { Date() }
    ) throws(NotifyError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["smtp", "smtps"].contains(scheme), parsed.host != nil else {
            throw NotifyError(.configuration, notifier: name, "smtp_url '\(url)' is not an SMTP address; write smtp://host:587 (STARTTLS) or smtps://host:465")
        }
        if !startTLS && scheme == "smtps" {
            throw NotifyError(.configuration, notifier: name, "starttls: off does not apply to smtps:// (TLS from the start); remove it")
        }
        if !startTLS && !Self.isLoopback(parsed.host ?? "") {
            throw NotifyError(
                .configuration, notifier: name,
                "starttls: off would send mail and the password in clear to \(parsed.host ?? "?"); it is allowed only for a relay on this machine (127.0.0.1, ::1, localhost); remove it"
            )
        }
        self.name = name
        self.url = parsed
        self.from = from
        self.to = to
        self.username = username
        self.password = password
        self.startTLS = startTLS
        self.caFile = caFile
        self.wall = wall
    }

    /// An IP loopback literal or exactly `localhost` (never `127.mail.example.com`).
    static func isLoopback(_ host: String) -> Bool { NotifierFactory.isLoopbackHost(host) }

    var security: CurlSMTP.Security { url.scheme?.lowercased() == "smtps" ? .implicitTLS : (startTLS ? .startTLS : .plain) }

    public var recipients: [String] { to }

    public func send(_ message: NotificationMessage) async throws(NotifyError) {
        if let failure = await transmit(message, to: to) { throw failure }
    }

    /// Sends to `recipients` in one SMTP transaction; when a recipient is refused (nothing is
    /// sent then), sends to each one on its own so the others still get it. Every refusal is
    /// returned.
    public func send(_ message: NotificationMessage, to recipients: [String], accepted: @escaping @Sendable (String) async -> Void) async -> [(
        recipient: String, error: NotifyError
    )] {
        guard let failure = await transmit(message, to: recipients) else {
            for recipient in recipients { await accepted(recipient) }
            return []
        }
        guard failure.kind == .recipientRejected, recipients.count > 1 else { return recipients.map { ($0, failure) } }
        var failures: [(recipient: String, error: NotifyError)] = []
        for recipient in recipients {
            if let failure = await transmit(message, to: [recipient]) {
                failures.append((recipient, failure))
            } else {
                await accepted(recipient)
            }
        }
        return failures
    }

    /// One SMTP transaction to `recipients`; the error, or nil when the relay took it.
    func transmit(_ message: NotificationMessage, to recipients: [String]) async -> NotifyError? {
        let mime = MIMEMessage(
            from: from, to: to, subject: message.subject, text: message.text, html: message.html, date: wall(),
            messageID: "\(message.deliveryID ?? UUID().uuidString.lowercased())@schedctl")
        let smtp = CurlSMTP(
            url: url.absoluteString, security: security, username: username, password: password, from: Self.address(from),
            recipients: recipients.map(Self.address), caFile: caFile, timeoutSeconds: timeoutSeconds)
        let data = mime.render()
        let result: Result<Void, CurlSMTP.Failure> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do throws(CurlSMTP.Failure) {
                    try smtp.send(data)
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        if case .failure(let failure) = result { return explain(failure, recipients: recipients) }
        return nil
    }

    /// The bare address of `Name <address>`.
    static func address(_ text: String) -> String {
        guard let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close else { return text }
        return String(text[text.index(after: open)..<close])
    }

    /// A message that says what the server refused and what to change.
    func explain(_ failure: CurlSMTP.Failure, recipients: [String]? = nil) -> NotifyError {
        let server = "\(url.host ?? "?"):\(url.port.map(String.init) ?? "default port")"
        let detail = failure.text
        switch failure.code {
        case 67:  // CURLE_LOGIN_DENIED
            return NotifyError(
                .authentication, notifier: name,
                "\(server) refused the login for '\(username ?? "")' (\(detail)); check the username and the password secret")
        case 64:  // CURLE_USE_SSL_FAILED
            return NotifyError(
                .tls, notifier: name,
                "\(server) refused STARTTLS (\(detail)); mail is never sent in clear to it: use smtps://\(url.host ?? "host"):465 or a relay that offers STARTTLS"
            )
        case 35, 58, 59, 60, 77, 83, 90, 91:  // TLS handshake and certificate errors
            return NotifyError(.tls, notifier: name, "TLS with \(server) failed (\(detail)); check the host name, or give ca_file for a private CA")
        case 6, 7, 28:  // cannot resolve, cannot connect, timed out
            return NotifyError(.transport, notifier: name, "cannot reach \(server) (\(detail)); check smtp_url and the network")
        default:
            if detail.contains("RCPT") || failure.reply == 550 || failure.reply == 553 {
                return NotifyError(
                    .recipientRejected, notifier: name,
                    "\(server) rejected a recipient (\(detail)); check the addresses in 'to' (\((recipients ?? to).joined(separator: ", ")))")
            }
            if detail.contains("MAIL") {
                return NotifyError(.rejected, notifier: name, "\(server) rejected the sender '\(from)' (\(detail)); check 'from'")
            }
            return NotifyError(.rejected, notifier: name, "\(server) did not accept the message (\(detail), reply \(failure.reply))")
        }
    }
}
