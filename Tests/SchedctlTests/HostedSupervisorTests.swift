import Foundation
import SchedctlTesting
import Testing

/// `swift run schedctl serve` builds no `schedctl-supervise`: without one beside it, on PATH or
/// in `SCHEDCTL_SUPERVISOR`, `schedctl` runs the supervisor itself (`schedctl __exec-supervisor`).
@Suite("The supervisor hosted by schedctl")
struct HostedSupervisorTests {
    @Test func anExecJobRunsOnceUnderSchedctlItselfWhenNoSupervisorIsInstalled() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-hosted-supervisor")
        let copy = directory.file("schedctl")
        try FileManager.default.copyItem(atPath: SchedctlBinary.path(), toPath: copy)
        try """
        database: state.sqlite
        jobs:
          hello:
            type: exec
            command: ["/bin/sh", "-c", "echo once >> effects.txt; tr '\\\\0' ' ' < /proc/$PPID/cmdline > parent.txt"]
            schedule: { every: 1h }
        """.write(toFile: directory.file("jobs.yaml"), atomically: true, encoding: .utf8)
        let result = try await offPool { () -> (Int32, String) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: copy)
            process.arguments = ["run", "hello", "--config", directory.file("jobs.yaml")]
            process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path, "SCHEDCTL_SUPERVISOR": ""]
            process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        #expect(result.0 == 0, "\(result.1)")
        #expect(result.1.contains("succeeded"), "\(result.1)")
        let effects = (try? String(contentsOfFile: directory.file("effects.txt"), encoding: .utf8)) ?? ""
        #expect(effects.split(separator: "\n") == ["once"], "the command ran exactly once")
        let parent = (try? String(contentsOfFile: directory.file("parent.txt"), encoding: .utf8)) ?? ""
        #expect(parent.hasPrefix(copy + " __exec-supervisor "), "the command's parent is schedctl as its supervisor: \(parent)")
    }
}
