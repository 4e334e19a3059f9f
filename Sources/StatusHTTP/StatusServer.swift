import Foundation
import HTTPTypes
import Hummingbird
public import Inspection
import Jobs
public import Logging
import NIOCore
public import Scheduler
public import ServiceLifecycle
import Synchronization

/// The HTTP endpoint of `schedctl serve` (`service.http`): `/healthz`, `/readyz`, `/metrics`,
/// the status page (`/`, `/runs/ID`, `/jobs/NAME`, `/style.css`) and `/api` (the CLI's `--json`,
/// one encoder). Read-only. When a token is configured every request must carry it as
/// `Authorization: Bearer`.
///
/// ```swift
/// let server = try StatusServer(settings: plan.service.http!, source: source, metrics: metrics, probe: probe, logger: logger)
/// try await ServiceGroup(services: [server, engine], logger: logger).run()
/// ```
public final class StatusServer: Service {
    let settings: HTTPSettings
    let source: StatusSource
    let pages: StatusPages
    let metrics: StatusMetrics
    let probe: WriteProbe
    let token: String?
    let logger: Logger
    let since: Date
    let policy: HealthPolicy
    let clock: any Clock<Duration>
    let bound = BoundPort()
    /// How long a rendered `/` is served again at least (pollers every 100 ms cost one render a
    /// second); a page that took long to render is kept ten times as long as it took, so the
    /// page never takes more than a tenth of a core however many jobs it lists.
    let pageCache: Duration
    /// The last `/`, kept as the bytes sent (a large page is not copied again per request).
    private let cachedIndex = Mutex<(until: ContinuousClock.Instant, status: Int, body: ByteBuffer)?>(nil)

    /// How often the database write probe runs, and the token expiry is re-read.
    public let probeInterval: Duration = .seconds(2)
    public let tokenInterval: Duration = .seconds(30)

    /// A server for `settings` over `source`; `token` is the resolved bearer token, if any.
    public init(
        settings: HTTPSettings, source: StatusSource, metrics: StatusMetrics, probe: WriteProbe, token: String? = nil, logger: Logger,
        policy: HealthPolicy = HealthPolicy(), clock: any Clock<Duration> = ContinuousClock(), pageCache: Duration = .seconds(1)
    ) throws {
        self.pageCache = pageCache
        self.settings = settings
        self.source = source
        self.pages = try StatusPages(source: source)
        self.metrics = metrics
        self.probe = probe
        self.token = token
        self.logger = logger
        self.since = source.wall()
        self.policy = policy
        self.clock = clock
    }

    /// The port it listens on, once it does (nil if it could not bind).
    public func port() async -> Int? { await bound.wait() }

