public import Foundation
import HummingbirdWSClient
public import Logging
import NIOCore
import SchedctlBase

/// A reply to a WebSocket request: `{"s": status, "i": id, "d": payload}`.
public struct TradovateResponse: Sendable {
    public var status: Int
    /// The raw JSON of `d`, if any.
    public var payload: Data?
    /// `d` decoded as `T`; throws a `malformedResponse` error when it is absent or of another shape.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard let payload, let value = try? JSONDecoder().decode(T.self, from: payload) else {
            throw BrokerError(.malformedResponse, broker: "tradovate", "Tradovate answered on the WebSocket with an unreadable payload (status \(status))")
        }
        return value
    }
}

/// A market-data quote from an `md` event. Missing entries stay nil.
public struct TradovateQuote: Sendable, Hashable {
    public var contractID: Int64
    public var bid: Decimal?
    public var bidSize: Decimal?
    public var ask: Decimal?
    public var askSize: Decimal?
    public var last: Decimal?
    public var timestamp: Date?

    /// A quote.
    public init(
        contractID: Int64, bid: Decimal? = nil, bidSize: Decimal? = nil, ask: Decimal? = nil, askSize: Decimal? = nil, last: Decimal? = nil,
        timestamp: Date? = nil
    ) {
        self.contractID = contractID
        self.bid = bid
        self.bidSize = bidSize
        self.ask = ask
        self.askSize = askSize
        self.last = last
        self.timestamp = timestamp
    }
}

/// What the socket reports.
public enum TradovateEvent: Sendable {
    /// Authorized on connection number `connection` (1 = first; higher = reconnected).
    case connected(connection: Int)
    /// The connection ended; a reconnect follows unless stopped.
    case disconnected(reason: String)
    /// A `props` entity event, typed (an entity type the session does not use, or an entity that
    /// lacks a required field, is not reported).
    case props(TradovateProps)
    /// A quote.
    case quote(TradovateQuote)
    /// The snapshot of a `user/syncrequest` re-sent after a reconnect (the caller applies what
    /// happened while the socket was down).
    case resynced(snapshot: TradovateSyncSnapshot)
    /// Another server event (`chart`, `clock`, …) with its raw `d`.
    case other(name: String, payload: Data)
}

/// Where a socket stands, for `session status`.
public enum TradovateSocketState: Sendable, Equatable, CustomStringConvertible {
    /// Not authorized yet, or reconnecting.
    case connecting
    /// Connected and authorized.
    case connected
    /// A temporary sign-in block (hourly cap, penalty, cooldown): no attempt for `retryAfter`
    /// seconds, then the socket connects again.
    case paused(retryAfter: TimeInterval, reason: String)
    /// Stopped (by ``TradovateWebSocket/stop()``, or after `maxConsecutiveFailures`).
    case stopped(reason: String)

    public var description: String {
        switch self {
        case .connecting: return "connecting"
        case .connected: return "connected"
        case .paused(let seconds, let reason): return "paused for \(Int(seconds.rounded(.up))) s: \(reason)"
        case .stopped(let reason): return "stopped: \(reason)"
        }
    }
}

/// WebSocket behaviour. Intervals are configurable so tests run fast.
public struct TradovateWebSocketConfiguration: Sendable {
    /// Client `[]` heartbeat interval (Tradovate: 2.5 s).
    public var heartbeatInterval: Duration
    /// Reconnect when the server sends nothing (not even `h`) for this long.
    public var serverSilenceTimeout: Duration
    /// How long a request waits for its reply (and for a connection).
    public var requestTimeout: Duration
    /// How long one connection attempt may take to get authorized before it is abandoned.
    public var connectTimeout: Duration
    /// Reconnect backoff: `base · 2^(attempt−1)`, capped.
    public var reconnectBase: Duration
    public var reconnectCap: Duration
    /// Give up after this many consecutive failed connections (nil: never).
    public var maxConsecutiveFailures: Int?
    /// Authorize with `mdAccessToken` (market-data socket) instead of `accessToken`.
    public var useMarketDataToken: Bool
    /// The clock every timer runs on: heartbeats, the silence watchdog, request and connect
    /// timeouts, reconnect backoff. Tests pass a manual clock.
    public var clock: any Clock<Duration>
    /// Events that may wait unread in ``TradovateWebSocket/events``; past it the oldest is
    /// dropped and a re-sync (`.resynced`) follows, so a consumer's book never silently misses one.
    public var eventBuffer = 10_000

