import Brokers
import Foundation
import Logging
import Scheduler

/// The run's side effects: placing, reconciling, replacing and cancelling orders, each through
/// the intent journal, and the cleanup every terminal exit goes through.
extension RebalanceExecution {
    // MARK: Place

    func place(_ o: RebalanceOrder) async throws {
        guard let step = o.step, let price = o.steps.last?.price else { return }
        let request = try OrderRequest(
            symbol: try Symbol(o.symbol), side: o.side, quantity: try Quantity(o.quantity), type: .limit(price), timeInForce: .day,
            key: try IdempotencyKey(o.confirmID))
        let broker = self.broker
        let account = self.account
        let finder = self
        // A pending intent means an earlier send's outcome is unknown: this send is a re-send.
        let resend = await journal.entries.contains { $0.step == step && $0.outcome == nil }
        let outcome: PlacedOutcome = try await journal.perform(
            step: step, target: broker.brokerName, what: "\(o.side.rawValue) \(o.quantity.plainString) \(o.symbol) @ \(price.plainString)"
        ) { key in
            try await finder.findPlaced(key: key, order: o)
        } act: { key in
            do {
                return PlacedOutcome(orderID: try await broker.place(request, account: account).orderID, rejected: nil)
            } catch let error as BrokerError where error.isRejected || error.isInsufficientFunds {
                guard resend else { return PlacedOutcome(orderID: nil, rejected: error.message) }
                // A re-send refused: the first send may have landed after all (whatever the
                // broker's wording). Look again; never guess.
                if let found = try await finder.findPlaced(key: key, order: o) { return found }
                throw JobFailure(
                    "\(o.symbol): the order with confirm id \(key) may have been sent before, but the broker refused it again "
                        + "(\(error.message)) and no matching order can be found; check account \(account)", retryable: false)
            }
        }
        try await journal.update { s in
            guard let i = s.orders.firstIndex(where: { $0.confirmID == o.confirmID }) else { return }
            s.orders[i].orderID = outcome.orderID
            s.orders[i].sentAt = s.orders[i].sentAt ?? o.steps.first?.at
            if let reason = outcome.rejected {
                s.orders[i].state = .rejected
                s.orders[i].rejectReason = reason
                if !(s.blocked ?? []).contains(o.symbol) { s.blocked = (s.blocked ?? []) + [o.symbol] }
            }
        }
    }

    /// Reconciliation of a placement whose outcome was not recorded: the broker's open and
    /// closed-today orders, by client order id where the broker echoes it (paper), else the one
    /// order of the same symbol, side, quantity and limit opened since the run started that
    /// neither this run nor the account had before. More than one candidate (or one whose open
    /// time is unknown) stops the run with an alert naming them: it never guesses.
    func findPlaced(key: String, order o: RebalanceOrder) async throws -> PlacedOutcome? {
        var all = try await broker.orders(account: account)
        let state = await journal.state
        let started = state.startedAt ?? .distantPast
        if let closed = broker as? any ClosedOrderListing {
            let known = Set(all.map(\.id))
            all += try await closed.closedOrders(account: account, since: started.addingTimeInterval(-86_400)).filter { !known.contains($0.id) }
        }
        if let exact = all.first(where: { $0.key == key }) {
            return PlacedOutcome(orderID: exact.id, rejected: exact.state == .rejected ? exact.rejectReason ?? "rejected" : nil)
        }
        let claimed = Set(state.orders.compactMap(\.orderID)).union(state.foreign ?? [])
        // The broker's clock may run behind ours: its open time is compared with a slack.
        let since = started.addingTimeInterval(-300)
        let candidates = all.filter {
            !claimed.contains($0.id) && $0.key == nil && $0.symbol?.rawValue == o.symbol && $0.side == o.side && $0.quantity == o.quantity
                && $0.limitPrice == o.steps.first?.price && ($0.openedAt.map { $0 >= since } ?? true)
        }
        if candidates.count > 1 || candidates.first.map({ $0.openedAt == nil }) == true {
            let names = candidates.map(describe).joined(separator: "; ")
            try? await context.events.record("rebalance-ambiguous", "\(o.symbol): more than one order could be this run's \(o.confirmID): \(names)")
            throw JobFailure(
                "cannot tell which order is this run's \(o.side.rawValue) \(o.quantity.plainString) \(o.symbol) (confirm id \(key)): "
                    + "candidates \(names); stopping without guessing — check account \(account)", retryable: false)
        }
        guard let found = candidates.first else { return nil }
        context.logger.notice("reconciled an unrecorded placement", metadata: ["symbol": "\(o.symbol)", "order": "\(found.id)"])
        return PlacedOutcome(orderID: found.id, rejected: found.state == .rejected ? found.rejectReason ?? "rejected" : nil)
    }

