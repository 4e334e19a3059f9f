import Brokers
import Foundation
import Jobs
import Logging
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

/// A strategy for tests: logs every line it reads, answers `session start` with the intents in
/// `ON_START` (or `ON_START_LOCKED` when the session is locked) and `risk-limit` with `ON_LOCK`.
let testStrategy = """
    import json, os, sys
    log = open(os.environ["STRATEGY_LOG"], "a")
    def emit(name):
        for intent in json.loads(os.environ.get(name, "[]")):
            sys.stdout.write(json.dumps(intent) + "\\n")
        sys.stdout.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        log.write(line)
        log.flush()
        m = json.loads(line)
        if m.get("type") == "session" and m.get("event") == "start":
            emit("ON_START_LOCKED" if m.get("locked") else "ON_START")
        if m.get("type") == "risk-limit":
            emit("ON_LOCK")
    """

/// A Tradovate simulator, a store, clocks and engines running `futures-session` jobs.
final class SessionHarness: Sendable {
    let directory = TemporaryDirectory(prefix: "futures")
    let sim = TradovateSimulator()
    let wall = ManualWallClock("2026-11-23T15:59:59Z")
    let engineClock = ManualClock()
    let sessionClock = ManualClock()
    let store: Store
    /// The clock of the sessions' socket timers (heartbeat, watchdog, backoff); nil: real time.
    let socketClock: ManualClock?
    /// Messages that may wait for a strategy's stdin, and intents waiting unhandled, before the
    /// strategy is ended.
    let strategyQueueLimit: Int
    let strategyIntentBacklog: Int

    /// The watchdog, the connect and request timeouts and the simulator's client timeout leave
    /// room for a loaded 2-core machine running every suite at once (on real time, an 800 ms
    /// watchdog and a 2 s connect timeout fired there).
    static let socket = TradovateWebSocketConfiguration(
        heartbeatInterval: .milliseconds(50), serverSilenceTimeout: .seconds(3), requestTimeout: .seconds(10), connectTimeout: .seconds(10),
        reconnectBase: .milliseconds(20), reconnectCap: .milliseconds(200))

    /// With `socketClock`, the socket timers move only when the test advances that clock (the
    /// simulator then waits an hour for client heartbeats).
    init(socketClock: ManualClock? = nil, strategyQueueLimit: Int = 1000, strategyIntentBacklog: Int = 1000) async throws {
        self.socketClock = socketClock
        self.strategyQueueLimit = strategyQueueLimit
        self.strategyIntentBacklog = strategyIntentBacklog
        store = try StoreSchema.open(path: directory.file("state.sqlite"))
        try await sim.start(port: 0)
        sim.setHeartbeat(interval: .milliseconds(50), clientTimeout: socketClock == nil ? 5 : 3600)
    }

