import BrokersSQLite
import Foundation
import GRDB
import Testing

@testable import Brokers

/// The paper broker as two processes see it: two connections to one SQLite file.
@Suite struct PaperSharingTests {
    let account = PaperBroker.defaultAccount

    func database() throws -> (URL, DatabaseQueue, DatabaseQueue) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("paper-shared-\(UUID().uuidString).sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let a = try DatabaseQueue(path: url.path, configuration: configuration)
        var migrator = DatabaseMigrator()
        SQLitePaperLedger.registerMigrations(&migrator)
        try migrator.migrate(a)
        return (url, a, try DatabaseQueue(path: url.path, configuration: configuration))
    }

    @Test func twoBrokersOnOneDatabaseLoseNoOrderAndShareClientOrderIDs() async throws {
        let (url, qa, qb) = try database()
        defer { try? FileManager.default.removeItem(at: url) }
        let prices = RandomWalkPriceSource(seed: 3, startPrices: ["SPY": 100, "BND": 50])
        let a = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: qa), cash: 100_000, prices: prices)
        let b = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: qb), cash: 1, prices: prices)
        // Resting orders (far from the market), placed from both "processes" at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                let broker = i % 2 == 0 ? a : b
                group.addTask {
                    _ = try await broker.place(
                        try OrderRequest(symbol: "SPY", side: .buy, quantity: 1, type: .limit(1), key: .derived(from: "order", "\(i)")),
                        account: PaperBroker.defaultAccount)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await a.orders(account: account).count == 20)
        #expect(Set(try await b.orders(account: account).map(\.id)).count == 20)
        // The same client order id from the other process returns the existing order.
        let again = try await b.place(
            try OrderRequest(symbol: "SPY", side: .buy, quantity: 1, type: .limit(1), key: .derived(from: "order", "0")), account: account)
        #expect(try await a.orders(account: account).count == 20)
        #expect(try await a.orders(account: account).contains { $0.id == again.orderID })
        // A cancel in one is seen by the other.
        try await a.cancel(orderID: again.orderID, account: account)
        #expect(try await b.order(id: again.orderID, account: account).state == .cancelled)
        #expect(try await b.closedOrders(account: account, since: .distantPast).map(\.id) == [again.orderID])
    }

    @Test func limitedLiquidityFillsInParts() async throws {
        let (url, qa, _) = try database()
        defer { try? FileManager.default.removeItem(at: url) }
        let prices = RandomWalkPriceSource(seed: 3, startPrices: ["SPY": 100])
        let paper = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: qa), cash: 100_000, prices: prices, liquidity: 40)
        let placed = try await paper.place(
            try OrderRequest(symbol: "SPY", side: .buy, quantity: 100, type: .market, key: .derived(from: "big")), account: account)
        var order = try await paper.order(id: placed.orderID, account: account)
        #expect(order.state == .partiallyFilled && order.filledQuantity == 40)
        try await paper.advance()
        order = try await paper.order(id: placed.orderID, account: account)
        #expect(order.filledQuantity == 80)
        try await paper.advance()
        order = try await paper.order(id: placed.orderID, account: account)
        #expect(order.state == .filled && order.filledQuantity == 100)
        #expect(try await paper.positions(account: account).first?.quantity == 100)
    }

    @Test func pricesGoOnTheTickGrid() {
        #expect(TickSize.round(Decimal(string: "250.1274")!, side: .buy) == Decimal(string: "250.12")!)
        #expect(TickSize.round(Decimal(string: "250.1214")!, side: .sell) == Decimal(string: "250.13")!)
        #expect(TickSize.round(Decimal(string: "0.123456")!, side: .buy) == Decimal(string: "0.1234")!)
        #expect(TickSize.round(Decimal(string: "12.345")!) == Decimal(string: "12.35")!)
    }
}
