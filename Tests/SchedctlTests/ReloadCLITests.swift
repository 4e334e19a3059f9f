import Foundation
import Jobs
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

/// `schedctl reload` signals the running service (SIGHUP), whose `ReloadOnHangup` service re-reads
/// the configuration: a real process, polled with a bounded deadline.
@Suite("Reload on SIGHUP", .serialized)
struct ReloadCLITests {
    /// Polls `condition` for up to `seconds` (a real process works at its own pace).
    func within(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        try await pollUntil(within: seconds, condition)
    }

    @Test func reloadAddsAJobToTheRunningServiceAndAnInvalidOneIsRejected() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-reload")
        let config = directory.file("jobs.yaml")
        let database = directory.file("state.sqlite")
        func write(_ jobs: String) throws {
            try "database: state.sqlite\nservice: { log_level: notice }\njobs:\n\(jobs)".write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write("  a: { type: exec, command: [/bin/true], schedule: { every: 1h } }\n")
        let log = directory.file("serve.log")
        let service = try SchedctlBinary.serve(config: config, log: log)
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        func status() async throws -> Store.Status? {
            guard FileManager.default.fileExists(atPath: database) else { return nil }
            return try await StoreSchema.open(path: database).status(now: Date())
        }
        #expect(try await within(30) { try await status()?.instances.isEmpty == false })

        try write("  a: { type: exec, command: [/bin/true], schedule: { every: 1h } }\n  b: { type: exec, command: [/bin/true], schedule: { every: 1h } }\n")
        let reload = try await SchedctlBinary.run(["reload", "--config", config])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(reload.stdout.contains("reload requested"))
        #expect(try await within(30) { try await status()?.jobs["b"] != nil })

        // An invalid file is logged and the running plan stays; the service keeps running.
        try write("  c: { type: exec, command: [/bin/true], schedule: { every: banana } }\n")
        #expect(try await SchedctlBinary.run(["reload", "--config", config]).status != 0)  // checked before signalling
        kill(service.processIdentifier, SIGHUP)
        #expect(try await within(30) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("reload rejected") })
        #expect(service.isRunning)

        kill(service.processIdentifier, SIGTERM)
        #expect(try await within(30) { !service.isRunning })
        #expect(service.terminationStatus == 0)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("configuration reloaded"))
        #expect(text.contains("stopped"))
    }

    /// The instance table names a pid; by the time `schedctl reload` runs, that pid may belong
    /// to another process (the service was killed and the pid reused, or the row is another
    /// container's). A stand-in for such a process counts the SIGHUPs it gets: rows whose boot,
    /// PID namespace or start time do not match it, and an older row registered before it
    /// started, are not signalled (exit 1, the reason on stderr); the row of the process itself
    /// is, exactly once.
    @Test func reloadNeverSignalsAProcessThatReusedAnInstancesPid() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-reload-pid")
        let config = directory.file("jobs.yaml")
        try "database: state.sqlite\njobs:\n  a: { type: exec, command: [/bin/true], schedule: { every: 1h } }\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let hups = directory.file("hups")
        let ready = directory.file("ready")
        let standIn = Process()
        standIn.executableURL = URL(fileURLWithPath: "/bin/sh")
        standIn.arguments = ["-c", "trap 'echo hup >> \(hups)' HUP; : > \(ready); i=0; while [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"]
        try standIn.run()
        defer { if standIn.isRunning { kill(standIn.processIdentifier, SIGKILL) } }
        #expect(try await within(30) { FileManager.default.fileExists(atPath: ready) })
        let pid = standIn.processIdentifier
        let start = try #require(ProcessTable.stat(pid)).start

        let store = try StoreSchema.open(path: directory.file("state.sqlite"))
        let now = Date().timeIntervalSince1970
        func row(_ id: String, startedAt: Double, boot: String? = nil, namespace: String? = nil, start: UInt64? = nil) -> InstanceRecord {
            InstanceRecord(
                id: id, pid: Int(pid), host: ProcessInfo.processInfo.hostName, startedAt: startedAt, heartbeatAt: now, state: "running",
                config: config, boot: boot, pidNamespace: namespace, pidStart: start.map { Int64($0) })
        }
        let here = ProcessIdentity.current
        let impostors = [
            row("reused-pid", startedAt: now - 60, boot: here.boot, namespace: here.pidNamespace, start: start - 1),
            row("other-container", startedAt: now - 60, boot: here.boot, namespace: "pid:[1]", start: start),
            row("before-reboot", startedAt: now - 60, boot: "another-boot", namespace: here.pidNamespace, start: start),
            row("older-row", startedAt: now - 3600),
        ]
        for instance in impostors { try await store.heartbeat(instance: instance) }
        let refused = try await SchedctlBinary.run(["reload", "--config", config])
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        for instance in impostors { #expect(refused.stderr.contains("not signalled: \(instance.id)"), "\(refused.stderr)") }
        #expect(refused.stderr.contains("now belongs to another process"))
        #expect(!refused.stdout.contains("reload requested"))

        for instance in impostors { try await store.removeInstance(instance.id) }
        try await store.heartbeat(instance: row("itself", startedAt: now, boot: here.boot, namespace: here.pidNamespace, start: start))
        let signalled = try await SchedctlBinary.run(["reload", "--config", config])
        #expect(signalled.status == 0, "\(signalled.stderr)")
        #expect(signalled.stdout.contains("reload requested: itself"))
        #expect(try await within(30) { fileLines(hups).count >= 1 })
        #expect(fileLines(hups) == ["hup"])
        #expect(standIn.isRunning)
    }
}
