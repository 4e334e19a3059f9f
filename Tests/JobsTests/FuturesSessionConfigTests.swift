import Foundation
import Jobs
import Scheduler
import Testing

/// `validate` catches what a futures-session or token-renewal run would otherwise only find
/// when it starts: the wrong broker type, no symbols, a loss limit that is not positive.
@Suite("Futures session and token renewal: configuration checks")
struct FuturesSessionConfigTests {
    static let loader = ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry))

    /// A configuration with a paper and a tradovate broker and one job written as `job`.
    static func yaml(_ job: String) -> String {
        """
        brokers:
          paper: { type: paper, cash: 1000 }
          tv: { type: tradovate, environment: demo, username: secret:tv/u, password: secret:tv/p }
        jobs:
        \(job)
        """
    }

    static let session = """
          es-day:
            type: futures-session
            broker: tv
            schedule: { market: CME, at: open, offset: 5m }
            stop: 2h
            symbols: [MESZ6]
            risk: { daily_loss_limit: 500, max_position: 2, max_orders_per_minute: 10 }
        """

    /// `file:line: path: message` of each problem (empty when the file is valid).
    static func problems(_ job: String) -> [String] {
        do {
            _ = try loader.load(text: yaml(job), file: "jobs.yaml", baseDirectory: "/tmp")
            return []
        } catch {
            return error.diagnostics.map { "\($0.line): \($0.path): \($0.message)" }
        }
    }

    /// The problems of `job` as diagnostics (empty when the file is valid).
    static func diagnostics(_ job: String) -> [Diagnostic] {
        do {
            _ = try loader.load(text: yaml(job), file: "jobs.yaml", baseDirectory: "/tmp")
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test("the valid session and a tradovate token renewal pass")
    func valid() {
        #expect(Self.problems(Self.session) == [])
        #expect(Self.problems("  tv-token: { type: token-renewal, broker: tv, schedule: { every: 5m } }") == [])
    }

    @Test("an empty symbol list is an error at its line")
    func emptySymbols() {
        let found = Self.problems(Self.session.replacingOccurrences(of: "symbols: [MESZ6]", with: "symbols: []"))
        #expect(found == ["10: jobs.es-day.symbols: the list is empty; name the contracts traded, e.g. symbols: [MESZ6]"])
    }

    @Test("a symbol that is not a contract name, or listed twice, is an error at its line")
    func badSymbols() {
        let spaced = Self.problems(Self.session.replacingOccurrences(of: "symbols: [MESZ6]", with: "symbols: [\"ES Z5\"]"))
        #expect(spaced == ["10: jobs.es-day.symbols: 'ES Z5' is not a contract name; write it like MESZ6 (letters and digits)"])
        let twice = Self.problems(Self.session.replacingOccurrences(of: "symbols: [MESZ6]", with: "symbols: [MESZ6, ESZ5, MESZ6]"))
        #expect(twice == ["10: jobs.es-day.symbols: 'MESZ6' is listed twice; name each contract once"])
    }

    @Test("a daily loss limit of zero or below is an error at its line", arguments: ["0", "-500"])
    func lossLimit(_ value: String) {
        let found = Self.problems(Self.session.replacingOccurrences(of: "daily_loss_limit: 500", with: "daily_loss_limit: \(value)"))
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("11: jobs.es-day.risk.daily_loss_limit: must be a positive amount") == true)
    }

    @Test("the loss-limit error points at daily_loss_limit's own line and column, block or flow style")
    func lossLimitPosition() throws {
        let block = Self.session.replacingOccurrences(
            of: "risk: { daily_loss_limit: 500, max_position: 2, max_orders_per_minute: 10 }",
            with: "risk:\n      max_position: 2\n      daily_loss_limit: 0\n      max_orders_per_minute: 10")
        let found = try #require(Self.diagnostics(block).first)
        #expect(found.path == "jobs.es-day.risk.daily_loss_limit")
        #expect(found.line == 13 && found.column == 25, "\(found.line):\(found.column)")
        let flow = try #require(Self.diagnostics(Self.session.replacingOccurrences(of: "daily_loss_limit: 500", with: "daily_loss_limit: 0")).first)
        // `    risk: { daily_loss_limit: 0, …`: the value 0, not the `{` of the risk mapping.
        #expect(flow.line == 11 && flow.column == 31, "\(flow.line):\(flow.column)")
    }

    @Test("a duration stop longer than a CME trade date is an error at its line", arguments: ["30d", "24h", "23h1m"])
    func stopTooLong(_ value: String) {
        let found = Self.problems(Self.session.replacingOccurrences(of: "stop: 2h", with: "stop: \(value)"))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("9: jobs.es-day.stop: a session of ") == true, "\(found)")
        #expect(found.first?.contains("use a duration up to 23h or stop: { market: CME, at: close, offset: -10m }") == true)
    }

    @Test("a duration stop of one CME trade date is accepted")
    func stopOneTradeDate() {
        #expect(Self.problems(Self.session.replacingOccurrences(of: "stop: 2h", with: "stop: 23h")) == [])
    }

    @Test("a futures session on a paper broker is an error naming the fix")
    func sessionBroker() {
        let found = Self.problems(Self.session.replacingOccurrences(of: "broker: tv", with: "broker: paper"))
        #expect(found == ["7: jobs.es-day.broker: broker 'paper' is a paper broker; a futures session needs a tradovate broker"])
    }

    @Test("a token renewal of a paper broker is an error naming the fix")
    func renewalBroker() {
        let found = Self.problems("  paper-token: { type: token-renewal, broker: paper, schedule: { every: 5m } }")
        #expect(
            found == [
                "5: jobs.paper-token.broker: broker 'paper' is a paper broker, which has no token to renew; use a tradestation or tradovate broker"
            ])
    }
}
