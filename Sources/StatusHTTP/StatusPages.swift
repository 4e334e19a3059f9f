public import Foundation
import GRDB
import Inspection
import Jobs
import Mustache
public import Scheduler
import Synchronization

/// What the pages and `/api` read: the store, the running plan, the wall clock and the token
/// expiry cache. Every query is bounded (recent runs by `LIMIT` on indexed orders, per-job
/// seeks), so a page costs the same with a million runs as with ten.
public struct StatusSource: Sendable {
    public var store: Store
    public var plan: @Sendable () -> Plan
    public var wall: @Sendable () -> Date
    public var tokens: TokenCache

    /// Recent runs on `/`, deliveries on `/`, runs on `/jobs/NAME`.
    public var recentRuns = 50
    public var recentDeliveries = 20
    public var jobRuns = 50

    /// A source over `store` and the plan `plan` returns.
    public init(store: Store, plan: @escaping @Sendable () -> Plan, wall: @escaping @Sendable () -> Date = { Date() }, tokens: TokenCache) {
        self.store = store
        self.plan = plan
        self.wall = wall
        self.tokens = tokens
    }
}

/// Renders the HTML pages from `Templates` (the library escapes every value).
public struct StatusPages: Sendable {
    let library: MustacheLibrary
    let source: StatusSource
    let rows = JobRows()

    /// Pages over `source`.
    public init(source: StatusSource) throws {
        var library = MustacheLibrary()
        for (name, text) in Templates.all { try library.register(text, named: name) }
        self.library = library
        self.source = source
    }

    /// A rendered page and its status code (200, or 404 for an unknown run or job).
    public struct Page: Sendable {
        public var status: Int
        public var html: String
    }

    // MARK: Pages

    /// `/`: instances, every job, recent runs, futures sessions, broker tokens, recent alerts.
    public func index() async throws -> Page {
        let plan = source.plan()
        let now = source.wall()
        let zone = plan.timezone
        let (tokens, tokenNote) = source.tokens.current
        let status = try await StatusJSON.read(plan: plan, store: source.store, now: now, tokens: tokens)
        let runs = try await source.store.history(limit: source.recentRuns)
        let sessions = try await SessionControl(store: source.store).rows()
        let deliveries = try await NotifyStore(store: source.store).outbox(limit: source.recentDeliveries)
        return await Self.rendering { [self] in
            let jobRows = rows.render(status.jobs, zone: zone) { job in render("jobRow", Self.jobRow(job, zone)) }
            let instances: [[String: Any]] = status.instances.map { i in
                ["id": i.id, "pid": i.pid, "state": i.state, "started": Self.time(iso: i.started, zone), "heartbeat": Self.time(iso: i.heartbeat, zone)]
            }
            let sessionRows: [[String: Any]] = sessions.map { s in
                let figures = Self.pnl(s.detail)
                return [
                    "job": s.job, "run": s.run, "state": s.state, "stopRequested": s.stopRequested, "tradeDate": s.tradeDate ?? "-",
                    "realized": figures.realized.map { String(format: "%.2f", $0) } ?? "-", "open": figures.open.map { String(format: "%.2f", $0) } ?? "-",
                    "locked": s.locked, "lockReason": s.lockReason ?? "", "updated": Self.time(s.updated, zone),
                ]
            }
            let tokenRows: [[String: Any]] = tokens.map { t in
                var row: [String: Any] = ["broker": t.broker]
                if let expires = t.expires { row["expires"] = Self.time(iso: expires, zone) }
                return row
            }
            let deliveryRows: [[String: Any]] = deliveries.map { d in
                var row: [String: Any] = [
                    "at": Self.time(d.createdAt, zone), "notifier": d.notifier, "alert": d.event, "state": d.state,
                    "detail": [d.lastError, d.attempts > 1 ? "\(d.attempts) attempts" : nil].compactMap { $0 }.joined(separator: "; "),
                ]
                if let run = d.runID { row["run"] = run }
                return row
            }
            let body: [String: Any] = [
                "instances": instances, "hasInstances": !instances.isEmpty, "jobRows": jobRows,
                "runs": runs.map { Self.runRow($0, zone) }, "hasRuns": !runs.isEmpty,
                "sessions": sessionRows, "hasSessions": !sessionRows.isEmpty,
                "tokens": tokenRows, "hasTokens": !tokenRows.isEmpty, "tokenNote": Self.truthy(tokenNote),
                "deliveries": deliveryRows, "hasDeliveries": !deliveryRows.isEmpty,
            ]
            return Page(status: 200, html: layout(title: "Status", body: render("index", body), plan: plan, now: now, refresh: 30))
        }
    }

