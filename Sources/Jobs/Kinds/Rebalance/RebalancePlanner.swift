public import Brokers
public import Foundation
import Scheduler

/// What the planner looks at: targets, holdings, balances and quotes at one moment.
public struct RebalanceInputs: Sendable {
    public var targets: [Symbol: Decimal]
    public var positions: [Symbol: Decimal]
    public var equity: Decimal
    public var cash: Decimal
    public var buyingPower: Decimal
    public var quotes: [Symbol: Quote]
    public var now: Date
    /// Whether quotes must be fresh (in session); outside the session old quotes only warn.
    public var requireFreshQuotes: Bool

    public init(
        targets: [Symbol: Decimal], positions: [Symbol: Decimal], equity: Decimal, cash: Decimal, buyingPower: Decimal, quotes: [Symbol: Quote],
        now: Date, requireFreshQuotes: Bool
    ) {
        self.targets = targets; self.positions = positions; self.equity = equity; self.cash = cash; self.buyingPower = buyingPower
        self.quotes = quotes; self.now = now; self.requireFreshQuotes = requireFreshQuotes
    }
}

/// One symbol of a plan.
public struct PlanLine: Sendable, Hashable, Codable {
    public var symbol: String
    public var currentQuantity: Decimal
    public var currentWeight: Decimal
    public var targetWeight: Decimal
    public var targetQuantity: Decimal
    /// Shares to trade (positive buys, negative sells); zero when skipped.
    public var delta: Decimal
    public var side: OrderSide?
    public var bid: Decimal?
    public var ask: Decimal?
    /// The arrival mid (slippage is measured against it).
    public var mid: Decimal?
    /// The first limit price.
    public var estimatedPrice: Decimal?
    /// |delta| × estimated price.
    public var estimatedValue: Decimal
    /// Why nothing is traded, when so (`within drift`, `below min_trade`, …).
    public var skip: String?

    /// A line.
    public init(
        symbol: String, currentQuantity: Decimal, currentWeight: Decimal, targetWeight: Decimal, targetQuantity: Decimal, delta: Decimal,
        side: OrderSide?, bid: Decimal?, ask: Decimal?, mid: Decimal?, estimatedPrice: Decimal?, estimatedValue: Decimal, skip: String?
    ) {
        self.symbol = symbol; self.currentQuantity = currentQuantity; self.currentWeight = currentWeight; self.targetWeight = targetWeight
        self.targetQuantity = targetQuantity; self.delta = delta; self.side = side; self.bid = bid; self.ask = ask; self.mid = mid
        self.estimatedPrice = estimatedPrice; self.estimatedValue = estimatedValue; self.skip = skip
    }
}

/// A plan: what to trade to reach the targets, with the figures it was made from.
public struct RebalancePlan: Sendable, Hashable, Codable {
    public var equity: Decimal
    public var cash: Decimal
    public var buyingPower: Decimal
    public var cashBuffer: Decimal
    public var lines: [PlanLine]
    public var warnings: [String]

    /// Lines to sell, largest first.
    public var sells: [PlanLine] { lines.filter { $0.side == .sell }.sorted { $0.estimatedValue > $1.estimatedValue } }
    /// Lines to buy, largest first.
    public var buys: [PlanLine] { lines.filter { $0.side == .buy }.sorted { $0.estimatedValue > $1.estimatedValue } }
    /// Gross value of every trade.
    public var grossValue: Decimal { lines.reduce(0) { $0 + ($1.side == nil ? 0 : $1.estimatedValue) } }
}

/// The pure planning step of the rebalance: no I/O, no clock.
public enum RebalancePlanner {
    /// A quote older than this is stale while the market is open.
    public static let maxQuoteAge: TimeInterval = 15 * 60