    // MARK: Refresh, replace, cancel

    /// Reads the broker's view of every placed, unfinished order. An order the broker ended as
    /// replaced (`UCH`) is followed to its replacement, never counted as cancelled.
    func refresh() async throws {
        let state = await journal.state
        let ids = state.orders.filter { $0.orderID != nil && !$0.state.isTerminal }.compactMap(\.orderID)
        guard !ids.isEmpty else { return }
        let listed = try await broker.orders(account: account)
        var byID: [String: Order] = [:]
        for o in listed where ids.contains(o.id) { byID[o.id] = o }
        for id in ids where byID[id] == nil { byID[id] = try await broker.order(id: id, account: account) }
        var successor: [String: String] = [:]
        let claimed = Set(state.orders.compactMap(\.orderID)).union(state.foreign ?? [])
        for (id, o) in byID where o.brokerStatus == "UCH" {
            guard let mine = state.orders.first(where: { $0.orderID == id }) else { continue }
            let next = listed.filter {
                !claimed.contains($0.id) && !$0.state.isTerminal && $0.symbol?.rawValue == mine.symbol && $0.side == mine.side
                    && $0.limitPrice == mine.steps.last?.price
            }
            if next.count == 1 { successor[id] = next[0].id }
        }
        let seen = byID
        let follow = successor
        try await journal.update { s in
            for i in s.orders.indices {
                guard let id = s.orders[i].orderID, let o = seen[id] else { continue }
                if o.brokerStatus == "UCH" {
                    // Replaced: its fills count, the rest works under the successor.
                    if let next = follow[id] { s.orders[i].orderID = next }
                    continue
                }
                s.orders[i].filled = o.filledQuantity
                s.orders[i].averagePrice = o.averageFillPrice
                s.orders[i].state = o.state == .unknown ? .working : o.state
                if let r = o.rejectReason { s.orders[i].rejectReason = r }
                // Rejected after acceptance: not tried again in a later round either.
                if o.state == .rejected, !(s.blocked ?? []).contains(s.orders[i].symbol) { s.blocked = (s.blocked ?? []) + [s.orders[i].symbol] }
            }
        }
    }

    /// The next price step for every open order, from fresh quotes; each replace behind the gate.
    func replan(_ open: [RebalanceOrder], phase: String) async throws {
        let symbols = open.compactMap { try? Symbol($0.symbol) }
        let quotes = Dictionary(try await broker.quotes(symbols).items.map { ($0.symbol.rawValue, $0) }, uniquingKeysWith: { a, _ in a })
        let round = (phase == "sell" ? await journal.state.sellRounds : await journal.state.buyRounds) + 1
        let now = clock.now()
        var notes: [String] = []
        for o in open {
            guard await gate() == nil else { break }
            guard let current = o.steps.last?.price else { continue }
            guard let q = quotes[o.symbol], RebalancePlanner.quoteProblem(q, now: now, requireFresh: !options.allowOutsideSession) == nil else {
                notes.append("\(o.symbol): no usable quote at replan \(round); the order keeps \(current.plainString)")
                continue
            }
            let arrival = Quote(symbol: q.symbol, bid: o.arrivalBid, ask: o.arrivalAsk, last: nil)
            let price = RebalancePricing.price(o.side, quote: q, round: round, arrival: arrival, pricing: options.pricing, previous: current)
            guard price != current else { continue }
            try await replace(o, at: price, round: round)
        }
        let warnings = notes
        try await journal.update {
            if phase == "sell" { $0.sellRounds = round } else { $0.buyRounds = round }
            $0.lastPricedAt = now
            for w in warnings where !$0.warnings.contains(w) { $0.warnings.append(w) }
        }
    }

    /// One replace, journaled under a step named by the order's next price step (so a resumed
    /// run reconciles the same step), following the id the broker answers with.
    private func replace(_ o: RebalanceOrder, at price: Decimal, round: Int) async throws {
        guard let id = o.orderID else { return }
        let step = "replace/\(o.confirmID)/\(o.steps.count)"
        let replacement = try OrderReplacement(limitPrice: price)
        let broker = self.broker
        let account = self.account
        let me = self
        let outcome: DoneOutcome = try await journal.perform(step: step, target: broker.brokerName, what: "replace \(id) at \(price.plainString)") { _ in
            try await me.reconcileReplace(of: o, at: price)
        } act: { _ in
            do {
                let next = try await broker.replaceOrder(orderID: id, account: account, with: replacement)
                return DoneOutcome(note: "replaced", orderID: next)
            } catch let error as BrokerError where error.isRejected || error.isNotFound {
                return DoneOutcome(note: "not replaced: \(error.message)")
            }
        }
        try await applyReplace(outcome, to: o, price: price, round: round)
    }

