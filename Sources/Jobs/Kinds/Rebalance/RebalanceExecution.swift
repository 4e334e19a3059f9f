import Brokers
import Foundation
import Logging
import SchedctlBase
import Scheduler

/// One rebalance run: a short loop over the pure decisions of ``RebalancePlanner``,
/// ``RebalanceGate`` and ``RebalanceRounds``. Rounds of sells, buys (re-planned from the fresh
/// cash after the sells) and a check repeat until every line is within drift, nothing more is
/// affordable, or the gate closes. Every order, replace and cancel goes through the intent
/// journal; every terminal exit cancels what the run still has working
/// (``RebalanceExecution/cleanup(after:)``).
struct RebalanceExecution {
    /// The options; pinned into the run's state at its start (``pinning()``).
    var options: RebalanceOptions
    let broker: any Brokerage
    let account: String
    let strategy: any StrategySource
    let calendar: any TradingCalendar
    let clock: RebalanceClock
    let journal: IntentJournal<RebalanceState>
    let context: RunContext

    /// How many reads wait for cancellations to settle.
    static let settleReads = 10
    /// How many times a transient broker failure (timeout, reset, 5xx, throttling) is retried
    /// inside the run, after reconciling through the journal.
    static let transientRetries = 3

    func run() async throws -> RunOutcome {
        let pinned = try await pinning()
        if pinned.options.dryRun {
            if await pinned.needsFirstPlan() { try await pinned.firstPlan() }
            return try await pinned.validateOnly()
        }
        do {
            // What an earlier owner's exit left as "may still be working" is re-judged by this
            // owner's own exit; a stale list must not reach this run's summary.
            if await pinned.journal.state.mayBeWorking != nil { try await pinned.journal.update { $0.mayBeWorking = nil } }
            try await pinned.reconcilePending()
            if await pinned.needsFirstPlan() { try await pinned.firstPlan() }
            try await pinned.roundsRetryingTransientFailures()
            return try await pinned.conclude()
        } catch {
            throw await pinned.cleanup(after: error)
        }
    }

    /// This execution with the options fixed at the run's start (and the start and deadline recorded).
    private func pinning() async throws -> RebalanceExecution {
        var state = await journal.state
        if state.options == nil {
            var fixed = options
            fixed.dryRun = options.dryRun || state.dryRun
            let now = clock.now()
            let deadline = deadlineInstant(startedAt: state.startedAt ?? now)
            let frozen = fixed
            try await journal.update {
                $0.options = frozen
                $0.dryRun = frozen.dryRun
                if $0.startedAt == nil { $0.startedAt = now }
                if $0.deadline == nil { $0.deadline = deadline }
            }
            state = await journal.state
        }
        var copy = self
        copy.options = state.options ?? options
        return copy
    }

    // MARK: The loop

    /// Whether the first plan is still to be made (none, or a crash before it was committed).
    private func needsFirstPlan() async -> Bool {
        let state = await journal.state
        return state.plan == nil || state.phase == .planning
    }

