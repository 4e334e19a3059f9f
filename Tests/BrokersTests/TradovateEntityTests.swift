import Brokers
import Foundation
import Testing

/// Tradovate entities decode into typed values from their documented shapes (BROKERS.md): good
/// payloads, payloads missing a required field, and entity types the session does not use.
@Suite struct TradovateEntityTests {
    static let good: [(type: String, json: String, expected: TradovateEntity)] = [
        (
            "position",
            #"{"id":1,"accountId":1001,"contractId":3001,"timestamp":"2026-01-02T15:00:00Z","tradeDate":{"year":2026,"month":1,"day":2},"netPos":-2,"netPrice":5010.25,"bought":1,"boughtValue":5010,"sold":3,"soldValue":15030,"prevPos":0}"#,
            .position(TradovatePosition(id: 1, accountId: 1001, contractId: 3001, netPos: -2, netPrice: Decimal(string: "5010.25")))
        ),
        (
            "position",  // flat: netPrice absent
            #"{"accountId":1001,"contractId":3001,"netPos":0}"#,
            .position(TradovatePosition(accountId: 1001, contractId: 3001, netPos: 0))
        ),
        (
            "order",
            #"{"id":42,"accountId":1001,"contractId":3001,"timestamp":"2026-01-02T15:00:00Z","action":"Buy","ordStatus":"Working","admin":false}"#,
            .order(TradovateOrder(id: 42, accountId: 1001, contractId: 3001, action: "Buy", ordStatus: "Working", timestamp: "2026-01-02T15:00:00Z"))
        ),
        (
            "orderVersion",
            #"{"id":43,"orderId":42,"orderQty":2,"orderType":"Limit","price":5000.5,"timeInForce":"Day"}"#,
            .orderVersion(TradovateOrderVersion(id: 43, orderId: 42, orderQty: 2, orderType: "Limit", price: Decimal(string: "5000.5")))
        ),
        (
            "fill",
            #"{"id":44,"orderId":42,"contractId":3001,"timestamp":"2026-01-02T15:00:00Z","tradeDate":{"year":2026,"month":1,"day":2},"action":"Sell","qty":1,"price":5001.75,"active":true,"finallyPaired":0}"#,
            .fill(
                TradovateFill(
                    id: 44, orderId: 42, contractId: 3001, action: "Sell", qty: 1, price: Decimal(string: "5001.75")!, active: true,
                    timestamp: "2026-01-02T15:00:00Z"))
        ),
        (
            "fillFee",
            #"{"id":44,"clearingFee":0.19,"exchangeFee":0.35,"nfaFee":0.02,"commission":0.25}"#,
            .fillFee(
                TradovateFillFee(
                    id: 44, clearingFee: Decimal(string: "0.19"), exchangeFee: Decimal(string: "0.35"), nfaFee: Decimal(string: "0.02"),
                    commission: Decimal(string: "0.25")))
        ),
        (
            "command",
            #"{"id":45,"orderId":42,"timestamp":"2026-01-02T15:00:00Z","clOrdId":"k-1","commandType":"New","commandStatus":"RiskPassed","isAutomated":true}"#,
            .command(TradovateCommand(id: 45, orderId: 42, clOrdId: "k-1"))
        ),
        (
            "cashBalance",
            #"{"id":7,"accountId":1001,"timestamp":"2026-01-02T15:00:00Z","tradeDate":{"year":2026,"month":1,"day":2},"currencyId":1,"amount":50125.5,"realizedPnL":125.5}"#,
            .cashBalance(TradovateCashBalance(id: 7, accountId: 1001, amount: Decimal(string: "50125.5"), realizedPnL: Decimal(string: "125.5")))
        ),
        (
            "contract",
            #"{"id":3001,"name":"MESZ6","contractMaturityId":51,"timestamp":"2026-01-02T15:00:00Z"}"#,
            .contract(TradovateContract(id: 3001, name: "MESZ6", contractMaturityId: 51))
        ),
    ]

    @Test("a documented entity decodes to its typed value", arguments: good.indices)
    func aDocumentedEntityDecodes(_ i: Int) throws {
        let row = Self.good[i]
        let decoded = try TradovateEntity.decode(entityType: row.type, entity: Data(row.json.utf8)).get()
        #expect(decoded == row.expected)
        #expect(decoded.entityType == row.type)
    }

