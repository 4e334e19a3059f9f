public import Brokers
public import Foundation
public import Scheduler
import Synchronization

/// What a report job reads and sends through, supplied by the composition root.
public struct ReportEnvironment: Sendable {
    /// The schedctl database (runs, report snapshots).
    public var store: Store
    /// The running configuration (it changes on reload).
    public var plan: @Sendable () -> Plan
    /// The client of a configured broker.
    public var brokerage: @Sendable (ComponentSpec) async throws -> any Brokerage
    /// Builds the notifiers (its secrets are replaced by the run's).
    public var notifiers: NotifierFactory
    /// The wall clock.
    public var wall: @Sendable () -> Date

    /// An environment.
    public init(
        store: Store, plan: @escaping @Sendable () -> Plan, brokerage: @escaping @Sendable (ComponentSpec) async throws -> any Brokerage,
        notifiers: NotifierFactory, wall: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.plan = plan
        self.brokerage = brokerage
        self.notifiers = notifiers
        self.wall = wall
    }
}

/// `type: report`: balances, positions, today's orders, P&L, failures and skips since the last
/// report and the next fires of trading jobs, sent to the notifiers in `to` (e-mail gets text and
/// HTML tables, SMS a short digest). A notifier that fails fails the run (retried per `retry:`);
/// the notifiers already served are kept in the checkpoint and not sent to again.
///
/// ```yaml
/// daily-report: { type: report, to: [inbox, phone], schedule: { market: XNYS, at: close, offset: 15m } }
/// ```
public struct ReportJob: JobKind {
    public let name = "report"
    public let options: [OptionSpec] = [
        OptionSpec("to", .notifierReferences, required: true), OptionSpec("sections", .stringList), OptionSpec("brokers", .stringList),
        OptionSpec("title", .string),
    ]
    /// Where it reads and sends (nil: the kind is only described, as for `validate`).
    public var environment: ReportEnvironment?

    /// The kind, run with `environment`.
    public init(environment: ReportEnvironment? = nil) { self.environment = environment }

    /// Problems of report jobs in `plan` that the generic loader cannot see (unknown sections or
    /// brokers), at the job's line.
    public static func problems(in plan: Plan) -> [Diagnostic] {
        plan.jobs.filter { $0.kind == "report" }.flatMap { job in
            check(job.options, plan.brokers, plan.strategies).map {
                Diagnostic(file: plan.source, line: job.line, column: 0, path: "jobs.\(job.name).\($0.key)", message: $0.message)
            }
        }
    }

    public func run(_ context: RunContext) async throws -> RunOutcome {
        guard let environment else {
            throw JobFailure("report jobs need the database and notifiers; run them with 'schedctl serve' or 'schedctl run'", retryable: false)
        }
        let plan = environment.plan()
        let job = context.job
        let options = try job.options(as: Options.self)
        let now = environment.wall()
        let data = try await gather(context: context, options: options, environment: environment, plan: plan, now: now)
        let message = ReportRenderer.message(data)
        let targets = options.to
        var progress = ReportProgress(checkpoint: try await context.checkpoints.load())
        var factory = environment.notifiers
        factory.secrets = context.secrets
        let notifyStore = NotifyStore(store: environment.store)
        let redact = { @Sendable (text: String) in context.secrets.redact(text) }
        var failures: [String] = []
        for name in targets where !progress.delivered.contains(name) {
            let outcome: String?
            do throws(NotifyError) {
                guard let spec = plan.notifiers[name] else {
                    throw NotifyError(.configuration, notifier: name, "no notifier '\(name)' is configured")
                }
                let notifier = try await factory.notifier(spec)
                if let multi = notifier as? any RecipientNotifier {
                    // Recipients that accepted it on an earlier attempt are not sent it again.
                    let done = progress.recipients[name] ?? []
                    let remaining = multi.recipients.filter { !done.contains($0) }
                    let accepted = AcceptedRecipients()
                    let refused = await multi.send(message.redacted(redact), to: remaining) { recipient in accepted.add(recipient) }
                    progress.recipients[name, default: []] += accepted.all
                    if !refused.isEmpty {
                        try? await context.checkpoints.save(progress.checkpoint)
                        let error = NotifyError.combined(refused, of: remaining.count, notifier: name)
                        throw NotifyError(error.kind, notifier: name, redact(error.message))
                    }
                } else {
                    try await NotifierSet([notifier], redact: redact).send(message, to: name)
                }
                outcome = nil
            } catch {
                outcome = context.secrets.redact(error.message)
            }
            try? await notifyStore.record(
                notifier: name, alert: "report", runID: context.runID, message: message.redacted { context.secrets.redact($0) }, delivered: outcome == nil,
                detail: outcome ?? "delivered", now: environment.wall())
            try? await context.events.record(outcome == nil ? "notify-sent" : "notify-failed", "to \(name) (report): \(outcome ?? "delivered")")
            if let outcome {
                failures.append("\(name): \(outcome)")
            } else {
                progress.delivered.insert(name)
                progress.recipients[name] = nil
                try await context.checkpoints.save(progress.checkpoint)
            }
        }
        if !failures.isEmpty {
            throw JobFailure("the report was not delivered to \(failures.count) of \(targets.count) notifiers: \(failures.joined(separator: "; "))")
        }
        try await ReportStore(store: environment.store).record(job: job.name, runID: context.runID, at: now.timeIntervalSince1970, accounts: data.accounts)
        let unread = data.accounts.filter { $0.balance == nil }.count
        return RunOutcome(
            summary: "report sent to \(targets.joined(separator: ", "))" + (unread > 0 ? " (\(unread) account\(unread == 1 ? "" : "s") unavailable)" : ""),
            detail: context.secrets.redact(message.text))
    }

