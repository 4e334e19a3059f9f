public import Foundation
public import Logging
public import ServiceLifecycle

/// The scheduler service: claims due occurrences exactly once, runs them under renewed leases
/// with the job's retry, timeout, misfire and overlap policies, takes over runs whose owner died,
/// and drains on graceful shutdown.
///
/// Decisions about occurrences read the injected wall clock; everything about liveness (lease
/// deadlines, takeover, drain, retries of writes) reads the injected monotonic `clock`, so a
/// wall-clock step neither causes a takeover nor a double. Leases are renewed by their own
/// keeper, independent of the claim pass.
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
        /// How often paused jobs are checked for a resume (one read while any job is paused).
        public var pauseCheckInterval: Duration = .seconds(1)
        /// The wait before an end-of-run write that failed is tried again.
        public var finishRetryDelay: Duration = .seconds(1)
        /// Defaults.
        public init() {}
    }

    let store: Store
    private(set) var plan: Plan
    var table: JobTable
    /// Bumped by every reload: a pass that awaited across a reload drops what it computed.
    var epoch = 0
    let registry: JobKindRegistry
    /// This process's id in the `instance` table and in leases.
    public nonisolated let instanceID: String
    let logger: Logger
    let wall: @Sendable () -> Date
    let clock: any Clock<Duration>
    /// Monotonic time since the engine was made (read from `clock`).
    let mono: @Sendable () -> Duration
    let random: @Sendable () -> Double
    let secrets: any SecretResolving
    let options: Options

    /// When each job next needs attention (at most one entry per job).
    var queue = DueQueue()
    /// Paused jobs: not in `queue` until a pause check finds them resumed.
    var parked = Set<String>()
    var lastPauseCheck: (mono: Duration, wall: Double)?
    /// When runs this instance claimed ahead of time may start.
    var startTimes: [Double] = []
    var executions: [Int64: Execution] = [:]
    /// Slots promised to starts whose transaction is in flight (the cap counts them).
    var reserved = 0
    var lastHeartbeat: Duration?
    var jobsChanged = true
    var lastTakeoverScan: Duration?
    /// Leases of other owners as last seen, and since when (monotonic) unchanged.
    var observed: [Int64: Observation] = [:]
    var lastRenewal: Duration?
    var renewal: Task<Void, Never>?
    /// Successful renewal transactions so far (tests wait on it).
    public internal(set) var renewals = 0
    /// End-of-run writes that failed and were queued again (tests wait on it).
    public internal(set) var finishFailures = 0
    var keeper: Task<Void, Never>?
    var draining = false
    /// `schedctl run`: execute one run, start nothing else.
    var singleRun = false
    var started = Date()
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    var kickScheduled = false
    var finishQueue: [Finish] = []
    var flushScheduled = false
    var kickAgain = false

    /// One execution of a run in this process, keyed by the run and its lease generation.
    struct Execution {
        var task: Task<Void, Never>
        var generation: Int64
        /// Why the engine cancelled it, if it did.
        var stopReason: StopReason?
        /// The attempt ended; its end is being recorded (the lease stays renewed meanwhile).
        var recording = false
        /// Monotonic deadline: last successful renewal (its start) + lease − margin. Past it the
        /// execution is cancelled even if the database cannot be reached.
        var validUntil: Duration
    }

    enum StopReason: Sendable, Equatable {
        case leaseLost, leaseExpired, cancelRequested, shutdown

        /// The lease is not (or may not be) ours: write nothing.
        var fenced: Bool { self == .leaseLost || self == .leaseExpired }
    }

    /// A lease of another owner, and when this instance first saw it in this exact state.
    struct Observation {
        var lease: LeaseRecord
        var since: Duration
        /// How long it must stay unchanged before it counts as lapsed.
        var patience: Duration
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
        self.mono = Engine.elapsed(on: clock)
        self.random = random
        self.secrets = secrets
        self.options = options
    }

    private static func elapsed<C: Clock>(on clock: C) -> @Sendable () -> Duration where C.Duration == Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// `host:pid:random`, unique per process start.
    public static func makeInstanceID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return "\(host):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    var lease: Duration { plan.service.leaseDuration }

    // MARK: Service

    /// Runs until graceful shutdown (or cancellation), then drains.
    public func run() async throws {
        started = wall()
        try await start()
        startKeeper()
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
        parked.removeAll()
        let now = Instant(wall())
        for (position, job) in table.jobs.enumerated() {
            let watermark = states[job.name]?.watermark.map(Instant.init(seconds:)) ?? now
            if let next = job.schedule.next(after: watermark) { queue.push(attendance(for: next, now: now), position) }
        }
    }

    /// When to look at a job whose next occurrence is `next`: `lookahead` before it, so it is
    /// claimed ahead; but never at or before `now` (that one was looked at already: a job with
    /// an active run is not claimed ahead, so it is looked at again when due).
    func attendance(for next: Instant, now: Instant) -> Instant {
        let ahead = Instant(seconds: next.seconds - Int64(options.lookahead.seconds.rounded(.up)))
        return ahead > now ? ahead : next
    }

    private func loop() async {
        while !draining && !Task.isCancelled {
            await tick()
            try? await clock.sleep(for: nextSleep())
        }
    }

    /// How long the main loop sleeps after a pass: until the earliest job needs attention or a
    /// run claimed ahead is due, at most `maxSleep`. Never a spin: a paused or blocked job is
    /// not looked at again within the same second.
    public func nextSleep() -> Duration {
        let now = wall().timeIntervalSince1970
        var wake = now + options.maxSleep.seconds
        if let earliest = queue.earliest { wake = min(wake, Double(earliest.seconds)) }
        if let start = startTimes.min() { wake = min(wake, start) }
        return .microseconds(Int64(max(0.001, wake - now) * 1_000_000))
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
        /// Runs taken over from lapsed leases.
        public var takenOver = 0
        /// Jobs whose occurrences the pass examined (claim transactions' size).
        public var examined = 0
    }

    /// One pass at the wall clock's current time: start due pending runs, claim due
    /// occurrences, take over lapsed leases, heartbeat. Each part fails on its own; leases are
    /// renewed by the lease keeper, not here.
    @discardableResult
    public func tick() async -> TickReport {
        var report = TickReport()
        if !draining {
            do {
                try await claimAndStart(&report)
            } catch {
                logger.error("claim failed", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            }
            do {
                try await takeOverLapsed(&report)
            } catch {
                logger.error("takeover scan failed", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            }
        }
        if lastHeartbeat.map({ mono() - $0 >= options.heartbeatInterval }) ?? true {
            do {
                try await heartbeat(state: draining ? "draining" : "running")
            } catch {
                logger.error("heartbeat failed", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            }
        }
        return report
    }

    private func claimAndStart(_ report: inout TickReport) async throws {
        let now = wall()
        let nowInstant = Instant(now)
        // Start what is due first: claiming ahead for later instants can wait.
        startTimes.removeAll { $0 <= now.timeIntervalSince1970 }
        report.started += try await startPending()
        try await checkPaused(nowInstant)
        let (table, epoch) = (self.table, self.epoch)
        let due = queue.popDue(upTo: nowInstant)
        report.examined += due.count
        var claimedDueNow = false
        var index = 0
        while index < due.count {
            let positions = due[index..<min(index + options.claimBatch, due.count)]
            index += positions.count
            let random = self.random
            let outcomes: [Store.ClaimOutcome]
            do {
                outcomes = try await store.claim(positions.map { table.jobs[$0] }, now: now, horizon: options.lookahead, instance: instanceID) { job in
                    job.schedule.jitter > .zero ? random() * job.schedule.jitter.seconds : 0
                }
            } catch {
                // Nothing was claimed: look at these jobs again in a second.
                if epoch == self.epoch {
                    for position in due[(index - positions.count)...] { queue.push(nowInstant + .seconds(1), position) }
                }
                throw error
            }
            // A reload replaced the job table while this claim ran: its fresh schedule covers
            // these jobs (from the watermarks this claim advanced).
            guard epoch == self.epoch else { return }
            for (position, outcome) in zip(positions, outcomes) {
                report.claimed += outcome.inserted.count
                report.skipped += outcome.skipped
                let job = table.jobs[position]
                if outcome.paused {
                    parked.insert(job.name)
                } else if let next = outcome.watermark.flatMap({ job.schedule.next(after: $0) }) {
                    queue.push(attendance(for: next, now: nowInstant), position)
                }
                if let start = outcome.earliestDue {
                    if start > now.timeIntervalSince1970 { startTimes.append(start) } else { claimedDueNow = true }
                }
                for id in outcome.cancelRequested where executions[id] != nil { stop(id, .cancelRequested) }
            }
            // With more batches to claim, start what is due now first: the first runs execute
            // while the rest are claimed. A failure here is retried (and thrown) below.
            if claimedDueNow, index < due.count, let started = try? await startPending() {
                report.started += started
                claimedDueNow = false
            }
        }
        if claimedDueNow { report.started += try await startPending() }
    }

    /// Puts paused jobs that were resumed back in the queue (one read per `pauseCheckInterval`
    /// while any job is paused).
    private func checkPaused(_ now: Instant) async throws {
        // Due after the interval of monotonic time, or of wall time (whichever moved first).
        let wallNow = wall().timeIntervalSince1970
        let due =
            lastPauseCheck.map { last in
                mono() - last.mono >= options.pauseCheckInterval || abs(wallNow - last.wall) >= options.pauseCheckInterval.seconds
            } ?? true
        guard !parked.isEmpty, due else { return }
        lastPauseCheck = (mono(), wallNow)
        let epoch = self.epoch
        let paused = try await store.pausedJobs()
        guard epoch == self.epoch else { return }
        for name in parked where !paused.contains(name) {
            parked.remove(name)
            if let position = table.position(of: name) { queue.push(now, position) }
        }
    }

    /// Leases due pending runs into the free slots, a few in the first transaction so the first
    /// ones begin while the rest are still being leased, then twice as many per transaction as
    /// started so far (many due at once cost a few commits, not one per `startChunk`). Slots are
    /// reserved before the transaction, so concurrent starts (pass, kick, takeover, the end
    /// flush) never exceed `max_concurrent_runs`.
    @discardableResult
    func startPending(only runID: Int64? = nil) async throws -> Int {
        var started = 0
        while true {
            let free = plan.service.maxConcurrentRuns - executions.count - reserved
            let chunk = min(free, runID == nil ? max(Self.startChunk, started) : 1)
            guard chunk > 0 else { return started }
            reserved += chunk
            let (table, leasedAt) = (self.table, mono())
            let leased: [LeasedRun]
            do {
                leased = try await store.startPending(
                    now: wall(), owner: instanceID, leaseDuration: lease, limit: chunk, jobs: table, only: runID, liveSince: liveSince)
            } catch {
                reserved -= chunk
                throw error
            }
            reserved -= chunk
            for run in leased { launch(run, job: table[run.run.job], leasedAt: leasedAt) }
            started += leased.count
            if leased.count < chunk || runID != nil { return started }
        }
    }

    /// Runs leased by `startPending`'s first transaction.
    static let startChunk = 24

    /// Heartbeats after this count as a live instance (for rolling reloads).
    var liveSince: Double { wall().timeIntervalSince1970 - max(3 * options.heartbeatInterval.seconds, lease.seconds) }

    private func heartbeat(state: String) async throws {
        let now = wall()
        lastHeartbeat = mono()
        let jobs = jobsChanged ? plan.jobs.map(\.name) : nil
        try await store.heartbeat(
            instance: InstanceRecord(
                id: instanceID, pid: Int(getpid()), host: ProcessInfo.processInfo.hostName, startedAt: started.timeIntervalSince1970,
                heartbeatAt: now.timeIntervalSince1970, state: state, config: plan.source),
            jobs: jobs)
        if jobs != nil { jobsChanged = false }
    }

    // MARK: Control

    /// Replaces the plan (config reload): new jobs start being claimed, removed ones stop,
    /// changed schedules continue from their watermarks. Running runs keep their old settings.
    public func reload(_ newPlan: Plan) async throws {
        let states = try await store.registerJobs(newPlan.jobs, now: wall())
        plan = newPlan
        table = JobTable(newPlan.jobs)
        epoch += 1
        jobsChanged = true
        schedule(from: states)
        lastHeartbeat = nil
        logger.notice("configuration reloaded", metadata: ["jobs": "\(newPlan.jobs.count)"])
    }

    /// Leases the pending run `runID` and executes it in this process (renewing its lease),
    /// returning when it ends; used by `schedctl run` when no service is running. Starts no
    /// other run. Returns false if the run could not start (not pending, or its job busy).
    public func executeNow(runID: Int64) async throws -> Bool {
        singleRun = true
        guard try await startPending(only: runID) == 1 else { return false }
        startKeeper()
        await waitForIdle()
        keeper?.cancel()
        keeper = nil
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

    func notifyIdleIfNeeded() {
        guard executions.isEmpty || kickScheduled else { return }
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Stops claiming, lets running jobs finish for up to the shutdown grace (monotonic; leases
    /// stay renewed), then cancels the rest and releases them so another instance resumes them
    /// at once.
    public func drain() async {
        draining = true
        startKeeper()
        let grace = plan.service.shutdownGrace
        logger.notice("draining", metadata: ["running": "\(executions.count)", "grace": "\(DurationText.format(grace))"])
        // Occurrences this instance claimed ahead of time are honoured: start each when due. They
        // are at most the claim horizon ahead, so this waits that long even past a shorter grace
        // (bounded by `aheadLimit` against clock jumps); the grace then runs from the last start.
        let aheadLimit = mono() + max(grace, .seconds(2))
        while let next = startTimes.min(), mono() < aheadLimit, !Task.isCancelled {
            let wait = next - wall().timeIntervalSince1970
            if wait > 0 { try? await clock.sleep(for: min(.milliseconds(Int64(wait * 1000) + 1), aheadLimit - mono())) }
            let now = wall()
            startTimes.removeAll { $0 <= now.timeIntervalSince1970 }
            _ = try? await startPending()
        }
        let deadline = mono() + grace
        while !executions.isEmpty && mono() < deadline && !Task.isCancelled {
            try? await clock.sleep(for: min(.milliseconds(50), deadline - mono()))
        }
        for id in executions.keys { stop(id, .shutdown) }
        await waitForIdle()
        keeper?.cancel()
        keeper = nil
        try? await store.removeInstance(instanceID)
        logger.notice("stopped", metadata: ["instance": "\(instanceID)"])
    }

    /// Simulates a crash for tests: forgets runs without writing anything (their leases lapse).
    public func abandonForTesting() {
        draining = true
        keeper?.cancel()
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
