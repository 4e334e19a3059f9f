import ArgumentParser
import Brokers
import Foundation
import Inspection
import Jobs
import Sandbox
import Scheduler
import Secrets
import UnixSignals

/// `schedctl broker NAME …`: quick checks against a configured broker.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Query a configured broker: accounts, balances, positions, orders, quotes.",
        discussion: "Example: schedctl broker paper quote SPY QQQ --json")

    @Argument(help: "The broker's name in jobs.yaml.") var name: String
    @Argument(help: "accounts | balances | positions | orders | quote") var query: String
    @Argument(help: "Symbols, for quote.") var symbols: [String] = []
    @OptionGroup var options: ConfigOptions
    @Option(help: "The account (default: the broker's configured account, else its first).") var account: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            guard let spec = plan.brokers[name] else {
                throw CommandFailure(message: "no broker '\(name)' in \(plan.source); brokers: \(plan.brokers.keys.sorted().joined(separator: ", "))", code: 2)
            }
            let store = try Wiring.openStore(plan)
            let resolver = VaultSecretResolver(store: store, keyPath: plan.secrets.sshKey, redactor: Wiring.redactor)
            do {
                let broker = try await BrokerFactory(store: store, vault: { try resolver.openedVault() }).brokerage(spec)
                try await answer(broker, spec: spec)
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure(message: Wiring.redactor.redact("\(name): \(error)"))
            }
        }
    }

    private func answer(_ broker: any Brokerage, spec: ComponentSpec) async throws {
        func resolveAccount() async throws -> String {
            if let account { return account }
            if let configured = spec.options["account"]?.stringValue { return configured }
            guard let first = try await broker.accounts().first else { throw CommandFailure(message: "\(name) has no accounts") }
            return first.id
        }
        switch query {
        case "accounts":
            let accounts = try await broker.accounts()
            try output(accounts, headers: ["account", "type", "status", "currency"]) { [$0.id, $0.type, $0.status, $0.currency] }
        case "balances", "balance":
            let balance = try await broker.balance(account: try await resolveAccount())
            try output([balance], headers: ["account", "cash", "buying power", "equity", "market value"]) {
                [$0.accountID, "\($0.cash)", "\($0.buyingPower)", "\($0.equity)", "\($0.marketValue)"]
            }
        case "positions", "pos":
            let positions = try await broker.positions(account: try await resolveAccount())
            try output(positions, headers: ["symbol", "quantity", "average price", "market value"]) {
                [$0.symbol.rawValue, "\($0.quantity)", "\($0.averagePrice)", $0.marketValue.map { "\($0)" } ?? ""]
            }
        case "orders":
            let orders = try await broker.orders(account: try await resolveAccount())
            try output(orders, headers: ["order", "symbol", "side", "quantity", "filled", "state"]) {
                [$0.id, $0.symbol?.rawValue ?? "", $0.side?.rawValue ?? "", "\($0.quantity)", "\($0.filledQuantity)", $0.state.rawValue]
            }
        case "quote", "quotes":
            guard !symbols.isEmpty else { throw CommandFailure(message: "give one or more symbols: schedctl broker \(name) quote SPY QQQ", code: 64) }
            var parsed: [Symbol] = []
            for text in symbols {
                parsed.append(try reporting(code: 64) { try Symbol(text) })
            }
            let result = try await broker.quotes(parsed)
            for error in result.errors { printError("warning: \(error.item): \(error.message)") }
            try output(result.items, headers: ["symbol", "bid", "ask", "last"]) {
                [$0.symbol.rawValue, $0.bid.map { "\($0)" } ?? "", $0.ask.map { "\($0)" } ?? "", $0.last.map { "\($0)" } ?? ""]
            }
            // A symbol the broker could not quote (unknown, refused) fails the command after the rest are shown.
            if !result.errors.isEmpty {
                throw CommandFailure(
                    message: "no quote for \(result.errors.count) of \(parsed.count) symbol(s): \(result.errors.map(\.item).joined(separator: ", "))")
            }
        default:
            throw CommandFailure(message: "unknown query '\(query)'; use accounts, balances, positions, orders or quote", code: 64)
        }
    }

    private func output<T: Encodable>(_ items: [T], headers: [String], row: (T) -> [String]) throws {
        if json {
            print(try JSONText.encode(items))
            return
        }
        var table = TextTable(headers: headers)
        for item in items { table.add(row(item)) }
        print(items.isEmpty ? "(none)" : table.render())
    }
}

