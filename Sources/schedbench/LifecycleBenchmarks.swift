import Foundation
import Jobs
import Scheduler
import Synchronization

/// End-to-end benchmarks of a real `Engine` on an on-disk store: throughput of the whole run
/// lifecycle, and the CPU an idle service uses. They print figures; nothing here passes or fails.
enum LifecycleBenchmarks {
    /// The `max_concurrent_runs` of the throughput figure (printed with it).
    static let slots = 512

    /// A job kind that does nothing and counts the attempts it ran.
    final class CountingNoop: JobKind, Sendable {
        let name = "noop"
        let options: [OptionSpec] = []
        let count = Atomic<Int>(0)

        func run(_ context: RunContext) async throws -> RunOutcome {
            count.add(1, ordering: .relaxed)
            return RunOutcome(summary: "ok")
        }
    }

    /// 10,000 one-shot occurrences due at the same instant, the whole lifecycle (claim, lease,
    /// execute a noop, record the end) on an on-disk store at `durability`; measured from the
    /// first claim (the runs' `created_at`) to the moment the last end is committed.
    static func throughput(durability: Durability, maxConcurrent: Int, count: Int = 10_000) async throws {
        let database = EngineBenchmarks.temporaryDatabase("throughput")
        let store = try Store(path: database, durability: durability, extraMigrations: StoreSchema.extensions)
        let now = Date().timeIntervalSince1970
        let due = Instant(seconds: Int64(now.rounded(.down)) - 1)
        let jobs = (0..<count).map {
            JobSpec(
                name: "once-\($0)", kind: "noop", schedule: Schedule(.once(due)), misfire: MisfirePolicy(mode: .all, grace: .seconds(3600)))
        }
        // Registered a minute before the instant, so every occurrence is due at the first pass.
        _ = try await store.registerJobs(jobs, now: Date(timeIntervalSince1970: Double(due.seconds) - 60))
        var plan = EngineBenchmarks.plan(jobs, database: database, maxConcurrent: maxConcurrent)
        plan.service.durability = durability
        let kind = CountingNoop()
        var options = Engine.Options()
        // `SCHEDBENCH_CLAIM_BATCH=N`: jobs claimed per transaction (to compare batch sizes).
        if let batch = ProcessInfo.processInfo.environment["SCHEDBENCH_CLAIM_BATCH"].flatMap({ Int($0) }), batch > 0 { options.claimBatch = batch }
        let engine = Engine(store: store, plan: plan, registry: JobKindRegistry([kind]), logger: EngineBenchmarks.quiet, options: options)
        let cpuBefore = processCPUSeconds()
        let task = Task { try await engine.run() }
        let deadline = Date().addingTimeInterval(120)
        while kind.count.load(ordering: .relaxed) < count, Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        // Every attempt ran; its slot is freed only once its end is committed.
        await engine.waitForIdle()
        let end = Date().timeIntervalSince1970
        let cpu = processCPUSeconds() - cpuBefore
        await engine.beginDrain()
        task.cancel()
        _ = try? await task.value
        let runs = try await store.history(limit: count * 2)
        let succeeded = runs.filter { $0.state == .succeeded }.count
        guard let firstClaim = runs.map(\.createdAt).min(), succeeded > 0 else {
            print("end-to-end throughput: no runs recorded")
            return
        }
        let seconds = end - firstClaim
        let firstStart = (runs.compactMap(\.startedAt).min() ?? firstClaim) - firstClaim
        print(
            String(
                format:
                    "end to end, %d one-shot occurrences due at once (claim, lease, noop, record the end), durability %@, max_concurrent_runs %d: %d succeeded in %.3f s → %.0f runs/s (first start after %.3f s; %.2f s of CPU, %.3f s per 10,000 runs; load average %@)",
                count, durability.rawValue, maxConcurrent, succeeded, seconds, Double(succeeded) / seconds, firstStart, cpu,
                cpu * 10_000 / Double(succeeded), loadAverage()))
    }

    /// CPU of this process while a service with 1,000 jobs idles: a tenth of them paused and
    /// due (every 2 s), the rest not due for hours. Measured with `getrusage` over `window`
    /// seconds after a 3 s warm-up.
    static func idle(seconds window: Int) async throws {
        let database = EngineBenchmarks.temporaryDatabase("idle")
        let store = try StoreSchema.open(path: database)
        let hour = (Calendar(identifier: .gregorian).component(.hour, from: Date()) + 12) % 24
        let later = Schedule.cron(try CronExpression("0 0 \(hour) * * *"), zone: .utc)
        let jobs = (0..<1_000).map { i in
            i % 10 == 0
                ? JobSpec(name: "paused-\(i)", kind: "noop", schedule: Schedule(.interval(seconds: 2, aligned: true, zone: .utc)), paused: true)
                : JobSpec(name: "later-\(i)", kind: "noop", schedule: later)
        }
        // Registered a minute ago: the paused jobs' occurrences are due (and held back).
        _ = try await store.registerJobs(jobs, now: Date().addingTimeInterval(-60))
        let kind = CountingNoop()
        let engine = Engine(
            store: store, plan: EngineBenchmarks.plan(jobs, database: database, maxConcurrent: 8), registry: JobKindRegistry([kind]),
            logger: EngineBenchmarks.quiet)
        let task = Task { try await engine.run() }
        try await Task.sleep(for: .seconds(3))
        let (cpuBefore, wallBefore) = (processCPUSeconds(), Date())
        try await Task.sleep(for: .seconds(window))
        let (cpu, wall) = (processCPUSeconds() - cpuBefore, Date().timeIntervalSince(wallBefore))
        await engine.beginDrain()
        task.cancel()
        _ = try? await task.value
        print(
            String(
                format: "idle: 1,000 jobs (100 paused and due, 900 not due for hours), %.0f s: %.3f s of CPU → %.2f%% of one core; %d runs",
                wall, cpu, cpu / wall * 100, kind.count.load(ordering: .relaxed)))
    }

    /// The machine's 1-minute load average (`/proc/loadavg`), to print beside a figure.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.map(String.init) ?? "unknown"
    }

    /// User + system CPU seconds of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