    /// The first plan: refusals, working orders, quotes; nothing is placed when it fails.
    private func firstPlan() async throws {
        let weights = try await strategy.targetWeights()
        var (inputs, foreign) = try await gather(targets: weights.weights, strict: true)
        if let refusal = RebalancePlanner.refusal(inputs, options: options) { throw await refuse(refusal) }
        if !foreign.isEmpty && !options.dryRun {
            switch options.existingOrders {
            case .refuse:
                throw await refuse(
                    "working orders on the plan's symbols that this run did not place: \(foreign.map(describe).joined(separator: "; ")); "
                        + "nothing was placed (cancel them, or set existing_orders: cancel or include)")
            case .cancel:
                try await cancelForeign(foreign)
                (inputs, foreign) = try await gather(targets: weights.weights, strict: true)
                if !foreign.isEmpty { throw await refuse("orders still working after the cancels: \(foreign.map(describe).joined(separator: "; "))") }
            case .include:
                inputs.workingOrders = foreign
            }
        } else if !foreign.isEmpty, options.existingOrders == .include {
            inputs.workingOrders = foreign
        }
        var plan = try RebalancePlanner.plan(inputs, options: options)
        if !foreign.isEmpty { plan.workingOrders = foreign.map(describe) }
        let ids = foreign.map(\.id)
        let targets = Dictionary(uniqueKeysWithValues: weights.weights.map { ($0.key.rawValue, $0.value) })
        let nextDate = weights.nextTradeDate
        var orders = plan.sells.map { order(for: $0, phase: "sell", round: 1) }
        if options.dryRun {
            let proceeds = plan.sells.reduce(Decimal(0)) { $0 + $1.estimatedValue }
            let budget = RebalancePlanner.buyBudget(
                cash: plan.cash + proceeds, buyingPower: plan.buyingPower + proceeds, buffer: plan.cashBuffer,
                committed: inputs.workingBuyCommitment, useMargin: options.useMargin)
            let fitted = RebalancePlanner.fitBuys(plan.buys, budget: budget, options: options)
            orders += fitted.lines.map { order(for: $0, phase: "buy", round: 1) }
            if let w = fitted.warning { plan.warnings.append(w) }
        }
        let recorded = plan
        let all = orders
        try await journal.update {
            $0.plan = recorded
            $0.targets = targets
            $0.foreign = ids
            $0.nextTradeDate = nextDate
            $0.warnings += recorded.warnings
        }
        let atCap =
            plan.sells.reduce(Decimal(0)) { $0 + $1.estimatedValue }
            + plan.buys.reduce(Decimal(0)) { $0 + RebalancePlanner.capCost($1, options: options) }
        if let cap = options.maxNotional, atCap > cap {
            throw await refuse("the plan trades up to \(atCap.rounded(scale: 2).plainString) gross at its price caps, over max_notional \(cap.plainString)")
        }
        let tradable = !plan.sells.isEmpty || !plan.buys.isEmpty
        if tradable, !options.dryRun, let reason = await gate() { throw await refuse("\(reason); no order was placed") }
        try await journal.update {
            $0.orders = all
            $0.round = 1
            $0.phase = .sells
        }
    }

    /// The rounds; a transient broker failure is retried inside the run after reconciling
    /// through the journal (a re-run must never double a position).
    private func roundsRetryingTransientFailures() async throws {
        var failures = 0
        while true {
            do {
                return try await rounds()
            } catch let error as BrokerError where error.isRetryable && failures < Self.transientRetries {
                failures += 1
                context.logger.notice("transient broker failure; reconciling and continuing", metadata: ["error": "\(error.message)"])
                try await journal.update { $0.warnings.append("retried after: \(error.message)") }
                try await clock.sleep(.seconds(Int64(min(60, 5 << failures))))
                try await reconcilePending()
            }
        }
    }

    /// Sells, buys, check; again while the check says so.
    private func rounds() async throws {
        while true {
            let state = await journal.state
            let round = state.currentRound
            switch state.phase {
            case .planning, .done:
                return
            case .sells:
                if case .stopped(let reason) = try await work(phase: "sell", round: round) { return try await stop(reason, deadline: true) }
                try await journal.update { $0.phase = .buys }
            case .buys:
                if !state.orders.contains(where: { $0.phase == "buy" && $0.round == round }) {
                    if let reason = await gate() { return try await stop(reason, deadline: true) }
                    try await planBuys(round: round)
                }
                if case .stopped(let reason) = try await work(phase: "buy", round: round) { return try await stop(reason, deadline: true) }
                try await journal.update { $0.phase = .check }
            case .check:
                let (plan, buys, _) = try await freshPlan()
                let blocked = Set(state.blocked ?? [])
                switch RebalanceRounds.decide(plan: plan, affordableBuys: buys, blocked: blocked, nextRound: round + 1) {
                case .converged:
                    try await journal.update { $0.phase = .done }
                case .trade:
                    if let reason = await gate() { return try await stop(reason, deadline: true) }
                    let sells = plan.sells.filter { !blocked.contains($0.symbol) }.map { order(for: $0, phase: "sell", round: round + 1) }
                    try await journal.update {
                        $0.orders += sells
                        $0.round = round + 1
                        $0.lastPricedAt = nil
                        $0.phase = .sells
                    }
                case .unaffordable:
                    try await stop("nothing more is affordable: the cash left, less the cash buffer, buys no further share", deadline: false)
                case .stuck:
                    try await stop("lines are left that this run cannot trade (rejected or without a usable quote)", deadline: false)
                case .roundLimit:
                    try await stop("the round limit (\(RebalanceRounds.maxRounds)) is reached", deadline: false)
                }
            }
        }
    }

    private func stop(_ reason: String, deadline: Bool) async throws {
        try await journal.update {
            $0.stopReason = reason
            if deadline { $0.deadlineReached = true }
            $0.phase = .done
        }
    }

