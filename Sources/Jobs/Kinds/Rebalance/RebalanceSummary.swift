public import Brokers
public import Foundation

/// One limit price an order worked at.
public struct PriceStep: Sendable, Hashable, Codable {
    /// 0 for the placement, then one per replan.
    public var round: Int
    public var price: Decimal
    public var at: Date
}

/// An order of the rebalance, as tracked through its life.
public struct RebalanceOrder: Sendable, Hashable, Codable {
    /// `sell` or `buy`.
    public var phase: String
    public var symbol: String
    public var side: OrderSide
    public var quantity: Decimal
    /// The `OrderConfirmID` / client order id sent.
    public var confirmID: String
    /// The broker's order id, once known.
    public var orderID: String?
    public var steps: [PriceStep]
    public var filled: Decimal = 0
    public var averagePrice: Decimal?
    public var state: OrderState = .pending
    public var rejectReason: String?
    public var arrivalBid: Decimal
    public var arrivalAsk: Decimal
    /// The dry run's confirmation text (`Buy 10 MSFT @ 412.50`), when validated.
    public var confirmation: String?
    /// Slippage of the fills against the arrival mid in basis points (positive = cost); set in summaries.
    public var slippageBps: Decimal?
    /// The round of the run that placed the order (1 = the first plan's).
    public var round: Int?
    /// The journal step of the placement (its key is the confirm id).
    public var step: String?
    /// Why the order was never sent (the gate closed: session or deadline).
    public var notPlaced: String?
    /// When the run first meant to send it (its own clock).
    public var sentAt: Date?

    /// The arrival mid.
    public var arrivalMid: Decimal { (arrivalBid + arrivalAsk) / 2 }

    /// Slippage of the fills against the arrival mid in basis points (positive = cost).
    public var measuredSlippageBps: Decimal? {
        guard let p = averagePrice, filled > 0, arrivalMid > 0 else { return nil }
        let signed = side == .buy ? p - arrivalMid : arrivalMid - p
        return (signed / arrivalMid * 10_000).rounded(scale: 1)
    }
}

/// Per symbol: before, target and after.
public struct RebalanceHolding: Sendable, Hashable, Codable {
    public var symbol: String
    public var quantityBefore: Decimal
    public var weightBefore: Decimal
    public var targetWeight: Decimal
    public var targetQuantity: Decimal
    public var quantityAfter: Decimal?
    public var weightAfter: Decimal?
}

/// What a rebalance run did (or, for a dry run, would do): `show RUN` prints it and
/// `show RUN --json` carries it under `"rebalance"`.
public struct RebalanceSummary: Sendable, Hashable, Codable {
    /// `succeeded`, `failed` or `dry-run`.
    public var outcome: String
    public var message: String
    public var broker: String
    public var account: String
    public var dryRun: Bool
    public var startedAt: Date?
    public var deadline: Date?
    public var equityBefore: Decimal
    public var equityAfter: Decimal?
    public var cashBefore: Decimal
    public var cashAfter: Decimal?
    public var cashBuffer: Decimal
    public var grossPlanned: Decimal
    public var sellRounds: Int
    public var buyRounds: Int
    public var deadlineReached: Bool
    public var holdings: [RebalanceHolding]
    public var orders: [RebalanceOrder]
    public var residuals: [String]
    public var warnings: [String]
    public var nextTradeDate: Date?
    /// Rounds the run traded (each: sells, buys re-planned from fresh cash, then a check).
    public var rounds: Int?
    /// Why the rounds ended before every line was within drift, when they did.
    public var stopReason: String?
    /// Orders that may still be working at the broker after the run ended.
    public var mayBeWorking: [String]?
    /// Value-weighted slippage of every fill against its arrival mid, in basis points.
    public var slippageBps: Decimal?

    /// Value-weighted slippage of every fill against its arrival mid, in basis points.
    public var measuredSlippageBps: Decimal? {
        var cost: Decimal = 0
        var value: Decimal = 0
        for o in orders {
            guard let p = o.averagePrice, o.filled > 0, o.arrivalMid > 0 else { continue }
            cost += (o.side == .buy ? p - o.arrivalMid : o.arrivalMid - p) * o.filled
            value += o.arrivalMid * o.filled
        }
        return value > 0 ? (cost / value * 10_000).rounded(scale: 1) : nil
    }

