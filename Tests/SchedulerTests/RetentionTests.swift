import Foundation
import GRDB
import Logging
import SchedctlTesting
import Synchronization
import Testing

@testable import Scheduler

@Suite("History retention")
struct RetentionTests {
    static let now = Date(timeIntervalSince1970: 1_796_000_000)
    static let day = 86_400.0

    /// Inserts a run of `job` that was created `age` days ago and ended (if `state` is final) then,
    /// with one event and a checkpoint.
    @discardableResult
    func insert(_ store: Store, job: String, state: RunState, ageDays: Double, nominal: Int64? = nil) async throws -> Int64 {
        let at = Self.now.timeIntervalSince1970 - ageDays * Self.day
        return try await store.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO run (job, nominal, trigger, state, attempt, created_at, due_at, started_at, finished_at)
                    VALUES (?, ?, 'manual', ?, 1, ?, ?, ?, ?)
                    """,
                arguments: [job, nominal ?? Int64(at), state.rawValue, at, at, at, state.isFinal ? at + 1 : nil])
            let id = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO run_event (run_id, at, kind, message) VALUES (?, ?, 'started', 'x')", arguments: [id, at])
            try db.execute(sql: "INSERT INTO checkpoint (run_id, generation, value, updated_at) VALUES (?, 1, 'cp', ?)", arguments: [id, at])
            return id
        }
    }

    func count(_ store: Store, _ table: String) async throws -> Int {
        try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }

    @Test func finishedRunsBeyondTheirRetentionGoWithTheirEventsAndCheckpoints() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-retention")
        let store = try Store(path: directory.file("state.sqlite"))
        var kept: Set<Int64> = []
        for _ in 0..<5 { try await insert(store, job: "a", state: .succeeded, ageDays: 120) }
        try await insert(store, job: "a", state: .skipped, ageDays: 100)
        try await insert(store, job: "b", state: .cancelled, ageDays: 91)
        kept.insert(try await insert(store, job: "b", state: .failed, ageDays: 200))
        try await insert(store, job: "b", state: .abandoned, ageDays: 400)
        kept.insert(try await insert(store, job: "c", state: .running, ageDays: 150))
        kept.insert(try await insert(store, job: "c", state: .pending, ageDays: 130))
        kept.insert(try await insert(store, job: "a", state: .succeeded, ageDays: 80))
        kept.insert(try await insert(store, job: "a", state: .succeeded, ageDays: 1))

        let service = RetentionService(
            store: store, policy: RetentionPolicy(runs: .seconds(90 * 86_400), failed: .seconds(365 * 86_400)), logger: Logger(label: "test"),
            wall: { Self.now }, batch: 2, pause: .zero)
        #expect(try await service.prunePass() == 8)
        let left = Set(try await store.history(limit: 100).map(\.id))
        #expect(left == kept)
        #expect(try await count(store, "run_event") == kept.count)
        #expect(try await count(store, "checkpoint") == kept.count)
        // A second pass finds nothing more; without a policy nothing is touched.
        #expect(try await service.prunePass() == 0)
        service.update(nil)
        #expect(try await service.prunePass() == 0)
        #expect(Set(try await store.history(limit: 100).map(\.id)) == kept)
    }

    /// Review L5: one run created under a forward wall-clock step (its `created_at` days ahead)
    /// used to stop the walk there, so nothing after it was ever pruned until real time passed it.
    @Test func aRunCreatedUnderAForwardWallStepDoesNotStopPruning() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-retention-step")
        let store = try Store(path: directory.file("state.sqlite"))
        for _ in 0..<3 { try await insert(store, job: "a", state: .succeeded, ageDays: 120) }
        let stepped = try await insert(store, job: "a", state: .succeeded, ageDays: -2)
        for _ in 0..<4 { try await insert(store, job: "a", state: .succeeded, ageDays: 100) }
        let recent = try await insert(store, job: "a", state: .succeeded, ageDays: 1)
        let service = RetentionService(
            store: store, policy: RetentionPolicy(runs: .seconds(90 * 86_400)), logger: Logger(label: "test"), wall: { Self.now }, batch: 3,
            pause: .zero)
        #expect(try await service.prunePass() == 7)
        #expect(Set(try await store.history(limit: 100).map(\.id)) == [stepped, recent])
    }

    /// Review L5: the truncating checkpoint used to wait out the busy timeout for a reader while
    /// holding every other writer back (in every process: renewals too). Another connection's
    /// writes go through while it runs.
    @Test func theCheckpointNeverHoldsOtherWritersBack() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-retention-busy")
        let path = directory.file("state.sqlite")
        let store = try Store(path: path)
        try await insert(store, job: "a", state: .succeeded, ageDays: 1)
        // A reader pins the log (its snapshot includes frames not yet in the database file).
        let reader = try DatabaseQueue(path: path)
        let (held, release) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        Thread {
            try? reader.read { db in
                _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run")
                held.signal()
                release.wait()
            }
        }.start()
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                held.wait()
                continuation.resume()
            }
        }
        try await insert(store, job: "a", state: .succeeded, ageDays: 1)
        var configuration = Configuration()
        configuration.busyMode = .timeout(1)
        let other = try DatabaseQueue(path: path, configuration: configuration)
        let finished = Mutex(false)
        let checkpoint = Task {
            try await store.checkpointWAL()
            finished.withLock { $0 = true }
        }
        var (written, refused) = (0, 0)
        repeat {
            do {
                try await other.write { db in try db.execute(sql: "UPDATE run SET reason = 'x' WHERE id = 1") }
                written += 1
            } catch {
                refused += 1
            }
            await Task.yield()
        } while written + refused < 3 || (written + refused < 20 && !finished.withLock { $0 })
        try await checkpoint.value
        release.signal()
        #expect(refused == 0, "\(refused) write(s) of another connection were refused during the checkpoint")
    }

    @Test func theWriteAheadLogIsTruncatedAfterPruning() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-retention-wal")
        let path = directory.file("state.sqlite")
        let store = try Store(path: path)
        try await store.writer.write { db in
            for i in 0..<3000 {
                let at = Self.now.timeIntervalSince1970 - 200 * Self.day + Double(i)
                try db.execute(
                    sql: "INSERT INTO run (job, nominal, trigger, state, created_at, due_at, finished_at) VALUES ('a', ?, 'schedule', 'succeeded', ?, ?, ?)",
                    arguments: [Int64(at), at, at, at + 1])
            }
        }
        let service = RetentionService(
            store: store, policy: RetentionPolicy(runs: .seconds(90 * 86_400)), logger: Logger(label: "test"), wall: { Self.now }, batch: 100,
            pause: .zero)
        #expect(try await service.prunePass() == 3000)
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(size == 0, "WAL is \(size) bytes after the checkpoint")
    }

    @Test func statusShowsEachJobsLatestOccurrenceAndActiveCounts() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-status")
        let store = try Store(path: directory.file("state.sqlite"))
        try await insert(store, job: "a", state: .succeeded, ageDays: 3, nominal: 300)
        let latest = try await insert(store, job: "a", state: .running, ageDays: 2, nominal: 500)
        try await insert(store, job: "a", state: .succeeded, ageDays: 1, nominal: 400)  // a backfilled older occurrence
        try await insert(store, job: "b", state: .pending, ageDays: 1, nominal: 100)
        try await insert(store, job: "b", state: .pending, ageDays: 1, nominal: 50)
        let status = try await store.status(now: Self.now)
        #expect(status.lastRuns["a"]?.id == latest)
        #expect(status.lastRuns["b"]?.nominal == 100)
        #expect(status.active == ["a": 1, "b": 2])
        #expect(try await store.history(job: "a", limit: 1).first?.id == latest)
    }

    @Test func historyAndStatusQueriesUseIndexes() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-plans")
        let store = try Store(path: directory.file("state.sqlite"))
        let plans = try await store.writer.read { db in
            try [
                "SELECT * FROM run ORDER BY nominal DESC, id DESC LIMIT 50",
                "SELECT * FROM run WHERE job = 'a' ORDER BY nominal DESC, id DESC LIMIT 50",
                "SELECT COUNT(*) FROM run WHERE job = 'a' AND state IN ('pending', 'running')",
            ].map { sql in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ") }
        }
        for plan in plans {
            #expect(!plan.contains("SCAN run") || plan.contains("USING"), "\(plan)")
            #expect(!plan.contains("TEMP B-TREE"), "\(plan)")
        }
    }
}
