import Foundation
import SchedctlBase
import SchedctlTesting
import Testing

@testable import Brokers
@testable import Sandbox

/// One behaviour suite that every `Brokerage` implementation passes.
struct ConformanceSubject: Sendable {
    var name: String
    var broker: any Brokerage
    var account: String
    var symbol: Symbol
    var farBelowMarket: Decimal
    var stop: @Sendable () async -> Void
}

enum ConformanceFactory: String, CaseIterable, Sendable {
    case paper, tradestation, tradovate

    func make() async throws -> ConformanceSubject {
        switch self {
        case .paper:
            let paper = try await PaperBroker.open(
                ledger: InMemoryPaperLedger(), cash: 100_000,
                prices: RandomWalkPriceSource(seed: 3, startPrices: ["SPY": 500]))
            return ConformanceSubject(name: "paper", broker: paper, account: PaperBroker.defaultAccount, symbol: "SPY", farBelowMarket: 1, stop: {})
        case .tradestation:
            let h = try await TSHarness.make()
            return ConformanceSubject(
                name: "tradestation", broker: h.client, account: "SIM1234567M", symbol: "SPY", farBelowMarket: 1,
                stop: { await h.sim.stop() })
        case .tradovate:
            let sim = TradovateSimulator()
            try await sim.start(port: 0)
            let tv = TradovateClient(auth: TradovateAuth(configuration: tvConfig(sim), credentials: tvSecrets, sleeper: .immediate))
            return ConformanceSubject(
                name: "tradovate", broker: tv, account: "DEMO123456", symbol: "ESZ5", farBelowMarket: 100,
                stop: { await sim.stop() })
        }
    }
}

@Suite struct BrokerageConformanceTests {
    @Test(arguments: ConformanceFactory.allCases)
    func marketOrderFillsAndShowsInPositions(_ factory: ConformanceFactory) async throws {
        let s = try await factory.make()
        defer { Task { await s.stop() } }
        #expect(try await s.broker.accounts().contains { $0.id == s.account })
        let before = try await s.broker.balance(account: s.account)
        #expect(before.cash > 0)
        let placed = try await s.broker.place(
            try OrderRequest(symbol: s.symbol, side: .buy, quantity: 1, type: .market, key: .derived(from: s.name, "m")),
            account: s.account)
        let o = try await s.broker.order(id: placed.orderID, account: s.account)
        #expect(o.state == .filled && o.filledQuantity == 1 && o.side == .buy && o.symbol == s.symbol)
        #expect((o.averageFillPrice ?? 0) > 0)
        #expect(try await s.broker.positions(account: s.account).first { $0.symbol == s.symbol }?.quantity == 1)
        #expect(try await s.broker.orders(account: s.account).contains { $0.id == placed.orderID })
        await s.stop()
    }

    @Test(arguments: ConformanceFactory.allCases)
    func workingLimitCanBeReplacedAndCancelled(_ factory: ConformanceFactory) async throws {
        let s = try await factory.make()
        defer { Task { await s.stop() } }
        let placed = try await s.broker.place(
            try OrderRequest(
                symbol: s.symbol, side: .buy, quantity: 1, type: .limit(s.farBelowMarket),
                key: .derived(from: s.name, "l")), account: s.account)
        var o = try await s.broker.order(id: placed.orderID, account: s.account)
        #expect(!o.state.isTerminal && o.limitPrice == s.farBelowMarket)
        try await s.broker.replace(orderID: placed.orderID, account: s.account, with: try OrderReplacement(limitPrice: s.farBelowMarket + 1))
        o = try await s.broker.order(id: placed.orderID, account: s.account)
        #expect(!o.state.isTerminal && o.limitPrice == s.farBelowMarket + 1)
        try await s.broker.cancel(orderID: placed.orderID, account: s.account)
        #expect(try await s.broker.order(id: placed.orderID, account: s.account).state == .cancelled)
        await #expect(throws: BrokerError.self) { try await s.broker.cancel(orderID: placed.orderID, account: s.account) }
        await s.stop()
    }

    @Test(arguments: ConformanceFactory.allCases)
    func unknownOrdersAndAccountsAreErrors(_ factory: ConformanceFactory) async throws {
        let s = try await factory.make()
        defer { Task { await s.stop() } }
        await #expect(throws: BrokerError.self) { _ = try await s.broker.order(id: "987654321", account: s.account) }
        await #expect(throws: BrokerError.self) { _ = try await s.broker.balance(account: "NOSUCHACCT") }
        await s.stop()
    }
}
