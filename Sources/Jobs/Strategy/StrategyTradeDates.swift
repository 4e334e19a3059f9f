import Brokers
public import Foundation
public import Logging
public import SchedctlBase
public import Scheduler

/// Keeps the next trade date of each `days: strategy` job's Penny Vault strategy in the store,
/// where the occurrence planner reads it (``TradeDateGate``). Asked at most once an hour per job
/// unless forced; a run of such a job always asks and records what it saw.
///
/// ```swift
/// let dates = StrategyTradeDates(store: store, secrets: resolver, plan: { plan })
/// let records = await dates.refresh()          // skips jobs asked within the hour
/// ```
public struct StrategyTradeDates: Sendable {
    /// How long a recorded date is trusted before asking again.
    public static let refreshInterval: TimeInterval = 3600

    /// The store holding the dates.
    public let store: Store
    let secrets: any SecretResolving
    let plan: @Sendable () -> Plan
    let now: @Sendable () -> Date
    let sleeper: Sleeper

    /// A refresher. `plan` is read on every call (the service may reload it); `now` is the
    /// injected wall clock.
    public init(
        store: Store, secrets: any SecretResolving, plan: @escaping @Sendable () -> Plan, now: @escaping @Sendable () -> Date = { Date() },
        sleeper: Sleeper = .continuous
    ) {
        self.store = store
        self.secrets = secrets
        self.plan = plan
        self.now = now
        self.sleeper = sleeper
    }

    /// Asks the strategy of every `days: strategy` job not asked within ``refreshInterval`` (every
    /// one when `force`), records the answers, and returns every job's record.
    @discardableResult
    public func refresh(force: Bool = false) async -> [String: StrategyTradeDateRecord] {
        let current = plan()
        let known = (try? await store.strategyTradeDates()) ?? [:]
        for job in current.jobs where job.schedule.strategyRule != nil {
            if !force, let record = known[job.name], now().timeIntervalSince(record.checkedAt) < Self.refreshInterval,
                record.strategy == job.options["strategy"]?.stringValue
            {
                continue
            }
            _ = try? await refresh(job: job, in: current, runID: nil, secrets: secrets)
        }
        return (try? await store.strategyTradeDates()) ?? known
    }

    /// Asks `job`'s strategy now and records the answer (with `runID` when a run asked); returns
    /// the next trade date, or throws what went wrong after recording it.
    @discardableResult
    public func refresh(job: JobSpec, in plan: Plan, runID: Int64?, secrets: any SecretResolving) async throws -> LocalDate {
        let name = job.options["strategy"]?.stringValue ?? ""
        do {
            let date = try await nextTradeDate(job: job, strategy: name, in: plan, secrets: secrets)
            try await store.recordStrategyTradeDate(job: job.name, strategy: name, date: date, at: now(), runID: runID)
            return date
        } catch {
            let message = secrets.redact("\(error)")
            try? await store.recordStrategyTradeDate(job: job.name, strategy: name, date: nil, error: message, at: now(), runID: runID)
            throw JobFailure("days: strategy: cannot read the next trade date of strategy '\(name)': \(message)")
        }
    }

    private func nextTradeDate(job: JobSpec, strategy name: String, in plan: Plan, secrets: any SecretResolving) async throws -> LocalDate {
        guard let spec = plan.strategies[name], spec.type == "pennyvault" else {
            throw JobFailure("strategy '\(name)' is not a pennyvault strategy", retryable: false)
        }
        guard case .secret(let tokenName) = spec.options["token"] else {
            throw JobFailure("strategy '\(name)' has no token: secret:NAME", retryable: false)
        }
        let baseURL = spec.options["base_url"]?.stringValue.flatMap(URL.init(string:)) ?? PennyVaultClient.defaultBaseURL
        let client = PennyVaultClient(
            portfolio: spec.options["portfolio"]?.stringValue ?? "", baseURL: baseURL, credentials: ResolvedCredentials(secrets: secrets),
            tokenName: tokenName, sleeper: sleeper, name: name)
        guard let date = try await client.prediction().date else {
            throw JobFailure("Penny Vault's prediction for '\(client.portfolio)' has no date")
        }
        return ZoneRules.utc.local(Instant(date)).date
    }
}

/// Broker credentials resolved through a run's (or a command's) secret resolver, so every value
/// is registered for redaction.
struct ResolvedCredentials: CredentialProvider {
    let secrets: any SecretResolving
    func value(for name: String) async throws -> String { try await secrets.resolve(name) }
}

/// Wraps a job kind so that every run of a `days: strategy` job records the strategy's next
/// trade date it saw once the attempt ends (the run's summary says which), whatever the kind.
public struct StrategyDateRecordingKind: JobKind {
    /// The wrapped kind.
    public let inner: any JobKind
    /// Where the dates go.
    public let dates: StrategyTradeDates

    public var name: String { inner.name }
    public var options: [OptionSpec] { inner.options }

    public func run(_ context: RunContext) async throws -> RunOutcome {
        guard context.job.schedule.strategyRule != nil else { return try await inner.run(context) }
        let outcome: RunOutcome
        do {
            outcome = try await inner.run(context)
        } catch {
            _ = try? await record(context)
            throw error
        }
        do {
            let date = try await record(context)
            return RunOutcome(summary: outcome.summary + "; next trade date \(date)", detail: outcome.detail)
        } catch {
            context.logger.warning("next trade date not recorded", metadata: ["error": "\(error)"])
            return RunOutcome(summary: outcome.summary + "; next trade date not refreshed", detail: outcome.detail)
        }
    }

    /// The wrapped kind's (a wrapper must forward it: the default does nothing).
    public func stopLeftovers(of run: EndedRun, logger: Logger, events: any RunEventRecording) async {
        await inner.stopLeftovers(of: run, logger: logger, events: events)
    }

    private func record(_ context: RunContext) async throws -> LocalDate {
        try await dates.refresh(job: context.job, in: dates.plan(), runID: context.runID, secrets: context.secrets)
    }

    /// `registry` with every kind wrapped.
    public static func wrapping(_ registry: JobKindRegistry, dates: StrategyTradeDates) -> JobKindRegistry {
        JobKindRegistry(registry.kinds.values.map { StrategyDateRecordingKind(inner: $0, dates: dates) })
    }
}
