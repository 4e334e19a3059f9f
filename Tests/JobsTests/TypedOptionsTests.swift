import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// Options are parsed once, at load, into each kind's type; a run reads only that value.
@Suite("typed options: parsed once at load")
struct TypedOptionsTests {
    let directory = TemporaryDirectory()

    func load(_ yaml: String) throws -> Plan {
        try ConfigLoader(catalog: JobsRegistry.standard.catalog).load(text: yaml, file: directory.file("jobs.yaml"), baseDirectory: directory.path)
    }

    @Test("the loader parses every job into its kind's options type")
    func theLoaderParsesEachJob() throws {
        let plan = try load(
            """
            jobs:
              quiet: { type: noop, schedule: { every: 1h } }
              backup: { type: exec, command: [/bin/echo, hi], workdir: /tmp, env: { TZ: UTC }, schedule: { every: 1h } }
            """)
        let backup = try #require(plan.job(named: "backup"))
        let exec = try backup.options(as: ExecOptions.self)
        #expect(exec.command == ["/bin/echo", "hi"] && exec.workdir == "/tmp" && exec.env == ["TZ": .text("UTC")] && exec.inheritEnv)
        _ = try #require(plan.job(named: "quiet")).options(as: NoopJob.Options.self)
        #expect(JobsRegistry.standard.catalog.jobOptions.keys.sorted() == JobsRegistry.standard.kinds.map(\.name).sorted())
    }

    @Test("a spec the loader did not make, or whose options changed, fails clearly instead of being parsed at run time")
    func aSpecNotMadeByTheLoaderFailsClearly() throws {
        let made = JobSpec(
            name: "backup", kind: "exec", schedule: Schedule(.interval(seconds: 60, aligned: true, zone: .utc)),
            options: ["command": .list([.string("/bin/true")])])
        let error = try #require(throws: JobFailure.self) { try made.options(as: ExecOptions.self) }
        #expect(error.message == "job 'backup' (type exec) has no parsed options: a job reaches its kind only as the configuration loader made it")
        #expect(error.retryable == false)
        var parsed = try JobsRegistry.standard.parsed(made)
        #expect(try parsed.options(as: ExecOptions.self).command == ["/bin/true"])
        #expect(throws: JobFailure.self) { try parsed.options(as: TokenRenewalOptions.self) }
        parsed.options["command"] = .list([.string("/bin/false")])
        #expect(throws: JobFailure.self) { try parsed.options(as: ExecOptions.self) }
    }
}
