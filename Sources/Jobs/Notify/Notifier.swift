import Foundation

/// One message for every kind of notifier: e-mail uses the subject, text and HTML; SMS the
/// short digest; webhooks all of it; files the Markdown text.
public struct NotificationMessage: Sendable, Hashable, Codable {
    /// The subject line.
    public var subject: String
    /// The body as plain text that reads as Markdown.
    public var text: String
    /// The body as HTML, when there is a richer form (reports' tables).
    public var html: String?
    /// A digest short enough for a text message.
    public var short: String
    /// Whether it is a critical alert (webhook formats raise its priority).
    public var critical: Bool
    /// The delivery's stable id, the same on every attempt (`Schedctl-Delivery`), when it is sent
    /// from the outbox.
    public var deliveryID: String?

    /// A message; `short` defaults to the subject.
    public init(subject: String, text: String, html: String? = nil, short: String? = nil, critical: Bool = false, deliveryID: String? = nil) {
        self.subject = subject
        self.text = text
        self.html = html
        self.short = short ?? subject
        self.critical = critical
        self.deliveryID = deliveryID
    }

    /// The message with `redact` applied to every part.
    public func redacted(_ redact: (String) -> String) -> NotificationMessage {
        NotificationMessage(
            subject: redact(subject), text: redact(text), html: html.map(redact), short: redact(short), critical: critical, deliveryID: deliveryID)
    }
}

/// Delivers messages somewhere (`email`, `twilio`, `webhook`, `file`).
public protocol Notifier: Sendable {
    /// The notifier's name in `jobs.yaml`.
    var name: String { get }
    /// Delivers `message` (already redacted); throws `NotifyError` when it was not delivered.
    func send(_ message: NotificationMessage) async throws(NotifyError)
}

/// A notifier with several recipients that it reaches one by one (SMS numbers, e-mail
/// addresses), so that a retry skips those that already accepted a message and one refusal does
/// not stop the others.
public protocol RecipientNotifier: Notifier {
    /// Every recipient.
    var recipients: [String] { get }
    /// Sends `message` (already redacted) to each of `recipients`, calling `accepted` as each one
    /// accepts it; returns the refusals by recipient (empty when all accepted).
    func send(_ message: NotificationMessage, to recipients: [String], accepted: @escaping @Sendable (String) async -> Void) async -> [(
        recipient: String, error: NotifyError
    )]
}

extension RecipientNotifier {
    /// Sends to every recipient; throws one error naming every refusal.
    public func sendToAll(_ message: NotificationMessage) async throws(NotifyError) {
        let failures = await send(message, to: recipients, accepted: { _ in })
        guard !failures.isEmpty else { return }
        throw NotifyError.combined(failures, of: recipients.count, notifier: name)
    }
}

extension NotifyError {
    /// One error for several recipients' refusals: retryable when any of them is, else the first
    /// one's kind; every recipient's reason.
    public static func combined(_ failures: [(recipient: String, error: NotifyError)], of total: Int, notifier: String) -> NotifyError {
        let kind = failures.contains { DeliveryPolicy.outcome(of: $0.error) == .retryable } ? NotifyError.Kind.transport : failures[0].error.kind
        let reasons = failures.map { "\($0.recipient): \($0.error.message)" }.joined(separator: "; ")
        return NotifyError(kind, notifier: notifier, "\(failures.count) of \(total) recipients did not accept it (\(reasons))")
    }
}

/// Why a notification was not delivered, with what to do about it.
public struct NotifyError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure.
    public struct Kind: Hashable, Sendable {
        let raw: String
        /// The configuration cannot work (bad URL, plain text to a remote relay, …).
        public static let configuration = Kind(raw: "configuration")
        /// The server refused the credentials.
        public static let authentication = Kind(raw: "authentication")
        /// The server refused a recipient.
        public static let recipientRejected = Kind(raw: "recipient-rejected")
        /// TLS could not be set up (STARTTLS refused, certificate problem).
        public static let tls = Kind(raw: "tls")
        /// The server could not be reached or did not answer.
        public static let transport = Kind(raw: "transport")
        /// The server answered with an error.
        public static let rejected = Kind(raw: "rejected")
    }

    /// The kind.
    public var kind: Kind
    /// The notifier's name.
    public var notifier: String
    /// What happened and what to do.
    public var message: String

    /// An error.
    public init(_ kind: Kind, notifier: String, _ message: String) {
        self.kind = kind
        self.notifier = notifier
        self.message = message
    }

    public var description: String { "notifier '\(notifier)': \(message)" }
}

/// The configured notifiers by name, each delivery redacted.
public struct NotifierSet: Sendable {
    /// Notifiers by name.
    public var notifiers: [String: any Notifier]
    /// Applied to every message and every error before it leaves.
    public var redact: @Sendable (String) -> String

    /// A set.
    public init(_ notifiers: [any Notifier], redact: @escaping @Sendable (String) -> String) {
        self.notifiers = Dictionary(notifiers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.redact = redact
    }

    /// Sends `message` to `name`, redacted; the error (if any) is redacted too.
    public func send(_ message: NotificationMessage, to name: String) async throws(NotifyError) {
        guard let notifier = notifiers[name] else {
            throw NotifyError(.configuration, notifier: name, "no notifier '\(name)' is configured; define it under 'notifiers:'")
        }
        do {
            try await notifier.send(message.redacted(redact))
        } catch {
            throw NotifyError(error.kind, notifier: error.notifier, redact(error.message))
        }
    }
}

/// Sleeps for retries; injected so tests never wait.
public typealias RetrySleep = @Sendable (Duration) async throws -> Void
