import Foundation
import Inspection
import Jobs
import Scheduler
import Secrets
import Synchronization

/// The composition root: which kinds, catalogs and stores this executable uses.
enum Wiring {
    /// Every job kind and component type this build knows.
    static let kinds = JobsRegistry.standard

    /// Every job kind, unbound (validation).
    static let registry = kinds.jobKinds()

    /// The configuration loader for this build: it runs every option check of every kind and type.
    static let loader = ConfigLoader(catalog: kinds.catalog)

    /// Opens the plan's database, or fails with what to do.
    static func openStore(_ plan: Plan) throws -> Store {
        do {
            return try Store(path: plan.database, durability: plan.service.durability, extraMigrations: migrations)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    }

    /// The configured job `name`, or a not-found failure listing the jobs.
    static func job(_ name: String, in plan: Plan) throws -> JobSpec {
        guard let job = plan.job(named: name) else {
            throw CommandFailure(message: "no job '\(name)' in \(plan.source); jobs: \(plan.jobs.map(\.name).joined(separator: ", "))", code: 2)
        }
        return job
    }

    /// The schema parts other modules keep in the same database.
    static let migrations = StoreSchema.extensions

    /// Every secret value this process resolves is registered here.
    static let redactor = Redactor()

    /// Secret resolution for runs: the vault in the plan's database, opened on first use.
    static func secrets(for plan: Plan, store: Store) -> any SecretResolving {
        VaultSecretResolver(store: store, keyPath: plan.secrets.sshKey, redactor: redactor)
    }

    /// The kinds the engine runs `holder`'s plan with: kinds that reach brokers and strategies
    /// get the current plan's and the vault behind `secrets`, and every kind is wrapped so that a
    /// `days: strategy` run records the strategy's next trade date it saw.
    static func registry(for holder: PlanHolder, store: Store, secrets: any SecretResolving) -> JobKindRegistry {
        let factory = brokerFactory(store: store, secrets: secrets)
        let report = ReportEnvironment(
            store: store, plan: { holder.current }, brokerage: { try await factory.brokerage($0) },
            notifiers: NotifierFactory(plan: holder.current, secrets: secrets))
        let bound = kinds.jobKinds(KindEnvironment(plan: holder, factory: factory, report: report))
        return StrategyDateRecordingKind.wrapping(bound, dates: strategyDates(store: store, plan: holder))
    }

    /// Broker and strategy clients with credentials from the vault behind `secrets`.
    static func brokerFactory(store: Store, secrets: any SecretResolving) -> BrokerFactory {
        let resolver = secrets as? VaultSecretResolver
        return BrokerFactory(store: store) {
            guard let resolver else { throw CommandFailure(message: "no vault is open") }
            return try resolver.openedVault()
        }
    }

    /// The next-trade-date refresher for `days: strategy` jobs.
    static func strategyDates(store: Store, plan: PlanHolder) -> StrategyTradeDates {
        StrategyTradeDates(store: store, secrets: secrets(for: plan.current, store: store), plan: { plan.current })
    }

    /// Redacts resolved secrets from log lines.
    static let redact: @Sendable (String) -> String = { redactor.redact($0) }

    /// Reads only `database` and `secrets` from `path` (the vault commands need nothing else).
    static func loadStorage(_ path: String) throws -> StorageSettings {
        do {
            return try loader.loadStorage(file: path)
        } catch {
            throw CommandFailure(message: "invalid configuration\n" + error.description)
        }
    }

    /// Opens the database at `settings.database`, or fails with what to do.
    static func openStore(_ settings: StorageSettings) throws -> Store {
        do {
            return try Store(path: settings.database, extraMigrations: migrations)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    }

    /// Loads and validates `path`, or fails with every diagnostic.
    static func loadPlan(_ path: String) throws -> Plan {
        do {
            return try loader.load(file: path)
        } catch {
            throw CommandFailure(message: "invalid configuration\n" + error.description)
        }
    }

    /// Each job's watermark in the plan's database; empty when the database does not exist yet
    /// (nothing is created) or cannot be read.
    static func watermarks(_ plan: Plan) async -> [String: Instant] {
        guard FileManager.default.fileExists(atPath: plan.database), let store = try? openStore(plan) else { return [:] }
        return await JobGrid.watermarks(store)
    }
}
