public import Foundation
import SchedctlBase

/// `type: twilio`: one SMS per recipient through the Messages API
/// (`POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json`, HTTP Basic auth). The body is the
/// message's short digest, cut to `max_segments` segments.
public struct TwilioNotifier: RecipientNotifier {
    public let name: String
    /// The account SID (resolved from the vault).
    public var accountSID: String
    /// The auth token (resolved from the vault).
    public var authToken: String
    /// The sending number (E.164).
    public var from: String
    /// Recipient numbers (E.164).
    public var to: [String]
    /// `https://api.twilio.com`, or a simulator.
    public var baseURL: URL
    /// The most SMS segments one message may use.
    public var maxSegments: Int

    /// A notifier.
    public init(
        name: String, accountSID: String, authToken: String, from: String, to: [String], baseURL: URL = URL(string: "https://api.twilio.com")!,
        maxSegments: Int = 1
    ) {
        self.name = name
        self.accountSID = accountSID
        self.authToken = authToken
        self.from = from
        self.to = to
        self.baseURL = baseURL
        self.maxSegments = maxSegments
    }

    public var recipients: [String] { to }

    public func send(_ message: NotificationMessage) async throws(NotifyError) {
        let failures = await send(message, to: to, accepted: { _ in })
        guard !failures.isEmpty else { return }
        if let authentication = failures.first(where: { $0.error.kind == .authentication }) { throw authentication.error }
        let kind = failures.contains { $0.error.kind == .recipientRejected } ? NotifyError.Kind.recipientRejected : failures[0].error.kind
        throw NotifyError(
            kind, notifier: name,
            "Twilio did not accept \(failures.count) of \(to.count) messages (\(failures.map { "\($0.recipient): \($0.error.message)" }.joined(separator: "; ")))"
        )
    }

    /// One POST per number in `recipients`; `accepted` hears each number Twilio accepted.
    public func send(_ message: NotificationMessage, to recipients: [String], accepted: @escaping @Sendable (String) async -> Void) async -> [(
        recipient: String, error: NotifyError
    )] {
        let body = SMSText.fit(message.short, maxSegments: maxSegments)
        let url = baseURL.appendingPathComponent("2010-04-01/Accounts/\(accountSID)/Messages.json")
        let credentials = Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        let headers = ["Authorization": "Basic \(credentials)", "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"]
        var failures: [(recipient: String, error: NotifyError)] = []
        for (index, number) in recipients.enumerated() {
            let answer: HTTPAnswer
            do {
                answer = try await HTTPClient.notifiers.send("POST", url, headers: headers, body: formEncode([("From", from), ("To", number), ("Body", body)]))
            } catch {
                failures.append(
                    (
                        number,
                        NotifyError(
                            .transport, notifier: name,
                            "cannot reach Twilio at \(baseURL.host ?? "?") (\(error.localizedDescription)); check base_url and the network")
                    ))
                continue
            }
            if (200..<300).contains(answer.status) {
                await accepted(number)
                continue
            }
            let json = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
            let code = (json?["code"] as? NSNumber)?.intValue
            let text = json?["message"] as? String ?? String(decoding: answer.body.prefix(200), as: UTF8.self)
            if answer.status == 401 || code == 20003 {
                let error = NotifyError(
                    .authentication, notifier: name,
                    "Twilio refused the credentials (HTTP 401\(code.map { ", code \($0)" } ?? "")); check account_sid and auth_token")
                // The rest would be refused the same way.
                return failures + recipients[index...].map { ($0, error) }
            }
            let kind: NotifyError.Kind =
                [21211, 21614, 21610, 21408].contains(code ?? 0) ? .recipientRejected : (answer.status == 429 || answer.status >= 500 ? .transport : .rejected)
            failures.append((number, NotifyError(kind, notifier: name, "HTTP \(answer.status)\(code.map { ", code \($0)" } ?? ""): \(text)")))
        }
        return failures
    }
}
