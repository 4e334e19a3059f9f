import Brokers
import Foundation
import Testing

@Suite struct CoreTypesTests {
    @Test(arguments: ["", "  ", "MSFT!", String(repeating: "A", count: 33), "MS;FT"])
    func invalidSymbolsAreRejected(_ raw: String) {
        #expect(throws: BrokerError.self) { try Symbol(raw) }
    }

    @Test func symbolsAreNormalised() throws {
        let a = " brk.b ", b = "@ES"
        #expect(try Symbol(a).rawValue == "BRK.B")
        #expect(try Symbol(b).rawValue == "@ES")
    }

    @Test(arguments: ["0", "-1", "10000001", "0.000000001"])
    func invalidQuantitiesAreRejected(_ text: String) {
        #expect(throws: BrokerError.self) { try Quantity(parsing: text) }
    }

    @Test func quantityParsesExactly() throws {
        let q = try Quantity(parsing: "0.1")
        #expect(q.value == Decimal(string: "0.1"))
        #expect(q.description == "0.1")
        #expect(!q.isWhole)
        #expect(try Quantity(parsing: "10").isWhole)
        #expect(throws: BrokerError.self) { try Quantity(parsing: "1e3") }
    }

    @Test func idempotencyKeyLimits() throws {
        #expect(throws: BrokerError.self) { try IdempotencyKey(String(repeating: "a", count: 23)) }
        #expect(throws: BrokerError.self) { try IdempotencyKey("") }
        #expect(throws: BrokerError.self) { try IdempotencyKey("has space") }
        _ = try IdempotencyKey("7CMygnFJXk+ihrJJfOPmVQ")
        let a = IdempotencyKey.derived(from: "run-1", "step-2")
        #expect(a == IdempotencyKey.derived(from: "run-1", "step-2"))
        #expect(a != IdempotencyKey.derived(from: "run-1", "step-3"))
        #expect(a.rawValue.count == 22)
        #expect(IdempotencyKey.random() != IdempotencyKey.random())
    }

    @Test func orderRequestValidatesPrices() throws {
        #expect(throws: BrokerError.self) {
            try OrderRequest(symbol: "MSFT", side: .buy, quantity: 1, type: .limit(-1), key: .random())
        }
        #expect(throws: BrokerError.self) {
            try OrderRequest(symbol: "MSFT", side: .buy, quantity: 1, type: .limit(Decimal(string: "2000000000")!), key: .random())
        }
        let o = try OrderRequest(symbol: "MSFT", side: .buy, quantity: 1, type: .stopLimit(stop: 10, limit: 11), key: .random())
        #expect(o.type.limitPrice == 11 && o.type.stopPrice == 10)
        #expect(throws: BrokerError.self) { try OrderReplacement() }
    }

    @Test(arguments: [
        ("ACK", OrderState.pending), ("DON", .pending), ("OPN", .working), ("FPR", .partiallyFilled), ("FLL", .filled),
        ("BRF", .filled), ("FLP", .cancelled), ("REJ", .rejected), ("TSC", .rejected), ("RJR", .rejected), ("BRO", .rejected),
        ("CAN", .cancelled), ("EXP", .cancelled), ("UCH", .cancelled), ("SCN", .cancelled), ("UCN", .working),
        ("OUT", .working), ("ZZZ", .unknown),
    ])
    func tradeStationStatusMapping(_ code: String, _ state: OrderState) {
        #expect(OrderState.tradeStation(code) == state)
    }

    @Test func outWithCloseTimeIsCancelled() {
        #expect(OrderState.tradeStation("OUT", closed: true) == .cancelled)
    }

    @Test func decimalParsingIsExact() {
        #expect(Decimal(exactly: "132.52") == Decimal(string: "132.52"))
        #expect(Decimal(exactly: "abc") == nil)
        #expect(Decimal(exactly: "1.2.3") == nil)
        #expect(Decimal(exactly: "") == nil)
        #expect((Decimal(string: "0.1")! + Decimal(string: "0.2")!).plainString == "0.3")
    }

    @Test func quoteMidIgnoresCrossedOrZeroBooks() throws {
        #expect(Quote(symbol: "A", bid: 10, ask: 12, last: 50).mid == 11)
        #expect(Quote(symbol: "A", bid: 0, ask: 12, last: 50).mid == 50)
        #expect(Quote(symbol: "A", bid: 13, ask: 12, last: nil).mid == nil)
    }

    @Test func errorMessagesNameTheProblem() {
        do {
            let raw = "BAD!"
            _ = try Symbol(raw)
            Issue.record("expected an error")
        } catch {
            #expect(error.isInvalidInput)
            #expect(error.description.contains("BAD!"))
        }
    }
}
