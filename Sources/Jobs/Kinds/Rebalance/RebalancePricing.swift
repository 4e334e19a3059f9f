public import Brokers
public import Foundation

/// Limit prices for the rebalance: a start (`mid`, `passive`, `touch`), a move of `step` × the
/// spread toward the touch at each replan, and a cap `limit` beyond the arrival touch. Prices are
/// on the equity tick grid, buys rounded down and sells up.
public enum RebalancePricing {
    /// The furthest a limit may go: the arrival ask × (1 + limit) for a buy, the arrival bid ×
    /// (1 − limit) for a sell.
    public static func cap(_ side: OrderSide, arrival: Quote, pricing: RebalanceOptions.Pricing) -> Decimal {
        let bid = arrival.bid ?? 0
        let ask = arrival.ask ?? 0
        switch side {
        case .buy: return TickSize.round(ask * (1 + pricing.limit), side: .buy)
        case .sell: return TickSize.round(bid * (1 - pricing.limit), side: .sell)
        }
    }

    /// The limit price at replan `round` (0 = first) from `quote`, never beyond the cap from
    /// `arrival`, and (when `previous` is given) at least one tick further than it.
    public static func price(
        _ side: OrderSide, quote: Quote, round: Int, arrival: Quote, pricing: RebalanceOptions.Pricing, previous: Decimal? = nil
    ) -> Decimal {
        let bid = quote.bid ?? 0
        let ask = quote.ask ?? 0
        let spread = max(0, ask - bid)
        let mid = (bid + ask) / 2
        let base: Decimal
        switch (pricing.start, side) {
        case (.mid, _): base = mid
        case (.passive, .buy), (.touch, .sell): base = bid
        case (.passive, .sell), (.touch, .buy): base = ask
        }
        let move = Decimal(round) * pricing.step * spread
        var price = TickSize.round(side == .buy ? base + move : base - move, side: side)
        if let previous, round > 0 {
            let tick = TickSize.equity(at: previous)
            price = side == .buy ? max(price, previous + tick) : min(price, previous - tick)
        }
        let limit = cap(side, arrival: arrival, pricing: pricing)
        price = side == .buy ? min(price, limit) : max(price, limit)
        return max(price, TickSize.equity(at: price))
    }
}
