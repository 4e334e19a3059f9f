import Foundation
import SchedctlBase

/// The engine's decisions as a value: given its state, the time and the results of store calls,
/// it returns what to do, down to the order of a main-loop pass (`beginPass`, `passStep`). No
/// async, no store, no clock reads: every input is explicit, so each rule is table-tested
/// (`EngineCoreTests`). The `Engine` actor performs the actions.
struct EngineCore {
    /// The time of one decision: wall (occurrences, start times) and monotonic (liveness).
    struct Now: Equatable {
        var wall: Date
        var mono: Duration
    }

    /// A step of a main-loop pass (`beginPass`, `passStep`); `Engine.performStep` switches over
    /// every case.
    enum PassAction: Equatable, Sendable {
        /// Start the due pending runs into free slots (one or more `leasePending`s).
        case startPending
        /// Read which jobs are paused (then `resumed`).
        case checkPaused(epoch: Int)
        /// Claim the due occurrences of these jobs (then `claimed` or `claimFailed`).
        case claim(positions: [Int], epoch: Int)
        /// Read the leases (then `leasesSeen`).
        case scanTakeovers
        /// Take these lapsed leases over; one slot each is reserved until `release`.
        case takeOver([LeaseRecord])
        /// Record a heartbeat (with the job list when it changed; then `heartbeatRecorded`).
        case heartbeat(state: InstanceState, withJobs: Bool)
        /// Stop an execution (a claim found its cancel requested).
        case stop(runID: Int64, generation: Int64, reason: StopReason)
        /// Checkpoint the write-ahead log.
        case checkpoint
        /// The pass is over (see `beginPass`).
        case passEnded
    }

    /// What a start transaction may lease (`reserveStart`).
    enum StartAction: Equatable, Sendable {
        /// Lease up to `limit` due pending runs; the slots are reserved until `release`.
        case leasePending(limit: Int)
    }

    /// An execution to stop (`stop`, `stopAll`): cancel its task, or end it unexecuted if it
    /// waits for a slot.
    struct Stop: Equatable, Sendable {
        var runID: Int64
        var generation: Int64
        var reason: StopReason

        /// The stop of (`runID`, `generation`) for `reason`.
        static func stop(runID: Int64, generation: Int64, reason: StopReason) -> Stop {
            Stop(runID: runID, generation: generation, reason: reason)
        }
    }

    /// What becomes of an ended attempt (`attemptEnded`); the executor switches over both.
    enum EndAction: Equatable, Sendable {
        /// Record the end of an attempt (the execution stays until `removeExecution`).
        case recordFinish(runID: Int64, generation: Int64, stopReason: StopReason?)
        /// Forget a fenced execution without writing anything.
        case forget(runID: Int64, generation: Int64, reason: StopReason)
    }

    /// The state a heartbeat reports.
    enum InstanceState: String, Sendable {
        case running, draining
    }

    /// A lease this instance holds.
    struct HeldLease: Equatable, Sendable {
        var id: Int64
        var generation: Int64
    }

    /// Why the engine cancelled an execution.
    enum StopReason: Sendable, Equatable {
        case leaseLost, leaseExpired, cancelRequested, shutdown
        /// Leased ahead, it waited `aheadHold` without a slot: handed back for any instance.
        case handBack

        /// The lease is not (or may not be) ours: write nothing.
        var fenced: Bool { self == .leaseLost || self == .leaseExpired }

        /// The reason as an attempt's kind reads it.
        var forKinds: RunStopReason {
            switch self {
            case .leaseLost: .leaseLost
            case .leaseExpired: .leaseExpired
            case .cancelRequested: .cancelRequested
            case .shutdown: .shutdown
            case .handBack: .handBack
            }
        }
    }

    /// One execution of a run in this process (`ExecutionMachine`'s).
    typealias Execution = ExecutionMachine.Execution

