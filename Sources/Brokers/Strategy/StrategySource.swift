public import Foundation

/// Target portfolio weights by symbol, validated: each weight is 0…1 and they sum to at most
/// 1 + ``epsilon`` (the rest is cash).
public struct TargetWeights: Sendable, Hashable, Codable {
    /// Allowed rounding slack on the sum.
    public static let epsilon = Decimal(string: "0.000001")!
    /// Weight per symbol.
    public let weights: [Symbol: Decimal]
    /// The next date the strategy trades, when the source knows it.
    public let nextTradeDate: Date?
    /// The date these weights are for, when known.
    public let asOf: Date?

    public init(_ weights: [Symbol: Decimal], nextTradeDate: Date? = nil, asOf: Date? = nil) throws(BrokerError) {
        var total: Decimal = 0
        for (s, w) in weights {
            guard w >= 0 else { throw .invalid("weight for \(s) is \(w); weights must not be negative") }
            guard w <= 1 + TargetWeights.epsilon else { throw .invalid("weight for \(s) is \(w); a weight cannot exceed 1") }
            total += w
        }
        guard total <= 1 + TargetWeights.epsilon else {
            throw .invalid("weights sum to \(total.plainString); they must sum to at most 1 (the rest is cash)")
        }
        self.weights = weights.filter { $0.value > 0 }
        self.nextTradeDate = nextTradeDate
        self.asOf = asOf
    }

    /// Sum of weights.
    public var total: Decimal { weights.values.reduce(0, +) }
    /// Cash weight (1 − total, never negative).
    public var cashWeight: Decimal { max(0, 1 - total) }
}

/// Where target weights come from (Penny Vault, an inline map, a file).
public protocol StrategySource: Sendable {
    /// The current target weights.
    func targetWeights() async throws -> TargetWeights
}

/// Fixed weights from configuration (`{ type: weights, weights: { VTI: 0.6, BND: 0.4 } }`).
public struct InlineWeightsSource: StrategySource {
    let weights: TargetWeights
    /// Parses and validates the map (symbol → weight as decimal text or number).
    public init(_ raw: [String: Decimal]) throws(BrokerError) {
        var map: [Symbol: Decimal] = [:]
        for (k, v) in raw { map[try Symbol(k)] = v }
        weights = try TargetWeights(map)
    }
    public func targetWeights() async throws -> TargetWeights { weights }
}

/// Weights from a file, re-read on every call: JSON (`{"VTI": "0.6", "BND": 0.4}` or
/// `{"weights": {...}, "nextTradeDate": "2026-01-02"}`) or CSV (`symbol,weight`).
public struct FileWeightsSource: StrategySource {
    public let url: URL
    public init(url: URL) { self.url = url }

    public func targetWeights() async throws -> TargetWeights {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BrokerError(.invalidConfiguration, "cannot read the weights file \(url.path): \(error.localizedDescription)")
        }
        let isJSON = url.pathExtension.lowercased() == "json" || data.first.map { $0 == UInt8(ascii: "{") } == true
        return isJSON ? try Self.parseJSON(data, path: url.path) : try Self.parseCSV(String(decoding: data, as: UTF8.self), path: url.path)
    }

    static func parseJSON(_ data: Data, path: String) throws(BrokerError) -> TargetWeights {
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalid("\(path): expected a JSON object of symbol → weight")
        }
        var map = obj
        var next: Date?
        if let inner = obj["weights"] as? [String: Any] {
            map = inner
            if let d = obj["nextTradeDate"] as? String { next = parseDay(d) }
        }
        var out: [Symbol: Decimal] = [:]
        for (k, v) in map {
            let w: Decimal?
            switch v {
            case let s as String: w = Decimal(exactly: s)
            case let n as NSNumber: w = Decimal(exactly: n.stringValue)
            default: w = nil
            }
            guard let w else { throw .invalid("\(path): weight for \(k) is not a number") }
            let symbol: Symbol
            do { symbol = try Symbol(k) } catch { throw .invalid("\(path): \(error.message)") }
            out[symbol] = w
        }
        do { return try TargetWeights(out, nextTradeDate: next) } catch { throw .invalid("\(path): \(error.message)") }
    }

    static func parseCSV(_ text: String, path: String) throws(BrokerError) -> TargetWeights {
        var out: [Symbol: Decimal] = [:]
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let cols = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if n == 0, cols.first?.lowercased() == "symbol" { continue }
            guard cols.count >= 2 else { throw .invalid("\(path):\(n + 1): expected 'symbol,weight'") }
            guard let w = Decimal(exactly: cols[1]) else { throw .invalid("\(path):\(n + 1): weight '\(cols[1])' is not a number") }
            let symbol: Symbol
            do { symbol = try Symbol(cols[0]) } catch { throw .invalid("\(path):\(n + 1): \(error.message)") }
            guard out[symbol] == nil else { throw .invalid("\(path):\(n + 1): \(symbol) appears twice") }
            out[symbol] = w
        }
        do { return try TargetWeights(out) } catch { throw .invalid("\(path): \(error.message)") }
    }
}

func parseDay(_ s: String) -> Date? {
    if let d = ISO8601DateFormatter().date(from: s) { return d }
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    return f.date(from: String(s.prefix(10)))
}