    private func applyReplace(_ outcome: DoneOutcome, to o: RebalanceOrder, price: Decimal, round: Int) async throws {
        guard outcome.note == "replaced" else { return }
        let now = clock.now()
        try await journal.update { s in
            guard let i = s.orders.firstIndex(where: { $0.confirmID == o.confirmID }) else { return }
            if let next = outcome.orderID { s.orders[i].orderID = next }
            s.orders[i].steps.append(PriceStep(round: round, price: price, at: now))
        }
    }

    /// Whether a replace of `o` to `price` happened: the order (or its `UCH` successor) at that price.
    func reconcileReplace(of o: RebalanceOrder, at price: Decimal) async throws -> DoneOutcome? {
        guard let id = o.orderID else { return DoneOutcome(note: "never placed") }
        let current = try await broker.order(id: id, account: account)
        if current.brokerStatus == "UCH" {
            let state = await journal.state
            let claimed = Set(state.orders.compactMap(\.orderID)).union(state.foreign ?? [])
            let next = try await broker.orders(account: account).filter {
                !claimed.contains($0.id) && $0.symbol?.rawValue == o.symbol && $0.side == o.side && $0.limitPrice == price
            }
            return next.count == 1 ? DoneOutcome(note: "replaced", orderID: next[0].id) : nil
        }
        if current.state.isTerminal { return DoneOutcome(note: "final before the replace") }
        return current.limitPrice == price ? DoneOutcome(note: "replaced", orderID: id) : nil
    }

    /// Cancels `open` and waits (a bounded number of reads) for the cancels to settle.
    func cancel(_ open: [RebalanceOrder]) async throws {
        for o in open {
            guard let id = o.orderID else { continue }
            try await cancelOrder(id, step: "cancel/\(o.confirmID)/\(id)")
        }
        try await settle()
    }

    /// Cancels order `id` through the journal under `step`: an order already final (or `UCN`)
    /// needs nothing, and a refusal or an unknown id is an outcome, not an error.
    func cancelOrder(_ id: String, step: String) async throws {
        let broker = self.broker
        let account = self.account
        let _: DoneOutcome = try await journal.perform(step: step, target: broker.brokerName, what: "cancel \(id)") { _ in
            let now = try await broker.order(id: id, account: account)
            return now.state.isTerminal || now.brokerStatus == "UCN" ? DoneOutcome(note: "final") : nil
        } act: { _ in
            do {
                try await broker.cancel(orderID: id, account: account)
                return DoneOutcome(note: "cancel sent")
            } catch let error as BrokerError where error.isRejected || error.isNotFound {
                return DoneOutcome(note: "not cancelled: \(error.message)")
            }
        }
    }

    /// Reads until none of the run's orders is working, at most ``settleReads`` times.
    func settle() async throws {
        for _ in 0..<Self.settleReads {
            try await refresh()
            if await !journal.state.orders.contains(where: { $0.orderID != nil && !$0.state.isTerminal }) { return }
            try await clock.sleep(.seconds(1))
        }
    }

    /// `existing_orders: cancel`: cancels the account's working orders on the plan's symbols.
    func cancelForeign(_ orders: [Order]) async throws {
        for o in orders {
            try await cancelOrder(o.id, step: "cancel-existing/\(o.id)")
        }
        for _ in 0..<Self.settleReads {
            let open = try await broker.orders(account: account).filter { o in orders.contains { $0.id == o.id } && !o.state.isTerminal }
            if open.isEmpty { return }
            try await clock.sleep(.seconds(1))
        }
    }

    // MARK: Resume and cleanup

