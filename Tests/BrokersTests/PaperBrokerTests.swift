import BrokersSQLite
import Foundation
import GRDB
import Testing

@testable import Brokers

private func tempDatabase() throws -> (DatabaseQueue, URL) {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("paper-\(UUID().uuidString).sqlite")
    let q = try DatabaseQueue(path: url.path)
    var migrator = DatabaseMigrator()
    SQLitePaperLedger.registerMigrations(&migrator)
    try migrator.migrate(q)
    return (q, url)
}

@Suite struct PaperBrokerTests {
    let account = PaperBroker.defaultAccount

    @Test func randomWalkIsDeterministicPerSeed() {
        let a = RandomWalkPriceSource(seed: 7), b = RandomWalkPriceSource(seed: 7), c = RandomWalkPriceSource(seed: 8)
        let steps = (0..<50).map { a.price(of: "MSFT", atStep: $0)! }
        #expect(steps == (0..<50).map { b.price(of: "MSFT", atStep: $0)! })
        #expect(steps != (0..<50).map { c.price(of: "MSFT", atStep: $0)! })
        #expect(steps.allSatisfy { $0 > 0 && $0.rounded(scale: 2) == $0 })
        #expect(RandomWalkPriceSource(seed: 1, startPrices: ["SPY": 500]).price(of: "SPY", atStep: 0) == 500)
    }

    @Test func csvPriceSource() throws {
        let src = try CSVPriceSource(csv: "step,symbol,price\n0,SPY,500.10\n0,BND,70\n1,SPY,499.5\n")
        #expect(src.price(of: "SPY", atStep: 0) == Decimal(string: "500.10"))
        #expect(src.price(of: "SPY", atStep: 1) == Decimal(string: "499.5"))
        #expect(src.price(of: "SPY", atStep: 9) == Decimal(string: "499.5"))
        #expect(src.price(of: "BND", atStep: 3) == 70)
        #expect(src.price(of: "QQQ", atStep: 0) == nil)
        #expect(throws: BrokerError.self) { try CSVPriceSource(csv: "symbol,price\nSPY,abc\n") }
        #expect(throws: BrokerError.self) { try CSVPriceSource(csv: "") }
    }

    @Test func marketOrderFillsAtCurrentPriceAndKeepsCashConsistent() async throws {
        let prices = try CSVPriceSource(csv: "symbol,price\nSPY,100\nSPY,90\nSPY,110\n")
        let paper = try await PaperBroker.open(ledger: InMemoryPaperLedger(), cash: 10_000, prices: prices)
        let placed = try await paper.place(try OrderRequest(symbol: "SPY", side: .buy, quantity: 10, type: .market, key: .derived(from: "a")), account: account)
        let o = try await paper.order(id: placed.orderID, account: account)
        #expect(o.state == .filled && o.averageFillPrice == 100 && o.filledQuantity == 10)
        let bal = try await paper.balance(account: account)
        #expect(bal.cash == 9_000 && bal.equity == 10_000)
        let pos = try await paper.positions(account: account)
        #expect(pos == [Position(accountID: account, symbol: "SPY", quantity: 10, averagePrice: 100, marketValue: 1000)])
    }

    @Test func limitOrderWorksUntilPriceCrosses() async throws {
        let prices = try CSVPriceSource(csv: "symbol,price\nSPY,100\nSPY,96\nSPY,94\n")
        let paper = try await PaperBroker.open(ledger: InMemoryPaperLedger(), cash: 1_000, prices: prices)
        let placed = try await paper.place(
            try OrderRequest(symbol: "SPY", side: .buy, quantity: 10, type: .limit(95), key: .derived(from: "l")), account: account)
        #expect(try await paper.order(id: placed.orderID, account: account).state == .working)
        #expect(try await paper.balance(account: account).buyingPower == 50)
        try await paper.advance()
        #expect(try await paper.order(id: placed.orderID, account: account).state == .working)
        try await paper.advance()
        let o = try await paper.order(id: placed.orderID, account: account)
        #expect(o.state == .filled && o.averageFillPrice == 94)
        #expect(try await paper.balance(account: account).cash == 60)
    }

