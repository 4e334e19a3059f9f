import ArgumentParser
import Foundation
import Inspection
import Jobs
import Logging
import Metrics
import SchedctlService
import Scheduler
import ServiceLifecycle
import StatusHTTP
import UnixSignals

/// `schedctl serve`: the scheduler service in the foreground.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the scheduler service in the foreground.",
        discussion: """
            Prints the plan and the next fire times, then runs until SIGTERM or SIGINT, which drain it:
            it stops claiming, lets running jobs finish within service.shutdown_grace, and releases
            the leases of the rest so another instance resumes them. SIGHUP (or 'schedctl reload')
            re-reads the configuration; an invalid one is logged and the running plan stays.
            """)

    @OptionGroup var options: ConfigOptions
    @Option(help: "logfmt or json (default: service.log_format).") var logFormat: String?
    @Option(help: "trace, debug, info, notice, warning, error (default: service.log_level).") var logLevel: String?
    @Option(help: "HOST:PORT for the status endpoint, or 'off' (default: service.http.listen; port 0 picks a free one).") var http: String?

    func run() async throws {
        try await exiting {
            var plan = try Wiring.loadPlan(options.path)
            if let http { plan.service.http = try Self.overrideHTTP(http, plan.service.http) }
            let format = LineLogHandler.Format(rawValue: logFormat ?? plan.service.logFormat) ?? .logfmt
            let level = Logger.Level(rawValue: logLevel ?? plan.service.logLevel) ?? .info
            LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level, redact: Wiring.redact) }
            let logger = Logger(label: "schedctl")
            let store = try Wiring.openStore(plan)
            let secrets = Wiring.secrets(for: plan, store: store)
            let metrics = StatusMetrics()
            var engineOptions = Engine.Options()
            engineOptions.observer = metrics
            let service = try await SchedulerService(
                configPath: options.path, plan: plan, store: store, secrets: secrets, load: { try Wiring.loader.load(file: $0) },
                kinds: { Wiring.registry(for: $0, store: store, secrets: secrets) }, dates: { Wiring.strategyDates(store: store, plan: $0) },
                engineOptions: engineOptions,
                status: { try await Self.statusServer(plan: plan, store: store, holder: $0, secrets: secrets, metrics: metrics, logger: logger) },
                logger: logger)
            printPlan(plan, instance: service.engine.instanceID, watermarks: await JobGrid.watermarks(store))
            do {
                try await service.run()
            } catch let error as StatusServerError {
                throw CommandFailure(message: error.description)
            }
        }
    }

    /// `--http`: `off`, or a listen address (the loopback/token rule of `service.http` applies).
    static func overrideHTTP(_ text: String, _ configured: HTTPSettings?) throws -> HTTPSettings? {
        if text == "off" { return nil }
        guard let (host, port) = HTTPSettings.parseListen(text) else {
            throw CommandFailure(message: "--http '\(text)' is not a listen address; write HOST:PORT, e.g. 127.0.0.1:8377, or 'off'", code: 64)
        }
        let settings = HTTPSettings(host: host, port: port, token: configured?.token)
        if !HTTPSettings.isLoopback(host) && settings.token == nil {
            throw CommandFailure(
                message: "--http \(text) is reachable from other machines; set service.http.token: secret:NAME or listen on 127.0.0.1", code: 64)
        }
        return settings
    }

    /// The status endpoint of `service.http` (nil when `http: off`), its token resolved from the
    /// vault; swift-metrics users (broker requests, alerts) report into its registry.
    private static func statusServer(
        plan: Plan, store: Store, holder: PlanHolder, secrets: any SecretResolving, metrics: StatusMetrics, logger: Logger
    ) async throws -> StatusServer? {
        guard let http = plan.service.http else { return nil }
        var token: String?
        if let name = http.token {
            do {
                token = try await secrets.resolve(name)
            } catch {
                throw CommandFailure(message: "service.http.token: \(Wiring.redact(String(describing: error)))")
            }
        }
        MetricsSystem.bootstrap(metrics.metricsFactory)
        let tokens = TokenCache { StatusCommand.tokens(holder.current, store: store) }
        let source = StatusSource(store: store, plan: { holder.current }, tokens: tokens)
        let probe: WriteProbe
        do {
            probe = try WriteProbe(path: store.path)
        } catch {
            throw CommandFailure(message: "cannot open \(store.path) for the health probe: \(error)")
        }
        return try StatusServer(settings: http, source: source, metrics: metrics, probe: probe, token: token, logger: logger)
    }

    private func printPlan(_ plan: Plan, instance: String, watermarks: [String: Instant]) {
        print("schedctl \(SchedctlVersion.text) serving \(plan.source) as \(instance)")
        print("database \(plan.database); \(plan.jobs.count) jobs; up to \(plan.service.maxConcurrentRuns) runs at once")
        let now = Instant(Date())
        var table = TextTable(headers: ["job", "type", "schedule", "next (UTC)"])
        for job in plan.jobs {
            table.add([job.name, job.kind, job.schedule.summary, JobGrid.next(job.schedule, after: now, watermark: watermarks[job.name])?.iso8601 ?? "never"])
        }
        print(table.render())
        fflush(nil)
    }
}

/// `schedctl reload`: asks the live services on this host to re-read their configuration.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reload", abstract: "Make running services re-read jobs.yaml (sends SIGHUP).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let store = try Wiring.openStore(plan)
            let status = try await store.status(now: Date())
            let host = ProcessInfo.processInfo.hostName
            let local = status.instances.filter { $0.host == host }
            guard !local.isEmpty else { throw CommandFailure(message: "no schedctl service is running on this host for \(plan.database)") }
            let outcomes = ReloadSignal.reload(local)
            for outcome in outcomes {
                if let reason = outcome.skipped {
                    printError("not signalled: \(outcome.instance.id) (pid \(outcome.instance.pid)): \(reason)")
                } else {
                    print("reload requested: \(outcome.instance.id) (pid \(outcome.instance.pid))")
                }
            }
            guard outcomes.contains(where: { $0.skipped == nil }) else {
                throw CommandFailure(message: "no schedctl service on this host could be signalled for \(plan.database) (see above); nothing was reloaded")
            }
        }
    }
}
