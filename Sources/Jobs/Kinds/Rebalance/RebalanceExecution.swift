import Brokers
import Foundation
import Logging
import Scheduler

/// One rebalance run: plan, sells, buys, final check. Every order, replace and cancel goes
/// through the intent journal, so a takeover reconciles with the broker before it continues.
struct RebalanceExecution {
    let options: RebalanceOptions
    let broker: any Brokerage
    let account: String
    let strategy: any StrategySource
    let calendar: any TradingCalendar
    let clock: RebalanceClock
    let journal: IntentJournal<RebalanceState>
    let context: RunContext

    /// How many reads wait for cancellations to settle at the deadline.
    static let settleReads = 3

    func run() async throws -> RunOutcome {
        var state = await journal.state
        let dryRun = options.dryRun || state.dryRun
        if state.startedAt == nil {
            let now = clock.now()
            let deadline = deadlineInstant(startedAt: now)
            try await journal.update {
                $0.startedAt = now
                $0.deadline = deadline
            }
            state = await journal.state
        }
        if state.plan == nil {
            let weights = try await strategy.targetWeights()
            let inputs = try await gather(targets: weights.weights)
            let plan = try RebalancePlanner.plan(inputs, options: options)
            var sells = plan.sells.map { order(for: $0, phase: "sell", dryRun: dryRun) }
            var buys: [RebalanceOrder] = []
            if dryRun {
                // Buys as they would be sized after the sells: today's buying power plus the proceeds.
                let proceeds = plan.sells.reduce(Decimal(0)) { $0 + $1.estimatedValue }
                let fitted = RebalancePlanner.fitBuys(plan.buys, budget: plan.buyingPower + proceeds, options: options)
                buys = fitted.lines.map { order(for: $0, phase: "buy", dryRun: dryRun) }
                if let w = fitted.warning { try await journal.update { $0.warnings.append(w) } }
            }
            if let cap = options.maxNotional, plan.grossValue > cap {
                try await journal.update {
                    $0.plan = plan
                    $0.phase = .done
                }
                throw await finish(
                    failure: "the plan trades \(plan.grossValue.plainString) gross, over max_notional \(cap.plainString); nothing was placed",
                    dryRun: dryRun)
            }
            let tradable = !plan.sells.isEmpty || !plan.buys.isEmpty
            if tradable, !dryRun, !options.allowOutsideSession, !inSession(clock.now()) {
                try await journal.update { $0.plan = plan }
                throw await finish(
                    failure: "\(calendar.code) is not in session at \(ISO8601DateFormatter().string(from: clock.now())); no order was placed "
                        + "(set allow_outside_session: true to trade outside the session)", dryRun: dryRun)
            }
            if dryRun { sells += buys }
            let nextDate = weights.nextTradeDate
            let all = sells
            try await journal.update {
                $0.plan = plan
                $0.orders = all
                $0.warnings += plan.warnings
                $0.nextTradeDate = nextDate
                $0.phase = .sells
            }
        }
        if dryRun { return try await validateOnly() }
        if await journal.state.phase == .sells {
            try await work(phase: "sell")
            try await journal.update { $0.phase = .buys }
        }
        if await journal.state.phase == .buys {
            if await !journal.state.deadlineReached { try await buyPhase() }
            try await journal.update { $0.phase = .done }
        }
        return try await conclude()
    }

    // MARK: Phases

    private func buyPhase() async throws {
        let state = await journal.state
        if !state.orders.contains(where: { $0.phase == "buy" }) {
            guard let plan = state.plan else { return }
            let fresh = try await gather(
                targets: Dictionary(uniqueKeysWithValues: plan.lines.compactMap { l in (try? Symbol(l.symbol)).map { ($0, l.targetWeight) } }))
            let replanned = try RebalancePlanner.plan(fresh, options: options)
            var (buys, warning) = RebalancePlanner.fitBuys(replanned.buys, budget: fresh.buyingPower, options: options)
            var warnings = warning.map { [$0] } ?? []
            if let cap = options.maxNotional {
                let sold = state.orders.filter { $0.phase == "sell" }.reduce(Decimal(0)) { $0 + $1.filled * ($1.averagePrice ?? 0) }
                let room = cap - sold
                let wanted = buys.reduce(Decimal(0)) { $0 + $1.estimatedValue }
                if wanted > room {
                    let fitted = RebalancePlanner.fitBuys(buys, budget: max(0, room), options: options)
                    buys = fitted.lines
                    warnings.append("buys cut to stay within max_notional \(cap.plainString) (sold \(sold.rounded(scale: 2).plainString))")
                }
            }
            let orders = buys.map { order(for: $0, phase: "buy", dryRun: false) }
            let notes = warnings
            try await journal.update {
                $0.orders += orders
                $0.warnings += notes
                $0.lastPricedAt = nil
            }
        }
        try await work(phase: "buy")
    }

