import Brokers
import Foundation
import Logging
import Scheduler

/// Risk that always runs: the loss limit, stale quotes, and "flatten until flat", one flatten at
/// a time.
extension FuturesSession {
    /// The risk part of a tick, first on every tick: the loss (quotes may have stopped), stale
    /// quotes, a flatten in progress, orders whose outcome is unknown.
    func checkRisk() async {
        await checkLoss()
        await checkStaleQuotes()
        if flattening != nil { await flattenRound() }
        await reconcileUnknownOrders()
    }

    func checkLoss() async {
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
        await checkpoint()
        logger.error("risk limit reached", metadata: ["total": "\(total)", "limit": "\(settings.risk.dailyLossLimit)"])
        try? await context.events.record("risk-limit", context.secrets.redact(message))
        send(.riskLimit(message))
        await cancelWorking()
        await startFlatten()
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "running", locked: true, detail: statusDetail(), now: resources.wall())
    }

    func cancelWorking() async {
        for (id, _) in book.workingOrders {
            do {
                _ = try await cancelOrder(id)
            } catch {
                logger.warning("cancel failed", metadata: ["order": "\(id)", "error": "\(context.secrets.redact("\(error)"))"])
            }
        }
    }

    /// event (`risk-stale`); with `on_stale: flatten` working orders are cancelled, the position is
    /// flattened and no new order goes out until quotes come back.
    func checkStaleQuotes() async {
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
    func startFlatten() async {
        guard flattening == nil else { return }
        flattening = FlattenLoop(maxRounds: resources.flattenTicks)
        await flattenRound()
    }

    /// One round: read the broker's positions over REST; liquidate what is open (again, after a
    /// rejected, partial or late liquidation); after the last round record `flatten-failed`.
    func flattenRound() async {
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
            await checkpoint()
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
    func brokerPositions() async -> [Int64: Int] {
        await refreshPositions()
        return book.openPositions
    }
}