    /// Reads everything the report shows.
    func gather(context: RunContext, options: ReportOptions, environment: ReportEnvironment, plan: Plan, now: Date) async throws -> ReportData {
        let job = context.job
        let reports = ReportStore(store: environment.store)
        let nowInstant = Instant(seconds: Int64(now.timeIntervalSince1970.rounded(.down)))
        let dayStart = plan.timezone.startOfDay(plan.timezone.local(nowInstant).date)
        let sections = options.sections
        let brokerNames = options.brokers ?? plan.brokers.keys.sorted()
        var accounts: [ReportData.Account] = []
        let needsBrokers = sections.contains { [.balances, .positions, .orders, .pnl].contains($0) }
        for name in brokerNames where needsBrokers {
            guard let spec = plan.brokers[name] else { continue }
            do {
                let broker = try await environment.brokerage(spec)
                let ids: [String]
                if let configured = spec.options["account"]?.stringValue { ids = [configured] } else { ids = try await broker.accounts().map(\.id) }
                for id in ids {
                    var account = ReportData.Account(broker: name, account: id)
                    do {
                        account.balance = try await broker.balance(account: id)
                        if sections.contains(.positions) { account.positions = try await broker.positions(account: id) }
                        if sections.contains(.orders) { account.orders = try await broker.orders(account: id) }
                        account.equityAtLastReport = try await reports.equity(job: job.name, broker: name, account: id)
                        account.equityAtDayStart = try await reports.equity(broker: name, account: id, before: Double(dayStart.seconds))
                    } catch {
                        account = ReportData.Account(broker: name, account: id, error: context.secrets.redact("\(error)"))
                    }
                    accounts.append(account)
                }
            } catch {
                accounts.append(
                    ReportData.Account(broker: name, account: spec.options["account"]?.stringValue ?? "—", error: context.secrets.redact("\(error)")))
            }
        }
        let since = try await reports.lastReport(job: job.name) ?? Double(dayStart.seconds)
        let runs = sections.contains(.runs) ? try await reports.troubles(since: since) : []
        var upcoming: [ReportData.Upcoming] = []
        if sections.contains(.upcoming) {
            for other in plan.jobs where other.options["broker"] != nil {
                if let next = other.schedule.next(after: nowInstant) {
                    upcoming.append(ReportData.Upcoming(job: other.name, kind: other.kind, at: next, rule: other.schedule.summary))
                }
            }
            upcoming.sort { ($0.at, $0.job) < ($1.at, $1.job) }
        }
        return ReportData(
            title: options.title, at: nowInstant, zone: plan.timezone, sections: sections,
            accounts: accounts, runs: runs, runsSince: Instant(seconds: Int64(since.rounded(.down))), upcoming: Array(upcoming.prefix(10)))
    }
}

/// What a report run has delivered, kept in its checkpoint so a retry sends nothing twice: the
/// notifiers served (`log,hook`), and for a notifier with several recipients that was only
/// partly served, the recipients that accepted it (then the checkpoint is JSON).
struct ReportProgress: Codable, Equatable {
    var delivered: Set<String> = []
    var recipients: [String: [String]] = [:]

    init(checkpoint: String?) {
        guard let checkpoint, !checkpoint.isEmpty else { return }
        if checkpoint.hasPrefix("{"), let decoded = try? JSONDecoder().decode(ReportProgress.self, from: Data(checkpoint.utf8)) {
            self = decoded
        } else {
            delivered = Set(checkpoint.split(separator: ",").map(String.init))
        }
    }

    /// The checkpoint text: the plain list of notifiers unless recipients are recorded.
    var checkpoint: String {
        if recipients.values.allSatisfy(\.isEmpty) { return delivered.sorted().joined(separator: ",") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// The recipients that accepted a message, as the notifier reports them.
private final class AcceptedRecipients: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ recipient: String) { list.withLock { $0.append(recipient) } }
    var all: [String] { list.withLock { $0 } }
}

extension ReportJob: TypedJobKind {
    /// Its jobs' options, parsed once at load.
    public typealias Options = ReportOptions

    /// The kind's descriptor (one line in ``JobsRegistry/standard``).
    public static let descriptor = JobKindDescriptor(
        check: check,
        docs: [
            OptionDoc("to", "the notifiers that receive the report"),
            OptionDoc("sections", default: "all", "any of `balances`, `positions`, `orders`, `pnl`, `runs`, `upcoming`"),
            OptionDoc("brokers", default: "every broker", "the brokers whose accounts are reported"),
            OptionDoc("title", default: "schedctl report: JOB", "the report's title (the e-mail subject)"),
        ]
    ) { environment in
        environment.report.map { ReportJob(environment: $0) } ?? ReportJob()
    }

    /// `validate`'s check of a report job: known sections, a non-empty list, defined brokers.
    public static let check: JobOptionCheck = { options, brokers, _ in
        var found: [OptionProblem] = []
        let sections = ReportData.Section.allCases.map(\.rawValue)
        for item in options["sections"]?.listValue ?? [] {
            guard let text = item.stringValue, ReportData.Section(rawValue: text) != nil else {
                found.append(.init(key: "sections", message: "unknown section '\(item)'; use any of \(sections.joined(separator: ", "))"))
                continue
            }
        }
        if let list = options["sections"]?.listValue, list.isEmpty {
            found.append(.init(key: "sections", message: "the list is empty; leave it out for every section"))
        }
        for item in options["brokers"]?.listValue ?? [] where brokers[item.stringValue ?? ""] == nil {
            let known = brokers.keys.sorted()
            found.append(
                .init(
                    key: "brokers",
                    message: "unknown broker '\(item)'; \(known.isEmpty ? "define it under 'brokers:'" : "defined: \(known.joined(separator: ", "))")"))
        }
        return found
    }
}
