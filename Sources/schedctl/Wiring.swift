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

    /// Redacts resolved secrets from log lines.
    static let redact: @Sendable (String) -> String = { redactor.redact($0) }

    /// Loads and validates `path`, or fails with every diagnostic.
    static func loadPlan(_ path: String) throws -> Plan {
        let plan: Plan
        do {
            plan = try loader.load(file: path)
        } catch {
            throw CommandFailure(message: "invalid configuration\n" + error.description)
        }
        let problems = NotifierFactory.problems(in: plan) + ReportJob.problems(in: plan)
        if !problems.isEmpty { throw CommandFailure(message: "invalid configuration\n" + ConfigError(diagnostics: problems).description) }
        return plan
    }

    /// The job kinds for running `plan` (report jobs read the store, brokers and notifiers).
    static func runtimeRegistry(plan: PlanHolder, store: Store) -> JobKindRegistry {
        let resolver = VaultSecretResolver(store: store, keyPath: plan.current.secrets.sshKey, redactor: redactor)
        let brokers = BrokerFactory(store: store, vault: { try resolver.openedVault() })
        let report = ReportEnvironment(
            store: store, plan: { plan.current }, brokerage: { try await brokers.brokerage($0) },
            notifiers: NotifierFactory(plan: plan.current, secrets: resolver))
        return StandardKinds.registry(report: report)
    }
}

/// The running configuration, replaced on reload.
final class PlanHolder: Sendable {
    private let plan: Mutex<Plan>
    init(_ plan: Plan) { self.plan = Mutex(plan) }
    var current: Plan {
        get { plan.withLock { $0 } }
        set { plan.withLock { $0 = newValue } }
    }
}
