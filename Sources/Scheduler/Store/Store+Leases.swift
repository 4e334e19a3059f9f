public import Foundation
import GRDB
import SchedctlBase

/// Starting, renewing and taking over runs: each one transaction, compare-and-set on the
/// lease generation so two instances never execute the same run.
extension Store {
    /// Starts up to `limit` pending runs that are due: each becomes `running` under a new lease
    /// held by `owner` (compare-and-set, so two instances never start the same run).
    ///
    /// A run waits while its job is paused (manual runs excepted), while its job has a running
    /// run under `overlap: skip | buffer_one | cancel_previous`, and while its job is not in
    /// `plan` but a live instance (heartbeat after `liveSince`) has it. A job whose runs all wait
    /// never keeps other jobs' due runs from starting.
    /// `live`: instances known live whatever their heartbeat time reads (the engine judges
    /// liveness on its monotonic clock, so a wall-clock step never makes one look dead).
    public func startPending(
        now: Date, owner: String, leaseDuration: Duration, limit: Int, jobs plan: JobTable, only runID: Int64? = nil, liveSince: Double? = nil,
        live: Set<String> = []
    ) async throws -> [LeasedRun] {
        guard limit > 0 else { return [] }
        let t = now.timeIntervalSince1970
        let expiry = t + leaseDuration.seconds
        return try await writer.write { db in
            try Store.leasePending(db, at: t, owner: owner, expiry: expiry, limit: limit, plan: plan, only: runID, liveSince: liveSince, live: live)
        }
    }

    /// `startPending`'s work inside a write transaction (also used right after recording ends;
    /// `excluding` runs are left alone: those just handed back in the same transaction). A
    /// pending run whose cancel was requested (`overlap: cancel_previous` replaced it while it
    /// was leased, then it was released or handed back) ends cancelled instead of starting.
    static func leasePending(
        _ db: Database, at t: Double, owner: String, expiry: Double, limit: Int, plan: JobTable, only runID: Int64?, liveSince: Double?,
        live: Set<String> = [], excluding: Set<Int64> = []
    ) throws -> [LeasedRun] {
        guard limit > 0 else { return [] }
        var started: [LeasedRun] = []
        var runningJobs = Set<String>()
        var waiting = Set<String>()
        // A little more than the limit: each row is decoded, and many due at once need no more
        // (a window full of held-back runs is followed by the next one).
        let window = limit + 2
        var ended = 0
        // Each candidate comes with whether its job is paused and whether it has a running run
        // (as of this transaction; `runningJobs` adds the runs started in it).
        // Read by position (`RunRecord(row:at:)`): the two flags first, then the run's columns.
        let columns = """
            SELECT (SELECT paused FROM job_state WHERE job_state.job = run.job),
                EXISTS (SELECT 1 FROM run AS other WHERE other.job = run.job AND other.\(Store.active) AND other.state = 'running'),
                \(RunRecord.columns) FROM run
            """
        while true {
            let query: Statement
            let arguments: StatementArguments
            if let runID {
                query = try db.cached("\(columns) WHERE id = ? AND state = 'pending'")
                arguments = [runID]
            } else if waiting.isEmpty {
                query = try db.cached("\(columns) WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?")
                arguments = [t, window]
            } else {
                // Jobs whose runs wait (a backlog behind a running run) are left out, so the
                // window reaches other jobs' runs.
                // One JSON argument (no limit on how many jobs wait, no statement per size).
                let excluded = String(decoding: try JSONEncoder().encode(Array(waiting)), as: UTF8.self)
                query = try db.cached(
                    "\(columns) WHERE state = 'pending' AND due_at <= ? AND job NOT IN (SELECT value FROM json_each(?)) ORDER BY due_at, id LIMIT ?")
                arguments = [t, excluded, window]
            }
            // Decoded from the cursor's rows, column by position.
            var candidates: [(run: RunRecord, paused: Bool, busy: Bool)] = []
            let rows = try Row.fetchCursor(query, arguments: arguments)
            while let row = try rows.next() {
                candidates.append((try RunRecord(row: row, at: 2), try row.decode(Bool?.self, atIndex: 0) ?? false, try row.decode(Bool.self, atIndex: 1)))
            }
            let (waitingBefore, endedBefore) = (waiting.count, ended)
            var starting: [LeasedRun] = []
            for (candidate, paused, busy) in candidates
            where started.count + starting.count < limit && !waiting.contains(candidate.job) && !excluding.contains(candidate.id) {
                var run = candidate
                var decision = StartPolicy.pending(run, job: plan[run.job], paused: paused, busy: busy || runningJobs.contains(run.job), at: t)
                if decision == .jobMissing {
                    let elsewhere = try Store.liveInstanceHasJob(db, run.job, except: owner, since: liveSince ?? (t - 60), live: live)
                    decision = elsewhere ? .hold : StartPolicy.jobGone
                }
                switch decision {
                case .start: break
                case .hold, .jobMissing:
                    waiting.insert(run.job)
                    continue
                case .end(let state, let reason, let event):
                    try db.execute(
                        cached: "UPDATE run SET state = ?, finished_at = ?, reason = ? WHERE id = ? AND state = 'pending'",
                        arguments: [state.rawValue, t, reason, run.id])
                    if let event { try Store.event(db, run.id, t, event, reason, owner) }
                    ended += 1
                    continue
                }
                // As `markStarted` writes it below.
                run.state = .running
                run.attempt += 1
                run.generation += 1
                run.startedAt = run.startedAt ?? t
                runningJobs.insert(run.job)
                starting.append(LeasedRun(run: run, generation: run.generation, takenOver: false))
            }
            try Store.markStarted(db, starting, at: t, owner: owner, expiry: expiry)
            started += starting
            // Look further only when the window was full and some of it was held back (those jobs
            // are left out next) or ended without starting (no longer pending): never the same rows.
            guard runID == nil, started.count < limit, candidates.count == window, waiting.count > waitingBefore || ended > endedBefore else {
                return started
            }
        }
    }