    @Test func insufficientCashIsRejectedAndRecorded() async throws {
        let paper = try await PaperBroker.open(ledger: InMemoryPaperLedger(), cash: 100, prices: RandomWalkPriceSource(seed: 1, startPrices: ["SPY": 500]))
        await #expect(throws: BrokerError.self) {
            _ = try await paper.place(try OrderRequest(symbol: "SPY", side: .buy, quantity: 1, type: .market, key: .derived(from: "x")), account: account)
        }
        let orders = try await paper.orders(account: account)
        #expect(orders.count == 1 && orders[0].state == .rejected && orders[0].rejectReason?.contains("insufficient cash") == true)
        #expect(try await paper.balance(account: account).cash == 100)
        #expect(try await paper.positions(account: account).isEmpty)
        await #expect(throws: BrokerError.self) {
            _ = try await paper.place(try OrderRequest(symbol: "SPY", side: .sell, quantity: 1, type: .market, key: .derived(from: "y")), account: account)
        }
    }

    @Test func idempotencyKeyNeverDoublesAnOrder() async throws {
        let paper = try await PaperBroker.open(ledger: InMemoryPaperLedger(), cash: 10_000, prices: RandomWalkPriceSource(seed: 1, startPrices: ["SPY": 50]))
        let req = try OrderRequest(symbol: "SPY", side: .buy, quantity: 2, type: .market, key: .derived(from: "same"))
        let a = try await paper.place(req, account: account)
        let b = try await paper.place(req, account: account)
        #expect(a.orderID == b.orderID)
        #expect(try await paper.orders(account: account).count == 1)
        #expect(try await paper.positions(account: account).first?.quantity == 2)
    }

    @Test func replaceCancelAndGroup() async throws {
        let prices = try CSVPriceSource(csv: "symbol,price\nSPY,100\nBND,50\n")
        let paper = try await PaperBroker.open(ledger: InMemoryPaperLedger(), cash: 1_000, prices: prices)
        let group = try await paper.placeGroup(
            [
                try OrderRequest(symbol: "SPY", side: .buy, quantity: 2, type: .limit(90), key: .derived(from: "g1")),
                try OrderRequest(symbol: "BND", side: .buy, quantity: 100, type: .limit(50), key: .derived(from: "g2")),
            ], type: .normal, account: account)
        #expect(group.items.count == 1 && group.errors.count == 1)
        let id = group.items[0].orderID
        try await paper.replace(orderID: id, account: account, with: try OrderReplacement(limitPrice: 100))
        #expect(try await paper.order(id: id, account: account).state == .filled)
        await #expect(throws: BrokerError.self) { try await paper.cancel(orderID: id, account: account) }
        let sell = try await paper.place(
            try OrderRequest(symbol: "SPY", side: .sell, quantity: 2, type: .limit(150), key: .derived(from: "s")), account: account)
        try await paper.cancel(orderID: sell.orderID, account: account)
        #expect(try await paper.order(id: sell.orderID, account: account).state == .cancelled)
        #expect(try await paper.balance(account: account).cash == 800)
        let conf = try await paper.confirm(try OrderRequest(symbol: "SPY", side: .buy, quantity: 3, type: .market, key: .random()), account: account)
        #expect(conf.estimatedCost == 300)
        await #expect(throws: BrokerError.self) { _ = try await paper.balance(account: "OTHER") }
    }

    @Test func stateSurvivesReopeningTheSQLiteFile() async throws {
        let (q, url) = try tempDatabase()
        defer { try? FileManager.default.removeItem(at: url) }
        let prices = RandomWalkPriceSource(seed: 99, startPrices: ["SPY": 100, "BND": 50])
        var expectedCash: Decimal = 0
        var workingID = ""
        do {
            let paper = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: q), cash: 5_000, prices: prices)
            _ = try await paper.place(try OrderRequest(symbol: "SPY", side: .buy, quantity: 10, type: .market, key: .derived(from: "d1")), account: account)
            workingID = try await paper.place(
                try OrderRequest(symbol: "BND", side: .buy, quantity: 1, type: .limit(1), key: .derived(from: "d2")), account: account
            ).orderID
            try await paper.advance(steps: 3)
            expectedCash = try await paper.balance(account: account).cash
            #expect(expectedCash == 4_000)
        }
        try q.close()
        let reopened = try DatabaseQueue(path: url.path)
        var migrator = DatabaseMigrator()
        SQLitePaperLedger.registerMigrations(&migrator)
        try migrator.migrate(reopened)
        let paper = try await PaperBroker.open(ledger: SQLitePaperLedger(writer: reopened), cash: 1, prices: prices)
        #expect(await paper.step == 3)
        #expect(try await paper.balance(account: account).cash == expectedCash)
        #expect(try await paper.positions(account: account).map(\.quantity) == [10])
        let orders = try await paper.orders(account: account)
        #expect(orders.count == 2)
        #expect(try await paper.order(id: workingID, account: account).state == .working)
        // The key is still known after restart: no duplicate.
        let again = try await paper.place(try OrderRequest(symbol: "SPY", side: .buy, quantity: 10, type: .market, key: .derived(from: "d1")), account: account)
        #expect(orders.contains { $0.id == again.orderID })
        #expect(try await paper.orders(account: account).count == 2)
        let next = try await paper.place(try OrderRequest(symbol: "BND", side: .buy, quantity: 1, type: .market, key: .derived(from: "d3")), account: account)
        #expect(next.orderID == "P3")
        let tables = try await reopened.read {
            try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'paper_%' ORDER BY name")
        }
        #expect(tables == ["paper_accounts", "paper_orders", "paper_positions"])
    }
}

