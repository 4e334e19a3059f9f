import Brokers
import Foundation
import Jobs
import Logging
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

@testable import Sandbox
@testable import Secrets

/// `type: token-renewal` run by a real engine on a real database and vault, against the broker
/// simulators on 127.0.0.1; time is a manual clock shared by the simulator and the client.
struct TokenRenewalFixture {
    let directory = TemporaryDirectory(prefix: "schedctl-token")
    let clock = ManualWallClock(Date(timeIntervalSince1970: 1_790_000_000))
    let redactor = Redactor()
    let store: Store
    let vault: Vault

    init() throws {
        store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let key = try SSHPrivateKey.ed25519(seed: [UInt8](repeating: 7, count: 32), publicKey: nil, comment: "", path: nil)
        vault = try VaultAccess.open(store: store, key: key, create: true, redactor: redactor)
    }

    /// A factory as another process would build it: same database and vault, same clock; a
    /// penalty wait advances the clock instead of sleeping.
    var factory: BrokerFactory {
        let clock = self.clock
        let vault = self.vault
        return BrokerFactory(store: store, vault: { vault }, clock: clock.clock, sleeper: Sleeper { d in clock.advance(by: Double(d.components.seconds)) })
    }

    /// Runs job `name` of `type: token-renewal` once, now; returns the finished run and its events.
    func run(broker: ComponentSpec, ahead: Duration? = nil) async throws -> (run: RunRecord, events: [RunEvent]) {
        var options: [String: ConfigValue] = ["broker": .string(broker.name)]
        if let ahead { options["ahead"] = .duration(ahead) }
        let job = try JobsRegistry.standard.parsed(
            JobSpec(name: "renew", kind: "token-renewal", schedule: Schedule(.interval(seconds: 300, aligned: true, zone: .utc)), options: options))
        var service = ServiceSettings()
        service.shutdownGrace = .zero
        let plan = Plan(
            source: "test.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: [broker.name: broker], strategies: [:],
            notifiers: [:], calendars: [:], service: service, jobs: [job])
        let clock = self.clock
        let engine = Engine(
            store: store, plan: plan, registry: StandardKinds.registry(plan: PlanHolder(plan), factory: factory),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), wall: { clock.now() },
            secrets: VaultSecretResolver(store: store, keyPath: directory.file("no-key"), redactor: redactor))
        let id = try await store.enqueueManualRun(job: job, now: clock.now(), by: "test")
        #expect(try await engine.executeNow(runID: id))
        let record = try #require(try await store.run(id: id))
        return (record.run, record.events)
    }
}

@Suite("token-renewal against the simulators", .serialized)
struct TokenRenewalTests {
    func tradovate(_ sim: TradovateSimulator) -> ComponentSpec {
        ComponentSpec(
            name: "tv", type: "tradovate",
            options: [
                "environment": .string("demo"), "username": .secret("tv/username"), "password": .secret("tv/password"),
                "cid": .secret("tv/cid"), "sec": .secret("tv/sec"), "base_url": .string(sim.restURL.absoluteString),
                "ws_url": .string(sim.webSocketURL.absoluteString),
            ])
    }

    func tradeStation(_ sim: TradeStationSimulator) -> ComponentSpec {
        ComponentSpec(
            name: "ts", type: "tradestation",
            options: [
                "environment": .string("sim"), "account": .string("SIM1234567M"), "client_id": .secret("ts/client_id"),
                "client_secret": .secret("ts/client_secret"), "base_url": .string(sim.baseURL.absoluteString),
                "auth_url": .string(sim.authURL.absoluteString),
            ])
    }