    /// One line for `history` and the `rebalance-done` event.
    public var line: String {
        let placed = orders.filter { $0.orderID != nil }.count
        let filled = orders.filter { $0.state == .filled }.count
        if dryRun {
            return "dry run: \(orders.count) order(s) validated, gross \(grossPlanned.rounded(scale: 2).plainString), nothing placed"
        }
        var text = "\(outcome == "succeeded" ? "rebalanced" : "rebalance failed"): \(placed) order(s), \(filled) filled"
        if let rounds { text += ", \(rounds) round(s)" }
        text += ", replans \(sellRounds)+\(buyRounds)"
        if let s = slippageBps { text += ", slippage \(s.plainString) bps" }
        if let after = cashAfter { text += ", cash \(cashBefore.rounded(scale: 2).plainString) → \(after.rounded(scale: 2).plainString)" }
        if !residuals.isEmpty { text += "; off target: " + residuals.joined(separator: ", ") }
        if let open = mayBeWorking, !open.isEmpty { text += "; may still be working: " + open.joined(separator: ", ") }
        return text
    }

    /// The summary as JSON (sorted keys, ISO 8601 dates).
    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return (try? String(decoding: e.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// Decodes ``json()`` output; nil when `text` is not a rebalance summary.
    public static func decode(_ text: String) -> RebalanceSummary? {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try? d.decode(RebalanceSummary.self, from: Data(text.utf8))
    }

    /// Tables for `show RUN`.
    public func render() -> String {
        func pct(_ d: Decimal?) -> String { d.map { "\(($0 * 100).rounded(scale: 2).plainString)%" } ?? "-" }
        func num(_ d: Decimal?) -> String { d.map { $0.plainString } ?? "-" }
        var out = "rebalance (\(dryRun ? "dry run" : outcome)) on \(broker) account \(account)\n"
        out += "equity \(equityBefore.rounded(scale: 2).plainString) → \(num(equityAfter?.rounded(scale: 2)))  "
        out += "cash \(cashBefore.rounded(scale: 2).plainString) → \(num(cashAfter?.rounded(scale: 2)))  buffer \(cashBuffer.plainString)  "
        out += "rounds \(rounds ?? 1)  replans \(sellRounds) sell / \(buyRounds) buy  slippage \(slippageBps.map { "\($0.plainString) bps" } ?? "-")\n"
        out += pad(["symbol", "qty before", "weight before", "target", "target qty", "qty after", "weight after"]) + "\n"
        for h in holdings {
            out +=
                pad([
                    h.symbol, num(h.quantityBefore), pct(h.weightBefore), pct(h.targetWeight), num(h.targetQuantity), num(h.quantityAfter),
                    pct(h.weightAfter),
                ]) + "\n"
        }
        out += "orders:\n"
        for o in orders {
            let steps = o.steps.map { "r\($0.round)@\($0.price.plainString)" }.joined(separator: " ")
            out += "  \(o.phase) \(o.symbol) \(o.quantity.plainString)  id \(o.orderID ?? "-")  confirm \(o.confirmID)  \(o.state.rawValue)"
            out += "  filled \(o.filled.plainString)\(o.averagePrice.map { " @ \($0.plainString)" } ?? "")  steps \(steps)"
            if let s = o.slippageBps { out += "  slippage \(s.plainString) bps" }
            if let r = o.rejectReason { out += "  reason: \(r)" }
            if let c = o.confirmation { out += "  confirmed: \(c)" }
            if let n = o.notPlaced { out += "  not placed: \(n)" }
            out += "\n"
        }
        for w in warnings { out += "warning: \(w)\n" }
        for r in residuals { out += "off target: \(r)\n" }
        if let stopReason { out += "stopped: \(stopReason)\n" }
        for o in mayBeWorking ?? [] { out += "may still be working: \(o)\n" }
        return out
    }

    private func pad(_ cols: [String]) -> String {
        cols.enumerated().map { i, c in i == 0 ? c.padding(toLength: 8, withPad: " ", startingAt: 0) : c.padding(toLength: 14, withPad: " ", startingAt: 0) }
            .joined(separator: " ")
    }
}
