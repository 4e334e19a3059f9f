import Brokers
import Foundation
import Jobs
import Scheduler

/// Planning a rebalance of a large account (the pure planner: targets, holdings, quotes).
enum RebalanceBenchmarks {
    /// Plans a 500-symbol rebalance (250 held, 250 new, 100 of the held dropped) and prints the
    /// median time of several runs.
    static func planning(symbols count: Int = 500) throws {
        var targets: [Symbol: Decimal] = [:]
        var positions: [Symbol: Decimal] = [:]
        var quotes: [Symbol: Quote] = [:]
        let now = Date()
        for i in 0..<(count + 100) {
            let symbol = try Symbol("S\(i)")
            let price = Decimal(20 + (i * 37) % 480) + Decimal(string: "0.25")!
            quotes[symbol] = Quote(symbol: symbol, bid: price - Decimal(string: "0.01")!, ask: price + Decimal(string: "0.01")!, last: price, time: now)
            if i < count { targets[symbol] = Decimal(1) / Decimal(count) }
            if i % 2 == 0 || i >= count { positions[symbol] = Decimal(10 + i % 90) }
        }
        let inputs = RebalanceInputs(
            targets: targets, positions: positions, equity: 10_000_000, cash: 2_000_000, buyingPower: 2_000_000, quotes: quotes, now: now,
            requireFreshQuotes: true)
        let options = try RebalanceOptions([
            "broker": .string("b"), "strategy": .string("s"), "cash_buffer": .string("1%"), "min_trade": .number(100), "drift": .string("0.01%"),
        ])
        var times: [Double] = []
        var orders = 0
        for _ in 0..<7 {
            let start = ContinuousClock.now
            let plan = try RebalancePlanner.plan(inputs, options: options)
            let fitted = RebalancePlanner.fitBuys(plan.buys, budget: inputs.buyingPower, options: options)
            orders = plan.sells.count + fitted.lines.count
            let d = ContinuousClock.now - start
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        times.sort()
        print(
            "rebalance planning: \(count) target symbols (+100 held to drop), \(orders) orders; median \(String(format: "%.1f", times[times.count / 2] * 1000)) ms "
                + "(max \(String(format: "%.1f", times.last! * 1000)) ms) per plan")
    }
}
