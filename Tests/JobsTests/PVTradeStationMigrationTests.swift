import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Secrets
import Testing

@Suite("pv-tradestation jobs.yaml fragment")
struct PVTradeStationMigrationTests {
    /// The standard catalog plus the rebalance kind's keys the fragment uses.
    static let catalog: ConfigCatalog = {
        StandardCatalog.catalog(kinds: StandardKinds.registry)
    }()

    func sync(_ text: String) throws -> PVTradeStationSync {
        let directory = TemporaryDirectory(prefix: "schedctl-sync")
        try text.write(toFile: directory.file("sync.toml"), atomically: true, encoding: .utf8)
        return try PVTradeStationSync.load(path: directory.file("sync.toml"), environment: [:])
    }

    @Test("the fragment is a valid jobs.yaml: broker, pennyvault strategy and a days: strategy rebalance job")
    func validFragment() throws {
        let fragment = PVTradeStationMigration.jobsFragment(mode: "sim", sync: try sync("PortfolioID = \"growth-slug\"\nAccountID = \"SIM1234567M\"\n"))
        let plan = try ConfigLoader(catalog: Self.catalog).load(text: "database: s.sqlite\n" + fragment, file: "jobs.yaml", baseDirectory: "/tmp")
        let job = try #require(plan.job(named: "rebalance"))
        #expect(job.kind == "rebalance")
        #expect(job.schedule.strategyRule != nil)
        #expect(job.options["dry_run"] == .bool(true))
        #expect(job.options["account"] == .string("SIM1234567M"))
        #expect(plan.strategies["pennyvault"]?.options["portfolio"] == .string("growth-slug"))
        #expect(plan.strategies["pennyvault"]?.options["token"] == .secret("pennyvault/token"))
        #expect(plan.brokers["tradestation"]?.options["environment"] == .string("sim"))
        #expect(plan.brokers["tradestation"]?.options["client_secret"] == .secret("tradestation/client_secret"))
    }

    @Test("live mode selects the live environment and asks for max_notional; odd characters are quoted")
    func liveAndQuoting() throws {
        let fragment = PVTradeStationMigration.jobsFragment(mode: "live", sync: try sync("PortfolioID = 'a\"b'\nAccountID = \"123: x\"\n"))
        #expect(fragment.contains("environment: live"))
        #expect(fragment.contains("# max_notional:"))
        // As printed, a live fragment is refused until the user sets max_notional …
        let refused = #expect(throws: ConfigError.self) {
            try ConfigLoader(catalog: Self.catalog).load(text: "database: s.sqlite\n" + fragment, file: "jobs.yaml", baseDirectory: "/tmp")
        }
        #expect(refused?.kind == .configuration)
        // … and accepted once they do.
        let filled = fragment.replacingOccurrences(
            of: "    # max_notional: the most one run may trade; required for environment: live — set your own", with: "    max_notional: 250000")
        let plan = try ConfigLoader(catalog: Self.catalog).load(text: "database: s.sqlite\n" + filled, file: "jobs.yaml", baseDirectory: "/tmp")
        #expect(plan.strategies["pennyvault"]?.options["portfolio"] == .string("a\"b"))
        #expect(plan.brokers["tradestation"]?.options["account"] == .string("123: x"))
    }
}