    /// Plans the trades that move `inputs` to the targets under `options`. A stale, crossed or
    /// zero quote for a symbol that must trade throws, naming the symbol.
    public static func plan(_ inputs: RebalanceInputs, options: RebalanceOptions) throws -> RebalancePlan {
        let buffer = options.cashBuffer.of(inputs.equity)
        let investable = max(0, inputs.equity - buffer)
        var symbols = Set(inputs.targets.keys)
        for (s, q) in inputs.positions where q != 0 { symbols.insert(s) }
        var lines: [PlanLine] = []
        var warnings: [String] = []
        var bad: [String] = []
        lines.reserveCapacity(symbols.count)
        for symbol in symbols.sorted() {
            let quote = inputs.quotes[symbol]
            let held = inputs.positions[symbol] ?? 0
            let target = inputs.targets[symbol] ?? 0
            if held == 0 && target == 0 { continue }
            let mid = quote?.twoSidedMid
            let valuation = mid ?? quote?.last.flatMap { $0 > 0 ? $0 : nil }
            let currentWeight = inputs.equity > 0 && valuation != nil ? (held * valuation! / inputs.equity) : 0
            var line = PlanLine(
                symbol: symbol.rawValue, currentQuantity: held, currentWeight: currentWeight.rounded(scale: 6), targetWeight: target,
                targetQuantity: held, delta: 0, side: nil, bid: quote?.bid, ask: quote?.ask, mid: mid, estimatedPrice: nil, estimatedValue: 0,
                skip: nil)
            guard let price = valuation else {
                bad.append("\(symbol) (no usable quote)")
                lines.append(line)
                continue
            }
            let targetValue = investable * target
            var targetQuantity = targetValue / price
            targetQuantity = options.fractional ? targetQuantity.rounded(scale: 4, .down) : targetQuantity.rounded(scale: 0, .down)
            if target == 0 { targetQuantity = 0 }
            line.targetQuantity = targetQuantity
            let delta = targetQuantity - held
            let value = abs(delta) * price
            if delta == 0 {
                line.skip = "on target"
            } else if inputs.targets[symbol] != nil, inputs.equity > 0, abs(currentWeight - target * investable / inputs.equity) <= options.drift {
                line.skip = "within drift"
            } else if value < options.minTrade {
                line.skip = "below min_trade"
            } else if held < 0 {
                line.skip = "short position: not rebalanced"
                warnings.append("\(symbol) is held short (\(held.plainString)); a rebalance does not cover shorts")
            }
            if line.skip == nil {
                line.delta = delta
                line.side = delta > 0 ? .buy : .sell
                line.estimatedValue = value.rounded(scale: 2)
                if let problem = quoteProblem(quote, now: inputs.now, requireFresh: inputs.requireFreshQuotes) {
                    bad.append("\(symbol) (\(problem))")
                } else if let q = quote {
                    let p = RebalancePricing.price(line.side!, quote: q, round: 0, arrival: q, pricing: options.pricing)
                    line.estimatedPrice = p
                    line.estimatedValue = (abs(delta) * p).rounded(scale: 2)
                }
            } else if line.skip != "on target" {
                line.targetQuantity = held
            }
            if !inputs.requireFreshQuotes, let q = quote, let t = q.time, inputs.now.timeIntervalSince(t) > maxQuoteAge, line.side != nil {
                warnings.append("\(symbol): quote is from \(ISO8601DateFormatter().string(from: t)) (outside the session)")
            }
            lines.append(line)
        }
        if !bad.isEmpty {
            throw JobFailure("cannot trade on these quotes: \(bad.joined(separator: ", ")); no order was placed", retryable: false)
        }
        if inputs.targets.values.reduce(0, +) == 0 { warnings.append("the targets hold no symbol: everything held is sold") }
        return RebalancePlan(
            equity: inputs.equity, cash: inputs.cash, buyingPower: inputs.buyingPower, cashBuffer: buffer, lines: lines, warnings: warnings)
    }

    /// Why `quote` cannot be traded on, or nil when it can.
    public static func quoteProblem(_ quote: Quote?, now: Date, requireFresh: Bool) -> String? {
        guard let q = quote else { return "no quote" }
        guard let bid = q.bid, let ask = q.ask, bid > 0, ask > 0 else { return "zero or missing bid/ask" }
        if bid > ask { return "crossed quote: bid \(bid.plainString) above ask \(ask.plainString)" }
        if q.halted { return "halted" }
        if requireFresh {
            if q.delayed { return "stale quote (delayed)" }
            if let t = q.time, now.timeIntervalSince(t) > maxQuoteAge { return "stale quote from \(ISO8601DateFormatter().string(from: t))" }
        }
        return nil
    }

    /// Shrinks buy quantities so that, at each order's price cap, they cost at most `budget`
    /// (the buying power after the sells). Returns the lines and a warning when it shrank them.
    public static func fitBuys(_ buys: [PlanLine], budget: Decimal, options: RebalanceOptions) -> (lines: [PlanLine], warning: String?) {
        func capCost(_ l: PlanLine) -> Decimal {
            let arrival = Quote(symbol: (try? Symbol(l.symbol)) ?? "X", bid: l.bid, ask: l.ask, last: nil)
            return l.delta * RebalancePricing.cap(.buy, arrival: arrival, pricing: options.pricing)
        }
        let total = buys.reduce(Decimal(0)) { $0 + capCost($1) }
        guard total > budget else { return (buys, nil) }
        let ratio = budget <= 0 ? 0 : budget / total
        var out: [PlanLine] = []
        for var l in buys {
            var q = l.delta * ratio
            q = options.fractional ? q.rounded(scale: 4, .down) : q.rounded(scale: 0, .down)
            if q <= 0 { continue }
            l.delta = q
            l.targetQuantity = l.currentQuantity + q
            l.estimatedValue = (q * (l.estimatedPrice ?? l.mid ?? 0)).rounded(scale: 2)
            out.append(l)
        }
        return (out, "buys cut to \((ratio * 100).rounded(scale: 1).plainString)% to stay within buying power \(budget.plainString)")
    }
}
