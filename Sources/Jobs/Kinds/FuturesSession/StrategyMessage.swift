import Foundation

/// One line the session writes to its strategy, typed. The wire format is JSON with sorted keys,
/// the same bytes the session wrote before these types (a test holds each shape to that).
enum StrategyMessage: Encodable, Sendable, Hashable {
    /// A quote; a missing side is `null`.
    case quote(symbol: String, bid: Decimal?, ask: Decimal?, last: Decimal?)
    /// The account's net position in a symbol.
    case position(symbol: String, net: Int)
    /// An order's status changed (`tag` when the strategy placed it).
    case order(id: Int64, status: String, tag: String?)
    /// A fill counted into the P&L.
    case fill(orderID: Int64, symbol: String, side: String, qty: Int, price: Decimal)
    /// The session's realized P&L, and its open P&L after a fill.
    case pnl(realized: Decimal, open: Decimal?)
    /// The account's cash balance (`null` when Tradovate left it out) and the realized P&L.
    case cash(amount: Decimal?, realized: Decimal)
    /// The loss limit locked the trade date.
    case riskLimit(String)
    /// Quotes went stale while holding.
    case riskStale(String)
    /// A flatten ran out of rounds.
    case flattenFailed(String)
    /// An intent was refused (`tag` absent for a line that is not an intent).
    case reject(tag: String?, reason: String)
    /// An intent's outcome.
    case result(tag: String?, status: String, orderID: Int64?, orderStatus: String?)
    /// The session started (or the strategy was restarted).
    case sessionStart(job: String, run: Int64, symbols: [String], stopAt: String, locked: Bool, resumed: Bool)
    /// The session is stopping.
    case sessionStop(reason: String)

    private enum Key: String, CodingKey {
        case type, symbol, bid, ask, last, net, status, tag, side, qty, price, amount, message, reason, event, job, run, symbols, locked, resumed
        case orderID = "order_id"
        case realized = "realized_pnl"
        case open = "open_pnl"
        case orderStatus = "order_status"
        case stopAt = "stop_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        func nullable(_ v: Decimal?, _ k: Key) throws { if let v { try c.encode(v, forKey: k) } else { try c.encodeNil(forKey: k) } }
        switch self {
        case .quote(let symbol, let bid, let ask, let last):
            try c.encode("quote", forKey: .type)
            try c.encode(symbol, forKey: .symbol)
            try nullable(bid, .bid)
            try nullable(ask, .ask)
            try nullable(last, .last)
        case .position(let symbol, let net):
            try c.encode("position", forKey: .type)
            try c.encode(symbol, forKey: .symbol)
            try c.encode(net, forKey: .net)
        case .order(let id, let status, let tag):
            try c.encode("order", forKey: .type)
            try c.encode(id, forKey: .orderID)
            try c.encode(status, forKey: .status)
            try c.encodeIfPresent(tag, forKey: .tag)
        case .fill(let orderID, let symbol, let side, let qty, let price):
            try c.encode("fill", forKey: .type)
            try c.encode(orderID, forKey: .orderID)
            try c.encode(symbol, forKey: .symbol)
            try c.encode(side, forKey: .side)
            try c.encode(qty, forKey: .qty)
            try c.encode(price, forKey: .price)
        case .pnl(let realized, let open):
            try c.encode("cash", forKey: .type)
            try c.encode(realized, forKey: .realized)
            try c.encodeIfPresent(open, forKey: .open)
        case .cash(let amount, let realized):
            try c.encode("cash", forKey: .type)
            try nullable(amount, .amount)
            try c.encode(realized, forKey: .realized)
        case .riskLimit(let message), .riskStale(let message), .flattenFailed(let message):
            try c.encode(type, forKey: .type)
            try c.encode(message, forKey: .message)
        case .reject(let tag, let reason):
            try c.encode("reject", forKey: .type)
            try c.encodeIfPresent(tag, forKey: .tag)
            try c.encode(reason, forKey: .reason)
        case .result(let tag, let status, let orderID, let orderStatus):
            try c.encode("result", forKey: .type)
            try c.encodeIfPresent(tag, forKey: .tag)
            try c.encode(status, forKey: .status)
            try c.encodeIfPresent(orderID, forKey: .orderID)
            try c.encodeIfPresent(orderStatus, forKey: .orderStatus)
        case .sessionStart(let job, let run, let symbols, let stopAt, let locked, let resumed):
            try c.encode("session", forKey: .type)
            try c.encode("start", forKey: .event)
            try c.encode(job, forKey: .job)
            try c.encode(run, forKey: .run)
            try c.encode(symbols, forKey: .symbols)
            try c.encode(stopAt, forKey: .stopAt)
            try c.encode(locked, forKey: .locked)
            try c.encode(resumed, forKey: .resumed)
        case .sessionStop(let reason):
            try c.encode("session", forKey: .type)
            try c.encode("stop", forKey: .event)
            try c.encode(reason, forKey: .reason)
        }
    }

    /// The message's `type`.
    var type: String {
        switch self {
        case .quote: return "quote"
        case .position: return "position"
        case .order: return "order"
        case .fill: return "fill"
        case .pnl, .cash: return "cash"
        case .riskLimit: return "risk-limit"
        case .riskStale: return "risk-stale"
        case .flattenFailed: return "flatten-failed"
        case .reject: return "reject"
        case .result: return "result"
        case .sessionStart, .sessionStop: return "session"
        }
    }

    /// The line written to the strategy (without its newline).
    var line: String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }
}
