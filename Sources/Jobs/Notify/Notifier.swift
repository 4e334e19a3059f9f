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

    /// A message; `short` defaults to the subject.
    public init(subject: String, text: String, html: String? = nil, short: String? = nil) {
        self.subject = subject
        self.text = text
        self.html = html
        self.short = short ?? subject
    }

    /// The message with `redact` applied to every part.
    public func redacted(_ redact: (String) -> String) -> NotificationMessage {
        NotificationMessage(subject: redact(subject), text: redact(text), html: html.map(redact), short: redact(short))
    }
}

/// Delivers messages somewhere (`email`, `twilio`, `webhook`, `file`).
public protocol Notifier: Sendable {
    /// The notifier's name in `jobs.yaml`.
    var name: String { get }
    /// Delivers `message` (already redacted); throws `NotifyError` when it was not delivered.
    func send(_ message: NotificationMessage) async throws(NotifyError)
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
