import Brokers
import Foundation
import GRDB
import Inspection
import Jobs
import Logging
import Metrics
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import ServiceLifecycle
import StatusHTTP
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The status endpoint in process, over loopback: health checks against a real held write lock
/// and an injected clock, readiness, `/metrics` through a real Prometheus parser, the pages and
/// their escaping, `/api` against the CLI's `--json`, the bearer token.
@Suite("Status endpoint")
struct StatusEndpointTests {
    /// A store with one noop job every minute, an engine reporting to the metrics, and the
    /// server on a free loopback port; the wall clock is manual (the probe's too), and the
    /// server's own probe loop sleeps on a manual clock that never advances.
    final class Harness: Sendable {
        let directory = TemporaryDirectory(prefix: "schedctl-status")
        let config: String
        let plan: Plan
        let store: Store
        let wall = ManualWallClock("2026-12-07T14:59:30Z")
        let metrics = StatusMetrics()
        let engine: Engine
        let probe: WriteProbe
        let server: StatusServer
        let group: ServiceGroup
        let running: Task<Void, Never>
        let port: Int

        init(yaml: String? = nil, token: String? = nil, tokens: [StatusJSON.TokenJSON] = []) async throws {
            config = directory.file("jobs.yaml")
            try
                (yaml
                    ?? """
                    timezone: America/New_York
                    database: state.sqlite
                    jobs:
                      beat: { type: noop, schedule: { every: 1m, align: true }, description: "<script>alert(1)</script> & co" }
                    """).write(toFile: config, atomically: true, encoding: .utf8)
            let plan = try ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry)).load(file: config)
            self.plan = plan
            store = try StoreSchema.open(path: directory.file("state.sqlite"))
            var options = Engine.Options()
            options.observer = metrics
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            engine = Engine(store: store, plan: plan, registry: StandardKinds.registry, logger: logger, wall: wall.source, options: options)
            probe = try WriteProbe(path: store.path, timeout: .milliseconds(200), wall: wall.source)
            let source = StatusSource(store: store, plan: { plan }, wall: wall.source, tokens: TokenCache { (tokens, nil) })
            server = try StatusServer(
                settings: HTTPSettings(host: "127.0.0.1", port: 0), source: source, metrics: metrics, probe: probe, token: token, logger: logger,
                clock: ManualClock(), pageCache: .zero)
            let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
            self.group = group
            running = Task { try? await group.run() }
            port = try #require(await server.port())
        }

        func stop() async {
            await group.triggerGracefulShutdown()
            await running.value
        }

        /// GET `path`: the status code, the body, the content type.
        func get(_ path: String, bearer: String? = nil) async throws -> (status: Int, body: String, type: String) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            return (http.statusCode, String(decoding: data, as: UTF8.self), http.value(forHTTPHeaderField: "Content-Type") ?? "")
        }

        /// Runs the 15:00 occurrence of `beat` (claimed at 14:59:59.5, started at 15:00:00.25).
        func runOnce() async throws {
            try await engine.start()
            await engine.tick()
            wall.set("2026-12-07T15:00:00Z")
            wall.advance(0.25)
            await engine.tick()
            await engine.waitForIdle()
        }
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    static func check(_ body: [String: Any], _ name: String) -> String? {
        ((body["checks"] as? [String: Any])?[name] as? [String: Any])?["status"] as? String
    }

    // MARK: Health

    @Test("healthz: 200 while the loop ticks; 503 naming 'database' after another connection held the write lock for 15 s")
    func heldWriteLock() async throws {
        let h = try await Harness()
        try await h.engine.start()
        await h.engine.tick()
        #expect(await h.probe.probe())
        let ok = try await h.get("/healthz")
        #expect(ok.status == 200, "\(ok.body)")
        let okBody = try Self.json(ok.body)
        #expect(okBody["status"] as? String == "ok")
        #expect(["loop", "database", "leases"].allSatisfy { Self.check(okBody, $0) == "ok" }, "\(ok.body)")

        // Another connection takes the write lock and keeps it.
        let holder = try WriteLockHolder(path: h.store.path)
        try await holder.hold()
        #expect(await h.probe.probe() == false)
        // Seconds later the lock is still held, but not yet for 15 s: still healthy. (The loop's
        // passes are reported as the engine would: its own writes would wait on the lock.)
        h.wall.advance(5)
        h.metrics.passEnded(at: h.wall.now())
        #expect(try await h.get("/healthz").status == 200)
        h.wall.advance(11)
        h.metrics.passEnded(at: h.wall.now())
        #expect(await h.probe.probe() == false)
        let failed = try await h.get("/healthz")
        #expect(failed.status == 503, "\(failed.body)")
        let failedBody = try Self.json(failed.body)
        #expect(failedBody["status"] as? String == "fail")
        #expect(Self.check(failedBody, "database") == "fail" && Self.check(failedBody, "loop") == "ok", "\(failed.body)")

        try await holder.free()
        #expect(await h.probe.probe())
        #expect(try await h.get("/healthz").status == 200)
        await h.stop()
    }

    @Test("healthz: 503 naming 'database' when the database file stops taking writes (made immutable), 200 once it does again")
    func unwritableDatabase() async throws {
        let h = try await Harness()
        try await h.engine.start()
        await h.engine.tick()
        #expect(await h.probe.probe())
        #expect(try await h.get("/healthz").status == 200)
        // The database and its WAL refuse writes from now on, even through connections already
        // open (as on a file system remounted read-only). The -shm index stays writable: SQLite
        // maps it into memory. Tests run as root here, so file modes would not stop the writes.
        let files = [h.store.path, h.store.path + "-wal"]
        guard Immutable.set(true, files) else {
            print("skipped: cannot make the database immutable here ('chattr +i' needs root on ext2/3/4, xfs or btrfs)")
            await h.stop()
            return
        }
        defer { _ = Immutable.set(false, files) }
        #expect(await h.probe.probe() == false)
        let failed = try await h.get("/healthz")
        #expect(failed.status == 503, "\(failed.body)")
        let body = try Self.json(failed.body)
        #expect(body["status"] as? String == "fail")
        #expect(Self.check(body, "database") == "fail" && Self.check(body, "loop") == "ok", "\(failed.body)")
        let detail = ((body["checks"] as? [String: Any])?["database"] as? [String: Any])?["detail"] as? String ?? ""
        #expect(detail.contains("does not take writes"), "\(detail)")
        // Nothing was written: the header still says what it said.
        #expect(Immutable.set(false, files))
        let version = try await h.store.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") }
        #expect(version == 0)
        #expect(await h.probe.probe())
        #expect(try await h.get("/healthz").status == 200)
        await h.stop()
    }

    @Test(
        "healthz verdict: a write the file refused fails 'database' at once; a write lock held by another connection only after 15 s",
        arguments: [
            // (the last probe failed because the file refused the write, seconds since the last success, failing check)
            (true, 1.0, "database"),
            (false, 1.0, nil),
            (true, 16.0, "database"),
            (false, 16.0, "database"),
        ] as [(Bool, Double, String?)])
    func unwritableVerdict(refused: Bool, write: Double, failing: String?) {
        let now = Date(timeIntervalSince1970: 1_000_000)
        var engine = EngineLiveness.Facts()
        engine.lastPass = now.addingTimeInterval(-1)
        let database = WriteProbe.Facts(
            lastSuccess: now.addingTimeInterval(-write), lastFailure: now.addingTimeInterval(-0.5),
            lastError: refused ? "SQLITE_IOERR_WRITE: disk I/O error" : "SQLITE_BUSY: database is locked", unwritable: refused)
        let report = HealthVerdict.evaluate(engine: engine, database: database, now: now, since: now.addingTimeInterval(-100))
        #expect(report.checks.filter { $0.value.status == "fail" }.map(\.key) == (failing.map { [$0] } ?? []))
    }

    @Test("healthz: 503 naming 'loop' when the engine stops completing passes")
    func stalledLoop() async throws {
        let h = try await Harness()
        try await h.engine.start()
        await h.engine.tick()
        await h.probe.probe()
        h.wall.advance(11)
        await h.probe.probe()
        let stalled = try await h.get("/healthz")
        #expect(stalled.status == 503, "\(stalled.body)")
        #expect(Self.check(try Self.json(stalled.body), "loop") == "fail", "\(stalled.body)")
        await h.engine.tick()
        #expect(try await h.get("/healthz").status == 200)
        await h.stop()
    }

    /// The verdict from the facts, one row per case.
    @Test(
        arguments: [
            // (seconds since the last pass, since the last write probe success, failure after it?, renewal failed last?, failing check)
            (1.0, 1.0, false, false, nil),
            (11.0, 1.0, false, false, "loop"),
            (1.0, 16.0, true, false, "database"),
            (1.0, 14.0, true, false, nil),
            (1.0, 16.0, false, false, nil),
            (1.0, 1.0, false, true, "leases"),
        ] as [(Double, Double, Bool, Bool, String?)])
    func verdict(pass: Double, write: Double, writeFailing: Bool, renewalFailing: Bool, failing: String?) {
        let now = Date(timeIntervalSince1970: 1_000_000)
        var engine = EngineLiveness.Facts()
        engine.lastPass = now.addingTimeInterval(-pass)
        engine.lastRenewal = now.addingTimeInterval(-3)
        if renewalFailing { engine.lastRenewalFailure = now.addingTimeInterval(-1) }
        let database = WriteProbe.Facts(
            lastSuccess: now.addingTimeInterval(-write), lastFailure: writeFailing ? now.addingTimeInterval(-0.5) : nil, lastError: "database is locked")
        let report = HealthVerdict.evaluate(engine: engine, database: database, now: now, since: now.addingTimeInterval(-100))
        let failed = report.checks.filter { $0.value.status == "fail" }.map(\.key)
        #expect(failed == (failing.map { [$0] } ?? []))
        #expect(report.healthy == (failing == nil))
    }

    @Test("readyz: 503 before the first pass, 200 after, 503 once draining")
    func readiness() async throws {
        let h = try await Harness()
        #expect(try await h.get("/readyz").status == 503)
        try await h.engine.start()
        await h.engine.tick()
        #expect(try await h.get("/readyz").status == 200)
        await h.engine.beginDrain()
        let draining = try await h.get("/readyz")
        #expect(draining.status == 503 && draining.body.contains("draining"))
        await h.stop()
    }

    // MARK: Metrics

    @Test("/metrics: a real Prometheus parser reads every family, with the run the engine recorded")
    func metricsParse() async throws {
        guard let parser = PrometheusParser.available else {
            print("skipped: python3 with prometheus_client is not installed (CI installs it: pip install prometheus-client)")
            return
        }
        let h = try await Harness()
        try await h.runOnce()
        let scraped = try await h.get("/metrics")
        #expect(scraped.status == 200 && scraped.type.hasPrefix("text/plain; version=0.0.4"), "\(scraped.type)")
        let families = try parser.parse(scraped.body)
        let types = Dictionary(families.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        #expect(types["schedctl_runs"] == "counter", "\(types)")
        #expect(types["schedctl_fire_lateness_seconds"] == "histogram")
        #expect(types["schedctl_run_duration_seconds"] == "histogram")
        #expect(types["schedctl_lease_renewals"] == "counter")
        #expect(types["schedctl_takeovers"] == "counter")
        #expect(types["schedctl_jobs"] == "gauge")
        #expect(types["schedctl_up"] == "gauge")
        let samples = families.flatMap(\.samples)
        #expect(
            samples.contains { $0.name == "schedctl_runs_total" && $0.labels == ["job": "beat", "state": "succeeded"] && $0.value == 1 }, "\(scraped.body)")
        #expect(samples.contains { $0.name == "schedctl_fire_lateness_seconds_count" && $0.value == 1 })
        // Started 0.25 s after it was due: in the 0.5 s bucket, not in the 0.1 s one.
        #expect(samples.contains { $0.name == "schedctl_fire_lateness_seconds_bucket" && $0.labels["le"] == "0.5" && $0.value == 1 })
        #expect(samples.contains { $0.name == "schedctl_fire_lateness_seconds_bucket" && $0.labels["le"] == "0.1" && $0.value == 0 })
        #expect(samples.contains { $0.name == "schedctl_run_duration_seconds_count" && $0.labels["job"] == "beat" && $0.value == 1 })
        #expect(samples.contains { $0.name == "schedctl_jobs" && $0.labels["state"] == "active" && $0.value == 1 })
        #expect(samples.contains { $0.name == "schedctl_up" && $0.value == 1 })
        // No label carries a run id.
        #expect(!samples.contains { $0.labels.keys.contains("run") })
        await h.stop()
    }

    @Test("broker requests reach /metrics through swift-metrics, by broker and HTTP status")
    func brokerRequests() async throws {
        guard let parser = PrometheusParser.available else {
            print("skipped: python3 with prometheus_client is not installed (CI installs it: pip install prometheus-client)")
            return
        }
        let h = try await Harness()
        let simulator = PennyVaultSimulator()
        let port = try await simulator.start()
        let client = PennyVaultClient(
            portfolio: "adm", baseURL: URL(string: "http://127.0.0.1:\(port)/v3")!, credentials: InMemoryCredentials(["pennyvault/token": "pv-test-token"]))
        let unknown = PennyVaultClient(
            portfolio: "nope", baseURL: URL(string: "http://127.0.0.1:\(port)/v3")!, credentials: InMemoryCredentials(["pennyvault/token": "pv-test-token"]),
            maxRetries: 0)
        try await withMetricsFactory(h.metrics.metricsFactory) {
            _ = try await client.prediction()
            _ = try? await unknown.prediction()
        }
        await simulator.stop()
        let samples = try parser.parse(try await h.get("/metrics").body).flatMap(\.samples)
        let requests = samples.filter { $0.name == "schedctl_broker_requests_total" }
        #expect(requests.contains { $0.labels == ["broker": "pennyvault", "status": "200"] && $0.value == Double(simulator.requestCount - 1) }, "\(requests)")
        #expect(requests.contains { $0.labels["broker"] == "pennyvault" && $0.labels["status"] != "200" && $0.value >= 1 }, "\(requests)")
        await h.stop()
    }

    @Test("broker requests are labelled with the configured broker's name (brokers.NAME), not its type")
    func brokerRequestsByConfiguredName() async throws {
        guard let parser = PrometheusParser.available else {
            print("skipped: python3 with prometheus_client is not installed (CI installs it: pip install prometheus-client)")
            return
        }
        let h = try await Harness()
        let simulator = TradeStationSimulator()
        try await simulator.start()
        // Two TradeStation brokers of one type, configured as in jobs.yaml and built as `serve` builds them.
        let factory = BrokerFactory(store: h.store, vault: { throw JobFailure("no vault in this test") })
        let credentials = InMemoryCredentials(["ts-main/client_id": "sim-client", "ts-main/client_secret": "sim-secret"])
        var clients: [TradeStationClient] = []
        for name in ["ts-main", "ts-ira"] {
            let spec = ComponentSpec(
                name: name, type: "tradestation",
                options: [
                    "environment": .string("sim"), "base_url": .string(simulator.baseURL.absoluteString), "auth_url": .string(simulator.authURL.absoluteString),
                    "client_id": .secret("ts-main/client_id"), "client_secret": .secret("ts-main/client_secret"),
                ])
            clients.append(
                TradeStationClient(
                    configuration: try factory.tradeStationConfiguration(spec), credentials: credentials,
                    tokens: InMemoryTokenStore(OAuthTokenState(refreshToken: "sim-refresh-token"))))
        }
        try await withMetricsFactory(h.metrics.metricsFactory) {
            _ = try await clients[0].accounts()
            _ = try await clients[0].accounts()
            _ = try await clients[1].accounts()
        }
        let apiRequests = simulator.requestLog.count
        let tokenRequests = simulator.tokenRequestCount
        await simulator.stop()
        let samples = try parser.parse(try await h.get("/metrics").body).flatMap(\.samples)
        let requests = samples.filter { $0.name == "schedctl_broker_requests_total" }
        #expect(Set(requests.map { $0.labels["broker"] ?? "" }) == ["ts-main", "ts-ira"], "\(requests)")
        #expect(requests.allSatisfy { $0.labels["status"] == "200" }, "\(requests)")
        // Every request the simulator received (token grants and API calls) is counted once, under its broker's name.
        #expect(requests.reduce(0) { $0 + $1.value } == Double(apiRequests + tokenRequests), "\(requests)")
        #expect(requests.first { $0.labels["broker"] == "ts-ira" }?.value == 2, "one token grant and one accounts request: \(requests)")
        await h.stop()
    }

    @Test("alert sends reach /metrics through swift-metrics, by notifier and result")
    func alerts() async throws {
        guard let parser = PrometheusParser.available else {
            print("skipped: python3 with prometheus_client is not installed (CI installs it: pip install prometheus-client)")
            return
        }
        let h = try await Harness(
            yaml: """
                database: state.sqlite
                notifiers:
                  log: { type: file, path: alerts.md }
                jobs:
                  beat: { type: noop, schedule: { every: 1m, align: true }, notify: { on: [failure], to: [log] } }
                """)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let dispatcher = AlertDispatcher(
            store: h.store, plan: h.plan, factory: NotifierFactory(plan: h.plan, secrets: NoSecrets()), logger: logger, wall: h.wall.source)
        _ = try await dispatcher.tick()
        let run = try await h.store.enqueueManualRun(job: try #require(h.plan.job(named: "beat")), now: h.wall.now(), by: "test")
        try await h.store.appendEvent(runID: run, kind: "failed", message: "exit status 3", instance: nil, now: h.wall.now())
        let report = try await withMetricsFactory(h.metrics.metricsFactory) { try await dispatcher.tick() }
        #expect(report.sent == 1)
        let samples = try parser.parse(try await h.get("/metrics").body).flatMap(\.samples)
        #expect(
            samples.contains { $0.name == "schedctl_alerts_total" && $0.labels == ["notifier": "log", "result": "delivered"] && $0.value == 1 },
            "\(samples.filter { $0.name.hasPrefix("schedctl_alerts") })")
        await h.stop()
    }

    @Test("the page shows futures sessions, token expiry and alert deliveries; /metrics has their gauges")
    func sessionsTokensAlerts() async throws {
        let h = try await Harness(tokens: [StatusJSON.TokenJSON(broker: "ts", expires: "2026-12-07T16:30:00.000Z")])
        try await h.runOnce()
        let control = SessionControl(store: h.store)
        let date = try #require(LocalDate(year: 2026, month: 12, day: 7))
        try await control.begin(job: "beat", run: 1, tradeDate: date, stopAt: h.wall.now().addingTimeInterval(3600), locked: false, now: h.wall.now())
        try await control.lock(job: "beat", tradeDate: date, run: 1, reason: "daily loss limit 500 reached", now: h.wall.now())
        try await control.update(
            job: "beat", run: 1, state: "running", locked: true, detail: #"{"realized_pnl": -512.5, "open_pnl": 12.25}"#, now: h.wall.now())
        try await NotifyStore(store: h.store).recordFinished(
            notifier: "phone", event: "risk-limit", runID: 1, message: NotificationMessage(subject: "risk", text: "risk"), delivered: false,
            error: "twilio answered 503", now: h.wall.now())
        let page = try await h.get("/")
        #expect(page.body.contains(#"<section id="sessions">"#) && page.body.contains("-512.50") && page.body.contains("12.25"), "\(page.body)")
        #expect(page.body.contains("daily loss limit 500 reached") && page.body.contains("2026-12-07"))
        #expect(page.body.contains(#"<section id="tokens">"#) && page.body.contains(#"title="2026-12-07T16:30:00.000Z">2026-12-07 11:30:00-05:00</time>"#))
        #expect(page.body.contains("phone") && page.body.contains("risk-limit") && page.body.contains("twilio answered 503"))
        if let parser = PrometheusParser.available {
            let samples = try parser.parse(try await h.get("/metrics").body).flatMap(\.samples)
            #expect(samples.contains { $0.name == "schedctl_session_pnl_dollars" && $0.labels == ["job": "beat", "kind": "realized"] && $0.value == -512.5 })
            #expect(samples.contains { $0.name == "schedctl_session_pnl_dollars" && $0.labels == ["job": "beat", "kind": "open"] && $0.value == 12.25 })
            #expect(samples.contains { $0.name == "schedctl_token_expiry_timestamp_seconds" && $0.labels == ["broker": "ts"] && $0.value == 1_796_661_000 })
        } else {
            print("skipped the /metrics part: python3 with prometheus_client is not installed")
        }
        await h.stop()
    }

    // MARK: Pages and API

    @Test("pages: the job, its run and next fires; unknown ids and names are 404 pages; values are escaped by the template library")
    func pages() async throws {
        let h = try await Harness()
        try await h.runOnce()
        let index = try await h.get("/")
        #expect(index.status == 200 && index.type.hasPrefix("text/html"))
        #expect(index.body.contains(#"<a href="/jobs/beat">beat</a>"#) && index.body.contains(#"<a href="/runs/1">#1</a>"#), "\(index.body)")
        // 10:00 in New York (the configured zone), UTC on hover.
        #expect(index.body.contains(#"title="2026-12-07T15:00:00Z">2026-12-07 10:00:00-05:00</time>"#), "\(index.body)")
        let run = try await h.get("/runs/1")
        #expect(run.status == 200 && run.body.contains("Run #1") && run.body.contains("succeeded"), "\(run.body)")
        let job = try await h.get("/jobs/beat")
        #expect(job.status == 200)
        #expect(job.body.components(separatedBy: "<li>").count - 1 == 10, "ten next fires: \(job.body)")
        #expect(job.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co") && !job.body.contains("<script>"), "\(job.body)")
        for path in ["/runs/999", "/jobs/nope", "/nowhere", "/runs/abc"] {
            let missing = try await h.get(path)
            #expect(missing.status == 404 && missing.body.contains("<h1>Not found</h1>"), "\(path): \(missing.status) \(missing.body)")
        }
        let css = try await h.get("/style.css")
        #expect(css.status == 200 && css.type.hasPrefix("text/css"))
        await h.stop()
    }

    @Test("a rebalance run's page shows its weights before, target and after, and its orders")
    func rebalanceRun() async throws {
        let h = try await Harness(
            yaml: """
                database: state.sqlite
                brokers:
                  paper: { type: paper, cash: 100000 }
                strategies:
                  mix: { type: weights, weights: { VTI: 0.6, BND: 0.4 } }
                jobs:
                  rb: { type: rebalance, broker: paper, strategy: mix, schedule: { every: 1d } }
                """)
        let run = try await h.store.enqueueManualRun(job: try #require(h.plan.job(named: "rb")), now: h.wall.now(), by: "test")
        let summary = """
            {"outcome": "succeeded", "message": "done", "broker": "paper", "account": "PAPER", "dryRun": false, "equityBefore": 100000,
             "cashBefore": 100000, "cashBuffer": 0.01, "grossPlanned": 99000, "sellRounds": 0, "buyRounds": 1, "deadlineReached": false,
             "holdings": [{"symbol": "VTI", "quantityBefore": 0, "weightBefore": 0, "targetWeight": 0.6, "targetQuantity": 200, "quantityAfter": 200, "weightAfter": 0.5985}],
             "orders": [{"phase": "buy", "symbol": "VTI", "side": "buy", "quantity": 200, "confirmID": "r1buyVTI", "orderID": "P-1", "steps": [],
                         "filled": 200, "averagePrice": 299.25, "state": "filled", "arrivalBid": 299.2, "arrivalAsk": 299.3}],
             "residuals": [], "warnings": []}
            """
        try await h.store.writer.write { db in try db.execute(sql: "UPDATE run SET detail = ? WHERE id = ?", arguments: [summary, run]) }
        let page = try await h.get("/runs/\(run)")
        #expect(page.status == 200)
        #expect(
            page.body.contains(#"<section id="rebalance">"#) && page.body.contains("0.00%") && page.body.contains("60.00%") && page.body.contains("59.85%"),
            "\(page.body)")
        #expect(page.body.contains("P-1") && page.body.contains("299.25") && page.body.contains("filled"), "\(page.body)")
        await h.stop()
    }

    @Test("/api/runs and /api/runs/ID are byte for byte `history --json` and `show --json`; /api/status is `status --json`'s shape")
    func apiMatchesTheCLI() async throws {
        let h = try await Harness()
        try await h.runOnce()
        let history = try await SchedctlBinary.run(["history", "--json", "--config", h.config])
        #expect(history.status == 0, "\(history.stderr)")
        #expect(try await h.get("/api/runs").body == history.stdout)
        let limited = try await SchedctlBinary.run(["history", "beat", "--limit", "1", "--json", "--config", h.config])
        #expect(try await h.get("/api/runs?job=beat&limit=1").body == limited.stdout)
        let show = try await SchedctlBinary.run(["show", "1", "--json", "--config", h.config])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(try await h.get("/api/runs/1").body == show.stdout)
        #expect(try await h.get("/api/runs/999").status == 404)
        let status = try await SchedctlBinary.run(["status", "--json", "--config", h.config])
        let cli = try Self.json(status.stdout)
        let api = try Self.json(try await h.get("/api/status").body)
        #expect(Set(cli.keys) == Set(api.keys))
        let names = { (o: [String: Any]) in ((o["jobs"] as? [[String: Any]]) ?? []).map { $0["job"] as? String ?? "" } }
        #expect(names(cli) == names(api) && names(api) == ["beat"])
        await h.stop()
    }

    @Test("with a token, every request needs Authorization: Bearer")
    func bearerToken() async throws {
        let h = try await Harness(token: "s3cret-token")
        #expect(try await h.get("/").status == 401)
        #expect(try await h.get("/metrics", bearer: "wrong").status == 401)
        #expect(try await h.get("/metrics", bearer: "s3cret-token").status == 200)
        await h.stop()
    }
}

/// Another connection holding the database's write lock (`BEGIN IMMEDIATE`) until freed.
final class WriteLockHolder: Sendable {
    let queue: DatabaseQueue
    let acquired = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)

    init(path: String) throws { queue = try DatabaseQueue(path: path) }

    /// Returns once the lock is held.
    func hold() async throws {
        let (queue, acquired, release, done) = (self.queue, self.acquired, self.release, self.done)
        Thread.detachNewThread {
            try? queue.inTransaction(.immediate) { _ in
                acquired.signal()
                release.wait()
                return .rollback
            }
            done.signal()
        }
        try await offPool { acquired.wait() }
    }

    /// Rolls back and returns once the lock is free.
    func free() async throws {
        release.signal()
        try await offPool { self.done.wait() }
    }
}

