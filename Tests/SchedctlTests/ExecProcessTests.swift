import Foundation
import GRDB
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

    /// `serve` is SIGKILLed while its command runs; the command's group has a grandchild that
    /// ignores SIGTERM and keeps appending. The next `serve` takes the run over and finds the
    /// command's supervisor alive: it waits for that copy's result and records it, and never
    /// starts a second copy. Nothing of the group is left afterwards.
    @Test func aTakerWaitsForTheRunningCopyInsteadOfStartingAnother() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-orphan")
            let config = directory.file("jobs.yaml")
            let log = directory.file("copies.log")
            let script = """
                echo "start $SCHEDCTL_GENERATION $(awk '{print $5}' /proc/$$/stat) $SCHEDCTL_IDEMPOTENCY_KEY" >> copies.log
                ( trap '' TERM; i=0; while [ $i -lt 40 ]; do echo "tick $SCHEDCTL_GENERATION" >> copies.log; i=$((i+1)); sleep 0.1; done ) &
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
            #expect(try await pollUntil { (try? String(contentsOfFile: "/proc/\(first.processIdentifier)/stat", encoding: .utf8))?.contains(") Z ") ?? true })
            let startLine = try #require(fileLines(log).first { $0.hasPrefix("start") })
            let firstGroup = try #require(Int32(startLine.split(separator: " ")[2]))

            let second = try SchedctlBinary.serve(config: config, log: directory.file("serve-2.log"))
            defer { kill(second.processIdentifier, SIGKILL) }
            let recorded = try await pollUntil(within: 60) { try await store.history(job: "long", limit: 1).first?.state.isFinal == true }
            #expect(recorded, "the run was never recorded")
            kill(second.processIdentifier, SIGTERM)
            try await exited(second)

            let all = fileLines(log)
            #expect(all.filter { $0.hasPrefix("start") }.count == 1, "the command executed again: \(all.filter { $0.hasPrefix("start") })")
            #expect(all.filter { $0.hasPrefix("tick") }.count == 40, "the first copy was cut short")
            #expect(all.contains { $0.hasPrefix("end ") })
            #expect(liveMembers(of: firstGroup).isEmpty, "the first copy's group survived")
            let run = try #require(try await store.history(job: "long", limit: 1).first)
            #expect(run.state == .succeeded)
            #expect(run.takeovers == 1)
            let events = try #require(try await store.run(id: run.id)).events
            #expect(events.contains { $0.kind == "exec-reattached" || $0.kind == "exec-result-adopted" }, "\(events.map(\.kind))")
        #endif
    }

    /// `serve` is SIGKILLed while its command runs, and a cancel is requested for the run (as a
    /// `cancel_previous` claim does). The next `serve` takes the run over and ends it `cancelled`
    /// without executing it; it must also stop the copy still running under its supervisor
    /// (found by pid and start time, signalled through its pidfd): the command appends no more
    /// lines and never reaches its end.
    @Test func aRunATakeoverCancelsStopsItsStillRunningCopy() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-takeover-cancel")
            let config = directory.file("jobs.yaml")
            let log = directory.file("copies.log")
            try """
            echo "start $SCHEDCTL_GENERATION $(awk '{print $5}' /proc/$$/stat)" >> copies.log
            i=0; while [ $i -lt 300 ]; do echo "tick" >> copies.log; i=$((i+1)); sleep 0.1; done
            echo "end" >> copies.log
            """.write(toFile: directory.file("copy.sh"), atomically: true, encoding: .utf8)
            try """
            database: state.sqlite
            service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
            jobs:
              long: { type: exec, workdir: \(directory.path), command: ["/bin/sh", "copy.sh"], schedule: { every: 24h } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let first = try SchedctlBinary.serve(config: config, log: directory.file("serve-1.log"))
            defer { kill(first.processIdentifier, SIGKILL) }
            let database = directory.file("state.sqlite")
            #expect(try await pollUntil { FileManager.default.fileExists(atPath: database) })
            let store = try StoreSchema.open(path: database)
            #expect(try await pollUntil { try await !store.status(now: Date()).instances.isEmpty })
            let queued = try await SchedctlBinary.run(["run", "long", "--config", config])
            #expect(queued.status == 0, "\(queued.stdout)\(queued.stderr)")
            #expect(try await pollUntil { fileLines(log).filter { $0 == "tick" }.count >= 3 }, "the copy never ticked")
            let startLine = try #require(fileLines(log).first { $0.hasPrefix("start") })
            let supervisor = try #require(Int32(startLine.split(separator: " ")[2]))
            kill(first.processIdentifier, SIGKILL)
            #expect(try await pollUntil { (try? String(contentsOfFile: "/proc/\(first.processIdentifier)/stat", encoding: .utf8))?.contains(") Z ") ?? true })
            let run = try #require(try await store.history(job: "long", limit: 1).first)
            try await store.writer.write { db in try db.execute(sql: "UPDATE run SET cancel_requested = 1 WHERE id = ?", arguments: [run.id]) }

            let second = try SchedctlBinary.serve(config: config, log: directory.file("serve-2.log"))
            defer { kill(second.processIdentifier, SIGKILL) }
            let recorded = try await pollUntil(within: 60) { try await store.history(job: "long", limit: 1).first?.state.isFinal == true }
            #expect(recorded, "the run was never recorded")
            #expect(try await store.history(job: "long", limit: 1).first?.state == .cancelled)
            // Stopped: nothing of the copy's group is left, well before its 30 s of ticks ended.
            let gone = try await pollUntil(within: 10) { liveMembers(of: supervisor).isEmpty }
            #expect(gone, "the cancelled run's copy still runs")
            let ticks = fileLines(log).filter { $0 == "tick" }.count
            kill(second.processIdentifier, SIGTERM)
            try await exited(second)
            #expect(fileLines(log).filter { $0 == "tick" }.count == ticks, "the copy appended after it was stopped")
            #expect(!fileLines(log).contains("end"), "the cancelled copy ran to its end")
            #expect(fileLines(log).filter { $0.hasPrefix("start") }.count == 1)
            let events = try #require(try await store.run(id: run.id)).events
            #expect(events.contains { $0.kind == "exec-stopped" }, "\(events.map(\.kind))")
        #endif
    }

    /// The supervisor itself dies (SIGKILL) with its command: no supervisor and no result, as
    /// after a reboot. The taker ends what is left of the group and executes the command again,
    /// with the same idempotency key.
    @Test func withNoSupervisorAndNoResultTheCommandRunsAgainWithTheSameKey() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-rerun")
            let config = directory.file("jobs.yaml")
            let log = directory.file("copies.log")
            try """
            if grep -q start copies.log 2>/dev/null; then n=1; else n=600; fi
            echo "start $SCHEDCTL_GENERATION $(awk '{print $5}' /proc/$$/stat) $SCHEDCTL_IDEMPOTENCY_KEY" >> copies.log
            sleep $n
            echo "end $SCHEDCTL_GENERATION" >> copies.log
            """.write(toFile: directory.file("copy.sh"), atomically: true, encoding: .utf8)
            try """
            database: state.sqlite
            service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
            jobs:
              long: { type: exec, workdir: \(directory.path), command: ["/bin/sh", "copy.sh"], schedule: { every: 24h } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let first = try SchedctlBinary.serve(config: config, log: directory.file("serve-1.log"))
            defer { kill(first.processIdentifier, SIGKILL) }
            let database = directory.file("state.sqlite")
            #expect(try await pollUntil { FileManager.default.fileExists(atPath: database) })
            let store = try StoreSchema.open(path: database)
            #expect(try await pollUntil { try await !store.status(now: Date()).instances.isEmpty })
            let queued = try await SchedctlBinary.run(["run", "long", "--config", config])
            #expect(queued.status == 0, "\(queued.stdout)\(queued.stderr)")
            #expect(try await pollUntil { fileLines(log).contains { $0.hasPrefix("start") } })
            let startLine = try #require(fileLines(log).first { $0.hasPrefix("start") })
            let supervisor = try #require(Int32(startLine.split(separator: " ")[2]))
            kill(first.processIdentifier, SIGKILL)
            // Dead once it is a zombie or gone (who reaps it, and when, is Foundation's business).
            #expect(try await pollUntil { (try? String(contentsOfFile: "/proc/\(first.processIdentifier)/stat", encoding: .utf8))?.contains(") Z ") ?? true })
            kill(supervisor, SIGKILL)
            let second = try SchedctlBinary.serve(config: config, log: directory.file("serve-2.log"))
            defer { kill(second.processIdentifier, SIGKILL) }
            let recorded = try await pollUntil(within: 60) { try await store.history(job: "long", limit: 1).first?.state.isFinal == true }
            #expect(recorded, "the run was never recorded")
            kill(second.processIdentifier, SIGTERM)
            try await exited(second)
            let starts = fileLines(log).filter { $0.hasPrefix("start") }
            #expect(starts.count == 2, "\(starts)")
            #expect(Set(starts.map { $0.split(separator: " ")[3] }).count == 1, "the key changed: \(starts)")
            #expect(try await store.history(job: "long", limit: 1).first?.state == .succeeded)
            // The first copy's `sleep 600` outlived its shell; the taker ended it before its own copy.
            #expect(liveMembers(of: supervisor).isEmpty, "the first copy's group survived")
        #endif
    }
}
