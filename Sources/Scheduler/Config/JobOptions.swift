/// A job kind's options in typed form. The loader parses each job's options once, into its kind's
/// type (``ConfigCatalog/jobOptions``), after the kind's check; a run reads them with
/// ``JobSpec/options(as:)`` and never parses `[String: ConfigValue]` again.
///
/// ```swift
/// struct StampOptions: JobOptions {
///     var path: String
///     init(job: JobSpec) throws {
///         guard let path = job.options["path"]?.stringValue else { throw JobFailure("no path", retryable: false) }
///         self.path = path
///     }
/// }
/// let options = try context.job.options(as: StampOptions.self)
/// ```
public protocol JobOptions: Sendable {
    /// Parses `job`'s options. The loader has already reported every problem its option kinds and
    /// the kind's check find; what this throws is reported at the job.
    init(job: JobSpec) throws
}

extension JobSpec {
    /// The options parsed at load into `type`.
    ///
    /// Throws a non-retryable ``JobFailure`` when the spec was not made by the loader (or by
    /// ``parsingOptions(as:)``), or was parsed into another type: kinds never parse again at run time.
    public func options<Options: JobOptions>(as type: Options.Type) throws(JobFailure) -> Options {
        if let typed = typedOptions as? Options { return typed }
        guard let typedOptions else {
            throw JobFailure(
                "job '\(name)' (type \(kind)) has no parsed options: a job reaches its kind only as the configuration loader made it",
                retryable: false)
        }
        throw JobFailure("job '\(name)' (type \(kind)) has options of type \(Swift.type(of: typedOptions)), not \(Options.self)", retryable: false)
    }

    /// This spec with its options parsed into `type`, as the loader does (for specs made in code).
    public func parsingOptions(as type: any JobOptions.Type) throws -> JobSpec {
        var parsed = self
        parsed.typedOptions = try type.init(job: self)
        return parsed
    }
}

/// Typed options that are also their kind's check: the loader parses them once, reports what
/// parsing and ``problems(brokers:strategies:)`` find at each key, and keeps the parsed value,
/// instead of a ``JobOptionCheck`` that parses the same options a second time.
public protocol CheckedJobOptions: JobOptions {
    /// Parses `options`, appending every problem found.
    init(options: [String: ConfigValue], problems: inout [OptionProblem])
    /// What is wrong with these options given the file's brokers and strategies.
    func problems(brokers: [String: ComponentSpec], strategies: [String: ComponentSpec]) -> [OptionProblem]
}
