import Brokers
public import Foundation
import Hummingbird
import Synchronization

/// A loopback Twilio Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`): HTTP Basic
/// auth, form fields `From`, `To`, `Body`, Twilio's error shape (`code`, `message`, `status`),
/// and the messages it accepted, for tests and `schedctl sandbox`.
public final class TwilioSimulator: Sendable {
    /// One accepted message.
    public struct Message: Sendable, Hashable {
        public var sid: String
        public var account: String
        public var from: String
        public var to: String
        public var body: String
    }

    /// One-shot faults for the next requests.
    public enum Fault: Sendable { case status(Int) }

    struct State: Sendable {
        var accounts: [String: String] = ["ACsandbox0000000000000000000000000": "sandbox-auth-token"]
        var messages: [Message] = []
        var faults: [Fault] = []
        var requests = 0
    }

    let state = Mutex(State())
    private let server = LoopbackServer()
    private let boundPort = Mutex<Int?>(nil)

    /// A simulator with account `ACsandbox0000000000000000000000000` / `sandbox-auth-token`.
    public init() {}

    /// Starts on 127.0.0.1 (`port` 0: any free port); returns the port.
    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let p = try await server.start { onRunning in
            let router = Router()
            router.post("2010-04-01/Accounts/:sid/Messages.json") { request, context in
                var request = request
                let body = (try? await request.bodyData()) ?? Data()
                return self.handle(request, sid: context.parameters.get("sid") ?? "", form: formDecode(body))
            }
            return Application(router: router, configuration: appConfiguration(port: port), onServerRunning: onRunning, logger: simulatorLogger())
        }
        boundPort.withLock { $0 = p }
        return p
    }

    /// Stops the server.
    public func stop() async { await server.stop() }

    /// `http://127.0.0.1:PORT` (a notifier's `base_url`).
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(boundPort.withLock { $0 } ?? 0)")! }
    /// Adds an account and its auth token.
    public func addAccount(sid: String, authToken: String) { state.withLock { $0.accounts[sid] = authToken } }
    /// Messages accepted so far, oldest first.
    public var messages: [Message] { state.withLock { $0.messages } }
    /// Requests received (accepted or not).
    public var requestCount: Int { state.withLock { $0.requests } }
    /// Makes the next requests fail.
    public func enqueueFaults(_ faults: Fault...) { state.withLock { $0.faults += faults } }

    /// Twilio's error body.
    static func error(_ status: Int, _ code: Int, _ message: String) -> Response {
        jsonResponse(
            .init(code: status), ["code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors/\(code)", "status": status])
    }

    private func handle(_ request: Request, sid: String, form: [String: String]) -> Response {
        state.withLock { s -> Response in
            s.requests += 1
            guard let auth = request.headers[.authorization], auth.hasPrefix("Basic "),
                let decoded = Data(base64Encoded: String(auth.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":"), String(decoded[..<colon]) == sid, s.accounts[sid] == String(decoded[decoded.index(after: colon)...])
            else { return Self.error(401, 20003, "Authenticate") }
            if !s.faults.isEmpty, case .status(let code) = s.faults.removeFirst() { return Self.error(code, 20500, "Internal Server Error") }
            guard let to = form["To"], Self.isE164(to) else {
                return Self.error(400, 21211, "The 'To' number \(form["To"] ?? "") is not a valid phone number.")
            }
            guard let from = form["From"], Self.isE164(from) else {
                return Self.error(400, 21212, "The 'From' number \(form["From"] ?? "") is not a valid phone number.")
            }
            guard let body = form["Body"], !body.isEmpty else { return Self.error(400, 21602, "Message body is required.") }
            guard body.count <= 1600 else { return Self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.") }
            let message = Message(sid: "SM" + String(format: "%032x", s.messages.count + 1), account: sid, from: from, to: to, body: body)
            s.messages.append(message)
            return jsonResponse(
                .created,
                [
                    "sid": message.sid, "account_sid": sid, "from": from, "to": to, "body": body, "status": "queued",
                    "num_segments": "\(SMSSegments.count(body))", "direction": "outbound-api",
                ])
        }
    }

    static func isE164(_ number: String) -> Bool {
        number.hasPrefix("+") && (8...16).contains(number.count) && number.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }
}

/// Segment counting as Twilio reports it (GSM-7: 160, then 153 each; otherwise 70, then 67).
enum SMSSegments {
    static let gsm = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")
    static func count(_ body: String) -> Int {
        let isGSM = body.allSatisfy { gsm.contains($0) }
        let length = isGSM ? body.count + body.filter { "^{}\\[~]|€".contains($0) }.count : body.utf16.count
        let (single, multi) = isGSM ? (160, 153) : (70, 67)
        return length <= single ? 1 : (length + multi - 1) / multi
    }
}