    /// Places the phase's orders, then polls, replaces and (at the deadline) cancels until every
    /// one is final.
    private func work(phase: String) async throws {
        for o in await journal.state.orders where o.phase == phase && o.orderID == nil && o.state != .rejected {
            try await place(o)
        }
        if await journal.state.lastPricedAt == nil {
            let now = clock.now()
            try await journal.update { $0.lastPricedAt = now }
        }
        while true {
            try await refresh()
            let state = await journal.state
            let open = state.orders.filter { $0.phase == phase && $0.orderID != nil && !$0.state.isTerminal }
            if open.isEmpty { return }
            let now = clock.now()
            let deadline = state.deadline ?? now
            if now >= deadline || (!options.allowOutsideSession && !inSession(now)) {
                try await cancel(open, phase: phase)
                try await journal.update { $0.deadlineReached = true }
                return
            }
            if let last = state.lastPricedAt, now.timeIntervalSince(last) >= options.replanAfter.inSeconds {
                try await replan(open, phase: phase)
            }
            let wait = min(options.pollEvery.inSeconds, max(0.001, deadline.timeIntervalSince(now)))
            try await clock.sleep(.milliseconds(Int64((wait * 1000).rounded(.up))))
        }
    }

    private func place(_ o: RebalanceOrder) async throws {
        let step = "place/\(o.phase)/0/\(o.symbol)"
        guard let price = o.steps.last?.price else { return }
        let request = try OrderRequest(
            symbol: try Symbol(o.symbol), side: o.side, quantity: try Quantity(o.quantity), type: .limit(price), timeInForce: .day,
            key: try IdempotencyKey(o.confirmID))
        let broker = self.broker
        let account = self.account
        let finder = self
        let outcome: PlacedOutcome = try await journal.perform(
            step: step, target: broker.brokerName, what: "\(o.side.rawValue) \(o.quantity.plainString) \(o.symbol) @ \(price.plainString)"
        ) { key in
            try await finder.findPlaced(key: key, order: o)
        } act: { _ in
            do {
                return PlacedOutcome(orderID: try await broker.place(request, account: account).orderID, rejected: nil)
            } catch let error as BrokerError where error.isRejected || error.isInsufficientFunds {
                if error.message.contains("Duplicate OrderConfirmID") {
                    throw JobFailure(
                        "\(o.symbol): the order with confirm id \(o.confirmID) was sent before but cannot be found at the broker; "
                            + "check account \(account) before running again", retryable: false)
                }
                return PlacedOutcome(orderID: nil, rejected: error.message)
            }
        }
        try await journal.update { s in
            guard let i = s.orders.firstIndex(where: { $0.confirmID == o.confirmID }) else { return }
            s.orders[i].orderID = outcome.orderID
            if let reason = outcome.rejected {
                s.orders[i].state = .rejected
                s.orders[i].rejectReason = reason
            }
        }
    }

    /// Reconciliation of a placement whose outcome was not recorded: the broker's open, today's
    /// and closed-today orders, by client order id where the broker echoes it, else the one
    /// unclaimed order of the same symbol, side and quantity opened since the run started.
    func findPlaced(key: String, order o: RebalanceOrder) async throws -> PlacedOutcome? {
        var all = try await broker.orders(account: account)
        let started = await journal.state.startedAt ?? .distantPast
        if let closed = broker as? any ClosedOrderListing {
            let known = Set(all.map(\.id))
            all += try await closed.closedOrders(account: account, since: started.addingTimeInterval(-86_400))
                .filter { !known.contains($0.id) }
        }
        if let exact = all.first(where: { $0.key == key }) {
            return PlacedOutcome(orderID: exact.id, rejected: exact.state == .rejected ? exact.rejectReason ?? "rejected" : nil)
        }
        let claimed = Set(await journal.state.orders.compactMap(\.orderID))
        let candidates = all.filter {
            !claimed.contains($0.id) && $0.symbol?.rawValue == o.symbol && $0.side == o.side && $0.quantity == o.quantity
                && ($0.openedAt ?? .distantFuture) >= started.addingTimeInterval(-5)
        }
        guard let found = candidates.max(by: { ($0.openedAt ?? .distantPast) < ($1.openedAt ?? .distantPast) }) else { return nil }
        context.logger.notice("reconciled an unrecorded placement", metadata: ["symbol": "\(o.symbol)", "order": "\(found.id)"])
        return PlacedOutcome(orderID: found.id, rejected: found.state == .rejected ? found.rejectReason ?? "rejected" : nil)
    }

