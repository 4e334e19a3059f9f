import Brokers
import Foundation
import Jobs
import Scheduler
import Testing

/// The pure decisions of the rebalance, table-driven: refusals, the plan's boundary rows, the
/// cash budget, buy sizing at the price cap, the gate and the round logic.
@Suite struct RebalanceRoundTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static func d(_ s: String) -> Decimal { Decimal(string: s)! }

    static func quote(_ s: Symbol, _ p: Decimal) -> Quote { Quote(symbol: s, bid: p - d("0.01"), ask: p + d("0.01"), last: p, time: now) }

    static func options(_ extra: [String: ConfigValue] = [:]) -> RebalanceOptions {
        var o: [String: ConfigValue] = ["broker": .string("b"), "strategy": .string("s")]
        for (k, v) in extra { o[k] = v }
        return try! RebalanceOptions(o)
    }

    static func inputs(
        targets: [Symbol: Decimal], positions: [Symbol: Decimal] = [:], cash: Decimal, equity: Decimal? = nil, prices: [Symbol: Decimal] = [:]
    ) -> RebalanceInputs {
        var quotes: [Symbol: Quote] = [:]
        for (s, p) in prices { quotes[s] = quote(s, p) }
        let valued = cash + positions.reduce(Decimal(0)) { $0 + $1.value * (prices[$1.key] ?? 0) }
        return RebalanceInputs(
            targets: targets, positions: positions, equity: equity ?? valued, cash: cash, buyingPower: cash, quotes: quotes, now: now,
            requireFreshQuotes: true)
    }

    struct RefusalRow: Sendable, CustomTestStringConvertible {
        var name: String
        var inputs: RebalanceInputs
        var options: RebalanceOptions
        var refusal: String?
        var testDescription: String { name }
    }

    static let refusals: [RefusalRow] = [
        .init(name: "empty targets", inputs: inputs(targets: [:], cash: 1_000), options: options(), refusal: "no target weights"),
        .init(name: "zero-sum targets", inputs: inputs(targets: ["VTI": 0], cash: 1_000), options: options(), refusal: "no target weights"),
        .init(
            name: "empty with allow_liquidation", inputs: inputs(targets: [:], cash: 1_000), options: options(["allow_liquidation": .bool(true)]),
            refusal: nil),
        .init(
            name: "over 100%", inputs: inputs(targets: ["VTI": d("0.7"), "BND": d("0.4")], cash: 1_000, prices: ["VTI": 250, "BND": 72]),
            options: options(), refusal: "above 100%"),
        .init(
            name: "buffer at equity", inputs: inputs(targets: ["VTI": 1], cash: 1_000, prices: ["VTI": 250]),
            options: options(["cash_buffer": .string("1000")]), refusal: "at or above"),
        .init(
            name: "buffer just below equity", inputs: inputs(targets: ["VTI": 1], cash: 1_000, prices: ["VTI": 250]),
            options: options(["cash_buffer": .string("999.99")]), refusal: nil),
        .init(
            name: "equity off by 2.5%",
            inputs: inputs(targets: ["VTI": 1], positions: ["VTI": 100], cash: 75_000, equity: 102_500, prices: ["VTI": 250]), options: options(),
            refusal: "disagrees"),
        .init(
            name: "equity off by 1.5%",
            inputs: inputs(targets: ["VTI": 1], positions: ["VTI": 100], cash: 75_000, equity: 101_500, prices: ["VTI": 250]), options: options(),
            refusal: nil),
        .init(name: "zero equity", inputs: inputs(targets: ["VTI": 1], cash: 0, prices: ["VTI": 250]), options: options(), refusal: "equity 0"),
    ]

    @Test(arguments: refusals)
    func refusalsNameTheirInput(_ row: RefusalRow) {
        let found = RebalancePlanner.refusal(row.inputs, options: row.options)
        if let expected = row.refusal {
            #expect(found?.contains(expected) == true, "\(found ?? "nil")")
        } else {
            #expect(found == nil, "\(found ?? "")")
        }
    }

    struct LineRow: Sendable, CustomTestStringConvertible {
        var name: String
        var held: Decimal
        var target: Decimal
        var cash: Decimal
        var price: Decimal
        var options: [String: ConfigValue]
        /// Expected (delta, skip).
        var delta: Decimal
        var skip: String?
        var testDescription: String { name }
    }

    // Equity is cash + held × price; VTI only.
    static let lines: [LineRow] = [
        .init(name: "zero target sells all", held: 10, target: 0, cash: 100, price: 100, options: ["allow_liquidation": .bool(true)], delta: -10, skip: nil),
        .init(name: "one share short is on target", held: 99, target: 1, cash: 99, price: 100, options: [:], delta: 0, skip: "on target"),
        .init(name: "two shares off, 2% drift", held: 98, target: 1, cash: 200, price: 100, options: [:], delta: 2, skip: nil),
        .init(
            name: "drift edge: exactly at drift is within", held: 995, target: 1, cash: 500, price: 100, options: ["drift": .string("0.5%")],
            delta: 0, skip: "within drift"),
        .init(
            name: "drift edge: just past drift trades", held: 994, target: 1, cash: 600, price: 100, options: ["drift": .string("0.5%")], delta: 6,
            skip: nil),
        .init(
            name: "min_trade edge: below is skipped", held: 90, target: 1, cash: 1_000, price: 100, options: ["min_trade": .number(1_001)],
            delta: 0, skip: "below min_trade"),
        .init(
            name: "min_trade edge: at it trades", held: 90, target: 1, cash: 1_000, price: 100, options: ["min_trade": .number(1_000)], delta: 10,
            skip: nil),
        .init(
            name: "buffer keeps cash out", held: 0, target: 1, cash: 10_000, price: 100, options: ["cash_buffer": .string("1%")], delta: 99, skip: nil),
        .init(
            name: "fractional holding sells whole shares", held: d("10.5"), target: 1, cash: 0, price: 100, options: ["cash_buffer": .string("250")],
            delta: -2, skip: nil),
        .init(
            name: "fractional mode buys fractions", held: 0, target: 1, cash: 1_000, price: 300, options: ["fractional": .bool(true)],
            delta: d("3.3333"), skip: nil),
    ]

    @Test(arguments: lines)
    func planLines(_ row: LineRow) throws {
        let inputs = Self.inputs(targets: row.target > 0 ? ["VTI": row.target] : [:], positions: ["VTI": row.held], cash: row.cash, prices: ["VTI": row.price])
        var extra = row.options
        if extra["drift"] == nil { extra["drift"] = .string("0.5%") }
        let plan = try RebalancePlanner.plan(inputs, options: Self.options(extra))
        let line = try #require(plan.lines.first { $0.symbol == "VTI" })
        #expect(line.delta == row.delta, "delta \(line.delta)")
        #expect(line.skip == row.skip, "skip \(line.skip ?? "nil")")
    }

    struct BudgetRow: Sendable, CustomTestStringConvertible {
        var name: String
        var cash: Decimal
        var buyingPower: Decimal
        var buffer: Decimal
        var committed: Decimal
        var useMargin: Bool
        var budget: Decimal
        var testDescription: String { name }
    }

    static let budgets: [BudgetRow] = [
        .init(name: "cash account", cash: 50_000, buyingPower: 50_000, buffer: 1_000, committed: 0, useMargin: false, budget: 49_000),
        .init(name: "margin account: cash, not margin", cash: 50_000, buyingPower: 200_000, buffer: 1_000, committed: 0, useMargin: false, budget: 49_000),
        .init(name: "margin with use_margin", cash: 50_000, buyingPower: 200_000, buffer: 1_000, committed: 0, useMargin: true, budget: 199_000),
        .init(name: "buying power below cash (unsettled)", cash: 50_000, buyingPower: 30_000, buffer: 1_000, committed: 0, useMargin: false, budget: 29_000),
        .init(name: "working buys commit cash", cash: 50_000, buyingPower: 50_000, buffer: 1_000, committed: 9_600, useMargin: false, budget: 39_400),
        .init(name: "buffer above cash: nothing", cash: 500, buyingPower: 500, buffer: 1_000, committed: 0, useMargin: false, budget: 0),
    ]

    @Test(arguments: budgets)
    func buyBudgetIsCashLessTheBuffer(_ row: BudgetRow) {
        #expect(
            RebalancePlanner.buyBudget(cash: row.cash, buyingPower: row.buyingPower, buffer: row.buffer, committed: row.committed, useMargin: row.useMargin)
                == row.budget)
    }

    static func buy(_ symbol: String, _ qty: Decimal, at p: Decimal) -> PlanLine {
        PlanLine(
            symbol: symbol, currentQuantity: 0, currentWeight: 0, targetWeight: 1, targetQuantity: qty, delta: qty, side: .buy, bid: p - d("0.01"),
            ask: p + d("0.01"), mid: p, estimatedPrice: p, estimatedValue: qty * p, skip: nil)
    }

    struct FitRow: Sendable, CustomTestStringConvertible {
        var name: String
        var buys: [PlanLine]
        var budget: Decimal
        var options: [String: ConfigValue]
        var quantities: [String: Decimal]
        var testDescription: String { name }
    }

    // VTI at 250 (ask 250.01): cap at 3% = 257.51; at 0.5% = 251.26.
    static let fits: [FitRow] = [
        .init(name: "fits at the cap: untouched", buys: [buy("VTI", 10, at: 250)], budget: 2_575.10, options: [:], quantities: ["VTI": 10]),
        .init(name: "one cent short at the cap: cut", buys: [buy("VTI", 10, at: 250)], budget: 2_512.59, options: [:], quantities: ["VTI": 9]),
        .init(
            name: "3% cap reserve", buys: [buy("VTI", 93, at: 250)], budget: 23_000,
            options: ["pricing": .map(["limit": .string("3%")])], quantities: ["VTI": 89]),
        .init(name: "zero budget: nothing", buys: [buy("VTI", 10, at: 250)], budget: 0, options: [:], quantities: [:]),
        .init(name: "cut below min_trade is dropped", buys: [buy("VTI", 10, at: 250)], budget: 600, options: ["min_trade": .number(1_000)], quantities: [:]),
        .init(
            name: "change buys one more share", buys: [buy("VTI", 10, at: 250), buy("BND", 10, at: 72)], budget: 2_500, options: [:],
            quantities: ["VTI": 7, "BND": 10]),
        .init(
            name: "fractional cut", buys: [buy("VTI", 10, at: 250)], budget: 1_256.30, options: ["fractional": .bool(true)], quantities: ["VTI": 5]),
    ]

    @Test(arguments: fits)
    func buysAreSizedToTheBudgetAtTheirCaps(_ row: FitRow) {
        let options = Self.options(row.options)
        let (lines, _) = RebalancePlanner.fitBuys(row.buys, budget: row.budget, options: options)
        #expect(Dictionary(uniqueKeysWithValues: lines.map { ($0.symbol, $0.delta) }) == row.quantities)
        let atCap = lines.reduce(Decimal(0)) { $0 + RebalancePlanner.capCost($1, options: options) }
        #expect(atCap <= row.budget, "at the caps \(atCap) within \(row.budget)")
    }

    struct GateRow: Sendable, CustomTestStringConvertible {
        var name: String
        var now: String
        var deadline: String?
        var inSession: Bool
        var allowOutside: Bool
        var closed: String?
        var testDescription: String { name }
    }

    static let gates: [GateRow] = [
        .init(
            name: "in session, before the deadline", now: "2026-11-23T15:00:00Z", deadline: "2026-11-23T17:00:00Z", inSession: true, allowOutside: false,
            closed: nil),
        .init(name: "at the deadline", now: "2026-11-23T17:00:00Z", deadline: "2026-11-23T17:00:00Z", inSession: true, allowOutside: false, closed: "deadline"),
        .init(name: "outside the session", now: "2026-11-23T03:00:00Z", deadline: nil, inSession: false, allowOutside: false, closed: "not in session"),
        .init(name: "outside, allowed", now: "2026-11-23T03:00:00Z", deadline: nil, inSession: false, allowOutside: true, closed: nil),
        .init(
            name: "outside, allowed, past the deadline", now: "2026-11-23T03:00:00Z", deadline: "2026-11-23T02:00:00Z", inSession: false, allowOutside: true,
            closed: "deadline"),
    ]

    @Test(arguments: gates)
    func theGate(_ row: GateRow) {
        let iso = ISO8601DateFormatter()
        let closed = RebalanceGate.closed(
            now: iso.date(from: row.now)!, deadline: row.deadline.flatMap { iso.date(from: $0) }, inSession: row.inSession,
            allowOutsideSession: row.allowOutside, market: "XNYS")
        if let expected = row.closed {
            #expect(closed?.contains(expected) == true, "\(closed ?? "nil")")
        } else {
            #expect(closed == nil)
        }
    }

    static func line(_ symbol: String, side: OrderSide?, delta: Decimal, skip: String? = nil) -> PlanLine {
        var l = buy(symbol, abs(delta), at: 100)
        l.side = side
        l.delta = delta
        l.skip = skip
        return l
    }

    static func plan(_ lines: [PlanLine]) -> RebalancePlan {
        RebalancePlan(equity: 10_000, cash: 0, buyingPower: 0, cashBuffer: 0, lines: lines, warnings: [])
    }

    struct RoundRow: Sendable, CustomTestStringConvertible {
        var name: String
        var plan: RebalancePlan
        var affordable: [PlanLine]
        var blocked: Set<String>
        var nextRound: Int
        var decision: RebalanceRounds.Decision
        var testDescription: String { name }
    }

    static let roundRows: [RoundRow] = [
        .init(
            name: "all within drift", plan: plan([line("VTI", side: nil, delta: 0, skip: "within drift")]), affordable: [], blocked: [], nextRound: 2,
            decision: .converged),
        .init(
            name: "a buy left that fits", plan: plan([line("VTI", side: .buy, delta: 2)]), affordable: [line("VTI", side: .buy, delta: 2)], blocked: [],
            nextRound: 2, decision: .trade),
        .init(
            name: "a buy left that does not fit", plan: plan([line("VTI", side: .buy, delta: 2)]), affordable: [], blocked: [], nextRound: 2,
            decision: .unaffordable),
        .init(name: "a sell left", plan: plan([line("SPY", side: .sell, delta: -3)]), affordable: [], blocked: [], nextRound: 3, decision: .trade),
        .init(
            name: "only a rejected symbol left", plan: plan([line("SPY", side: .sell, delta: -3)]), affordable: [], blocked: ["SPY"], nextRound: 2,
            decision: .stuck),
        .init(
            name: "an unusable quote left", plan: plan([line("BND", side: nil, delta: 0, skip: "no usable quote: halted")]), affordable: [], blocked: [],
            nextRound: 2, decision: .stuck),
        .init(
            name: "past the round limit", plan: plan([line("VTI", side: .buy, delta: 2)]), affordable: [line("VTI", side: .buy, delta: 2)], blocked: [],
            nextRound: RebalanceRounds.maxRounds + 1, decision: .roundLimit),
    ]

    @Test(arguments: roundRows)
    func theRoundDecision(_ row: RoundRow) {
        #expect(RebalanceRounds.decide(plan: row.plan, affordableBuys: row.affordable, blocked: row.blocked, nextRound: row.nextRound) == row.decision)
    }
}
