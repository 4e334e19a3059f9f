public import Foundation
import GRDB
import SchedctlBase

/// What operators ask of the store: history, one run, status, pause/resume, backfill, manual runs.
extension Store {
    /// The most recent runs, newest first, optionally of one job.
    public func history(job: String? = nil, limit: Int = 50) async throws -> [RunRecord] {
        try await writer.read { db in
            if let job {
                return try RunRecord.fetchAll(db.cached("SELECT * FROM run WHERE job = ? ORDER BY nominal DESC, id DESC LIMIT ?"), arguments: [job, limit])
            }
            return try RunRecord.fetchAll(db.cached("SELECT * FROM run ORDER BY nominal DESC, id DESC LIMIT ?"), arguments: [limit])
        }
    }

    /// One run with its events and lease, or `nil`.
    public func run(id: Int64) async throws -> (run: RunRecord, events: [RunEvent], lease: LeaseRecord?, checkpoint: String?)? {
        try await writer.read { db in
            guard let run = try RunRecord.fetchOne(db.cached("SELECT * FROM run WHERE id = ?"), arguments: [id]) else { return nil }
            let events = try RunEvent.fetchAll(db.cached("SELECT * FROM run_event WHERE run_id = ? ORDER BY id"), arguments: [id])
            let lease = try LeaseRecord.fetchOne(db.cached("SELECT * FROM lease WHERE run_id = ?"), arguments: [id])
            let checkpoint = try String.fetchOne(db.cached("SELECT value FROM checkpoint WHERE run_id = ?"), arguments: [id])
            return (run, events, lease, checkpoint)
        }
    }

    /// Everything `schedctl status` shows.
    public struct Status: Sendable {
        /// Instances whose heartbeat is recent.
        public var instances: [InstanceRecord]
        /// Leases held now.
        public var leases: [LeaseRecord]
        /// Per-job state.
        public var jobs: [String: JobStateRecord]
        /// The run of each job's latest occurrence (the first `history` shows).
        public var lastRuns: [String: RunRecord]
        /// Runs running or pending per job.
        public var active: [String: Int]
    }

    /// The status as of `now`; instances silent for longer than `staleAfter` are left out.
    public func status(now: Date, staleAfter: Duration = .seconds(30)) async throws -> Status {
        try await writer.read { db in
            let instances = try InstanceRecord.fetchAll(
                db.cached("SELECT * FROM instance WHERE heartbeat_at >= ? ORDER BY started_at"), arguments: [now.timeIntervalSince1970 - staleAfter.seconds])
            let leases = try LeaseRecord.fetchAll(db.cached("SELECT * FROM lease ORDER BY run_id"))
            let jobs = try JobStateRecord.fetchAll(db.cached("SELECT * FROM job_state"))
            // Each job's latest occurrence in one statement: the job names come from a skip scan
            // of `run_job_nominal`, and each job's last row from one seek in it, so a long
            // history costs nothing here (and 1,000 jobs cost one statement, not 1,000).
            let last = try RunRecord.fetchAll(
                db.cached(
                    """
                    WITH RECURSIVE names(job) AS (
                        SELECT MIN(job) FROM run
                        UNION ALL SELECT (SELECT MIN(job) FROM run WHERE job > names.job) FROM names WHERE names.job IS NOT NULL)
                    SELECT run.* FROM names JOIN run ON run.id = (
                        SELECT latest.id FROM run AS latest WHERE latest.job = names.job ORDER BY latest.nominal DESC, latest.id DESC LIMIT 1)
                    WHERE names.job IS NOT NULL
                    """))
            // Active runs per job, grouped over the partial index `run_job_active` (only the
            // active rows are read).
            var active: [String: Int] = [:]
            for row in try Row.fetchAll(db.cached("SELECT job, COUNT(*) FROM run WHERE \(Store.active) GROUP BY job")) {
                let count: Int = row[1]
                if count > 0 { active[row[0]] = count }
            }
            return Status(
                instances: instances, leases: leases, jobs: Dictionary(uniqueKeysWithValues: jobs.map { ($0.job, $0) }),
                lastRuns: Dictionary(last.map { ($0.job, $0) }, uniquingKeysWith: { a, _ in a }), active: active)
        }
    }

