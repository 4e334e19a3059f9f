public import Foundation

/// Text validated when it is made (a symbol, an idempotency key), coded as the plain string: a
/// value that fails validation fails decoding with the validation's message.
public protocol ValidatedText: Codable {
    /// The validated text.
    var rawValue: String { get }
    /// Validates `raw`.
    init(_ raw: String) throws(BrokerError)
}

extension ValidatedText {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A validated trading symbol: 1–32 characters of `A–Z 0–9 . / - _ @ $ ^ space`, upper-cased.
public struct Symbol: ValidatedText, Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The normalised symbol text.
    public let rawValue: String

    /// Validates and normalises (trims, upper-cases) `raw`.
    public init(_ raw: String) throws(BrokerError) {
        let text = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard !text.isEmpty, text.count <= 32 else {
            throw .invalid("symbol '\(raw.prefix(40))' must be 1–32 characters")
        }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./-_@$^ ")
        guard text.allSatisfy({ allowed.contains($0) }) else {
            throw .invalid("symbol '\(raw.prefix(40))' contains characters other than letters, digits and . / - _ @ $ ^")
        }
        rawValue = text
    }

    /// A literal symbol; traps on an invalid literal (programmer error). Note that `Symbol("X")`
    /// with a literal argument also uses this initialiser: validate user input from a variable.
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure(error.message) }
    }

    public var description: String { rawValue }
    public static func < (lhs: Symbol, rhs: Symbol) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A validated order quantity: positive, at most ``maximum``, at most 8 decimal places.
public struct Quantity: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The largest quantity accepted in one order.
    public static let maximum: Decimal = 10_000_000
    /// The quantity.
    public let value: Decimal

    /// Validates `value` (positive, ≤ ``maximum``, ≤ 8 decimals).
    public init(_ value: Decimal) throws(BrokerError) {
        guard value > 0 else { throw .invalid("quantity \(value) must be greater than zero") }
        guard value <= Quantity.maximum else {
            throw .invalid("quantity \(value) exceeds the maximum of \(Quantity.maximum) per order")
        }
        guard value.rounded(scale: 8) == value else { throw .invalid("quantity \(value) has more than 8 decimal places") }
        self.value = value
    }

    /// Parses a decimal string such as `"10"` or `"0.5"`.
    public init(parsing text: String) throws(BrokerError) {
        guard let d = Decimal(exactly: text) else { throw .invalid("quantity '\(text.prefix(40))' is not a number") }
        try self.init(d)
    }

    public init(integerLiteral value: Int) {
        do { try self.init(Decimal(value)) } catch { preconditionFailure(error.message) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let d: Decimal
        if let s = try? c.decode(String.self), let parsed = Decimal(exactly: s) { d = parsed } else { d = try c.decode(Decimal.self) }
        do { try self.init(d) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value.plainString)
    }

    /// Whether the quantity is a whole number.
    public var isWhole: Bool { value.rounded(scale: 0) == value }
    public var description: String { value.plainString }
    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.value < rhs.value }
}

/// An idempotency key for an order: 1–22 characters of `A–Z a–z 0–9 + / = _ -`.
///
/// It is sent as TradeStation `OrderConfirmID` (at most 22 characters) and Tradovate `clOrdId`.
/// Derive it from the run and step so a resumed run never doubles an order.
public struct IdempotencyKey: ValidatedText, Sendable, Hashable, CustomStringConvertible {
    /// The maximum length (TradeStation's `OrderConfirmID` limit).
    public static let maxLength = 22
    /// The key text.
    public let rawValue: String

    /// Validates `raw`.
    public init(_ raw: String) throws(BrokerError) {
        guard !raw.isEmpty, raw.count <= IdempotencyKey.maxLength else {
            throw .invalid("idempotency key '\(raw.prefix(40))' must be 1–22 characters (TradeStation OrderConfirmID limit)")
        }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
        guard raw.allSatisfy({ allowed.contains($0) }) else {
            throw .invalid("idempotency key '\(raw.prefix(40))' may only contain letters, digits and + / = _ -")
        }
        rawValue = raw
    }

