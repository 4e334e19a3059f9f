import Brokers
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A loopback HTTP receiver for webhook tests: answers queued statuses first (then 200) and keeps
/// every request's body and signature header.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var body: Data
        var signature: String?
        var contentType: String?
    }

    private let state = Mutex<(received: [Received], statuses: [Int])>(([], []))
    private let server = LoopbackServer()
    private let port = Mutex(0)

    /// Starts on a free port.
    func start() async throws {
        let p = try await server.start { onRunning in
            let router = Router()
            router.post("hook") { request, _ -> Response in
                let buffer = try await request.body.collect(upTo: 1 << 20)
                let received = Received(
                    body: Data(buffer.readableBytesView), signature: request.headers[HTTPField.Name("X-Schedctl-Signature")!],
                    contentType: request.headers[.contentType])
                let status = self.state.withLock { s -> Int in
                    s.received.append(received)
                    return s.statuses.isEmpty ? 200 : s.statuses.removeFirst()
                }
                return Response(status: .init(code: status))
            }
            return Application(router: router, configuration: appConfiguration(port: 0), onServerRunning: onRunning, logger: simulatorLogger())
        }
        port.withLock { $0 = p }
    }

    func stop() async { await server.stop() }

    /// `http://127.0.0.1:PORT/hook`.
    var url: URL { URL(string: "http://127.0.0.1:\(port.withLock { $0 })/hook")! }
    /// Answers the next requests with these statuses.
    func respond(_ statuses: Int...) { state.withLock { $0.statuses += statuses } }
    /// Requests so far.
    var received: [Received] { state.withLock { $0.received } }
}
