import Foundation
import GRDB
import SchedctlTesting
import Testing

@testable import Scheduler

@Suite("Store on real SQLite files")
struct StoreTests {
    @Test func createsTheFileWithMode0600AndWAL() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("nested/dir/state.sqlite")
        let store = try Store(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let mode = try await store.writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func refusesADatabaseFromANewerSchemaAndWritesNothing() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("state.sqlite")
        var known: [String] = []
        do {
            let store = try Store(path: path)
            known = try await store.writer.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('engine-v99')")
                return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations WHERE identifier != 'engine-v99'")
            }
        }
        let error = try #require(throws: StoreError.self) { try Store(path: path) }
        #expect(error.code == .newerSchema)
        #expect(error.description.contains("written by a newer schedctl"))
        var readOnly = Configuration()
        readOnly.readonly = true
        let migrations = try await DatabaseQueue(path: path, configuration: readOnly).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(known.contains("engine-v1"))
        #expect(migrations == (known + ["engine-v99"]).sorted())
    }

    /// The store's SQL needs SQLite 3.38 (`->>`, `RETURNING`): an older library is refused with
    /// the version and the fix, before any file is made; this machine's library is accepted.
    @Test(arguments: [
        ("3.37.2", false), ("3.31.1", false), ("2.99", false), ("3.38.0", true), ("3.38", true), ("3.40.1", true), ("3.45.1", true),
        ("4.0.0", true),
    ])
    func sqliteOlderThan338IsRefused(version: String, accepted: Bool) throws {
        if accepted {
            try Store.checkSQLiteVersion(version, path: "/tmp/state.sqlite")
        } else {
            let error = try #require(throws: StoreError.self) { try Store.checkSQLiteVersion(version, path: "/tmp/state.sqlite") }
            #expect(error.kind == .oldSQLite)
            #expect(error.description.contains("SQLite library is version \(version), older than 3.38.0"))
            #expect(error.description.contains("install a newer libsqlite3"))
        }
    }

    @Test func theLinkedSQLiteIsNewEnough() throws {
        let version = try #require(Store.sqliteVersion)
        try Store.checkSQLiteVersion(version, path: "/tmp/state.sqlite")
    }

    /// Commits stop checkpointing (SQLite would do it inside the commit that crosses 1,000
    /// pages); the checkpointer's own connection copies the whole log, and hands back.
    @Test func theCheckpointerTakesCheckpointsOffTheCommits() async throws {
        let directory = TemporaryDirectory()
        let store = try Store(path: directory.file("state.sqlite"))
        func autocheckpoint() async throws -> Int? {
            try await store.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") }
        }
        let checkpointer = try await store.checkpointsInBackground()
        #expect(try await autocheckpoint() == 0)
        let jobs = (0..<200).map { every("job-\($0)", seconds: 60) }
        _ = try await store.registerJobs(jobs, now: Date(timeIntervalSince1970: 1_800_000_000))
        let result = try await checkpointer.checkpoint()
        #expect(result.frames > 0)
        #expect(result.copied == result.frames)
        try await checkpointer.handBack()
        #expect(try await autocheckpoint() == 1000)
    }

    /// Every query by job for active runs repeats the partial index's condition word for word,
    /// or SQLite walks the whole history of the job.
    @Test func queriesForAJobsActiveRunsUseTheActiveIndex() async throws {
        let directory = TemporaryDirectory()
        let store = try Store(path: directory.file("state.sqlite"))
        let queries = [
            "SELECT 1 FROM run AS other WHERE other.job = 'a' AND other.\(Store.active) AND other.state = 'running'",
            "SELECT run.id FROM job_state LEFT JOIN run ON run.job = job_state.job AND run.\(Store.active) WHERE job_state.job = 'a'",
            "SELECT COUNT(*) FROM run WHERE job = 'a' AND \(Store.active)",
        ]
        for query in queries {
            let plan = try await store.writer.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(query)").map { $0["detail"] as String } }
            #expect(plan.contains { $0.contains("run_job_active") }, "\(query): \(plan)")
        }
    }

    @Test func refusesAFileThatIsNotADatabase() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("state.sqlite")
        try Data("this is not sqlite, just text that is long enough to have a header".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) { try Store(path: path) }
        #expect(error.code == .notADatabase)
        #expect(error.description.contains("is not a schedctl database"))
    }

    @Test func anOccurrenceIsUniquePerJobAndNominalInstant() async throws {
        let directory = TemporaryDirectory()
        let store = try Store(path: directory.file("state.sqlite"))
        let job = JobSpec(name: "j", kind: "noop", schedule: Schedule(.interval(seconds: 60, aligned: true, zone: .utc)))
        let at = try Instant(iso8601: "2026-11-23T15:00:00Z")
        let first = try await store.backfill(job: job, from: at, to: at, now: Date())
        let second = try await store.backfill(job: job, from: at, to: at, now: Date())
        #expect(first.queued == 1 && second.queued == 0 && second.existing == 1)
        await #expect(throws: DatabaseError.self) {
            try await store.writer.write { db in
                try db.execute(
                    sql: "INSERT INTO run (job, nominal, trigger, state, created_at, due_at) VALUES ('j', ?, 'schedule', 'pending', 0, 0)",
                    arguments: [at.seconds])
            }
        }
        // Manual runs are not occurrences: two at the same second are fine.
        _ = try await store.enqueueManualRun(job: job, now: at.date, by: "test")
        _ = try await store.enqueueManualRun(job: job, now: at.date, by: "test")
        #expect(try await store.history(job: "j").count == 3)
    }

    @Test func claimingTwiceFromTwoConnectionsInsertsOnce() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("state.sqlite")
        let a = try Store(path: path)
        let b = try Store(path: path)
        let job = JobSpec(name: "j", kind: "noop", schedule: Schedule(.interval(seconds: 60, aligned: true, zone: .utc)))
        let start = try Instant(iso8601: "2026-11-23T15:00:10Z").date
        _ = try await a.registerJobs([job], now: start)
        let later = start.addingTimeInterval(300)
        async let x = a.claim([job], now: later, instance: "a")
        async let y = b.claim([job], now: later, instance: "b")
        let (ra, rb) = try await (x, y)
        #expect(ra[0].inserted.count + ra[0].skipped + rb[0].inserted.count + rb[0].skipped == 5)
        #expect(try await a.history(job: "j").count == 5)
    }

    /// A claim batch reads its jobs' states in one statement (the names as a JSON array): names
    /// that need escaping are found, a job given again reads the watermark its first claim wrote,
    /// and a job without state gets one.
    @Test(arguments: [
        ["plain"], ["plain", "plain"], ["a \"quoted\" name", "back\\slash", "tab\tand\nnewline", "ünïcødé ✓"],
        ["plain", "other", "plain", "new-job", "other", "plain"],
    ])
    func aClaimBatchClaimsEachOccurrenceOnceWhateverTheNames(_ names: [String]) async throws {
        let directory = TemporaryDirectory()
        let store = try Store(path: directory.file("state.sqlite"))
        let jobs = names.map { JobSpec(name: $0, kind: "noop", schedule: Schedule(.interval(seconds: 60, aligned: true, zone: .utc))) }
        let start = try Instant(iso8601: "2026-11-23T15:00:10Z").date
        _ = try await store.registerJobs(jobs.filter { $0.name != "new-job" }, now: start)
        let later = start.addingTimeInterval(300)
        let outcomes = try await store.claim(jobs, now: later, instance: "a")
        #expect(outcomes.map(\.job) == names)
        for name in Set(names) {
            let mine = outcomes.filter { $0.job == name }
            let runs = try await store.history(job: name)
            if name == "new-job" {
                #expect(mine.allSatisfy { $0.inserted.isEmpty && $0.skipped == 0 } && runs.isEmpty)
            } else {
                // 15:01 to 15:05, each once, claimed by the job's first entry in the batch.
                #expect(mine.reduce(0) { $0 + $1.inserted.count + $1.skipped } == 5, "\(name)")
                #expect(mine.dropFirst().allSatisfy { $0.inserted.isEmpty && $0.skipped == 0 }, "\(name)")
                #expect(Set(runs.map(\.nominal)).count == 5 && runs.count == 5, "\(name)")
                #expect(Set(mine[0].inserted) == Set(runs.filter { $0.state == .pending }.map(\.id)), "\(name)")
            }
        }
        let states = try await store.registerJobs([], now: later)
        #expect(Set(states.keys) == Set(names))
        // The watermarks were written: the same claim again finds nothing.
        let again = try await store.claim(jobs, now: later, instance: "a")
        #expect(again.allSatisfy { $0.inserted.isEmpty && $0.skipped == 0 })
    }
}
