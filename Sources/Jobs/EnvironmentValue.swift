public import Scheduler

/// A value of a job's `env:` mapping (exec's `env`, a futures session's `strategy.env`): text, or
/// a vault secret resolved when the run starts.
public enum EnvironmentValue: Sendable, Hashable {
    /// The text itself.
    case text(String)
    /// `secret:NAME`.
    case secret(String)

    /// The entries of an `env:` mapping as the loader read it (`.stringMap`: text or secrets).
    public static func map(_ value: ConfigValue?) -> [String: EnvironmentValue] {
        var env: [String: EnvironmentValue] = [:]
        for (key, value) in value?.mapValue ?? [:] {
            switch value {
            case .string(let text): env[key] = .text(text)
            case .secret(let name): env[key] = .secret(name)
            default: break
            }
        }
        return env
    }

    /// The value, a secret resolved through `secrets`.
    public func resolved(_ secrets: any SecretResolving) async throws -> String {
        switch self {
        case .text(let text): return text
        case .secret(let name): return try await secrets.resolve(name)
        }
    }
}
