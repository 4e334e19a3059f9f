import Jobs
import Scheduler
import Secrets
import Synchronization

/// The composition root: which kinds, catalogs and stores this executable uses.
enum Wiring {
    /// Every job kind this build knows.
    static let registry = StandardKinds.registry

    /// The configuration loader for this build.
    static let loader = ConfigLoader(catalog: StandardCatalog.catalog(kinds: registry))

    /// Opens the plan's database, or fails with what to do.
    static func openStore(_ plan: Plan) throws -> Store {
        do {
            return try Store(path: plan.database, extraMigrations: migrations)
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

    /// The registry the engine runs with: every kind wrapped so that a `days: strategy` run
    /// records the strategy's next trade date it saw.
    static func registry(store: Store, plan: PlanBox) -> JobKindRegistry {
        StrategyDateRecordingKind.wrapping(registry, dates: strategyDates(store: store, plan: plan))
    }

    /// The next-trade-date refresher for `days: strategy` jobs.
    static func strategyDates(store: Store, plan: PlanBox) -> StrategyTradeDates {
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
}

/// The plan a running service uses, replaced on reload.
final class PlanBox: Sendable {
    private let value: Mutex<Plan>
    init(_ plan: Plan) { value = Mutex(plan) }
    var current: Plan {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
