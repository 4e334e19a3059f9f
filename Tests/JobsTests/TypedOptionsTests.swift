import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Synchronization
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

/// A test-only kind whose options are their own check (``CheckedJobOptions``); it counts every
/// parse, by the job's `tag`, so a test can see how often the loader parsed a job.
struct CountedJob: TypedJobKind {
    let name = "counted"
    let options = [OptionSpec("tag", .string, required: true), OptionSpec("broker", .brokerReference), OptionSpec("limit", .number)]
    static let parses = Mutex<[String: Int]>([:])

    struct Options: CheckedJobOptions {
        var tag: String
        var broker: String?
        var limit: Decimal?

        init(options: [String: ConfigValue], problems: inout [OptionProblem]) {
            tag = options["tag"]?.stringValue ?? ""
            broker = options["broker"]?.stringValue
            limit = options["limit"]?.numberValue
            if let limit, limit <= 0 { problems.append(OptionProblem(key: "limit", message: "must be greater than zero")) }
            CountedJob.parses.withLock { $0[tag, default: 0] += 1 }
        }

        init(job: JobSpec) throws {
            var problems: [OptionProblem] = []
            self.init(options: job.options, problems: &problems)
            if let first = problems.first { throw JobFailure("\(first.key): \(first.message)", retryable: false) }
        }

        func problems(brokers: [String: ComponentSpec], strategies: [String: ComponentSpec]) -> [OptionProblem] {
            guard let broker, let spec = brokers[broker], spec.type != "paper" else { return [] }
            return [OptionProblem(key: "broker", message: "broker '\(broker)' is not a paper broker")]
        }
    }

    func run(_ context: RunContext) async throws -> RunOutcome {
        RunOutcome(summary: try context.job.options(as: Options.self).tag)
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
        #expect(error.kind == .configuration)
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
        #expect(error.kind == .jobFailed)
        var parsed = try JobsRegistry.standard.parsed(made)
        #expect(try parsed.options(as: ExecOptions.self).command == ["/bin/true"])
        let otherType = #expect(throws: JobFailure.self) { try parsed.options(as: TokenRenewalOptions.self) }
        #expect(otherType?.kind == .jobFailed)
        parsed.options["command"] = .list([.string("/bin/false")])
        let changed = #expect(throws: JobFailure.self) { try parsed.options(as: ExecOptions.self) }
        #expect(changed?.kind == .jobFailed)
    }

    @Test("options that are their own check are parsed once per job, their problems reported at the key")
    func checkedOptionsAreParsedOnce() throws {
        let registry = JobsRegistry(
            kinds: JobsRegistry.standard.kinds + [JobKindDescriptor { _ in CountedJob() }], components: JobsRegistry.standard.components)
        let tag = "once-\(UUID().uuidString)"
        let file = directory.file("jobs.yaml")
        let yaml = """
            brokers:
              paper: { type: paper }
              ts: { type: tradestation, environment: sim, account: A1, client_id: secret:ts/id, client_secret: secret:ts/secret }
            jobs:
              a: { type: counted, tag: \(tag), broker: paper, schedule: { every: 1h } }
              b: { type: counted, tag: \(tag), limit: 5, schedule: { every: 1h } }
              c: { type: counted, tag: \(tag), schedule: { every: 1h } }
            """
        let plan = try ConfigLoader(catalog: registry.catalog).load(text: yaml, file: file, baseDirectory: directory.path)
        #expect(CountedJob.parses.withLock { $0[tag] } == 3, "one parse per job: the check and the typed value are the same parse")
        #expect(try plan.jobs.map { try $0.options(as: CountedJob.Options.self).tag } == [tag, tag, tag])
        #expect(try #require(plan.job(named: "b")).options(as: CountedJob.Options.self).limit == 5)

        let bad = yaml.replacingOccurrences(of: "limit: 5", with: "limit: -1").replacingOccurrences(of: "broker: paper", with: "broker: ts")
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader(catalog: registry.catalog).load(text: bad, file: file, baseDirectory: directory.path)
        }
        #expect(error.kind == .configuration)
        let lines = bad.components(separatedBy: "\n")
        let brokerColumn = try #require(lines[4].range(of: "ts,")).lowerBound.utf16Offset(in: lines[4]) + 1
        // (Found after its key: the tag, a UUID, may contain "-1" too.)
        let limitColumn = try #require(lines[5].range(of: "limit: -1")).lowerBound.utf16Offset(in: lines[5]) + 1 + "limit: ".count
        #expect(
            error.diagnostics.map(\.description) == [
                "\(file):5:\(brokerColumn): jobs.a.broker: broker 'ts' is not a paper broker",
                "\(file):6:\(limitColumn): jobs.b.limit: must be greater than zero",
            ])
        #expect(CountedJob.parses.withLock { $0[tag] } == 6)
    }
}
