public import Foundation
public import Logging
import SchedctlBase
public import ServiceLifecycle

/// The scheduler service: claims due occurrences exactly once, runs them under renewed leases
/// with the job's retry, timeout, misfire and overlap policies, takes over runs whose owner died,
/// and drains on graceful shutdown.
///
/// Decisions about occurrences read the injected wall clock; everything about liveness (lease
/// deadlines, takeover, drain, retries of writes) reads the injected monotonic `clock`, so a
/// wall-clock step neither causes a takeover nor a double. Leases are renewed by their own
/// keeper, independent of the claim pass. The decisions are `EngineCore`'s (a value, table-tested);
/// this actor feeds it the time and the store's answers and performs the actions it returns.
/// ```swift
/// let engine = Engine(store: store, plan: plan, registry: StandardKinds.registry, logger: logger)
/// try await ServiceGroup(services: [engine], logger: logger).run()
/// ```
public actor Engine: Service {
    /// Tunables with sensible defaults.
    public struct Options: Sendable {
        /// The longest single sleep of the main loop.
        public var maxSleep: Duration = EngineCore.Settings.defaults.maxSleep
        /// How often live instances record a heartbeat.
        public var heartbeatInterval: Duration = EngineCore.Settings.defaults.heartbeatInterval
        /// How many times an expired lease may be taken over before the run is abandoned.
        public var maxTakeovers = 3
        /// Jobs claimed per transaction.
        public var claimBatch = EngineCore.Settings.defaults.claimBatch
        /// How far ahead occurrences are claimed (as pending runs) for jobs with no active run,
        /// so that starting them at their instant is one small transaction. Half a second puts the
        /// claims between the whole-second instants most runs start at, so a claim never holds
        /// the database while a burst of starts waits. Zero claims only what is due.
        public var lookahead: Duration = EngineCore.Settings.defaults.lookahead
        /// How often paused jobs are checked for a resume (one read while any job is paused).
        public var pauseCheckInterval: Duration = EngineCore.Settings.defaults.pauseCheckInterval
        /// The wait before an end-of-run write that failed is tried again.
        public var finishRetryDelay: Duration = .seconds(1)
        /// Told about passes, runs, renewals and takeovers (metrics, health); nothing by default.
        public var observer: any EngineObserver = NoEngineObserver()
        /// Defaults.
        public init() {}
    }

    let store: Store
    private(set) var plan: Plan
    /// The decisions (queue, slots, leases, drain); this actor performs them.
    var core: EngineCore
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

    /// What the actor holds for each execution: its task, or the leased run that waits for a
    /// slot. Only handles: whether it waits, runs or is recorded, and in what order waiting runs
    /// begin, is the core's (`EngineCore.executions`, `ready`).
    var handles: [Int64: ExecutionHandle] = [:]

    // Task ownership (`Engine+Tasks.swift`): the run group, its loops, the keeper, and the
    // tasks of their own `run()` waits for. Handles only; every decision is the core's.
    /// Where launched runs go while `run()` (or `executeNow`) owns a task group.
    var launcher: AsyncStream<RunWork>.Continuation?
    /// The wake-ups of the group's loops (end flush, kick, renewals, checkpoints).
    var loops: Loops?
    /// The lease keeper's loop: stopped, or running (its start's number) and asleep in `nap`.
    var keeper = Keeper.stopped
    /// How many times the keeper was started (tells a stopped loop from a later one).
    var keeperRuns = 0
    /// Tasks of their own (`spawn`) that `run()` waits for before it returns, by number.
    var strays: [Int: Task<Void, Never>] = [:]
    var strayCount = 0

    /// `settleRenewal`'s callers, resumed when the renewal in flight settles.
    var renewalWaiters: [CheckedContinuation<Void, Never>] = []
    /// `waitForIdle`'s callers, resumed when nothing is held here.
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Successful renewal transactions so far (tests wait on it).
    package internal(set) var renewals = 0
    /// End-of-run writes that failed and were queued again (tests wait on it).
    package internal(set) var finishFailures = 0
    /// Checkpoints the write-ahead log between bursts while `run()` runs (nil: commits do).
    var checkpointer: WALCheckpointer?
    /// `schedctl run`: execute one run, start nothing else.
    var singleRun = false
    /// When `run()` began (the instance row's `started_at`).
    var started = Date()

    typealias StopReason = EngineCore.StopReason

    /// An engine over `store` running `plan`.
    public init(
        store: Store, plan: Plan, registry: JobKindRegistry, logger: Logger, instanceID: String = Engine.makeInstanceID(),
        wall: @escaping @Sendable () -> Date = { Date() }, clock: any Clock<Duration> = ContinuousClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, secrets: any SecretResolving = NoSecrets(),
        options: Options = Options()
    ) {
        self.store = store
        self.plan = plan
        self.core = EngineCore(settings: Engine.settings(options, plan.service), table: JobTable(plan.jobs))
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

    static func settings(_ options: Options, _ service: ServiceSettings) -> EngineCore.Settings {
        EngineCore.Settings(
            lookahead: options.lookahead, maxSleep: options.maxSleep, heartbeatInterval: options.heartbeatInterval,
            pauseCheckInterval: options.pauseCheckInterval, claimBatch: options.claimBatch,
            maxConcurrentRuns: service.maxConcurrentRuns, lease: service.leaseDuration, shutdownGrace: service.shutdownGrace)
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

    var lease: Duration { core.settings.lease }
    var table: JobTable { core.table }
    var now: EngineCore.Now { EngineCore.Now(wall: wall(), mono: mono()) }

    // MARK: Service

    /// Runs until graceful shutdown (or cancellation), then drains. Every execution is owned by
    /// a child task of this call (which waits for it and cancels it with the call): none
    /// outlives it.
    public func run() async throws {
        started = wall()
        try await start()
        await takeOverCheckpoints()
        try await withRunGroup {
            await self.openLoops()
            await self.startKeeper()
            await withGracefulShutdownHandler {
                await self.loop()
            } onGracefulShutdown: {
                Task { await self.beginDrain() }
            }
            await self.drain()
            await self.closeLoops()
        }
        // What was left to a task of its own (ends of a cancelled service) ends before this call.
        await awaitStrays()
        // Handed back also when the service was cancelled (a cancelled task's write would fail).
        let checkpointer = self.checkpointer
        self.checkpointer = nil
        await Task { try? await checkpointer?.handBack() }.value
    }

    /// Registers the instance and the plan's jobs. `run()` calls it; tests may call it directly.
    package func start() async throws {
        core.schedule(watermarks: Engine.watermarks(try await store.registerJobs(plan.jobs, now: wall())), now: wall())
        if case .heartbeat(let state, let withJobs) = core.heartbeat(mono: mono()) { try await heartbeat(state: state, withJobs: withJobs) }
        // Loading a large configuration leaves a lot of freed heap behind; give it back.
        HeapTrim.releaseFreedMemory()
        logger.info("started", metadata: ["instance": "\(instanceID)", "jobs": "\(plan.jobs.count)", "database": "\(store.path)"])
    }

    /// Checkpoints the write-ahead log from the loop, between bursts, instead of in commits.
    /// Without it (the connection cannot be opened) commits checkpoint as SQLite does.
    private func takeOverCheckpoints() async {
        do {
            checkpointer = try await store.checkpointsInBackground()
        } catch {
            logger.warning("WAL checkpoints stay in commits", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
        }
    }

    static func watermarks(_ states: [String: JobStateRecord]) -> [String: Instant] {
        states.compactMapValues { $0.watermark.map(Instant.init(seconds:)) }
    }

    private func loop() async {
        while !core.draining && !Task.isCancelled {
            await tick()
            try? await clock.sleep(for: nextSleep())
        }
    }

    /// How long the main loop sleeps after a pass: until the earliest job needs attention or a
    /// run claimed ahead is due, at most `maxSleep`. Never a spin: a paused or blocked job is
    /// not looked at again within the same second.
    public func nextSleep() -> Duration {
        core.sleep(now: wall())
    }

    /// Asks the loop to stop claiming and drain.
    public func beginDrain() {
        options.observer.drainStarted()
        core.stopClaiming()
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
    /// occurrences, take over lapsed leases, heartbeat, checkpoint the log. The core decides the
    /// order and what a failure skips (`EngineCore.beginPass`); this performs each step. Leases
    /// are renewed by the lease keeper, not here.
    @discardableResult
    public func tick() async -> TickReport {
        var pass = core.beginPass(now: now, checkpoints: checkpointer != nil)
        while pass.action != .passEnded {
            let result = await performStep(of: pass)
            core.passStep(&pass, after: result, now: now)
        }
        options.observer.passEnded(at: wall())
        return TickReport(pass.report)
    }

    /// Performs the current action of `pass`; a failure is logged (unless the pass retries it)
    /// and reported as `.failed`.
    private func performStep(of pass: EngineCore.Pass) async -> EngineCore.StepResult {
        let action = pass.action
        do {
            switch action {
            case .startPending: return .started(try await startPending())
            case .checkPaused: return .paused(try await store.pausedJobs())
            case .claim(let positions, let epoch):
                // A reload replaced the table these positions index: the core drops the claim.
                guard epoch == core.epoch else { return .claimed([]) }
                return .claimed(try await claim(positions, now: pass.wall))
            case .scanTakeovers: return .leases(try await store.leases())
            case .takeOver(let candidates):
                let taken = try await takeOver(candidates)
                if taken > 0 { options.observer.tookOver(count: taken) }
                return .tookOver(taken)
            case .heartbeat(let state, let withJobs): try await heartbeat(state: state, withJobs: withJobs)
            case .checkpoint: startCheckpoint()
            case .stop(let runID, let generation, let reason): perform(EngineCore.Stop(runID: runID, generation: generation, reason: reason))
            case .passEnded: break
            }
            return .done
        } catch {
            let message: Logger.Message
            switch action {
            case .scanTakeovers: message = "takeover scan failed"
            case .takeOver: message = "takeover failed"
            case .heartbeat: message = "heartbeat failed"
            case .startPending: message = "start failed"
            case .checkPaused: message = "pause check failed"
            case .claim: message = "claim failed"
            case .stop, .checkpoint, .passEnded: message = "step failed"
            }
            // A takeover or heartbeat that could not be written (a held write lock, a full disk):
            // this instance has no evidence that other owners could renew meanwhile. (Starts and
            // claims can fail for reasons of their own, which must not hold takeovers back.)
            switch action {
            case .takeOver, .heartbeat: core.writeFailed(mono: mono())
            case .startPending, .checkPaused, .claim, .scanTakeovers, .stop, .checkpoint, .passEnded: break
            }
            if pass.logsFailure { logger.error(message, metadata: ["error": "\(secrets.redact(String(describing: error)))"]) }
            return .failed
        }
    }

    /// Starts the checkpoint of the write-ahead log the pass asked for, in the checkpoint loop
    /// beside the pass (which never waits for it); the core allows one at a time.
    private func startCheckpoint() {
        guard checkpointer != nil, let loop = loops?.checkpoint, case .enqueued = loop.yield() else {
            core.checkpointEnded()
            return
        }
    }

    /// Checkpoints the write-ahead log (the checkpoint loop's step).
    func checkpoint() async {
        if let checkpointer {
            do {
                try await checkpointer.checkpoint()
            } catch {
                logger.warning("WAL checkpoint failed", metadata: ["error": "\(secrets.redact(String(describing: error)))"])
            }
        }
        core.checkpointEnded()
    }

    /// Claims the due occurrences of the jobs at `positions` up to `now` plus the lookahead.
    private func claim(_ positions: [Int], now: Date) async throws -> [Store.ClaimOutcome] {
        let (table, random) = (core.table, self.random)
        let outcomes = try await store.claim(positions.map { table.jobs[$0] }, now: now, horizon: options.lookahead, instance: instanceID) { job in
            job.schedule.jitter > .zero ? random() * job.schedule.jitter.seconds : 0
        }
        for outcome in outcomes where outcome.skipped > 0 { options.observer.runsSkipped(job: outcome.job, count: outcome.skipped) }
        return outcomes
    }

    /// Leases due pending runs: in the first transaction only what executes at once (at most
    /// `startChunk`), so the first ones begin while the rest are still being leased; then twice
    /// as many per transaction as started so far, ahead of free slots while attempts are quick
    /// (many due at once cost a few commits, not one per `startChunk`). Room is reserved (by the
    /// core) before the transaction, so concurrent starts (pass, kick, takeover, the end flush)
    /// never execute more than `max_concurrent_runs` at once.
    @discardableResult
    func startPending(only runID: Int64? = nil) async throws -> Int {
        var started = 0
        while case .leasePending(let chunk) = core.reserveStart(single: runID != nil, startedSoFar: started) {
            let (table, leasedAt) = (core.table, mono())
            let leased: [LeasedRun]
            do {
                leased = try await store.startPending(
                    now: wall(), owner: instanceID, leaseDuration: lease, limit: chunk, jobs: table, only: runID, liveSince: liveSince,
                    live: liveInstances)
            } catch {
                core.release(chunk)
                throw error
            }
            core.release(chunk)
            for run in leased { launch(run, job: table[run.run.job], leasedAt: leasedAt) }
            started += leased.count
            if leased.count < chunk || runID != nil { return started }
        }
        return started
    }

    /// Runs leased by `startPending`'s first transaction.

    /// Heartbeats after this count as a live instance (for rolling reloads).
    var liveSince: Double { wall().timeIntervalSince1970 - max(3 * options.heartbeatInterval.seconds, lease.seconds) }
    /// Instances live by this instance's monotonic clock (their heartbeat changed lately),
    /// whatever their heartbeat time reads after a wall-clock step.
    var liveInstances: Set<String> { core.liveInstances(mono: mono()) }

    private func heartbeat(state: EngineCore.InstanceState, withJobs: Bool) async throws {
        let now = self.now
        let beats = try await store.heartbeat(
            instance: InstanceRecord(
                id: instanceID, pid: Int(getpid()), host: ProcessInfo.processInfo.hostName, startedAt: started.timeIntervalSince1970,
                heartbeatAt: now.wall.timeIntervalSince1970, state: state.rawValue, config: plan.source,
                boot: ProcessIdentity.current.boot, pidNamespace: ProcessIdentity.current.pidNamespace,
                pidStart: Int64(ProcessIdentity.current.start)),
            jobs: withJobs ? plan.jobs.map(\.name) : nil, forget: core.forgottenInstances(now: now))
        core.heartbeatRecorded(withJobs: withJobs)
        core.instancesSeen(beats, mono: mono())
    }

    /// Performs a stop: the core says whether it cancels the execution's task or ends it
    /// unexecuted (it waits for a slot); nothing for an execution that is gone.
    func perform(_ stop: EngineCore.Stop) {
        switch core.stopping(stop) {
        case .cancel(let runID, let generation, let reason)?:
            guard case .running(let run)? = handles[runID], run.generation == generation else { return }
            run.stopSignal.set(reason.forKinds)
            run.task.cancel()
        case .endUnexecuted(let runID, let generation)?:
            endWaiting(runID, generation: generation)
        case nil:
            break
        }
    }

    // MARK: Control

    /// Replaces the plan (config reload): new jobs start being claimed, removed ones stop,
    /// changed schedules continue from their watermarks. Running runs keep their old settings.
    public func reload(_ newPlan: Plan) async throws {
        let states = try await store.registerJobs(newPlan.jobs, now: wall())
        plan = newPlan
        let slotsBefore = core.settings.maxConcurrentRuns
        core.reload(
            table: JobTable(newPlan.jobs), settings: Engine.settings(options, newPlan.service), watermarks: Engine.watermarks(states), now: wall())
        if core.settings.maxConcurrentRuns > slotsBefore {
            // More slots: the runs leased ahead that wait here take them at once, and pending
            // runs fill the rest without waiting for the next pass.
            startReady()
            kick()
        }
        logger.notice("configuration reloaded", metadata: ["jobs": "\(newPlan.jobs.count)"])
    }

    /// Leases the pending run `runID` and executes it in this process (renewing its lease),
    /// returning when it ends; used by `schedctl run` when no service is running. Starts no
    /// other run. Returns false if the run could not start (not pending, or its job busy).
    public func executeNow(runID: Int64) async throws -> Bool {
        singleRun = true
        let executed = try await withRunGroup {
            await self.openLoops()
            guard try await self.startPending(only: runID) == 1 else {
                await self.closeLoops()
                return false
            }
            await self.startKeeper()
            await self.waitForIdle()
            await self.stopKeeper()
            await self.closeLoops()
            return true
        }
        await awaitStrays()
        return executed
    }

    /// The number of runs this process holds: executing, waiting for a slot, or having their
    /// end recorded.
    public var executingCount: Int { core.executionCount }

    /// The runs leased ahead that wait here for a slot.
    public var waitingCount: Int { core.waitingCount }

    /// Waits until no run executes in this process (tests).
    public func waitForIdle() async {
        // Woken when the last execution ends and when a kick ends (never by spinning: a kick
        // can wait out a whole busy timeout).
        while !core.idle {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
    }

    func notifyIdleIfNeeded() {
        guard core.executionCount == 0 else { return }
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Simulates a crash for tests: forgets runs without writing anything (their leases lapse).
    package func abandonForTesting() {
        core.stopClaiming()
        stopKeeper()
        for stop in core.stopAll(.leaseLost) { perform(stop) }
    }
}

extension Engine.TickReport {
    init(_ report: EngineCore.PassReport) {
        (claimed, skipped, started) = (report.claimed, report.skipped, report.started)
        (takenOver, examined) = (report.takenOver, report.examined)
    }
}
