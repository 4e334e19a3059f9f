public import Foundation

/// Prices for the paper broker, as a pure function of symbol and step (so restarts are deterministic).
public protocol PriceSource: Sendable {
    /// The price of `symbol` at `step` (step 0 is the start), or nil when unknown.
    func price(of symbol: Symbol, atStep step: Int) -> Decimal?
}

/// A seeded random walk: each step moves the price by −1 %…+1 % in 0.01 % increments, rounded to cents.
/// The same seed gives the same prices everywhere.
public struct RandomWalkPriceSource: PriceSource {
    public let seed: UInt64
    public let startPrices: [Symbol: Decimal]

    /// `startPrices` overrides the seeded start price (20–500) per symbol.
    public init(seed: UInt64, startPrices: [Symbol: Decimal] = [:]) {
        self.seed = seed
        self.startPrices = startPrices
    }

    public func price(of symbol: Symbol, atStep step: Int) -> Decimal? {
        var state = seed ^ fnv1a(symbol.rawValue)
        var price: Decimal = startPrices[symbol] ?? Decimal(20 + Int(splitMix(&state) % 481))
        for _ in 0..<max(0, step) {
            let bp = Int(splitMix(&state) % 201) - 100  // −100…+100 basis points
            price = (price * Decimal(10_000 + bp) / 10_000).rounded(scale: 2)
            if price < Decimal(string: "0.01")! { price = Decimal(string: "0.01")! }
        }
        return price
    }
}

/// Prices from CSV text with a header `step,symbol,price` (or `symbol,price`, rows in order).
/// The price at step n is the n-th row for the symbol, clamped to its last row.
public struct CSVPriceSource: PriceSource {
    let series: [Symbol: [Decimal]]

    /// Parses CSV text; throws with the line number on a bad row.
    public init(csv text: String) throws(BrokerError) {
        var series: [Symbol: [Decimal]] = [:]
        var symbolColumn = 0, priceColumn = 1
        var lineNumber = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let cols = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if lineNumber == 1, let si = cols.firstIndex(where: { $0.lowercased() == "symbol" }),
                let pi = cols.firstIndex(where: { $0.lowercased() == "price" })
            {
                symbolColumn = si; priceColumn = pi
                continue
            }
            guard cols.count > max(symbolColumn, priceColumn) else {
                throw .invalid("price CSV line \(lineNumber): expected columns symbol and price")
            }
            let symbol: Symbol
            do { symbol = try Symbol(cols[symbolColumn]) } catch { throw .invalid("price CSV line \(lineNumber): \(error.message)") }
            guard let p = Decimal(exactly: cols[priceColumn]), p > 0 else {
                throw .invalid("price CSV line \(lineNumber): price '\(cols[priceColumn])' is not a positive number")
            }
            series[symbol, default: []].append(p)
        }
        guard !series.isEmpty else { throw .invalid("price CSV has no rows") }
        self.series = series
    }

    /// Reads a CSV file.
    public init(contentsOf url: URL) throws(BrokerError) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw .invalid("cannot read price CSV \(url.path): \(error.localizedDescription)")
        }
        try self.init(csv: text)
    }

    public func price(of symbol: Symbol, atStep step: Int) -> Decimal? {
        guard let s = series[symbol], !s.isEmpty else { return nil }
        return s[min(max(0, step), s.count - 1)]
    }
}

func splitMix(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}