    /// Serves until graceful shutdown (it is listed first in `serve`'s group, so it stops last:
    /// `/readyz` answers 503 while the engine drains).
    public func run() async throws {
        let app = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "schedctl"),
            onServerRunning: { [bound, logger, settings] channel in
                let port = channel.localAddress?.port ?? settings.port
                bound.set(port)
                let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
                logger.notice("status endpoint listening", metadata: ["url": "http://\(host):\(port)/"])
            },
            logger: logger)
        await probe.probe()
        source.tokens.refresh()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                group.addTask { [self] in await self.maintain() }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            bound.set(nil)
            throw StatusServerError(address: settings.address, underlying: error)
        }
        bound.set(nil)
    }

    /// Probes the database and refreshes the token expiry on their intervals until cancelled
    /// or shut down.
    func maintain() async {
        var sinceTokens = Duration.zero
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await clock.sleep(for: probeInterval) } catch { return }
            await probe.probe()
            metrics.flush()
            sinceTokens += probeInterval
            if sinceTokens >= tokenInterval {
                sinceTokens = .zero
                source.tokens.refresh()
            }
        }
    }

    // MARK: Responses

    /// `/healthz` as of now.
    public func health() -> HealthReport {
        HealthVerdict.evaluate(engine: metrics.liveness.facts, database: probe.facts, now: source.wall(), since: since, policy: policy)
    }

    /// Whether `/readyz` answers 200: the engine completed a pass (plan loaded, instance
    /// registered) and does not drain.
    public var ready: Bool {
        let facts = metrics.liveness.facts
        return facts.lastPass != nil && !facts.draining
    }

    /// The exposition text, with the gauges read now.
    public func metricsText() async -> [UInt8] {
        let plan = source.plan()
        if let paused = try? await source.store.pausedJobs() {
            let count = plan.jobs.reduce(0) { $0 + (paused.contains($1.name) ? 1 : 0) }
            metrics.setJobs(active: plan.jobs.count - count, paused: count)
        }
        if let sessions = try? await SessionControl(store: source.store).rows() {
            for s in sessions {
                let figures = StatusPages.pnl(s.detail)
                if let r = figures.realized { metrics.setSessionPnL(job: s.job, kind: "realized", dollars: r) }
                if let o = figures.open { metrics.setSessionPnL(job: s.job, kind: "open", dollars: o) }
            }
        }
        for t in source.tokens.current.tokens {
            if let text = t.expires, let instant = try? Instant(iso8601: String(text.prefix(19)) + "Z") {
                metrics.setTokenExpiry(broker: t.broker, at: instant.date)
            }
        }
        return metrics.render()
    }

    /// `/`, rendered at most once per `pageCache` (or ten times its render time).
    func indexPage() async throws -> Response {
        if pageCache > .zero, let cached = cachedIndex.withLock({ $0 }), ContinuousClock.now < cached.until {
            return Self.html(HTTPResponse.Status(code: cached.status), cached.body)
        }
        let start = ContinuousClock.now
        let page = try await pages.index()
        let end = ContinuousClock.now
        let body = ByteBuffer(string: page.html)
        if pageCache > .zero { cachedIndex.withLock { $0 = (end + max(pageCache, (end - start) * 10), page.status, body) } }
        return Self.html(HTTPResponse.Status(code: page.status), body)
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: Guard(token: token, pages: pages, logger: logger))
        router.get("/healthz") { [self] _, _ in
            let report = health()
            return try Self.json(report, status: report.healthy ? .ok : .serviceUnavailable)
        }
        router.get("/readyz") { [self] _, _ in
            ready ? Self.text(.ok, "ready\n") : Self.text(.serviceUnavailable, metrics.liveness.facts.draining ? "draining\n" : "starting\n")
        }
        router.get("/metrics") { [self] _, _ in
            Self.bytes(.ok, await metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/style.css") { _, _ in Self.text(.ok, StatusPages.stylesheet, contentType: "text/css; charset=utf-8") }
        router.get("/") { [self] _, _ in try await indexPage() }
        router.get("/runs/:id") { [self] _, context in
            let text = context.parameters.get("id") ?? ""
            guard let id = Int64(text.hasPrefix("#") ? String(text.dropFirst()) : text) else {
                return Self.page(pages.notFound("'\(text)' is not a run id."))
            }
            return Self.page(try await pages.run(id: id))
        }
        router.get("/jobs/:name") { [self] _, context in
            Self.page(try await pages.job(named: context.parameters.get("name")?.removingPercentEncoding ?? ""))
        }
        router.get("/api/status") { [self] _, _ in
            let plan = source.plan()
            let status = try await StatusJSON.read(plan: plan, store: source.store, now: source.wall(), tokens: source.tokens.current.tokens)
            return try Self.json(status)
        }
        router.get("/api/runs") { [self] request, _ in
            let job = request.uri.queryParameters.get("job").flatMap { $0.isEmpty ? nil : $0 }
            let limitText = request.uri.queryParameters.get("limit")
            guard let limit = limitText.map({ Int($0) }) ?? 20, limit >= 1 else {
                return try Self.json(["error": "limit must be a whole number of at least 1"], status: .badRequest)
            }
            let runs = try await source.store.history(job: job, limit: min(limit, 10_000))
            return try Self.json(runs.map(RunJSON.init))
        }
        router.get("/api/runs/:id") { [self] _, context in
            let text = context.parameters.get("id") ?? ""
            guard let id = Int64(text.hasPrefix("#") ? String(text.dropFirst()) : text), let found = try await source.store.run(id: id) else {
                return try Self.json(["error": "no run #\(text)"], status: .notFound)
            }
            return try Self.json(ShowJSON(found, plan: source.plan()))
        }
        return router
    }

    static func page(_ page: StatusPages.Page) -> Response {
        html(HTTPResponse.Status(code: page.status), ByteBuffer(string: page.html))
    }

    static func html(_ status: HTTPResponse.Status, _ body: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// The CLI's `--json` bytes (what `print` writes: the text and a newline).
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var data = try JSONText.data(value)
        data.append(0x0A)
        return bytes(status, Array(data), contentType: "application/json")
    }

    static func text(_ status: HTTPResponse.Status, _ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        bytes(status, Array(text.utf8), contentType: contentType)
    }

    static func bytes(_ status: HTTPResponse.Status, _ bytes: [UInt8], contentType: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Refuses requests without the bearer token (when one is configured) and turns unknown paths
/// into the 404 page.
struct Guard: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String?
    let pages: StatusPages
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let token {
            let sent = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            guard let sent, Self.equal(Array(sent.utf8), Array(token.utf8)) else {
                var headers = HTTPFields()
                headers[.wwwAuthenticate] = "Bearer"
                headers[.contentType] = "text/plain; charset=utf-8"
                return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "send Authorization: Bearer TOKEN\n")))
            }
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return StatusServer.page(pages.notFound("Nothing is at \(request.uri.path)."))
        } catch let error as HTTPError {
            throw error
        } catch {
            logger.error("status page failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return StatusServer.text(.internalServerError, "internal error; see the service log\n")
        }
    }

    /// Compares in time independent of where the bytes differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// `service.http.listen` could not be served (most often: the port is in use).
