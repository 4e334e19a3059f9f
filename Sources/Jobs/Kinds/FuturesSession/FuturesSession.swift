import Brokers
import Foundation
import Logging
import Scheduler

/// One running futures session: the trading and market-data sockets, the book kept from the sync
/// snapshot and `props` events, the risk guard, the strategy process and the stop sequence.
/// Everything it reacts to arrives on one stream and is handled in order, so a placement never
/// races an event.
actor FuturesSession {
    enum Input: Sendable {
        case trading(TradovateEvent)
        case market(TradovateEvent)
        /// Strategy intents wait in ``intents``; one is handled per turn (see ``IntentLane``).
        case intentsReady
        case strategyExit(Int32, generation: Int)
        /// The strategy has `strategyIntentBacklog` intents waiting: it floods.
        case strategyFlood(generation: Int)
        case tick
    }

    let context: RunContext
    let settings: FuturesSessionSettings
    let resources: FuturesSessionResources
    let journal: IntentJournal<FuturesSessionState>
    let client: TradovateClient
    let configuredAccount: String?
    /// The stop instant, no later than the end of the CME trade date the session opened on; a
    /// reload that moves it moves it here (``followPlan()``).
    var stopAt: Date
    /// The plan generation ``stopAt`` was computed from.
    var planGeneration: Int?
    let risk: RiskMonitor
    let trading: TradovateWebSocket
    let market: TradovateWebSocket
    let sink: AsyncStream<Input>.Continuation
    let intents = IntentLane()
    let stream: AsyncStream<Input>

    var state: FuturesSessionState
    var account: (id: Int64, name: String)?
    var contracts: [String: Int64] = [:]
    /// The broker's side of the session: positions, orders, fills, quotes and P&L marks.
    var book = SessionBook()
    /// When the session opened.
    var openedAt = Date.distantPast
    /// Contracts whose quotes are stale (reported once per stale spell; no new order while any is).
    var staleContracts: Set<Int64> = []
    /// The flatten in progress: one at a time, a round a tick until the broker reads flat.
    var flattening: FlattenLoop?
    /// Set when a flatten ran out of rounds with these positions open.
    var flattenFailure: String?
    /// Why the strategy must be ended after the input being handled (it does not keep up).
    var strategyToEnd: String?
    /// The strategy was ended for not keeping up: it is not restarted.
    var strategyEnded = false
    /// The open P&L of the last loss check.
    var lastOpen: Decimal?
    var strategy: StrategyProcess?
    var strategyGeneration = 0
    var strategyRestarts = 0
    var stopReason: String?
    /// Why the session's state could not be saved (``checkpoint()``): no order goes out after it.
    var checkpointFailure: String?
    /// Placements sent and not yet answered (the actor is re-entered while one awaits): the stop
    /// waits for them, so an order placed just before it is known and cancelled.
    var placing = 0
    var dirty = false
    /// When the session last wrote its `futures_session` row (its liveness stamp).
    var statusStamped: Date?
    var baseReconnects = 0
    /// Each socket's state as `session status` shows it (e.g. paused by a sign-in block, and why).
    var socketStates: [String: String] = [:]
    /// The CME trade date the session opened on, and the realized P&L earlier runs of the job
    /// recorded for it (the daily loss counts them).
    var sessionDate: LocalDate?
    var earlierRealized: Decimal = 0
    var pumps: [Task<Void, Never>] = []

    init(
        context: RunContext, settings: FuturesSessionSettings, resources: FuturesSessionResources, journal: IntentJournal<FuturesSessionState>,
        connection: FuturesBrokerConnection, stopAt: Date, state: FuturesSessionState
    ) {
        self.context = context
        self.settings = settings
        self.resources = resources
        self.journal = journal
        self.client = connection.client
        self.configuredAccount = connection.account
        self.stopAt = stopAt
        self.state = state
        self.risk = RiskMonitor(limits: settings.risk)
        self.trading = TradovateWebSocket(url: connection.client.tradingSocketURL, auth: connection.client.auth, configuration: resources.socket)
        var md = resources.socket
        md.useMarketDataToken = true
        self.market = TradovateWebSocket(url: connection.client.marketDataSocketURL, auth: connection.client.auth, configuration: md)
        (stream, sink) = AsyncStream<Input>.makeStream(bufferingPolicy: .unbounded)
    }

    var logger: Logger { context.logger }
    var accountName: String { account?.name ?? configuredAccount ?? "" }

    /// What the session is doing: trading (the strategy's intents, ticks and events are
    /// handled), or stopping (only the broker's events are, while the stop sequence runs).
    enum Phase: Sendable { case trading, stopping }

    /// Opens, runs turns until a stop reason is set, then stops in order (``finish(_:)``).
    func run() async throws -> RunOutcome {
        do {
            try await open()
        } catch {
            await close()
            throw error
        }
        var inputs: AsyncStream<Input>.Iterator? = stream.makeAsyncIterator()
        while stopReason == nil, let input = await inputs?.next(isolation: self) {
            await handle(input, in: .trading)
            await endStrategyIfBehind()
        }
        if Task.isCancelled || stopReason == nil {
            // Outside the cancelled task (the store and the broker would refuse a cancelled one).
            if try await Task(operation: { try await self.stopAfterCancellation() }).value { throw CancellationError() }
            // Lease lost or shutdown: leave positions to the taker, which resumes the session.
            try? await persist()
            await close()
            throw CancellationError()
        }
        return try await finish(&inputs)
    }

    /// One turn: one input of the stream. The broker's events always go to the book; ticks (risk,
    /// then the stop, then the status) and the strategy's intents only while trading. Intents wait
    /// in ``intents`` and one is handled per turn, so a tick, a quote or an event queued meanwhile
    /// is handled before the next intent: the stop and risk never wait behind a backlog.
    func handle(_ input: Input, in phase: Phase) async {
        switch input {
        case .trading(let event): await tradingEvent(event)
        case .market(let event): await marketEvent(event)
        case .tick:
            guard phase == .trading else { return }
            await checkRisk()
            await checkStop()
            await publishStatus()
        case .intentsReady:
            guard let next = intents.pop() else { return }
            if next.more { sink.yield(.intentsReady) }
            guard next.generation == strategyGeneration, phase == .trading else { return }
            strategy?.consumed()
            await intent(next.line)
        case .strategyExit(let status, let generation):
            guard generation == strategyGeneration, phase == .trading else { return }
            await strategyExited(status)
        case .strategyFlood(let generation):
            guard generation == strategyGeneration, strategyToEnd == nil else { return }
            strategyToEnd = "it wrote \(resources.strategyIntentBacklog) intents the session had not handled yet (a flood)"
        }
    }
}
