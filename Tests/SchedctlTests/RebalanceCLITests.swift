import Brokers
import Foundation
import SchedctlTesting
import Testing

@testable import Sandbox

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `type: rebalance` through the real binary: validation, `rebalance plan`, `run --dry-run`,
/// `show`, `history`, and `serve` killed with SIGKILL in each phase while another process takes over.
@Suite("Rebalance through schedctl", .serialized)
struct RebalanceCLITests {
    @Test func validateRejectsWhatARebalanceCannotDo() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-rebalance-cli")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        brokers:
          live: { type: tradestation, environment: live, account: "123456782", client_id: secret:ts/id, client_secret: secret:ts/secret }
          futures: { type: tradovate, environment: demo, username: secret:tv/user, password: secret:tv/pass }
        strategies:
          mix: { type: weights, weights: { VTI: 0.6, BND: 0.4 } }
        jobs:
          a: { type: rebalance, broker: live, strategy: mix, schedule: { every: 1d } }
          b: { type: rebalance, broker: futures, strategy: mix, schedule: { every: 1d } }
          c:
            type: rebalance
            broker: live
            strategy: mix
            max_notional: 1000
            cash_buffer: lots
            pricing: { start: middle, step: 25% }
            deadline: { market: XNYS, at: lunch }
            existing_orders: sometimes
            fractional: true
            schedule: { every: 1d }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await SchedctlBinary.run(["validate", "--config", config])
        #expect(result.status == 1)
        let text = result.stderr + result.stdout
        #expect(text.contains("jobs.yaml:8:"), "\(text)")
        #expect(text.contains("jobs.a.max_notional") && text.contains("live account"), "\(text)")
        #expect(text.contains("jobs.b.broker") && text.contains("futures accounts are not rebalanced"), "\(text)")
        #expect(text.contains("jobs.c.cash_buffer") && text.contains("'lots'"), "\(text)")
        #expect(text.contains("jobs.c.pricing.start"), "\(text)")
        #expect(text.contains("jobs.c.deadline.at"), "\(text)")
        #expect(text.contains("jobs.c.existing_orders") && text.contains("refuse, cancel or include"), "\(text)")
        #expect(text.contains("jobs.c.fractional") && text.contains("whole shares"), "\(text)")
    }

    @Test func paperPlanDryRunRunShowAndHistory() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-rebalance-cli")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        brokers:
          paper: { type: paper, cash: 100000, seed: 7 }
        strategies:
          mix: { type: weights, weights: { VTI: 0.6, BND: 0.4 } }
        jobs:
          rebalance-mix:
            type: rebalance
            broker: paper
            strategy: mix
            cash_buffer: 1%
            min_trade: 50
            poll_every: 1s
            replan_after: 2s
            deadline: 1m
            allow_outside_session: true
            schedule: { every: 1d }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let plan = try await SchedctlBinary.run(["rebalance", "plan", "rebalance-mix", "--json", "--config", config])
        #expect(plan.status == 0, "\(plan.stderr)")
        let planned = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let lines = try #require(planned["lines"] as? [[String: Any]])
        #expect(Set(lines.compactMap { $0["symbol"] as? String }) == ["VTI", "BND"])
        #expect(lines.allSatisfy { $0["side"] as? String == "buy" })

        let dry = try await SchedctlBinary.run(["run", "rebalance-mix", "--dry-run", "--config", config])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: 2 order(s) validated"), "\(dry.stdout)")
        let noDry = try await SchedctlBinary.run(["run", "rebalance-mix", "--dry-run", "--config", config, "--wait"])
        #expect(noDry.status == 0)

        let live = try await SchedctlBinary.run(["run", "rebalance-mix", "--config", config])
        #expect(live.status == 0, "\(live.stdout)\(live.stderr)")
        #expect(live.stdout.contains("rebalanced: 2 order(s), 2 filled"), "\(live.stdout)")
        let id = try #require(live.stdout.split(separator: " ").first { $0.hasPrefix("#") }.map { String($0.dropFirst().prefix { $0.isNumber }) })

        let show = try await SchedctlBinary.run(["show", id, "--json", "--config", config])
        #expect(show.status == 0, "\(show.stderr)")
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let rebalance = try #require(shown["rebalance"] as? [String: Any])
        #expect(rebalance["outcome"] as? String == "succeeded")
        let orders = try #require(rebalance["orders"] as? [[String: Any]])
        #expect(orders.count == 2)
        #expect(orders.allSatisfy { $0["orderID"] != nil && ($0["confirmID"] as? String)?.count ?? 99 <= 22 && $0["steps"] != nil })
        #expect((rebalance["holdings"] as? [[String: Any]])?.count == 2)
        let text = try await SchedctlBinary.run(["show", id, "--config", config])
        #expect(text.stdout.contains("rebalance (succeeded) on paper account paper"), "\(text.stdout)")
        let history = try await SchedctlBinary.run(["history", "--config", config])
        #expect(history.stdout.contains("rebalanced: 2 order(s), 2 filled"), "\(history.stdout)")
        #expect(history.stdout.contains("dry run: 2 order(s) validated"), "\(history.stdout)")

        // On target now: a second run has nothing to do and succeeds.
        let again = try await SchedctlBinary.run(["run", "rebalance-mix", "--config", config])
        #expect(again.stdout.contains("rebalanced: 0 order(s)"), "\(again.stdout)")
    }

    /// `serve` runs a rebalance against the TradeStation simulator and is killed with SIGKILL
    /// while sells rest, then again while buys rest; the next process takes over each time.
    @Test func serveKilledInEachPhaseNeverSendsAConfirmIDTwice() async throws {
        let simulator = TradeStationSimulator()
        try await simulator.start(port: 0)
        defer { Task { await simulator.stop() } }
        simulator.setFillMode(.manual)
        simulator.setAccount("SIM1234567M", cash: 50_000)
        simulator.setPosition(account: "SIM1234567M", symbol: "SPY", quantity: 80, averagePrice: 480)
        simulator.setPosition(account: "SIM1234567M", symbol: "MSFT", quantity: 20, averagePrice: 400)
        let directory = TemporaryDirectory(prefix: "schedctl-rebalance-kill")
        let config = try await signedInConfig(simulator, directory)
        var serve = try SchedctlBinary.serve(config: config, log: directory.file("serve.log"))
        defer { kill(serve.processIdentifier, SIGKILL) }
        // Queue the run only once the service has registered, so that it (not `run`) executes it.
        func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
            try #require(try await pollUntil(condition), "timed out waiting for \(what)")
        }
        try await waitFor("serve to register") {
            let status = try await SchedctlBinary.run(["status", "--json", "--config", config])
            let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            return (object?["instances"] as? [Any])?.isEmpty == false
        }
        let queued = try await SchedctlBinary.run(["run", "rebalance", "--config", config])
        #expect(queued.status == 0, "\(queued.stderr)")
        let runID = try #require(queued.stdout.split(separator: " ").first { $0.hasPrefix("#") }.map { String($0.dropFirst()) })
        /// The run's takeovers, as `show` prints them.
        func takeovers() async throws -> Int? {
            let shown = try await SchedctlBinary.run(["show", runID, "--config", config]).stdout
            return shown.split(separator: "\n").first { $0.contains("takeovers") }.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
        }
        func restart() async throws {
            kill(serve.processIdentifier, SIGKILL)
            try await exited(serve)
            serve = try SchedctlBinary.serve(config: config, log: directory.file("serve.log"))
        }
        func fillOpen(buy: Bool) {
            for o in simulator.orderSummaries where o.buy == buy && ["ACK", "OPN", "FPR"].contains(o.status) { simulator.fill(orderID: o.id) }
        }

        try await waitFor("the sells") { simulator.orderSummaries.filter { !$0.buy }.count == 2 }
        try await restart()
        // The resting sells fill only once the new process has taken the run over.
        try await waitFor("the first takeover") { try await takeovers() ?? 0 >= 1 }
        fillOpen(buy: false)
        try await waitFor("the buys") { simulator.orderSummaries.filter(\.buy).count == 2 }
        try await restart()
        try await waitFor("the second takeover") { try await takeovers() ?? 0 >= 2 }
        fillOpen(buy: true)
        try await waitFor("every order filled") { simulator.orderCount == 4 && simulator.orderSummaries.allSatisfy { $0.status == "FLL" } }
        var history = ""
        try await waitFor("the run's end") {
            history = try await SchedctlBinary.run(["history", "--config", config]).stdout
            return history.contains("succeeded")
        }
        let shown = try await SchedctlBinary.run(["show", runID, "--config", config]).stdout
        let taken = try await takeovers()
        kill(serve.processIdentifier, SIGTERM)
        try await exited(serve)
        #expect((taken ?? 0) >= 2, "each kill left the run to another process: \(shown.prefix(400))")
        #expect(history.contains("succeeded") && history.contains("rebalanced: 4 order(s), 4 filled"), "\(history)")
        let ids = simulator.placedConfirmIDs
        #expect(ids.count == 4, "\(ids)")
        #expect(Set(ids).count == ids.count, "a confirm id reached the broker twice: \(ids)")
        let equity = simulator.equity(account: "SIM1234567M")!
        for (symbol, target) in [("VTI", Decimal(string: "0.6")!), ("BND", Decimal(string: "0.4")!)] {
            let w = simulator.positionQuantity(account: "SIM1234567M", symbol: symbol) * simulator.price(symbol)! / equity
            #expect(abs(w - target * Decimal(string: "0.99")!) <= Decimal(string: "0.005")!, "\(symbol) at \(w)")
        }
        #expect(simulator.positionQuantity(account: "SIM1234567M", symbol: "SPY") == 0)
    }

    /// Issue 17's scenario through `schedctl run`: SPY 40, BND 100, $20,000 cash to VTI 50 /
    /// BND 30 / GLD 20 with a 3% price cap; the run converges within drift in rounds.
    @Test func runConvergesTheIssueScenario() async throws {
        let simulator = TradeStationSimulator()
        try await simulator.start(port: 0)
        try await withSandbox(simulator) { _ in
            simulator.setAccount("SIM1234567M", cash: 20_000)
            simulator.setPosition(account: "SIM1234567M", symbol: "SPY", quantity: 40, averagePrice: 480)
            simulator.setPosition(account: "SIM1234567M", symbol: "BND", quantity: 100, averagePrice: 70)
            simulator.setPrice("GLD", 190)
            let directory = TemporaryDirectory(prefix: "schedctl-rebalance-run")
            let config = try await signedInConfig(
                simulator, directory, strategy: "{ type: weights, weights: { VTI: 0.5, BND: 0.3, GLD: 0.2 } }",
                job: """
                        type: rebalance
                        broker: ts
                        strategy: mix
                        cash_buffer: 1%
                        drift: 0.5%
                        pricing: { start: mid, step: 50%, limit: 3% }
                        poll_every: 1s
                        replan_after: 5s
                        deadline: 10m
                        allow_outside_session: true
                        schedule: { every: 1d }
                    """)
            let run = try await SchedctlBinary.run(["run", "rebalance", "--config", config])
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            #expect(run.stdout.contains("rebalanced:") && run.stdout.contains("round(s)"), "\(run.stdout)")
            let equity = simulator.equity(account: "SIM1234567M")!
            for (symbol, target) in [("VTI", Decimal(string: "0.5")!), ("BND", Decimal(string: "0.3")!), ("GLD", Decimal(string: "0.2")!)] {
                let w = simulator.positionQuantity(account: "SIM1234567M", symbol: symbol) * simulator.price(symbol)! / equity
                #expect(abs(w - target * Decimal(string: "0.99")!) <= Decimal(string: "0.005")!, "\(symbol) at \(w)")
            }
            #expect(simulator.positionQuantity(account: "SIM1234567M", symbol: "SPY") == 0)
            #expect(simulator.cash(account: "SIM1234567M")! >= Decimal(string: "472.10")!)
            let ids = simulator.placedConfirmIDs
            #expect(Set(ids).count == ids.count, "\(ids)")
            #expect(simulator.workingOrderIDs.isEmpty)
        }
    }

    /// A manual order working on a planned symbol: `rebalance plan` names it, and `run` refuses
    /// (default `existing_orders: refuse`), exits non-zero and sends nothing.
    @Test func planShowsWorkingOrdersAndRunRefusesThem() async throws {
        let simulator = TradeStationSimulator()
        try await simulator.start(port: 0)
        try await withSandbox(simulator) { _ in
            simulator.setFillMode(.manual)
            let manual = simulator.addWorkingOrder(account: "SIM1234567M", symbol: "VTI", buy: true, quantity: 40, limit: 240)
            let directory = TemporaryDirectory(prefix: "schedctl-rebalance-existing")
            let config = try await signedInConfig(simulator, directory)
            let plan = try await SchedctlBinary.run(["rebalance", "plan", "rebalance", "--json", "--config", config])
            #expect(plan.status == 0, "\(plan.stderr)")
            let planned = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
            let working = try #require(planned["workingOrders"] as? [String])
            #expect(working.contains { $0.hasPrefix(manual) && $0.contains("BUY 40 VTI") }, "\(working)")
            let text = try await SchedctlBinary.run(["rebalance", "plan", "rebalance", "--config", config])
            #expect(text.stdout.contains(manual), "\(text.stdout)")
            let run = try await SchedctlBinary.run(["run", "rebalance", "--config", config])
            #expect(run.status != 0)
            #expect((run.stdout + run.stderr).contains(manual), "\(run.stdout)\(run.stderr)")
            #expect(simulator.orderWriteCount == 0)
            #expect(simulator.orderStatus(manual) == "OPN")
        }
    }

    /// `serve` is SIGKILLed after the first order reached the broker but before its answer came
    /// back (the broker holds the answer); the next process reconciles and finishes the run
    /// without sending any confirm id twice.
    @Test func serveKilledAfterTheFirstOrderReachedTheBrokerNeverSendsItAgain() async throws {
        let simulator = TradeStationSimulator()
        try await simulator.start(port: 0)
        defer { Task { await simulator.stop() } }
        simulator.setAccount("SIM1234567M", cash: 50_000)
        simulator.setPosition(account: "SIM1234567M", symbol: "SPY", quantity: 80, averagePrice: 480)
        simulator.enqueueWriteFaults(.acceptThenDelay(.seconds(60)))
        let directory = TemporaryDirectory(prefix: "schedctl-rebalance-kill-w2")
        let config = try await signedInConfig(simulator, directory)
        var serve = try SchedctlBinary.serve(config: config, log: directory.file("serve.log"))
        defer { kill(serve.processIdentifier, SIGKILL) }
        try #require(
            try await pollUntil {
                let status = try await SchedctlBinary.run(["status", "--json", "--config", config])
                let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
                return (object?["instances"] as? [Any])?.isEmpty == false
            })
        let queued = try await SchedctlBinary.run(["run", "rebalance", "--config", config])
        #expect(queued.status == 0, "\(queued.stderr)")
        try #require(try await pollUntil { simulator.orderCount >= 1 }, "the first order reached the broker")
        kill(serve.processIdentifier, SIGKILL)
        try await exited(serve)
        serve = try SchedctlBinary.serve(config: config, log: directory.file("serve.log"))
        var history = ""
        try #require(
            try await pollUntil {
                history = try await SchedctlBinary.run(["history", "--config", config]).stdout
                return history.contains("succeeded") || history.contains("failed")
            }, "the run ended")
        kill(serve.processIdentifier, SIGTERM)
        try await exited(serve)
        #expect(history.contains("succeeded"), "\(history)")
        let ids = simulator.placedConfirmIDs
        #expect(Set(ids).count == ids.count, "a confirm id reached the broker twice: \(ids)")
        #expect(simulator.positionQuantity(account: "SIM1234567M", symbol: "SPY") == 0)
        #expect(simulator.workingOrderIDs.isEmpty)
    }

    /// A configuration with the simulator as broker `ts`, signed in through `schedctl auth`.
    func signedInConfig(
        _ simulator: TradeStationSimulator, _ directory: TemporaryDirectory, strategy: String = "{ type: weights, weights: { VTI: 0.6, BND: 0.4 } }",
        job: String = """
            type: rebalance
            broker: ts
            strategy: mix
            cash_buffer: 1%
            poll_every: 1s
            replan_after: 1h
            deadline: 10m
            allow_outside_session: true
            schedule: { every: 1d }
        """
    ) async throws -> String {
        let key = try await directory.sshKey()
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        secrets: { ssh_key: \(key) }
        service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
        brokers:
          ts:
            type: tradestation
            environment: sim
            account: SIM1234567M
            client_id: secret:ts/client_id
            client_secret: secret:ts/client_secret
            base_url: \(simulator.baseURL.absoluteString)
            auth_url: \(simulator.authURL.absoluteString)
        strategies:
          mix: \(strategy)
        jobs:
          rebalance:
        \(job)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try await SchedctlBinary.run(["secrets", "set", "ts/client_id", "--config", config], stdin: "sim-client").status == 0)
        #expect(try await SchedctlBinary.run(["secrets", "set", "ts/client_secret", "--config", config], stdin: "sim-secret").status == 0)
        let signIn = try await SchedctlBinary.signInTradeStation(config: config)
        try #require(signIn.status == 0)
        return config
    }
}
