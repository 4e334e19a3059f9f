public import GRDB

// Row decoding of the records the engine reads on its hot paths, column by column: GRDB's
// `Decodable` route costs several times more per row, and the engine decodes a few rows for
// every run it claims, starts and ends.

extension RunRecord {
    /// A run from a `run` row.
    public init(row: Row) throws {
        let state: String = try row.decode(forColumn: "state")
        let trigger: String = try row.decode(forColumn: "trigger")
        guard let runState = RunState(rawValue: state), let runTrigger = RunTrigger(rawValue: trigger) else {
            throw StoreError(.notADatabase, path: "", detail: "a run row with state '\(state)' and trigger '\(trigger)' is not one schedctl writes")
        }
        self.init(
            id: try row.decode(forColumn: "id"), job: try row.decode(forColumn: "job"), nominal: try row.decode(forColumn: "nominal"),
            trigger: runTrigger, state: runState, attempt: try row.decode(forColumn: "attempt"), maxAttempts: try row.decode(forColumn: "max_attempts"),
            takeovers: try row.decode(forColumn: "takeovers"), generation: try row.decode(forColumn: "generation"),
            createdAt: try row.decode(forColumn: "created_at"), dueAt: try row.decode(forColumn: "due_at"),
            startedAt: try row.decode(forColumn: "started_at"), finishedAt: try row.decode(forColumn: "finished_at"),
            cancelRequested: try row.decode(forColumn: "cancel_requested"), reason: try row.decode(forColumn: "reason"),
            error: try row.decode(forColumn: "error"), summary: try row.decode(forColumn: "summary"), detail: try row.decode(forColumn: "detail"))
    }
}

extension LeaseRecord {
    /// A lease from a `lease` row.
    public init(row: Row) throws {
        self.init(
            runID: try row.decode(forColumn: "run_id"), owner: try row.decode(forColumn: "owner"), generation: try row.decode(forColumn: "generation"),
            acquiredAt: try row.decode(forColumn: "acquired_at"), expiresAt: try row.decode(forColumn: "expires_at"),
            duration: try row.decode(forColumn: "duration"), renewals: try row.decode(forColumn: "renewals"))
    }
}

extension JobStateRecord {
    /// A job's state from a `job_state` row.
    public init(row: Row) throws {
        self.init(
            job: try row.decode(forColumn: "job"), watermark: try row.decode(forColumn: "watermark"), paused: try row.decode(forColumn: "paused"),
            pausedAt: try row.decode(forColumn: "paused_at"), firstSeen: try row.decode(forColumn: "first_seen"))
    }
}