    /// Reads the broker's view of every placed, unfinished order.
    private func refresh() async throws {
        let state = await journal.state
        let ids = state.orders.filter { $0.orderID != nil && !$0.state.isTerminal }.compactMap(\.orderID)
        guard !ids.isEmpty else { return }
        var byID: [String: Order] = [:]
        for o in try await broker.orders(account: account) where ids.contains(o.id) { byID[o.id] = o }
        for id in ids where byID[id] == nil { byID[id] = try await broker.order(id: id, account: account) }
        let seen = byID
        try await journal.update { s in
            for i in s.orders.indices {
                guard let id = s.orders[i].orderID, let o = seen[id] else { continue }
                s.orders[i].filled = o.filledQuantity
                s.orders[i].averagePrice = o.averageFillPrice
                s.orders[i].state = o.state == .unknown ? .working : o.state
                if let r = o.rejectReason { s.orders[i].rejectReason = r }
            }
        }
    }

    /// The next price step for every open order, from fresh quotes; replaced in place.
    private func replan(_ open: [RebalanceOrder], phase: String) async throws {
        let symbols = open.compactMap { try? Symbol($0.symbol) }
        let quotes = Dictionary(try await broker.quotes(symbols).items.map { ($0.symbol.rawValue, $0) }, uniquingKeysWith: { a, _ in a })
        let round = (phase == "sell" ? await journal.state.sellRounds : await journal.state.buyRounds) + 1
        let now = clock.now()
        try await journal.update {
            if phase == "sell" { $0.sellRounds = round } else { $0.buyRounds = round }
            $0.lastPricedAt = now
        }
        for o in open {
            guard let id = o.orderID, let current = o.steps.last?.price else { continue }
            guard let q = quotes[o.symbol], RebalancePlanner.quoteProblem(q, now: now, requireFresh: !options.allowOutsideSession) == nil else {
                let note = "\(o.symbol): no usable quote at replan \(round); the order keeps \(current.plainString)"
                try await journal.update { $0.warnings.append(note) }
                continue
            }
            let arrival = Quote(symbol: q.symbol, bid: o.arrivalBid, ask: o.arrivalAsk, last: nil)
            let price = RebalancePricing.price(o.side, quote: q, round: round, arrival: arrival, pricing: options.pricing, previous: current)
            guard price != current else { continue }
            let broker = self.broker
            let account = self.account
            let replacement = try OrderReplacement(limitPrice: price)
            let outcome: DoneOutcome = try await journal.perform(
                step: "replace/\(phase)/\(round)/\(o.symbol)", target: broker.brokerName, what: "replace \(id) at \(price.plainString)"
            ) { _ in
                let now = try await broker.order(id: id, account: account)
                if now.state.isTerminal { return DoneOutcome(note: "final before the replace") }
                return now.limitPrice == price ? DoneOutcome(note: "replaced") : nil
            } act: { _ in
                do {
                    try await broker.replace(orderID: id, account: account, with: replacement)
                    return DoneOutcome(note: "replaced")
                } catch let error as BrokerError where error.isRejected || error.isNotFound {
                    return DoneOutcome(note: "not replaced: \(error.message)")
                }
            }
            guard outcome.note == "replaced" else { continue }
            try await journal.update { s in
                guard let i = s.orders.firstIndex(where: { $0.confirmID == o.confirmID }) else { return }
                s.orders[i].steps.append(PriceStep(round: round, price: price, at: now))
            }
        }
    }

    /// Cancels what is left at the deadline and waits (a few reads) for the cancels to settle.
    private func cancel(_ open: [RebalanceOrder], phase: String) async throws {
        let broker = self.broker
        let account = self.account
        for o in open {
            guard let id = o.orderID else { continue }
            let _: DoneOutcome = try await journal.perform(step: "cancel/\(phase)/\(o.symbol)", target: broker.brokerName, what: "cancel \(id)") { _ in
                try await broker.order(id: id, account: account).state.isTerminal ? DoneOutcome(note: "final") : nil
            } act: { _ in
                do {
                    try await broker.cancel(orderID: id, account: account)
                    return DoneOutcome(note: "cancel sent")
                } catch let error as BrokerError where error.isRejected || error.isNotFound {
                    return DoneOutcome(note: "not cancelled: \(error.message)")
                }
            }
        }
        for _ in 0..<Self.settleReads {
            try await refresh()
            if await !journal.state.orders.contains(where: { $0.phase == phase && $0.orderID != nil && !$0.state.isTerminal }) { return }
            try await clock.sleep(options.pollEvery)
        }
    }