    /// Another instance's heartbeat as last read, and since when (monotonic) it stayed unchanged.
    struct InstanceSighting: Equatable {
        var heartbeat: Double
        var since: Duration
    }

    /// A lease of another owner, and when this instance first saw it in this exact state.
    struct Observation: Equatable {
        var lease: LeaseRecord
        var since: Duration
        /// How long it must stay unchanged before it counts as lapsed.
        var patience: Duration
    }

    /// The tunables the decisions read (the engine's options and the plan's service section).
    /// The defaults here are the only statement of them (`Engine.Options` reads them).
    struct Settings: Equatable {
        /// Every tunable at its default.
        static let defaults = Settings()

        var lookahead: Duration = .milliseconds(500)
        var maxSleep: Duration = .milliseconds(500)
        var heartbeatInterval: Duration = .seconds(5)
        var pauseCheckInterval: Duration = .seconds(1)
        var claimBatch = 512
        var startChunk = 24
        var maxConcurrentRuns = 4
        var lease: Duration = .seconds(30)
        var shutdownGrace: Duration = .seconds(30)
        var checkpointInterval: Duration = .seconds(1)
        /// How much work at the recent pace runs are leased ahead of free slots for (see
        /// `aheadDepth`).
        var aheadWindow: Duration = .milliseconds(10)
        /// How long a run leased ahead may wait for a slot before it is handed back.
        var aheadHold: Duration = .seconds(1)
    }

    private(set) var settings: Settings
    private(set) var table: JobTable
    // The machines: each keeps its state private and is driven only through its methods. These
    // properties are internal only because the core's files (`EngineCore+*.swift`) route to
    // them; the actor never names them (`EngineBoundaryTests`), it calls the core's entry points.
    /// The pass's memory between passes: due queue, parked jobs, ahead starts, epoch, heartbeat,
    /// pause check and checkpoint.
    var passes = PassMachine()
    /// The runs leased here (waiting, executing, recording) and the slots they take.
    var runs = ExecutionMachine()
    /// Renewals, takeover observations and other instances' liveness.
    var leases = LeaseMachine()
    /// End recording and the starts that follow ends (kicks).
    var ends = EndMachine()
    /// The drain's phases.
    var drain = DrainMachine()

    init(settings: Settings, table: JobTable) {
        self.settings = settings
        self.table = table
    }

    var lease: Duration { settings.lease }
    /// Runs leased here: executing, waiting for a slot, or having their end recorded.
    var executions: [Int64: Execution] { runs.executions }
    /// Executions whose attempt is executing (each takes a slot).
    var slotsInUse: Int { runs.slotsInUse }
    /// Runs leased ahead, in lease order: each executes when a slot frees (`takeReady`).
    var ready: [Int64] { runs.ready }
    /// How long attempts recently took (monotonic, a moving average; nil until one ended).
    var pace: Duration? { runs.pace }
    /// Leases promised to start transactions in flight (slots and lease-ahead room count them).
    var reserved: Int { runs.reserved }
    /// How many runs are held here: executing, waiting for a slot, or having their end recorded.
    var executionCount: Int { runs.executions.count }
    /// How many runs leased ahead wait here for a slot.
    var waitingCount: Int { runs.ready.count }
    /// How often held leases are renewed.
    var renewalInterval: Duration { lease / 3 }
    /// The safety margin before a lease's expiry at which an unrenewed execution is stopped.
    var margin: Duration { lease / 6 }
    /// Slots neither executing, nor promised to a run waiting for one, nor reserved.
    var freeSlots: Int { max(0, settings.maxConcurrentRuns - slotsInUse - ready.count - reserved) }
    /// Free slots pending runs may take: those kept for lapsed leases excepted.
    var freeForStarts: Int { max(0, freeSlots - leases.takeoverWanted) }

