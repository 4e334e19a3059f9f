import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// `schedctl run JOB` without a service, through the real binary: it executes that one run and
/// no other, and exits 1 (having executed nothing) when the run cannot start.
@Suite("schedctl run without a service", .serialized)
struct RunCommandTests {
    /// A first `schedctl run` holds the job's run (its lease renewed by that live process) while
    /// its child waits for a release file; a second `schedctl run` of the same `overlap: skip`
    /// job cannot start its run: exit 1, the reason on stderr, nothing appended, no pending run left.
    @Test func aRunThatCannotStartExitsOneAndExecutesNothing() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-run-busy")
        let config = directory.file("jobs.yaml")
        let runs = directory.file("runs.log")
        // Each copy appends its run id, then (bounded) waits until the test releases it.
        try """
        echo "start $SCHEDCTL_RUN_ID" >> runs.log
        i=0; while [ ! -f release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
        """.write(toFile: directory.file("hold.sh"), atomically: true, encoding: .utf8)
        try """
        database: state.sqlite
        jobs:
          hold: { type: exec, workdir: \(directory.path), command: ["/bin/sh", "hold.sh"], overlap: skip, schedule: { every: 24h } }
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let first = try SchedctlBinary.start(["run", "hold", "--config", config], log: directory.file("first.log"))
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        #expect(try await pollUntil { fileLines(runs).count == 1 }, "the first run never started: \(fileLines(directory.file("first.log")))")

        let second = try await SchedctlBinary.run(["run", "hold", "--config", config])
        #expect(second.status == 1, "\(second.stdout)\(second.stderr)")
        #expect(second.stderr.contains("could not start here") && second.stderr.contains("nothing was executed"), "\(second.stderr)")

        try "".write(toFile: directory.file("release"), atomically: true, encoding: .utf8)
        try await exited(first)
        #expect(first.terminationStatus == 0, "\(fileLines(directory.file("first.log")))")
        #expect(fileLines(runs).count == 1, "\(fileLines(runs))")

        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let history = try await store.history(job: "hold", limit: 10)
        #expect(history.count == 2)
        let ran = try #require(history.first { $0.state == .succeeded })
        #expect(fileLines(runs) == ["start \(ran.id)"])
        let refused = try #require(history.first { $0.id != ran.id })
        #expect(refused.state == .cancelled && refused.trigger == .manual, "\(refused.state)")
        #expect(refused.reason?.contains("could not start here") == true, "\(refused.reason ?? "")")
    }

    /// Runs of this and another job are due (backfilled); `schedctl run` executes only its own
    /// manual run and leaves every other due run pending for a service.
    @Test func aManualRunLeasesNoOtherDueRun() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-run-only")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        jobs:
          target: { type: exec, workdir: \(directory.path), command: ["/bin/sh", "-c", "echo \\"target $SCHEDCTL_RUN_ID\\" >> runs.log"], schedule: { every: 1h, align: true } }
          other: { type: exec, workdir: \(directory.path), command: ["/bin/sh", "-c", "echo \\"other $SCHEDCTL_RUN_ID\\" >> runs.log"], schedule: { every: 1h, align: true } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        for job in ["target", "other"] {
            let queued = try await SchedctlBinary.run(["backfill", job, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T02:00:00Z", "--config", config])
            #expect(queued.status == 0 && queued.stdout.contains("3 run(s) queued"), "\(queued.stdout)\(queued.stderr)")
        }

        let result = try await SchedctlBinary.run(["run", "target", "--config", config])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let manual = try #require(try await store.history(job: "target", limit: 10).first { $0.trigger == .manual })
        #expect(manual.state == .succeeded)
        #expect(fileLines(directory.file("runs.log")) == ["target \(manual.id)"])
        let others = try await store.history(limit: 20).filter { $0.id != manual.id }
        #expect(others.count == 6)
        #expect(others.allSatisfy { $0.state == .pending && $0.trigger == .backfill }, "\(others.map { "\($0.job) \($0.state)" })")
    }
}
