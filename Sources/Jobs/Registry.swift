public import Scheduler

extension Capability {
    /// The kind honours `schedctl run --dry-run`: it plans and validates, and places nothing.
    public static let dryRun = Capability("dry-run")
    /// The kind places orders with a broker.
    public static let placesOrders = Capability("places-orders")
}

/// What a kind's factory may bind a kind to: the running plan, broker clients and the report
/// environment. ``unbound`` describes a kind for validation only.
public struct KindEnvironment: Sendable {
    /// The running plan, replaced on reload.
    public var plan: PlanHolder?
    /// Broker and strategy clients with the vault's credentials.
    public var factory: BrokerFactory?
    /// What report jobs read and send through.
    public var report: ReportEnvironment?

    /// An environment.
    public init(plan: PlanHolder? = nil, factory: BrokerFactory? = nil, report: ReportEnvironment? = nil) {
        self.plan = plan
        self.factory = factory
        self.report = report
    }

    /// Nothing bound: the kinds' options and checks only.
    public static let unbound = KindEnvironment()
}

/// A job kind that names the type its options are parsed into, once, at load: a run reads them
/// with `context.job.options(as: Options.self)`.
public protocol TypedJobKind: JobKind {
    /// The kind's typed options.
    associatedtype Options: JobOptions
}

/// One job kind, self-described: its `type:` name, options and typed options (taken from the kind
/// itself), its check, its capabilities and its factory.
///
/// ```swift
/// extension NoopJob {
///     public static let descriptor = JobKindDescriptor { _ in NoopJob() }
/// }
/// ```
public struct JobKindDescriptor: Sendable {
    /// The `type:` value.
    public let name: String
    /// The kind's own keys.
    public let options: [OptionSpec]
    /// What it can do (``Capability/dryRun``, ``Capability/placesOrders``).
    public let capabilities: Set<Capability>
    /// Checks of values and combinations the option kinds cannot express, run at load and
    /// reported at the key's line and column.
    public let check: JobOptionCheck?
    /// Builds the kind bound to `environment`.
    public let make: @Sendable (KindEnvironment) -> any JobKind
    /// One line per option, with its default: the option table in `docs/configuration.md`.
    public let docs: [OptionDoc]
    /// What the loader parses a job's options into, once; the kind reads them with
    /// ``Scheduler/JobSpec/options(as:)``.
    public let typedOptions: any JobOptions.Type
    /// The first checkpoint `schedctl run --dry-run` seeds a run with, so that whichever process
    /// runs it places nothing (kinds with ``Capability/dryRun`` that keep such a mark).
    public let dryRunCheckpoint: String?

    /// A descriptor of the kind `make` builds; its name and options are read from `make(.unbound)`,
    /// its typed options are `Kind.Options`.
    public init<Kind: TypedJobKind>(
        capabilities: Set<Capability> = [], dryRunCheckpoint: String? = nil, check: JobOptionCheck? = nil, docs: [OptionDoc] = [],
        make: @escaping @Sendable (KindEnvironment) -> Kind
    ) {
        self.docs = docs
        typedOptions = Kind.Options.self
        self.dryRunCheckpoint = dryRunCheckpoint
        let described = make(.unbound)
        name = described.name
        options = described.options
        self.capabilities = capabilities
        self.check = check
        self.make = { make($0) }
    }
}

/// Everything `jobs.yaml` can name: job kinds and component types. A new kind is one folder under
/// `Jobs/Kinds/` and one line in ``standard``.
public struct JobsRegistry: Sendable {
    /// Job kinds.
    public var kinds: [JobKindDescriptor]
    /// Broker, strategy and notifier types.
    public var components: [ComponentType]

    /// A registry.
    public init(kinds: [JobKindDescriptor], components: [ComponentType]) {
        self.kinds = kinds
        self.components = components
    }

    /// The kinds and types shipped with schedctl.
    public static let standard = JobsRegistry(
        kinds: [
            NoopJob.descriptor,
            ExecJob.descriptor,
            TokenRenewalJob.descriptor,
            RebalanceJob.descriptor,
            FuturesSessionJob.descriptor,
            ReportJob.descriptor,
        ],
        components: BrokerTypes.all + StrategyTypes.all + NotifierFactory.types)

    /// The kind called `name`.
    public func kind(named name: String) -> JobKindDescriptor? { kinds.first { $0.name == name } }

    /// The component type `name` of `section`.
    public func component(_ section: String, named name: String) -> ComponentType? {
        components.first { $0.section == section && $0.name == name }
    }

    /// What the configuration loader checks against: every option and every check.
    public var catalog: ConfigCatalog {
        var catalog = ConfigCatalog(
            components: components, jobKinds: Dictionary(kinds.map { ($0.name, $0.options) }) { $1 },
            jobChecks: Dictionary(kinds.compactMap { kind in kind.check.map { (kind.name, $0) } }) { $1 })
        catalog.alertEvents = AlertEvents.standard
        catalog.jobOptions = Dictionary(kinds.map { ($0.name, $0.typedOptions) }) { $1 }
        return catalog
    }

    /// `job` as the loader makes it: its options parsed into its kind's type (for specs made in
    /// code, such as tests'). Throws when the kind is unknown or the options do not parse.
    public func parsed(_ job: JobSpec) throws -> JobSpec {
        guard let kind = kind(named: job.kind) else { throw JobFailure("unknown job type '\(job.kind)'", retryable: false) }
        return try job.parsingOptions(as: kind.typedOptions)
    }

    /// The kinds bound to `environment`, for an engine.
    public func jobKinds(_ environment: KindEnvironment = .unbound) -> JobKindRegistry {
        JobKindRegistry(kinds.map { $0.make(environment) })
    }
}