    var strategyLog: String { directory.file("strategy.log") }
    var strategyLines: [[String: Any]] {
        ((try? String(contentsOfFile: strategyLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }
    func strategySaw(type: String, tag: String? = nil, containing text: String = "") -> Bool {
        strategyLines.contains { m in
            m["type"] as? String == type && (tag == nil || m["tag"] as? String == tag)
                && (text.isEmpty || "\(m["reason"] ?? m["status"] ?? "")".contains(text))
        }
    }

    var client: TradovateClient {
        let configuration = TradovateConfiguration(
            environment: .demo, restURL: sim.restURL, webSocketURL: sim.webSocketURL, marketDataURL: sim.marketDataURL,
            deviceID: "71986488-882c-43db-c345-92a0a2ed9329", timeout: 10)
        let credentials = InMemoryCredentials([
            "tradovate/username": "demo-user", "tradovate/password": "demo-pass", "tradovate/cid": "1234", "tradovate/secret": "sim-secret",
        ])
        return TradovateClient(auth: TradovateAuth(configuration: configuration, credentials: credentials, sleeper: .immediate))
    }

    var resources: FuturesSessionResources {
        let client = self.client
        var socket = Self.socket
        if let socketClock { socket.clock = socketClock }
        var resources = FuturesSessionResources(
            connect: { _ in FuturesBrokerConnection(client: client, account: nil) }, calendars: [:], control: SessionControl(store: store),
            wall: wall.source, clock: sessionClock, pollInterval: .seconds(1), flattenTicks: 100, socket: socket, maxStrategyRestarts: 2)
        resources.strategyQueueLimit = strategyQueueLimit
        resources.strategyIntentBacklog = strategyIntentBacklog
        return resources
    }

    /// A job from 16:00 for 30 minutes on ESZ5.
    func job(
        maxPosition: Int = 2, perMinute: Int = 10, lossLimit: Decimal = 500, flatten: Bool = true, onStart: String? = nil,
        onLock: String = "[]", onStartLocked: String = "[]", schedule: Schedule = Schedule(.interval(seconds: 3600, aligned: true, zone: .utc)),
        strategy: String = testStrategy
    ) throws -> JobSpec {
        var options: [String: ConfigValue] = [
            "broker": .string("tv"), "stop": .duration(.seconds(1800)), "symbols": .list([.string("ESZ5")]),
            "risk": .map([
                "daily_loss_limit": .number(lossLimit), "max_position": .number(Decimal(maxPosition)), "max_orders_per_minute": .number(Decimal(perMinute)),
            ]),
            "flatten_at_stop": .bool(flatten),
        ]
        if let onStart {
            let script = directory.file("strategy.py")
            try strategy.write(toFile: script, atomically: true, encoding: .utf8)
            options["strategy"] = .map([
                "command": .list([.string("python3"), .string(script)]),
                "env": .map([
                    "STRATEGY_LOG": .string(strategyLog), "ON_START": .string(onStart), "ON_LOCK": .string(onLock),
                    "ON_START_LOCKED": .string(onStartLocked),
                ]),
            ])
        }
        return try JobsRegistry.standard.parsed(JobSpec(name: "es-day", kind: "futures-session", schedule: schedule, options: options))
    }

    func engine(_ job: JobSpec, id: String) -> Engine {
        var service = ServiceSettings()
        service.leaseDuration = .seconds(10)
        service.shutdownGrace = .zero
        let plan = Plan(
            source: "test.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: [:], strategies: [:], notifiers: [:],
            calendars: [:], service: service, jobs: [job])
        return Engine(
            store: store, plan: plan, registry: JobKindRegistry([FuturesSessionJob(resources: resources)]),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: id, wall: wall.source,
            clock: engineClock, random: { 0.5 })
    }

    /// Starts an engine and the 16:00 run.
    func startSession(_ job: JobSpec, id: String = "a") async throws -> Engine {
        let engine = engine(job, id: id)
        try await engine.start()
        wall.set("2026-11-23T16:00:00Z")
        await engine.tick()
        #expect(await polled { await self.sessionState() == "running" }, "the session opened")
        return engine
    }

    /// Starts a manual run of `job` at `iso` on a started `engine` and waits until it is open.
    func startManualRun(_ job: JobSpec, on engine: Engine, at iso: String) async throws -> Int64 {
        wall.set(iso)
        let id = try await store.enqueueManualRun(job: job, now: wall.now(), by: "test")
        await engine.tick()
        #expect(
            await polled { (try? await SessionControl(store: self.store).rows().first).map { $0.run == id && $0.state == "running" } ?? false },
            "run #\(id) opened")
        return id
    }

    /// `session stop`: asks the session to stop and lets it poll until it finished.
    func stopNow(_ engine: Engine) async throws -> RunRecord {
        #expect(try await SessionControl(store: store).requestStop(job: "es-day", now: wall.now()))
        #expect(
            await polled {
                self.sessionClock.advance(by: .seconds(1))
                return await self.sessionState() == "finished"
            }, "the session finished")
        await engine.waitForIdle()
        return try #require(try await store.history(job: "es-day", limit: 1).first)
    }

    func sessionState() async -> String? { try? await SessionControl(store: store).rows().first?.state }

    /// The session's status detail, as `session status` shows it.
    func sessionDetail() async -> String? { try? await SessionControl(store: store).rows().first?.detail }

    /// Polls, moving the session's clock a second per poll (its ticks publish the status), until
    /// `shown` holds for the session's status detail.
    func statusShows(_ shown: (String) -> Bool) async -> Bool {
        await polled {
            self.sessionClock.advance(by: .seconds(1))
            return await self.sessionDetail().map(shown) ?? false
        }
    }

    /// ``statusShows(_:)`` until the detail contains `text`.
    func statusShows(_ text: String) async -> Bool { await statusShows { $0.contains(text) } }

    /// Ends the session at its stop time: moves the wall past it and lets the session poll.
    func stopAtEnd(_ engine: Engine) async throws -> RunRecord {
        wall.set("2026-11-23T16:30:01Z")
        #expect(
            await polled {
                self.sessionClock.advance(by: .seconds(1))
                return await self.sessionState() == "finished"
            }, "the session finished")
        await engine.waitForIdle()
        return try #require(try await store.history(job: "es-day", limit: 5).first)
    }

    /// Instance "b", started after the owner died: it first sees the lease, which lapses after a
    /// lease (10 s) of b's monotonic time; its second pass takes the session over.
    func takeOver(_ job: JobSpec) async throws -> Engine {
        wall.advance(11)
        let b = engine(job, id: "b")
        try await b.start()
        await b.tick()
        engineClock.advance(by: .seconds(11))
        await b.tick()
        return b
    }

    func events(_ run: Int64) async throws -> [RunEvent] { try #require(try await store.run(id: run)).events }

    /// Rewrites the saved session state of the job's latest run as a SIGKILL in some window
    /// would have left it (the journal is kept), under the lease that run holds.
    func rewriteSavedState(_ change: (inout [String: Any]) throws -> Void) async throws {
        let run = try #require(try await store.history(job: "es-day", limit: 1).first)
        let lease = try #require(try await store.run(id: run.id)?.lease)
        let text = try #require(try await store.checkpoint(runID: run.id))
        var document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var state = try #require(document["state"] as? [String: Any])
        try change(&state)
        document["state"] = state
        let rewritten = String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self)
        try await store.saveCheckpoint(runID: run.id, owner: lease.owner, generation: lease.generation, value: rewritten, now: wall.now())
    }

    func close() async { await sim.stop() }
}