    // MARK: Dry run and conclusion

    private func validateOnly() async throws -> RunOutcome {
        let confirming = broker as? any OrderConfirming
        var notes: [String: String] = [:]
        for o in await journal.state.orders where o.confirmation == nil {
            guard let price = o.steps.last?.price else { continue }
            let request = try OrderRequest(
                symbol: try Symbol(o.symbol), side: o.side, quantity: try Quantity(o.quantity), type: .limit(price),
                key: try IdempotencyKey(o.confirmID))
            if let confirming {
                do {
                    let c = try await confirming.confirm(request, account: account)
                    notes[o.confirmID] = c.summary + (c.estimatedCost.map { ", estimated cost \($0.plainString)" } ?? "")
                } catch let error as BrokerError where error.isRejected || error.isInsufficientFunds || error.isInvalidInput {
                    notes[o.confirmID] = "REFUSED: \(error.message)"
                }
            } else {
                notes[o.confirmID] = "not validated: \(broker.brokerName) has no confirm endpoint"
            }
        }
        let found = notes
        try await journal.update { s in
            for i in s.orders.indices { if let n = found[s.orders[i].confirmID] { s.orders[i].confirmation = n } }
            s.phase = .done
        }
        let summary = try await summarize(outcome: "dry-run", message: "dry run: nothing placed", final: nil)
        try? await context.events.record("rebalance-done", context.secrets.redact(summary.line))
        let refused = summary.orders.filter { $0.confirmation?.hasPrefix("REFUSED") == true }
        if !refused.isEmpty {
            throw JobFailure(
                "dry run: the broker refused \(refused.map(\.symbol).joined(separator: ", ")); nothing was placed", detail: summary.json(), retryable: false)
        }
        return RunOutcome(summary: summary.line, detail: summary.json())
    }

    private func conclude() async throws -> RunOutcome {
        let state = await journal.state
        guard let plan = state.plan else { throw JobFailure("the run has no plan", retryable: false) }
        let targets = Dictionary(uniqueKeysWithValues: plan.lines.compactMap { l in (try? Symbol(l.symbol)).map { ($0, l.targetWeight) } })
        let finalInputs = try await gather(targets: targets)
        var check = options
        check.minTrade = max(options.minTrade, 0)
        let final = try? RebalancePlanner.plan(finalInputs, options: check)
        var residuals: [String] = []
        for l in final?.lines ?? [] where l.side != nil {
            let w = (l.currentWeight * 100).rounded(scale: 2).plainString
            residuals.append(
                "\(l.symbol) at \(w)% vs target \((l.targetWeight * 100).rounded(scale: 2).plainString)% (\(l.side!.rawValue) \(abs(l.delta).plainString) left)"
            )
        }
        if final == nil { residuals.append("final quotes unusable: weights could not be checked") }
        let outcome = residuals.isEmpty ? "succeeded" : "failed"
        let message =
            residuals.isEmpty
            ? "final weights within drift \((options.drift * 100).plainString)%"
            : "final weights off target\(state.deadlineReached ? " at the deadline" : ""): \(residuals.joined(separator: "; "))"
        let summary = try await summarize(outcome: outcome, message: message, final: (finalInputs, final), residuals: residuals)
        try? await context.events.record("rebalance-done", context.secrets.redact(summary.line))
        if residuals.isEmpty { return RunOutcome(summary: summary.line, detail: summary.json()) }
        throw JobFailure("rebalance incomplete: \(message)", detail: summary.json(), retryable: false)
    }

    /// Records a failure before anything was placed (with the plan as the summary) and returns it.
    private func finish(failure: String, dryRun: Bool) async -> JobFailure {
        let summary = try? await summarize(outcome: "failed", message: failure, final: nil)
        if summary != nil { try? await context.events.record("rebalance-done", context.secrets.redact("rebalance failed: \(failure)")) }
        return JobFailure(failure, detail: summary?.json(), retryable: false)
    }

