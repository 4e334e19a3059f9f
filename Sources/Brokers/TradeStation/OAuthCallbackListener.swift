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
public final class OAuthCallbackListener: Sendable {
    /// The bound port.
    public let port: Int
    private let server: LoopbackServer
    private let results: AsyncStream<Result<String, BrokerError>>

    private init(port: Int, server: LoopbackServer, results: AsyncStream<Result<String, BrokerError>>) {
        self.port = port
        self.server = server
        self.results = results
    }

    /// The redirect URI to register and send (`http://localhost:PORT`).
    public var redirectURI: String { "http://localhost:\(port)" }

    /// Starts listening on 127.0.0.1:`port` (0 = any free port).
    public static func start(port: Int = TradeStationConfiguration.defaultCallbackPort) async throws -> OAuthCallbackListener {
        let (stream, continuation) = AsyncStream<Result<String, BrokerError>>.makeStream()
        let server = LoopbackServer()
        let bound = try await server.start { onRunning in
            let router = Router()
            let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
                let q = request.uri.queryParameters
                if let err = q["error"] {
                    let desc = q["error_description"].map(String.init) ?? ""
                    continuation.yield(
                        .failure(
                            BrokerError(
                                .authenticationFailed, broker: "tradestation",
                                "the TradeStation sign-in was declined (\(err)\(desc.isEmpty ? "" : ": \(desc)")); run `schedctl auth tradestation` again and approve the request"
                            )))
                    return rawResponse(.ok, "Sign-in was declined. You can close this window.", contentType: "text/plain")
                }
                guard let code = q["code"].map(String.init), !code.isEmpty else {
                    return rawResponse(.badRequest, "Missing code.", contentType: "text/plain")
                }
                let state = q["state"].map(String.init) ?? ""
                continuation.yield(.success("\(state)\u{0}\(code)"))
                return rawResponse(.ok, "schedctl received the sign-in. You can close this window.", contentType: "text/plain")
            }
            router.get("/", use: handler)
            router.get("**", use: handler)
            return Application(router: router, configuration: appConfiguration(port: port), onServerRunning: onRunning, logger: simulatorLogger())
        }
        return OAuthCallbackListener(port: bound, server: server, results: stream)
    }

    /// Waits for the redirect carrying `expectedState`; fails on a mismatch, a decline, or the timeout.
    /// Stops the listener before returning.
    public func waitForCode(expectedState: String, timeout: Duration) async throws -> String {
        defer { Task { await self.server.stop() } }
        let results = self.results
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                for await r in results {
                    switch r {
                    case .failure(let e): throw e
                    case .success(let joined):
                        let parts = joined.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                        guard parts.count == 2, parts[0] == expectedState else {
                            throw BrokerError(
                                .authenticationFailed, broker: "tradestation",
                                "the sign-in callback carried the wrong state (possible CSRF or a stale browser tab); run `schedctl auth tradestation` again")
                        }
                        return parts[1]
                    }
                }
                throw BrokerError(.transport, broker: "tradestation", "the sign-in listener stopped before a callback arrived")
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw BrokerError(
                    .timeout, broker: "tradestation",
                    "no sign-in callback arrived within \(timeout); run `schedctl auth tradestation` again and finish the login in the browser")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Stops listening.
    public func stop() async { await server.stop() }
}