    /// Marks `runs` (read as pending in this transaction) running under new leases held by
    /// `owner`, with their "started" events: three statements for the whole batch, not three per
    /// run. Throws (and the transaction rolls back) if any of them is no longer pending. (The
    /// `+state` keeps SQLite on the primary key: with `state` it walks every pending run.)
    static func markStarted(_ db: Database, _ runs: [LeasedRun], at t: Double, owner: String, expiry: Double) throws {
        guard !runs.isEmpty else { return }
        let ids = "[" + runs.map { String($0.run.id) }.joined(separator: ",") + "]"
        try db.execute(
            cached: """
                UPDATE run SET state = 'running', attempt = attempt + 1, generation = generation + 1, started_at = COALESCE(started_at, ?)
                WHERE id IN (SELECT value FROM json_each(?)) AND +state = 'pending'
                """,
            arguments: [t, ids])
        guard db.changesCount == runs.count else {
            throw StoreError(.fenced, path: "", detail: "a run changed while it was being started; nothing was started")
        }
        try db.execute(
            cached: """
                INSERT INTO lease (run_id, owner, generation, acquired_at, expires_at, duration)
                SELECT id, ?, generation, ?, ?, ? FROM run WHERE id IN (SELECT value FROM json_each(?))
                """,
            arguments: [owner, t, expiry, expiry - t, ids])
        try db.execute(
            cached: """
                INSERT INTO run_event (run_id, at, kind, message, instance)
                SELECT id, ?, 'started', 'attempt ' || attempt || ' of ' || max_attempts || ' on ' || ?, ? FROM run
                WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id
                """,
            arguments: [t, owner, owner, ids])
    }

    /// Why a pending run that was claimed ahead of its instant (and never started) must not
    /// start now, or `nil`. A delayed retry or a released run was started before: not stale.
    static func staleAheadClaim(_ run: RunRecord, job: JobSpec, at t: Double) -> String? {
        guard run.trigger == .schedule, run.startedAt == nil, run.attempt == 0, run.createdAt < run.dueAt else { return nil }
        let late = t - run.dueAt
        guard late > job.misfire.grace.seconds else { return nil }
        switch job.misfire.mode {
        case .skip:
            return "misfire: not started until \(Int(late))s after its time, grace \(DurationText.format(job.misfire.grace))"
        case .latest:
            // A later occurrence is already due: that one runs (the claim records it).
            if let next = job.schedule.next(after: run.nominalInstant), Double(next.seconds) <= t {
                return "misfire: superseded by a later occurrence"
            }
            return nil
        case .all:
            return nil
        }
    }

