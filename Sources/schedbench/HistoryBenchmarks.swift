import Foundation
import GRDB
import Jobs
import Logging
import Scheduler

/// `history` and `status` on a database with 1,000,000 runs (1,000 jobs × 1,000 occurrences),
/// and one retention pass over it. Figures only.
enum HistoryBenchmarks {
    /// Fills `store` with `runs` runs of `jobs` jobs (`job-0`…), one a minute per job, 1 in 97
    /// failed and the newest tenth of a minute's runs running; returns the instant after the last.
    @discardableResult
    static func fill(_ store: Store, runs: Int, jobs: Int) -> Date {
        let base = 1_790_000_000.0
        let fill = ContinuousClock().measure {
            try! store.writer.write { db in
                let statement = try db.makeStatement(
                    sql: """
                        INSERT INTO run (job, nominal, trigger, state, attempt, created_at, due_at, started_at, finished_at, summary)
                        VALUES (?, ?, 'schedule', ?, 1, ?, ?, ?, ?, 'exit 0')
                        """)
                for i in 0..<runs {
                    let job = "job-\(i % jobs)"
                    let at = base + Double(i / jobs) * 60
                    let state = i % 97 == 0 ? "failed" : (i >= runs - jobs / 10 ? "running" : "succeeded")
                    try statement.execute(arguments: [job, Int64(at), state, at, at, at, state == "running" ? nil : at + 1])
                }
            }
        }
        print("filled \(runs) runs of \(jobs) jobs in \(fill)")
        return Date(timeIntervalSince1970: base + Double(runs / jobs) * 60)
    }

    static func run(runs: Int = 1_000_000, jobs: Int = 1_000) async throws {
        let path = EngineBenchmarks.temporaryDatabase("history")
        let store = try StoreSchema.open(path: path)
        let now = fill(store, runs: runs, jobs: jobs)
        func median(_ label: String, _ body: () async throws -> Void) async throws {
            var samples: [Duration] = []
            for _ in 0..<21 {
                let start = ContinuousClock.now
                try await body()
                samples.append(ContinuousClock.now - start)
            }
            samples.sort()
            print("history: \(label): median \(samples[10]), worst \(samples.last!)")
        }
        try await median("history (50 newest)") { _ = try await store.history(limit: 50) }
        try await median("history --job (50 newest of one job)") { _ = try await store.history(job: "job-500", limit: 50) }
        try await median("status (\(jobs) jobs)") { _ = try await store.status(now: now) }
        let service = RetentionService(
            store: store, policy: RetentionPolicy(runs: .seconds(Int64(runs / jobs / 10) * 60)), logger: EngineBenchmarks.quiet, wall: { now },
            pause: .zero)
        let start = ContinuousClock.now
        let deleted = try await service.prunePass()
        print("history: retention pass deleted \(deleted) runs in \(ContinuousClock.now - start) (batches of 500)")
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}