    /// Resolves every intent without an outcome (place, replace, cancel) with the broker before
    /// anything new is sent: on every resume (takeover, retry) and after a transient failure.
    func reconcilePending() async throws {
        for entry in await journal.pending {
            let state = await journal.state
            if entry.step.hasPrefix("place/") {
                guard let o = state.orders.first(where: { $0.step == entry.step }), o.orderID == nil else { continue }
                if let found = try await findPlaced(key: entry.key, order: o) {
                    try await journal.resolve(step: entry.step, outcome: found)
                    try await journal.update { s in
                        guard let i = s.orders.firstIndex(where: { $0.step == entry.step }) else { return }
                        s.orders[i].orderID = found.orderID
                        if let r = found.rejected {
                            s.orders[i].state = .rejected
                            s.orders[i].rejectReason = r
                        }
                    }
                }
                // Not found: the placement is re-performed (and reconciled again) when its phase runs.
            } else if entry.step.hasPrefix("replace/") {
                let parts = entry.step.split(separator: "/")
                guard parts.count == 3, let o = state.orders.first(where: { $0.confirmID == parts[1] }),
                    let price = entry.what.split(separator: " ").last.flatMap({ Decimal(exactly: String($0)) })
                else { continue }
                if let done = try await reconcileReplace(of: o, at: price) {
                    try await journal.resolve(step: entry.step, outcome: done)
                    try await applyReplace(done, to: o, price: price, round: o.steps.count)
                } else {
                    try await journal.forget(step: entry.step)
                }
            } else if entry.step.hasPrefix("cancel") {
                guard let id = entry.step.split(separator: "/").last.map(String.init) else { continue }
                let now = try await broker.order(id: id, account: account)
                if now.state.isTerminal || now.brokerStatus == "UCN" {
                    try await journal.resolve(step: entry.step, outcome: DoneOutcome(note: "final"))
                } else {
                    try await journal.forget(step: entry.step)
                }
            }
        }
    }

    /// Every terminal exit (failure, timeout, cancellation, deadline, release): reconciles the
    /// pending placements, cancels every order of the run that is not final, waits (bounded) for
    /// the cancels and names what may still be working. Runs outside the run's (possibly
    /// cancelled) task; returns the error to throw.
    func cleanup(after error: any Error) async -> any Error {
        // A lost lease: the taker resumes this journal's orders; cancelling them is not ours.
        if context.stopIsFenced() { return error }
        let me = self
        let open = await Task { await me.cancelEverything() }.value
        if error is CancellationError || Task.isCancelled { return error }
        var message: String
        var retryable = false
        var detail: String?
        switch error {
        case let f as JobFailure where f.kind == .jobFailed:
            message = f.message
            retryable = f.retryable
            detail = f.detail
        case let b as BrokerError:
            message = context.secrets.redact(b.description)
            retryable = b.isRetryable
        default:
            message = String(describing: error)
        }
        if !open.isEmpty {
            message += "; \(open.count) order(s) may still be working: \(open.joined(separator: ", "))"
        }
        let summary = try? await summarize(outcome: "failed", message: message, final: nil)
        if summary != nil, detail == nil || !open.isEmpty {
            detail = summary?.json()
            await recordDone(context.secrets.redact("rebalance failed: \(message)"), at: "exit")
        }
        return JobFailure(message, detail: detail, retryable: retryable)
    }

    /// Cancels every working order of the run, best effort; returns those that may still work.
    private func cancelEverything() async -> [String] {
        for entry in await journal.pending where entry.step.hasPrefix("place/") {
            let state = await journal.state
            guard let o = state.orders.first(where: { $0.step == entry.step }), o.orderID == nil,
                let found = try? await findPlaced(key: entry.key, order: o), let id = found.orderID
            else { continue }
            try? await journal.resolve(step: entry.step, outcome: found)
            try? await journal.update { s in
                if let i = s.orders.firstIndex(where: { $0.step == entry.step }) { s.orders[i].orderID = id }
            }
        }
        try? await refresh()
        let open = await journal.state.orders.filter { $0.orderID != nil && !$0.state.isTerminal }
        for o in open {
            guard let id = o.orderID else { continue }
            do {
                try await broker.cancel(orderID: id, account: account)
            } catch {
                context.logger.warning("cancel at the run's end failed", metadata: ["order": "\(id)", "error": "\(error)"])
            }
        }
        var left = open
        for _ in 0..<Self.settleReads where !left.isEmpty {
            var still: [RebalanceOrder] = []
            for o in left {
                guard let id = o.orderID, let now = try? await broker.order(id: id, account: account) else {
                    still.append(o)
                    continue
                }
                if !now.state.isTerminal { still.append(o) }
            }
            left = still
            if left.isEmpty { break }
            try? await clock.sleep(.seconds(1))
        }
        try? await refresh()
        let names = left.map { "\($0.orderID ?? "?") (\($0.side.rawValue) \($0.quantity.plainString) \($0.symbol))" }
        try? await journal.update {
            $0.mayBeWorking = names
            $0.lastPricedAt = nil
        }
        return names
    }

