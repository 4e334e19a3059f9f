import Foundation
import SchedctlTesting
import Testing

@testable import Sandbox

/// `futures-session` in `jobs.yaml`, `schedctl session`, and `broker NAME quote` for Tradovate,
/// with the real binary against the Tradovate simulator.
@Suite("Session commands against the simulator", .serialized)
struct SessionCLITests {
    func configure(
        _ directory: TemporaryDirectory, _ sim: TradovateSimulator, job: String, secrets: Bool = true, service: String = ""
    ) async throws -> String {
        let key = try await directory.sshKey()
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        secrets: { ssh_key: \(key) }
        \(service)
        brokers:
          tv:
            type: tradovate
            environment: demo
            username: secret:tv/username
            password: secret:tv/password
            cid: secret:tv/cid
            sec: secret:tv/sec
            base_url: \(sim.restURL.absoluteString)
            ws_url: \(sim.webSocketURL.absoluteString)
            md_url: \(sim.marketDataURL.absoluteString)
        jobs:
        \(job)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        for (name, value) in [("tv/username", "demo-user"), ("tv/password", "demo-pass"), ("tv/cid", "1234"), ("tv/sec", "sim-secret")] where secrets {
            #expect(try await SchedctlBinary.run(["secrets", "set", name, "--config", config], stdin: value).status == 0)
        }
        return config
    }

    @Test func quoteValidateStatusAndStop() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            let directory = TemporaryDirectory(prefix: "schedctl-session")
            let config = try await configure(
                directory, sim,
                job: """
                      es-day:
                        type: futures-session
                        broker: tv
                        schedule: { market: CME, at: open, offset: 5m }
                        stop: { market: CME, at: close, offset: -10m }
                        symbols: [ESZ5]
                        risk: { daily_loss_limit: 500, max_position: 2, max_orders_per_minute: 10 }
                        flatten_at_stop: true
                        strategy: { command: ["python3", "strategy.py"], env: { MODE: demo }, workdir: . }
                    """)
            let quote = try await SchedctlBinary.run(["broker", "tv", "quote", "ESZ5", "--json", "--config", config])
            #expect(quote.status == 0, "\(quote.stderr)")
            #expect(quote.stdout.contains("\"last\" : 5000.25") && quote.stdout.contains("\"symbol\" : \"ESZ5\""), "\(quote.stdout)")
            #expect(sim.marketDataConnectCount == 1)
            let validate = try await SchedctlBinary.run(["validate", "--config", config])
            #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
            let status = try await SchedctlBinary.run(["session", "status", "--json", "--config", config])
            #expect(status.status == 0 && status.stdout.contains("\"sessions\" : ["), "\(status.stdout)\(status.stderr)")
            let stop = try await SchedctlBinary.run(["session", "stop", "es-day", "--config", config])
            #expect(stop.status == 1 && stop.stderr.contains("no running session"), "\(stop.stderr)")
        }
    }

    @Test func badSessionOptionsAreRejectedWithTheirLine() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            let directory = TemporaryDirectory(prefix: "schedctl-session")
            let config = try await configure(
                directory, sim,
                job: """
                      es-day:
                        type: futures-session
                        broker: tv
                        schedule: { market: CME, at: open }
                        stop: { market: CME, at: noon }
                        symbols: [ESZ5]
                        risk: { max_position: 2, max_orders_per_minute: 10, leverage: 3 }
                    """, secrets: false)
            let validate = try await SchedctlBinary.run(["validate", "--config", config])
            #expect(validate.status != 0)
            let text = validate.stdout + validate.stderr
            #expect(text.contains("jobs.es-day.stop.at") && text.contains("'noon' is not a market event"), "\(text)")
            #expect(text.contains("jobs.es-day.risk") && text.contains("missing required key 'daily_loss_limit'"), "\(text)")
            #expect(text.contains("leverage"), "\(text)")
        }
    }
}
