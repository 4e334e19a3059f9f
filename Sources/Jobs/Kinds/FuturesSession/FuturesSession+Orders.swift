import Brokers
import Foundation
import Logging
import Scheduler

/// The strategy's intents turned into orders through the ``OrderDesk`` (every write journaled),
/// and the reconciliation of orders whose outcome is unknown.
extension FuturesSession {
    /// The order desk of the account traded (every order write goes through the journal).
    var desk: OrderDesk { OrderDesk(journal: journal, client: client, broker: settings.broker, account: accountName) }

    /// Cancels order `id` at the desk (``OrderDesk/cancel(orderID:)``) and keeps the book's status.
    func cancelOrder(_ id: Int64) async throws -> String {
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

    func intent(_ line: String) async {
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

    func reject(_ tag: String, _ reason: String) async {
        state.rejects += 1
        dirty = true
        logger.notice("order rejected", metadata: ["tag": "\(tag)", "reason": "\(reason)"])
        send(.reject(tag: tag, reason: reason))
    }

    func order(_ o: StrategyIntent, tag: String) async {
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
        await checkpoint()
        if let checkpointFailure {
            state.placed[tag] = nil
            state.ordersPlaced -= 1
            return await reject(tag, "stopped: \(checkpointFailure); nothing was sent")
        }
        do {
            placing += 1
            defer { placing -= 1 }
            let id = try await desk.place(step: step, request: request, what: "\(side) \(qty) \(symbol) (\(tag))", known: book.clOrdIDs)
            await reload()
            state.placed[tag]?.orderID = id
            book.placed(id, contract: cid, buy: buy, quantity: qty)
            await checkpoint()
            send(.result(tag: tag, status: "placed", orderID: id, orderStatus: nil))
        } catch let error as BrokerError where (error.isRejected || error.isInvalidInput) && !error.message.lowercased().contains("duplicate") {
            // The broker refused it: nothing was placed, the tag may be used again. ("Duplicate
            // clOrdId" is not such an answer: an order with this clOrdId exists; it is reconciled.)
            await reload()
            state.placed[tag] = nil
            state.ordersPlaced -= 1
            await checkpoint()
            try? await journal.forget(step: step)
            await reject(tag, "broker: \(context.secrets.redact(error.message))")
        } catch {
            // Unknown outcome: the intent stays in the journal and is reconciled by clOrdId.
            await reload()
            // Counted in `orders` (it may be at the broker), not in `rejects`.
            logger.notice("order outcome unknown", metadata: ["tag": "\(tag)"])
            send(.reject(tag: tag, reason: "unknown: \(context.secrets.redact("\(error)")); it is reconciled by clOrdId before anything else is sent"))
        }
    }

    /// Reconciles, by clOrdId, the session's orders whose placement outcome is unknown (socket
    /// `command` events first, then REST `command/list`): a found order gets its id and counts as
    /// working at its requested quantity; one not found stays unknown, still counted, never re-sent.
    func reconcileUnknownOrders() async {
        let unknown = await journal.pending.filter { $0.step.hasPrefix("order/") }
        for entry in unknown {
            let tag = String(entry.step.dropFirst("order/".count))
            guard let placed = state.placed[tag], placed.orderID == 0 else { continue }
            guard let id = await desk.find(clOrdID: entry.key, known: book.clOrdIDs) else { continue }
            await checkpoint()
            do { try await journal.resolve(step: entry.step, outcome: id) } catch { continue }
            state.placed[tag]?.orderID = id
            book.placed(id, contract: contracts[placed.symbol] ?? 0, buy: placed.side == "buy", quantity: placed.quantity)
            await checkpoint()
            logger.notice("unknown order found at the broker", metadata: ["tag": "\(tag)", "order": "\(id)"])
            send(.result(tag: tag, status: "placed", orderID: id, orderStatus: nil))
        }
    }
}
