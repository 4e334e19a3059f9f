import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// `exec` children as real processes: their environment, and that no copy outlives its owner.
@Suite("exec children", .serialized)
struct ExecProcessTests {
    /// Live (not zombie) processes whose process group is `pgid`.
    func liveMembers(of pgid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[2]) == pgid, fields[0] != "Z", fields[0] != "X" else { return nil }
            return pid
        }
    }

    @Test func childrenGetTheRunIdentityAndNeverThePassphrase() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-exec-env")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        jobs:
          envjob: { type: exec, command: ["/bin/sh", "-c", "env > env.txt"], workdir: \(directory.path), schedule: { every: 1h } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await SchedctlBinary.run(
            ["run", "envjob", "--config", config], environment: ["SCHEDCTL_SSH_PASSPHRASE": "pass-phrase-never-shared"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let environment = Dictionary(
            fileLines(directory.file("env.txt")).compactMap { line -> (String, String)? in
                guard let equals = line.firstIndex(of: "=") else { return nil }
                return (String(line[..<equals]), String(line[line.index(after: equals)...]))
            }, uniquingKeysWith: { _, last in last })
        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let run = try #require(try await store.history(limit: 10).first)
        #expect(environment["SCHEDCTL_JOB"] == "envjob")
        #expect(environment["SCHEDCTL_RUN_ID"] == String(run.id))
        #expect(environment["SCHEDCTL_NOMINAL"] == Instant(seconds: run.nominal).iso8601)
        #expect(environment["SCHEDCTL_ATTEMPT"] == "1")
        #expect(environment["SCHEDCTL_GENERATION"].flatMap(Int64.init) ?? 0 >= 1)
        let key = try #require(environment["SCHEDCTL_IDEMPOTENCY_KEY"])
        #expect(key.hasPrefix("sc") && key.count <= 22)
        #expect(environment["SCHEDCTL_SSH_PASSPHRASE"] == nil)
        #expect(!((try? String(contentsOfFile: directory.file("env.txt"), encoding: .utf8)) ?? "").contains("pass-phrase-never-shared"))
    }

    @Test func aMissingProgramFailsTheRunWithTheReason() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-exec-missing")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        jobs:
          missing: { type: exec, command: ["no-such-program-anywhere"], schedule: { every: 1h } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await SchedctlBinary.run(["run", "missing", "--config", config])
        #expect(result.status == 1)
        #expect(result.stdout.contains("cannot start 'no-such-program-anywhere': no such program on PATH"), "\(result.stdout)")
    }

    /// `serve` is SIGKILLed while its child runs; the child's group has a grandchild that ignores
    /// SIGTERM and keeps appending. The next `serve` takes the run over: it must end that group
    /// before its own copy starts, so no line of the first copy follows the second copy's start.
    @Test func aTakerEndsTheOrphanedGroupBeforeStartingAgain() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-orphan")
            let config = directory.file("jobs.yaml")
            let log = directory.file("copies.log")
            // The first copy ticks for a minute; a later one (the file already has a start) briefly.
            let script = """
                if grep -q start copies.log 2>/dev/null; then n=5; else n=600; fi
                echo "start $SCHEDCTL_GENERATION $$" >> copies.log
                ( trap '' TERM; i=0; while [ $i -lt $n ]; do echo "tick $SCHEDCTL_GENERATION" >> copies.log; i=$((i+1)); sleep 0.1; done ) &
                wait
                echo "end $SCHEDCTL_GENERATION $$" >> copies.log
                """
            try script.write(toFile: directory.file("copy.sh"), atomically: true, encoding: .utf8)
            try """
            database: state.sqlite
            service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
            jobs:
              long:
                type: exec
                workdir: \(directory.path)
                command: ["/bin/sh", "copy.sh"]
                schedule: { every: 24h }
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let first = try SchedctlBinary.serve(config: config, log: directory.file("serve-1.log"))
            defer { kill(first.processIdentifier, SIGKILL) }
            let database = directory.file("state.sqlite")
            #expect(try await pollUntil { FileManager.default.fileExists(atPath: database) })
            let store = try StoreSchema.open(path: database)
            let live = try await pollUntil { try await !store.status(now: Date()).instances.isEmpty }
            #expect(live, "the first service never registered")
            let queued = try await SchedctlBinary.run(["run", "long", "--config", config])
            #expect(queued.status == 0 && queued.stdout.contains("queued for"), "\(queued.stdout)\(queued.stderr)")
            #expect(try await pollUntil { fileLines(log).filter { $0.hasPrefix("tick") }.count >= 3 }, "the first copy never ticked")
            kill(first.processIdentifier, SIGKILL)
            // Dead once it is a zombie or gone (who reaps it, and when, is Foundation's business).
            #expect(try await pollUntil { (try? String(contentsOfFile: "/proc/\(first.processIdentifier)/stat", encoding: .utf8))?.contains(") Z ") ?? true })
            let startLine = try #require(fileLines(log).first { $0.hasPrefix("start") })
            let firstGroup = try #require(Int32(startLine.split(separator: " ")[2]))
            let firstGeneration = String(startLine.split(separator: " ")[1])

            let second = try SchedctlBinary.serve(config: config, log: directory.file("serve-2.log"))
            defer { kill(second.processIdentifier, SIGKILL) }
            #expect(try await pollUntil { fileLines(log).contains { $0.hasPrefix("end") } }, "the second copy never finished")
            kill(second.processIdentifier, SIGTERM)
            try await exited(second)

            let all = fileLines(log)
            let starts = all.enumerated().filter { $0.element.hasPrefix("start") }
            #expect(starts.count == 2, "\(starts.map(\.element))")
            let secondStart = try #require(starts.last?.offset)
            let lateTicks = all[secondStart...].filter { $0 == "tick \(firstGeneration)" }
            #expect(lateTicks.isEmpty, "the first copy was still running when the second started: \(lateTicks.count) late ticks")
            #expect(!all.contains { $0.hasPrefix("end \(firstGeneration) ") })
            #expect(liveMembers(of: firstGroup).isEmpty, "the first copy's group survived")

            let run = try #require(try await store.history(job: "long", limit: 1).first)
            #expect(run.state == .succeeded)
            let events = try #require(try await store.run(id: run.id)).events
            #expect(events.contains { $0.kind == "orphan-terminated" && $0.message.contains("group \(firstGroup)") }, "\(events.map(\.kind))")
            // `show` prints the event's kind whole.
            let shown = try await SchedctlBinary.run(["show", String(run.id), "--config", config])
            #expect(
                shown.stdout.split(separator: "\n").contains { $0.contains("orphan-terminated ended ") && $0.contains("group \(firstGroup)") },
                "\(shown.stdout)")
        #endif
    }
}
