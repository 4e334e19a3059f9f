public import Foundation
import GRDB
import SchedctlBase

extension Store {
    /// Indexes that let `history` and `status` answer from an index on a large database: runs by
    /// occurrence (newest first), overall and per job.
    static func registerHistoryIndexes(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("history-indexes-v1") { db in
            try db.execute(
                sql: """
                    CREATE INDEX run_nominal ON run(nominal, id);
                    CREATE INDEX run_job_nominal ON run(job, nominal, id);
                    """)
        }
    }

    /// One batch of a history-pruning walk.
    public struct PruneBatch: Sendable, Equatable {
        /// Runs deleted (with their events, leases and checkpoints).
        public var deleted: Int
        /// Where the walk continues, or nil when it reached runs too recent to be pruned.
        public var next: Int64?
    }

    /// Deletes, among the next `batch` runs after id `cursor`, the finished ones `policy` no longer
    /// keeps: succeeded, skipped and cancelled runs that ended more than `policy.runs` ago, failed
    /// and abandoned ones more than `policy.failed` ago. Their events, leases and checkpoints go
    /// with them. A walk in id order, so each batch is one short write transaction.
    public func pruneHistory(policy: RetentionPolicy, now: Date, after cursor: Int64, batch: Int = 500) async throws -> PruneBatch {
        let runsCutoff = now.timeIntervalSince1970 - policy.runs.seconds
        let failedCutoff = now.timeIntervalSince1970 - policy.failed.seconds
        // A run created after both cut-offs cannot have ended before either: the walk stops there.
        // A run "created" in the future was written under a forward wall-clock step: it is passed
        // over, never taken for the recent end (it would stop pruning until real time reached it).
        let stop = max(runsCutoff, failedCutoff)
        let future = now.timeIntervalSince1970 + 60
        return try await writer.write { db in
            let rows = try Row.fetchAll(
                db.cached("SELECT id, state, created_at, finished_at FROM run WHERE id > ? ORDER BY id LIMIT ?"), arguments: [cursor, batch])
            var doomed: [Int64] = []
            var reachedRecent = rows.count < batch
            for row in rows {
                let created: Double = row["created_at"]
                if created > future { continue }
                if created >= stop {
                    reachedRecent = true
                    break
                }
                guard let finished: Double = row["finished_at"], let state = RunState(rawValue: row["state"]) else { continue }
                switch state {
                case .succeeded, .skipped, .cancelled: if finished < runsCutoff { doomed.append(row["id"]) }
                case .failed, .abandoned: if finished < failedCutoff { doomed.append(row["id"]) }
                case .pending, .running: break
                }
            }
            if !doomed.isEmpty {
                try db.execute(sql: "DELETE FROM run WHERE id IN (\(doomed.map(String.init).joined(separator: ",")))")
            }
            let last: Int64? = rows.last?["id"]
            return PruneBatch(deleted: doomed.count, next: reachedRecent ? nil : last)
        }
    }

    /// Copies the write-ahead log into the database and truncates it (falling back to a passive
    /// checkpoint while readers hold it), so the WAL stays bounded after large deletions.
    ///
    /// The truncating checkpoint is tried without a busy wait: while it waits for readers it holds
    /// every other writer back, in every process (renewals included), so when a reader or a writer
    /// is busy it gives way at once to a passive checkpoint, which never blocks anyone
    /// (`journal_size_limit` then bounds the log when it restarts).
    public func checkpointWAL() async throws {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            try db.execute(sql: "PRAGMA busy_timeout = 0")
            defer { try? db.execute(sql: "PRAGMA busy_timeout = \(Store.busyTimeoutMilliseconds)") }
            do {
                try db.checkpoint(.truncate)
            } catch {
                try db.checkpoint(.passive)
            }
        }
    }
}
