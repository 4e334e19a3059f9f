import Brokers
import Foundation
import Logging
import Scheduler
import Synchronization

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

    // MARK: Run

    func run() async throws -> RunOutcome {
        do {
            try await open()
        } catch {
            await close()
            throw error
        }
        var inputs: AsyncStream<Input>.Iterator? = stream.makeAsyncIterator()
        while stopReason == nil, let input = await inputs?.next(isolation: self) {
            await handle(input, stopping: false)
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

    /// A job `timeout:`, `overlap: cancel_previous` or a cancel request: no instance takes over,
    /// so the stop sequence runs as at `stop` (the stream ended with the cancellation, so the
    /// stop polls on its own clock). False for a lease loss or a shutdown.
    private func stopAfterCancellation() async throws -> Bool {
        guard let reason = await orderlyCancellation() else { return false }
        stopReason = reason
        var none: AsyncStream<Input>.Iterator? = nil
        _ = try await finish(&none)
        return true
    }

    /// Why the run is being cancelled when it is not a lease loss or a shutdown (those leave the
    /// session to the taker): a cancel request (`overlap: cancel_previous`, or on request), or the
    /// job's `timeout:` (as the engine says).
    private func orderlyCancellation() async -> String? {
        if (try? await resources.control.cancelRequested(run: context.runID)) == true {
            return "cancelled (replaced by a newer occurrence, overlap: cancel_previous, or on request)"
        }
        if context.stopReason() == .timeout, let timeout = context.job.timeout {
            return "timed out after \(DurationText.format(timeout))"
        }
        return nil
    }

    private func open() async throws {
        for symbol in settings.symbols {
            let contract: TradovateContract
            do { contract = try await client.contract(named: symbol) } catch let e as BrokerError where e.isNotFound {
                throw JobFailure("Tradovate has no contract '\(symbol)'; fix symbols in jobs.yaml (e.g. MESZ6)", retryable: false)
            }
            contracts[symbol] = contract.id
            book.add(contract: contract.id, symbol: symbol, valuePerPoint: try await client.product(named: String(symbol.dropLast(2))).valuePerPoint)
        }
        if journal.resumed { state.reconnects += 1 }
        baseReconnects = state.reconnects
        let sink = self.sink
        let (trading, market) = (self.trading, self.market)
        pumps.append(Task { for await e in trading.events { sink.yield(.trading(e)) } })
        pumps.append(Task { for await e in market.events { sink.yield(.market(e)) } })
        let (clock, interval) = (resources.clock, resources.pollInterval)
        pumps.append(
            Task {
                while !Task.isCancelled {
                    do { try await clock.sleep(for: interval) } catch { return }
                    sink.yield(.tick)
                }
            })
        await trading.start()
        await market.start()
        let userID = try await client.auth.currentSession().userID
        let snapshot: TradovateSyncSnapshot
        do { snapshot = try await trading.syncRequest(userID: userID) } catch let e as BrokerError where e.isMalformedResponse {
            throw JobFailure("Tradovate answered user/syncrequest with an unreadable snapshot")
        }
        try await apply(snapshot: snapshot)
        try await reconcilePending()
        await finishPendingCancels()
        for symbol in settings.symbols { try await market.subscribeQuote(symbol: symbol) }
        let today = tradeDate(resources.wall())
        if let end = CMETradeDate.end(of: today, calendar: cmeCalendar)?.date, end < stopAt {
            // A session never spans two trade dates: the lock, the day's P&L and the stop are one date's.
            logger.notice(
                "the stop is moved to the close of the session's trade date", metadata: ["trade_date": "\(today)", "close": "\(Instant(end).iso8601)"])
            stopAt = end
        }
        if !state.locked, let reason = try await resources.control.lockReason(job: context.job.name, tradeDate: today) {
            // An earlier run (or this one before a crash) reached the loss limit on this trade date.
            state.locked = true
            state.lockReason = reason
            logger.notice("the loss limit locked this trade date", metadata: ["trade_date": "\(today)"])
        }
        sessionDate = today
        earlierRealized = try await resources.control.realized(job: context.job.name, tradeDate: today, excludingRun: context.runID)
        openedAt = resources.wall()
        statusStamped = resources.wall()
        try await resources.control.begin(
            job: context.job.name, run: context.runID, tradeDate: today, stopAt: stopAt, locked: state.locked, now: statusStamped ?? resources.wall())
        try await recordRealized()
        try await persist()
        logger.info(
            "session open",
            metadata: [
                "account": "\(accountName)", "symbols": "\(settings.symbols.joined(separator: ","))", "stop": "\(Instant(stopAt).iso8601)",
                "resumed": "\(journal.resumed)", "locked": "\(state.locked)",
            ])
        let pendingFlatten = await journal.pending.contains { $0.step.hasPrefix("flatten/") }
        if state.locked || pendingFlatten {
            // Opened locked (a takeover after the lock was written, or a later run the same trade
            // date), or a liquidation's outcome was never recorded: a locked session must be flat.
            await refreshPositions()
            if !book.isFlat || pendingFlatten {
                logger.notice("opened locked or mid-flatten; flattening first", metadata: ["positions": "\(openPositions)"])
                await cancelWorking()
                await startFlatten()
            }
            await resolvePendingFlattens()
        }
        if resources.wall() >= stopAt {
            // Started after its stop instant (an outage, a catch-up, a takeover of a finishing
            // run): end at once, no strategy and no order.
            stopReason = "stopped at \(Instant(stopAt).iso8601)"
            return
        }
        try await startStrategy()
    }

    private func close() async {
        for p in pumps { p.cancel() }
        pumps.removeAll()
        stopStrategy()
        await trading.stop()
        await market.stop()
    }

    // MARK: Inputs

    private func handle(_ input: Input, stopping: Bool) async {
        switch input {
        case .trading(let event): await tradingEvent(event)
        case .market(let event):
            if case .quote(let q) = event, let symbol = book.symbols[q.contractID] {
                guard book.apply(quote: q, at: resources.wall()) else { return }
                if staleContracts.remove(q.contractID) != nil {
                    logger.notice("quotes are back", metadata: ["symbol": "\(symbol)"])
                }
                send(.quote(symbol: symbol, bid: q.bid, ask: q.ask, last: q.last), quoteOf: symbol)
                await checkLoss()
            } else if case .connected(let n) = event, n > 1 {
                logger.notice("market-data socket reconnected", metadata: ["connection": "\(n)"])
            }
        case .intentsReady:
            // One intent per turn of the stream: a tick, a quote or an event queued meanwhile is
            // handled before the next intent (the stop and risk never wait behind a backlog).
            guard let next = intents.pop() else { return }
            if next.more { sink.yield(.intentsReady) }
            guard next.generation == strategyGeneration, !stopping else { return }
            strategy?.consumed()
            await intent(next.line)
        case .strategyExit(let status, let generation):
            guard generation == strategyGeneration, !stopping else { return }
            await strategyExited(status)
        case .strategyFlood(let generation):
            guard generation == strategyGeneration, strategyToEnd == nil else { return }
            strategyToEnd = "it wrote \(resources.strategyIntentBacklog) intents the session had not handled yet (a flood)"
        case .tick:
            guard !stopping else { return }
            await tick()
        }
    }

    private func tick() async {
        // Risk first, on every tick: the loss (quotes may have stopped), stale quotes, a flatten
        // in progress.
        await checkLoss()
        await checkStaleQuotes()
        if flattening != nil { await flattenRound() }
        await reconcileUnknownOrders()
        if let flattenFailure, stopReason == nil { stopReason = "flatten failed: \(flattenFailure)" }
        followPlan()
        if resources.wall() >= stopAt, stopReason == nil { stopReason = "stopped at \(Instant(stopAt).iso8601)" }
        if stopReason == nil, (try? await resources.control.stopRequested(job: context.job.name, run: context.runID)) == true {
            stopReason = "stopped on request"
        }
        let sockets = ["trading": "\(await trading.state)", "market": "\(await market.state)"]
        if sockets != socketStates {
            for (name, text) in sockets where socketStates[name] != text && text.hasPrefix("paused") {
                logger.error("\(name) socket paused", metadata: ["state": "\(context.secrets.redact(text))"])
            }
            socketStates = sockets
            dirty = true
        }
        let reconnects = baseReconnects + max(0, await trading.connectionCount - 1) + max(0, await market.connectionCount - 1)
        if reconnects != state.reconnects {
            state.reconnects = reconnects
            dirty = true
        }
        let now = resources.wall()
        // The row's `updated` is the liveness signal of `session status`: written when the
        // figures change and at least every `statusRefresh` while the session runs.
        let stale = statusStamped.map { now.timeIntervalSince($0) >= Self.statusRefresh || now < $0 } ?? true
        guard dirty || stale else { return }
        if dirty {
            dirty = false
            try? await persist()
            try? await recordRealized()
        }
        statusStamped = now
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "running", locked: state.locked, detail: statusDetail(), now: now)
    }

    /// The longest the session leaves its status row unwritten while it runs (wall time).
    static let statusRefresh: TimeInterval = 5

    private func tradingEvent(_ event: TradovateEvent) async {
        switch event {
        case .connected(let n) where n > 1:
            logger.notice("trading socket reconnected and re-authorized", metadata: ["connection": "\(n)"])
        case .disconnected(let reason):
            logger.warning("trading socket disconnected; reconnecting", metadata: ["reason": "\(reason)"])
        case .resynced(let snapshot):
            try? await apply(snapshot: snapshot)
            logger.notice("re-synced after reconnect", metadata: ["positions": "\(book.openPositions.count)"])
        case .props(let event):
            await props(event.entity)
        default: break
        }
    }

    private func props(_ entity: TradovateEntity) async {
        let changes = book.apply(entity, state: &state)
        if changes.isEmpty, case .fillFee = entity { dirty = true }
        await report(changes)
    }

    /// Tells the strategy what the broker changed; a counted fill is saved and checks the loss.
    private func report(_ changes: [SessionBook.Change]) async {
        for change in changes {
            dirty = true
            switch change {
            case .position(let cid, let net):
                if let symbol = book.symbols[cid] { send(.position(symbol: symbol, net: net)) }
            case .order(let id, let status):
                send(.order(id: id, status: status, tag: state.placed.first(where: { $0.value.orderID == id })?.key))
            case .fill(let f):
                try? await persist()
                send(.fill(orderID: f.orderId, symbol: book.symbols[f.contractId] ?? "", side: f.isBuy ? "buy" : "sell", qty: f.qty, price: f.price))
                send(.pnl(realized: state.realized, open: book.openPnL(state)))
                await checkLoss()
            case .cash(let amount):
                send(.cash(amount: amount, realized: state.realized))
            }
        }
    }

    /// Applies a sync snapshot: the account (chosen from the first), positions, orders, clOrdIds,
    /// fills and fees.
    private func apply(snapshot s: TradovateSyncSnapshot) async throws {
        let accounts = s.accounts
        if account == nil {
            if configuredAccount == nil, accounts.count > 1 {
                throw JobFailure(
                    "this Tradovate user sees \(accounts.count) accounts (\(accounts.map(\.name).joined(separator: ", "))); set account: under broker "
                        + "'\(settings.broker)' in jobs.yaml to the one this session trades",
                    retryable: false)
            }
            guard let found = accounts.first(where: { configuredAccount == nil || $0.name == configuredAccount || String($0.id) == configuredAccount }) else {
                throw JobFailure(
                    "Tradovate account '\(configuredAccount ?? "")' is not visible to this user; accounts: \(accounts.map(\.name).joined(separator: ", "))",
                    retryable: false)
            }
            account = (found.id, found.name)
            book.accountID = found.id
        }
        let changes = book.apply(snapshot: s, state: &state)
        // Only the fills missed while the socket was down are reported (positions and orders
        // reach the strategy through their props as before).
        await report(changes.filter { if case .fill = $0 { return true } else { return false } })
        dirty = true
    }

    /// After a takeover: an order counted before its intent was journaled is dropped; an order
    /// whose outcome the journal recorded just before the crash (the session's own state not yet
    /// saved) gets its order id back, so its replay is a duplicate; an order intent whose outcome
    /// was never recorded is resolved from the broker's commands (found by `clOrdId`) or dropped
    /// when the broker never saw it.
    private func reconcilePending() async throws {
        // Counted and saved before its intent was journaled (a crash in between): it never
        // reached the broker, and the replayed intent places and counts it.
        let journaled = Set(await journal.entries.map(\.step))
        for (tag, placed) in state.placed where placed.orderID == 0 && !journaled.contains("order/\(tag)") {
            state.placed[tag] = nil
            state.ordersPlaced -= 1
        }
        for entry in await journal.entries where entry.step.hasPrefix("order/") && entry.outcome != nil {
            let tag = String(entry.step.dropFirst("order/".count))
            if let id: Int64 = try await journal.outcome(of: entry.step), state.placed[tag]?.orderID == 0 { state.placed[tag]?.orderID = id }
        }
        for entry in await journal.pending where entry.step.hasPrefix("order/") {
            let tag = String(entry.step.dropFirst("order/".count))
            if let id = book.clOrdIDs[entry.key] {
                try await journal.resolve(step: entry.step, outcome: id)
                state.placed[tag]?.orderID = id
                logger.notice("resumed order found at the broker", metadata: ["tag": "\(tag)", "order": "\(id)"])
            } else {
                // Never reached the broker: the replayed intent places it (counted then).
                if state.placed.removeValue(forKey: tag) != nil { state.ordersPlaced -= 1 }
                try await persist()
                try await journal.forget(step: entry.step)
            }
        }
        try await persist()
    }

    // MARK: Risk

    private func checkLoss() async {
        let open = book.openPnL(state)
        let before = (state.peak, state.maxDrawdown)
        state.mark(equity: state.realized + open)
        let total = earlierRealized + state.realized + open
        // Marked on every tick too: only a change of the figures is written.
        if open != lastOpen || before != (state.peak, state.maxDrawdown) { dirty = true }
        lastOpen = open
        let figures = RiskMonitor.Snapshot(
            earlierRealized: earlierRealized, realized: state.realized, open: open, locked: state.locked, opened: openedAt, now: resources.wall())
        guard risk.check(figures).contains(.lock(total: total)) else { return }
        let earlier = earlierRealized == 0 ? "" : ", earlier runs this trade date \(earlierRealized)"
        let message =
            "daily loss \(total) reached the limit -\(settings.risk.dailyLossLimit) (realized \(state.realized)\(earlier), open \(open)); "
            + "working orders cancelled, positions liquidated, no new order until the next session"
        // The lock is recorded by trade date first, so a run that starts after a crash here (or a
        // later run on the same trade date) is locked too.
        do {
            try await resources.control.lock(
                job: context.job.name, tradeDate: sessionDate ?? tradeDate(resources.wall()), run: context.runID, reason: message, now: resources.wall())
        } catch {
            logger.error("could not record the loss lock", metadata: ["error": "\(error)"])
        }
        state.locked = true
        state.lockReason = message
        try? await persist()
        logger.error("risk limit reached", metadata: ["total": "\(total)", "limit": "\(settings.risk.dailyLossLimit)"])
        try? await context.events.record("risk-limit", context.secrets.redact(message))
        send(.riskLimit(message))
        await cancelWorking()
        await startFlatten()
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "running", locked: true, detail: statusDetail(), now: resources.wall())
    }

    private func cancelWorking() async {
        for (id, _) in book.workingOrders {
            do {
                _ = try await cancelOrder(id)
            } catch {
                logger.warning("cancel failed", metadata: ["order": "\(id)", "error": "\(context.secrets.redact("\(error)"))"])
            }
        }
    }

    /// The order desk of the account traded (every order write goes through the journal).
    private var desk: OrderDesk { OrderDesk(journal: journal, client: client, broker: settings.broker, account: accountName) }

    /// Cancels order `id` at the desk (``OrderDesk/cancel(orderID:)``) and keeps the book's status.
    private func cancelOrder(_ id: Int64) async throws -> String {
        try await persist()
        let status: String
        do {
            status = try await desk.cancel(orderID: id)
        } catch {
            await reload()
            throw error
        }
        await reload()
        book.orders[id]?.status = status
        return status
    }

    /// After a takeover: a cancel whose outcome was never recorded is finished (reconciled from
    /// the order's status, and sent only while the order still works).
    private func finishPendingCancels() async {
        for entry in await journal.pending where entry.step.hasPrefix("cancel/") {
            guard let id = Int64(entry.step.dropFirst("cancel/".count)) else { continue }
            do {
                let status = try await cancelOrder(id)
                logger.notice("resumed cancel", metadata: ["order": "\(id)", "status": "\(status)"])
            } catch {
                logger.warning("resumed cancel failed", metadata: ["order": "\(id)", "error": "\(context.secrets.redact("\(error)"))"])
            }
        }
    }

    /// A quote-staleness check: a held contract without a quote for `risk.stale_after` is a risk
    /// event (`risk-stale`); with `on_stale: flatten` working orders are cancelled, the position is
    /// flattened and no new order goes out until quotes come back.
    private func checkStaleQuotes() async {
        // Only staleness here (the loss is checked on its own, first): checked as if locked.
        let figures = RiskMonitor.Snapshot(
            locked: true, positions: book.openPositions, lastQuote: book.lastQuote, alreadyStale: staleContracts, opened: openedAt, now: resources.wall())
        guard case .stale(let fresh, _)? = risk.check(figures).first else { return }
        staleContracts.formUnion(fresh)
        let names = fresh.map { "\(book.symbols[$0] ?? String($0)) \(book.positions[$0] ?? 0)" }.joined(separator: ", ")
        let action = settings.risk.onStale == .flatten ? "working orders cancelled, positions liquidated" : "positions kept (on_stale: alert)"
        let message = "no quote for \(DurationText.format(settings.risk.staleAfter)) while holding \(names); \(action)"
        logger.error("quotes are stale", metadata: ["held": "\(names)"])
        try? await context.events.record("risk-stale", context.secrets.redact(message))
        send(.riskStale(message))
        if settings.risk.onStale == .flatten {
            await cancelWorking()
            await startFlatten()
        }
    }

    /// Starts "flatten until flat" unless one is in progress, and runs its first round now.
    private func startFlatten() async {
        guard flattening == nil else { return }
        flattening = FlattenLoop(maxRounds: resources.flattenTicks)
        await flattenRound()
    }

    /// One round: read the broker's positions over REST; liquidate what is open (again, after a
    /// rejected, partial or late liquidation); after the last round record `flatten-failed`.
    private func flattenRound() async {
        guard var loop = flattening else { return }
        let open = await brokerPositions()
        let action = loop.next(open: open)
        flattening = loop
        switch action {
        case .flat:
            flattening = nil
            logger.info("flat", metadata: ["rounds": "\(loop.rounds)"])
        case .liquidate(let open):
            state.flattens += 1
            try? await persist()
            for (cid, net) in open.sorted(by: { $0.key < $1.key }) {
                do {
                    try await desk.liquidate(step: "flatten/\(state.flattens)/\(cid)", contractID: cid, what: "liquidate \(net) \(book.symbols[cid] ?? "")")
                    await reload()
                } catch {
                    await reload()
                    logger.error(
                        "liquidation failed; retried next round",
                        metadata: ["contract": "\(cid)", "round": "\(loop.rounds)", "error": "\(context.secrets.redact("\(error)"))"])
                }
            }
        case .failed(let open):
            flattening = nil
            let names = open.sorted { $0.key < $1.key }.map { "\(book.symbols[$0.key] ?? String($0.key)) \($0.value)" }.joined(separator: ", ")
            let message = "not flat after \(loop.rounds) liquidation rounds; open positions: \(names)"
            flattenFailure = message
            logger.error("flatten failed", metadata: ["positions": "\(names)"])
            try? await context.events.record("flatten-failed", context.secrets.redact(message))
            send(.flattenFailed(message))
        }
    }

    /// The broker's net positions of the session's contracts, read over REST (the session's own
    /// map when REST fails: the round then liquidates what it last knew).
    private func brokerPositions() async -> [Int64: Int] {
        await refreshPositions()
        return book.openPositions
    }

    /// After a takeover: liquidations whose outcome was never recorded are settled by the flatten
    /// that just re-read the broker's positions, so they are not replayed as they were.
    private func resolvePendingFlattens() async {
        for entry in await journal.pending where entry.step.hasPrefix("flatten/") {
            try? await journal.resolve(step: entry.step, outcome: "replayed")
        }
        await reload()
    }

    /// Records this run's realized P&L for its trade date (later runs that day count it).
    private func recordRealized() async throws {
        guard let sessionDate else { return }
        try await resources.control.record(job: context.job.name, tradeDate: sessionDate, run: context.runID, realized: state.realized)
    }

    /// Keeps the actor's copy of the state in step with the journal's after a `perform`.
    private func reload() async { state = await journal.state }

    private func persist() async throws {
        let snapshot = state
        try await journal.update { $0 = snapshot }
    }

    // MARK: Intents

    private func intent(_ line: String) async {
        guard let intent = StrategyIntent.decode(line) else {
            logger.warning("strategy wrote a line that is not an intent", metadata: ["line": "\(context.secrets.redact(String(line.prefix(200))))"])
            send(.reject(tag: nil, reason: "invalid: each line must be a JSON object with a type (order, cancel, flatten)"))
            return
        }
        let tag = intent.tag
        switch intent.type {
        case "order": await order(intent, tag: tag ?? "")
        case "cancel":
            guard let tag, let placed = state.placed[tag], placed.orderID != 0 else {
                send(.reject(tag: tag ?? "", reason: "invalid: no order with this tag"))
                return
            }
            do {
                let status = try await cancelOrder(placed.orderID)
                send(.result(tag: tag, status: status == "Canceled" ? "cancelled" : "not-working", orderID: placed.orderID, orderStatus: status))
            } catch let error as BrokerError where error.isRejected || error.isInvalidInput {
                send(.reject(tag: tag, reason: "broker: \(context.secrets.redact(error.message))"))
            } catch {
                send(
                    .reject(
                        tag: tag,
                        reason: "unknown: \(context.secrets.redact("\(error)")); the cancel is reconciled from the order's status before it is sent again"))
            }
        case "flatten":
            await cancelWorking()
            await startFlatten()
            send(.result(tag: nil, status: "flatten-sent", orderID: nil, orderStatus: nil))
        default:
            send(.reject(tag: tag ?? "", reason: "invalid: unknown intent type '\(intent.type)'; use order, cancel or flatten"))
        }
    }

    private func reject(_ tag: String, _ reason: String) async {
        state.rejects += 1
        dirty = true
        logger.notice("order rejected", metadata: ["tag": "\(tag)", "reason": "\(reason)"])
        send(.reject(tag: tag, reason: reason))
    }

    private func order(_ o: StrategyIntent, tag: String) async {
        guard !tag.isEmpty, tag.count <= 64 else { return await reject(tag, "invalid: every order needs a tag of 1 to 64 characters") }
        let symbol = o.symbol ?? (settings.symbols.count == 1 ? settings.symbols[0] : "")
        guard let cid = contracts[symbol] else { return await reject(tag, "invalid: symbol '\(symbol)' is not one of \(settings.symbols)") }
        guard let side = o.side, side == "buy" || side == "sell" else { return await reject(tag, "invalid: side must be buy or sell") }
        guard let qty = o.qty, qty > 0 else { return await reject(tag, "invalid: qty must be a whole number above 0") }
        let kind = o.order ?? "market"
        let type: OrderType
        switch kind {
        case "market": type = .market
        case "limit":
            guard let p = o.price else { return await reject(tag, "invalid: a limit order needs price") }
            type = .limit(p)
        case "stop":
            guard let p = o.stopTrigger else { return await reject(tag, "invalid: a stop order needs stop_price") }
            type = .stop(p)
        default: return await reject(tag, "invalid: order must be market, limit or stop")
        }
        let step = "order/\(tag)"
        // An order whose outcome is unknown is reconciled (by clOrdId) before anything else goes out.
        await reconcileUnknownOrders()
        if let unknown = state.placed[tag], unknown.orderID == 0 {
            return await reject(
                tag, "unknown: the outcome of order \(tag) (clOrdId \(unknown.clOrdID)) is still being reconciled; it is not sent again")
        }
        if let done = state.placed[tag], done.orderID != 0 {
            send(.result(tag: tag, status: "duplicate", orderID: done.orderID, orderStatus: nil))
            return
        }
        let buy = side == "buy"
        let now = resources.wall()
        if now >= stopAt { return await reject(tag, "stopped: the session's stop \(Instant(stopAt).iso8601) has passed; nothing was sent") }
        if let stale = staleContracts.first, settings.risk.onStale == .flatten {
            return await reject(tag, "risk: no fresh quote for \(book.symbols[stale] ?? String(stale)); nothing is sent until quotes come back")
        }
        if !state.locked {
            do {
                if let reason = try await resources.control.lockReason(job: context.job.name, tradeDate: sessionDate ?? tradeDate(now)) {
                    state.locked = true
                    state.lockReason = reason
                    dirty = true
                }
            } catch {
                return await reject(tag, "risk: the loss lock could not be read (\(error)); nothing was sent")
            }
        }
        // Working orders, and orders whose outcome is unknown at their requested quantity.
        let unknown = state.placed.values.filter { $0.orderID == 0 && $0.symbol == symbol && $0.side == side }.reduce(0) { $0 + $1.quantity }
        let working = book.working(contract: cid, buy: buy, unknown: unknown)
        if let why = risk.rejection(state: state, now: now, buy: buy, quantity: qty, net: book.positions[cid] ?? 0, working: working) {
            return await reject(tag, "risk: \(why)")
        }
        let key = journal.key(for: step)
        let request: OrderRequest
        do {
            request = try OrderRequest(
                symbol: try Symbol(symbol), side: buy ? .buy : .sell, quantity: Quantity(Decimal(qty)), type: type, key: IdempotencyKey(key))
        } catch {
            return await reject(tag, "invalid: \(error)")
        }
        state.placed[tag] = FuturesSessionState.Placed(orderID: 0, clOrdID: key, symbol: symbol, side: side, quantity: qty)
        state.recentOrders = state.recentOrders.filter { now.timeIntervalSince($0) < 60 } + [now]
        state.ordersPlaced += 1
        try? await persist()
        do {
            placing += 1
            defer { placing -= 1 }
            let id = try await desk.place(step: step, request: request, what: "\(side) \(qty) \(symbol) (\(tag))", known: book.clOrdIDs)
            await reload()
            state.placed[tag]?.orderID = id
            book.placed(id, contract: cid, buy: buy, quantity: qty)
            try? await persist()
            send(.result(tag: tag, status: "placed", orderID: id, orderStatus: nil))
        } catch let error as BrokerError where (error.isRejected || error.isInvalidInput) && !error.message.lowercased().contains("duplicate") {
            // The broker refused it: nothing was placed, the tag may be used again. ("Duplicate
            // clOrdId" is not such an answer: an order with this clOrdId exists; it is reconciled.)
            await reload()
            state.placed[tag] = nil
            state.ordersPlaced -= 1
            try? await persist()
            try? await journal.forget(step: step)
            await reject(tag, "broker: \(context.secrets.redact(error.message))")
        } catch {
            // Unknown outcome: the intent stays in the journal and is reconciled by clOrdId.
            await reload()
            await reject(tag, "unknown: \(context.secrets.redact("\(error)")); it is reconciled by clOrdId before anything else is sent")
        }
    }

    /// Reconciles, by clOrdId, the session's orders whose placement outcome is unknown (socket
    /// `command` events first, then REST `command/list`): a found order gets its id and counts as
    /// working at its requested quantity; one not found stays unknown, still counted, never re-sent.
    private func reconcileUnknownOrders() async {
        let unknown = await journal.pending.filter { $0.step.hasPrefix("order/") }
        for entry in unknown {
            let tag = String(entry.step.dropFirst("order/".count))
            guard let placed = state.placed[tag], placed.orderID == 0 else { continue }
            guard let id = await desk.find(clOrdID: entry.key, known: book.clOrdIDs) else { continue }
            try? await persist()
            do { try await journal.resolve(step: entry.step, outcome: id) } catch { continue }
            state.placed[tag]?.orderID = id
            book.placed(id, contract: contracts[placed.symbol] ?? 0, buy: placed.side == "buy", quantity: placed.quantity)
            try? await persist()
            logger.notice("unknown order found at the broker", metadata: ["tag": "\(tag)", "order": "\(id)"])
            send(.result(tag: tag, status: "placed", orderID: id, orderStatus: nil))
        }
    }

    // MARK: Strategy

    private func startStrategy() async throws {
        guard let s = settings.strategy else { return }
        var environment = Self.strategyEnvironment(inherited: ProcessInfo.processInfo.environment, context: context)
        for (key, value) in s.env { environment[key] = try await value.resolved(context.secrets) }
        strategyGeneration += 1
        let (generation, sink, logger, secrets, lane) = (strategyGeneration, self.sink, self.logger, context.secrets, intents)
        strategy = try StrategyProcess.start(
            argv: s.command, environment: environment, workdir: s.workdir,
            onLine: { if lane.push($0, generation: generation) { sink.yield(.intentsReady) } },
            onStderr: { logger.notice("strategy stderr", metadata: ["line": "\(secrets.redact($0))"]) },
            onExit: { sink.yield(.strategyExit($0, generation: generation)) },
            queueLimit: resources.strategyQueueLimit, intentBacklog: resources.strategyIntentBacklog,
            onFlood: { sink.yield(.strategyFlood(generation: generation)) })
        send(
            .sessionStart(
                job: context.job.name, run: context.runID, symbols: settings.symbols, stopAt: Instant(stopAt).iso8601, locked: state.locked,
                resumed: journal.resumed))
        for (cid, symbol) in book.symbols.sorted(by: { $0.value < $1.value }) { send(.position(symbol: symbol, net: book.positions[cid] ?? 0)) }
        send(.pnl(realized: state.realized, open: nil))
    }

    /// The strategy's environment before its `strategy.env`: built from scratch (`PATH`, `HOME`,
    /// `LANG` and the run's identity), so no variable of schedctl's own (a passphrase, a vault
    /// value) reaches it unless the job asks for it.
    static func strategyEnvironment(inherited: [String: String], context: RunContext) -> [String: String] {
        var environment = inherited.filter { ["PATH", "HOME", "LANG"].contains($0.key) }
        environment["SCHEDCTL_JOB"] = context.job.name
        environment["SCHEDCTL_RUN_ID"] = String(context.runID)
        environment["SCHEDCTL_NOMINAL"] = context.nominal.iso8601
        environment["SCHEDCTL_ATTEMPT"] = String(context.attempt)
        environment["SCHEDCTL_GENERATION"] = String(context.generation)
        return environment
    }

    private func strategyExited(_ status: Int32) async {
        strategy = nil
        guard stopReason == nil, !strategyEnded else { return }
        if strategyRestarts < resources.maxStrategyRestarts {
            strategyRestarts += 1
            logger.warning("strategy exited; restarting", metadata: ["status": "\(status)", "restart": "\(strategyRestarts)"])
            try? await context.events.record("strategy-restart", "the strategy exited with status \(status); restart \(strategyRestarts)")
            do { try await startStrategy() } catch {
                logger.error("strategy restart failed; the session continues risk-only", metadata: ["error": "\(error)"])
            }
        } else {
            logger.error("strategy exited too often; the session continues risk-only", metadata: ["status": "\(status)"])
            try? await context.events.record(
                "strategy-stopped", "the strategy exited \(strategyRestarts + 1) times; the session continues with risk checks only")
        }
    }

    private func stopStrategy() {
        strategyGeneration += 1
        strategy?.terminate()
        strategy = nil
    }

    /// Queues a message for the strategy; never blocks. A strategy that lets `strategyQueueLimit`
    /// messages pile up is ended after the current input (``endStrategyIfBehind()``).
    private func send(_ message: StrategyMessage, quoteOf symbol: String? = nil) {
        guard let strategy, let line = message.line else { return }
        if strategy.send(line, quoteOf: symbol) == .overflow, strategyToEnd == nil {
            strategyToEnd = "it did not read its input: \(resources.strategyQueueLimit) messages were waiting"
        }
    }

    /// Ends a strategy that does not keep up (its input piles up, or it floods intents): an event,
    /// no restart, and the session goes on risk-only (stop, loss limit, staleness, flatten).
    private func endStrategyIfBehind() async {
        guard let reason = strategyToEnd else { return }
        strategyToEnd = nil
        guard strategy != nil else { return }
        strategyEnded = true
        stopStrategy()
        let message = "the strategy was ended: \(reason); the session continues with risk checks only"
        logger.error("strategy ended", metadata: ["reason": "\(reason)"])
        try? await context.events.record("strategy-ended", message)
    }

    // MARK: Stop

    /// The next input of the stop sequence: from the stream, or (after a cancellation ended the
    /// stream) a poll on the session's clock.
    private func nextInput(_ inputs: inout AsyncStream<Input>.Iterator?) async -> Input? {
        if inputs != nil { return await inputs?.next(isolation: self) }
        do { try await resources.clock.sleep(for: resources.pollInterval) } catch { return nil }
        return .tick
    }

    private func finish(_ inputs: inout AsyncStream<Input>.Iterator?) async throws -> RunOutcome {
        let reason = stopReason ?? "stopped"
        logger.info("session stopping", metadata: ["reason": "\(reason)"])
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "stopping", locked: state.locked, detail: statusDetail(), now: resources.wall())
        send(.sessionStop(reason: reason))
        stopStrategy()
        // A placement still awaiting its answer is let finish (bounded), so its order is in the
        // book when the working orders are cancelled.
        var waited = 0
        while placing > 0, waited < resources.flattenTicks, let input = await nextInput(&inputs) {
            if case .tick = input { waited += 1 }
            await handle(input, stopping: true)
        }
        await cancelWorking()
        var flattened = false
        if settings.flattenAtStop || state.locked || flattenFailure != nil {
            // Flatten means flat: a round a tick (REST re-read, liquidate what is open) until the
            // broker reads flat or the rounds run out; then until the fills are counted.
            flattening = nil
            flattenFailure = nil
            await startFlatten()
            var ticks = 0
            while flattening != nil || (!lotsFlat && ticks < resources.flattenTicks && inputs != nil), let input = await nextInput(&inputs) {
                if case .tick = input {
                    ticks += 1
                    await flattenRound()
                }
                await handle(input, stopping: true)
            }
            flattened = flattenFailure == nil
        }
        // Orders the book learned of while flattening (an event that was still on its way) are
        // cancelled too: no order of the session's own is left working.
        await cancelWorking()
        state.reconnects = baseReconnects + max(0, await trading.connectionCount - 1) + max(0, await market.connectionCount - 1)
        let report = FuturesSessionReport(
            orders: state.ordersPlaced, fills: state.fills, rejects: state.rejects, realizedPnL: state.realized, maxDrawdown: state.maxDrawdown,
            reconnects: state.reconnects, locked: state.locked, flattened: flattened, stopReason: reason)
        state.finished = true
        state.report = report
        if let flattenFailure { state.failure = "session \(reason), but flatten failed: \(flattenFailure)" }
        try await persist()
        try? await recordRealized()
        try? await context.events.record("session-report", report.json)
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "finished", locked: state.locked, detail: report.json, now: resources.wall())
        await close()
        if let failure = state.failure { throw JobFailure(failure, retryable: false) }
        return RunOutcome(summary: report.summary, detail: report.json)
    }

    /// Positions from the broker's REST list (authoritative at the stop: events still in flight
    /// cannot hide a position from the flatten).
    private func refreshPositions() async {
        guard let list = await desk.positions() else { return }
        book.broker(positions: list)
    }

    /// A reload reaches the running session: when the plan source has a newer plan, the stop is
    /// computed again from its calendars and this job's `stop:` (an early close added under
    /// `calendars:`, a shorter `stop:`), still no later than the end of the session's trade date.
    /// A job that is gone or no longer valid keeps the stop.
    private func followPlan() {
        guard let source = resources.plan else { return }
        let snapshot = source.snapshot
        guard snapshot.generation != planGeneration else { return }
        planGeneration = snapshot.generation
        guard let job = snapshot.plan.job(named: context.job.name), job.kind == context.job.kind,
            let reloaded = try? job.options(as: FuturesSessionSettings.self),
            var next = try? reloaded.stopInstant(start: context.nominal, calendars: snapshot.plan.calendars).date
        else { return }
        let calendar = snapshot.plan.calendars[.cme] ?? cmeCalendar
        if let sessionDate, let end = CMETradeDate.end(of: sessionDate, calendar: calendar)?.date, end < next { next = end }
        guard next != stopAt else { return }
        logger.notice("reload moved the stop", metadata: ["from": "\(Instant(stopAt).iso8601)", "stop": "\(Instant(next).iso8601)"])
        stopAt = next
    }

    /// The CME clearing trade date of `date` (``CMETradeDate``), on the session's CME calendar.
    private func tradeDate(_ date: Date) -> LocalDate { CMETradeDate.of(Instant(date), calendar: cmeCalendar) }

    private var cmeCalendar: any TradingCalendar { resources.calendars[.cme] ?? Market.cme.calendar() }

    /// The session's contracts with a position, as `SYMBOL net`.
    private var openPositions: String {
        book.openPositions.sorted { $0.key < $1.key }.map { "\(book.symbols[$0.key] ?? "") \($0.value)" }
            .joined(separator: ", ")
    }

    /// Whether the fills the session counted leave no open lot.
    private var lotsFlat: Bool { state.lots.allSatisfy { book.symbols[$0.key] == nil || $0.value.quantity == 0 } }

    private func statusDetail() -> String {
        let open = book.openPnL(state)
        var held: [String: Int] = [:]
        for (cid, symbol) in book.symbols { held[symbol] = book.positions[cid] ?? 0 }
        let object: [String: Any] = [
            "positions": held, "realized_pnl": NSDecimalNumber(decimal: state.realized), "open_pnl": NSDecimalNumber(decimal: open),
            "max_drawdown": NSDecimalNumber(decimal: state.maxDrawdown), "orders": state.ordersPlaced, "fills": state.fills,
            "rejects": state.rejects, "reconnects": state.reconnects,
            "day_realized_pnl": NSDecimalNumber(decimal: earlierRealized + state.realized),
            "working_orders": book.workingOrders.count,
            "sockets": socketStates.mapValues { context.secrets.redact($0) },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// The strategy's intents waiting for the session, beside its input stream: the stream carries
/// one `intentsReady` signal at a time, and each turn handles one intent and signals again while
/// more wait, so inputs queued meanwhile (ticks, quotes, events) go first.
final class IntentLane: Sendable {
    private struct Waiting {
        var lines: [(line: String, generation: Int)] = []
        var head = 0
        var signalled = false
    }
    private let waiting = Mutex(Waiting())

    /// Queues an intent; true when the session must be signalled (no signal is outstanding).
    func push(_ line: String, generation: Int) -> Bool {
        waiting.withLock { w in
            w.lines.append((line, generation))
            if w.signalled { return false }
            w.signalled = true
            return true
        }
    }

    /// The next intent, and whether more wait (the caller then signals again).
    func pop() -> (line: String, generation: Int, more: Bool)? {
        waiting.withLock { w in
            guard w.head < w.lines.count else {
                w.signalled = false
                return nil
            }
            let next = w.lines[w.head]
            w.head += 1
            if w.head >= 256, w.head * 2 >= w.lines.count {
                w.lines.removeFirst(w.head)
                w.head = 0
            }
            let more = w.head < w.lines.count
            if !more { w.signalled = false }
            return (next.line, next.generation, more)
        }
    }
}
