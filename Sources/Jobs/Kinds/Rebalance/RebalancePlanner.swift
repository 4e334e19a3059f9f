public import Brokers
public import Foundation
import Scheduler

/// What the planner looks at: targets, holdings, balances, quotes and working orders at one moment.
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
    /// Working orders this run did not place whose open quantity is netted into the plan
    /// (`existing_orders: include`); empty otherwise.
    public var workingOrders: [Order]

    public init(
        targets: [Symbol: Decimal], positions: [Symbol: Decimal], equity: Decimal, cash: Decimal, buyingPower: Decimal, quotes: [Symbol: Quote],
        now: Date, requireFreshQuotes: Bool, workingOrders: [Order] = []
    ) {
        self.targets = targets; self.positions = positions; self.equity = equity; self.cash = cash; self.buyingPower = buyingPower
        self.quotes = quotes; self.now = now; self.requireFreshQuotes = requireFreshQuotes; self.workingOrders = workingOrders
    }

    /// Open (unfilled) quantity of the netted working orders per symbol: buys positive, sells negative.
    public var workingQuantity: [Symbol: Decimal] {
        var out: [Symbol: Decimal] = [:]
        for o in workingOrders where !o.state.isTerminal {
            guard let s = o.symbol, let side = o.side else { continue }
            let open = max(0, o.quantity - o.filledQuantity)
            out[s, default: 0] += side == .buy ? open : -open
        }
        return out
    }

    /// Cash the netted working buy orders can still spend (open quantity × limit).
    public var workingBuyCommitment: Decimal {
        workingOrders.filter { !$0.state.isTerminal && $0.side == .buy }.reduce(Decimal(0)) {
            $0 + max(0, $1.quantity - $1.filledQuantity) * ($1.limitPrice ?? $1.symbol.flatMap { s in quotes[s]?.ask } ?? 0)
        }
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
    /// Open quantity of working orders netted into the line (`existing_orders: include`).
    public var workingQuantity: Decimal?

    /// A line.
    public init(
        symbol: String, currentQuantity: Decimal, currentWeight: Decimal, targetWeight: Decimal, targetQuantity: Decimal, delta: Decimal,
        side: OrderSide?, bid: Decimal?, ask: Decimal?, mid: Decimal?, estimatedPrice: Decimal?, estimatedValue: Decimal, skip: String?
    ) {
        self.symbol = symbol; self.currentQuantity = currentQuantity; self.currentWeight = currentWeight; self.targetWeight = targetWeight
        self.targetQuantity = targetQuantity; self.delta = delta; self.side = side; self.bid = bid; self.ask = ask; self.mid = mid
        self.estimatedPrice = estimatedPrice; self.estimatedValue = estimatedValue; self.skip = skip
    }

    /// Whether the line is left untraded because its quote cannot be traded on.
    public var unusableQuote: Bool { skip?.hasPrefix("no usable quote") == true }
}

/// A plan: what to trade to reach the targets, with the figures it was made from.
public struct RebalancePlan: Sendable, Hashable, Codable {
    public var equity: Decimal
    public var cash: Decimal
    public var buyingPower: Decimal
    public var cashBuffer: Decimal
    public var lines: [PlanLine]
    public var warnings: [String]
    /// Working orders at the broker on the plan's symbols that this run did not place, as
    /// `id SIDE qty SYMBOL @ limit` (what `existing_orders` decides about).
    public var workingOrders: [String]?

    /// A plan.
    public init(
        equity: Decimal, cash: Decimal, buyingPower: Decimal, cashBuffer: Decimal, lines: [PlanLine], warnings: [String], workingOrders: [String]? = nil
    ) {
        self.equity = equity; self.cash = cash; self.buyingPower = buyingPower; self.cashBuffer = cashBuffer; self.lines = lines
        self.warnings = warnings; self.workingOrders = workingOrders
    }