    /// A random key (22 characters), for callers that have no run/step to derive one from.
    public static func random() -> IdempotencyKey {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var g = SystemRandomNumberGenerator()
        let text = String((0..<22).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
        return try! IdempotencyKey(text)
    }

    /// A deterministic key derived from arbitrary parts (e.g. run id and step): FNV-1a 128 bits, base62, 22 chars.
    public static func derived(from parts: String...) -> IdempotencyKey {
        let text = parts.joined(separator: "\u{1F}")
        var h1: UInt64 = 0xcbf2_9ce4_8422_2325
        var h2: UInt64 = 0x8422_2325_cbf2_9ce4
        for b in text.utf8 {
            h1 = (h1 ^ UInt64(b)) &* 0x0000_0100_0000_01B3
            h2 = (h2 ^ UInt64(b) ^ (h1 >> 29)) &* 0x0000_0100_0000_01B3
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var out = ""
        var a = h1, b = h2
        for i in 0..<22 {
            if i < 11 { out.append(alphabet[Int(a % 62)]); a /= 62 } else { out.append(alphabet[Int(b % 62)]); b /= 62 }
        }
        return try! IdempotencyKey(out)
    }

    public var description: String { rawValue }
}

/// Validates a price: positive and below a sane bound (1e9), at most 8 decimals.
public func validatedPrice(_ price: Decimal, field: String = "price") throws(BrokerError) -> Decimal {
    guard price > 0 else { throw .invalid("\(field) \(price) must be greater than zero") }
    guard price < 1_000_000_000 else { throw .invalid("\(field) \(price) is above the sane maximum of 1,000,000,000") }
    guard price.rounded(scale: 8) == price else { throw .invalid("\(field) \(price) has more than 8 decimal places") }
    return price
}

extension Decimal {
    /// Parses a decimal string exactly (no binary floating point); nil when not a plain number.
    public init?(exactly text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { return nil }
        var sawDigit = false
        var sawDot = false
        for (i, ch) in t.enumerated() {
            if ch.isASCII && ch.isNumber { sawDigit = true; continue }
            if ch == "." && !sawDot { sawDot = true; continue }
            if (ch == "-" || ch == "+") && i == 0 { continue }
            return nil
        }
        guard sawDigit, let d = Decimal(string: t, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        self = d
    }

    /// Rounds to `scale` decimal places (banker's rounding unless `mode` says otherwise).
    public func rounded(scale: Int, _ mode: NSDecimalNumber.RoundingMode = .plain) -> Decimal {
        var input = self
        var result = Decimal()
        NSDecimalRound(&result, &input, scale, mode)
        return result
    }

    /// Plain decimal text without exponent or grouping, e.g. `"132.52"`.
    public var plainString: String {
        let d = NSDecimalNumber(decimal: self)
        return d.description(withLocale: Locale(identifier: "en_US_POSIX"))
    }
}

/// Equity tick sizes (US Reg NMS rule 612): $0.01 at or above $1, $0.0001 below.
public enum TickSize {
    /// The tick for an equity priced `price`.
    public static func equity(at price: Decimal) -> Decimal {
        price >= 1 ? Decimal(string: "0.01")! : Decimal(string: "0.0001")!
    }

    /// `price` on the tick grid: buys round down and sells up (never a worse limit than asked),
    /// `nil` side rounds to the nearest tick.
    public static func round(_ price: Decimal, side: OrderSide? = nil) -> Decimal {
        let scale = price >= 1 ? 2 : 4
        switch side {
        case .buy: return price.rounded(scale: scale, .down)
        case .sell: return price.rounded(scale: scale, .up)
        case nil: return price.rounded(scale: scale, .plain)
        }
    }
}
