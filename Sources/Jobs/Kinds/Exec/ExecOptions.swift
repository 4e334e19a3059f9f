public import Scheduler

/// The options of one `type: exec` job, parsed once at load.
public struct ExecOptions: JobOptions, Hashable {
    /// A value of `env`: text, or a vault secret resolved when the run starts.
    public enum Value: Sendable, Hashable {
        /// The text itself.
        case text(String)
        /// `secret:NAME`.
        case secret(String)
    }

    /// Program and arguments (`command`).
    public var command: [String]
    /// Extra environment (`env`).
    public var env: [String: Value]
    /// The working directory (`workdir`); nil: schedctl's own.
    public var workdir: String?
    /// Whether the child starts from schedctl's environment (`inherit_env`, default true).
    public var inheritEnv: Bool

    /// Reads `job`'s options.
    public init(job: JobSpec) throws {
        guard let argv = job.options["command"]?.listValue?.compactMap(\.stringValue), !argv.isEmpty else {
            throw JobFailure("the job has no command", retryable: false)
        }
        command = argv
        var env: [String: Value] = [:]
        for (key, value) in job.options["env"]?.mapValue ?? [:] {
            switch value {
            case .string(let text): env[key] = .text(text)
            case .secret(let name): env[key] = .secret(name)
            default: break
            }
        }
        self.env = env
        workdir = job.options["workdir"]?.stringValue
        inheritEnv = job.options["inherit_env"]?.boolValue ?? true
    }
}