    /// Pauses a job: its watermark stops advancing until it is resumed.
    public func pause(job: JobSpec, now: Date) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                cached:
                    "INSERT INTO job_state (job, watermark, paused, paused_at, first_seen) VALUES (?, ?, 1, ?, ?) ON CONFLICT(job) DO UPDATE SET paused = 1, paused_at = excluded.paused_at WHERE paused = 0",
                arguments: [job.name, Int64(now.timeIntervalSince1970), now.timeIntervalSince1970, now.timeIntervalSince1970])
            return db.changesCount == 1
        }
    }

    /// Resumes a paused job. Occurrences that fell due while it was paused are recorded as
    /// skipped ("paused"), unless `catchUp` is set: then the job's misfire policy decides.
    /// Returns how many occurrences were recorded as skipped.
    public func resume(job: JobSpec, now: Date, catchUp: Bool) async throws -> Int {
        let nowInstant = Instant(now)
        return try await writer.write { db in
            guard let state = try JobStateRecord.fetchOne(db.cached("SELECT * FROM job_state WHERE job = ?"), arguments: [job.name]), state.paused else {
                return -1
            }
            var skipped = 0
            if !catchUp, let watermark = state.watermark {
                var cursor = Instant(seconds: watermark)
                // A long pause of a frequent job: the older occurrences become one summary row.
                if let (range, resume) = OccurrencePlanner.collapse(job.schedule, after: cursor, through: nowInstant, keep: Store.pausedRowsLimit) {
                    let reason = range.reason("paused")
                    if let id = try Store.insertRun(
                        db, job: job, nominal: range.first, trigger: .schedule, state: .skipped, now: now.timeIntervalSince1970,
                        due: Double(range.first.seconds), reason: reason)
                    {
                        try Store.event(db, id, now.timeIntervalSince1970, "skipped", reason, nil)
                        skipped += range.count
                    }
                    cursor = resume
                }
                while let next = job.schedule.next(after: cursor), next <= nowInstant {
                    if let id = try Store.insertRun(
                        db, job: job, nominal: next, trigger: .schedule, state: .skipped, now: now.timeIntervalSince1970, due: Double(next.seconds),
                        reason: "paused")
                    {
                        try Store.event(db, id, now.timeIntervalSince1970, "skipped", "the job was paused", nil)
                        skipped += 1
                    }
                    cursor = next
                }
                try db.execute(cached: "UPDATE job_state SET watermark = ? WHERE job = ?", arguments: [cursor.seconds, job.name])
            }
            try db.execute(cached: "UPDATE job_state SET paused = 0, paused_at = NULL WHERE job = ?", arguments: [job.name])
            return skipped
        }
    }

    /// Queues a manual run of `job` due now; returns its id.
    ///
    /// `checkpoint` seeds the run's checkpoint (generation 0) in the same transaction, so whichever
    /// process executes the run sees it from the first attempt (e.g. a rebalance's dry-run mark).
    public func enqueueManualRun(job: JobSpec, now: Date, by: String, checkpoint: String? = nil) async throws -> Int64 {
        try await writer.write { db in
            let t = now.timeIntervalSince1970
            try db.execute(
                cached: "INSERT INTO run (job, nominal, trigger, state, max_attempts, created_at, due_at) VALUES (?, ?, 'manual', 'pending', ?, ?, ?)",
                arguments: [job.name, Int64(t), job.retry.attempts, t, t])
            let id = db.lastInsertedRowID
            if let checkpoint {
                try db.execute(
                    cached: "INSERT INTO checkpoint (run_id, generation, value, updated_at) VALUES (?, 0, ?, ?)", arguments: [id, checkpoint, t])
            }
            try Store.event(db, id, t, "queued", "manual run requested by \(by)", nil)
            return id
        }
    }

    /// Cancels run `id` if it is still pending (a manual run that could not start); returns
    /// whether it did.
    public func cancelPendingRun(id: Int64, reason: String, now: Date) async throws -> Bool {
        try await writer.write { db in
            let t = now.timeIntervalSince1970
            try db.execute(
                cached: "UPDATE run SET state = 'cancelled', finished_at = ?, reason = ? WHERE id = ? AND state = 'pending'", arguments: [t, reason, id])
            guard db.changesCount == 1 else { return false }
            try Store.event(db, id, t, "cancelled", reason, nil)
            return true
        }
    }

    /// The most skipped rows `resume` records one by one; older ones share a summary row.
    static let pausedRowsLimit = 100

    /// Queues runs for the occurrences of `job` in `from...to` that have no run yet; returns
    /// the queued and the already-present counts. A range with more than `limit` occurrences
    /// is refused (`BackfillTooLarge`) and nothing is written.
    public func backfill(job: JobSpec, from: Instant, to: Instant, now: Date, limit: Int = 10_000) async throws -> (queued: Int, existing: Int) {
        var occurrences: [Instant] = []
        var cursor = Instant(seconds: from.seconds - 1)
        while let next = job.schedule.next(after: cursor), next <= to {
            guard occurrences.count < limit else {
                throw BackfillTooLarge(job: job.name, limit: limit, through: occurrences[limit - 1])
            }
            occurrences.append(next)
            cursor = next
        }
        let list = occurrences
        return try await writer.write { db in
            var queued = 0
            let t = now.timeIntervalSince1970
            for occurrence in list {
                if let id = try Store.insertRun(db, job: job, nominal: occurrence, trigger: .backfill, state: .pending, now: t, due: t, reason: nil) {
                    try Store.event(db, id, t, "queued", "backfill", nil)
                    queued += 1
                }
            }
            return (queued, list.count - queued)
        }
    }
}