@Suite struct PaperLedgerConformanceTests {
    enum Kind: String, CaseIterable, Sendable { case memory, sqlite }

    @Test(arguments: Kind.allCases)
    func roundTripsTheWholeState(_ kind: Kind) async throws {
        let ledger: any PaperLedger
        var cleanup: URL?
        switch kind {
        case .memory: ledger = InMemoryPaperLedger()
        case .sqlite:
            let (q, url) = try tempDatabase()
            ledger = SQLitePaperLedger(writer: q)
            cleanup = url
        }
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        #expect(try await ledger.load(accountID: "A") == nil)
        var state = PaperAccountState(accountID: "A", cash: Decimal(string: "1234.5678")!)
        state.step = 7
        state.nextOrderNumber = 3
        state.positions = ["SPY": PaperHolding(quantity: Decimal(string: "0.5")!, averagePrice: Decimal(string: "500.123456")!)]
        let opened = Date(timeIntervalSince1970: 1_700_000_000)
        state.orders = [
            PaperOrder(
                id: "P1", key: try IdempotencyKey("k1"), symbol: "SPY", side: .buy, quantity: 1, filledQuantity: Decimal(string: "0.5")!,
                averageFillPrice: Decimal(string: "500.123456")!, limitPrice: 501, stopPrice: nil, timeInForce: .day, state: .working,
                rejectReason: nil, openedAt: opened, closedAt: nil),
            PaperOrder(
                id: "P2", key: try IdempotencyKey("k2"), symbol: "BND", side: .sell, quantity: 2, filledQuantity: 0, averageFillPrice: nil,
                limitPrice: nil, stopPrice: 70, timeInForce: .goodTillCancelled, state: .rejected, rejectReason: "insufficient position",
                openedAt: opened.addingTimeInterval(1), closedAt: opened.addingTimeInterval(2)),
        ]
        try await ledger.save(state)
        #expect(try await ledger.load(accountID: "A") == state)
        state.positions = [:]
        state.orders.removeLast()
        state.cash = 0
        try await ledger.save(state)
        #expect(try await ledger.load(accountID: "A") == state)
        #expect(try await ledger.load(accountID: "B") == nil)
    }
}
