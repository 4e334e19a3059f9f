import Foundation

// Wire types for TradeStation v3 (PascalCase on the wire; numbers as strings).
// Decoded with `TSCoding.decoder` which lower-cases the first letter of each key.

enum TSCoding {
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .custom { keys in
            let k = keys.last!.stringValue
            return TSKey(k.prefix(1).lowercased() + k.dropFirst())
        }
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .custom { keys in
            let k = keys.last!.stringValue
            return TSKey(k.prefix(1).uppercased() + k.dropFirst())
        }
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}

struct TSKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

struct TSErrorBody: Decodable { var error: String?; var message: String? }

struct TSItemError: Codable, Sendable {
    var accountID: String?
    var symbol: String?
    var orderID: String?
    var error: String?
    var message: String?

    var partial: PartialError {
        PartialError(item: accountID ?? symbol ?? orderID ?? "", code: error ?? "", message: message ?? error ?? "")
    }
}

struct TSAccountsResponse: Decodable { var accounts: [TSAccount] }
struct TSAccount: Decodable {
    var accountID: String
    var accountType: String?
    var currency: String?
    var status: String?
}

struct TSBalancesResponse: Decodable { var balances: [TSBalance]?; var errors: [TSItemError]? }
struct TSBalance: Decodable {
    var accountID: String
    var accountType: String?
    var cashBalance: String?
    var buyingPower: String?
    var equity: String?
    var marketValue: String?
}

struct TSPositionsResponse: Decodable { var positions: [TSPosition]?; var errors: [TSItemError]? }
struct TSPosition: Decodable {
    var accountID: String
    var symbol: String
    var quantity: String
    var averagePrice: String?
    var marketValue: String?
    var longShort: String?
}

struct TSQuotesResponse: Decodable { var quotes: [TSQuote]?; var errors: [TSItemError]? }
struct TSQuote: Decodable {
    var symbol: String
    var bid: String?
    var ask: String?
    var last: String?
    var tradeTime: String?
    var marketFlags: TSMarketFlags?
}
struct TSMarketFlags: Decodable { var isDelayed: Bool?; var isHalted: Bool? }

struct TSOrdersResponse: Decodable { var orders: [TSOrder]?; var errors: [TSItemError]?; var nextToken: String? }
struct TSOrder: Decodable {
    var accountID: String
    var orderID: String
    var status: String
    var statusDescription: String?
    var orderType: String?
    var limitPrice: String?
    var stopPrice: String?
    var filledPrice: String?
    var openedDateTime: String?
    var closedDateTime: String?
    var rejectReason: String?
    var legs: [TSLeg]?
}
struct TSLeg: Decodable {
    var buyOrSell: String?
    var symbol: String?
    var quantityOrdered: String?
    var execQuantity: String?
    var quantityRemaining: String?
    var executionPrice: String?
}

struct TSTimeInForce: Codable { var duration: String }

struct TSOrderRequest: Codable {
    var accountID: String
    var symbol: String
    var quantity: String
    var orderType: String
    var tradeAction: String
    var timeInForce: TSTimeInForce
    var limitPrice: String?
    var stopPrice: String?
    var orderConfirmID: String?
    var route: String?
}

struct TSGroupRequest: Codable { var type: String; var orders: [TSOrderRequest] }

struct TSConfirmResponse: Decodable { var confirmations: [TSConfirmation]?; var errors: [TSItemError]? }
struct TSConfirmation: Decodable {
    var orderConfirmID: String?
    var summaryMessage: String?
    var estimatedPrice: String?
    var estimatedCost: String?
    var estimatedCommission: String?
}

struct TSPlaceResponse: Decodable { var orders: [TSOrderResult]?; var errors: [TSItemError]? }
struct TSOrderResult: Decodable { var orderID: String; var message: String? }

struct TSReplaceRequest: Codable {
    var quantity: String?
    var limitPrice: String?
    var stopPrice: String?
    var orderType: String?
}

struct TSOrderMessage: Decodable { var orderID: String?; var message: String? }

/// OAuth token endpoint response (snake_case).
struct OAuthTokenResponse: Decodable {
    var access_token: String?
    var refresh_token: String?
    var expires_in: Double?
    var scope: String?
    var token_type: String?
    var error: String?
    var error_description: String?
}

func tsDecimal(_ s: String?) -> Decimal? { s.flatMap { Decimal(exactly: $0) } }

extension TSOrder {
    func export() -> Order {
        let leg = legs?.first
        let side: OrderSide? = leg?.buyOrSell.map { $0.lowercased().hasPrefix("buy") ? .buy : .sell }
        let qty = tsDecimal(leg?.quantityOrdered) ?? 0
        let filled = tsDecimal(leg?.execQuantity) ?? 0
        var state = OrderState.tradeStation(status, closed: closedDateTime != nil)
        if state == .working, filled > 0, filled < qty { state = .partiallyFilled }
        let f = ISO8601DateFormatter()
        return Order(
            id: orderID, accountID: accountID, symbol: leg?.symbol.flatMap { try? Symbol($0) }, side: side,
            quantity: qty, filledQuantity: filled, averageFillPrice: tsDecimal(filledPrice).flatMap { $0 > 0 ? $0 : nil },
            limitPrice: tsDecimal(limitPrice), stopPrice: tsDecimal(stopPrice), state: state, brokerStatus: status,
            rejectReason: rejectReason, key: nil, openedAt: openedDateTime.flatMap { f.date(from: $0) },
            closedAt: closedDateTime.flatMap { f.date(from: $0) })
    }
}