    /// How many runs may be leased ahead of free slots, to begin the moment a slot frees instead
    /// of one synced commit later: as many as the slots get through in `aheadWindow` at the recent
    /// pace, at most 16 per slot and 256. None before an attempt ended, none while draining; a
    /// run taking its time (past the window) leaves none leased ahead.
    var aheadDepth: Int {
        guard let pace, !draining, runs.aheadHeld == 0 else { return 0 }
        let fits = Double(settings.maxConcurrentRuns) * (settings.aheadWindow / max(pace, .microseconds(1)))
        return Int(min(Double(min(settings.maxConcurrentRuns * 16, 256)), fits))
    }

    /// Leases a start may take now: the free slots and the lease-ahead room.
    var leaseRoom: Int { max(0, settings.maxConcurrentRuns + aheadDepth - slotsInUse - ready.count - reserved - leases.takeoverWanted) }

    // MARK: Schedule (routed to `passes`)

    /// Bumped by every reload: outcomes of a call made before it are dropped.
    var epoch: Int { passes.epoch }
    /// When each job next needs attention (at most one entry per job).
    var queue: DueQueue { passes.queue }
    /// Paused jobs: not in `queue` until a pause check finds them resumed.
    var parked: Set<String> { passes.parked }
    /// When runs this instance claimed ahead of time may start (seconds since the epoch).
    var startTimes: [Double] { passes.startTimes }

    /// Refills the due queue from the jobs' watermarks (job name → watermark).
    mutating func schedule(watermarks: [String: Instant], now: Date) {
        passes.schedule(table, settings: settings, watermarks: watermarks, now: now)
    }

    /// A new plan: a new epoch (outcomes of earlier calls are dropped), the queue rebuilt from
    /// the watermarks, the job list re-sent with the next heartbeat, which is due at once.
    mutating func reload(table: JobTable, settings: Settings, watermarks: [String: Instant], now: Date) {
        self.table = table
        self.settings = settings
        passes.reloaded()
        schedule(watermarks: watermarks, now: now)
    }

    /// When to look at a job whose next occurrence is `next` (seconds since the epoch):
    /// `lookahead` before it, so it is claimed ahead; but never at or before `now` (that one was
    /// looked at already: a job with an active run is not claimed ahead, so it is looked at
    /// again when due). With the default half second, claims fall between the whole-second
    /// instants most runs start at, and never queue before their starts.
    func attendance(for next: Instant, now: Double) -> Double {
        PassMachine.attendance(for: next, now: now, lookahead: settings.lookahead)
    }

    /// How long the main loop sleeps after a pass: until the earliest job needs attention or a
    /// run claimed ahead is due, at most `maxSleep`; never less than a millisecond.
    func sleep(now: Date) -> Duration {
        passes.sleep(now: now, maxSleep: settings.maxSleep)
    }

    // MARK: Pass

    /// Forgets the start times that passed (the start that follows covers them).
    mutating func dropPassedStarts(now: Date) {
        passes.dropPassedStarts(now: now)
    }

    /// A pause check when a job is parked and `pauseCheckInterval` passed on either clock.
    mutating func pauseCheck(now: Now) -> PassAction? {
        passes.pauseCheckIfDue(now: now, interval: settings.pauseCheckInterval) ? .checkPaused(epoch: epoch) : nil
    }

    /// Parked jobs no longer in `paused` are queued at `at` (unless a reload came between).
    mutating func resumed(paused: Set<String>, epoch: Int, at: Date) {
        passes.resumed(paused: paused, epoch: epoch, at: at, table: table)
    }

    /// The due jobs, popped from the queue, in claim batches.
    mutating func dueClaims(at now: Date) -> [PassAction] {
        passes.dueBatches(at: now, batch: settings.claimBatch).map { .claim(positions: $0, epoch: epoch) }
    }

    /// A claim failed: nothing was claimed, so these jobs are looked at again in a second.
    mutating func claimFailed(positions: [Int], epoch: Int, at now: Date) {
        passes.claimFailed(positions: positions, epoch: epoch, at: now)
    }