    /// Records the `rebalance-done` event once per attempt, through the journal: an owner that
    /// takes the run over after the event (before the run's end was recorded) does not send it
    /// again. A pending intent is taken as recorded (at most once: no duplicate alert). `point`
    /// tells the conclusion's event from the one an exit adds when orders may still be working.
    func recordDone(_ message: String, at point: String = "end") async {
        let events = context.events
        let _: DoneOutcome? = try? await journal.perform(
            step: "event/rebalance-done/\(point)/\(context.attempt)", target: "events", what: "record rebalance-done"
        ) { _ in
            DoneOutcome(note: "taken as recorded")
        } act: { _ in
            try await events.record("rebalance-done", message)
            return DoneOutcome(note: "recorded")
        }
    }

    /// A refusal before anything was placed: recorded with the plan as the summary.
    func refuse(_ reason: String) async -> JobFailure {
        try? await journal.update { $0.phase = .done }
        let summary = try? await summarize(outcome: "failed", message: reason, final: nil)
        if summary != nil { await recordDone(context.secrets.redact("rebalance failed: \(reason)")) }
        return JobFailure(reason, detail: summary?.json(), retryable: false)
    }

    // MARK: Dry run and conclusion

    func validateOnly() async throws -> RunOutcome {
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
        await recordDone(context.secrets.redact(summary.line))
        let refused = summary.orders.filter { $0.confirmation?.hasPrefix("REFUSED") == true }
        if !refused.isEmpty {
            throw JobFailure(
                "dry run: the broker refused \(refused.map(\.symbol).joined(separator: ", ")); nothing was placed", detail: summary.json(), retryable: false)
        }
        return RunOutcome(summary: summary.line, detail: summary.json())
    }

    /// The final check, from fresh figures with the same rules as the plan.
    func conclude() async throws -> RunOutcome {
        let state = await journal.state
        guard state.plan != nil else { throw JobFailure("the run has no plan", retryable: false) }
        var targets: [Symbol: Decimal] = [:]
        for (k, v) in state.targets ?? [:] { if let s = try? Symbol(k) { targets[s] = v } }
        let (gathered, foreign) = try await gather(targets: targets, strict: false)
        var finalInputs = gathered
        if options.existingOrders == .include { finalInputs.workingOrders = foreign }
        let final = try? RebalancePlanner.plan(finalInputs, options: options, strict: false)
        var residuals: [String] = []
        for l in final?.unfinished ?? [] {
            let w = (l.currentWeight * 100).rounded(scale: 2).plainString
            let left = l.side.map { "\($0.rawValue) \(abs(l.delta).plainString) left" } ?? (l.skip ?? "")
            residuals.append("\(l.symbol) at \(w)% vs target \((l.targetWeight * 100).rounded(scale: 2).plainString)% (\(left))")
        }
        for o in state.orders where o.notPlaced != nil && !residuals.contains(where: { $0.hasPrefix(o.symbol + " ") }) {
            residuals.append("\(o.symbol): \(o.side.rawValue) \(o.quantity.plainString) not placed (\(o.notPlaced!))")
        }
        if final == nil { residuals.append("final quotes unusable: weights could not be checked") }
        // Buys the cash cannot cover are the end of the road, not a failure.
        let onlyUnaffordableBuys =
            state.stopReason?.hasPrefix("nothing more is affordable") == true && final?.unfinished.allSatisfy({ $0.side == .buy }) == true
            && !state.orders.contains { $0.notPlaced != nil || $0.state == .rejected }
        let succeeded = residuals.isEmpty || onlyUnaffordableBuys
        var message =
            residuals.isEmpty
            ? "final weights within drift \((options.drift * 100).plainString)%"
            : "final weights off target\(state.deadlineReached ? " at the deadline" : ""): \(residuals.joined(separator: "; "))"
        if onlyUnaffordableBuys { message = "within drift except buys the cash left cannot cover: \(residuals.joined(separator: "; "))" }
        if let reason = state.stopReason, !succeeded { message += " (\(reason))" }
        let summary = try await summarize(outcome: succeeded ? "succeeded" : "failed", message: message, final: (finalInputs, final), residuals: residuals)
        await recordDone(context.secrets.redact(summary.line))
        if succeeded { return RunOutcome(summary: summary.line, detail: summary.json()) }
        throw JobFailure("rebalance incomplete: \(message)", detail: summary.json(), retryable: false)
    }

    func summarize(outcome: String, message: String, final: (RebalanceInputs, RebalancePlan?)?, residuals: [String] = []) async throws -> RebalanceSummary {
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
        summary.rounds = state.round
        summary.stopReason = state.stopReason
        summary.mayBeWorking = state.mayBeWorking
        summary.slippageBps = summary.measuredSlippageBps
        return summary
    }
}
