public import Foundation

/// `type: twilio`: one SMS per recipient through the Messages API
/// (`POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json`, HTTP Basic auth). The body is the
/// message's short digest, cut to `max_segments` segments.
public struct TwilioNotifier: Notifier {
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

    public func send(_ message: NotificationMessage) async throws(NotifyError) {
        let body = SMSText.fit(message.short, maxSegments: maxSegments)
        let url = baseURL.appendingPathComponent("2010-04-01/Accounts/\(accountSID)/Messages.json")
        let credentials = Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        let headers = ["Authorization": "Basic \(credentials)", "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"]
        var failures: [String] = []
        var kind = NotifyError.Kind.rejected
        for number in to {
            let answer: (status: Int, body: Data)
            do {
                answer = try await HTTPPost().post(url, headers: headers, body: formEncoded([("From", from), ("To", number), ("Body", body)]))
            } catch {
                throw NotifyError(
                    .transport, notifier: name, "cannot reach Twilio at \(baseURL.host ?? "?") (\(error.localizedDescription)); check base_url and the network")
            }
            guard !(200..<300).contains(answer.status) else { continue }
            let json = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
            let code = (json?["code"] as? NSNumber)?.intValue
            let text = json?["message"] as? String ?? String(decoding: answer.body.prefix(200), as: UTF8.self)
            if answer.status == 401 || code == 20003 {
                throw NotifyError(
                    .authentication, notifier: name,
                    "Twilio refused the credentials (HTTP 401\(code.map { ", code \($0)" } ?? "")); check account_sid and auth_token")
            }
            if [21211, 21614, 21610, 21408].contains(code ?? 0) { kind = .recipientRejected }
            failures.append("\(number): HTTP \(answer.status)\(code.map { ", code \($0)" } ?? ""): \(text)")
        }
        if !failures.isEmpty {
            throw NotifyError(kind, notifier: name, "Twilio did not accept \(failures.count) of \(to.count) messages (\(failures.joined(separator: "; ")))")
        }
    }
}
