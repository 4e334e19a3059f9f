import Foundation
import Jobs
import Scheduler
import Testing

/// Code that depends on what a broker type can do asks its descriptor's capability; the type's
/// name appears only in its descriptor (and in that broker's own code).
@Suite("broker types: capabilities, not names")
struct BrokerCapabilityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let capabilityTable: [(type: String, capabilities: [Capability])] = [
        ("paper", [.stockOrders]),
        ("tradestation", [.renewableToken, .browserSignIn, .stockOrders]),
        ("tradovate", [.renewableToken, .passwordSignIn, .futuresSession]),
    ]

    @Test("each broker type's capabilities", arguments: capabilityTable)
    func capabilities(_ type: String, _ expected: [Capability]) throws {
        let descriptor = try #require(BrokerTypes.all.first { $0.name == type })
        #expect(descriptor.capabilities == Set(expected))
    }

    /// `auth tradestation`, token renewal and rebalance's refusal of a futures account once
    /// compared `type` with a broker's name.
    @Test(
        "these places name no broker type",
        arguments: [
            "Sources/schedctl/Commands/BrokerCommands.swift", "Sources/Jobs/Kinds/TokenRenewal/TokenRenewalJob.swift",
            "Sources/Jobs/Kinds/Rebalance/RebalanceJob.swift",
        ])
    func noBrokerNames(_ file: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        let compares = text.split(separator: "\n").filter { line in
            ["paper", "tradestation", "tradovate"].contains { name in
                line.contains("type == \"\(name)\"") || line.contains("case \"\(name)\"")
            }
        }
        #expect(compares.isEmpty, "\(file) compares broker types by name: \(compares)")
    }

    @Test("rebalance's load check refuses a broker that trades no shares by its capability")
    func rebalanceRefusesAFuturesAccount() {
        let futures = ComponentSpec(name: "tv", type: "tradovate", options: [:])
        let problems = RebalanceOptions.check(["broker": .string("tv"), "strategy": .string("s")], ["tv": futures], [:])
        #expect(
            problems == [
                OptionProblem(
                    key: "broker", message: "broker 'tv' is a tradovate futures account; futures accounts are not rebalanced (use paper or tradestation)")
            ])
    }
}
