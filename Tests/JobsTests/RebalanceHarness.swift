import Brokers
import Foundation
import Jobs
import Logging
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Synchronization

/// The rebalance's clock in tests: `sleep` advances it at once and then runs the test's hook
/// (drift prices, fill orders, crash), so polling and replans never wait for real.
final class SteppedClock: Sendable {
    private let current: Mutex<Date>
    private let hook = Mutex<(@Sendable (Date) async -> Void)?>(nil)
    let sleeps = Mutex(0)

    init(_ iso: String) { current = Mutex(ISO8601DateFormatter().date(from: iso)!) }

    var now: Date { current.withLock { $0 } }
    /// How many times the rebalance slept.
    var sleepCount: Int { sleeps.withLock { $0 } }

    func onSleep(_ body: @escaping @Sendable (Date) async -> Void) { hook.withLock { $0 = body } }

    var rebalanceClock: RebalanceClock {
        RebalanceClock(now: { self.now }) { duration in
            try Task.checkCancellation()
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            let now = self.current.withLock { d -> Date in
                d = d.addingTimeInterval(seconds)
                return d
            }
            self.sleeps.withLock { $0 += 1 }
            if let hook = self.hook.withLock({ $0 }) { await hook(now) }
            await Task.yield()
            try Task.checkCancellation()
        }
    }
}

/// A broker that passes everything to `inner` but, on call number `hangOn` of `operation`, hangs
/// after the broker carried the write out (the answer never reaches the journal: a crash
/// mid-request).
final class HangingBroker: Brokerage, ClosedOrderListing, OrderConfirming {
    /// The write whose answer is lost.
    enum Operation: Sendable { case place, replace, cancel }
    let inner: TradeStationClient
    let hangOn: Int
    let operation: Operation
    private let placed = Mutex(0)
    /// Set at the hang: the process is gone, so nothing it still runs (its exit's cleanup)
    /// reaches the broker.
    private let dead = Mutex(false)
    struct Dead: Error {}
    let entered = Mutex(false)
    /// Yields once when the hanging placement has reached the broker (an explicit signal to wait on).
    let reached = AsyncStream<Void>.makeStream()
    var brokerName: String { inner.brokerName }

    /// When set, the process dies at the first read after this answers true (checked before
    /// every read).
    let dieBeforeRead: (@Sendable () async -> Bool)?

    init(_ inner: TradeStationClient, hangOn: Int, operation: Operation = .place, dieBeforeRead: (@Sendable () async -> Bool)? = nil) {
        self.inner = inner
        self.hangOn = hangOn
        self.operation = operation
        self.dieBeforeRead = dieBeforeRead
    }

