import Brokers
import Foundation
import SchedctlTesting
import Testing

@testable import Sandbox

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `schedctl auth tradestation` and `schedctl broker` end to end: the real binary, the vault,
/// and the TradeStation simulator on 127.0.0.1.
@Suite("Broker commands against the simulator", .serialized)
struct BrokerCLITests {
    @Test func signInThenQueryTheAccount() async throws {
        let simulator = TradeStationSimulator()
        try await simulator.start(port: 0)
        try await withSandbox(simulator) { _ in
            let directory = TemporaryDirectory(prefix: "schedctl-broker")
            let key = try await directory.sshKey()
            let config = directory.file("jobs.yaml")
            try """
            database: state.sqlite
            secrets: { ssh_key: \(key) }
            brokers:
              ts:
                type: tradestation
                environment: sim
                account: SIM1234567M
                client_id: secret:ts/client_id
                client_secret: secret:ts/client_secret
                base_url: \(simulator.baseURL.absoluteString)
                auth_url: \(simulator.authURL.absoluteString)
            jobs:
              noop: { type: noop, schedule: { every: 1h } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
            #expect(try await SchedctlBinary.run(["secrets", "set", "ts/client_id", "--config", config], stdin: "sim-client").status == 0)
            #expect(try await SchedctlBinary.run(["secrets", "set", "ts/client_secret", "--config", config], stdin: "sim-secret").status == 0)

            let before = try await SchedctlBinary.run(["broker", "ts", "accounts", "--config", config])
            #expect(before.status == 1)
            #expect(before.stderr.contains("ts/token_state") || before.stderr.contains("schedctl auth tradestation"), "\(before.stderr)")

            // Sign in: the command prints the URL; "the browser" follows it to the local callback.
            let signIn = try await SchedctlBinary.signInTradeStation(config: config)
            let printed = signIn.output
            #expect(signIn.callbackStatus == 200)
            #expect(signIn.status == 0, "\(printed)")
            #expect(printed.contains("tokens stored in the vault as ts/token_state"))

            let accounts = try await SchedctlBinary.run(["broker", "ts", "accounts", "--json", "--config", config])
            #expect(accounts.status == 0, "\(accounts.stderr)")
            #expect(accounts.stdout.contains("SIM1234567M"))
            let balances = try await SchedctlBinary.run(["broker", "ts", "balances", "--config", config])
            #expect(balances.status == 0, "\(balances.stderr)")
            #expect(balances.stdout.contains("SIM1234567M"))
            let quote = try await SchedctlBinary.run(["broker", "ts", "quote", "MSFT", "NOPE!", "--config", config])
            #expect(quote.status == 64)  // 'NOPE!' is not a valid symbol
            let listed = try await SchedctlBinary.run(["secrets", "list", "--config", config])
            #expect(listed.stdout.contains("ts/token_state"))
        }
    }

    /// Separate `schedctl` processes share one Tradovate token through the vault: one sign-in
    /// for all of them; `status` shows the token's expiry.
    @Test func tradovateCommandsShareOneSignIn() async throws {
        let simulator = TradovateSimulator()
        try await simulator.start(port: 0)
        try await withSandbox(simulator) { _ in
            let directory = TemporaryDirectory(prefix: "schedctl-tradovate")
            let key = try await directory.sshKey()
            let config = directory.file("jobs.yaml")
            try """
            database: state.sqlite
            secrets: { ssh_key: \(key) }
            brokers:
              tv:
                type: tradovate
                environment: demo
                username: secret:tv/username
                password: secret:tv/password
                cid: secret:tv/cid
                sec: secret:tv/sec
                base_url: \(simulator.restURL.absoluteString)
                md_url: \(simulator.marketDataURL.absoluteString)
            jobs:
              tv-token: { type: token-renewal, broker: tv, ahead: 15m, schedule: { every: 5m } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
            for (name, value) in [("tv/username", "demo-user"), ("tv/password", "demo-pass"), ("tv/cid", "1234"), ("tv/sec", "sim-secret")] {
                #expect(try await SchedctlBinary.run(["secrets", "set", name, "--config", config], stdin: value).status == 0)
            }
            let before = try await SchedctlBinary.run(["status", "--json", "--config", config])
            #expect(before.status == 0, "\(before.stderr)")
            #expect(before.stdout.contains("\"tokens\"") && before.stdout.contains("\"broker\" : \"tv\""), "\(before.stdout)")
            for _ in 0..<3 {
                let accounts = try await SchedctlBinary.run(["broker", "tv", "accounts", "--config", config])
                #expect(accounts.status == 0, "\(accounts.stderr)")
                #expect(accounts.stdout.contains("DEMO123456"))
            }
            let renewal = try await SchedctlBinary.run(["run", "tv-token", "--config", config])
            #expect(renewal.status == 0 && renewal.stdout.contains("nothing to renew"), "\(renewal.stdout) \(renewal.stderr)")
            #expect(simulator.loginCount == 1 && simulator.activeSessionCount == 1)
            let status = try await SchedctlBinary.run(["status", "--json", "--config", config])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let tokens = try #require(object["tokens"] as? [[String: Any]])
            #expect(tokens.count == 1 && tokens.first?["broker"] as? String == "tv" && tokens.first?["expires"] is String, "\(status.stdout)")
            let human = try await SchedctlBinary.run(["status", "--config", config])
            #expect(human.stdout.contains("tokens:") && human.stdout.contains("tv  expires 20"), "\(human.stdout)")
            // A quote through the market-data socket, on the shared token; an unknown contract fails the command.
            let quote = try await SchedctlBinary.run(["broker", "tv", "quote", "ESZ5", "--config", config])
            #expect(quote.status == 0 && quote.stdout.contains("ESZ5"), "\(quote.stdout) \(quote.stderr)")
            let unknown = try await SchedctlBinary.run(["broker", "tv", "quote", "ESZ5", "NOPE", "--config", config])
            #expect(unknown.status == 1 && unknown.stdout.contains("ESZ5"), "\(unknown.stdout) \(unknown.stderr)")
            #expect(unknown.stderr.contains("no quote for 1 of 2 symbol(s): NOPE"), "\(unknown.stderr)")
            #expect(simulator.loginCount == 1)
        }
    }
}
