import Foundation
import Hummingbird
import NIOCore
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
    private let server: LoopbackServer
    private let server6: LoopbackServer?
    private let results: AsyncStream<Callback>

    /// One request to the callback: its `state`, and the code or the declined reason.
    struct Callback: Sendable {
        var state: String
        var result: Result<String, BrokerError>
    }

    private init(port: Int, server: LoopbackServer, server6: LoopbackServer?, results: AsyncStream<Callback>) {
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
        let server = LoopbackServer()
        let bound = try await server.start { onRunning in
            let router = Router()
            router.get("/", use: handler)
            router.get("**", use: handler)
            return Application(router: router, configuration: appConfiguration(port: port), onServerRunning: onRunning, logger: simulatorLogger())
        }
        // `localhost` may resolve to ::1 first: listen there too, or fail if another process
        // holds that port (it would receive the code).
        var server6: LoopbackServer?
        if Self.hasIPv6Loopback() {
            let second = LoopbackServer()
            do {
                _ = try await second.start { onRunning in
                    let router = Router()
                    router.get("/", use: handler)
                    router.get("**", use: handler)
                    return Application(
                        router: router, configuration: ApplicationConfiguration(address: .hostname("::1", port: bound), serverName: "schedctl"),
                        onServerRunning: onRunning, logger: simulatorLogger())
                }
                server6 = second
            } catch {
                await server.stop()
                throw BrokerError(
                    .transport, broker: "tradestation",
                    "cannot listen on [::1]:\(bound) for the sign-in callback (another program holds it and could receive the code); free the port or pass another --port"
                )
            }
        }
        return OAuthCallbackListener(port: bound, server: server, server6: server6, results: stream)
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
                return rawResponse(.ok, "Sign-in was declined. You can close this window.", contentType: "text/plain")
            }
            guard let code = q["code"].map(String.init), !code.isEmpty else {
                return rawResponse(.badRequest, "Missing code.", contentType: "text/plain")
            }
            continuation.yield(Callback(state: state, result: .success(code)))
            return rawResponse(.ok, "schedctl received the sign-in. You can close this window.", contentType: "text/plain")
        }
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