    /// The round's buys, planned from the cash after its sells.
    private func planBuys(round: Int) async throws {
        let (_, fitted, warning) = try await freshPlan()
        let state = await journal.state
        var buys = fitted.filter { !(state.blocked ?? []).contains($0.symbol) }
        var warnings = warning.map { [$0] } ?? []
        if let cap = options.maxNotional {
            // Gross traded so far at its fill prices, the new buys at their price caps.
            let traded = state.orders.reduce(Decimal(0)) { $0 + $1.filled * ($1.averagePrice ?? 0) }
            let room = max(0, cap - traded)
            let wanted = buys.reduce(Decimal(0)) { $0 + RebalancePlanner.capCost($1, options: options) }
            if wanted > room {
                buys = RebalancePlanner.fitBuys(buys, budget: room, options: options).lines
                warnings.append("buys cut to stay within max_notional \(cap.plainString) (traded \(traded.rounded(scale: 2).plainString))")
            }
        }
        let orders = buys.map { order(for: $0, phase: "buy", round: round) }
        let notes = warnings
        try await journal.update {
            $0.orders += orders
            $0.warnings += notes
            $0.lastPricedAt = nil
        }
    }

    /// A plan from fresh balances, positions, quotes and working orders (bad quotes leave their
    /// lines untraded, never fail the run), and the buys that fit the cash.
    private func freshPlan() async throws -> (RebalancePlan, [PlanLine], String?) {
        let state = await journal.state
        var targets: [Symbol: Decimal] = [:]
        for (k, v) in state.targets ?? [:] { if let s = try? Symbol(k) { targets[s] = v } }
        let (gathered, foreign) = try await gather(targets: targets, strict: false)
        var inputs = gathered
        let started = Set(state.foreign ?? [])
        let newcomers = foreign.filter { !started.contains($0.id) }
        if !newcomers.isEmpty && options.existingOrders != .include {
            throw JobFailure(
                "orders appeared on the plan's symbols that this run did not place: \(newcomers.map(describe).joined(separator: "; ")); stopping",
                retryable: false)
        }
        if options.existingOrders == .include { inputs.workingOrders = foreign }
        let plan = try RebalancePlanner.plan(inputs, options: options, strict: false)
        // Buys this run still has working commit cash too (none between phases, but a resume may).
        let ours = state.orders.filter { $0.side == .buy && $0.orderID != nil && !$0.state.isTerminal }
            .reduce(Decimal(0)) { $0 + ($1.quantity - $1.filled) * ($1.steps.last?.price ?? 0) }
        let budget = RebalancePlanner.buyBudget(
            cash: inputs.cash, buyingPower: inputs.buyingPower, buffer: plan.cashBuffer, committed: inputs.workingBuyCommitment + ours,
            useMargin: options.useMargin)
        let fitted = RebalancePlanner.fitBuys(plan.buys, budget: budget, options: options)
        return (plan, fitted.lines, fitted.warning)
    }

    /// How a phase's work ended.
    enum WorkResult: Equatable {
        case done
        case stopped(String)
    }

    /// Places the phase's orders (each behind the gate), then polls, replaces and, once the
    /// gate closes, cancels until every one is final.
    private func work(phase: String, round: Int) async throws -> WorkResult {
        for o in await journal.state.orders where o.phase == phase && o.round == round && o.orderID == nil && o.state != .rejected && o.notPlaced == nil {
            if let reason = await gate() {
                try await markNotPlaced(phase: phase, round: round, reason: reason)
                break
            }
            try await place(o)
        }
        if await journal.state.lastPricedAt == nil {
            let now = clock.now()
            try await journal.update { $0.lastPricedAt = now }
        }
        while true {
            try await refresh()
            let state = await journal.state
            let open = state.orders.filter { $0.phase == phase && $0.round == round && $0.orderID != nil && !$0.state.isTerminal }
            let unplaced = state.orders.first { $0.phase == phase && $0.round == round && $0.notPlaced != nil }?.notPlaced
            if open.isEmpty { return unplaced.map { .stopped($0) } ?? .done }
            let now = clock.now()
            if let reason = await gate() {
                try await cancel(open)
                return .stopped(reason)
            }
            if let last = state.lastPricedAt, now.timeIntervalSince(last) >= options.replanAfter.seconds {
                try await replan(open, phase: phase)
            }
            let deadline = state.deadline ?? now.addingTimeInterval(options.pollEvery.seconds)
            let wait = min(options.pollEvery.seconds, max(0.001, deadline.timeIntervalSince(now)))
            try await clock.sleep(.milliseconds(Int64((wait * 1000).rounded(.up))))
        }
    }

