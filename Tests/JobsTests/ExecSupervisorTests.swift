import Foundation
import Logging
import SchedctlBase
import SchedctlTesting
import Testing

@testable import Jobs
@testable import Scheduler

/// The `exec` supervisor as a real process: the result it writes, and that nothing of a command
/// is left when an attempt returns.
@Suite("exec supervisor", .serialized)
struct ExecSupervisorTests {
    @Test(
        "a result file parses into the command's status, whether it was stopped, and its output tail",
        arguments: [
            ("schedctl-result 1\nstatus exit 0\nterminated 0\n\nhello\n", ExecResult(status: .exited(0), terminated: false, tail: "hello\n")),
            ("schedctl-result 1\nstatus exit 3\nterminated 0\n\n", ExecResult(status: .exited(3), terminated: false, tail: "")),
            ("schedctl-result 1\nstatus signal 15\nterminated 1\n\nx\n\ny", ExecResult(status: .signaled(15), terminated: true, tail: "x\n\ny")),
            ("schedctl-result 1\nstatus error 2\nterminated 0\n\n", ExecResult(status: .notStarted(2), terminated: false, tail: "")),
        ] as [(String, ExecResult)])
    func resultsParse(text: String, expected: ExecResult) {
        #expect(ExecResult.parse(Data(text.utf8)) == expected)
    }

    @Test(
        "anything else is not a result",
        arguments: ["", "schedctl-result 2\nstatus exit 0\nterminated 0\n\n", "status exit 0\n\n", "schedctl-result 1\nstatus exit x\nterminated 0\n\n"])
    func garbageIsNoResult(text: String) {
        #expect(ExecResult.parse(Data(text.utf8)) == nil)
    }

    /// Live (not zombie) processes of group `pgid`.
    func members(of pgid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), let stat = ProcessTable.stat(pid), stat.pgrp == pgid, stat.state != "Z" else { return nil }
            return pid
        }
    }

    func context(_ command: [String], directory: TemporaryDirectory, checkpoints: MemoryCheckpoints, timeout: Duration? = nil) throws -> RunContext {
        let job = try JobsRegistry.standard.parsed(
            JobSpec(
                name: "cmd", kind: "exec", schedule: Schedule(.interval(seconds: 3600, aligned: true, zone: .utc)), timeout: timeout,
                options: ["command": .list(command.map { .string($0) }), "workdir": .string(directory.path)]))
        return RunContext(
            job: job, runID: 7, nominal: Instant(seconds: 1_800_000_000), attempt: 1, generation: 1, logger: Logger(label: "test"),
            checkpoints: checkpoints, stateDirectory: directory.file("state.d"))
    }

    /// The command leaves a child that ignores SIGTERM and a `setsid` daemon behind, then exits:
    /// the attempt returns only when both are gone, with the command's own status and output.
    @Test func leftoversOfACommandAreEndedBeforeTheAttemptReturns() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-supervise")
            let checkpoints = MemoryCheckpoints()
            let script = """
                ( trap '' TERM; while true; do echo tick >> ticks.log; sleep 0.1; done ) &
                setsid sh -c 'while true; do echo daemon >> ticks.log; sleep 0.1; done' &
                echo done-here
                exit 0
                """
            var kind = ExecJob()
            kind.killGrace = .milliseconds(300)
            let outcome = try await kind.run(try context(["/bin/sh", "-c", script], directory: directory, checkpoints: checkpoints))
            #expect(outcome.summary == "exit 0")
            #expect(outcome.detail?.contains("done-here") == true)
            let identity = try #require(ExecCheckpoint.decode(try await checkpoints.load())?.running)
            #expect(members(of: identity.pgid).isEmpty, "the command's group survived")
            let lines = fileLines(directory.file("ticks.log")).count
            try await Task.sleep(for: .milliseconds(400))
            #expect(fileLines(directory.file("ticks.log")).count == lines, "something of the command still appends")
        #endif
    }

    /// A timeout ends the whole group (a SIGTERM-ignoring child included) before the attempt ends.
    @Test func aTimeoutEndsTheWholeGroupBeforeTheAttemptEnds() async throws {
        #if os(Linux)
            let directory = TemporaryDirectory(prefix: "schedctl-supervise-timeout")
            let checkpoints = MemoryCheckpoints()
            let script = "( trap '' TERM; while true; do echo tick >> ticks.log; sleep 0.1; done ) & sleep 30"
            var kind = ExecJob()
            kind.killGrace = .milliseconds(300)
            let runContext = try context(["/bin/sh", "-c", script], directory: directory, checkpoints: checkpoints)
            let result = await Engine.attempt(kind: kind, context: runContext, timeout: .milliseconds(500), clock: ContinuousClock())
            guard case .failure(let error) = result else {
                Issue.record("the attempt did not time out")
                return
            }
            #expect(error is Engine.TimedOut)
            let identity = try #require(ExecCheckpoint.decode(try await checkpoints.load())?.running)
            #expect(members(of: identity.pgid).isEmpty, "the command's group outlived the attempt")
        #endif
    }
}
