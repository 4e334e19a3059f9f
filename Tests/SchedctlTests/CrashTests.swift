import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// Real processes on one database, killed with SIGKILL at random moments and restarted: every
/// due occurrence must end up run exactly once or recorded as skipped by policy, and its work (an
/// `exec` child appending a line) must have happened exactly once.
@Suite("Crash and multi-process", .serialized)
struct CrashTests {

    @Test func threeServicesKilledAtRandomLoseAndDoubleNothing() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-crash")
        let config = directory.file("jobs.yaml")
        // The work: append "KEY JOB NOMINAL" once per occurrence. A copy killed before it appended
        // may be run again; one that appended is recognised by its idempotency key.
        try """
        grep -q "^$SCHEDCTL_IDEMPOTENCY_KEY " effects.log 2>/dev/null && exit 0
        echo "$SCHEDCTL_IDEMPOTENCY_KEY $SCHEDCTL_JOB $SCHEDCTL_NOMINAL" >> effects.log
        """.write(toFile: directory.file("effect.sh"), atomically: true, encoding: .utf8)
        let work = "type: exec, command: [/bin/sh, effect.sh], workdir: \(directory.path)"
        try """
        database: state.sqlite
        service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
        jobs:
          a: { \(work), schedule: { every: 1s, align: true }, misfire: { policy: latest, grace: 2s } }
          b: { \(work), schedule: { every: 1s, align: true }, misfire: { policy: all, grace: 2s } }
          c: { \(work), schedule: { every: 2s, align: true }, misfire: { policy: skip, grace: 1s }, retry: 2 }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        var random = SplitMix64(seed: 20_261_122)
        var services: [Process] = try (0..<3).map { try SchedctlBinary.serve(config: config, log: directory.file("serve-\($0).log")) }
        // A fixed number of kills (not a time window): a loaded machine only makes it slower.
        var kills = 0
        while kills < 12 {
            try await Task.sleep(for: .milliseconds(300 + Int(random.next() % 900)))
            let victim = Int(random.next() % 3)
            kill(services[victim].processIdentifier, SIGKILL)
            try await exited(services[victim])
            kills += 1
            if random.next() % 3 == 0 { try await Task.sleep(for: .milliseconds(Int(random.next() % 1500))) }
            services[victim] = try SchedctlBinary.serve(config: config, log: directory.file("serve-\(victim).log"))
        }
        // Let the survivors take over what the last kills left behind, then stop gracefully.
        try await Task.sleep(for: .seconds(4))
        for service in services.dropLast() {
            kill(service.processIdentifier, SIGTERM)
            try await exited(service)
        }
        try await Task.sleep(for: .seconds(3))
        kill(services.last!.processIdentifier, SIGTERM)
        try await exited(services.last!)

        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let status = try await store.status(now: Date())
        let runs = try await store.history(limit: 1_000_000)
        #expect(runs.count > 20)
        let unfinished = runs.filter { !$0.state.isFinal }
        #expect(unfinished.isEmpty, "runs left unfinished: \(unfinished.map { "#\($0.id) \($0.job) \($0.state)" })")
        #expect(status.leases.isEmpty)
        for run in runs {
            #expect(run.state == .succeeded || run.state == .skipped, "run #\(run.id) of \(run.job) is \(run.state): \(run.error ?? "")")
            if run.state == .skipped {
                #expect(run.reason?.hasPrefix("misfire") == true || run.reason?.hasPrefix("overlap") == true, "run #\(run.id): \(run.reason ?? "")")
            }
        }
        // Every occurrence between a job's first sighting and its final watermark has exactly one run.
        for (name, step) in [("a", Int64(1)), ("b", 1), ("c", 2)] {
            let state = try #require(status.jobs[name])
            let first = Int64(state.firstSeen.rounded(.down))
            let last = try #require(state.watermark)
            var expected: [Int64] = []
            var t = (first / step + 1) * step
            while t <= last {
                expected.append(t)
                t += step
            }
            let recorded = runs.filter { $0.job == name }.map(\.nominal).sorted()
            #expect(recorded == expected, "job \(name): \(expected.count) occurrences due, \(recorded.count) recorded")
        }
        // The work of every succeeded run happened exactly once; a skipped run did none.
        let effects = ((try? String(contentsOfFile: directory.file("effects.log"), encoding: .utf8)) ?? "").split(separator: "\n")
        var done: [String: Int] = [:]
        var keys: [Substring: Int] = [:]
        for line in effects {
            let fields = line.split(separator: " ")
            guard fields.count == 3 else {
                Issue.record("malformed effect line: \(line)")
                continue
            }
            keys[fields[0], default: 0] += 1
            done["\(fields[1]) \(fields[2])", default: 0] += 1
        }
        #expect(keys.values.allSatisfy { $0 == 1 }, "an idempotency key was used twice")
        for run in runs {
            let count = done["\(run.job) \(Instant(seconds: run.nominal).iso8601)"] ?? 0
            #expect(count == (run.state == .succeeded ? 1 : 0), "run #\(run.id) of \(run.job) (\(run.state)): its work happened \(count) times")
        }
        #expect(effects.count == runs.filter { $0.state == .succeeded }.count)
    }
}
