public import Foundation
public import Logging
public import ServiceLifecycle

/// The scheduler service: claims due occurrences exactly once, runs them under renewed leases
/// with the job's retry, timeout, misfire and overlap policies, takes over runs whose owner died,
/// and drains on graceful shutdown.
///
/// Decisions read the injected wall clock; waits use the injected monotonic `clock`, in slices
/// no longer than `maxSleep`, re-reading the wall clock after every wake (clock jumps, suspend).
/// ```swift
/// let engine = Engine(store: store, plan: plan, registry: StandardKinds.registry, logger: logger)
/// try await ServiceGroup(services: [engine], logger: logger).run()
/// ```
public actor Engine: Service {
    /// Tunables with sensible defaults.
    public struct Options: Sendable {
        /// The longest single sleep of the main loop.
        public var maxSleep: Duration = .milliseconds(500)
        /// How often live instances record a heartbeat.
        public var heartbeatInterval: Duration = .seconds(5)
        /// How many times an expired lease may be taken over before the run is abandoned.
        public var maxTakeovers = 3
        /// Jobs claimed per transaction.
        public var claimBatch = 512
        /// How far ahead occurrences are claimed (as pending runs) for jobs with no active run,
        /// so that starting them at their instant is one small transaction. Zero claims only
        /// what is due.
        public var lookahead: Duration = .seconds(1)
        /// Defaults.
        public init() {}
    }

    let store: Store
    private(set) var plan: Plan
    private var table: JobTable
    let registry: JobKindRegistry
    /// This process's id in the `instance` table and in leases.
    public nonisolated let instanceID: String
    let logger: Logger
    let wall: @Sendable () -> Date
    let clock: any Clock<Duration>
    let random: @Sendable () -> Double
    let secrets: any SecretResolving
    let options: Options

    /// When each job next needs a claim (at most one entry per job).
    private var queue = DueQueue()
    /// When runs this instance claimed ahead of time may start.
    private var startTimes: [Double] = []
    private var executions: [Int64: Execution] = [:]
    private var lastRenewal = Date.distantPast
    private var lastHeartbeat = Date.distantPast
    private var lastTakeoverScan = Date.distantPast
    private var draining = false
    private var started = Date()
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var kickScheduled = false
    private var finishQueue: [Finish] = []
    private var flushScheduled = false
    private var kickAgain = false

    struct Execution {
        var task: Task<Void, Never>
        var generation: Int64
        /// Why the engine cancelled it, if it did.
        var stopReason: StopReason?
    }

    enum StopReason: Sendable, Equatable {
        case leaseLost, cancelRequested, shutdown
    }

    /// An engine over `store` running `plan`.
    public init(
        store: Store, plan: Plan, registry: JobKindRegistry, logger: Logger, instanceID: String = Engine.makeInstanceID(),
        wall: @escaping @Sendable () -> Date = { Date() }, clock: any Clock<Duration> = ContinuousClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, secrets: any SecretResolving = NoSecrets(),
        options: Options = Options()
    ) {
        self.store = store
        self.plan = plan
        self.table = JobTable(plan.jobs)
        self.registry = registry
        self.instanceID = instanceID
        self.logger = logger
        self.wall = wall
        self.clock = clock
        self.random = random
        self.secrets = secrets
        self.options = options
    }

    /// `host:pid:random`, unique per process start.
    public static func makeInstanceID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return "\(host):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    // MARK: Service

    /// Runs until graceful shutdown (or cancellation), then drains.
    public func run() async throws {
        started = wall()
        try await start()
        await withGracefulShutdownHandler {
            await loop()
        } onGracefulShutdown: {
            Task { await self.beginDrain() }
        }
        await drain()
    }

    /// Registers the instance and the plan's jobs. `run()` calls it; tests may call it directly.
    public func start() async throws {
        schedule(from: try await store.registerJobs(plan.jobs, now: wall()))
        try await heartbeat(state: "running")
        // Loading a large configuration leaves a lot of freed heap behind; give it back.
        HeapTrim.releaseFreedMemory()
        logger.info("started", metadata: ["instance": "\(instanceID)", "jobs": "\(plan.jobs.count)", "database": "\(store.path)"])
    }

    /// Fills the due queue from the jobs' watermarks.
    private func schedule(from states: [String: JobStateRecord]) {
        queue.removeAll()
        let now = Instant(wall())
        for (position, job) in table.jobs.enumerated() {
            let watermark = states[job.name]?.watermark.map(Instant.init(seconds:)) ?? now
            if let next = job.schedule.next(after: watermark) { queue.push(next, position) }
        }
    }

    private func loop() async {
        while !draining && !Task.isCancelled {
            await tick()
            let now = wall()
            var wake = now.addingTimeInterval(options.maxSleep.seconds)
            if let earliest = queue.earliest, earliest.date.addingTimeInterval(-options.lookahead.seconds) < wake {
                wake = earliest.date.addingTimeInterval(-options.lookahead.seconds)
            }
            if let start = startTimes.min(), start < wake.timeIntervalSince1970 { wake = Date(timeIntervalSince1970: start) }
            let delay = max(0.0005, wake.timeIntervalSince(now))
            try? await clock.sleep(for: .microseconds(Int64(delay * 1_000_000)))
        }
    }

    /// Asks the loop to stop claiming and drain.
    public func beginDrain() {
        draining = true
    }

    // MARK: One pass

    /// What one pass did (for tests and logs).
    public struct TickReport: Sendable {
        /// Runs claimed (inserted as pending).
        public var claimed = 0
        /// Occurrences recorded as skipped.
        public var skipped = 0
        /// Runs started (including taken over).
        public var started = 0
        /// Runs taken over from expired leases.
        public var takenOver = 0
    }

    /// One pass at the wall clock's current time: claim due occurrences, start pending runs,
    /// renew leases, take over expired ones, heartbeat.
    @discardableResult
    public func tick() async -> TickReport {
        var report = TickReport()
        let now = wall()
        let nowInstant = Instant(now)
        do {
            if !draining {
                // Start what is due first: claiming ahead for later instants can wait.
                startTimes.removeAll { $0 <= now.timeIntervalSince1970 }
                report.started += try await startDueRuns(now: now)
                let due = queue.popDue(upTo: nowInstant + options.lookahead)
                var claimedDueNow = false
                var index = 0
                while index < due.count {
                    let positions = due[index..<min(index + options.claimBatch, due.count)]
                    index += positions.count
                    let random = self.random
                    let outcomes: [Store.ClaimOutcome]
                    do {
                        outcomes = try await store.claim(
                            positions.map { table.jobs[$0] }, now: now, horizon: options.lookahead, instance: instanceID
                        ) { job in
                            job.schedule.jitter > .zero ? random() * job.schedule.jitter.seconds : 0
                        }
                    } catch {
                        // Nothing was claimed: look at these jobs again in a second.
                        for position in due[(index - positions.count)...] { queue.push(nowInstant + .seconds(1), position) }
                        throw error
                    }
                    for (position, outcome) in zip(positions, outcomes) {
                        report.claimed += outcome.inserted.count
                        report.skipped += outcome.skipped
                        let job = table.jobs[position]
                        if outcome.paused {
                            queue.push(Instant(seconds: nowInstant.seconds + 1), position)
                        } else if let next = outcome.watermark.flatMap({ job.schedule.next(after: $0) }) {
                            queue.push(next, position)
                        }
                        if let start = outcome.earliestDue {
                            if start > now.timeIntervalSince1970 { startTimes.append(start) } else { claimedDueNow = true }
                        }
                        for id in outcome.cancelRequested where executions[id] != nil { stop(id, .cancelRequested) }
                    }
                }
                if claimedDueNow { report.started += try await startDueRuns(now: now) }
            }
            await renewLeases(now: now)
            if !draining, now.timeIntervalSince(lastTakeoverScan) >= min(1, plan.service.leaseDuration.seconds / 4) {
                lastTakeoverScan = now
                let free = plan.service.maxConcurrentRuns - executions.count
                for leased in try await store.takeOverExpired(
                    now: now, owner: instanceID, leaseDuration: plan.service.leaseDuration, limit: free, maxTakeovers: options.maxTakeovers)
                {
                    logger.notice("took over run", metadata: ["job": "\(leased.run.job)", "run": "\(leased.run.id)", "generation": "\(leased.generation)"])
                    launch(leased)
                    report.started += 1
                    report.takenOver += 1
                }
            }
            if now.timeIntervalSince(lastHeartbeat) >= options.heartbeatInterval.seconds { try await heartbeat(state: draining ? "draining" : "running") }
        } catch {
            logger.error("tick failed", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
        }
        return report
    }

    /// Starts due pending runs into the free slots, a few per transaction so the first ones
    /// begin while the rest are still being leased. Returns how many started.
    private func startDueRuns(now: Date) async throws -> Int {
        var started = 0
        while true {
            let free = plan.service.maxConcurrentRuns - executions.count
            let chunk = min(free, Self.startChunk)
            guard chunk > 0 else { return started }
            let leased = try await store.startPending(
                now: now, owner: instanceID, leaseDuration: plan.service.leaseDuration, limit: chunk, jobs: table)
            for run in leased { launch(run) }
            started += leased.count
            if leased.count < chunk { return started }
        }
    }

    /// Runs leased per transaction by `startDueRuns`.
    static let startChunk = 24

    private func heartbeat(state: String) async throws {
        let now = wall()
        lastHeartbeat = now
        try await store.heartbeat(
            instance: InstanceRecord(
                id: instanceID, pid: Int(getpid()), host: ProcessInfo.processInfo.hostName, startedAt: started.timeIntervalSince1970,
                heartbeatAt: now.timeIntervalSince1970, state: state, config: plan.source))
    }

    private func renewLeases(now: Date) async {
        let lease = plan.service.leaseDuration
        guard !executions.isEmpty, now.timeIntervalSince(lastRenewal) >= lease.seconds / 3 else { return }
        lastRenewal = now
        let held = executions.filter { $0.value.stopReason != .leaseLost }.map { (id: $0.key, generation: $0.value.generation) }
        let answers: [Int64: Store.Renewal]
        do {
            answers = try await store.renew(held, owner: instanceID, now: now, leaseDuration: lease)
        } catch {
            // Cannot reach the database: the leases may lapse, so stop side effects now.
            logger.error("lease renewal failed; cancelling runs", metadata: ["error": "\(error)"])
            for run in held { stop(run.id, .leaseLost) }
            return
        }
        for (id, answer) in answers {
            switch answer {
            case .lost:
                logger.warning("lease lost; cancelling run", metadata: ["run": "\(id)"])
                stop(id, .leaseLost)
            case .renewed(let cancelRequested):
                if cancelRequested { stop(id, .cancelRequested) }
            }
        }
    }

    private func stop(_ id: Int64, _ reason: StopReason) {
        guard var execution = executions[id], execution.stopReason == nil else { return }
        execution.stopReason = reason
        executions[id] = execution
        execution.task.cancel()
    }

    // MARK: Executing runs

    private func launch(_ leased: LeasedRun) {
        let run = leased.run
        guard let job = table[run.job] else {
            // Taken over for a job this configuration no longer has: end it rather than let it cycle.
            let (store, owner, now) = (self.store, instanceID, wall())
            Task.detached {
                try? await store.finishAttempt(
                    runID: run.id, owner: owner, generation: leased.generation, now: now,
                    result: .cancelled(reason: "the job is no longer in the configuration"))
            }
            return
        }
        let kind = registry.kind(named: job.kind)
        var runLogger = logger
        runLogger[metadataKey: "job"] = "\(job.name)"
        runLogger[metadataKey: "run"] = "\(run.id)"
        let checkpoints = StoreCheckpoints(store: store, runID: run.id, owner: instanceID, generation: leased.generation, wall: wall)
        let context = RunContext(
            job: job, runID: run.id, nominal: run.nominalInstant, attempt: run.attempt, generation: leased.generation, logger: runLogger,
            checkpoints: checkpoints, secrets: secrets, events: StoreRunEvents(store: store, runID: run.id, instance: instanceID, wall: wall))
        let clock = self.clock
        let task = Task {
            let result: Result<RunOutcome, any Error>
            if let kind {
                result = await Engine.attempt(kind: kind, context: context, timeout: job.timeout, clock: clock)
            } else {
                result = .failure(JobFailure("job type '\(job.kind)' is not available in this build", retryable: false))
            }
            await self.finished(run: run, job: job, generation: leased.generation, result: result, logger: runLogger)
        }
        executions[run.id] = Execution(task: task, generation: leased.generation, stopReason: nil)
        runLogger.info("run started", metadata: ["attempt": "\(run.attempt)", "nominal": "\(run.nominalInstant)", "takeover": "\(leased.takenOver)"])
    }

    struct TimedOut: Error {}

    static func attempt(kind: any JobKind, context: RunContext, timeout: Duration?, clock: any Clock<Duration>) async -> Result<RunOutcome, any Error> {
        do {
            let outcome = try await withThrowingTaskGroup(of: RunOutcome.self) { group in
                group.addTask { try await kind.run(context) }
                if let timeout {
                    group.addTask {
                        try await clock.sleep(for: timeout)
                        throw TimedOut()
                    }
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            return .success(outcome)
        } catch {
            return .failure(error)
        }
    }

    private func finished(run: RunRecord, job: JobSpec, generation: Int64, result: Result<RunOutcome, any Error>, logger: Logger) async {
        let stopReason = executions[run.id]?.stopReason
        if stopReason == .leaseLost {
            logger.warning("run stopped: lease lost; another instance owns it now")
            executions[run.id] = nil
            notifyIdleIfNeeded()
            return
        }
        let attemptResult: Store.AttemptResult
        switch result {
        case .success(let outcome):
            attemptResult = .succeeded(RunOutcome(summary: secrets.redact(outcome.summary), detail: outcome.detail.map(secrets.redact)))
        case .failure(let error):
            if stopReason == .shutdown {
                attemptResult = .released
            } else if stopReason == .cancelRequested {
                attemptResult = .cancelled(reason: "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request")
            } else {
                var message: String
                var detail: String?
                var retryable = true
                if error is TimedOut {
                    message = "timed out after \(DurationText.format(job.timeout ?? .zero))"
                } else if let failure = error as? JobFailure {
                    message = failure.message
                    detail = failure.detail
                    retryable = failure.retryable
                } else if error is CancellationError {
                    message = "cancelled"
                } else {
                    message = String(describing: error)
                }
                message = secrets.redact(message)
                detail = detail.map(secrets.redact)
                let retry = retryable && run.attempt < run.maxAttempts
                let delay = retry ? job.retry.delay(beforeAttempt: run.attempt + 1, unit: random()) : nil
                attemptResult = .failed(message: message, detail: detail, retryAfter: delay)
                logger.warning("attempt failed", metadata: ["attempt": "\(run.attempt)", "error": "\(message)", "retry": "\(retry)"])
            }
        }
        // Ends are written in batches: completions that arrive together share one transaction.
        finishQueue.append(Finish(end: Store.AttemptEnd(runID: run.id, generation: generation, result: attemptResult), logger: logger))
        if !flushScheduled {
            flushScheduled = true
            Task { await self.flushFinishes() }
        }
    }

    /// A finished attempt waiting to be recorded.
    struct Finish {
        var end: Store.AttemptEnd
        var logger: Logger
    }

    /// Records every queued attempt end in one transaction (outside the runs' tasks, which may
    /// be cancelled), then frees their slots and starts waiting runs.
    private func flushFinishes() async {
        while !finishQueue.isEmpty {
            let batch = finishQueue
            finishQueue = []
            let (store, owner, now) = (self.store, instanceID, wall())
            let ends = batch.map(\.end)
            do {
                let fenced = try await Task.detached { try await store.finishAttempts(ends, owner: owner, now: now) }.value
                for finish in batch {
                    if fenced.contains(finish.end.runID) {
                        finish.logger.error("could not record the run's end: another instance holds its lease now")
                    } else if case .succeeded = finish.end.result {
                        finish.logger.info("run succeeded")
                    }
                }
            } catch {
                logger.error("could not record \(batch.count) run end(s)", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            }
            for finish in batch { executions[finish.end.runID] = nil }
        }
        flushScheduled = false
        notifyIdleIfNeeded()
        kick()
    }

    /// Asks for pending runs to be started into free slots soon; completions that arrive
    /// together share one start transaction.
    private func kick() {
        guard !draining else { return }
        if kickScheduled {
            kickAgain = true
            return
        }
        kickScheduled = true
        Task { await self.startWaitingRuns() }
    }

    /// Starts pending runs into free slots right away (a queued or buffered run follows the
    /// one that just ended without waiting for the next pass).
    private func startWaitingRuns() async {
        defer { kickScheduled = false }
        repeat {
            kickAgain = false
            let free = plan.service.maxConcurrentRuns - executions.count
            guard free > 0, !draining else { return }
            do {
                let store = self.store
                let (now, owner, lease, jobs) = (wall(), instanceID, plan.service.leaseDuration, table)
                let started = try await Task.detached {
                    try await store.startPending(now: now, owner: owner, leaseDuration: lease, limit: free, jobs: jobs)
                }.value
                for leased in started { launch(leased) }
            } catch {
                logger.error("could not start waiting runs", metadata: ["error": "\(error)"])
                return
            }
        } while kickAgain
    }

    // MARK: Control

    /// Replaces the plan (config reload): new jobs start being claimed, removed ones stop,
    /// changed schedules continue from their watermarks. Running runs keep their old settings.
    public func reload(_ newPlan: Plan) async throws {
        let states = try await store.registerJobs(newPlan.jobs, now: wall())
        plan = newPlan
        table = JobTable(newPlan.jobs)
        schedule(from: states)
        logger.notice("configuration reloaded", metadata: ["jobs": "\(newPlan.jobs.count)"])
    }

    /// Leases the pending run `runID` and executes it in this process, returning when it ends
    /// (used by `schedctl run` when no service is running). Returns false if it was not pending.
    public func executeNow(runID: Int64) async throws -> Bool {
        let leased = try await store.startPending(
            now: wall(), owner: instanceID, leaseDuration: plan.service.leaseDuration, limit: 1, jobs: table, only: runID)
        guard let run = leased.first else { return false }
        launch(run)
        while executions[runID] != nil {
            await renewLeases(now: wall())
            try? await clock.sleep(for: .milliseconds(100))
        }
        return true
    }

    /// The number of runs executing in this process.
    public var executingCount: Int { executions.count }

    /// Waits until no run executes in this process (tests).
    public func waitForIdle() async {
        while true {
            if !executions.isEmpty {
                await withCheckedContinuation { idleWaiters.append($0) }
            } else if kickScheduled {
                await Task.yield()
            } else {
                return
            }
        }
    }

    private func notifyIdleIfNeeded() {
        guard executions.isEmpty || kickScheduled else { return }
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Stops claiming, lets running jobs finish for up to the shutdown grace, then cancels the
    /// rest and releases their leases so another instance resumes them at once.
    public func drain() async {
        draining = true
        let deadline = wall().addingTimeInterval(plan.service.shutdownGrace.seconds)
        logger.notice("draining", metadata: ["running": "\(executions.count)", "grace": "\(DurationText.format(plan.service.shutdownGrace))"])
        // Occurrences this instance claimed ahead of time are honoured: start each when due.
        while let next = startTimes.min(), wall() < deadline, !Task.isCancelled {
            let wait = next - wall().timeIntervalSince1970
            if wait > 0 { try? await clock.sleep(for: .milliseconds(Int64(wait * 1000) + 1)) }
            let now = wall()
            startTimes.removeAll { $0 <= now.timeIntervalSince1970 }
            let free = plan.service.maxConcurrentRuns - executions.count
            if let started = try? await store.startPending(
                now: now, owner: instanceID, leaseDuration: plan.service.leaseDuration, limit: free, jobs: table)
            {
                for leased in started { launch(leased) }
            }
        }
        while !executions.isEmpty && wall() < deadline && !Task.isCancelled {
            await renewLeases(now: wall())
            try? await clock.sleep(for: .milliseconds(50))
        }
        for id in executions.keys { stop(id, .shutdown) }
        await waitForIdle()
        try? await store.removeInstance(instanceID)
        logger.notice("stopped", metadata: ["instance": "\(instanceID)"])
    }

    /// Simulates a crash for tests: forgets runs without writing anything (their leases lapse).
    public func abandonForTesting() {
        draining = true
        for id in executions.keys { stop(id, .leaseLost) }
    }
}

/// Checkpoints of one run, fenced by the owner's lease generation.
public struct StoreCheckpoints: CheckpointAccess {
    let store: Store
    let runID: Int64
    let owner: String
    let generation: Int64
    let wall: @Sendable () -> Date

    /// Checkpoints of run `runID` written as `owner` holding lease `generation`.
    public init(store: Store, runID: Int64, owner: String, generation: Int64, wall: @escaping @Sendable () -> Date) {
        self.store = store
        self.runID = runID
        self.owner = owner
        self.generation = generation
        self.wall = wall
    }

    public func load() async throws -> String? { try await store.checkpoint(runID: runID) }

    public func save(_ value: String) async throws {
        try await store.saveCheckpoint(runID: runID, owner: owner, generation: generation, value: value, now: wall())
    }
}

/// Events of one run, written to the store's run log.
public struct StoreRunEvents: RunEventRecording {
    let store: Store
    let runID: Int64
    let instance: String?
    let wall: @Sendable () -> Date

    /// Events of run `runID` recorded by `instance`.
    public init(store: Store, runID: Int64, instance: String?, wall: @escaping @Sendable () -> Date) {
        self.store = store
        self.runID = runID
        self.instance = instance
        self.wall = wall
    }

    public func record(_ kind: String, _ message: String) async throws {
        try await store.appendEvent(runID: runID, kind: kind, message: message, instance: instance, now: wall())
    }
}

/// Returns freed heap pages to the operating system (glibc's `malloc_trim`, looked up at run
/// time because the Swift overlay does not export it; a no-op elsewhere).
enum HeapTrim {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
    }()

    static func releaseFreedMemory() { _ = trim?(0) }
}