    /// Applies a claim's outcomes: paused jobs are parked, the others queued for their next
    /// occurrence, ahead-claimed start times kept; executions whose cancel was requested are
    /// stopped, and `startPending` follows when a claimed run is due now. Nil when a reload
    /// came between (its fresh schedule covers these jobs): the rest of the pass is dropped.
    mutating func claimed(positions: [Int], outcomes: [Store.ClaimOutcome], epoch: Int, now: Date) -> [PassAction]? {
        guard
            let dueNow = passes.claimed(positions: positions, outcomes: outcomes, epoch: epoch, now: now, table: table, lookahead: settings.lookahead)
        else { return nil }
        var actions: [PassAction] = []
        for outcome in outcomes {
            for id in outcome.cancelRequested {
                if let stop = stop(id, .cancelRequested) { actions.append(.stop(runID: stop.runID, generation: stop.generation, reason: stop.reason)) }
            }
        }
        if dueNow { actions.append(.startPending) }
        return actions
    }

    /// A heartbeat when `heartbeatInterval` passed since the last one (or none was sent).
    mutating func heartbeatIfDue(mono: Duration) -> PassAction? {
        passes.heartbeatDue(mono: mono, interval: settings.heartbeatInterval) ? heartbeat(mono: mono) : nil
    }

    /// A heartbeat now.
    mutating func heartbeat(mono: Duration) -> PassAction {
        let withJobs = passes.heartbeatSent(mono: mono)
        return .heartbeat(state: draining ? .draining : .running, withJobs: withJobs)
    }

    /// Whether to start a checkpoint of the write-ahead log (beside the loop, which never waits
    /// for it): when none is in flight, after a pass that started nothing (between bursts) once
    /// `checkpointInterval` passed, after any pass once five intervals passed (a service that
    /// never rests still keeps its log short).
    mutating func checkpointIfDue(mono: Duration, quiet: Bool) -> Bool {
        passes.checkpointIfDue(mono: mono, every: settings.checkpointInterval * (quiet ? 1 : 5))
    }

    /// The checkpoint in flight ended (done or failed).
    mutating func checkpointEnded() {
        passes.checkpointEnded()
    }

    /// The heartbeat was written.
    mutating func heartbeatRecorded(withJobs: Bool) {
        passes.heartbeatRecorded(withJobs: withJobs)
    }

    // MARK: Slots

    /// Reserves room for a start transaction: one free slot with `single`; for a burst's first
    /// transaction only runs that execute at once (at most a chunk: a small commit, so the first
    /// runs begin sooner); after it a chunk, or as many as `startedSoFar` (so a burst doubles its
    /// transactions' size), at most the lease room (free slots and lease-ahead room).
    mutating func reserveStart(single: Bool = false, startedSoFar: Int = 0) -> StartAction? {
        let chunk =
            single || startedSoFar == 0
            ? min(single ? freeSlots : freeForStarts, single ? 1 : settings.startChunk) : min(leaseRoom, max(settings.startChunk, startedSoFar))
        guard chunk > 0 else { return nil }
        runs.reserve(chunk)
        return .leasePending(limit: chunk)
    }

    /// Reserves the lease room (the slots the batch's ends freed, those already free, the
    /// lease-ahead room) for runs leased in the same transaction as a batch of ends. Nothing
    /// while draining or executing a single run.
    mutating func reserveAfterEnds(singleRun: Bool) -> Int {
        guard !draining, !singleRun else { return 0 }
        let limit = leaseRoom
        runs.reserve(limit)
        return limit
    }

    /// Reserves one slot per lapsed lease a takeover takes (until `release`).
    mutating func reserveTakeovers(_ count: Int) {
        runs.reserve(count)
    }

    /// A run leased ahead waited `aheadHold` for a slot and is handed back: the slots are held by
    /// runs taking their time, so nothing more is leased ahead until attempts end quickly again.
    mutating func handedBack() {
        runs.handedBack(aheadHold: settings.aheadHold)
    }