    /// One job's row (every key the row's template names is set, `false` or `""` when empty: a
    /// missing name sends the library's lookup up the context stack, and a section over a
    /// number or string pushes a value it can only search by reflection).
    static func jobRow(_ job: StatusJSON.JobJSON, _ zone: ZoneRules) -> [String: Any] {
        var row: [String: Any] = [
            "name": job.job, "path": Self.pathComponent(job.job), "type": job.type, "state": job.state, "rule": job.schedule,
            "activeNote": job.active > 0 ? " (\(job.active) active)" : "", "next": false, "pausedSince": false, "nextNote": "",
            "last": false,
        ]
        if job.state == "paused" {
            if let since = job.pausedSince { row["pausedSince"] = Self.time(iso: since, zone) } else { row["nextNote"] = "paused" }
        } else if let next = job.next, let instant = try? Instant(iso8601: next) {
            row["next"] = Self.time(instant, zone)
        } else {
            row["nextNote"] = "never"
        }
        if let last = job.lastRun { row["last"] = ["id": last.id, "state": last.state, "summary": last.error ?? last.summary ?? ""] as [String: Any] }
        return row
    }

    /// `/runs/ID`: attempts, events, lease, checkpoint, output tail; a rebalance's orders and
    /// weights; a futures session's report.
    public func run(id: Int64) async throws -> Page {
        let plan = source.plan()
        let now = source.wall()
        let zone = plan.timezone
        guard let found = try await source.store.run(id: id) else { return notFound("There is no run #\(id).", plan: plan, now: now) }
        return await Self.rendering { [self] in
            let shown = ShowJSON(found, plan: plan)
            let r = found.run
            let isSession = plan.job(named: r.job)?.typedOptions is FuturesSessionSettings
            var body: [String: Any] = [
                "id": r.id, "job": r.job, "jobPath": Self.pathComponent(r.job), "trigger": r.trigger.rawValue, "state": r.state.rawValue,
                "nominal": Self.time(r.nominalInstant, zone), "attempt": r.attempt, "maxAttempts": r.maxAttempts, "generation": r.generation,
                "takeovers": r.takeovers, "summary": Self.truthy(r.summary), "error": Self.truthy(r.error), "reason": Self.truthy(r.reason),
                "events": found.events.map { e in
                    ["at": Self.time(e.at, zone), "kind": e.kind, "message": e.message, "instance": e.instance ?? ""] as [String: Any]
                },
                "hasEvents": !found.events.isEmpty,
            ]
            if let s = r.startedAt { body["started"] = Self.time(s, zone) }
            if let f = r.finishedAt { body["finished"] = Self.time(f, zone) }
            if let lease = found.lease {
                body["lease"] = ["owner": lease.owner, "generation": lease.generation, "expires": Self.time(lease.expiresAt, zone)] as [String: Any]
            }
            if let rebalance = shown.rebalance {
                body["rebalance"] =
                    [
                        "line": rebalance.line,
                        "holdings": rebalance.holdings.map { h in
                            [
                                "symbol": h.symbol, "before": Self.percent(h.weightBefore), "target": Self.percent(h.targetWeight),
                                "after": h.weightAfter.map(Self.percent) ?? "-",
                            ]
                        },
                        "orders": rebalance.orders.map { o in
                            [
                                "symbol": o.symbol, "side": "\(o.side)", "quantity": "\(o.quantity)", "filled": "\(o.filled)",
                                "average": o.averagePrice.map { "\($0)" } ?? "-", "state": "\(o.state)", "orderID": o.orderID ?? "-",
                            ]
                        },
                        "hasOrders": !rebalance.orders.isEmpty,
                    ] as [String: Any]
            } else if isSession, let detail = r.detail, !detail.isEmpty {
                body["report"] = Self.prettyJSON(detail)
            } else if let detail = r.detail, !detail.isEmpty {
                body["output"] = detail
            }
            if shown.rebalance == nil, let checkpoint = found.checkpoint { body["checkpoint"] = checkpoint }
            return Page(status: 200, html: layout(title: "Run #\(id)", body: render("run", body), plan: plan, now: now))
        }
    }

