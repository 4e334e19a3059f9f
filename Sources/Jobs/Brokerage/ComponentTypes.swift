public import Scheduler

extension Capability {
    /// A broker type with a stored sign-in token that a `token-renewal` job keeps alive.
    public static let renewableToken = Capability("renewable-token")
    /// A broker type a `futures-session` job trades through (a live order and quote socket).
    public static let futuresSession = Capability("futures-session")
    /// A broker type signed in once in a browser (`schedctl auth tradestation`); a refresh token
    /// kept in the vault renews its access token.
    public static let browserSignIn = Capability("browser-sign-in")
    /// A broker type signed in with a username and password; its session token is renewed.
    public static let passwordSignIn = Capability("password-sign-in")
    /// A broker type that trades shares: a `rebalance` job can use it.
    public static let stockOrders = Capability("stock-orders")
}

/// The broker types this build knows: options, URL checks and capabilities. Their clients are
/// built by ``BrokerFactory``.
public enum BrokerTypes {
    /// Every broker type.
    public static let all: [ComponentType] = [
        ComponentType(
            section: "brokers", name: "paper",
            options: [OptionSpec("cash", .number), OptionSpec("seed", .integer(0...Int(Int32.max))), OptionSpec("prices", .string)],
            capabilities: [.stockOrders]),
        ComponentType(
            section: "brokers", name: "tradestation",
            options: [
                OptionSpec("environment", .choice(["sim", "live"]), required: true), OptionSpec("account", .string, required: true),
                OptionSpec("client_id", .secret, required: true), OptionSpec("client_secret", .secret, required: true),
                OptionSpec("base_url", .string), OptionSpec("auth_url", .string),
            ],
            capabilities: [.renewableToken, .browserSignIn, .stockOrders], check: EndpointURL.check(keys: ["base_url", "auth_url"])),
        ComponentType(
            section: "brokers", name: "tradovate",
            options: [
                OptionSpec("environment", .choice(["demo", "live"]), required: true), OptionSpec("username", .secret, required: true),
                OptionSpec("password", .secret, required: true), OptionSpec("app_id", .string), OptionSpec("app_version", .string),
                OptionSpec("cid", .secret), OptionSpec("sec", .secret), OptionSpec("device_id", .string), OptionSpec("account", .string),
                OptionSpec("base_url", .string), OptionSpec("ws_url", .string), OptionSpec("md_url", .string),
            ],
            capabilities: [.renewableToken, .passwordSignIn, .futuresSession], check: EndpointURL.check(keys: ["base_url"], socketKeys: ["ws_url", "md_url"])),
    ]

    /// The names of the broker types with `capability`, sorted (for messages).
    public static func named(with capability: Capability) -> [String] {
        all.filter { $0.capabilities.contains(capability) }.map(\.name).sorted()
    }

    /// Whether broker type `type` has `capability`.
    public static func type(_ type: String, has capability: Capability) -> Bool {
        all.contains { $0.name == type && $0.capabilities.contains(capability) }
    }
}

/// The strategy source types this build knows.
public enum StrategyTypes {
    /// Every strategy type.
    public static let all: [ComponentType] = [
        ComponentType(
            section: "strategies", name: "pennyvault",
            options: [OptionSpec("portfolio", .string, required: true), OptionSpec("token", .secret, required: true), OptionSpec("base_url", .string)],
            capabilities: [.tradeDates], check: EndpointURL.check(keys: ["base_url"])),
        ComponentType(section: "strategies", name: "weights", options: [OptionSpec("weights", .numberMap, required: true)]),
        ComponentType(section: "strategies", name: "file", options: [OptionSpec("path", .string, required: true)]),
    ]
}
