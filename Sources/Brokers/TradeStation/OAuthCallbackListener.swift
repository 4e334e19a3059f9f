import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A one-shot localhost listener for the OAuth redirect of `schedctl auth tradestation`.
///
/// ```swift
/// let listener = try await OAuthCallbackListener.start(port: 31022)
/// let state = TradeStationAuth.randomState()
/// print(TradeStationAuth.authorizeURL(clientID: id, redirectURI: listener.redirectURI, state: state))
/// let code = try await listener.waitForCode(expectedState: state, timeout: .seconds(300))
/// ```
///
/// The redirect URI is `http://localhost:PORT` (the form TradeStation registers by default);
/// the listener binds 127.0.0.1, and `::1` too when the machine has IPv6, so the code arrives here
/// whichever address the browser picks for `localhost`.
///
/// ```swift
/// ```
public final class OAuthCallbackListener: Sendable {
    /// The bound port.
    public let port: Int
    private let server: Serving
    private let server6: Serving?
    private let results: AsyncStream<Callback>

    /// One request to the callback: its `state`, and the code or the declined reason.
    struct Callback: Sendable {
        var state: String
        var result: Result<String, BrokerError>
    }

    private init(port: Int, server: Serving, server6: Serving?, results: AsyncStream<Callback>) {
        self.port = port
        self.server = server
        self.server6 = server6
        self.results = results
    }

    /// The redirect URI to register and send (`http://localhost:PORT`).
    public var redirectURI: String { "http://localhost:\(port)" }

    /// Starts listening on 127.0.0.1:`port` (0 = any free port).
    public static func start(port: Int = TradeStationConfiguration.defaultCallbackPort) async throws -> OAuthCallbackListener {
        let (stream, continuation) = AsyncStream<Callback>.makeStream()
        let handler = Self.handler(continuation)
        // `localhost` may resolve to ::1 first: listen there too, or fail if another process
        // holds that port (it would receive the code). A fixed port is tried on ::1 first, so
        // that a holder there is what the error names.
        let ipv6 = Self.hasIPv6Loopback()
        func serveIPv6(_ port: Int) async throws -> Serving {
            do {
                return try await Serving(handler, host: "::1", port: port)
            } catch {
                throw BrokerError(
                    .transport, broker: "tradestation",
                    "cannot listen on [::1]:\(port) for the sign-in callback (another program holds it and could receive the code); free the port or pass another --port"
                )
            }
        }
        var server6: Serving? = ipv6 && port != 0 ? try await serveIPv6(port) : nil
        let server: Serving
        do {
            server = try await Serving(handler, host: "127.0.0.1", port: port)
        } catch {
            await server6?.stop()
            throw error
        }
        let bound = server.port
        if ipv6 && server6 == nil {
            do {
                server6 = try await serveIPv6(bound)
            } catch {
                await server.stop()
                throw error
            }
        }
        return OAuthCallbackListener(port: bound, server: server, server6: server6, results: stream)
    }

    /// The callback served on one address until ``stop()``.
    private struct Serving: Sendable {
        let group: ServiceGroup
        let task: Task<Void, Never>
        let port: Int

        /// Serves `handler` on `host`:`port` (0: any free port).
        init(_ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response, host: String, port: Int) async throws {
            let router = Router()
            router.get("/", use: handler)
            router.get("**", use: handler)
            var logger = Logger(label: "schedctl.oauth-callback")
            logger.logLevel = .critical
            let (bound, report) = AsyncStream<Int?>.makeStream()
            let app = Application(
                router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "schedctl"),
                onServerRunning: { channel in
                    report.yield(channel.localAddress?.port)
                    report.finish()
                }, logger: logger)
            let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
            let task = Task {
                try? await group.run()
                report.finish()
            }
            var reported: Int?
            for await port in bound {
                reported = port
                break
            }
            guard let reported else {
                await group.triggerGracefulShutdown()
                await task.value
                throw BrokerError(
                    .transport, broker: "tradestation", "cannot listen on \(host):\(port) for the sign-in callback; free the port or pass another --port")
            }
            self.group = group
            self.task = task
            self.port = reported
        }

        /// Finishes the answers under way (the browser gets its page), then stops.
        func stop() async {
            await group.triggerGracefulShutdown()
            await task.value
        }
    }

    /// Whether this machine has an IPv6 loopback address to bind.
    static func hasIPv6Loopback() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } == 0
    }

    /// The request handler: every request to the callback becomes a ``Callback``.
    static func handler(_ continuation: AsyncStream<Callback>.Continuation) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, _ in
            let q = request.uri.queryParameters
            let state = q["state"].map(String.init) ?? ""
            if let err = q["error"] {
                let desc = q["error_description"].map(String.init) ?? ""
                let reason = printable(String(err)) + (desc.isEmpty ? "" : ": " + printable(desc))
                continuation.yield(
                    Callback(
                        state: state,
                        result: .failure(
                            BrokerError(
                                .authenticationFailed, broker: "tradestation",
                                "the TradeStation sign-in was declined (\(reason)); run `schedctl auth tradestation` again and approve the request"
                            ))))
                return text(.ok, "Sign-in was declined. You can close this window.")
            }
            guard let code = q["code"].map(String.init), !code.isEmpty else {
                return text(.badRequest, "Missing code.")
            }
            continuation.yield(Callback(state: state, result: .success(code)))
            return text(.ok, "schedctl received the sign-in. You can close this window.")
        }
    }

    /// A plain-text answer for the browser.
    private static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }

    /// Text from the query without control characters, at most 200 of them (it is printed).
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }).prefix(200))
    }

    /// Waits for the redirect carrying `expectedState`; fails on a decline carrying it, or the
    /// timeout. A request with another state (a stale tab, or any web page poking the port) is
    /// answered and ignored: it can neither end the sign-in nor supply the code. Stops the
    /// listener before returning.
    public func waitForCode(expectedState: String, timeout: Duration) async throws -> String {
        defer { Task { await self.stop() } }
        let results = self.results
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                for await callback in results where callback.state == expectedState {
                    return try callback.result.get()
                }
                throw BrokerError(.transport, broker: "tradestation", "the sign-in listener stopped before a callback arrived")
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw BrokerError(
                    .timeout, broker: "tradestation",
                    "no sign-in callback with the expected state arrived within \(timeout); run `schedctl auth tradestation` again and finish the login in the browser"
                )
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Stops listening.
    public func stop() async {
        await server.stop()
        await server6?.stop()
    }
}
