import Foundation
public import Jobs
public import Logging
public import Scheduler
public import ServiceLifecycle
public import StatusHTTP
import UnixSignals

/// `schedctl serve` as a library: the one ``PlanSource`` and every long-lived part in one
/// `ServiceGroup` (the status endpoint, the engine, retention, the alert outbox, the reload on
/// SIGHUP, the strategy-date refresher and the plan followers). The command parses its
/// arguments, builds this and calls ``run()``; nothing long-lived runs outside the group.
///
/// ```swift
/// let service = SchedulerService(configPath: path, plan: plan, store: store, secrets: secrets, load: load, kinds: kinds, logger: logger)
/// try await service.run()
/// ```
public struct SchedulerService: Sendable {
    /// The owner of the running plan; a reload publishes here.
    public let source: PlanSource
    /// The engine.
    public let engine: Engine
    /// The alert outbox.
    public let alerts: AlertDispatcher
    /// Old runs and events pruned per `service.retention`.
    public let retention: RetentionService
    /// The `days: strategy` refresher.
    public let dates: StrategyTradeDates
    /// The status endpoint (nil with `http: off`).
    public let status: StatusServer?
    /// SIGHUP, trapped when the service is made (so a SIGHUP never finds the default action,
    /// which ends the process); nil when the caller reloads by other means.
    let hangups: UnixSignalsSequence?
    let configPath: String
    let load: @Sendable (String) throws -> Plan
    let logger: Logger

    /// The parts for `plan`, read from `configPath` by `load` (which runs every check); `kinds`
    /// binds the job kinds to the source; `status` builds the endpoint (or nil) on the source.
    public init(
        configPath: String, plan: Plan, store: Store, secrets: any SecretResolving, load: @escaping @Sendable (String) throws -> Plan,
        kinds: (PlanSource) -> JobKindRegistry, dates: (PlanSource) -> StrategyTradeDates, engineOptions: Engine.Options = Engine.Options(),
        status: (PlanSource) async throws -> StatusServer? = { _ in nil }, trapHangups: Bool = true, logger: Logger
    ) async throws {
        hangups = trapHangups ? await UnixSignalsSequence(trapping: .sighup) : nil
        let source = PlanSource(plan)
        self.source = source
        self.configPath = configPath
        self.load = load
        self.logger = logger
        engine = Engine(store: store, plan: plan, registry: kinds(source), logger: logger, secrets: secrets, options: engineOptions)
        self.status = try await status(source)
        alerts = AlertDispatcher(store: store, plan: plan, factory: NotifierFactory(plan: plan, secrets: secrets), logger: logger)
        retention = RetentionService(store: store, policy: plan.service.retention, logger: logger)
        self.dates = dates(source)
    }

    /// Re-reads the configuration and publishes it: the engine first (it registers the jobs), then
    /// every follower through the source. An invalid configuration is logged and the running one
    /// stays. Returns whether the new plan was taken.
    @discardableResult
    public func reload() async -> Bool {
        do {
            let plan = try load(configPath)
            try await engine.reload(plan)
            source.publish(plan)
            return true
        } catch let error as ConfigError where error.kind == .configuration {
            logger.error("reload rejected; the running configuration stays", metadata: ["errors": "\(error.description)"])
        } catch {
            logger.error("reload failed; the running configuration stays", metadata: ["error": "\(error)"])
        }
        return false
    }

    /// The services, the status endpoint first: the rest start once it listens (a port in use
    /// fails `serve` before anything runs), and it stops last (`/readyz` says "draining").
    public func services() -> [any Service] {
        var gated: [any Service] = [
            engine, retention, alerts, PlanFollowers(source: source, retention: retention, alerts: alerts), StrategyDateRefresher(dates: dates),
        ]
        if let hangups { gated.append(ReloadOnHangup(hangups: hangups) { await self.reload() }) }
        guard let status else { return gated }
        return [status] + gated.map { AfterListening(server: status, service: $0) }
    }

    /// Runs every part until SIGTERM or SIGINT drains them; SIGHUP reloads.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services().map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Hands each newer plan from the source to the parts that keep a copy (retention policy, alert
/// rules); the engine takes a reload before it is published.
struct PlanFollowers: Service {
    let source: PlanSource
    let retention: RetentionService
    let alerts: AlertDispatcher

    func run() async throws {
        let first = source.snapshot.generation
        for await snapshot in source.updates().cancelOnGracefulShutdown() where snapshot.generation > first {
            retention.update(snapshot.plan.service.retention)
            await alerts.reload(snapshot.plan)
        }
    }
}

/// Asks the strategies of `days: strategy` jobs for their next trade dates (each at most hourly,
/// see ``StrategyTradeDates/refreshInterval``), every `interval`, until graceful shutdown.
public struct StrategyDateRefresher: Service {
    let dates: StrategyTradeDates
    let interval: Duration

    /// A refresher polling every `interval`.
    public init(dates: StrategyTradeDates, interval: Duration = .seconds(300)) {
        self.dates = dates
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await dates.refresh()
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}

/// Runs `service` once `server` listens; if it could not bind, waits to be cancelled (the server's
/// error ends the group).
struct AfterListening: Service {
    let server: StatusServer
    let service: any Service

    func run() async throws {
        guard await server.port() != nil else {
            // The endpoint could not listen: its own error (naming the address and the key) is
            // what the group must report. Returning now would race it as "a service finished
            // unexpectedly" (seen under load), so wait for the group to cancel this service.
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(60)) }
            return
        }
        try await service.run()
    }
}
