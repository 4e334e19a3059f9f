import Brokers
import Foundation
package import Hummingbird
package import Logging
package import NIOCore
import ServiceLifecycle
import Synchronization

/// Runs a Hummingbird application on 127.0.0.1 and reports the bound port.
package final class LoopbackServer: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    package init() {}

    /// Starts `makeApp(onRunning)`; returns the bound port.
    package func start<App: ApplicationProtocol>(_ makeApp: (@escaping @Sendable (any Channel) async -> Void) -> App) async throws -> Int {
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
    package func stop() async {
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

/// A quiet logger for loopback servers.
package func simulatorLogger() -> Logger {
    var l = Logger(label: "schedctl.simulator")
    l.logLevel = .critical
    return l
}

/// Binds 127.0.0.1 only.
package func appConfiguration(port: Int) -> ApplicationConfiguration {
    ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: "schedctl-simulator")
}

/// A plain response with the given content type.
package func rawResponse(_ status: HTTPResponse.Status, _ text: String, contentType: String = "application/json") -> Response {
    var h = HTTPFields()
    h[.contentType] = contentType
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
}
