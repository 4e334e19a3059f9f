import Foundation
import Jobs
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
}
