public import Foundation

/// A validated option value from `jobs.yaml`. Secret references stay unresolved.
public enum ConfigValue: Hashable, Sendable, CustomStringConvertible {
    /// Plain text.
    case string(String)
    /// `secret:NAME`, resolved from the vault only when a job runs.
    case secret(String)
    /// A number, kept exact.
    case number(Decimal)
    /// `true` or `false`.
    case bool(Bool)
    /// A duration such as `15m`.
    case duration(Duration)
    /// A list.
    case list([ConfigValue])
    /// A mapping with string keys.
    case map([String: ConfigValue])

    /// The text of a `.string`.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The number of a `.number`.
    public var numberValue: Decimal? { if case .number(let n) = self { return n } else { return nil } }
    /// The flag of a `.bool`.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The duration of a `.duration`.
    public var durationValue: Duration? { if case .duration(let d) = self { return d } else { return nil } }
    /// The items of a `.list`.
    public var listValue: [ConfigValue]? { if case .list(let l) = self { return l } else { return nil } }
    /// The entries of a `.map`.
    public var mapValue: [String: ConfigValue]? { if case .map(let m) = self { return m } else { return nil } }

    /// Never prints a secret's value (it has none here: only its name).
    public var description: String {
        switch self {
        case .string(let s): return s
        case .secret(let name): return "secret:\(name)"
        case .number(let n): return "\(n)"
        case .bool(let b): return "\(b)"
        case .duration(let d): return DurationText.format(d)
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let entries): return "{" + entries.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

/// The kind of value an option takes.
public enum OptionKind: Hashable, Sendable {
    /// Text (a `secret:NAME` reference is also accepted).
    case string
    /// Must be a `secret:NAME` reference: credentials never sit in `jobs.yaml`.
    case secret
    /// A number.
    case number
    /// A whole number within a range.
    case integer(ClosedRange<Int>)
    /// `true` / `false`.
    case bool
    /// A duration (`30s`, `15m`).
    case duration
    /// One of fixed words.
    case choice([String])
    /// A list of strings.
    case stringList
    /// A mapping of string to string.
    case stringMap
    /// A mapping of symbol to number (target weights).
    case numberMap
    /// A command: a list of arguments, or a string run by `/bin/sh -c`.
    case command
    /// The name of a broker defined under `brokers:`.
    case brokerReference
    /// The name of a strategy defined under `strategies:`.
    case strategyReference
    /// A list of notifier names defined under `notifiers:`.
    case notifierReferences
    /// Text, or a mapping of keys to text (e.g. `deadline: 2h` or `deadline: { market: XNYS, at: close }`);
    /// the kind's ``ConfigCatalog/jobChecks`` entry says what is valid.
    case textOrTextMap
    /// A mapping with keys of its own (`risk: { daily_loss_limit: 500 }`), read as a map.
    case options([OptionSpec])
    /// The end of a session: a positive duration (`6h`, stored as a duration) or a market rule
    /// `{ market: CME, at: close, offset: -10m }` (stored as a map of `market`, `at`, `offset`).
    case sessionEnd
}

/// A problem a job kind found in its options (reported at the key's line by `validate`).
public struct OptionProblem: Hashable, Sendable {
    /// The option key (`max_notional`, `pricing.step`, …) under the job.
    public var key: String
    /// What is wrong, and the fix.
    public var message: String

    /// A problem.
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
}

/// Checks one job's options against the rest of the configuration (brokers and strategies).
public typealias JobOptionCheck =
    @Sendable (_ options: [String: ConfigValue], _ brokers: [String: ComponentSpec], _ strategies: [String: ComponentSpec]) -> [OptionProblem]

/// One option a component type or job kind accepts.
public struct OptionSpec: Hashable, Sendable {
    /// The key.
    public var name: String
    /// Its kind of value.
    public var kind: OptionKind
    /// Whether it must be present.
    public var required: Bool

    /// An option.
    public init(_ name: String, _ kind: OptionKind, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.required = required
    }
}

/// The component types (brokers, strategies, notifiers) and job kinds a build of schedctl knows,
/// with the options each takes. The composition root assembles it from the modules.
public struct ConfigCatalog: Sendable {
    /// Broker types by name (`paper`, `tradestation`, …).
    public var brokers: [String: [OptionSpec]]
    /// Strategy source types by name.
    public var strategies: [String: [OptionSpec]]
    /// Notifier types by name.
    public var notifiers: [String: [OptionSpec]]
    /// Job kinds by name, with their kind-specific options.
    public var jobKinds: [String: [OptionSpec]]
    /// Per job kind, checks of values and of combinations the option kinds cannot express.
    public var jobChecks: [String: JobOptionCheck] = [:]
    /// Per section (`brokers`, `strategies`, `notifiers`) and type, the checks the loader runs on
    /// each component of that type (see ``ComponentType``).
    public var componentChecks: [String: [String: ComponentCheck]] = [:]
    /// Per section and type, what the type offers (``ComponentType/capabilities``), for checks
    /// that ask instead of naming types (`days: strategy` needs ``Capability/tradeDates``).
    public var componentCapabilities: [String: [String: Set<Capability>]] = [:]
    /// Per job kind, the type its options are parsed into, once, at load (``JobSpec/options(as:)``).
    public var jobOptions: [String: any JobOptions.Type] = [:]
    /// The alert events `notify: { on: [...] }` accepts (the engine's own unless a build adds more).
    public var alertEvents: [AlertEventType] = AlertEventType.engine

    /// A catalog.
    public init(
        brokers: [String: [OptionSpec]] = [:],
        strategies: [String: [OptionSpec]] = [:],
        notifiers: [String: [OptionSpec]] = [:],
        jobKinds: [String: [OptionSpec]] = [:]
    ) {
        self.brokers = brokers
        self.strategies = strategies
        self.notifiers = notifiers
        self.jobKinds = jobKinds
    }
}
