import Brokers
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Sandbox
import SchedctlTesting
import Synchronization

/// A loopback HTTP receiver for webhook tests: answers queued statuses first (then 200, or 503
/// while `unavailable` says so) and keeps every request's path, body and headers.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var path: String
        var body: Data
        var signature: String?
        var delivery: String?
        var contentType: String?
        var headers: [String: String]
    }

    private let state = Mutex<(received: [Received], statuses: [Int])>(([], []))
    private let unavailable = Mutex<(@Sendable () -> Bool)?>(nil)
    private let server = LoopbackServer()
    private let port = Mutex(0)

    /// Starts on a free port.
    func start() async throws {
        let p = try await server.start { onRunning in
            let router = Router()
            let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
                let buffer = try await request.body.collect(upTo: 1 << 20)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                let received = Received(
                    path: request.uri.path, body: Data(buffer.readableBytesView), signature: request.headers[HTTPField.Name("Schedctl-Signature")!],
                    delivery: request.headers[HTTPField.Name("Schedctl-Delivery")!], contentType: request.headers[.contentType], headers: headers)
                if request.uri.path == "/redirect" {
                    self.state.withLock { $0.received.append(received) }
                    return Response(status: .temporaryRedirect, headers: [.location: "/hook"])
                }
                let down = self.unavailable.withLock { $0 }?() ?? false
                let status = self.state.withLock { s -> Int in
                    s.received.append(received)
                    if !s.statuses.isEmpty { return s.statuses.removeFirst() }
                    return down ? 503 : 200
                }
                return Response(status: .init(code: status))
            }
            router.post("hook", use: handler)
            router.post("**", use: handler)
            return Application(router: router, configuration: appConfiguration(port: 0), onServerRunning: onRunning, logger: simulatorLogger())
        }
        port.withLock { $0 = p }
    }

    func stop() async { await server.stop() }

    /// `http://127.0.0.1:PORT/hook`.
    var url: URL { URL(string: "http://127.0.0.1:\(port.withLock { $0 })/hook")! }
    /// `http://127.0.0.1:PORT`.
    var base: URL { URL(string: "http://127.0.0.1:\(port.withLock { $0 })")! }
    /// Answers the next requests with these statuses.
    func respond(_ statuses: Int...) { state.withLock { $0.statuses += statuses } }
    /// Answers 503 while `condition` holds (checked at each request).
    func unavailable(while condition: @escaping @Sendable () -> Bool) { unavailable.withLock { $0 = condition } }
    /// Requests so far.
    var received: [Received] { state.withLock { $0.received } }
}

extension WebhookReceiver: Stoppable {}
