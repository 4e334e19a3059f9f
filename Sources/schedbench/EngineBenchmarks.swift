import Foundation
import Jobs
import Logging
import SchedctlBase
import Scheduler
import StatusHTTP
import Synchronization

/// Engine benchmarks: durable claims, fire lateness, lease renewals across processes, start-up
/// time and memory at 100,000 jobs. They print figures; nothing here passes or fails.
enum EngineBenchmarks {
    static let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The directories `temporaryDatabase` made (removed by `removeTemporaryDatabases`).
    static let directories = Mutex<[String]>([])

    static func temporaryDatabase(_ name: String) -> String {
        let directory = NSTemporaryDirectory() + "schedbench-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        directories.withLock { $0.append(directory) }
        return directory + "/\(name).sqlite"
    }

    /// Removes the benchmarks' databases (a history database alone is hundreds of megabytes).
    static func removeTemporaryDatabases() {
        for directory in directories.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func plan(_ jobs: [JobSpec], database: String, maxConcurrent: Int = 64) -> Plan {
        var service = ServiceSettings()
        service.maxConcurrentRuns = maxConcurrent
        service.shutdownGrace = .seconds(5)
        return Plan(
            source: "bench", timezone: .utc, database: database, secrets: SecretsSettings(), brokers: [:], strategies: [:], notifiers: [:],
            calendars: [:], service: service, jobs: jobs)
    }

    /// Durable claims per second with 10,000 occurrences due at once.
    static func claims() async throws {
        let count = 10_000
        let jobs = (0..<count).map {
            JobSpec(
                name: "job-\($0)", kind: "noop", schedule: Schedule(.interval(seconds: 60, aligned: true, zone: .utc)),
                misfire: MisfirePolicy(mode: .all, grace: .seconds(3600)))
        }
        let store = try StoreSchema.open(path: temporaryDatabase("claims"))
        let start = try Instant(iso8601: "2026-11-23T15:00:30Z").date
        _ = try await store.registerJobs(jobs, now: start)
        let due = start.addingTimeInterval(30)
        let clock = ContinuousClock()
        var claimed = 0
        let elapsed = try await clock.measure {
            var index = 0
            while index < jobs.count {
                let batch = Array(jobs[index..<min(index + 512, jobs.count)])
                index += batch.count
                claimed += try await store.claim(batch, now: due, instance: "bench").reduce(0) { $0 + $1.inserted.count }
            }
        }
        let seconds = elapsed.seconds
        print(
            String(
                format: "durable claims: %d occurrences due at once claimed in %.3f s → %.0f claims/s (batches of 512 per transaction)", claimed, seconds,
                Double(claimed) / seconds))
    }

    /// The store's share of the end-to-end figure, without the engine: 10,000 one-shots due at
    /// once claimed in transactions of 512, then leased 512 at a time, each batch's ends recorded in
    /// the transaction that leases the next (as the engine's end flush does). What the writer
    /// alone sustains per run at `durability`.
    static func storeLifecycle(durability: Durability) async throws {
        let count = 10_000
        let store = try Store(path: temporaryDatabase("lifecycle"), durability: durability, extraMigrations: StoreSchema.extensions)
        let due = Instant(seconds: Int64(Date().timeIntervalSince1970.rounded(.down)) - 1)
        let jobs = (0..<count).map {
            JobSpec(
                name: "once-\($0)", kind: "noop", schedule: Schedule(.once(due)), misfire: MisfirePolicy(mode: .all, grace: .seconds(3600)))
        }
        _ = try await store.registerJobs(jobs, now: Date(timeIntervalSince1970: Double(due.seconds) - 60))
        let table = JobTable(jobs)
        let clock = ContinuousClock()
        let cpuBefore = LifecycleBenchmarks.processCPUSeconds()
        var claimed = 0
        let claiming = try await clock.measure {
            for start in stride(from: 0, to: count, by: 512) {
                let batch = Array(jobs[start..<min(start + 512, count)])
                claimed += try await store.claim(batch, now: Date(), instance: "bench").reduce(0) { $0 + $1.inserted.count }
            }
        }
        let cpuClaims = LifecycleBenchmarks.processCPUSeconds() - cpuBefore
        var ended = 0
        let running = try await clock.measure {
            var leased = try await store.startPending(now: Date(), owner: "bench", leaseDuration: .seconds(30), limit: 512, jobs: table)
            while !leased.isEmpty {
                let ends = leased.map { Store.AttemptEnd(runID: $0.run.id, generation: $0.generation, result: .succeeded(RunOutcome(summary: "ok"))) }
                let (fenced, next) = try await store.finishAttempts(
                    ends, owner: "bench", now: Date(), thenStart: 512, leaseDuration: .seconds(30), jobs: table)
                ended += ends.count - fenced.count
                leased = next
            }
        }
        let cpu = LifecycleBenchmarks.processCPUSeconds() - cpuBefore
        let seconds = claiming.seconds + running.seconds
        print(
            String(
                format:
                    "store alone, %d one-shots due at once, durability %@: %d claimed in %.3f s (%.3f s of CPU), %d started and ended in %.3f s (%.3f s of CPU) → %.0f runs/s, %.3f s of CPU per 10,000 runs; load average %@",
                count, durability.rawValue, claimed, claiming.seconds, cpuClaims, ended, running.seconds, cpu - cpuClaims,
                Double(ended) / seconds, cpu * 10_000 / Double(max(ended, 1)), LifecycleBenchmarks.loadAverage()))
    }

    /// A job kind that records how late its code started (the moment `run` is called).
    final class LatenessProbe: JobKind, Sendable {
        let name = "noop"
        let options: [OptionSpec] = []
        /// (nominal, lateness in ms) of each counted fire.
        let samples = Mutex<[(nominal: Int64, late: Double)]>([])
        /// Fires before this instant are the warm-up (the service's first seconds) and not counted.
        let from = Date().timeIntervalSince1970 + 3

        func run(_ context: RunContext) async throws -> RunOutcome {
            let now = Date().timeIntervalSince1970
            let late = now - Double(context.nominal.seconds)
            if Double(context.nominal.seconds) >= from { samples.withLock { $0.append((context.nominal.seconds, late * 1000)) } }
            return RunOutcome(summary: "ok")
        }
    }

    /// Fire lateness (job code start minus nominal) with 10,000 jobs spread over each minute's
    /// seconds, about 167 fires a second, at `maxConcurrent` slots and `durability`.
    /// With `polling`, a client fetches the status page and `/metrics` every 100 ms meanwhile
    /// (the engine reports to the endpoint's metrics, as in `serve`).
    /// With `external`, the endpoint is served but polled by another process (`port-file` gets its
    /// port; see `scripts/bench-status-lateness`).
    static func lateness(
        seconds window: Int, maxConcurrent: Int, durability: Durability = .full, polling: Bool = false, external: String? = nil
    ) async throws {
        let count = 10_000
        let jobs = try (0..<count).map { i in
            JobSpec(name: "job-\(i)", kind: "noop", schedule: .cron(try CronExpression("\(i % 60) * * * * *"), zone: .utc))
        }
        let database = temporaryDatabase("lateness")
        let store = try Store(path: database, durability: durability, extraMigrations: StoreSchema.extensions)
        let probe = LatenessProbe()
        let metrics = StatusMetrics()
        var options = Engine.Options()
        if polling { options.observer = metrics }
        let plan = plan(jobs, database: database, maxConcurrent: maxConcurrent)
        let engine = Engine(store: store, plan: plan, registry: JobKindRegistry([probe]), logger: quiet, options: options)
        let run = {
            let task = Task { try await engine.run() }
            try await Task.sleep(for: .seconds(window))
            await engine.beginDrain()
            task.cancel()
            _ = try? await task.value
        }
        if polling {
            try await StatusBenchmarks.polling(store: store, plan: plan, metrics: metrics, portFile: external, run)
        } else {
            try await run()
        }
        let samples = probe.samples.withLock { $0 }
        let lateness = samples.map(\.late).sorted()
        // Per second: when its first run began and when its last one did (medians over the seconds).
        let bursts = Dictionary(grouping: samples, by: \.nominal).values.map { fires in (fires.map(\.late).min()!, fires.map(\.late).max()!) }
        let firsts = bursts.map(\.0).sorted()
        let lasts = bursts.map(\.1).sorted()
        guard !lateness.isEmpty else {
            print("fire lateness: no runs recorded")
            return
        }
        func percentile(_ p: Double) -> Double { lateness[min(lateness.count - 1, Int(Double(lateness.count) * p))] }
        print(
            String(
                format:
                    "fire lateness with %d jobs (~%d fires/s, max_concurrent_runs %d, durability %@%@), %d s after a 3 s warm-up: %d runs, p50 %.2f ms, p99 %.2f ms, max %.2f ms; each second's first run %.2f ms late, its last %.2f ms (medians)",
                count, count / 60, maxConcurrent, durability.rawValue,
                polling ? (external == nil ? ", a client in process polling / and /metrics every 100 ms" : ", served to another process") : "", window - 3,
                lateness.count, percentile(0.5), percentile(0.99), lateness.last!,
                firsts[firsts.count / 2], lasts[lasts.count / 2]))
    }

    /// One worker of the renewal benchmark: holds `leases` leases and renews them one per
    /// transaction for `seconds`; prints the count.
    static func renewWorker(database: String, leases: Int, seconds: Double, owner: String) async throws {
        let store = try StoreSchema.open(path: database)
        let jobs = (0..<leases).map { JobSpec(name: "\(owner)-\($0)", kind: "noop", schedule: Schedule(.once(Instant(seconds: 0)))) }
        var held: [(id: Int64, generation: Int64)] = []
        for job in jobs {
            let id = try await store.enqueueManualRun(job: job, now: Date(), by: owner)
            let started = try await store.startPending(
                now: Date(), owner: owner, leaseDuration: .seconds(30), limit: 1, jobs: JobTable([job]), only: id)
            held += started.map { ($0.run.id, $0.generation) }
        }
        var renewals = 0
        let end = Date().addingTimeInterval(seconds)
        var index = 0
        while Date() < end {
            _ = try await store.renew([held[index % held.count]], owner: owner, now: Date(), leaseDuration: .seconds(30))
            renewals += 1
            index += 1
        }
        print(renewals)
    }

    /// Lease renewals per second with four processes on one database.
    static func renewals() throws {
        let database = temporaryDatabase("leases")
        _ = try StoreSchema.open(path: database)
        let seconds = 5.0
        let processes = (0..<4).map { i -> (Process, Pipe) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = ["renew-worker", database, "50", "\(seconds)", "worker-\(i)"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try! process.run()
            return (process, pipe)
        }
        var total = 0
        for (process, pipe) in processes {
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            total += Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        print(
            String(
                format: "lease renewals: 4 processes × 50 leases, one renewal per transaction, %.0f s: %d renewals → %.0f renewals/s", seconds, total,
                Double(total) / seconds))
    }

    /// Start-up time and resident memory with 100,000 jobs.
    static func startup() async throws {
        let count = 100_000
        var yaml = "database: state.sqlite\njobs:\n"
        for i in 0..<count {
            switch i % 4 {
            case 0: yaml += "  job-\(i): { type: noop, schedule: { cron: \"\(i % 60) \(i % 24) * * *\" } }\n"
            case 1: yaml += "  job-\(i): { type: noop, schedule: { every: \(i % 50 + 10)m } }\n"
            case 2: yaml += "  job-\(i): { type: noop, schedule: { market: XNYS, at: open, offset: \(i % 60)m } }\n"
            default: yaml += "  job-\(i): { type: exec, command: [\"/bin/true\"], schedule: { market: CME, at: close, offset: -\(i % 60)m } }\n"
            }
        }
        let path = temporaryDatabase("startup").replacingOccurrences(of: "startup.sqlite", with: "jobs.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let before = residentMegabytes()
        let clock = ContinuousClock()
        let loader = ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry))
        var engine: Engine?
        var loadTime: Duration = .zero
        let elapsed = try await clock.measure {
            var loaded: Plan?
            loadTime = try clock.measure { loaded = try loader.load(file: path) }
            let plan = loaded!
            let store = try StoreSchema.open(path: plan.database)
            let e = Engine(store: store, plan: plan, registry: StandardKinds.registry, logger: quiet)
            try await e.start()
            engine = e
        }
        for _ in 0..<5 { await engine!.tick() }
        // What a service holds once started: measured before the second start below, whose
        // plan, store and engine are garbage afterwards but still count in the process's pages.
        let afterStart = residentMegabytes()
        let second = try await clock.measure {
            let plan = try loader.load(file: path)
            let store = try StoreSchema.open(path: plan.database)
            try await Engine(store: store, plan: plan, registry: StandardKinds.registry, logger: quiet).start()
        }
        let tick = await clock.measure { await engine!.tick() }
        print(
            String(
                format:
                    "start-up with %d jobs: %.2f s on a new database (configuration %.2f s), %.2f s on an existing one; idle pass %.2f ms; resident memory %.0f MB after start-up (%.0f MB before it, %.0f MB after the second start)",
                count, elapsed.seconds, loadTime.seconds, second.seconds, tick.seconds * 1000, afterStart, before, residentMegabytes()))
        _ = engine
    }

    /// Loads `path` once and prints the job count (a target for profilers).
    static func loadOnly(_ path: String) throws {
        let plan = try ConfigLoader(catalog: StandardCatalog.catalog(kinds: StandardKinds.registry)).load(file: path)
        print(String(format: "%d jobs; resident memory %.0f MB", plan.jobs.count, residentMegabytes()))
    }

    /// VmRSS of this process in megabytes.
    static func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return kb / 1024
    }
}
