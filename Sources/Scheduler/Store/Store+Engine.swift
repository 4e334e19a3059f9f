public import Foundation
import GRDB
import SchedctlBase

/// The operations the engine performs, each one transaction that keeps the invariants.
extension Store {
    /// Makes sure every job has a state row; a new job's watermark starts at `now`, so it does
    /// not count the time before it existed as misfires. Returns every job's state.
    ///
    /// The rows are read first and only the jobs without one are inserted (one prepared
    /// statement), so a restart with 100,000 jobs costs one read, not 100,000 upserts.
    public func registerJobs(_ jobs: [JobSpec], now: Date) async throws -> [String: JobStateRecord] {
        try await writer.write { db in
            var states: [String: JobStateRecord] = [:]
            states.reserveCapacity(jobs.count)
            let rows = try Row.fetchCursor(db.cached("SELECT job, watermark, paused, paused_at, first_seen FROM job_state"))
            while let row = try rows.next() {
                let state = JobStateRecord(job: row[0], watermark: row[1], paused: row[2], pausedAt: row[3], firstSeen: row[4])
                states[state.job] = state
            }
            let seen = now.timeIntervalSince1970
            let insert = try db.cachedStatement(sql: "INSERT INTO job_state (job, watermark, paused, first_seen) VALUES (?, ?, ?, ?)")
            for job in jobs where states[job.name] == nil {
                let watermark = Store.initialWatermark(job, now: now).seconds
                insert.setUncheckedArguments([job.name, watermark, job.paused, seen])
                try insert.execute()
                states[job.name] = JobStateRecord(job: job.name, watermark: watermark, paused: job.paused, pausedAt: nil, firstSeen: seen)
            }
            return states
        }
    }

    /// Where a new job's watermark starts: at `now` (the time before the job existed is not a
    /// misfire), except for a one-shot `at:` that passed within its misfire grace, which starts
    /// just before it: first seen late but in grace, it runs once, at once.
    static func initialWatermark(_ job: JobSpec, now: Date) -> Instant {
        let instant = Instant(now)
        if case .once(let at) = job.schedule.rule, at <= instant, Double(instant.seconds - at.seconds) <= job.misfire.grace.seconds {
            return Instant(seconds: at.seconds - 1)
        }
        return instant
    }

    /// The outcome of claiming one job's due occurrences.
    public struct ClaimOutcome: Sendable {
        /// The job.
        public var job: String
        /// The watermark after the claim (nil if the job has no state yet).
        public var watermark: Instant?
        /// Whether the job is paused.
        public var paused: Bool
        /// Runs inserted as pending.
        public var inserted: [Int64]
        /// Occurrences recorded as skipped.
        public var skipped: Int
        /// Running runs whose cancellation was requested.
        public var cancelRequested: [Int64]
        /// When the earliest run inserted by this claim may start (seconds since the epoch).
        public var earliestDue: Double? = nil
        /// When each run inserted by this claim may start (one claim may insert a run due now and
        /// one ahead of time: the engine must know both).
        public var dues: [Double] = []
    }