    /// Lines to sell, largest first.
    public var sells: [PlanLine] { lines.filter { $0.side == .sell }.sorted { $0.estimatedValue > $1.estimatedValue } }
    /// Lines to buy, largest first.
    public var buys: [PlanLine] { lines.filter { $0.side == .buy }.sorted { $0.estimatedValue > $1.estimatedValue } }
    /// Gross value of every trade.
    public var grossValue: Decimal { lines.reduce(0) { $0 + ($1.side == nil ? 0 : $1.estimatedValue) } }
    /// Lines still off target: to trade, or untradable for their quote.
    public var unfinished: [PlanLine] { lines.filter { $0.side != nil || $0.unusableQuote } }
}

/// The pure planning step of the rebalance: no I/O, no clock.
public enum RebalancePlanner {
    /// A quote older than this is stale while the market is open.
    public static let maxQuoteAge: TimeInterval = 15 * 60
    /// How far the broker's equity may be from cash + Σ positions × mid before the run refuses.
    public static let equityTolerance = Decimal(string: "0.02")!

    /// Why the run must not trade on `inputs` at all (nothing is placed), or nil. Names the input.
    public static func refusal(_ inputs: RebalanceInputs, options: RebalanceOptions) -> String? {
        let total = inputs.targets.values.reduce(Decimal(0), +)
        if total <= 0 && !options.allowLiquidation {
            return "the strategy '\(options.strategy)' gave no target weights (empty, or every weight zero): a plan would sell every holding; "
                + "nothing was placed (set allow_liquidation: true to sell everything)"
        }
        if total > 1 + TargetWeights.epsilon {
            return "the strategy '\(options.strategy)' weights sum to \((total * 100).plainString)%, above 100%; nothing was placed"
        }
        if inputs.equity <= 0 { return "the broker reports equity \(inputs.equity.plainString); nothing was placed" }
        let buffer = options.cashBuffer.of(inputs.equity)
        if buffer >= inputs.equity {
            return "cash_buffer \(buffer.plainString) is at or above the account's equity \(inputs.equity.plainString): every holding would be sold; "
                + "nothing was placed"
        }
        var valued = inputs.cash
        for (symbol, q) in inputs.positions where q != 0 {
            guard let p = inputs.quotes[symbol].flatMap({ $0.twoSidedMid ?? $0.last.flatMap { $0 > 0 ? $0 : nil } }) else { return nil }
            valued += q * p
        }
        let gap = abs(inputs.equity - valued) / inputs.equity
        if gap > equityTolerance {
            return "the broker's equity \(inputs.equity.plainString) disagrees with cash + positions at mid \(valued.rounded(scale: 2).plainString) "
                + "by \((gap * 100).rounded(scale: 1).plainString)% (over \((equityTolerance * 100).plainString)%); nothing was placed"
        }
        return nil
    }

