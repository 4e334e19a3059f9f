import Brokers
import Foundation
import Logging
import Scheduler

/// The status row, the plan a reload may move the stop with, and the session's trade date.
extension FuturesSession {
    /// The longest the session leaves its status row unwritten while it runs (wall time).
    static let statusRefresh: TimeInterval = 5

    /// The status part of a tick: the sockets' states and reconnects, the checkpoint when the
    /// figures changed, and the `futures_session` row (its `updated` is the liveness signal of
    /// `session status`: written when the figures change and at least every ``statusRefresh``).
    func publishStatus() async {
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
        let stale = statusStamped.map { now.timeIntervalSince($0) >= Self.statusRefresh || now < $0 } ?? true
        guard dirty || stale else { return }
        if dirty {
            dirty = false
            await checkpoint()
            try? await recordRealized()
        }
        statusStamped = now
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "running", locked: state.locked, detail: statusDetail(), now: now)
    }

    /// A reload reaches the running session: when the plan source has a newer plan, the stop is
    /// computed again from its calendars and this job's `stop:` (an early close added under
    /// `calendars:`, a shorter `stop:`), still no later than the end of the session's trade date.
    /// A job that is gone or no longer valid keeps the stop.
    func followPlan() {
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
    func tradeDate(_ date: Date) -> LocalDate { CMETradeDate.of(Instant(date), calendar: cmeCalendar) }

    var cmeCalendar: any TradingCalendar { resources.calendars[.cme] ?? Market.cme.calendar() }

    /// The session's contracts with a position, as `SYMBOL net`.
    var openPositions: String {
        book.openPositions.sorted { $0.key < $1.key }.map { "\(book.symbols[$0.key] ?? "") \($0.value)" }
            .joined(separator: ", ")
    }

    /// Whether the fills the session counted leave no open lot.
    var lotsFlat: Bool { state.lots.allSatisfy { book.symbols[$0.key] == nil || $0.value.quantity == 0 } }

    /// The running session's figures, as its status row shows them.
    func statusDetail() -> String {
        var held: [String: Int] = [:]
        for (cid, symbol) in book.symbols { held[symbol] = book.positions[cid] ?? 0 }
        return FuturesSessionStatus(
            positions: held, realizedPnL: state.realized, openPnL: book.openPnL(state), maxDrawdown: state.maxDrawdown, orders: state.ordersPlaced,
            fills: state.fills, rejects: state.rejects, reconnects: state.reconnects, dayRealizedPnL: earlierRealized + state.realized,
            workingOrders: book.workingOrders.count, sockets: socketStates.mapValues { context.secrets.redact($0) }
        ).json
    }
}

/// The `detail` of a running session's `futures_session` row, as `session status` and the status
/// page show it: JSON with sorted keys, the same bytes the session wrote before this type.
struct FuturesSessionStatus: Encodable, Sendable, Hashable {
    /// Each session contract's net position at the broker, by symbol.
    var positions: [String: Int]
    var realizedPnL: Decimal
    /// The open P&L at the closing side's mark.
    var openPnL: Decimal
    var maxDrawdown: Decimal
    var orders: Int
    var fills: Int
    var rejects: Int
    var reconnects: Int
    /// This run's realized P&L plus the earlier runs' of the same trade date.
    var dayRealizedPnL: Decimal
    var workingOrders: Int
    /// Each socket's state (redacted), e.g. `paused: …`.
    var sockets: [String: String]

    private enum CodingKeys: String, CodingKey {
        case positions, orders, fills, rejects, reconnects, sockets
        case realizedPnL = "realized_pnl"
        case openPnL = "open_pnl"
        case maxDrawdown = "max_drawdown"
        case dayRealizedPnL = "day_realized_pnl"
        case workingOrders = "working_orders"
    }

    /// The row's `detail`.
    var json: String { SortedJSON.string(self) }
}

/// JSON with sorted keys, as the session's status and report are written.
enum SortedJSON {
    static func string(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
