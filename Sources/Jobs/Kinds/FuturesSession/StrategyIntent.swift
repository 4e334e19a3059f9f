import Foundation

/// One line a strategy writes: an intent, decoded in one place. Fields are read leniently (a
/// field of the wrong type is absent), so the session answers each mistake with its own reject;
/// a line that is not a JSON object with a string `type` does not decode.
///
/// ```json
/// {"type":"order","tag":"entry","symbol":"MESZ6","side":"buy","qty":2,"order":"limit","price":5000.25}
/// {"type":"cancel","tag":"entry"}
/// {"type":"flatten"}
/// ```
struct StrategyIntent: Decodable, Sendable, Hashable {
    /// `order`, `cancel` or `flatten` (anything else is refused by the session).
    var type: String
    var tag: String?
    var symbol: String?
    /// `buy` or `sell`.
    var side: String?
    /// A whole number of contracts.
    var qty: Int?
    /// `market` (the default), `limit` or `stop`.
    var order: String?
    var price: Decimal?
    /// Whether `stop_price` was given, and its value when it is a number.
    var hasStopPrice = false
    var stopPrice: Decimal?

    enum CodingKeys: String, CodingKey {
        case type, tag, symbol, side, qty, order, price
        case stopPrice = "stop_price"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        tag = try? c.decodeIfPresent(String.self, forKey: .tag)
        symbol = try? c.decodeIfPresent(String.self, forKey: .symbol)
        side = try? c.decodeIfPresent(String.self, forKey: .side)
        qty = Self.whole(c, .qty)
        order = try? c.decodeIfPresent(String.self, forKey: .order)
        price = Self.decimal(c, .price)
        hasStopPrice = c.contains(.stopPrice)
        stopPrice = Self.decimal(c, .stopPrice)
    }

    /// A whole number (`2` or `2.0`), else nil.
    private static func whole(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Int? {
        if let n = try? c.decodeIfPresent(Int.self, forKey: key) { return n }
        guard let d = try? c.decodeIfPresent(Double.self, forKey: key), d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// A number, or a string holding one; else nil.
    private static func decimal(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Decimal? {
        if let d = try? c.decodeIfPresent(Decimal.self, forKey: key) { return d }
        return (try? c.decodeIfPresent(String.self, forKey: key)).flatMap { $0.flatMap { Decimal(string: $0) } }
    }

    /// The intent on `line`, or nil when it is not a JSON object with a string `type`.
    static func decode(_ line: String) -> StrategyIntent? { try? JSONDecoder().decode(StrategyIntent.self, from: Data(line.utf8)) }

    /// The trigger of a stop order: `stop_price` when given (even if unreadable), else `price`.
    var stopTrigger: Decimal? { hasStopPrice ? stopPrice : price }
}