    /// Plans the trades that move `inputs` to the targets under `options`. With `strict`, a
    /// stale, crossed or zero quote for a symbol that must trade throws, naming the symbol;
    /// without, the line is left untraded ("no usable quote: …") and the rest is planned.
    public static func plan(_ inputs: RebalanceInputs, options: RebalanceOptions, strict: Bool = true) throws -> RebalancePlan {
        let buffer = options.cashBuffer.of(inputs.equity)
        let investable = max(0, inputs.equity - buffer)
        let working = inputs.workingQuantity
        var symbols = Set(inputs.targets.keys)
        for (s, q) in inputs.positions where q != 0 { symbols.insert(s) }
        for (s, q) in working where q != 0 { symbols.insert(s) }
        var lines: [PlanLine] = []
        var warnings: [String] = []
        var bad: [String] = []
        lines.reserveCapacity(symbols.count)
        for symbol in symbols.sorted() {
            let quote = inputs.quotes[symbol]
            let held = inputs.positions[symbol] ?? 0
            let pending = working[symbol] ?? 0
            let target = inputs.targets[symbol] ?? 0
            if held == 0 && target == 0 && pending == 0 { continue }
            let mid = quote?.twoSidedMid
            let valuation = mid ?? quote?.last.flatMap { $0 > 0 ? $0 : nil }
            let currentWeight = inputs.equity > 0 && valuation != nil ? (held * valuation! / inputs.equity) : 0
            var line = PlanLine(
                symbol: symbol.rawValue, currentQuantity: held, currentWeight: currentWeight.rounded(scale: 6), targetWeight: target,
                targetQuantity: held, delta: 0, side: nil, bid: quote?.bid, ask: quote?.ask, mid: mid, estimatedPrice: nil, estimatedValue: 0,
                skip: nil)
            if pending != 0 { line.workingQuantity = pending }
            guard let price = valuation else {
                if strict {
                    bad.append("\(symbol) (no usable quote)")
                } else {
                    line.skip = "no usable quote: no price"
                }
                lines.append(line)
                continue
            }
            let targetValue = investable * target
            var targetQuantity = targetValue / price
            targetQuantity = options.fractional ? targetQuantity.rounded(scale: 4, .down) : targetQuantity.rounded(scale: 0, .down)
            if target == 0 { targetQuantity = 0 }
            line.targetQuantity = targetQuantity
            // What the account will hold once the working orders fill: the plan trades the rest.
            let expected = held + pending
            var delta = targetQuantity - expected
            // Whole-share mode never trades a fraction (a DRIP remainder stays held).
            if !options.fractional { delta = delta < 0 ? -((-delta).rounded(scale: 0, .down)) : delta.rounded(scale: 0, .down) }
            let value = abs(delta) * price
            let expectedWeight = inputs.equity > 0 ? expected * price / inputs.equity : 0
            if delta == 0 {
                line.skip = "on target"
            } else if target > 0, inputs.equity > 0, abs(expectedWeight - target * investable / inputs.equity) <= options.drift {
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
                    if strict {
                        bad.append("\(symbol) (\(problem))")
                    } else {
                        line.skip = "no usable quote: \(problem)"
                        line.side = nil
                        line.delta = 0
                        line.estimatedValue = 0
                        warnings.append("\(symbol): not traded this round (\(problem))")
                    }
                } else if let q = quote {
                    let p = RebalancePricing.price(line.side!, quote: q, round: 0, arrival: q, pricing: options.pricing)
                    line.estimatedPrice = p
                    line.estimatedValue = (abs(delta) * p).rounded(scale: 2)
                }
            } else if line.skip != "on target" {
                line.targetQuantity = expected
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

    /// Why `quote` cannot be traded on, or nil when it can. Staleness is judged from the quote's
    /// own time and the broker's delayed flag, never from the last trade (a thin ETF may not
    /// have traded for hours while its bid and ask are live).
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

    /// The money buys may spend: cash (or, with `use_margin`, the broker's buying power), never
    /// more than the buying power, less the cash buffer and what working buys already commit.
    public static func buyBudget(cash: Decimal, buyingPower: Decimal, buffer: Decimal, committed: Decimal = 0, useMargin: Bool) -> Decimal {
        let spendable = useMargin ? buyingPower : min(cash, buyingPower)
        return max(0, spendable - buffer - committed)
    }

    /// What a buy line could cost at its price cap (the most its order may be priced at).
    public static func capCost(_ l: PlanLine, quantity: Decimal? = nil, options: RebalanceOptions) -> Decimal {
        let arrival = Quote(symbol: (try? Symbol(l.symbol)) ?? "X", bid: l.bid, ask: l.ask, last: nil)
        return (quantity ?? abs(l.delta)) * RebalancePricing.cap(.buy, arrival: arrival, pricing: options.pricing)
    }

    /// Shrinks buy quantities so that, at each order's price cap, they cost at most `budget`:
    /// sized at the expected fill price with what the price steps could add kept in reserve.
    /// Lines that shrink to nothing or below `min_trade` are dropped. Returns the lines and a
    /// warning when it shrank them.
    public static func fitBuys(_ buys: [PlanLine], budget: Decimal, options: RebalanceOptions) -> (lines: [PlanLine], warning: String?) {
        let total = buys.reduce(Decimal(0)) { $0 + capCost($1, options: options) }
        guard total > budget else { return (buys, nil) }
        let ratio = budget <= 0 ? 0 : budget / total
        var out: [PlanLine] = []
        var left = budget
        for var l in buys {
            var q = l.delta * ratio
            q = options.fractional ? q.rounded(scale: 4, .down) : q.rounded(scale: 0, .down)
            if q <= 0 { continue }
            let value = (q * (l.estimatedPrice ?? l.mid ?? 0)).rounded(scale: 2)
            if value < options.minTrade { continue }
            left -= capCost(l, quantity: q, options: options)
            l.delta = q
            l.targetQuantity = l.currentQuantity + (l.workingQuantity ?? 0) + q
            l.estimatedValue = value
            out.append(l)
        }
        // Whole shares leave change: spend it on one more share of the largest lines that fit.
        if !options.fractional {
            var added = true
            while added {
                added = false
                for i in out.indices {
                    let one = capCost(out[i], quantity: 1, options: options)
                    guard one <= left, out[i].delta + 1 <= buys.first(where: { $0.symbol == out[i].symbol })!.delta else { continue }
                    left -= one
                    added = true
                    out[i].delta += 1
                    out[i].targetQuantity += 1
                    out[i].estimatedValue = (out[i].delta * (out[i].estimatedPrice ?? out[i].mid ?? 0)).rounded(scale: 2)
                }
            }
        }
        return (out, "buys cut to \((ratio * 100).rounded(scale: 1).plainString)% to stay within the cash available \(budget.plainString)")
    }
}

/// Whether a new order may go out: the one gate checked before every place and replace, before
/// the buys are planned and on every resume.
public enum RebalanceGate {
    /// Nil when a new order may go out at `now`; otherwise why not.
    public static func closed(now: Date, deadline: Date?, inSession: Bool, allowOutsideSession: Bool, market: String) -> String? {
        let iso = ISO8601DateFormatter()
        if let deadline, now >= deadline { return "the deadline \(iso.string(from: deadline)) has passed" }
        if !allowOutsideSession && !inSession {
            return "\(market) is not in session at \(iso.string(from: now)) (set allow_outside_session: true to trade outside the session)"
        }
        return nil
    }
}

/// What the run does after a round: the round logic of the rebalance, pure.
public enum RebalanceRounds {
    /// The most rounds a run plans (each round sells, buys and re-plans from fresh cash and positions).
    public static let maxRounds = 6

    /// The decision after looking at a fresh plan.
    public enum Decision: Sendable, Hashable {
        /// Every line is within drift (or a share / `min_trade` of its target).
        case converged
        /// Trade another round: these sells now, the buys re-planned after them.
        case trade
        /// Only buys are left and the cash (less the buffer) covers none of them.
        case unaffordable
        /// Lines are left that cannot be traded (rejected earlier, unusable quotes).
        case stuck
        /// The round limit is reached.
        case roundLimit
    }

    /// Decides from `plan` (fresh), the buys that fit the cash (`affordableBuys`), the symbols
    /// this run may no longer trade (`blocked`: rejected) and the number of the next round.
    public static func decide(plan: RebalancePlan, affordableBuys: [PlanLine], blocked: Set<String>, nextRound: Int) -> Decision {
        if plan.unfinished.isEmpty { return .converged }
        let sells = plan.sells.filter { !blocked.contains($0.symbol) }
        let buys = affordableBuys.filter { !blocked.contains($0.symbol) }
        if sells.isEmpty && buys.isEmpty {
            return plan.buys.contains { !blocked.contains($0.symbol) } ? .unaffordable : .stuck
        }
        if nextRound > maxRounds { return .roundLimit }
        return .trade
    }
}
