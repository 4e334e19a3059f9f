import Foundation
import Jobs
import Logging
import SchedctlTesting
import Scheduler
import Testing

extension JobsRegistry {
    /// The standard registry plus the test-only `stamp` kind: the one line a new kind needs.
    static let withStamp = JobsRegistry(kinds: JobsRegistry.standard.kinds + [StampJob.descriptor], components: JobsRegistry.standard.components)
}

@Suite("the registry: one descriptor per kind and component type")
struct RegistryTests {
    let directory = TemporaryDirectory()

    func load(_ yaml: String, registry: JobsRegistry = .standard) -> Result<Plan, ConfigError> {
        Result { () throws(ConfigError) in
            try ConfigLoader(catalog: registry.catalog).load(text: yaml, file: directory.file("jobs.yaml"), baseDirectory: directory.path)
        }
    }

    @Test("a kind that lives only in the tests is one folder and one registry line: it loads, its check reports at the key, it runs")
    func aNewKindIsOneFolderAndOneLine() async throws {
        let out = directory.file("stamps.txt")
        #expect(FileManager.default.createFile(atPath: out, contents: nil))
        let bad = load(
            """
            jobs:
              s:
                type: stamp
                schedule: { every: 1h }
                path: \(out)
                text: "two\\nlines"
            """, registry: .withStamp)
        let refused = #expect(throws: ConfigError.self) { try bad.get() }
        #expect(refused?.kind == .configuration)
        if case .failure(let error) = bad {
            #expect(error.diagnostics.map(\.description) == ["\(directory.file("jobs.yaml")):6:11: jobs.s.text: one line only; remove the line break"])
        }
        let unknown = #expect(throws: ConfigError.self) { try load("jobs:\n  s: { type: stamp, schedule: { every: 1h }, path: x }").get() }
        #expect(unknown?.kind == .configuration)

        let plan = try load(
            """
            database: \(directory.file("db.sqlite"))
            jobs:
              s: { type: stamp, schedule: { every: 1h }, path: \(out), text: hello, times: 2 }
            """, registry: .withStamp
        ).get()
        #expect(JobsRegistry.withStamp.kind(named: "stamp")?.capabilities.contains(.dryRun) == true)
        let store = try StoreSchema.open(path: plan.database)
        let wall = ManualWallClock("2026-12-01T15:00:00Z")
        let engine = Engine(store: store, plan: plan, registry: JobsRegistry.withStamp.jobKinds(), logger: Logger(label: "test"), wall: wall.source)
        try await engine.start()
        let id = try await store.enqueueManualRun(job: try #require(plan.job(named: "s")), now: wall.now(), by: "test")
        #expect(try await engine.executeNow(runID: id))
        #expect(try await store.run(id: id)?.run.state == .succeeded)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "hello\nhello\n")
    }

    @Test("the loader runs the notifier and endpoint checks itself, at the key's line and column (they ran after loading, at line 0)")
    func componentChecksRunInTheLoaderAtTheKey() throws {
        let file = directory.file("jobs.yaml")
        let result = load(
            """
            brokers:
              ts:
                type: tradestation
                environment: sim
                account: SIM1
                client_id: secret:id
                client_secret: secret:sec
                base_url: http://api.example.com
            strategies:
              pv: { type: pennyvault, portfolio: p, token: secret:t, base_url: "ftp://x" }
            notifiers:
              hook: { type: webhook, url: "http://hooks.example.com/x" }
              tg: { type: webhook, url: "https://api.telegram.org", format: telegram }
              slow: { type: file, path: alerts.md, timeout: 20m }
            jobs:
              n: { type: noop, schedule: { every: 1h } }
            """)
        guard case .failure(let error) = result else {
            Issue.record("the plan loaded")
            return
        }
        let found = error.diagnostics.map { "\($0.line):\($0.column) \($0.path)" }
        #expect(
            found == [
                "8:15 brokers.ts.base_url", "10:68 strategies.pv.base_url", "12:31 notifiers.hook.url", "13:65 notifiers.tg.format",
                "14:49 notifiers.slow.timeout",
            ])
        #expect(error.diagnostics.allSatisfy { $0.file == file })
    }

    @Test("every kind and component type is described once, and the catalog lists exactly them")
    func catalogIsTheDescriptors() {
        let registry = JobsRegistry.standard
        #expect(registry.kinds.map(\.name) == ["noop", "exec", "token-renewal", "rebalance", "futures-session", "report"])
        #expect(Set(registry.catalog.jobKinds.keys) == Set(registry.kinds.map(\.name)))
        #expect(registry.catalog.brokers.keys.sorted() == ["paper", "tradestation", "tradovate"])
        #expect(registry.catalog.strategies.keys.sorted() == ["file", "pennyvault", "weights"])
        #expect(registry.catalog.notifiers.keys.sorted() == ["email", "file", "twilio", "webhook"])
        #expect(registry.kinds.filter { $0.capabilities.contains(.dryRun) }.map(\.name) == ["rebalance"])
        #expect(BrokerTypes.named(with: .renewableToken) == ["tradestation", "tradovate"])
    }
}
