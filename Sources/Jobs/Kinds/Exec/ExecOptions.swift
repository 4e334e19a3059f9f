public import Scheduler

/// The options of one `type: exec` job, parsed once at load.
public struct ExecOptions: JobOptions, Hashable {
    /// Program and arguments (`command`).
    public var command: [String]
    /// Extra environment (`env`).
    public var env: [String: EnvironmentValue]
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
        env = EnvironmentValue.map(job.options["env"])
        workdir = job.options["workdir"]?.stringValue
        inheritEnv = job.options["inherit_env"]?.boolValue ?? true
    }
}
