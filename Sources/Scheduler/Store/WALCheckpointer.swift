import GRDB

/// Checkpoints of the write-ahead log at moments the engine chooses (between bursts), so that no
/// start pays for one. SQLite otherwise checkpoints inside the commit that grows the log past
/// 1,000 pages: that commit copies the pages into the database and syncs it (several
/// milliseconds on the writer, while every start waits). The checkpoint runs on the writer
/// connection itself: with a second connection checkpointing beside the writer, a start now and
/// then waited 0.2–1.1 s (cause not found; never seen with the writer checkpointing).
/// ```swift
/// let checkpointer = try await store.checkpointsInBackground()
/// _ = try await checkpointer.checkpoint()   // at a quiet moment
/// try await checkpointer.handBack()         // commits checkpoint again
/// ```
public final class WALCheckpointer: Sendable {
    let writer: DatabasePool

    init(writer: DatabasePool) async throws {
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

    /// Copies what it can of the log into the database without waiting for readers.
    @discardableResult
    public func checkpoint() async throws -> Result {
        try await writer.writeWithoutTransaction { db in
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
    /// Moves the log's checkpoints off the commits to a `WALCheckpointer` (the engine calls it at
    /// quiet moments) until `handBack()`.
    public func checkpointsInBackground() async throws -> WALCheckpointer {
        try await WALCheckpointer(writer: writer)
    }
}
