import Brokers
import Foundation
import Logging
import Scheduler

/// Opening a session: the contracts, the sockets, the first snapshot, and what a takeover
/// finishes (pending orders, cancels and flattens) before the strategy starts.
extension FuturesSession {
    func open() async throws {
        for symbol in settings.symbols {
            let contract: TradovateContract
            do { contract = try await client.contract(named: symbol) } catch let e as BrokerError where e.isNotFound {
                throw JobFailure("Tradovate has no contract '\(symbol)'; fix symbols in jobs.yaml (e.g. MESZ6)", retryable: false)
            }
            contracts[symbol] = contract.id
            book.add(contract: contract.id, symbol: symbol, valuePerPoint: try await client.product(of: contract).valuePerPoint)
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

    func close() async {
        for p in pumps { p.cancel() }
        pumps.removeAll()
        stopStrategy()
        await trading.stop()
        await market.stop()
    }

    /// Applies a sync snapshot: the account (chosen from the first), positions, orders, clOrdIds,
    /// fills and fees.
    func apply(snapshot s: TradovateSyncSnapshot) async throws {
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
    func reconcilePending() async throws {
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

    /// After a takeover: a cancel whose outcome was never recorded is finished (reconciled from
    /// the order's status, and sent only while the order still works).
    func finishPendingCancels() async {
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

    /// After a takeover: liquidations whose outcome was never recorded are settled by the flatten
    /// that just re-read the broker's positions, so they are not replayed as they were.
    func resolvePendingFlattens() async {
        for entry in await journal.pending where entry.step.hasPrefix("flatten/") {
            try? await journal.resolve(step: entry.step, outcome: "replayed")
        }
        await reload()
    }
}
