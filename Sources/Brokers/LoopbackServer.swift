import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Runs a Hummingbird application on 127.0.0.1 and reports the bound port.
final class LoopbackServer: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init() {}

    /// Starts `makeApp(onRunning)`; returns the bound port.
    func start<App: ApplicationProtocol>(_ makeApp: (@escaping @Sendable (any Channel) async -> Void) -> App) async throws -> Int {
        let (stream, continuation) = AsyncStream<Int?>.makeStream()
        let app = makeApp { channel in
            continuation.yield(channel.localAddress?.port)
            continuation.finish()
        }
        var logger = Logger(label: "schedctl.simulator")
        logger.logLevel = .critical
        let sg = ServiceGroup(configuration: .init(services: [app], logger: logger))
        group.withLock { $0 = sg }
        let t = Task {
            do { try await sg.run() } catch { continuation.finish() }
            continuation.finish()
        }
        task.withLock { $0 = t }
        var port: Int?
        for await p in stream { port = p; break }
        guard let port else {
            throw BrokerError(.transport, broker: "simulator", "simulator failed to bind a port on 127.0.0.1")
        }
        return port
    }

    /// Shuts down gracefully and waits.
    func stop() async {
        let sg = group.withLock { g -> ServiceGroup? in
            defer { g = nil }; return g
        }
        let t = task.withLock { t -> Task<Void, Never>? in
            defer { t = nil }; return t
        }
        await sg?.triggerGracefulShutdown()
        await t?.value
    }
}

func simulatorLogger() -> Logger {
    var l = Logger(label: "schedctl.simulator")
    l.logLevel = .critical
    return l
}

func appConfiguration(port: Int) -> ApplicationConfiguration {
    ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: "schedctl-simulator")
}

/// Shared JSON helpers for simulators.
func jsonResponse(_ status: HTTPResponse.Status = .ok, _ object: Any, headers: HTTPFields = [:]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    var h = headers
    h[.contentType] = "application/json"
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

func rawResponse(_ status: HTTPResponse.Status, _ text: String, contentType: String = "application/json") -> Response {
    var h = HTTPFields()
    h[.contentType] = contentType
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
}

extension Request {
    /// Collects the body (up to 1 MiB).
    mutating func bodyData() async throws -> Data {
        let buffer = try await collectBody(upTo: 1 << 20)
        return Data(buffer.readableBytesView)
    }

    func bearerToken() -> String? {
        guard let auth = headers[.authorization], auth.hasPrefix("Bearer ") else { return nil }
        return String(auth.dropFirst(7))
    }
}

struct SimulatedDrop: Error {}

/// A response that promises a body and then breaks the connection mid-way (a dropped socket).
func droppedConnectionResponse() -> Response {
    var h = HTTPFields()
    h[.contentType] = "application/json"
    return Response(
        status: .ok, headers: h,
        body: ResponseBody(contentLength: 1000) { writer in
            try await writer.write(ByteBuffer(string: "{\"Accounts\": ["))
            throw SimulatedDrop()
        })
}
