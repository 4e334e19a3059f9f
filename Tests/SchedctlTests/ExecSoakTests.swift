import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// Issue 19's soak, scaled to a test: three `serve` processes on one database, short leases,
/// exec jobs whose command works longer than their interval, random SIGKILLs of the services.
/// The command appends a line when it starts and when it ends: every execution is counted, not
/// the runs' own account of them.
@Suite("exec soak", .serialized)
struct ExecSoakTests {

    @Test func killedServicesNeverExecuteARunTwiceNorOverlapIt() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-soak")
            let config = directory.file("jobs.yaml")
            let log = directory.file("executions.log")
            try """
            echo "start $SCHEDCTL_JOB $SCHEDCTL_RUN_ID $SCHEDCTL_GENERATION" >> executions.log
            sleep 2
            echo "end $SCHEDCTL_JOB $SCHEDCTL_RUN_ID" >> executions.log
            """.write(toFile: directory.file("work.sh"), atomically: true, encoding: .utf8)
            let work = "type: exec, command: [/bin/sh, work.sh], workdir: \(directory.path)"
            try """
            database: state.sqlite
            service: { lease: 2s, shutdown_grace: 10s, log_level: notice }
            jobs:
              a: { \(work), schedule: { every: 1s, align: true } }
              b: { \(work), schedule: { every: 1s, align: true } }
              c: { \(work), schedule: { every: 2s, align: true } }
              d: { \(work), schedule: { every: 3s, align: true } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
            var random = SplitMix64(seed: 20_261_207)
            var services: [Process] = try (0..<3).map { try SchedctlBinary.serve(config: config, log: directory.file("serve-\($0).log")) }
            defer { for service in services where service.isRunning { kill(service.processIdentifier, SIGKILL) } }
            var kills = 0
            while kills < 10 {
                try await Task.sleep(for: .milliseconds(400 + Int(random.next() % 1200)))
                let victim = Int(random.next() % 3)
                kill(services[victim].processIdentifier, SIGKILL)
                try await exited(services[victim])
                kills += 1
                if random.next() % 3 == 0 { try await Task.sleep(for: .milliseconds(Int(random.next() % 1500))) }
                services[victim] = try SchedctlBinary.serve(config: config, log: directory.file("serve-\(victim).log"))
            }
            // No new occurrences from here on; what was started is finished or taken over.
            for job in ["a", "b", "c", "d"] {
                let paused = try await SchedctlBinary.run(["pause", job, "--config", config])
                #expect(paused.status == 0, "\(paused.stdout)\(paused.stderr)")
            }
            let store = try StoreSchema.open(path: directory.file("state.sqlite"))
            let settled = try await pollUntil(within: 90, every: .milliseconds(200)) {
                try await store.history(limit: 1_000_000).allSatisfy { $0.state != .running }
            }
            #expect(settled, "runs stayed running")
            for service in services {
                kill(service.processIdentifier, SIGTERM)
                try await exited(service)
            }

            let runs = try await store.history(limit: 1_000_000)
            let lines = fileLines(log).map { $0.split(separator: " ").map(String.init) }
            var starts: [String: Int] = [:]
            var ends: [String: Int] = [:]
            // Per job: the run whose execution is in progress (overlap: skip never lets two run).
            var inProgress: [String: String] = [:]
            var overlaps: [String] = []
            for line in lines where line.count >= 3 {
                let (kind, job, run) = (line[0], line[1], line[2])
                if kind == "start" {
                    starts[run, default: 0] += 1
                    if let other = inProgress[job] { overlaps.append("\(job): run \(run) started while run \(other) executed") }
                    inProgress[job] = run
                } else {
                    ends[run, default: 0] += 1
                    if inProgress[job] == run { inProgress[job] = nil }
                }
            }
            #expect(overlaps.isEmpty, "\(overlaps)")
            let succeeded = runs.filter { $0.state == .succeeded }
            #expect(succeeded.count > 10, "too few runs to say anything: \(succeeded.count)")
            // A run taken over more than `maxTakeovers` times is recorded abandoned; its one
            // execution (if it began) is still counted against it.
            let abandoned = runs.filter { $0.state == .abandoned && starts[String($0.id)] != nil }
            let executions = starts.values.reduce(0, +)
            #expect(
                executions == succeeded.count + abandoned.count,
                "\(executions) executions for \(succeeded.count) succeeded and \(abandoned.count) abandoned runs")
            for run in runs {
                let count = starts[String(run.id)] ?? 0
                switch run.state {
                case .succeeded:
                    #expect(count == 1 && ends[String(run.id)] == 1, "run #\(run.id) of \(run.job) executed \(count) times")
                case .abandoned:
                    #expect(count <= 1, "run #\(run.id) of \(run.job) (abandoned) executed \(count) times")
                default:
                    #expect(count == 0, "run #\(run.id) of \(run.job) (\(run.state)) executed \(count) times: \(run.error ?? run.reason ?? "")")
                }
            }
        #endif
    }
}
