public import Scheduler

/// The component types and job kinds this build of schedctl knows, as `jobs.yaml` sees them.
public enum StandardCatalog {
    /// Options of each broker type.
    public static let brokers: [String: [OptionSpec]] = [
        "paper": [
            OptionSpec("cash", .number), OptionSpec("seed", .integer(0...Int(Int32.max))), OptionSpec("prices", .string),
        ],
        "tradestation": [
            OptionSpec("environment", .choice(["sim", "live"]), required: true), OptionSpec("account", .string, required: true),
            OptionSpec("client_id", .secret, required: true), OptionSpec("client_secret", .secret, required: true),
            OptionSpec("base_url", .string), OptionSpec("auth_url", .string),
        ],
        "tradovate": [
            OptionSpec("environment", .choice(["demo", "live"]), required: true), OptionSpec("username", .secret, required: true),
            OptionSpec("password", .secret, required: true), OptionSpec("app_id", .string), OptionSpec("app_version", .string),
            OptionSpec("cid", .secret), OptionSpec("sec", .secret), OptionSpec("device_id", .string), OptionSpec("account", .string),
            OptionSpec("base_url", .string), OptionSpec("ws_url", .string), OptionSpec("md_url", .string),
        ],
    ]

    /// Options of each strategy source type.
    public static let strategies: [String: [OptionSpec]] = [
        "pennyvault": [OptionSpec("portfolio", .string, required: true), OptionSpec("token", .secret, required: true), OptionSpec("base_url", .string)],
        "weights": [OptionSpec("weights", .numberMap, required: true)],
        "file": [OptionSpec("path", .string, required: true)],
    ]

    /// Options of each notifier type (`email`, `twilio`, `webhook`, `file`).
    public static let notifiers: [String: [OptionSpec]] = NotifierFactory.options

    /// The catalog for `registry`'s job kinds.
    public static func catalog(kinds registry: JobKindRegistry) -> ConfigCatalog {
        var catalog = ConfigCatalog(brokers: brokers, strategies: strategies, notifiers: notifiers, jobKinds: registry.optionSpecs)
        catalog.jobChecks["rebalance"] = RebalanceOptions.check
        catalog.jobChecks["futures-session"] = FuturesSessionSettings.check
        catalog.jobChecks["token-renewal"] = TokenRenewalJob.check
        return catalog
    }
}