    /// Dies (signals, then hangs) when ``dieBeforeRead`` says so.
    private func read() async throws {
        try alive()
        guard let dieBeforeRead, await dieBeforeRead() else { return }
        dead.withLock { $0 = true }
        entered.withLock { $0 = true }
        reached.continuation.yield()
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    private func alive() throws { if dead.withLock({ $0 }) { throw Dead() } }

    /// Counts a call of `op`; on the `hangOn`-th call of ``operation``, signals and hangs.
    private func after(_ op: Operation) async throws {
        guard op == operation else { return }
        let n = placed.withLock { n -> Int in
            n += 1
            return n
        }
        if n == hangOn {
            dead.withLock { $0 = true }
            entered.withLock { $0 = true }
            reached.continuation.yield()
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    func accounts() async throws -> [BrokerAccount] { try await read(); return try await inner.accounts() }
    func balance(account: String) async throws -> AccountBalance {
        try await read()
        return try await inner.balance(account: account)
    }
    func positions(account: String) async throws -> [Position] {
        try await read()
        return try await inner.positions(account: account)
    }
    func quotes(_ symbols: [Symbol]) async throws -> PartialResult<Quote> {
        try await read()
        return try await inner.quotes(symbols)
    }
    func orders(account: String) async throws -> [Order] {
        try await read()
        return try await inner.orders(account: account)
    }
    func order(id: String, account: String) async throws -> Order {
        try await read()
        return try await inner.order(id: id, account: account)
    }
    func replace(orderID: String, account: String, with replacement: OrderReplacement) async throws {
        try alive()
        try await inner.replace(orderID: orderID, account: account, with: replacement)
    }
    func cancel(orderID: String, account: String) async throws {
        try alive()
        try await inner.cancel(orderID: orderID, account: account)
        try await after(.cancel)
    }
    func replaceOrder(orderID: String, account: String, with replacement: OrderReplacement) async throws -> String {
        try alive()
        let next = try await inner.replaceOrder(orderID: orderID, account: account, with: replacement)
        try await after(.replace)
        return next
    }
    func closedOrders(account: String, since: Date) async throws -> [Order] {
        try await read()
        return try await inner.closedOrders(account: account, since: since)
    }
    func confirm(_ order: OrderRequest, account: String) async throws -> OrderConfirmation {
        try alive()
        return try await inner.confirm(order, account: account)
    }
    func place(_ order: OrderRequest, account: String) async throws -> PlacedOrder {
        try alive()
        let result = try await inner.place(order, account: account)
        try await after(.place)
        return result
    }
}

/// A TradeStation simulator, a store and engines running rebalance jobs against it.
struct RebalanceHarness {
    static let account = "SIM1234567M"
    let directory: TemporaryDirectory
    let sim: TradeStationSimulator
    let store: Store
    let wall = SchedctlTesting.ManualWallClock("2026-11-23T15:00:00Z")
    let engineClock = ManualClock()
    let clock: SteppedClock

    /// `start` is the rebalance clock's start (default: a Monday 10:00 New York, in session).
    static func make(start: String = "2026-11-23T15:00:00Z") async throws -> RebalanceHarness {
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        let directory = TemporaryDirectory(prefix: "schedctl-rebalance")
        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        return RebalanceHarness(directory: directory, sim: sim, store: store, clock: SteppedClock(start))
    }

    init(directory: TemporaryDirectory, sim: TradeStationSimulator, store: Store, clock: SteppedClock) {
        self.directory = directory
        self.sim = sim
        self.store = store
        self.clock = clock
    }

    func client() -> TradeStationClient {
        TradeStationClient(
            configuration: TradeStationConfiguration(environment: .sim, baseURL: sim.baseURL, authURL: sim.authURL, maxRetries: 4, timeout: 10),
            credentials: InMemoryCredentials(["tradestation/client_id": "sim-client", "tradestation/client_secret": "sim-secret"]),
            tokens: InMemoryTokenStore(OAuthTokenState(refreshToken: "sim-refresh-token")), sleeper: .immediate)
    }

    /// A rebalance job on broker `ts` and a `weights` strategy, with `options` on top.
    func job(_ weights: [String: Decimal], _ options: [String: ConfigValue] = [:]) -> (JobSpec, [String: ComponentSpec], [String: ComponentSpec]) {
        var o: [String: ConfigValue] = [
            "broker": .string("ts"), "strategy": .string("w"), "cash_buffer": .string("1%"), "poll_every": .duration(.seconds(30)),
            "replan_after": .duration(.seconds(300)), "deadline": .string("2h"),
        ]
        for (k, v) in options { o[k] = v }
        let job = JobSpec(
            name: "rebalance", kind: "rebalance", schedule: Schedule(.interval(seconds: 86_400, aligned: true, zone: .utc)), misfire: MisfirePolicy(),
            overlap: .skip, retry: RetryPolicy(), timeout: nil, options: o)
        let brokers = [
            "ts": ComponentSpec(name: "ts", type: "tradestation", options: ["environment": .string("sim"), "account": .string(Self.account)])
        ]
        let strategies = ["w": ComponentSpec(name: "w", type: "weights", options: ["weights": .map(weights.mapValues { .number($0) })])]
        return (job, brokers, strategies)
    }

    func engine(
        _ spec: (JobSpec, [String: ComponentSpec], [String: ComponentSpec]), id: String = "a", broker: (any Brokerage)? = nil,
        strategy: (any StrategySource)? = nil
    ) -> Engine {
        let (made, brokers, strategies) = spec
        // As the loader would (options that do not parse fail the run, naming the job).
        let job = (try? JobsRegistry.standard.parsed(made)) ?? made
        var service = ServiceSettings()
        service.leaseDuration = .seconds(10)
        service.shutdownGrace = .zero
        let plan = Plan(
            source: "test.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: brokers, strategies: strategies,
            notifiers: [:], calendars: [:], service: service, jobs: [job])
        let client = broker ?? self.client()
        let resources = RebalanceResources(
            components: { (brokers, strategies, Market.xnys.calendar()) }, brokerage: { _ in client },
            strategy: { s in
                if let strategy { return strategy }
                var map: [String: Decimal] = [:]
                for (k, v) in s.options["weights"]?.mapValue ?? [:] { map[k] = v.numberValue }
                return try InlineWeightsSource(map)
            })
        return Engine(
            store: store, plan: plan, registry: JobKindRegistry([RebalanceJob(resources: resources, clock: clock.rebalanceClock)]),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: id, wall: wall.source,
            clock: engineClock, random: { 0.5 })
    }

    /// Queues a manual run and lets `engine` execute it to the end.
    func runOnce(_ engine: Engine, job: JobSpec, checkpoint: String? = nil) async throws -> (RunRecord, RebalanceSummary?) {
        try await engine.start()
        let id = try await store.enqueueManualRun(job: job, now: wall.now(), by: "test", checkpoint: checkpoint)
        _ = await engine.tick()
        await engine.waitForIdle()
        return try await result(id)
    }

    func result(_ id: Int64) async throws -> (RunRecord, RebalanceSummary?) {
        let found = try await store.run(id: id)!
        return (found.run, found.run.detail.flatMap(RebalanceSummary.decode))
    }

    /// Value weights of the simulator account now.
    func weights() -> [String: Decimal] {
        let equity = sim.equity(account: Self.account) ?? 1
        var out: [String: Decimal] = [:]
        for s in ["SPY", "VTI", "BND", "MSFT", "AAPL"] {
            let q = sim.positionQuantity(account: Self.account, symbol: s)
            if q != 0 { out[s] = q * (sim.price(s) ?? 0) / equity }
        }
        return out
    }

    /// No confirm id reached the simulator twice.
    var duplicateConfirmIDs: [String] {
        var seen = Set<String>()
        return sim.placedConfirmIDs.filter { !seen.insert($0).inserted }
    }
}