    /// Whether an instance other than `except`, heard from after `since` or known `live`, runs
    /// `job`.
    static func liveInstanceHasJob(_ db: Database, _ job: String, except: String, since: Double, live: Set<String> = []) throws -> Bool {
        let rows = try Row.fetchAll(db.cached("SELECT id, heartbeat_at, jobs FROM instance WHERE id != ? AND jobs IS NOT NULL"), arguments: [except])
        return rows.contains { row in
            let (id, beat, jobs): (String, Double, String) = (row[0], row[1], row[2])
            return (beat >= since || live.contains(id)) && jobs.split(separator: "\n").contains { $0 == job }
        }
    }

    /// Every lease held now (the taker watches them to judge their owners' liveness).
    public func leases() async throws -> [LeaseRecord] {
        try await writer.read { db in try LeaseRecord.fetchAll(db.cached("SELECT * FROM lease")) }
    }

    /// Takes over `leases` (as the caller last saw them: compare-and-set on owner, generation
    /// and expiry, so a lease its owner renewed meanwhile is left alone). The lease moves to
    /// `owner` with the next generation. A run with a pending cancel is cancelled rather than
    /// relaunched; a run taken over `maxTakeovers` times is abandoned; a run whose job this
    /// instance lacks is left to a live instance that has it, or cancelled when none does.
    public func takeOver(
        _ leases: [LeaseRecord], owner: String, now: Date, leaseDuration: Duration, maxTakeovers: Int = 3, jobs plan: JobTable,
        liveSince: Double? = nil, live: Set<String> = []
    ) async throws -> [LeasedRun] {
        try await takeOverReportingEnds(
            leases, owner: owner, now: now, leaseDuration: leaseDuration, maxTakeovers: maxTakeovers, jobs: plan, liveSince: liveSince, live: live
        ).taken
    }

    /// What a takeover did: the runs it took (to execute) and those it ended without executing.
    public struct Takeover: Sendable {
        /// Leased to the taker with the next generation.
        public var taken: [LeasedRun] = []
        /// Ended `cancelled` or `abandoned` instead (what their last owner left running must
        /// still be stopped: see `JobKind.stopLeftovers`).
        public var ended: [EndedRun] = []
    }

    /// `takeOver`, also returning the runs it ended, each with its last checkpoint.
    public func takeOverReportingEnds(
        _ leases: [LeaseRecord], owner: String, now: Date, leaseDuration: Duration, maxTakeovers: Int = 3, jobs plan: JobTable,
        liveSince: Double? = nil, live: Set<String> = []
    ) async throws -> Takeover {
        guard !leases.isEmpty else { return Takeover() }
        let t = now.timeIntervalSince1970
        return try await writer.write { db in
            var result = Takeover()
            for lease in leases {
                let current = try LeaseRecord.fetchOne(db.cached("SELECT * FROM lease WHERE run_id = ?"), arguments: [lease.runID])
                guard current == lease, var run = try RunRecord.fetchOne(db.cached("SELECT * FROM run WHERE id = ?"), arguments: [lease.runID])
                else { continue }
                func end(_ state: String, _ message: String, _ kind: String) throws {
                    try db.execute(cached: "DELETE FROM lease WHERE run_id = ?", arguments: [run.id])
                    try db.execute(
                        cached: "UPDATE run SET state = ?, finished_at = ?, reason = ? WHERE id = ?", arguments: [state, t, message, run.id])
                    try Store.event(db, run.id, t, kind, message, owner)
                    let checkpoint = try String.fetchOne(db.cached("SELECT value FROM checkpoint WHERE run_id = ?"), arguments: [run.id])
                    result.ended.append(EndedRun(runID: run.id, job: run.job, attempt: run.attempt, generation: lease.generation, checkpoint: checkpoint))
                }
                switch StartPolicy.takeover(run, job: plan[run.job], lastOwner: lease.owner, maxTakeovers: maxTakeovers) {
                case .start: break
                case .jobMissing, .hold:
                    if try Store.liveInstanceHasJob(db, run.job, except: owner, since: liveSince ?? (t - 60), live: live) { continue }
                    try end("cancelled", "the job is no longer in the configuration", "cancelled")
                    continue
                case .end(let state, let reason, let event):
                    try end(state.rawValue, reason, event ?? state.rawValue)
                    if state == .abandoned { try db.execute(cached: "UPDATE run SET error = ? WHERE id = ?", arguments: [reason, run.id]) }
                    continue
                }
                let generation = lease.generation + 1
                try db.execute(
                    cached: """
                        UPDATE lease SET owner = ?, generation = ?, acquired_at = ?, expires_at = ?, duration = ?, renewals = 0
                        WHERE run_id = ? AND generation = ?
                        """,
                    arguments: [owner, generation, t, t + leaseDuration.seconds, leaseDuration.seconds, run.id, lease.generation])
                guard db.changesCount == 1 else { continue }
                try db.execute(cached: "UPDATE run SET generation = ?, takeovers = takeovers + 1 WHERE id = ?", arguments: [generation, run.id])
                try Store.event(
                    db, run.id, t, "taken-over",
                    "lease of \(lease.owner) (generation \(lease.generation)) was not renewed; resumed by \(owner) with generation \(generation)", owner)
                run.generation = generation
                run.takeovers += 1
                result.taken.append(LeasedRun(run: run, generation: generation, takenOver: true))
            }
            return result
        }
    }

