import Foundation
import SchedctlTesting
import Testing

/// `schedctl history JOB`: a name that is neither configured nor in the history is "not found"
/// (exit 2, naming the jobs); a job removed from the file keeps its history.
@Suite("schedctl history of one job")
struct HistoryCLITests {
    @Test("an unknown job exits 2; a removed job still lists its runs")
    func unknownAndRemovedJobs() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-history")
        let config = directory.file("jobs.yaml")
        try "database: state.sqlite\njobs:\n  once: { type: noop, schedule: { every: 1h } }\n  other: { type: noop, schedule: { every: 1h } }\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let ran = try await SchedctlBinary.run(["run", "once", "--config", config])
        #expect(ran.status == 0, "\(ran.stdout)\(ran.stderr)")

        let unknown = try await SchedctlBinary.run(["history", "onec", "--config", config])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no job 'onec'") && unknown.stderr.contains("jobs: once, other"), "\(unknown.stderr)")
        let none = try await SchedctlBinary.run(["history", "other", "--config", config])
        #expect(none.status == 0 && none.stdout.contains("no runs yet"), "\(none.stdout)\(none.stderr)")

        try "database: state.sqlite\njobs:\n  other: { type: noop, schedule: { every: 1h } }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let removed = try await SchedctlBinary.run(["history", "once", "--config", config])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout.contains("#1") && removed.stdout.contains("once"), "\(removed.stdout)")
    }
}