    public init(
        heartbeatInterval: Duration = .milliseconds(2500), serverSilenceTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(15), reconnectBase: Duration = .milliseconds(500),
        reconnectCap: Duration = .seconds(30),
        maxConsecutiveFailures: Int? = nil, useMarketDataToken: Bool = false, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.clock = clock
        self.heartbeatInterval = heartbeatInterval
        self.serverSilenceTimeout = serverSilenceTimeout
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.reconnectBase = reconnectBase
        self.reconnectCap = reconnectCap
        self.maxConsecutiveFailures = maxConsecutiveFailures
        self.useMarketDataToken = useMarketDataToken
    }

    /// The delay before reconnect attempt `attempt` (1-based).
    public func backoff(attempt: Int) -> Duration {
        let factor = Int64(1) << Int64(min(max(attempt - 1, 0), 30))
        let d = reconnectBase * Int(factor)
        return d > reconnectCap ? reconnectCap : d
    }
}

/// A Tradovate trading or market-data WebSocket: `o`/`h`/`a`/`c` frames, `authorize`, `[]`
/// heartbeats, a watchdog on server silence, request ids, `user/syncrequest` + `props` events,
/// `md/subscribequote`, and reconnection with capped exponential backoff that re-sends the
/// sync request and quote subscriptions.
///
/// ```swift
/// let ws = TradovateWebSocket(url: config.webSocketURL, auth: auth)
/// await ws.start()
/// _ = try await ws.syncRequest(userID: 7001)
/// for await event in ws.events { ... }
/// ```
public actor TradovateWebSocket {
    public nonisolated let events: AsyncStream<TradovateEvent>
    private let eventSink: AsyncStream<TradovateEvent>.Continuation
    let url: URL
    let auth: TradovateAuth
    let configuration: TradovateWebSocketConfiguration
    let logger: Logger

    private var runTask: Task<Void, Never>?
    private var stopped = false
    private var outbound: WebSocketOutboundWriter?
    private var authorized = false
    private var authorizeID: Int?
    private var token: String?
    private var nextID = 1
    private var pending: [Int: CheckedContinuation<TradovateResponse, any Error>] = [:]
    private var connectWaiters: [UUID: CheckedContinuation<Void, any Error>] = [:]
    /// When the last server frame arrived, as time on `configuration.clock` since the socket was made.
    private var lastServerFrame = Duration.zero
    private let elapsed: @Sendable () -> Duration
    private var clock: any Clock<Duration> { configuration.clock }
    private var syncBody: Data?
    private var quoteSymbols: [String] = []
    /// The connection to drop (its re-sync or re-subscribe kept failing).
    private var dropRequested = -1
    /// Number of successful (authorized) connections so far.
    public private(set) var connectionCount = 0
    /// The last sign-in block that paused the socket (bad credentials, captcha, limits).
    public private(set) var failure: BrokerError?
    /// Where the socket stands (connecting, connected, paused by a sign-in block, stopped).
    public private(set) var state: TradovateSocketState = .connecting
    /// Number of `[]` heartbeats sent.
    public private(set) var heartbeatsSent = 0

    public init(
        url: URL, auth: TradovateAuth, configuration: TradovateWebSocketConfiguration = .init(),
        logger: Logger = Logger(label: "schedctl.brokers.tradovate.ws")
    ) {
        self.url = url
        self.auth = auth
        self.configuration = configuration
        self.logger = logger
        self.elapsed = Self.stopwatch(configuration.clock)
        (events, eventSink) = AsyncStream<TradovateEvent>.makeStream(bufferingPolicy: .bufferingNewest(max(1, configuration.eventBuffer)))
    }

    /// Time on `clock` since this call.
    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// Whether the socket is connected and authorized.
    public var isConnected: Bool { authorized }

    /// Starts connecting (and reconnecting) in the background.
    public func start() {
        guard runTask == nil, !stopped else { return }
        runTask = Task { await self.runLoop() }
    }

    /// Closes the socket and stops reconnecting; pending requests fail.
    public func stop() async {
        stopped = true
        state = .stopped(reason: "stopped")
        let t = runTask
        t?.cancel()
        await t?.value
        runTask = nil
        failAll(BrokerError(.transport, broker: "tradovate", "the Tradovate WebSocket was stopped"))
        eventSink.finish()
    }

    // MARK: Requests

    /// Sends `endpoint\nid\nquery\nbody` and waits for the matching reply.
    public func request(_ endpoint: String, query: String = "", body: Data? = nil) async throws -> TradovateResponse {
        try await waitUntilConnected()
        guard let out = outbound else { throw BrokerError(.transport, broker: "tradovate", "the Tradovate WebSocket is not connected") }
        let id = nextID
        nextID += 1
        let text = "\(endpoint)\n\(id)\n\(query)\n\(body.map { String(decoding: $0, as: UTF8.self) } ?? "")"
        let (timeout, clock) = (configuration.requestTimeout, clock)
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<TradovateResponse, any Error>) in
            pending[id] = c
            Task {
                do { try await out.write(.text(text)) } catch {
                    self.fail(id, BrokerError(.transport, broker: "tradovate", "could not send \(endpoint) on the Tradovate WebSocket"))
                }
            }
            Task {
                try? await clock.sleep(for: timeout)
                self.fail(id, BrokerError(.timeout, broker: "tradovate", "Tradovate did not answer \(endpoint) within \(timeout)"))
            }
        }
    }

    /// `user/syncrequest`; remembered and re-sent after every reconnect (props events resume).
    @discardableResult
    public func syncRequest(userID: Int64? = nil, accounts: [Int64]? = nil) async throws -> TradovateSyncSnapshot {
        var body: [String: Any] = ["splitResponses": false]
        if let userID { body["users"] = [userID] }
        if let accounts { body["accounts"] = accounts }
        let data = try JSONSerialization.data(withJSONObject: body)
        let r = try await checked(request("user/syncrequest", body: data), "user/syncrequest")
        syncBody = data
        return try TradovateSyncSnapshot.decode(r.payload ?? Data())
    }

    /// `md/subscribequote`; remembered and re-sent after every reconnect.
    public func subscribeQuote(symbol: String) async throws {
        let data = try JSONSerialization.data(withJSONObject: ["symbol": symbol])
        _ = try checked(await request("md/subscribequote", body: data), "md/subscribequote \(symbol)")
        if !quoteSymbols.contains(symbol) { quoteSymbols.append(symbol) }
    }

    /// `md/unsubscribequote`.
    public func unsubscribeQuote(symbol: String) async throws {
        quoteSymbols.removeAll { $0 == symbol }
        let data = try JSONSerialization.data(withJSONObject: ["symbol": symbol])
        _ = try checked(await request("md/unsubscribequote", body: data), "md/unsubscribequote \(symbol)")
    }

    private func checked(_ r: TradovateResponse, _ what: String) throws -> TradovateResponse {
        guard r.status == 200 else {
            throw BrokerError(
                r.status == 401 ? .authenticationFailed : (r.status == 429 ? .rateLimited : .rejected), broker: "tradovate", httpStatus: r.status,
                "Tradovate refused \(what) on the WebSocket (status \(r.status))")
        }
        return r
    }

    // MARK: Connection loop

    private func runLoop() async {
        var failures = 0
        var connectionNumber = 0
        while !stopped && !Task.isCancelled {
            let before = connectionCount
            var reason = "closed"
            do {
                try await connectOnce()
            } catch let block as SignInStopped {
                // Bad credentials, a captcha or the sign-in limits: signing in again every few
                // seconds is what locks the account. Each of these blocks lifts (the hourly cap,
                // a penalty, the failed-sign-in cooldown, the captcha hour): the socket pauses
                // until then and never stops for good.
                let wait = max(block.error.retryAfter ?? Self.signInBlockFallback, 1)
                let why = String(block.error.message.prefix(200))
                logger.error("no usable Tradovate token; paused", metadata: ["broker": "tradovate", "seconds": "\(Int(wait))"])
                failure = block.error
                outbound = nil
                authorized = false
                state = .paused(retryAfter: wait, reason: why)
                failAll(block.error)
                failWaiters(block.error)
                emit(.disconnected(reason: why))
                try? await clock.sleep(for: .secondsDouble(wait))
                if stopped || Task.isCancelled { break }
                state = .connecting
                continue
            } catch {
                reason = "\(error)"
            }
            let wasAuthorized = connectionCount > before
            connectionNumber += 1
            outbound = nil
            authorized = false
            authorizeID = nil
            failAll(BrokerError(.transport, broker: "tradovate", "the Tradovate WebSocket disconnected (\(reason.prefix(120)))"))
            if stopped || Task.isCancelled { break }
            state = .connecting
            emit(.disconnected(reason: String(reason.prefix(200))))
            failures = wasAuthorized ? 1 : failures + 1
            if let max = configuration.maxConsecutiveFailures, failures > max {
                logger.error("giving up on the Tradovate WebSocket", metadata: ["broker": "tradovate", "failures": "\(failures)"])
                state = .stopped(reason: "failed \(failures) times in a row")
                failWaiters(
                    BrokerError(
                        .transport, broker: "tradovate",
                        "the Tradovate WebSocket failed \(failures) times in a row; check the network and the Tradovate status page"))
                eventSink.finish()
                break
            }
            let delay = configuration.backoff(attempt: failures)
            logger.notice("reconnecting", metadata: ["broker": "tradovate", "attempt": "\(failures)", "delay": "\(delay)"])
            try? await clock.sleep(for: delay)
        }
    }

    private struct WatchdogTimeout: Error, CustomStringConvertible {
        var description: String { "no frame from the server within the watchdog timeout" }
    }

    private struct ResendFailed: Error, CustomStringConvertible {
        var description: String { "the re-sync or re-subscribe after a reconnect kept failing" }
    }

    private struct ConnectTimeout: Error, CustomStringConvertible {
        var description: String { "the connection was not authorized within the connect timeout" }
    }

    /// The sign-in is blocked for a while (bad credentials, a captcha, a penalty, the limits).
    private struct SignInStopped: Error { var error: BrokerError }

    /// How long a sign-in block without a stated end pauses the socket (the failed-sign-in cooldown).
    static let signInBlockFallback: TimeInterval = 300

    private func connectOnce() async throws {
        let session: TradovateSession
        do {
            session = try await auth.currentSession()
        } catch let error as BrokerError where error.isAuthenticationFailure || error.isPenalty || error.isRateLimited {
            throw SignInStopped(error: error)
        }
        let tok = configuration.useMarketDataToken ? (session.mdAccessToken ?? session.accessToken) : session.accessToken
        token = tok
        lastServerFrame = elapsed()
        let logger: Logger = {
            var l = self.logger
            l.logLevel = .critical
            return l
        }()
        let interval = configuration.heartbeatInterval
        let silence = configuration.serverSilenceTimeout
        let startCount = connectionCount
        let connectTimeout = configuration.connectTimeout
        let clock = self.clock
        try await withThrowingTaskGroup(of: Void.self) { attempt in
            attempt.addTask { try await self.runConnection(logger: logger, interval: interval, silence: silence) }
            attempt.addTask {
                // Abandon an attempt that stalls before authorization (upgrade or authorize never answered).
                try await clock.sleep(for: connectTimeout)
                if await self.connectionCount == startCount { throw ConnectTimeout() }
                while !Task.isCancelled { try await clock.sleep(for: .seconds(3600)) }
            }
            _ = try await attempt.next()
            attempt.cancelAll()
        }
    }

    private func runConnection(logger: Logger, interval: Duration, silence: Duration) async throws {
        let clock = self.clock
        try await WebSocketClient.connect(url: url.absoluteString, configuration: .init(maxFrameSize: 1 << 22, closeTimeout: .seconds(2)), logger: logger) {
            inbound, outbound, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        guard case .text(let text) = message else { continue }
                        if try await self.received(text, outbound) == false { return }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try await clock.sleep(for: interval)
                        if await self.silentFor() > silence { throw WatchdogTimeout() }
                        if await self.dropRequested == self.connectionCount { throw ResendFailed() }
                        try await self.heartbeat(outbound)
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }

    private func silentFor() -> Duration { elapsed() - lastServerFrame }

    private func heartbeat(_ out: WebSocketOutboundWriter) async throws {
        try await out.write(.text("[]"))
        heartbeatsSent += 1
    }

    /// Handles one server frame; returns false when the server closed (`c`).
    private func received(_ text: String, _ out: WebSocketOutboundWriter) async throws -> Bool {
        lastServerFrame = elapsed()
        guard let kind = text.first else { return true }
        switch kind {
        case "o":
            let id = nextID
            nextID += 1
            authorizeID = id
            try await out.write(.text("authorize\n\(id)\n\n\(token ?? "")"))
        case "h":
            break
        case "c":
            logger.notice("server closed the socket", metadata: ["broker": "tradovate", "frame": "\(text.prefix(100))"])
            return false
        case "a":
            guard let array = (try? JSONSerialization.jsonObject(with: Data(text.dropFirst().utf8))) as? [Any] else {
                logger.warning("unreadable frame", metadata: ["broker": "tradovate"])
                return true
            }
            for item in array {
                guard let m = item as? [String: Any] else { continue }
                if let i = (m["i"] as? NSNumber)?.intValue {
                    let status = (m["s"] as? NSNumber)?.intValue ?? 0
                    let payload = m["d"].flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed]) }
                    if i == authorizeID {
                        guard status == 200 else {
                            // Only 401 says the token is bad; a 429 or 5xx (an incident) keeps the
                            // shared token, and the socket reconnects with it after a backoff.
                            if status == 401, let t = token { await auth.invalidate(token: t) }
                            throw BrokerError(
                                .authenticationFailed, broker: "tradovate", httpStatus: status,
                                "Tradovate refused the WebSocket authorization (status \(status))")
                        }
                        onAuthorized(out)
                    } else if let c = pending.removeValue(forKey: i) {
                        c.resume(returning: TradovateResponse(status: status, payload: payload))
                    }
                } else if let e = m["e"] as? String {
                    dispatchEvent(e, m["d"])
                }
            }
        default:
            break
        }
        return true
    }

    private func onAuthorized(_ out: WebSocketOutboundWriter) {
        outbound = out
        authorized = true
        state = .connected
        connectionCount += 1
        emit(.connected(connection: connectionCount))
        for (_, w) in connectWaiters { w.resume() }
        connectWaiters.removeAll()
        // Re-send what the caller had subscribed to (after a reconnect); each is retried, and a
        // connection that still gets no props or quotes is dropped and made again.
        let sync = syncBody, symbols = quoteSymbols, connection = connectionCount
        if connection > 1, sync != nil || !symbols.isEmpty {
            Task {
                if let sync {
                    guard let data = await self.resend("user/syncrequest", sync, connection: connection) else { return }
                    do { self.emit(.resynced(snapshot: try TradovateSyncSnapshot.decode(data))) } catch {
                        self.logger.error("unreadable snapshot after a reconnect", metadata: ["broker": "tradovate"])
                    }
                }
                for s in symbols {
                    guard let data = try? JSONSerialization.data(withJSONObject: ["symbol": s]) else { continue }
                    guard await self.resend("md/subscribequote", data, connection: connection) != nil else { return }
                }
            }
        }
    }

    /// How often a re-sync or re-subscribe after a reconnect is tried on one connection.
    static let resendAttempts = 5

    /// Sends `endpoint` again on connection `connection` until it is answered 200 (its payload,
    /// or an empty one), with backoff; after ``resendAttempts`` failures the connection is dropped
    /// (the next one sends it again). Nil when it failed or the connection is gone.
    private func resend(_ endpoint: String, _ body: Data, connection: Int) async -> Data? {
        for attempt in 1...Self.resendAttempts {
            guard connectionCount == connection, authorized, !stopped else { return nil }
            do {
                let r = try await request(endpoint, body: body)
                if r.status == 200 { return r.payload ?? Data() }
                logger.warning("refused after a reconnect; retrying", metadata: ["broker": "tradovate", "endpoint": "\(endpoint)", "status": "\(r.status)"])
            } catch {
                logger.warning("failed after a reconnect; retrying", metadata: ["broker": "tradovate", "endpoint": "\(endpoint)", "error": "\(error)"])
            }
            try? await clock.sleep(for: configuration.backoff(attempt: attempt))
        }
        if connectionCount == connection, authorized, !stopped {
            logger.error("dropping the connection: \(endpoint) kept failing after a reconnect", metadata: ["broker": "tradovate"])
            dropRequested = connection
        }
        return nil
    }

    /// Whether a re-sync for dropped events is in flight, and whether more were dropped meanwhile.
    private var dropResync: (running: Bool, again: Bool) = (false, false)

    /// Hands an event to ``events``. When the buffer was full its oldest event was dropped (a
    /// fill, a position): the book built from the events missed it, so a fresh snapshot follows
    /// as `.resynced` (again after the one in flight, when more were dropped meanwhile).
    private func emit(_ event: TradovateEvent) {
        guard case .dropped = eventSink.yield(event) else { return }
        resyncAfterDrop()
    }

    private func resyncAfterDrop() {
        guard let sync = syncBody, authorized, !stopped else { return }
        guard !dropResync.running else {
            dropResync.again = true
            return
        }
        dropResync = (true, false)
        logger.warning("events were dropped unread; re-syncing", metadata: ["broker": "tradovate", "buffer": "\(configuration.eventBuffer)"])
        let connection = connectionCount
        Task {
            if let data = await self.resend("user/syncrequest", sync, connection: connection) {
                do { self.emit(.resynced(snapshot: try TradovateSyncSnapshot.decode(data))) } catch {
                    self.logger.error("unreadable snapshot after dropped events", metadata: ["broker": "tradovate"])
                }
            }
            let again = self.dropResync.again
            self.dropResync = (false, false)
            if again { self.resyncAfterDrop() }
        }
    }

    private func dispatchEvent(_ name: String, _ d: Any?) {
        switch name {
        case "props":
            guard let d = d as? [String: Any], let type = d["entityType"] as? String else { return }
            let entity = d["entity"].flatMap { try? JSONSerialization.data(withJSONObject: $0) } ?? Data("{}".utf8)
            switch TradovateEntity.decode(entityType: type, entity: entity) {
            case .success(let typed): emit(.props(TradovateProps(eventType: d["eventType"] as? String ?? "", entity: typed)))
            case .failure(.unknownType): break
            case .failure(.unreadable):
                logger.warning("props entity without a required field; ignored", metadata: ["broker": "tradovate", "entity_type": "\(type)"])
            }
        case "md":
            guard let d = d as? [String: Any] else { return }
            if let quotes = d["quotes"] as? [[String: Any]] {
                for q in quotes {
                    guard let cid = (q["contractId"] as? NSNumber)?.int64Value else { continue }
                    let entries = q["entries"] as? [String: Any] ?? [:]
                    func entry(_ k: String, _ f: String) -> Decimal? { jsonDecimal((entries[k] as? [String: Any])?[f]) }
                    emit(
                        .quote(
                            TradovateQuote(
                                contractID: cid, bid: entry("Bid", "price"), bidSize: entry("Bid", "size"),
                                ask: entry("Offer", "price"), askSize: entry("Offer", "size"), last: entry("Trade", "price"),
                                timestamp: (q["timestamp"] as? String).flatMap(parseTimestamp))))
                }
            } else {
                emit(.other(name: "md", payload: (try? JSONSerialization.data(withJSONObject: d)) ?? Data()))
            }
        default:
            let payload = d.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed]) } ?? Data()
            emit(.other(name: name, payload: payload))
        }
    }

    private func waitUntilConnected() async throws {
        if authorized { return }
        if stopped { throw BrokerError(.transport, broker: "tradovate", "the Tradovate WebSocket was stopped") }
        let key = UUID()
        let (timeout, clock) = (configuration.requestTimeout, clock)
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            connectWaiters[key] = c
            Task {
                try? await clock.sleep(for: timeout)
                self.timeoutWaiter(key)
            }
        }
    }

    private func timeoutWaiter(_ key: UUID) {
        connectWaiters.removeValue(forKey: key)?.resume(throwing: BrokerError(.timeout, broker: "tradovate", "the Tradovate WebSocket did not connect in time"))
    }

    private func fail(_ id: Int, _ error: BrokerError) {
        pending.removeValue(forKey: id)?.resume(throwing: error)
    }

    private func failAll(_ error: BrokerError) {
        let all = pending
        pending.removeAll()
        for (_, c) in all { c.resume(throwing: error) }
    }

    private func failWaiters(_ error: BrokerError) {
        let all = connectWaiters
        connectWaiters.removeAll()
        for (_, c) in all { c.resume(throwing: error) }
    }
}
