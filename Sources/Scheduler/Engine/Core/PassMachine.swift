import Foundation
import SchedctlBase

/// What the main-loop pass remembers between passes, as a small machine with private state: the
/// due queue, parked (paused) jobs, start times claimed ahead, the reload epoch, and when the
/// last heartbeat, pause check and checkpoint were. The order of one pass is
/// `EngineCore+Pass.swift`'s; the job table and the tunables are inputs (the core's).
struct PassMachine {
    /// Where the checkpoint of the write-ahead log is.
    enum Checkpoint: Equatable {
        /// None in flight; the last one started at `last` (monotonic; nil: none yet).
        case idle(last: Duration?)
        /// One runs beside the loop (it started at `started`).
        case inFlight(started: Duration)
    }

    /// Bumped by every reload: outcomes of a call made before it are dropped.
    private(set) var epoch = 0
    /// When each job next needs attention (at most one entry per job).
    private(set) var queue = DueQueue()
    /// Paused jobs: not in `queue` until a pause check finds them resumed.
    private(set) var parked = Set<String>()
    /// When runs this instance claimed ahead of time may start (seconds since the epoch).
    private(set) var startTimes: [Double] = []
    private var lastHeartbeat: Duration?
    /// The job list changed since the last heartbeat that carried it.
    private var jobsChanged = true
    private var lastPauseCheck: (mono: Duration, wall: Double)?
    private(set) var checkpoint = Checkpoint.idle(last: nil)

    /// Refills the due queue from the jobs' watermarks (job name → watermark).
    mutating func schedule(_ table: JobTable, settings: EngineCore.Settings, watermarks: [String: Instant], now: Date) {
        queue.removeAll()
        parked.removeAll()
        let (instant, now) = (Instant(now), now.timeIntervalSince1970)
        for (position, job) in table.jobs.enumerated() {
            if let next = job.schedule.next(after: watermarks[job.name] ?? instant) {
                queue.push(Self.attendance(for: next, now: now, lookahead: settings.lookahead), position)
            }
        }
    }

    /// A new plan: a new epoch, the job list re-sent with the next heartbeat, which is due at once
    /// (the caller reschedules).
    mutating func reloaded() {
        epoch += 1
        jobsChanged = true
        lastHeartbeat = nil
    }

    /// When to look at a job whose next occurrence is `next` (see `EngineCore.attendance`).
    static func attendance(for next: Instant, now: Double, lookahead: Duration) -> Double {
        let ahead = Double(next.seconds) - lookahead.seconds
        return ahead > now ? ahead : Double(next.seconds)
    }

    /// How long the main loop sleeps (see `EngineCore.sleep`).
    func sleep(now: Date, maxSleep: Duration) -> Duration {
        let now = now.timeIntervalSince1970
        var wake = now + maxSleep.seconds
        if let earliest = queue.earliest { wake = min(wake, earliest) }
        if let start = startTimes.min() { wake = min(wake, start) }
        return .microseconds(Int64(max(0.001, wake - now) * 1_000_000))
    }

    /// The earliest start claimed ahead.
    var nextStart: Double? { startTimes.min() }

    /// Forgets the start times that passed (the start that follows covers them).
    mutating func dropPassedStarts(now: Date) {
        startTimes.removeAll { $0 <= now.timeIntervalSince1970 }
    }

    /// Whether a pause check is due: a job is parked and `interval` passed on either clock. If
    /// so it counts as made.
    mutating func pauseCheckIfDue(now: EngineCore.Now, interval: Duration) -> Bool {
        let wallNow = now.wall.timeIntervalSince1970
        let due = lastPauseCheck.map { last in now.mono - last.mono >= interval || abs(wallNow - last.wall) >= interval.seconds } ?? true
        guard !parked.isEmpty, due else { return false }
        lastPauseCheck = (now.mono, wallNow)
        return true
    }

    /// Parked jobs no longer in `paused` are queued at `at` (unless a reload came between).
    mutating func resumed(paused: Set<String>, epoch: Int, at: Date, table: JobTable) {
        guard epoch == self.epoch else { return }
        for name in parked where !paused.contains(name) {
            parked.remove(name)
            if let position = table.position(of: name) { queue.push(at.timeIntervalSince1970, position) }
        }
    }

    /// The due jobs' positions, popped from the queue, in batches of `batch`.
    mutating func dueBatches(at now: Date, batch: Int) -> [[Int]] {
        let due = queue.popDue(upTo: now.timeIntervalSince1970)
        let size = max(1, batch)
        return stride(from: 0, to: due.count, by: size).map { Array(due[$0..<min($0 + size, due.count)]) }
    }

    /// A claim failed: these jobs are looked at again in a second (unless a reload came between).
    mutating func claimFailed(positions: [Int], epoch: Int, at now: Date) {
        guard epoch == self.epoch else { return }
        for position in positions { queue.push(now.timeIntervalSince1970 + 1, position) }
    }

    /// Applies a claim's outcomes to the schedule: paused jobs are parked, the others queued for
    /// their next occurrence, ahead-claimed start times kept. Returns whether a claimed run is
    /// due now; nil when a reload came between.
    mutating func claimed(positions: [Int], outcomes: [Store.ClaimOutcome], epoch: Int, now: Date, table: JobTable, lookahead: Duration) -> Bool? {
        guard epoch == self.epoch else { return nil }
        var dueNow = false
        for (position, outcome) in zip(positions, outcomes) {
            let job = table.jobs[position]
            if outcome.paused {
                parked.insert(job.name)
            } else if let next = outcome.watermark.flatMap({ job.schedule.next(after: $0) }) {
                queue.push(Self.attendance(for: next, now: now.timeIntervalSince1970, lookahead: lookahead), position)
            }
            // Every run claimed ahead is remembered (a drain starts each when due), not only the
            // earliest: one claim may insert a run due now and the next one ahead.
            if let start = outcome.earliestDue, start <= now.timeIntervalSince1970 { dueNow = true }
            for start in Set(outcome.dues + [outcome.earliestDue].compactMap { $0 }) where start > now.timeIntervalSince1970 {
                startTimes.append(start)
            }
        }
        return dueNow
    }

    /// Whether a heartbeat is due (`interval` passed since the last one, or none was sent).
    func heartbeatDue(mono: Duration, interval: Duration) -> Bool {
        lastHeartbeat.map { mono - $0 >= interval } ?? true
    }

    /// A heartbeat is sent at `mono`: whether it carries the job list.
    mutating func heartbeatSent(mono: Duration) -> Bool {
        lastHeartbeat = mono
        return jobsChanged
    }

    /// The heartbeat was written.
    mutating func heartbeatRecorded(withJobs: Bool) {
        if withJobs { jobsChanged = false }
    }

    /// Whether to start a checkpoint (see `EngineCore.checkpointIfDue`); if so it is in flight.
    mutating func checkpointIfDue(mono: Duration, every interval: Duration) -> Bool {
        guard case .idle(let last) = checkpoint else { return false }
        let since = last.map { mono - $0 } ?? .seconds(Int64.max)
        guard since >= interval else { return false }
        checkpoint = .inFlight(started: mono)
        return true
    }

    /// The checkpoint in flight ended (done or failed).
    mutating func checkpointEnded() {
        if case .inFlight(let started) = checkpoint { checkpoint = .idle(last: started) }
    }
}