    private func markNotPlaced(phase: String, round: Int, reason: String) async throws {
        try await journal.update { s in
            for i in s.orders.indices where s.orders[i].phase == phase && s.orders[i].round == round && s.orders[i].orderID == nil {
                if s.orders[i].state != .rejected { s.orders[i].notPlaced = reason }
            }
        }
    }

    // MARK: Gate, inputs, deadline

    /// Why no new order may go out now, or nil: the one gate before every place and replace.
    func gate() async -> String? {
        let now = clock.now()
        let deadline = await journal.state.deadline
        return RebalanceGate.closed(
            now: now, deadline: deadline, inSession: inSession(now), allowOutsideSession: options.allowOutsideSession, market: "\(calendar.code)")
    }

    /// Targets, positions, balances, quotes, and the working orders on the symbols involved that
    /// this run did not place (the broker batches at most 100 symbols a request).
    func gather(targets: [Symbol: Decimal], strict: Bool) async throws -> (RebalanceInputs, [Order]) {
        let balance = try await broker.balance(account: account)
        var positions: [Symbol: Decimal] = [:]
        for p in try await broker.positions(account: account) { positions[p.symbol, default: 0] += p.quantity }
        var symbols = Set(targets.keys)
        for (s, q) in positions where q != 0 { symbols.insert(s) }
        let ours = Set(await journal.state.orders.compactMap(\.orderID))
        let foreign = try await broker.orders(account: account).filter { o in
            !o.state.isTerminal && o.brokerStatus != "UCH" && !ours.contains(o.id) && o.symbol.map { symbols.contains($0) } == true
        }
        var quotes: [Symbol: Quote] = [:]
        let sorted = symbols.sorted()
        var start = 0
        while start < sorted.count {
            let batch = Array(sorted[start..<min(start + 100, sorted.count)])
            start += 100
            for q in try await broker.quotes(batch).items { quotes[q.symbol] = q }
        }
        let now = clock.now()
        let inputs = RebalanceInputs(
            targets: targets, positions: positions, equity: balance.equity, cash: balance.cash, buyingPower: balance.buyingPower, quotes: quotes,
            now: now, requireFreshQuotes: inSession(now))
        return (inputs, foreign)
    }

    func describe(_ o: Order) -> String {
        "\(o.id) \(o.side?.rawValue.uppercased() ?? "?") \((o.quantity - o.filledQuantity).plainString) \(o.symbol?.rawValue ?? "?")"
            + (o.limitPrice.map { " @ \($0.plainString)" } ?? "")
    }

    /// A tracked order for a plan line, priced at round 0; its confirm id is its journal key.
    func order(for line: PlanLine, phase: String, round: Int) -> RebalanceOrder {
        let side = line.side ?? .buy
        let q = Quote(symbol: (try? Symbol(line.symbol)) ?? "X", bid: line.bid, ask: line.ask, last: nil)
        let price = line.estimatedPrice ?? RebalancePricing.price(side, quote: q, round: 0, arrival: q, pricing: options.pricing)
        let step = "place/r\(round)/\(phase)/\(line.symbol)"
        var o = RebalanceOrder(
            phase: phase, symbol: line.symbol, side: side, quantity: abs(line.delta), confirmID: journal.key(for: step), orderID: nil,
            steps: [PriceStep(round: 0, price: price, at: clock.now())], arrivalBid: line.bid ?? 0, arrivalAsk: line.ask ?? 0)
        o.round = round
        o.step = step
        return o
    }

    /// Whether `date` falls in a session of the calendar.
    func inSession(_ date: Date) -> Bool {
        let instant = Instant(date)
        let day = calendar.zone.local(instant).date
        return calendar.sessions(in: day.adding(days: -1)...day.adding(days: 1)).contains { $0.open <= instant && instant < $0.close }
    }

    /// The deadline, from the configured calendar (with its early closes and closures) for XNYS.
    private func deadlineInstant(startedAt: Date) -> Date {
        switch options.deadline {
        case .after(let d): return startedAt.addingTimeInterval(d.seconds)
        case .market(let market, let at, let offset):
            let cal: any TradingCalendar = market == .xnys ? calendar : market.calendar()
            let instant = Instant(startedAt)
            let day = cal.zone.local(instant).date
            guard let session = cal.sessions(in: day...day.adding(days: 7)).first(where: { $0.close > instant }) else { return startedAt }
            return (at == "open" ? session.open : session.close).date.addingTimeInterval(offset.seconds)
        }
    }
}
