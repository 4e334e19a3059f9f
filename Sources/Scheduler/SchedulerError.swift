/// The one error type of the `Scheduler` module, with an open ``Kind`` (like `SecretsError` and
/// `BrokerError`).
///
/// Every message says what is wrong and the fix. The older names stay as aliases of this type:
/// ``StoreError``, ``ConfigError``, ``CronError``, ``TimeParseError``, ``BackfillTooLarge`` and
/// ``JobFailure`` (what a job kind throws to fail an attempt).
///
/// ```swift
/// do { _ = try Store(path: path) }
/// catch let error as SchedulerError where error.kind == .newerSchema { print(error) }
/// ```
public struct SchedulerError: Error, CustomStringConvertible, Sendable, Hashable {
    fileprivate enum Code: Hashable, Sendable {
        case cannotCreate, notADatabase, newerSchema, fenced, oldSQLite
        case configuration, cron, time, backfillTooLarge
        case jobFailed
    }

    /// A matchable category of ``SchedulerError`` (an open set: new kinds may be added).
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }

        /// The database file cannot be created or opened.
        public static let cannotCreate = Kind(.cannotCreate)
        /// The file is not a schedctl database.
        public static let notADatabase = Kind(.notADatabase)
        /// The database was written by a newer schedctl.
        public static let newerSchema = Kind(.newerSchema)
        /// The SQLite library is older than the one schedctl's SQL needs.
        public static let oldSQLite = Kind(.oldSQLite)
        /// A write was refused because the run's lease moved on to another owner or generation.
        public static let fenced = Kind(.fenced)
        /// The configuration has problems (``SchedulerError/diagnostics``).
        public static let configuration = Kind(.configuration)
        /// A cron expression cannot be used.
        public static let cron = Kind(.cron)
        /// A date or time text cannot be parsed.
        public static let time = Kind(.time)
        /// A backfill range has more occurrences than one backfill may queue.
        public static let backfillTooLarge = Kind(.backfillTooLarge)
        /// A job kind failed an attempt (``SchedulerError/retryable`` says whether to try again).
        public static let jobFailed = Kind(.jobFailed)

        public var description: String { String(describing: code) }
    }

    /// What kind of failure this is.
    public var kind: Kind { Kind(category) }
    /// The kind, under the name `StoreError` gave it.
    public var code: Kind { kind }
    /// What went wrong, and the fix.
    public var message: String
    /// More about it: a failed job's output tail, or what the database said.
    public var detail: String?
    /// Whether another attempt could succeed (a job failure; false: do not retry).
    public var retryable: Bool
    /// The configuration's problems, in file order (``Kind/configuration``).
    public var diagnostics: [Diagnostic]
    /// The file involved (the database), if any.
    public var path: String?
    /// The text that could not be used (a cron expression, a date), if any.
    public var text: String?
    /// Zero-based offset of the offending field within ``text`` (a cron expression), when known.
    public var column: Int?

    private var category: Code

    private init(
        _ code: Code, _ message: String, detail: String? = nil, retryable: Bool = false, diagnostics: [Diagnostic] = [], path: String? = nil,
        text: String? = nil, column: Int? = nil
    ) {
        category = code
        self.message = message
        self.detail = detail
        self.retryable = retryable
        self.diagnostics = diagnostics
        self.path = path
        self.text = text
        self.column = column
    }

    public var description: String {
        guard category == .configuration else { return message }
        let count = diagnostics.count
        return diagnostics.map(\.description).joined(separator: "\n")
            + "\n\(count) error\(count == 1 ? "" : "s") in \(diagnostics.first?.file ?? "configuration")"
    }
}

extension SchedulerError {
    /// A job kind's failed attempt: `message` says what went wrong, `detail` may carry the tail of
    /// a command's output, and `retryable: false` ends the run without another attempt.
    public init(_ message: String, detail: String? = nil, retryable: Bool = true) {
        self.init(.jobFailed, message, detail: detail, retryable: retryable)
    }

    /// A configuration that cannot be used, with every problem found in one pass.
    public init(diagnostics: [Diagnostic]) {
        self.init(.configuration, "", diagnostics: diagnostics)
        message = description
    }

    /// A cron expression that cannot be used; `message` names the field, value and allowed range.
    public init(expression: String, message: String, column: Int? = nil) {
        self.init(.cron, message, text: expression, column: column)
    }

    /// The cron expression as written (``Kind/cron``).
    public var expression: String { text ?? "" }

    /// A database problem (``Kind/cannotCreate``, ``Kind/notADatabase``, ``Kind/newerSchema``,
    /// ``Kind/oldSQLite``, ``Kind/fenced``) with the database's path.
    init(_ kind: Kind, path: String, detail: String) {
        let message =
            switch kind.code {
            case .cannotCreate: "cannot create the database \(path): \(detail); check the 'database:' path and its directory's permissions"
            case .notADatabase: "\(path) is not a schedctl database (\(detail)); point 'database:' at another file or move this one away"
            case .newerSchema: "\(path) was written by a newer schedctl than this one (\(SchedulerInfo.version)); upgrade schedctl — nothing was written"
            case .oldSQLite:
                "the SQLite library is version \(detail), older than \(Store.minimumSQLiteVersion), which schedctl needs (JSON '->>' and RETURNING); "
                    + "install a newer libsqlite3 (Debian 12 has 3.40) — \(path) was not opened"
            default: detail
            }
        self.init(kind.code, message, detail: detail, path: path)
    }

    /// A date-time text that could not be parsed: `expected` says what it should have been.
    init(text: String, expected: String) {
        self.init(.time, "'\(text)' is not \(expected)", text: text)
    }

    /// A backfill of `job` with more occurrences than `limit`; `through` is the last one within it.
    init(job: String, limit: Int, through: Instant) {
        self.init(
            .backfillTooLarge,
            "\(job): the range has more than \(limit) occurrences; nothing was queued — backfill at most \(limit) at a time (e.g. --to \(through.iso8601))")
    }
}

/// A database that cannot be used as it is (``SchedulerError`` of a store kind).
public typealias StoreError = SchedulerError
/// A configuration that cannot be used (``SchedulerError/Kind/configuration``).
public typealias ConfigError = SchedulerError
/// A cron expression that cannot be used (``SchedulerError/Kind/cron``).
public typealias CronError = SchedulerError
/// A date-time text that could not be parsed (``SchedulerError/Kind/time``).
public typealias TimeParseError = SchedulerError
/// A backfill range too large for one backfill (``SchedulerError/Kind/backfillTooLarge``).
public typealias BackfillTooLarge = SchedulerError
/// How a job kind fails an attempt (``SchedulerError/Kind/jobFailed``).
public typealias JobFailure = SchedulerError