    /// Claims the due occurrences of `jobs` at `now` in one transaction: re-reads each job's
    /// watermark, lets `OccurrencePlanner` decide, inserts the runs and advances the watermark.
    /// A second process doing the same sees the advanced watermark and claims nothing.
    /// With a `horizon`, occurrences up to `now + horizon` are claimed ahead of time (as pending
    /// runs due at their instants) for jobs with no active run, so starting them on time costs
    /// one small transaction.
    public func claim(
        _ jobs: [JobSpec], now: Date, horizon: Duration = .zero, instance: String, jitter: @Sendable (JobSpec) -> Double = { _ in 0 }
    ) async throws -> [ClaimOutcome] {
        let nowInstant = Instant(now)
        let t = now.timeIntervalSince1970
        return try await writer.write { db in
            var outcomes: [ClaimOutcome] = []
            // Each job's state and its active runs, read for a segment of the batch at once (one
            // row per active run, or one row of NULL run columns; none when the job has no state
            // yet), keyed by the job's position in the segment. A segment ends before a job given
            // twice, which must read the watermark its first claim wrote.
            let read = try db.cached(
                """
                SELECT e.key, job_state.watermark, job_state.paused, run.id, run.state, job_state.rowid
                FROM json_each(?) AS e JOIN job_state ON job_state.job = e.value
                LEFT JOIN run ON run.job = job_state.job AND run.\(Store.active)
                """)
            var states: [(watermark: Int64?, paused: Bool, rowid: Int64)?] = []
            var actives: [OccurrencePlanner.Active] = []
            // Where the segment read last begins in `jobs`, and where it ends.
            var segment = (start: 0, end: 0)
            func readSegment(from start: Int) throws {
                var names = Set<String>()
                var end = start
                while end < jobs.count, names.insert(jobs[end].name).inserted { end += 1 }
                segment = (start, end)
                states = Array(repeating: nil, count: end - start)
                actives = Array(repeating: OccurrencePlanner.Active(), count: end - start)
                let list = "[" + jobs[start..<end].map { Store.jsonString($0.name) }.joined(separator: ",") + "]"
                let rows = try Row.fetchCursor(read, arguments: [list])
                while let row = try rows.next() {
                    let index: Int = try row.decode(atIndex: 0)
                    if states[index] == nil { states[index] = (try row.decode(atIndex: 1), try row.decode(atIndex: 2), try row.decode(atIndex: 5)) }
                    guard let id = try row.decode(Int64?.self, atIndex: 3) else { continue }
                    if try row.decode(String.self, atIndex: 4) == "running" { actives[index].running.append(id) } else { actives[index].pending.append(id) }
                }
            }
            // New watermarks, written together per value at the end (jobs due at the same instant
            // share one): the job_state rows' rowids.
            var marks: [Int64: [Int64]] = [:]
            // Pending runs to insert, written together (one statement per claim batch): the
            // outcome's index, the job_state rowid, the occurrence, its attempts and due time.
            var pending: [(outcome: Int, rowid: Int64, nominal: Int64, attempts: Int, due: Double)] = []
            func writeMarks() throws {
                try insertPending()
                for (mark, rowids) in marks {
                    try db.execute(
                        cached: "UPDATE job_state SET watermark = ? WHERE rowid IN (SELECT value FROM json_each(?))",
                        arguments: [mark, "[" + rowids.map(String.init).joined(separator: ",") + "]"])
                }
                marks = [:]
            }
            func insertPending() throws {
                guard !pending.isEmpty else { return }
                let rows = "[" + pending.map { "[\($0.rowid),\($0.nominal),\($0.attempts),\($0.due)]" }.joined(separator: ",") + "]"
                // The new runs' ids by occurrence. Inserted in the order of
                // `rows` (a scan of the JSON array; no sort of the batch).
                var ids: [Occurrence: Int64] = [:]
                ids.reserveCapacity(pending.count)
                let inserted = try Row.fetchCursor(
                    db.cached(
                        """
                        INSERT INTO run (job, nominal, trigger, state, max_attempts, created_at, due_at)
                        SELECT job_state.job, e.value ->> 1, 'schedule', 'pending', e.value ->> 2, ?, e.value ->> 3
                        FROM json_each(?) AS e JOIN job_state ON job_state.rowid = e.value ->> 0 WHERE true
                        ON CONFLICT (job, nominal) WHERE trigger != 'manual' DO NOTHING
                        RETURNING id, job, nominal
                        """), arguments: [t, rows])
                while let row = try inserted.next() {
                    ids[Occurrence(job: try row.decode(atIndex: 1), nominal: try row.decode(atIndex: 2))] = try row.decode(Int64.self, atIndex: 0)
                }
                for run in pending {
                    guard let id = ids[Occurrence(job: outcomes[run.outcome].job, nominal: run.nominal)] else { continue }
                    outcomes[run.outcome].inserted.append(id)
                    outcomes[run.outcome].earliestDue = min(outcomes[run.outcome].earliestDue ?? run.due, run.due)
                    outcomes[run.outcome].dues.append(run.due)
                }
                pending = []
            }
            for (position, job) in jobs.enumerated() {
                if position == segment.end {
                    // A job given twice reads the watermark its first claim wrote.
                    if position > 0 { try writeMarks() }
                    try readSegment(from: position)
                }
                let (state, active) = (states[position - segment.start], actives[position - segment.start])
                guard let state else {
                    try db.execute(
                        cached: "INSERT INTO job_state (job, watermark, paused, first_seen) VALUES (?, ?, ?, ?)",
                        arguments: [job.name, nowInstant.seconds, job.paused, t])
                    outcomes.append(ClaimOutcome(job: job.name, watermark: nowInstant, paused: job.paused, inserted: [], skipped: 0, cancelRequested: []))
                    continue
                }
                let watermark = Instant(seconds: state.watermark ?? nowInstant.seconds)
                if state.paused {
                    outcomes.append(ClaimOutcome(job: job.name, watermark: watermark, paused: true, inserted: [], skipped: 0, cancelRequested: []))
                    continue
                }
                let ahead = active.running.isEmpty && active.pending.isEmpty ? horizon : .zero
                let gate = job.schedule.strategyRule == nil ? nil : try Store.tradeDateGate(db, job: job.name)
                let plan = OccurrencePlanner.plan(
                    job: job, watermark: watermark, now: nowInstant, until: Instant(now.addingTimeInterval(ahead.seconds)), active: active, gate: gate)
                var outcome = ClaimOutcome(job: job.name, watermark: plan.watermark ?? watermark, paused: false, inserted: [], skipped: 0, cancelRequested: [])
                for id in plan.cancelRunning {
                    try db.execute(cached: "UPDATE run SET cancel_requested = 1 WHERE id = ?", arguments: [id])
                    try Store.event(db, id, t, "cancel-requested", "a newer occurrence replaces this run (overlap: cancel_previous)", instance)
                    outcome.cancelRequested.append(id)
                }
                for id in plan.cancelPending {
                    try db.execute(
                        cached:
                            "UPDATE run SET state = 'cancelled', finished_at = ?, reason = 'overlap: replaced by a newer occurrence' WHERE id = ? AND state = 'pending'",
                        arguments: [t, id])
                }
                if let summary = plan.summary {
                    let reason = summary.reason("missed")
                    if let id = try Store.insertRun(
                        db, job: job, nominal: summary.first, trigger: .schedule, state: .skipped, now: t, due: Double(summary.first.seconds),
                        reason: reason)
                    {
                        try Store.event(db, id, t, "skipped", reason, instance)
                        outcome.skipped += summary.count
                    }
                }
                for decision in plan.decisions {
                    switch decision {
                    case .run(let at):
                        // The run row's created_at records the claim; "started" names the instance.
                        // Inserted with the batch's others (`insertPending`), into this outcome.
                        pending.append((outcomes.count, state.rowid, at.seconds, job.retry.attempts, Double(at.seconds) + jitter(job)))
                    case .skip(let at, let reason):
                        if let id = try Store.insertRun(
                            db, job: job, nominal: at, trigger: .schedule, state: .skipped, now: t, due: Double(at.seconds), reason: reason)
                        {
                            try Store.event(db, id, t, "skipped", reason, instance)
                            outcome.skipped += 1
                        }
                    case .pass:
                        break
                    }
                }
                if let firedFor = plan.firedFor {
                    try db.execute(
                        cached: "UPDATE strategy_trade_date SET fired_for = ? WHERE job = ?", arguments: [firedFor.description, job.name])
                }
                if let mark = plan.watermark { marks[mark.seconds, default: []].append(state.rowid) }
                outcomes.append(outcome)
            }
            try writeMarks()
            return outcomes
        }
    }