    /// `/jobs/NAME`: the rule, the next ten fires with the rule that produced each, and its history.
    public func job(named name: String) async throws -> Page {
        let plan = source.plan()
        let now = source.wall()
        let zone = plan.timezone
        guard let job = plan.job(named: name) else {
            return notFound("There is no job '\(name)' in \(plan.source).", plan: plan, now: now)
        }
        // One job's state by its primary key (not the whole status: that seeks every job).
        let state = try await source.store.writer.read { db in
            try JobStateRecord.fetchOne(db, sql: "SELECT * FROM job_state WHERE job = ?", arguments: [name])
        }
        let paused = state?.paused ?? job.paused
        let watermark = state?.watermark.map(Instant.init(seconds:))
        let fires = JobGrid.upcoming(job.schedule, after: Instant(now), watermark: watermark, count: 10)
        let summary = job.schedule.summary
        let runs = try await source.store.history(job: name, limit: source.jobRuns)
        return await Self.rendering { [self] in
            let body: [String: Any] = [
                "name": job.name, "type": job.kind, "state": paused ? "paused" : "active", "rule": summary, "description": Self.truthy(job.description),
                "fires": fires.map { ["at": Self.time($0, zone), "why": job.schedule.explain($0, summary: summary)] as [String: Any] },
                "hasFires": !fires.isEmpty, "nextNote": "no future fire times",
                "runs": runs.map { Self.runRow($0, zone) }, "hasRuns": !runs.isEmpty,
            ]
            return Page(status: 200, html: layout(title: job.name, body: render("job", body), plan: plan, now: now))
        }
    }

    /// A 404 page saying what was not found.
    public func notFound(_ message: String) -> Page { notFound(message, plan: source.plan(), now: source.wall()) }

    func notFound(_ message: String, plan: Plan, now: Date) -> Page {
        Page(status: 404, html: layout(title: "Not found", body: render("notFound", ["message": message]), plan: plan, now: now))
    }

    /// The stylesheet.
    public static var stylesheet: String { Templates.stylesheet }

    // MARK: Pieces

    /// Where pages are built and rendered: one thread of its own, off the shared cooperative
    /// threads and below the engine's priority, so a large page takes at most one core and
    /// yields it whenever the engine has work.
    private static let renderThread = RenderThread(name: "schedctl.status.render", nice: 10)

