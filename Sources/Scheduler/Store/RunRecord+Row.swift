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

extension RunRecord {
    /// The `run` columns `init(row:at:)` reads, in its order (for a `SELECT` that names them).
    static let columns =
        "id, job, nominal, trigger, state, attempt, max_attempts, takeovers, generation, created_at, due_at, started_at, finished_at, cancel_requested, reason, error, summary, detail"

    /// A run from the columns `columns` names, in that order from position `offset`: read by
    /// position, with no lookup of each column's name (the start transaction reads a row per run).
    init(row: Row, at offset: Int) throws {
        let state: String = try row.decode(atIndex: offset + 4)
        let trigger: String = try row.decode(atIndex: offset + 3)
        guard let runState = RunState(rawValue: state), let runTrigger = RunTrigger(rawValue: trigger) else {
            throw StoreError(.notADatabase, path: "", detail: "a run row with state '\(state)' and trigger '\(trigger)' is not one schedctl writes")
        }
        self.init(
            id: try row.decode(atIndex: offset), job: try row.decode(atIndex: offset + 1), nominal: try row.decode(atIndex: offset + 2),
            trigger: runTrigger, state: runState, attempt: try row.decode(atIndex: offset + 5), maxAttempts: try row.decode(atIndex: offset + 6),
            takeovers: try row.decode(atIndex: offset + 7), generation: try row.decode(atIndex: offset + 8),
            createdAt: try row.decode(atIndex: offset + 9), dueAt: try row.decode(atIndex: offset + 10),
            startedAt: try row.decode(atIndex: offset + 11), finishedAt: try row.decode(atIndex: offset + 12),
            cancelRequested: try row.decode(atIndex: offset + 13), reason: try row.decode(atIndex: offset + 14),
            error: try row.decode(atIndex: offset + 15), summary: try row.decode(atIndex: offset + 16), detail: try row.decode(atIndex: offset + 17))
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