    /// A renewal started at `deadline − (lease − margin)` succeeded: the execution's local
    /// deadline moves to `deadline` (never back).
    mutating func extendDeadline(of runID: Int64, to deadline: Duration) {
        runs.extendDeadline(of: runID, to: deadline)
    }

    /// Returns reserved slots (the transaction ended; what it leased is `launched`).
    mutating func release(_ slots: Int) {
        runs.release(slots)
    }

    // MARK: Executions (routed to `runs`)

    /// A run leased at `leasedAt` (monotonic) is held here: returns true when it executes now
    /// (a slot is free: `now` is when it began), false when it waits for a slot (`takeReady`).
    /// A taken-over run (`first`) goes ahead of the runs leased ahead: its owner died with it
    /// started, so it is resumed before new work.
    @discardableResult
    mutating func launched(runID: Int64, generation: Int64, leasedAt: Duration, now: Duration? = nil, first: Bool = false) -> Bool {
        runs.launched(
            runID: runID, generation: generation, leasedAt: leasedAt, now: now, first: first, maxRuns: settings.maxConcurrentRuns,
            validUntil: leasedAt + lease - margin, interrupted: interrupted)
    }

    /// When a run leased at `leasedAt` that still waits for a slot is handed back (the keeper
    /// must be awake by then).
    func handBackDue(leasedAt: Duration) -> Duration {
        leasedAt + settings.aheadHold
    }

    /// The runs waiting for a slot that begin now (`now`), one per free slot, in lease order
    /// (none once the service is cancelled).
    mutating func takeReady(now: Duration) -> [Int64] {
        guard !interrupted else { return [] }
        return runs.takeReady(now: now, maxRuns: settings.maxConcurrentRuns)
    }

    /// Stops an execution that is not stopped yet. One waiting for a slot leaves the queue: the
    /// executor ends it without executing it.
    mutating func stop(_ runID: Int64, _ reason: StopReason) -> Stop? {
        runs.stop(runID, reason)
    }

    /// What performing `stop` means now: cancel the execution's task, or end it unexecuted if it
    /// waits for a slot; nil when the execution is gone (or of another generation).
    func stopping(_ stop: Stop) -> ExecutionMachine.Action? {
        runs.stopping(stop)
    }

    /// An attempt ended at `mono` (or a run stopped while waiting for a slot): its slot frees
    /// (`takeReady` fills it). A stale one (another generation) is ignored; a fenced one is
    /// forgotten at once; any other is recorded, its lease kept renewed until then.
    /// `interrupted`: the run's task was cancelled from outside (the service is cancelled),
    /// which releases it like a drain and starts nothing more.
    mutating func attemptEnded(runID: Int64, generation: Int64, interrupted: Bool = false, mono: Duration? = nil) -> EndAction? {
        guard let ended = runs.attemptEnded(runID: runID, generation: generation, interrupted: interrupted, mono: mono, aheadHold: settings.aheadHold)
        else { return nil }
        if ended.interrupts { drain.interrupt() }
        return ended.action
    }

    /// Forgets execution (`runID`, `generation`); a stale one never removes a newer execution.
    @discardableResult
    mutating func removeExecution(runID: Int64, generation: Int64) -> Bool {
        runs.remove(runID: runID, generation: generation)
    }

    /// This instance could not write (a heartbeat, takeover, renewal or the ends alone failed,
    /// typically on a held write lock or a full disk): the time it waited is no evidence that
    /// other owners could have renewed their leases, so every observation starts again.
    mutating func writeFailed(mono: Duration) {
        leases.writeFailed(mono: mono)
    }

    /// Stops every execution not stopped yet (in run order).
    mutating func stopAll(_ reason: StopReason) -> [Stop] {
        executions.keys.sorted().compactMap { stop($0, reason) }
    }
}