    /// A claimed occurrence: its job and its instant.
    private struct Occurrence: Hashable {
        var job: String
        var nominal: Int64
    }

    /// `value` as a JSON string (for a `json_each` argument).
    static func jsonString(_ value: String) -> String {
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return "\"" + value + "\"" }
        return LineLogHandler.jsonString(value)
    }

    /// Inserts a run unless its occurrence already has one; returns the new id or `nil`.
    static func insertRun(
        _ db: Database, job: JobSpec, nominal: Instant, trigger: RunTrigger, state: RunState, now: Double, due: Double, reason: String?
    ) throws -> Int64? {
        try db.execute(
            cached: """
                INSERT INTO run (job, nominal, trigger, state, max_attempts, created_at, due_at, finished_at, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (job, nominal) WHERE trigger != 'manual' DO NOTHING
                """,
            arguments: [job.name, nominal.seconds, trigger.rawValue, state.rawValue, job.retry.attempts, now, due, state.isFinal ? now : nil, reason])
        return db.changesCount == 1 ? db.lastInsertedRowID : nil
    }

    static func event(_ db: Database, _ runID: Int64, _ at: Double, _ kind: String, _ message: String, _ instance: String?) throws {
        try db.execute(cached: eventSQL, arguments: [runID, at, kind, message, instance])
    }

    /// Appends one run event (arguments: run id, time, kind, message, instance).
    static let eventSQL = "INSERT INTO run_event (run_id, at, kind, message, instance) VALUES (?, ?, ?, ?, ?)"

    /// How an attempt ended, as the executor reports it.
    public enum AttemptResult: Sendable, Equatable {
        /// Succeeded.
        case succeeded(RunOutcome)
        /// Failed; retry after `retryAfter` if given, else the run fails.
        case failed(message: String, detail: String?, retryAfter: Duration?)
        /// Cancelled on request or by shutdown of a run that should not resume.
        case cancelled(reason: String)
        /// Interrupted by shutdown: release the lease so another instance resumes it now.
        case released
        /// Leased ahead of a slot that never freed; never executed: pending again, for any instance.
        case handedBack
    }

    /// Records the end of an attempt, fenced: only the current lease holder may write.
    /// Throws `StoreError(.fenced)` when the lease moved on.
    public func finishAttempt(runID: Int64, owner: String, generation: Int64, now: Date, result: AttemptResult) async throws {
        let t = now.timeIntervalSince1970
        try await writer.write { db in
            try Store.checkFence(db, runID: runID, owner: owner, generation: generation)
            try Store.record(db, runID: runID, owner: owner, at: t, result: result)
        }
    }

    /// One attempt's end, for `finishAttempts`.
    public struct AttemptEnd: Sendable {
        /// The run.
        public var runID: Int64
        /// The lease generation the attempt held.
        public var generation: Int64
        /// How it ended.
        public var result: AttemptResult

        /// An attempt's end.
        public init(runID: Int64, generation: Int64, result: AttemptResult) {
            self.runID = runID
            self.generation = generation
            self.result = result
        }
    }

    /// Records many attempts' ends in one transaction (completions that arrive together).
    /// Each is fenced on its own: returns the ids whose lease had moved on (nothing written
    /// for those).
    public func finishAttempts(_ ends: [AttemptEnd], owner: String, now: Date) async throws -> [Int64] {
        let t = now.timeIntervalSince1970
        return try await writer.write { db in try Store.recordEnds(db, ends, owner: owner, at: t) }
    }

    /// Records `ends` as `finishAttempts` does and, in the same transaction, starts up to
    /// `limit` due pending runs as `startPending` does (into the slots those ends free): one
    /// commit where there would be two. Nothing is written if either part fails; the caller
    /// launches the started runs only after this returns (their leases are committed).
    /// Runs released or handed back here are not leased again by the same transaction: they
    /// wait, visible as pending, for any instance.
    public func finishAttempts(
        _ ends: [AttemptEnd], owner: String, now: Date, thenStart limit: Int, leaseDuration: Duration, jobs plan: JobTable, liveSince: Double? = nil,
        live: Set<String> = []
    ) async throws -> (fenced: [Int64], started: [LeasedRun]) {
        let t = now.timeIntervalSince1970
        let returned = Set(
            ends.compactMap { end -> Int64? in
                switch end.result {
                case .released, .handedBack: end.runID
                case .succeeded, .failed, .cancelled: nil
                }
            })
        return try await writer.write { db in
            let fenced = try Store.recordEnds(db, ends, owner: owner, at: t)
            let started = try Store.leasePending(
                db, at: t, owner: owner, expiry: t + leaseDuration.seconds, limit: limit, plan: plan, only: nil, liveSince: liveSince, live: live,
                excluding: returned)
            return (fenced, started)
        }
    }

    /// Records each end fenced on its own; returns the ids whose lease had moved on. The fence
    /// and the leases' release are one statement (only leases `owner` holds at the attempt's
    /// generation go); successes with the same outcome are written together.
    static func recordEnds(_ db: Database, _ ends: [AttemptEnd], owner: String, at t: Double) throws -> [Int64] {
        guard !ends.isEmpty else { return [] }
        let pairs = "[" + ends.map { "[\($0.runID),\($0.generation)]" }.joined(separator: ",") + "]"
        let released = Set(
            try Int64.fetchAll(
                db.cached(
                    """
                    DELETE FROM lease WHERE owner = ? AND run_id IN (
                        SELECT lease.run_id FROM json_each(?) AS e JOIN lease ON lease.run_id = e.value ->> 0 AND lease.generation = e.value ->> 1)
                    RETURNING run_id
                    """), arguments: [owner, pairs]))
        var fenced: [Int64] = []
        var succeeded: [RunOutcome: [Int64]] = [:]
        for end in ends {
            guard released.contains(end.runID) else {
                fenced.append(end.runID)
                continue
            }
            if case .succeeded(let outcome) = end.result {
                succeeded[outcome, default: []].append(end.runID)
            } else {
                try Store.record(db, runID: end.runID, owner: owner, at: t, result: end.result, leaseReleased: true)
            }
        }
        for (outcome, runs) in succeeded {
            let ids = "[" + runs.map(String.init).joined(separator: ",") + "]"
            try db.execute(
                cached: """
                    UPDATE run SET state = 'succeeded', finished_at = ?, summary = ?, detail = ?, error = NULL
                    WHERE id IN (SELECT value FROM json_each(?))
                    """,
                arguments: [t, outcome.summary, outcome.detail, ids])
            try db.execute(
                cached: "INSERT INTO run_event (run_id, at, kind, message, instance) SELECT value, ?, 'succeeded', ?, ? FROM json_each(?)",
                arguments: [t, outcome.summary, owner, ids])
        }
        return fenced
    }

    /// Writes an attempt's end and releases its lease (unless `leaseReleased`: the caller did).
    static func record(_ db: Database, runID: Int64, owner: String, at t: Double, result: AttemptResult, leaseReleased: Bool = false) throws {
        switch result {
        case .succeeded(let outcome):
            try db.execute(
                cached: "UPDATE run SET state = 'succeeded', finished_at = ?, summary = ?, detail = ?, error = NULL WHERE id = ?",
                arguments: [t, outcome.summary, outcome.detail, runID])
            try Store.event(db, runID, t, "succeeded", outcome.summary, owner)
            if !leaseReleased { try db.execute(cached: "DELETE FROM lease WHERE run_id = ?", arguments: [runID]) }
        case .failed(let message, let detail, let retryAfter):
            if let retryAfter {
                try db.execute(
                    cached: "UPDATE run SET state = 'pending', due_at = ?, error = ?, detail = ? WHERE id = ?",
                    arguments: [t + retryAfter.seconds, message, detail, runID])
                try Store.event(db, runID, t, "retry", "\(message); next attempt in \(DurationText.format(retryAfter))", owner)
            } else {
                try db.execute(
                    cached: "UPDATE run SET state = 'failed', finished_at = ?, error = ?, detail = ? WHERE id = ?", arguments: [t, message, detail, runID])
                try Store.event(db, runID, t, "failed", message, owner)
            }
            if !leaseReleased { try db.execute(cached: "DELETE FROM lease WHERE run_id = ?", arguments: [runID]) }
        case .cancelled(let reason):
            try db.execute(cached: "UPDATE run SET state = 'cancelled', finished_at = ?, reason = ? WHERE id = ?", arguments: [t, reason, runID])
            try Store.event(db, runID, t, "cancelled", reason, owner)
            if !leaseReleased { try db.execute(cached: "DELETE FROM lease WHERE run_id = ?", arguments: [runID]) }
        case .released, .handedBack:
            // A run whose cancel was requested meanwhile (`overlap: cancel_previous` replaced
            // it) never comes back: it ends cancelled, as a takeover or a start would end it.
            if try Bool.fetchOne(db.cached("SELECT cancel_requested FROM run WHERE id = ?"), arguments: [runID]) == true {
                try record(
                    db, runID: runID, owner: owner, at: t,
                    result: .cancelled(reason: "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request"),
                    leaseReleased: leaseReleased)
                return
            }
            // Not a failure and not a lapse: the run waits, due now, for any instance to resume
            // it (the same attempt, a new generation; `takeovers` is not counted).
            try db.execute(
                cached: "UPDATE run SET state = 'pending', due_at = ?, attempt = MAX(attempt - 1, 0) WHERE id = ?", arguments: [t, runID])
            if !leaseReleased { try db.execute(cached: "DELETE FROM lease WHERE run_id = ?", arguments: [runID]) }
            if case .released = result {
                try Store.event(db, runID, t, "released", "\(owner) shut down; the run waits for another instance to resume it", owner)
            } else {
                try Store.event(
                    db, runID, t, "handed-back", "leased ahead by \(owner), which had no free slot for it in time; any instance may start it", owner)
            }
        }
    }

    static func checkFence(_ db: Database, runID: Int64, owner: String, generation: Int64) throws {
        let lease = try LeaseRecord.fetchOne(db.cached("SELECT * FROM lease WHERE run_id = ?"), arguments: [runID])
        guard let lease, lease.owner == owner, lease.generation == generation else {
            throw StoreError(
                .fenced, path: "",
                detail:
                    "run #\(runID): generation \(generation) of \(owner) is stale (lease now \(lease.map { "generation \($0.generation) of \($0.owner)" } ?? "released")); write refused"
            )
        }
    }

    /// Saves a run's checkpoint, fenced by the lease generation.
    public func saveCheckpoint(runID: Int64, owner: String, generation: Int64, value: String, now: Date) async throws {
        try await writer.write { db in
            try Store.checkFence(db, runID: runID, owner: owner, generation: generation)
            try db.execute(
                cached: """
                    INSERT INTO checkpoint (run_id, generation, value, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(run_id) DO UPDATE SET generation = excluded.generation, value = excluded.value, updated_at = excluded.updated_at
                    WHERE excluded.generation >= checkpoint.generation
                    """,
                arguments: [runID, generation, value, now.timeIntervalSince1970])
            guard db.changesCount == 1 else {
                throw StoreError(.fenced, path: "", detail: "run #\(runID): a newer generation wrote the checkpoint; write refused")
            }
        }
    }

    /// The last checkpoint of a run.
    public func checkpoint(runID: Int64) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db.cached("SELECT value FROM checkpoint WHERE run_id = ?"), arguments: [runID]) }
    }

    /// Appends an event to a run's log (not fenced: for the operator and the store's own use;
    /// a run's execution writes through the fenced overload).
    public func appendEvent(runID: Int64, kind: String, message: String, instance: String?, now: Date) async throws {
        try await writer.write { db in try Store.event(db, runID, now.timeIntervalSince1970, kind, message, instance) }
    }

    /// Appends an event to a run's log as `owner` holding lease `generation`, fenced like a
    /// checkpoint: a stale owner's event (the events are the alert outbox) is refused with
    /// `StoreError(.fenced)`.
    public func appendEvent(runID: Int64, kind: String, message: String, owner: String, generation: Int64, now: Date) async throws {
        try await writer.write { db in
            try Store.checkFence(db, runID: runID, owner: owner, generation: generation)
            try Store.event(db, runID, now.timeIntervalSince1970, kind, message, owner)
        }
    }

    // MARK: Instances

    /// Registers or refreshes a live instance; `jobs` (when given) replaces the names of the
    /// jobs it runs (written at start and on reload, not on every heartbeat). Deletes the rows of
    /// the `forget` instances (the engine judged them gone on its monotonic clock; never by the
    /// wall alone, which a clock step moves). Returns every other instance's heartbeat time.
    @discardableResult
    public func heartbeat(instance: InstanceRecord, jobs: [String]? = nil, forget: [String] = []) async throws -> [String: Double] {
        try await writer.write { db in
            try db.execute(
                cached: """
                    INSERT INTO instance (id, pid, host, started_at, heartbeat_at, state, config, boot, pidns, pid_start)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, state = excluded.state, config = excluded.config
                    """,
                arguments: [
                    instance.id, instance.pid, instance.host, instance.startedAt, instance.heartbeatAt, instance.state, instance.config,
                    instance.boot, instance.pidNamespace, instance.pidStart,
                ])
            if let jobs {
                try db.execute(cached: "UPDATE instance SET jobs = ? WHERE id = ?", arguments: [jobs.joined(separator: "\n"), instance.id])
            }
            if !forget.isEmpty {
                let ids = String(decoding: try JSONEncoder().encode(forget.filter { $0 != instance.id }), as: UTF8.self)
                try db.execute(cached: "DELETE FROM instance WHERE id IN (SELECT value FROM json_each(?))", arguments: [ids])
            }
            var beats: [String: Double] = [:]
            let rows = try Row.fetchCursor(db.cached("SELECT id, heartbeat_at FROM instance WHERE id != ?"), arguments: [instance.id])
            while let row = try rows.next() { beats[row[0]] = row[1] }
            return beats
        }
    }

    /// Removes an instance that stopped cleanly.
    public func removeInstance(_ id: String) async throws {
        _ = try await writer.write { db in try db.execute(cached: "DELETE FROM instance WHERE id = ?", arguments: [id]) }
    }
}
