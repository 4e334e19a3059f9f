import Foundation
import Jobs
import Logging
import SchedctlBase
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// An "outside world" that counts side effects by key: a file of appended lines, like an exec
/// job's output or a broker's order book.
final class SideEffectLog: Sendable {
    let path: String
    init(path: String) {
        self.path = path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
    }
    func append(_ key: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((key + "\n").utf8))
    }
    var lines: [String] { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
}

/// A job kind with two journaled side effects and a gate between them, so a test can crash
/// the owner in the middle; the first `loseResponses` acts do their side effect and then throw
/// (the request went out, the answer was lost).
struct TwoStepJob: JobKind {
    let name = "two-step"
    let options: [OptionSpec] = []
    let log: SideEffectLog
    let gate: Gate
    let loseResponses: Countdown

    struct State: Codable, Sendable { var stepsDone = 0 }

    func run(_ context: RunContext) async throws -> RunOutcome {
        let journal = try await IntentJournal.open(context, initial: State())
        for step in ["one", "two"] {
            let log = self.log
            let lose = self.loseResponses
            let id: String = try await journal.perform(step: step, target: "world", what: "append \(step)") { key in
                log.lines.contains(key) ? "found-\(key)" : nil
            } act: { key in
                try log.append(key)
                if lose.take() { throw JobFailure("response lost") }
                return "sent-\(key)"
            }
            try await journal.update { $0.stepsDone += 1 }
            context.logger.debug("step", metadata: ["id": "\(id)"])
            if step == "one" { await gate.wait() }
        }
        return RunOutcome(summary: "done")
    }
}

/// Counts down from `n`: `take()` answers true `n` times.
final class Countdown: Sendable {
    private let left: Mutex<Int>
    init(_ n: Int) { left = Mutex(n) }
    func take() -> Bool {
        left.withLock { n in
            defer { n = max(0, n - 1) }
            return n > 0
        }
    }
}

/// A gate a test opens by hand; `entered` counts the waiters that arrived.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, entered: Int, waiters: [CheckedContinuation<Void, Never>])>((false, 0, []))
    var entered: Int { state.withLock { $0.entered } }
    func wait() async {
        await withCheckedContinuation { continuation in
            let resume = state.withLock { s -> Bool in
                s.entered += 1
                if s.open { return true }
                s.waiters.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

@Suite("Intent journal on a real store")
struct IntentJournalTests {
    let directory = TemporaryDirectory()
    let wall = ManualWallClock("2026-11-23T15:59:59Z")
    let clock = ManualClock()

    func engine(_ store: Store, kind: TwoStepJob, id: String, retry: RetryPolicy = RetryPolicy()) -> (Engine, JobSpec) {
        let job = JobSpec(
            name: "journaled", kind: "two-step", schedule: Schedule(.interval(seconds: 3600, aligned: true, zone: .utc)), misfire: MisfirePolicy(),
            overlap: .skip, retry: retry, timeout: nil)
        var service = ServiceSettings()
        service.leaseDuration = .seconds(10)
        service.shutdownGrace = .zero
        let plan = Plan(
            source: "test.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: [:], strategies: [:], notifiers: [:],
            calendars: [:], service: service, jobs: [job])
        let engine = Engine(
            store: store, plan: plan, registry: JobKindRegistry([kind]),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: id, wall: wall.source,
            clock: clock, random: { 0.5 })
        return (engine, job)
    }

    @Test func aTakeoverNeverRepeatsAStepWhoseOutcomeIsRecorded() async throws {
        let store = try Store(path: directory.file("state.sqlite"))
        let log = SideEffectLog(path: directory.file("effects.log"))
        let gate = Gate()
        let kind = TwoStepJob(log: log, gate: gate, loseResponses: Countdown(0))
        let (a, _) = engine(store, kind: kind, id: "a")
        try await a.start()
        wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        while gate.entered < 1 { await Task.yield() }
        await a.abandonForTesting()  // a crash after step one
        wall.advance(11)
        let (b, _) = engine(store, kind: kind, id: "b")
        try await b.start()
        gate.open()
        await b.tick()  // b first sees the lease; it lapses after a lease of b's monotonic time
        clock.advance(by: .seconds(11))
        await b.tick()
        await b.waitForIdle()
        let runs = try await store.history(job: "journaled", limit: 10)
        #expect(runs.map(\.state) == [.succeeded])
        let keys = log.lines
        #expect(keys.count == 2, "each step's side effect happened once: \(keys)")
        #expect(Set(keys).count == keys.count)
        let first = try #require(runs.first)
        let detail = try #require(try await store.run(id: first.id))
        #expect(detail.checkpoint?.contains("\"step\":\"two\"") == true)
    }

    @Test func aLostResponseIsReconciledInsteadOfSentAgain() async throws {
        let store = try Store(path: directory.file("state.sqlite"))
        let log = SideEffectLog(path: directory.file("effects.log"))
        let gate = Gate()
        gate.open()
        let kind = TwoStepJob(log: log, gate: gate, loseResponses: Countdown(1))
        let retry = RetryPolicy(attempts: 2, backoff: .seconds(1), jitter: false)
        let (a, _) = engine(store, kind: kind, id: "a", retry: retry)
        try await a.start()
        wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        await a.waitForIdle()
        wall.advance(5)
        await a.tick()
        await a.waitForIdle()
        let runs = try await store.history(job: "journaled", limit: 10)
        #expect(runs.map(\.state) == [.succeeded])
        #expect(log.lines.count == 2, "the lost response's step was reconciled, not repeated: \(log.lines)")
        let first = try #require(runs.first)
        let detail = try #require(try await store.run(id: first.id))
        #expect(detail.checkpoint?.contains("found-") == true)
    }
}