    @Test(
        "an entity without a required field is unreadable, not a default",
        arguments: [
            ("position", #"{"accountId":1001,"netPos":2}"#),  // contractId
            ("position", #"{"accountId":1001,"contractId":3001}"#),  // netPos
            ("order", #"{"accountId":1001,"contractId":3001,"action":"Buy","ordStatus":"Working"}"#),  // id
            ("orderVersion", #"{"orderId":42,"orderType":"Market"}"#),  // orderQty
            ("fill", #"{"id":44,"orderId":42,"contractId":3001,"action":"Buy","price":5001}"#),  // qty
            ("fill", #"{"id":44,"orderId":42,"contractId":3001,"action":"Buy","qty":1}"#),  // price
            ("cashBalance", #"{"amount":5}"#),  // accountId
            ("position", #"{"accountId":"x","contractId":3001,"netPos":2}"#),  // wrong type
            ("fill", "not json"),
        ])
    func anEntityMissingAFieldIsUnreadable(type: String, json: String) {
        #expect(TradovateEntity.decode(entityType: type, entity: Data(json.utf8)) == .failure(.unreadable(type: type)))
    }

    @Test("an entity type the session does not use is ignored", arguments: ["marginSnapshot", "fillPair", "executionReport", "userProperty", ""])
    func anUnknownEntityTypeIsIgnored(type: String) {
        #expect(TradovateEntity.decode(entityType: type, entity: Data(#"{"id":1}"#.utf8)) == .failure(.unknownType(type)))
    }

    @Test func aSyncSnapshotDecodesItsArraysSkippingBadElementsAndUnknownKeys() throws {
        let json = """
            {"users":[{"id":7001,"name":"demo"}],
             "accounts":[{"id":1001,"name":"DEMO123456","userId":7001},{"name":"no-id"}],
             "positions":[{"accountId":1001,"contractId":3001,"netPos":2,"netPrice":5000},{"accountId":1001,"netPos":1}],
             "orders":[{"id":42,"accountId":1001,"contractId":3001,"action":"Buy","ordStatus":"Working"}],
             "orderVersions":[{"orderId":42,"orderQty":2,"orderType":"Limit","price":4990}],
             "commands":[{"orderId":42,"clOrdId":"k-1","commandType":"New"}],
             "fills":[{"id":44,"orderId":41,"contractId":3001,"action":"Buy","qty":2,"price":5000,"active":true}],
             "cashBalances":[{"accountId":1001,"amount":50000}],
             "contracts":[{"id":3001,"name":"MESZ6"}],
             "marginSnapshots":[{"id":1}], "contractGroups":[]}
            """
        let s = try TradovateSyncSnapshot.decode(Data(json.utf8))
        #expect(s.accounts == [TradovateAccount(id: 1001, name: "DEMO123456")])
        #expect(s.positions == [TradovatePosition(accountId: 1001, contractId: 3001, netPos: 2, netPrice: 5000)])
        #expect(s.orders.map(\.id) == [42] && s.orderVersions.map(\.orderQty) == [2])
        #expect(s.commands == [TradovateCommand(orderId: 42, clOrdId: "k-1")])
        #expect(s.fills.map(\.id) == [44] && s.cashBalances.map(\.amount) == [50000] && s.contracts.map(\.name) == ["MESZ6"])
        #expect(s.fillFees.isEmpty)
    }

    @Test func aSnapshotWithoutArraysIsEmptyAndOneThatIsNotAnObjectIsAnError() throws {
        #expect(try TradovateSyncSnapshot.decode(Data(#"{"users":[]}"#.utf8)) == TradovateSyncSnapshot())
        #expect(throws: BrokerError.self) { try TradovateSyncSnapshot.decode(Data("[1,2]".utf8)) }
    }

    @Test func aFillsFeesAddUp() {
        #expect(
            TradovateFillFee(
                id: 1, clearingFee: Decimal(string: "0.19"), exchangeFee: Decimal(string: "0.35"), nfaFee: Decimal(string: "0.02"),
                commission: Decimal(string: "0.25")
            ).total == Decimal(string: "0.81"))
        #expect(TradovateFillFee(id: 1).total == 0)
    }

    /// Review #9: a carried position counts today's P&L from the previous settlement.
    @Test(
        arguments: [
            (#"{"accountId":1,"contractId":2,"netPos":1,"netPrice":5000,"prevPos":1,"prevPrice":4980}"#, "4980"),
            (#"{"accountId":1,"contractId":2,"netPos":-2,"netPrice":5000,"prevPos":-2,"prevPrice":5010.5}"#, "5010.5"),
            (#"{"accountId":1,"contractId":2,"netPos":1,"netPrice":5000,"prevPos":3,"prevPrice":4980}"#, "4980"),
            (#"{"accountId":1,"contractId":2,"netPos":2,"netPrice":5000,"prevPos":1,"prevPrice":4980}"#, "4990"),
            (#"{"accountId":1,"contractId":2,"netPos":-1,"netPrice":5000,"prevPos":2,"prevPrice":4980}"#, "5000"),
            (#"{"accountId":1,"contractId":2,"netPos":1,"netPrice":5000,"prevPos":0,"prevPrice":4980}"#, "5000"),
            (#"{"accountId":1,"contractId":2,"netPos":1,"netPrice":5000}"#, "5000"),
            (#"{"accountId":1,"contractId":2,"netPos":0}"#, "0"),
        ])
    func aPositionsOpeningPrice(json: String, price: String) throws {
        let p = try JSONDecoder().decode(TradovatePosition.self, from: Data(json.utf8))
        #expect(p.openingPrice == Decimal(string: price))
    }
}