public struct StatusServerError: Error, CustomStringConvertible, Sendable {
    /// The address in `jobs.yaml`.
    public var address: String
    /// What failed.
    public var reason: String

    init(address: String, underlying: any Error) {
        self.address = address
        self.reason = "\(underlying)"
    }

    public var description: String {
        "cannot serve the status endpoint on \(address) (service.http.listen): \(reason); pick a free port (0 picks one) or set 'http: off'"
    }
}

/// The bound port, awaited by tests and `serve`.
final class BoundPort: Sendable {
    private let state = Mutex<(port: Int?, done: Bool, waiters: [CheckedContinuation<Int?, Never>])>((nil, false, []))

    func set(_ port: Int?) {
        let waiters = state.withLock { s -> [CheckedContinuation<Int?, Never>] in
            guard !s.done else { return [] }
            s.port = port
            s.done = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: port) }
    }

    func wait() async -> Int? {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> Int?? in
                if s.done { return .some(s.port) }
                s.waiters.append(c)
                return .none
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}

/// Each broker's stored token expiry, read in the background (opening the vault may take a
/// key derivation: never on a request).
public final class TokenCache: Sendable {
    private let read: @Sendable () -> (tokens: [StatusJSON.TokenJSON], note: String?)
    private let value = Mutex<(tokens: [StatusJSON.TokenJSON], note: String?)>(([], nil))

    /// A cache filled by `read`.
    public init(read: @escaping @Sendable () -> (tokens: [StatusJSON.TokenJSON], note: String?)) { self.read = read }

    /// The last value read.
    public var current: (tokens: [StatusJSON.TokenJSON], note: String?) { value.withLock { $0 } }

    /// Reads again.
    public func refresh() {
        let fresh = read()
        value.withLock { $0 = fresh }
    }
}