    static func rendering<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in renderThread.run { continuation.resume(returning: body()) } }
    }

    private func render(_ template: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: template) ?? ""
    }

    private func layout(title: String, body: String, plan: Plan, now: Date, refresh: Int? = nil) -> String {
        render(
            "layout",
            [
                "title": title, "body": body, "source": plan.source, "zone": plan.timezone.identifier,
                "now": Self.time(now.timeIntervalSince1970, plan.timezone), "refresh": Self.truthy(refresh),
            ])
    }

    /// `value`, or `false` (an empty section) when nil.
    static func truthy<T>(_ value: T?) -> Any {
        if let value { return value }
        return false
    }

    static func runRow(_ run: RunRecord, _ zone: ZoneRules) -> [String: Any] {
        let took = run.startedAt.flatMap { s in run.finishedAt.map { String(format: "%.2fs", $0 - s) } } ?? ""
        return [
            "id": run.id, "job": run.job, "jobPath": pathComponent(run.job), "nominal": time(run.nominalInstant, zone),
            "state": run.state.rawValue + (run.trigger == .schedule ? "" : " (\(run.trigger.rawValue))"), "attempt": run.attempt,
            "maxAttempts": run.maxAttempts, "took": took, "note": String((run.error ?? run.reason ?? run.summary ?? "").prefix(120)),
        ]
    }

    /// `{local, utc}` for a `<time>`: the local time in the configured zone, UTC on hover.
    static func time(_ instant: Instant, _ zone: ZoneRules) -> [String: String] {
        var local = instant.iso8601(in: zone)
        if let t = local.firstIndex(of: "T") { local.replaceSubrange(t...t, with: " ") }
        return ["local": local, "utc": instant.iso8601]
    }

    static func time(_ seconds: Double, _ zone: ZoneRules) -> [String: String] {
        var t = time(Instant(seconds: Int64(seconds.rounded(.down))), zone)
        t["utc"] = Timestamps.iso(seconds)
        return t
    }

    static func time(_ date: Date, _ zone: ZoneRules) -> [String: String] { time(date.timeIntervalSince1970, zone) }

    /// A `Timestamps.iso` text as a `<time>`.
    static func time(iso text: String, _ zone: ZoneRules) -> [String: String] {
        guard let instant = try? Instant(iso8601: String(text.prefix(19)) + "Z") else { return ["local": text, "utc": text] }
        return ["local": time(instant, zone)["local"] ?? text, "utc": text]
    }

    /// A job name as one URL path segment.
    static func pathComponent(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: segmentAllowed) ?? name
    }

    /// The characters a path segment keeps as they are (built once: not per row).
    private static let segmentAllowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))

    static func percent(_ weight: Decimal) -> String {
        String(format: "%.2f%%", NSDecimalNumber(decimal: weight * 100).doubleValue)
    }

    static func prettyJSON(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        else { return text }
        return String(decoding: data, as: UTF8.self)
    }

    /// A session's realized and open P&L from its live figures.
    static func pnl(_ detail: String) -> (realized: Double?, open: Double?) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(detail.utf8))) as? [String: Any] else { return (nil, nil) }
        func number(_ key: String) -> Double? {
            switch object[key] {
            case let n as NSNumber: return n.doubleValue
            case let s as String: return Double(s)
            default: return nil
            }
        }
        return (number("realized_pnl"), number("open_pnl"))
    }
}

/// The rendered job rows of `/`, each kept with the facts it shows: a row whose job did not
/// change since the last render (state, next fire, last run, …) is reused instead of rendered
/// again, so a refresh renders only the rows that changed. It holds the rows of the last
/// render only (one per configured job).
final class JobRows: Sendable {
    /// What a row shows; equal facts render the same HTML.
    struct Facts: Hashable {
        var zone: String
        var job, type, state, schedule: String
        var next, pausedSince: String?
        var active: Int
        var lastID: Int64?
        var lastState, lastText: String?

        init(_ job: StatusJSON.JobJSON, zone: String) {
            self.zone = zone
            self.job = job.job
            type = job.type
            state = job.state
            schedule = job.schedule
            next = job.next
            pausedSince = job.pausedSince
            active = job.active
            lastID = job.lastRun?.id
            lastState = job.lastRun?.state
            lastText = job.lastRun.map { $0.error ?? $0.summary ?? "" }
        }
    }

    private let rows = Mutex<[String: (facts: Facts, html: String)]>([:])

    /// The rows of `jobs`, in order, as one text; `render` renders a row that changed.
    func render(_ jobs: [StatusJSON.JobJSON], zone: ZoneRules, _ render: (StatusJSON.JobJSON) -> String) -> String {
        let previous = rows.withLock { $0 }
        var current: [String: (facts: Facts, html: String)] = [:]
        current.reserveCapacity(jobs.count)
        var text = ""
        for job in jobs {
            let facts = Facts(job, zone: zone.identifier)
            let html: String
            if let kept = previous[job.job], kept.facts == facts { html = kept.html } else { html = render(job) }
            current[job.job] = (facts, html)
            text += html
        }
        rows.withLock { $0 = current }
        return text
    }
}

/// A thread that runs closures in order at a lower CPU priority (`nice`, which Linux applies
/// per thread) than the rest of the process.
final class RenderThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [@Sendable () -> Void] = []  // guarded by `condition`

    init(name: String, nice: Int32) {
        let thread = Thread { [self] in
            #if os(Linux)
                // `who` 0 is the calling thread: Linux keeps the nice value per thread.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
            #endif
            while true {
                condition.lock()
                while work.isEmpty { condition.wait() }
                let next = work.removeFirst()
                condition.unlock()
                next()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Queues `body`.
    func run(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        work.append(body)
        condition.signal()
        condition.unlock()
    }
}