    @Test func tradovateSignsInOnceThenRenewsTheSharedTokenInTheSameSession() async throws {
        let f = try TokenRenewalFixture()
        let sim = TradovateSimulator(clock: f.clock.clock)
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            for (name, value) in [("tv/username", "demo-user"), ("tv/password", "demo-pass"), ("tv/cid", "1234"), ("tv/sec", "sim-secret")] {
                try f.vault.set(name, to: value)
            }
            let spec = tradovate(sim)

            let first = try await f.run(broker: spec)
            #expect(first.run.state == .succeeded, "\(first.run.error ?? "")")
            #expect(first.run.summary?.contains("signed in") == true)
            let signedIn = try #require(try f.vault.tokenState(for: "tv")?.state)
            #expect(!signedIn.accessToken.isEmpty && f.redactor.redact("token \(signedIn.accessToken)") == "token \(redactedPlaceholder)")

            // Another "process" (its own factory and client on the same database) uses the stored token.
            let other = TradovateClient(auth: try f.factory.tradovateAuth(spec))
            #expect(try await other.accounts().map(\.id) == ["DEMO123456"])
            let quiet = try await f.run(broker: spec)
            #expect(quiet.run.summary?.contains("nothing to renew") == true)
            #expect(sim.loginCount == 1 && sim.renewCount == 0 && sim.activeSessionCount == 1)

            // Within `ahead` of expiry (80 min lifetime): renewed, same session, stored by CAS.
            f.clock.advance(by: 75 * 60)
            let renewed = try await f.run(broker: spec, ahead: .seconds(600))
            #expect(renewed.run.state == .succeeded && renewed.run.summary?.contains("renewed") == true, "\(renewed.run.error ?? "")")
            let stored = try #require(try f.vault.tokenState(for: "tv")?.state)
            #expect(stored.accessToken != signedIn.accessToken)
            #expect(f.redactor.redact(stored.accessToken) == redactedPlaceholder)
            #expect(sim.loginCount == 1 && sim.renewCount == 1 && sim.activeSessionCount == 1)
            #expect(try await other.accounts().count == 1)
            #expect(sim.loginCount == 1)

            // A penalised renewal keeps the valid token, records `token-expiring` and fails the run.
            f.clock.advance(by: 75 * 60)
            sim.enqueueRenewPenalty()
            let penalised = try await f.run(broker: spec)
            #expect(penalised.run.state == .failed)
            #expect(penalised.events.contains { $0.kind == "token-expiring" && $0.message.contains("penalty") })
            #expect(try f.vault.tokenState(for: "tv")?.state.accessToken == stored.accessToken)
            // The penalty and the one-a-minute rule hold: an immediate rerun sends nothing.
            let blocked = try await f.run(broker: spec)
            #expect(blocked.run.state == .failed && sim.renewCount == 2)
            f.clock.advance(by: 61)
            let after = try await f.run(broker: spec)
            #expect(after.run.state == .succeeded, "\(after.run.error ?? "")")
            #expect(sim.renewCount == 3 && sim.earlyRetryCount == 0 && sim.loginCount == 1)
        }
    }

    @Test func tradovateBadCredentialsFailTheRunWithTheFixAndStopSigningIn() async throws {
        let f = try TokenRenewalFixture()
        let sim = TradovateSimulator(clock: f.clock.clock)
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            for (name, value) in [("tv/username", "demo-user"), ("tv/password", "WRONG-PASSWORD"), ("tv/cid", "1234"), ("tv/sec", "sim-secret")] {
                try f.vault.set(name, to: value)
            }
            let spec = tradovate(sim)
            for _ in 0..<30 {
                let r = try await f.run(broker: spec)
                #expect(r.run.state == .failed)
                #expect(r.run.error?.contains("schedctl secrets set tv/password") == true, "\(r.run.error ?? "")")
                #expect(r.run.error?.contains("WRONG-PASSWORD") == false)
                f.clock.advance(by: 60)
            }
            // 30 runs over half an hour: two sign-ins reached Tradovate, well inside its 5 an hour.
            #expect(sim.loginCount == 2 && sim.captchaReplyCount == 0)
        }
    }

    @Test func tradeStationRenewalStoresTheRotatedRefreshToken() async throws {
        let f = try TokenRenewalFixture()
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            sim.setRotateRefreshTokens(true)
            sim.addRefreshToken("rt-original")
            try f.vault.set("ts/client_id", to: "sim-client")
            try f.vault.set("ts/client_secret", to: "sim-secret")
            try f.vault.replaceTokenState(
                for: "ts", expectedVersion: nil,
                with: TokenState(accessToken: "access-original", accessTokenExpiresAt: f.clock.now().addingTimeInterval(30 * 60), refreshToken: "rt-original"))
            let spec = tradeStation(sim)

            let early = try await f.run(broker: spec)  // 30 min left, ahead 10m: nothing to do
            #expect(early.run.summary?.contains("nothing to renew") == true && sim.tokenRequestCount == 0)

            f.clock.advance(by: 25 * 60)
            let renewed = try await f.run(broker: spec)
            #expect(renewed.run.state == .succeeded, "\(renewed.run.error ?? "")")
            #expect(renewed.run.summary?.contains("rotated refresh token is stored") == true)
            let stored = try #require(try f.vault.tokenState(for: "ts")?.state)
            let rotated = try #require(stored.refreshToken)
            #expect(rotated != "rt-original" && sim.validRefreshTokens.contains(rotated) && !sim.validRefreshTokens.contains("rt-original"))
            #expect(stored.accessToken != "access-original" && f.redactor.redact(stored.accessToken) == redactedPlaceholder)

            // Renewing again later uses (and rotates) the stored token: nothing was lost.
            f.clock.advance(by: 15 * 60)
            let again = try await f.run(broker: spec)
            #expect(again.run.state == .succeeded, "\(again.run.error ?? "")")
            let next = try #require(try f.vault.tokenState(for: "ts")?.state.refreshToken)
            #expect(next != rotated && sim.validRefreshTokens.contains(next) && !sim.validRefreshTokens.contains(rotated))
            #expect(sim.tokenRequestCount == 2)
        }
    }

    @Test func invalidGrantFailsWithTheSignInFixAndRecordsTokenExpiring() async throws {
        let f = try TokenRenewalFixture()
        let sim = TradeStationSimulator()
        try await sim.start(port: 0)
        try await withSandbox(sim) { _ in
            try f.vault.set("ts/client_id", to: "sim-client")
            try f.vault.set("ts/client_secret", to: "sim-secret")
            try f.vault.replaceTokenState(
                for: "ts", expectedVersion: nil,
                with: TokenState(accessToken: "access-original", accessTokenExpiresAt: f.clock.now().addingTimeInterval(5 * 60), refreshToken: "rt-revoked"))
            let r = try await f.run(broker: tradeStation(sim))
            #expect(r.run.state == .failed)
            #expect(r.run.error?.contains("run `schedctl auth tradestation --broker ts`") == true, "\(r.run.error ?? "")")
            #expect(r.events.contains { $0.kind == "token-expiring" && $0.message.contains("broker 'ts'") })
            #expect(r.run.attempt == 1)
        }
    }

    @Test func aPaperBrokerIsAClearError() async throws {
        let f = try TokenRenewalFixture()
        let r = try await f.run(broker: ComponentSpec(name: "paper", type: "paper", options: [:]))
        #expect(r.run.state == .failed)
        #expect(r.run.error?.contains("works with tradestation and tradovate brokers") == true, "\(r.run.error ?? "")")
    }
}
