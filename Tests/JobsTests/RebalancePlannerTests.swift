import Brokers
import Foundation
import Jobs
import Scheduler
import Testing

/// The pure parts: planning and pricing.
@Suite struct RebalancePlannerTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func quote(_ s: Symbol, _ p: Decimal, half: Decimal = Decimal(string: "0.01")!) -> Quote {
        Quote(symbol: s, bid: p - half, ask: p + half, last: p, time: now)
    }

    func options(_ extra: [String: ConfigValue] = [:]) throws -> RebalanceOptions {
        var o: [String: ConfigValue] = ["broker": .string("b"), "strategy": .string("s")]
        for (k, v) in extra { o[k] = v }
        return try RebalanceOptions(o)
    }

    @Test func wholeSharesBufferSkipsAndSellingWhatIsNotTargeted() throws {
        let inputs = RebalanceInputs(
            targets: ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!, "AAPL": Decimal(string: "0.0")!],
            positions: ["SPY": 10, "BND": 550, "TINY": 1], equity: 100_000, cash: 54_344, buyingPower: 54_344,
            quotes: ["VTI": quote("VTI", 250), "BND": quote("BND", Decimal(string: "72.10")!), "SPY": quote("SPY", 500), "TINY": quote("TINY", 5)],
            now: now, requireFreshQuotes: true)
        let plan = try RebalancePlanner.plan(inputs, options: try options(["cash_buffer": .string("1%"), "min_trade": .number(100)]))
        #expect(plan.cashBuffer == 1_000)
        let byName = Dictionary(uniqueKeysWithValues: plan.lines.map { ($0.symbol, $0) })
        #expect(byName["VTI"]?.delta == 237 && byName["VTI"]?.side == .buy)  // floor(59,400 / 250)
        #expect(byName["BND"]?.skip == "within drift")  // 550 × 72.10 = 39.7% vs 39.6%
        #expect(byName["SPY"]?.delta == -10 && byName["SPY"]?.side == .sell)
        #expect(byName["TINY"]?.skip == "below min_trade")
        #expect(plan.sells.map(\.symbol) == ["SPY"])
        #expect(plan.grossValue == (byName["VTI"]!.estimatedValue + byName["SPY"]!.estimatedValue))
        let fractional = try RebalancePlanner.plan(inputs, options: try options(["fractional": .bool(true), "cash_buffer": .string("1000")]))
        #expect(fractional.lines.first { $0.symbol == "VTI" }?.delta == Decimal(string: "237.6"))
    }

    @Test func badQuotesAreNamed() throws {
        var inputs = RebalanceInputs(
            targets: ["VTI": 1], positions: [:], equity: 10_000, cash: 10_000, buyingPower: 10_000,
            quotes: ["VTI": Quote(symbol: "VTI", bid: 251, ask: 250, last: 250)], now: now, requireFreshQuotes: true)
        #expect { try RebalancePlanner.plan(inputs, options: try options()) } throws: { "\($0)".contains("VTI (crossed") }
        inputs.quotes["VTI"] = Quote(symbol: "VTI", bid: 249, ask: 251, last: 250, time: now.addingTimeInterval(-3600))
        #expect { try RebalancePlanner.plan(inputs, options: try options()) } throws: { "\($0)".contains("VTI (stale") }
        inputs.requireFreshQuotes = false
        let outside = try RebalancePlanner.plan(inputs, options: try options())
        #expect(outside.warnings.contains { $0.contains("outside the session") })
    }

    @Test func pricesStepTowardTheTouchAndStopAtTheCap() throws {
        let pricing = try options(["pricing": .map(["start": .string("mid"), "step": .string("25%"), "limit": .string("0.5%")])]).pricing
        let q = Quote(symbol: "VTI", bid: 249, ask: 251, last: 250)
        let buys = (0..<8).map { RebalancePricing.price(.buy, quote: q, round: $0, arrival: q, pricing: pricing) }
        #expect(Array(buys.prefix(3)) == [250, Decimal(string: "250.5")!, 251])
        #expect(buys.last == Decimal(string: "252.25"), "capped at 251 × 1.005 rounded down")
        let sells = (0..<3).map { RebalancePricing.price(.sell, quote: q, round: $0, arrival: q, pricing: pricing) }
        #expect(sells == [250, Decimal(string: "249.5")!, 249])
        let tight = Quote(symbol: "VTI", bid: Decimal(string: "249.99")!, ask: Decimal(string: "250.01")!, last: 250)
        #expect(RebalancePricing.price(.buy, quote: tight, round: 1, arrival: tight, pricing: pricing, previous: 250) == Decimal(string: "250.01"))
    }

    @Test func buysShrinkToTheBuyingPower() throws {
        let line = PlanLine(
            symbol: "VTI", currentQuantity: 0, currentWeight: 0, targetWeight: 1, targetQuantity: 400, delta: 400, side: .buy, bid: 249, ask: 251,
            mid: 250, estimatedPrice: 250, estimatedValue: 100_000, skip: nil)
        let (lines, warning) = RebalancePlanner.fitBuys([line], budget: 50_000, options: try options())
        #expect(warning != nil)
        #expect(lines[0].delta * Decimal(string: "252.25")! <= 50_000)
        #expect(RebalancePlanner.fitBuys([line], budget: 200_000, options: try options()).warning == nil)
    }

    @Test func optionProblemsAreReported() {
        let live = ComponentSpec(name: "ts", type: "tradestation", options: ["environment": .string("live"), "account": .string("1")])
        let futures = ComponentSpec(name: "tv", type: "tradovate", options: [:])
        let base: [String: ConfigValue] = ["broker": .string("ts"), "strategy": .string("s")]
        #expect(RebalanceOptions.check(base, ["ts": live], [:]).map(\.key) == ["max_notional"])
        #expect(RebalanceOptions.check(base.merging(["max_notional": .number(5)]) { $1 }, ["ts": live], [:]).isEmpty)
        #expect(RebalanceOptions.check(["broker": .string("tv"), "strategy": .string("s")], ["tv": futures], [:]).map(\.key) == ["broker"])
        let bad = RebalanceOptions.check(
            base.merging(["max_notional": .number(5), "drift": .string("x"), "deadline": .string("soon"), "poll_every": .duration(.seconds(600))]) { $1 },
            ["ts": live], [:])
        #expect(Set(bad.map(\.key)) == ["drift", "deadline", "poll_every"])
    }
}