/// `schedctl sandbox`: the loopback simulators of TradeStation, Tradovate and Penny Vault.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run loopback simulators of TradeStation, Tradovate, Penny Vault and Twilio on 127.0.0.1.",
        discussion: "Point a broker's base_url/auth_url (or ws_url) at the printed addresses to rehearse without a brokerage. Ctrl-C stops them.")

    @Option(help: "TradeStation port (0: any free port).") var tradestation = 0
    @Option(help: "Tradovate port (0: any free port).") var tradovate = 0
    @Option(help: "Penny Vault port (0: any free port).") var pennyvault = 0
    @Option(help: "Twilio port (0: any free port).") var twilio = 0

    func run() async throws {
        try await exiting {
            let sandbox = BrokerSandbox()
            let endpoints: BrokerSandbox.Endpoints
            do {
                endpoints = try await sandbox.start(tradeStationPort: tradestation, tradovatePort: tradovate, pennyVaultPort: pennyvault, twilioPort: twilio)
            } catch {
                throw CommandFailure(message: "cannot start the simulators: \(error)")
            }
            print("TradeStation  base_url: \(endpoints.tradeStationBaseURL)  auth_url: \(endpoints.tradeStationAuthURL)")
            print("              client id sim-client, secret sim-secret, refresh token sim-refresh-token, accounts SIM1234567M SIM1234567F")
            print(
                "Tradovate     base_url: \(endpoints.tradovateRESTURL)  ws_url: \(endpoints.tradovateWebSocketURL)  md_url: \(endpoints.tradovateMarketDataURL)"
            )
            print("              user demo-user, password demo-pass, cid 1234, sec sim-secret, account DEMO123456")
            print("Penny Vault   base_url: \(endpoints.pennyVaultBaseURL)  token pv-test-token, portfolio adm")
            print("Twilio        base_url: \(endpoints.twilioBaseURL)  account_sid ACsandbox0000000000000000000000000, auth_token sandbox-auth-token")
            print("Ctrl-C to stop.")
            fflush(nil)
            for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
            await sandbox.stop()
            print("stopped")
        }
    }
}

/// `schedctl auth tradestation`: the one-time browser sign-in that yields a refresh token.
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Sign in to a broker once and keep the tokens in the vault.", subcommands: [AuthTradeStation.self])
}

struct AuthTradeStation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradestation",
        abstract: "Print (and try to open) the TradeStation sign-in URL, receive the code on a localhost port, store the tokens.")

    @Option(help: "The tradestation broker's name in jobs.yaml (default: the only one).") var broker: String?
    @OptionGroup var options: ConfigOptions
    @Option(help: "The localhost callback port registered on your API key.") var port = TradeStationConfiguration.defaultCallbackPort
    @Option(help: "How long to wait for the browser, in seconds.") var timeout = 300

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let candidates = plan.brokers.values.filter { BrokerTypes.type($0.type, has: .browserSignIn) && (broker == nil || $0.name == broker) }
            guard candidates.count == 1, let spec = candidates.first else {
                throw CommandFailure(
                    message: broker.map { "no tradestation broker '\($0)' in \(plan.source)" } ?? "name the tradestation broker with --broker", code: 2)
            }
            let store = try Wiring.openStore(plan)
            let resolver = VaultSecretResolver(store: store, keyPath: plan.secrets.sshKey, redactor: Wiring.redactor)
            let factory = BrokerFactory(store: store, vault: { try resolver.openedVault() })
            do {
                let configuration = try factory.tradeStationConfiguration(spec)
                let clientID = try await factory.credentials.value(for: configuration.clientIDName)
                let listener = try await OAuthCallbackListener.start(port: port)
                let state = TradeStationAuth.randomState()
                let pkce = TradeStationAuth.PKCE()
                let url = TradeStationAuth.authorizeURL(
                    authURL: configuration.authURL, clientID: clientID, redirectURI: listener.redirectURI, state: state, pkce: pkce)
                print("Open this URL in a browser and sign in:\n\n  \(url)\n\nWaiting on \(listener.redirectURI) for up to \(timeout)s …")
                fflush(nil)
                _ = try? Process.run(URL(fileURLWithPath: "/usr/bin/xdg-open"), arguments: [url.absoluteString])
                let code: String
                do {
                    code = try await listener.waitForCode(expectedState: state, timeout: .seconds(timeout))
                } catch {
                    await listener.stop()
                    throw error
                }
                await listener.stop()
                let auth = TradeStationAuth(configuration: configuration, credentials: factory.credentials, store: factory.tokenStore(for: spec))
                _ = try await auth.exchange(code: code, redirectURI: listener.redirectURI, codeVerifier: pkce.verifier)
                print("signed in; tokens stored in the vault as \(spec.name)/token_state")
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure(message: Wiring.redactor.redact("\(error)"))
            }
        }
    }
}