/// `prometheus_client`'s text parser, run by python3.
struct PrometheusParser {
    struct Sample: Sendable {
        var name: String
        var labels: [String: String]
        var value: Double
    }
    struct Family: Sendable {
        var name: String
        var type: String
        var samples: [Sample]
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for f in text_string_to_metric_families(sys.stdin.read()):
            out.append({"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
        print(json.dumps(out))
        """

    /// The parser, when python3 can import prometheus_client.
    static var available: PrometheusParser? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import prometheus_client"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? PrometheusParser() : nil
    }

    func parse(_ text: String) throws -> [Family] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "the Prometheus parser refused the text: \(problem)\n\(text)")
        let decoded = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return decoded.map { f in
            Family(
                name: f["name"] as? String ?? "", type: f["type"] as? String ?? "",
                samples: ((f["samples"] as? [[String: Any]]) ?? []).map { s in
                    Sample(
                        name: s["name"] as? String ?? "", labels: s["labels"] as? [String: String] ?? [:], value: (s["value"] as? NSNumber)?.doubleValue ?? .nan
                    )
                })
        }
    }
}

/// The file system's immutable flag (`chattr +i`): writes to the file fail, also through
/// descriptors opened before.
enum Immutable {
    /// Sets or clears the flag on `paths`; false when `chattr` is missing or refused.
    static func set(_ on: Bool, _ paths: [String]) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr") else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
        process.arguments = [on ? "+i" : "-i"] + paths
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
