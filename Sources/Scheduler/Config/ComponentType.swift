/// Something a job kind or component type can do or needs, declared on its descriptor and asked by
/// callers instead of comparing type names. Open like `SecretsError.Kind`: the module that owns a
/// kind or type adds its own (`extension Capability { static let dryRun = … }`).
public struct Capability: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The capability called `name`.
    public init(_ name: String) { rawValue = name }
    public var description: String { rawValue }

    /// A strategy type that announces its next trade date, which `days: strategy` follows.
    public static let tradeDates = Capability("trade-dates")
}

/// Checks one component's options for what option kinds cannot express (a URL that does not parse,
/// a combination of keys). Each problem is reported at its key's line and column in `jobs.yaml`.
public typealias ComponentCheck = @Sendable (_ component: ComponentSpec) -> [OptionProblem]

/// One type of a component section (`brokers`, `strategies`, `notifiers`): its type name, its
/// options, its check and its capabilities. The loader knows no type by name; a build lists its
/// types in its catalog.
///
/// ```swift
/// ComponentType(section: "notifiers", name: "file", options: [OptionSpec("path", .string, required: true)])
/// ```
public struct ComponentType: Sendable {
    /// The top-level key it is defined under (`brokers`, `strategies`, `notifiers`).
    public var section: String
    /// The `type:` value.
    public var name: String
    /// The keys it accepts besides `type`.
    public var options: [OptionSpec]
    /// What it offers (e.g. a token to renew); callers ask this instead of comparing `name`.
    public var capabilities: Set<Capability>
    /// Checks run at load, after its options are read.
    public var check: ComponentCheck?

    /// A component type.
    public init(section: String, name: String, options: [OptionSpec], capabilities: Set<Capability> = [], check: ComponentCheck? = nil) {
        self.section = section
        self.name = name
        self.options = options
        self.capabilities = capabilities
        self.check = check
    }
}

extension ConfigCatalog {
    /// A catalog of `components` (each in its section) and job kinds with their options and checks.
    public init(components: [ComponentType], jobKinds: [String: [OptionSpec]], jobChecks: [String: JobOptionCheck] = [:]) {
        self.init(jobKinds: jobKinds)
        self.jobChecks = jobChecks
        for type in components {
            switch type.section {
            case "brokers": brokers[type.name] = type.options
            case "strategies": strategies[type.name] = type.options
            default: notifiers[type.name] = type.options
            }
            if let check = type.check { componentChecks[type.section, default: [:]][type.name] = check }
            if !type.capabilities.isEmpty { componentCapabilities[type.section, default: [:]][type.name] = type.capabilities }
        }
    }
}
