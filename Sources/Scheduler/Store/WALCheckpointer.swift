import GRDB

/// Checkpoints of the write-ahead log on a connection of their own, so that no commit pays for
/// one. SQLite otherwise checkpoints inside the commit that grows the log past 1,000 pages:
/// that commit copies the pages into the database and syncs it (several milliseconds on the
/// writer, while every start waits). A passive checkpoint here waits for nobody and blocks no
/// writer.
/// ```swift
/// let checkpointer = try await store.checkpointsInBackground()
/// _ = try await checkpointer.checkpoint()   // at a quiet moment
/// try await checkpointer.handBack()         // commits checkpoint again
/// ```
public final class WALCheckpointer: Sendable {
    let connection: DatabaseQueue
    let writer: DatabasePool

    init(path: String, writer: DatabasePool) async throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(1)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.writer = writer
        try await writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
    }

    /// What one checkpoint found.
    public struct Result: Sendable, Equatable {
        /// Frames in the log.
        public var frames: Int
        /// Frames of the log now in the database (all of them when no reader held some back).
        public var copied: Int
    }

    /// Copies what it can of the log into the database without waiting for readers or writers.
    @discardableResult
    public func checkpoint() async throws -> Result {
        try await connection.writeWithoutTransaction { db in
            guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") else { return Result(frames: 0, copied: 0) }
            return Result(frames: row[1], copied: row[2])
        }
    }

    /// Lets commits checkpoint again (SQLite's default of 1,000 pages).
    public func handBack() async throws {
        try await writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 1000") }
    }
}

extension Store {
    /// Moves the log's checkpoints off the writer's commits to a `WALCheckpointer` (the engine
    /// calls it at quiet moments) until `handBack()`.
    public func checkpointsInBackground() async throws -> WALCheckpointer {
        try await WALCheckpointer(path: path, writer: writer)
    }
}
