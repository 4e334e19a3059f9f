import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Testing

/// A test-only kind whose options parse refuses what its option kinds and check accept.
struct PickyJob: TypedJobKind {
    let name = "picky"
    let options = [OptionSpec("level", .string)]

    struct Options: JobOptions {
        init(job: JobSpec) throws {
            guard job.options["level"]?.stringValue != "impossible" else { throw JobFailure("level 'impossible' cannot be parsed", retryable: false) }
        }
    }

    func run(_ context: RunContext) async throws -> RunOutcome {
        _ = try context.job.options(as: Options.self)
        return RunOutcome(summary: "ok")
    }
}

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

    @Test("a parse failure the check missed is reported at the job, not dropped")
    func aParseFailureIsADiagnostic() throws {
        let registry = JobsRegistry(
            kinds: JobsRegistry.standard.kinds + [JobKindDescriptor { _ in PickyJob() }],
            components: JobsRegistry.standard.components)
        let file = directory.file("jobs.yaml")
        let yaml = "jobs:\n  fine: { type: noop, schedule: { every: 1h } }\n  p: { type: picky, level: impossible, schedule: { every: 1h } }\n"
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader(catalog: registry.catalog).load(text: yaml, file: file, baseDirectory: directory.path)
        }
        #expect(error.diagnostics.map(\.description) == ["\(file):3:3: jobs.p: level 'impossible' cannot be parsed"])
        let plan = try ConfigLoader(catalog: registry.catalog).load(
            text: yaml.replacingOccurrences(of: "impossible", with: "easy"), file: file, baseDirectory: directory.path)
        _ = try #require(plan.job(named: "p")).options(as: PickyJob.Options.self)
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
