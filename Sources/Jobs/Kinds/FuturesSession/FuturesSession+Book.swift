import Brokers
import Foundation
import Logging
import Scheduler

/// The broker's side: socket events applied to the ``SessionBook``, the changes told to the
/// strategy, the REST position re-read, and the checkpoint of the session's state.
extension FuturesSession {
    /// A market-data event: a quote of a session contract updates the book, ends a stale spell,
    /// reaches the strategy (coalesced) and checks the loss.
    func marketEvent(_ event: TradovateEvent) async {
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
    }

    func tradingEvent(_ event: TradovateEvent) async {
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

    func props(_ entity: TradovateEntity) async {
        let changes = book.apply(entity, state: &state)
        if changes.isEmpty, case .fillFee = entity { dirty = true }
        await report(changes)
    }

    /// Tells the strategy what the broker changed; a counted fill is saved and checks the loss.
    func report(_ changes: [SessionBook.Change]) async {
        for change in changes {
            dirty = true
            switch change {
            case .position(let cid, let net):
                if let symbol = book.symbols[cid] { send(.position(symbol: symbol, net: net)) }
            case .order(let id, let status):
                send(.order(id: id, status: status, tag: state.placed.first(where: { $0.value.orderID == id })?.key))
            case .fill(let f):
                await checkpoint()
                send(.fill(orderID: f.orderId, symbol: book.symbols[f.contractId] ?? "", side: f.isBuy ? "buy" : "sell", qty: f.qty, price: f.price))
                send(.pnl(realized: state.realized, open: book.openPnL(state)))
                await checkLoss()
            case .cash(let amount):
                send(.cash(amount: amount, realized: state.realized))
            }
        }
    }

    /// Records this run's realized P&L for its trade date (later runs that day count it).
    func recordRealized() async throws {
        guard let sessionDate else { return }
        try await resources.control.record(job: context.job.name, tradeDate: sessionDate, run: context.runID, realized: state.realized)
    }

    /// Keeps the actor's copy of the state in step with the journal's after a `perform`.
    func reload() async { state = await journal.state }

    /// Saves the session's state. A failure (a full disk, a fenced run) stops trading: no order
    /// goes out after it, and the session stops the orderly way with the reason (the run fails),
    /// rather than trade on with fills and orders it could not save.
    func checkpoint() async {
        do { try await persist() } catch {
            // A cancelled run's task cannot write (the store refuses it): the stop that follows
            // (or the taker) saves the state; that is no failure of the checkpoint.
            guard checkpointFailure == nil, !Task.isCancelled, !(error is CancellationError) else { return }
            let reason = "the session's state could not be saved: \(context.secrets.redact("\(error)"))"
            checkpointFailure = reason
            logger.error("checkpoint failed; the session stops", metadata: ["error": "\(context.secrets.redact("\(error)"))"])
            if stopReason == nil { stopReason = reason }
        }
    }

    func persist() async throws {
        let snapshot = state
        try await journal.update { $0 = snapshot }
    }

    /// Positions from the broker's REST list (authoritative at the stop: events still in flight
    /// cannot hide a position from the flatten).
    func refreshPositions() async {
        guard let list = await desk.positions() else { return }
        book.broker(positions: list)
    }
}