    /// The answer to a lease renewal.
    public enum Renewal: Sendable, Equatable {
        /// Renewed; `cancelRequested` asks the holder to stop the run.
        case renewed(cancelRequested: Bool)
        /// The holder's own end of the attempt is already recorded (nothing left to renew).
        case ended
        /// The lease belongs to someone else now: stop at once, write nothing.
        case lost
    }

    /// Extends the leases `owner` holds on `runs` to the time read from `now` once the write
    /// lock is held, plus `leaseDuration` (a renewal that waited for the lock still grants a
    /// full lease from when it commits). Fencing is by generation.
    public func renew(
        _ runs: [(id: Int64, generation: Int64)], owner: String, now: @escaping @Sendable () -> Date, leaseDuration: Duration
    ) async throws -> [Int64: Renewal] {
        try await writer.write { db in
            let t = now().timeIntervalSince1970
            var result: [Int64: Renewal] = [:]
            for run in runs {
                try db.execute(
                    cached: "UPDATE lease SET expires_at = ?, duration = ?, renewals = renewals + 1 WHERE run_id = ? AND owner = ? AND generation = ?",
                    arguments: [t + leaseDuration.seconds, leaseDuration.seconds, run.id, owner, run.generation])
                if db.changesCount == 1 {
                    let cancel = try Bool.fetchOne(db.cached("SELECT cancel_requested FROM run WHERE id = ?"), arguments: [run.id]) ?? false
                    result[run.id] = .renewed(cancelRequested: cancel)
                } else {
                    let row = try Row.fetchOne(db.cached("SELECT generation, state FROM run WHERE id = ?"), arguments: [run.id])
                    let leased = try Bool.fetchOne(db.cached("SELECT EXISTS (SELECT 1 FROM lease WHERE run_id = ?)"), arguments: [run.id]) ?? false
                    if let row, !leased, row["generation"] as Int64 == run.generation, row["state"] as String != "running" {
                        result[run.id] = .ended
                    } else {
                        result[run.id] = .lost
                    }
                }
            }
            return result
        }
    }

    /// Extends leases to `now + leaseDuration` (see `renew(_:owner:now:leaseDuration:)`).
    public func renew(_ runs: [(id: Int64, generation: Int64)], owner: String, now: Date, leaseDuration: Duration) async throws -> [Int64: Renewal] {
        try await renew(runs, owner: owner, now: { now }, leaseDuration: leaseDuration)
    }
}

extension Store {
    /// The names of the jobs paused now.
    public func pausedJobs() async throws -> Set<String> {
        try await writer.read { db in Set(try String.fetchAll(db.cached("SELECT job FROM job_state WHERE paused = 1"))) }
    }
}