    private func summarize(
        outcome: String, message: String, final: (RebalanceInputs, RebalancePlan?)?, residuals: [String] = []
    ) async throws -> RebalanceSummary {
        let state = await journal.state
        let plan = state.plan
        let after = final?.0
        var holdings: [RebalanceHolding] = []
        for l in plan?.lines ?? [] {
            let symbol = try? Symbol(l.symbol)
            let qty = symbol.flatMap { after?.positions[$0] } ?? (after == nil ? nil : 0)
            var weight: Decimal?
            if let after, let qty, let s = symbol, let q = after.quotes[s], let p = q.twoSidedMid ?? q.last, after.equity > 0 {
                weight = (qty * p / after.equity).rounded(scale: 6)
            }
            holdings.append(
                RebalanceHolding(
                    symbol: l.symbol, quantityBefore: l.currentQuantity, weightBefore: l.currentWeight, targetWeight: l.targetWeight,
                    targetQuantity: l.targetQuantity, quantityAfter: qty, weightAfter: weight))
        }
        var orders = state.orders
        for i in orders.indices { orders[i].slippageBps = orders[i].measuredSlippageBps }
        var summary = RebalanceSummary(
            outcome: outcome, message: message, broker: broker.brokerName, account: account, dryRun: outcome == "dry-run",
            startedAt: state.startedAt, deadline: state.deadline, equityBefore: plan?.equity ?? 0, equityAfter: after?.equity,
            cashBefore: plan?.cash ?? 0, cashAfter: after?.cash, cashBuffer: plan?.cashBuffer ?? 0, grossPlanned: plan?.grossValue ?? 0,
            sellRounds: state.sellRounds, buyRounds: state.buyRounds, deadlineReached: state.deadlineReached, holdings: holdings,
            orders: orders, residuals: residuals, warnings: state.warnings, nextTradeDate: state.nextTradeDate)
        summary.slippageBps = summary.measuredSlippageBps
        return summary
    }

    // MARK: Inputs, session, deadline

    /// Targets, positions, balances and quotes (the broker batches at most 100 symbols a request).
    func gather(targets: [Symbol: Decimal]) async throws -> RebalanceInputs {
        let balance = try await broker.balance(account: account)
        var positions: [Symbol: Decimal] = [:]
        for p in try await broker.positions(account: account) { positions[p.symbol, default: 0] += p.quantity }
        var symbols = Set(targets.keys)
        for (s, q) in positions where q != 0 { symbols.insert(s) }
        var quotes: [Symbol: Quote] = [:]
        let sorted = symbols.sorted()
        var start = 0
        while start < sorted.count {
            let batch = Array(sorted[start..<min(start + 100, sorted.count)])
            start += 100
            for q in try await broker.quotes(batch).items { quotes[q.symbol] = q }
        }
        let now = clock.now()
        return RebalanceInputs(
            targets: targets, positions: positions, equity: balance.equity, cash: balance.cash, buyingPower: balance.buyingPower, quotes: quotes,
            now: now, requireFreshQuotes: inSession(now))
    }

    /// A tracked order for a plan line, priced at round 0.
    private func order(for line: PlanLine, phase: String, dryRun: Bool) -> RebalanceOrder {
        let side = line.side ?? .buy
        let q = Quote(symbol: (try? Symbol(line.symbol)) ?? "X", bid: line.bid, ask: line.ask, last: nil)
        let price = line.estimatedPrice ?? RebalancePricing.price(side, quote: q, round: 0, arrival: q, pricing: options.pricing)
        return RebalanceOrder(
            phase: phase, symbol: line.symbol, side: side, quantity: abs(line.delta),
            confirmID: context.idempotencyKey(step: "\(dryRun ? "dry" : "live")/\(phase)/0/\(line.symbol)"), orderID: nil,
            steps: [PriceStep(round: 0, price: price, at: clock.now())], arrivalBid: line.bid ?? 0, arrivalAsk: line.ask ?? 0)
    }

    /// Whether `date` falls in a session of the calendar.
    func inSession(_ date: Date) -> Bool {
        let instant = Instant(date)
        let day = calendar.zone.local(instant).date
        return calendar.sessions(in: day.adding(days: -1)...day.adding(days: 1)).contains { $0.open <= instant && instant < $0.close }
    }

    private func deadlineInstant(startedAt: Date) -> Date {
        switch options.deadline {
        case .after(let d): return startedAt.addingTimeInterval(d.inSeconds)
        case .market(let market, let at, let offset):
            let cal = market.calendar()
            let instant = Instant(startedAt)
            let day = cal.zone.local(instant).date
            guard let session = cal.sessions(in: day...day.adding(days: 7)).first(where: { $0.close > instant }) else { return startedAt }
            return (at == "open" ? session.open : session.close).date.addingTimeInterval(offset.inSeconds)
        }
    }
}

extension Duration {
    /// Seconds as a double.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
