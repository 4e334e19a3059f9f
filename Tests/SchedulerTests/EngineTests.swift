import Foundation
import Logging
import SchedctlBase
import SchedctlTesting
import Testing

@testable import Scheduler

/// A test bed: one database file, a manual wall clock and monotonic clock, a scripted job kind.
struct Bed {
    let directory = TemporaryDirectory()
    let wall: ManualWallClock
    let clock = ManualClock()
    let kind: ScriptedJob
    let store: Store

    init(start: String = "2026-11-23T15:00:00Z", behaviour: ScriptedJob.Behaviour = .succeed) throws {
        wall = ManualWallClock(start)
        kind = ScriptedJob(behaviour: behaviour)
        store = try Store(path: directory.file("state.sqlite"))
    }

    func plan(_ jobs: [JobSpec], maxConcurrent: Int = 8, lease: Duration = .seconds(30), grace: Duration = .zero) -> Plan {
        var service = ServiceSettings()
        service.maxConcurrentRuns = maxConcurrent
        service.leaseDuration = lease
        service.shutdownGrace = grace
        return Plan(
            source: "test.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: [:], strategies: [:], notifiers: [:],
            calendars: [:], service: service, jobs: jobs)
    }

    func engine(
        _ jobs: [JobSpec], id: String = "test-a", maxConcurrent: Int = 8, lease: Duration = .seconds(30), grace: Duration = .zero,
        kinds: [any JobKind]? = nil
    ) -> Engine {
        Engine(
            store: store, plan: plan(jobs, maxConcurrent: maxConcurrent, lease: lease, grace: grace), registry: JobKindRegistry(kinds ?? [kind]),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: id, wall: wall.source,
            clock: clock,
            random: { 0.5 })
    }

    func runs(_ job: String? = nil) async throws -> [RunRecord] {
        try await store.history(job: job, limit: 10_000).sorted { ($0.nominal, $0.id) < ($1.nominal, $1.id) }
    }
}

func every(
    _ name: String, seconds: Int64, misfire: MisfirePolicy = MisfirePolicy(), overlap: OverlapPolicy = .skip, retry: RetryPolicy = RetryPolicy(),
    timeout: Duration? = nil, kind: String = "scripted"
) -> JobSpec {
    JobSpec(
        name: name, kind: kind, schedule: Schedule(.interval(seconds: seconds, aligned: true, zone: .utc)), misfire: misfire, overlap: overlap,
        retry: retry, timeout: timeout)
}

/// Ticks at the current wall time and waits until the started runs have finished.
func tickAndSettle(_ engine: Engine) async {
    await engine.tick()
    await engine.waitForIdle()
}

@Suite("Engine on the injected clock")
struct EngineTests {
    @Test func runsEachOccurrenceOnceOnTime() async throws {
        let bed = try Bed()
        let engine = bed.engine([every("minutely", seconds: 60)])
        try await engine.start()
        await tickAndSettle(engine)
        #expect(try await bed.runs().isEmpty)
        for _ in 0..<3 {
            bed.wall.advance(60)
            await tickAndSettle(engine)
            await tickAndSettle(engine)
        }
        let runs = try await bed.runs()
        #expect(runs.map(\.nominalInstant.iso8601) == ["2026-11-23T15:01:00Z", "2026-11-23T15:02:00Z", "2026-11-23T15:03:00Z"])
        #expect(runs.allSatisfy { $0.state == .succeeded && $0.attempt == 1 })
    }

    @Test(arguments: [MisfirePolicy.Mode.latest, .all, .skip])
    func downtimeThenRestart(mode: MisfirePolicy.Mode) async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60, misfire: MisfirePolicy(mode: mode, grace: .seconds(30)))
        let first = bed.engine([job])
        try await first.start()
        bed.wall.advance(60)
        await tickAndSettle(first)
        // Down for ten minutes and 45 seconds: occurrences 15:02 … 15:11 fall due while down.
        bed.wall.set("2026-11-23T15:11:45Z")
        let second = bed.engine([job], id: "test-b")
        try await second.start()
        await tickAndSettle(second)
        let missed = try await bed.runs().filter { $0.nominalInstant > (try! Instant(iso8601: "2026-11-23T15:01:00Z")) }
        #expect(missed.count == 10)
        let ran = missed.filter { $0.state == .succeeded }
        let skipped = missed.filter { $0.state == .skipped }
        switch mode {
        case .latest:
            #expect(ran.map(\.nominalInstant.iso8601) == ["2026-11-23T15:11:00Z"])
            #expect(skipped.count == 9)
            #expect(skipped.allSatisfy { $0.reason == "misfire: superseded by a later occurrence" })
        case .all:
            #expect(ran.count == 10)
        case .skip:
            #expect(ran.isEmpty)
            #expect(skipped.count == 10)
            #expect(skipped.first?.reason == "misfire: 585s late, grace 30s")
        }
    }

    @Test func overlapSkipRecordsTheSkippedOccurrence() async throws {
        let bed = try Bed(behaviour: .block)
        let engine = bed.engine([every("slow", seconds: 60, overlap: .skip)])
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        bed.wall.advance(60)
        await engine.tick()
        bed.kind.release()
        await engine.waitForIdle()
        let runs = try await bed.runs()
        #expect(runs.map(\.state) == [.succeeded, .skipped])
        #expect(runs[1].reason == "overlap: run #\(runs[0].id) is still active")
    }

    @Test func overlapBufferOneKeepsOneWaiting() async throws {
        let bed = try Bed(behaviour: .block)
        let engine = bed.engine([every("slow", seconds: 60, overlap: .bufferOne)])
        try await engine.start()
        for _ in 0..<3 {
            bed.wall.advance(60)
            await engine.tick()
        }
        var runs = try await bed.runs()
        #expect(runs.map(\.state) == [.running, .pending, .skipped])
        bed.kind.release()
        await engine.waitForIdle()
        await tickAndSettle(engine)
        runs = try await bed.runs()
        #expect(runs.map(\.state) == [.succeeded, .succeeded, .skipped])
        #expect(runs[2].reason == "overlap: occurrence #\(runs[1].id) is already waiting")
    }

    @Test func overlapAllowRunsConcurrently() async throws {
        let bed = try Bed(behaviour: .block)
        let engine = bed.engine([every("slow", seconds: 60, overlap: .allow)])
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        bed.wall.advance(60)
        await engine.tick()
        #expect(try await bed.runs().map(\.state) == [.running, .running])
        #expect(await engine.executingCount == 2)
        bed.kind.release()
        await engine.waitForIdle()
        #expect(try await bed.runs().map(\.state) == [.succeeded, .succeeded])
    }

    @Test func overlapCancelPreviousCancelsTheRunningRun() async throws {
        let bed = try Bed(behaviour: .block)
        let engine = bed.engine([every("slow", seconds: 60, overlap: .cancelPrevious)])
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        bed.wall.advance(60)
        await engine.tick()
        bed.kind.release()
        await engine.waitForIdle()
        let runs = try await bed.runs()
        #expect(runs.map(\.state) == [.cancelled, .succeeded])
        #expect(runs[0].reason?.hasPrefix("cancelled: replaced by a newer occurrence") == true)
    }

    @Test func retriesWithBackoffUntilSuccess() async throws {
        let bed = try Bed(behaviour: .failFirst(2))
        let job = every("flaky", seconds: 3600, retry: RetryPolicy(attempts: 3, backoff: .seconds(10), maxBackoff: .seconds(60), jitter: false))
        let engine = bed.engine([job])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await tickAndSettle(engine)
        var run = try #require(try await bed.runs().first)
        #expect(run.state == .pending)
        #expect(run.dueAt == Double(try Instant(iso8601: "2026-11-23T16:00:10Z").seconds))
        bed.wall.advance(9)
        await tickAndSettle(engine)
        #expect(bed.kind.attempts.count == 1)
        bed.wall.advance(1)
        await tickAndSettle(engine)
        run = try #require(try await bed.runs().first)
        #expect(run.state == .pending)
        #expect(run.error == "scripted failure 2")
        bed.wall.advance(20)
        await tickAndSettle(engine)
        run = try #require(try await bed.runs().first)
        #expect(run.state == .succeeded)
        #expect(run.attempt == 3)
        #expect(bed.kind.attempts.map(\.attempt) == [1, 2, 3])
        let events = try #require(try await bed.store.run(id: run.id)).events.map(\.kind)
        #expect(events == ["started", "retry", "started", "retry", "started", "succeeded"])
    }

    @Test func retriesStopAtTheLastAttempt() async throws {
        let bed = try Bed(behaviour: .failFirst(5))
        let job = every("broken", seconds: 3600, retry: RetryPolicy(attempts: 2, backoff: .seconds(5), jitter: false))
        let engine = bed.engine([job])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await tickAndSettle(engine)
        bed.wall.advance(5)
        await tickAndSettle(engine)
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .failed)
        #expect(run.error == "scripted failure 2")
    }

    @Test func timeoutCancelsTheAttempt() async throws {
        let bed = try Bed(behaviour: .block)
        let engine = bed.engine([every("stuck", seconds: 3600, timeout: .seconds(5))])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await engine.tick()
        while bed.clock.sleeperCount == 0 || bed.kind.blockedCount == 0 { await Task.yield() }
        bed.clock.advance(by: .seconds(5))
        await engine.waitForIdle()
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .failed)
        #expect(run.error == "timed out after 5s")
        #expect(bed.kind.cancelledCount == 1)
    }

    @Test func pauseAndResumeRecordTheMissedOccurrences() async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60)
        let engine = bed.engine([job])
        try await engine.start()
        #expect(try await bed.store.pause(job: job, now: bed.wall.now()))
        for _ in 0..<5 {
            bed.wall.advance(60)
            await tickAndSettle(engine)
        }
        #expect(try await bed.runs().isEmpty)
        let skipped = try await bed.store.resume(job: job, now: bed.wall.now(), catchUp: false)
        #expect(skipped == 5)
        bed.wall.advance(60)
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        let runs = try await bed.runs()
        #expect(runs.map(\.state) == [.skipped, .skipped, .skipped, .skipped, .skipped, .succeeded])
        #expect(runs.first?.reason == "paused")
    }

    @Test func resumeWithCatchUpAppliesTheMisfirePolicy() async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60, misfire: MisfirePolicy(mode: .latest, grace: .seconds(30)))
        let engine = bed.engine([job])
        try await engine.start()
        _ = try await bed.store.pause(job: job, now: bed.wall.now())
        bed.wall.advance(300)
        await tickAndSettle(engine)
        _ = try await bed.store.resume(job: job, now: bed.wall.now(), catchUp: true)
        bed.wall.advance(1)
        await tickAndSettle(engine)
        let runs = try await bed.runs()
        #expect(runs.map(\.state) == [.skipped, .skipped, .skipped, .skipped, .succeeded])
    }

    @Test func wallClockJumpsNeitherDoubleNorLose() async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60, misfire: MisfirePolicy(mode: .all, grace: .seconds(3600)))
        let engine = bed.engine([job])
        try await engine.start()
        bed.wall.advance(60)
        await tickAndSettle(engine)
        // Jump forward 5 minutes: every occurrence in between runs once (policy all).
        bed.wall.advance(300)
        await tickAndSettle(engine)
        // Jump back 4 minutes: nothing runs again.
        bed.wall.advance(-240)
        await tickAndSettle(engine)
        bed.wall.advance(60)
        await tickAndSettle(engine)
        let runs = try await bed.runs()
        #expect(runs.count == 6)
        #expect(Set(runs.map(\.nominal)).count == 6)
        // Time catches up with the watermark: the next occurrence runs once.
        bed.wall.set("2026-11-23T15:07:00Z")
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        #expect(try await bed.runs().count == 7)
    }

    @Test func dstSpringForwardShiftsTheMissingTime() async throws {
        let bed = try Bed(start: "2026-03-07T12:00:00Z")
        let job = JobSpec(name: "night", kind: "scripted", schedule: .cron(try CronExpression("30 2 * * *"), zone: .newYork))
        let engine = bed.engine([job])
        try await engine.start()
        for hour in stride(from: 0, to: 72, by: 1) {
            bed.wall.set(Instant(seconds: 1_772_884_800 + Int64(hour) * 3600).iso8601)
            await tickAndSettle(engine)
        }
        let runs = try await bed.runs()
        #expect(runs.map(\.nominalInstant.iso8601) == ["2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"])
    }

    @Test func twoEnginesOnOneDatabaseClaimEachOccurrenceOnce() async throws {
        let bed = try Bed()
        let jobs = (0..<20).map { every("job-\($0)", seconds: 60) }
        let a = bed.engine(jobs, id: "a")
        let b = bed.engine(jobs, id: "b")
        try await a.start()
        try await b.start()
        for _ in 0..<5 {
            bed.wall.advance(60)
            async let x: Void = tickAndSettle(a)
            async let y: Void = tickAndSettle(b)
            _ = await (x, y)
            async let x2: Void = tickAndSettle(a)
            async let y2: Void = tickAndSettle(b)
            _ = await (x2, y2)
        }
        let runs = try await bed.runs()
        #expect(runs.count == 100)
        #expect(runs.allSatisfy { $0.state == .succeeded })
        #expect(bed.kind.attempts.count == 100)
    }

    @Test func expiredLeaseIsTakenOverFromTheCheckpointAndTheOldOwnerIsFenced() async throws {
        let bed = try Bed(behaviour: .block)
        let job = every("long", seconds: 3600)
        let a = bed.engine([job], id: "a", lease: .seconds(10))
        try await a.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        while bed.kind.attempts.isEmpty { await Task.yield() }
        let run = try #require(try await bed.runs().first)
        // The attempt is logged before it saves its checkpoint: crash only once it is saved (a
        // crash before the save, which the abandon cancels, would leave the taker nothing to load).
        while try await bed.store.checkpoint(runID: run.id) == nil { await Task.yield() }
        await a.abandonForTesting()  // a crash: nothing more is written by a
        bed.wall.advance(11)
        let b = bed.engine([job], id: "b", lease: .seconds(10))
        try await b.start()
        // b judges the lease on its own monotonic clock: unchanged for a whole lease.
        #expect(await b.tick().takenOver == 0)
        bed.clock.advance(by: .seconds(11))
        let report = await b.tick()
        #expect(report.takenOver == 1)
        while bed.kind.attempts.count < 2 { await Task.yield() }
        #expect(bed.kind.attempts[1].generation == 2)
        #expect(bed.kind.attempts[1].checkpoint == "started by generation 1")
        // The old owner's late write carries generation 1 and is refused.
        let staleCheckpoint = await #expect(throws: StoreError.self) {
            try await bed.store.saveCheckpoint(runID: run.id, owner: "a", generation: 1, value: "stale", now: bed.wall.now())
        }
        #expect(staleCheckpoint?.kind == .fenced)
        let staleEnd = await #expect(throws: StoreError.self) {
            try await bed.store.finishAttempt(runID: run.id, owner: "a", generation: 1, now: bed.wall.now(), result: .succeeded(RunOutcome(summary: "stale")))
        }
        #expect(staleEnd?.kind == .fenced)
        bed.kind.release()
        await b.waitForIdle()
        let done = try #require(try await bed.store.run(id: run.id))
        #expect(done.run.state == .succeeded)
        #expect(done.run.takeovers == 1)
        #expect(done.checkpoint == "started by generation 2")
        #expect(done.events.map(\.kind).contains("taken-over"))
    }

    @Test func lostLeaseCancelsTheRunAtOnce() async throws {
        let bed = try Bed(behaviour: .block)
        let job = every("long", seconds: 3600)
        let a = bed.engine([job], id: "a", lease: .seconds(9))
        try await a.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        while bed.kind.attempts.isEmpty { await Task.yield() }
        // a stalls past its lease; b takes the run over.
        bed.wall.advance(10)
        let b = bed.engine([job], id: "b", lease: .seconds(9))
        try await b.start()
        #expect(await b.tick().takenOver == 0)
        bed.clock.advance(by: .seconds(10))
        #expect(await b.tick().takenOver == 1)
        // a wakes up: past its local deadline (and its lease is gone), it cancels its copy
        // without writing.
        await a.maintainLeases()
        await a.settleRenewal()
        await a.waitForIdle()
        #expect(bed.kind.cancelledCount == 1)
        let state = try #require(try await bed.runs().first).state
        #expect(state == .running)
        bed.kind.release()
        await b.waitForIdle()
        #expect(try #require(try await bed.runs().first).state == .succeeded)
    }

    @Test func reloadKeepsWatermarksAndStopsRemovedJobs() async throws {
        let bed = try Bed()
        let engine = bed.engine([every("a", seconds: 60), every("b", seconds: 60)])
        try await engine.start()
        bed.wall.advance(60)
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        try await engine.reload(bed.plan([every("a", seconds: 120)]))
        bed.wall.advance(120)
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        let runs = try await bed.runs()
        #expect(runs.filter { $0.job == "b" }.count == 1)
        #expect(runs.filter { $0.job == "a" }.map(\.nominalInstant.iso8601) == ["2026-11-23T15:01:00Z", "2026-11-23T15:02:00Z"])
    }

    @Test func concurrencyCapHoldsRunsPending() async throws {
        let bed = try Bed(behaviour: .block)
        let engine = bed.engine((0..<4).map { every("j\($0)", seconds: 60) }, maxConcurrent: 2)
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        #expect(await engine.executingCount == 2)
        #expect(try await bed.runs().filter { $0.state == .pending }.count == 2)
        bed.kind.release()
        await engine.waitForIdle()
        await tickAndSettle(engine)
        #expect(try await bed.runs().allSatisfy { $0.state == .succeeded })
    }

    @Test func manualAndBackfillRunsAreRecordedAsSuch() async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60)
        let engine = bed.engine([job])
        try await engine.start()
        let manual = try await bed.store.enqueueManualRun(job: job, now: bed.wall.now(), by: "test")
        let result = try await bed.store.backfill(
            job: job, from: try Instant(iso8601: "2026-11-23T14:00:00Z"), to: try Instant(iso8601: "2026-11-23T14:03:00Z"), now: bed.wall.now())
        #expect(result.queued == 4)
        for _ in 0..<5 { await tickAndSettle(engine) }
        let runs = try await bed.runs()
        #expect(runs.filter { $0.trigger == .backfill && $0.state == .succeeded }.count == 4)
        #expect(runs.first { $0.id == manual }?.trigger == .manual)
        #expect(runs.first { $0.id == manual }?.state == .succeeded)
        let again = try await bed.store.backfill(
            job: job, from: try Instant(iso8601: "2026-11-23T14:00:00Z"), to: try Instant(iso8601: "2026-11-23T14:03:00Z"), now: bed.wall.now())
        #expect(again.queued == 0 && again.existing == 4)
    }

    @Test(arguments: [MisfirePolicy.Mode.skip, .latest])
    func aRunClaimedAheadButNeverStartedFollowsTheMisfirePolicy(mode: MisfirePolicy.Mode) async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60, misfire: MisfirePolicy(mode: mode, grace: .seconds(30)))
        let a = bed.engine([job], id: "a")
        try await a.start()
        bed.wall.set("2026-11-23T15:00:59Z")
        bed.wall.advance(0.5)
        let report = await a.tick()
        #expect(report.claimed == 1 && report.started == 0)  // claimed ahead, due in half a second
        await a.abandonForTesting()
        bed.wall.set("2026-11-23T15:05:00Z")
        let b = bed.engine([job], id: "b")
        try await b.start()
        await tickAndSettle(b)
        let first = try #require(try await bed.runs().first)
        #expect(first.nominalInstant == (try Instant(iso8601: "2026-11-23T15:01:00Z")))
        #expect(first.state == .skipped)
        if mode == .skip {
            #expect(first.reason == "misfire: not started until 240s after its time, grace 30s")
        } else {
            // Item 11: the stale ahead-claim is superseded; the latest occurrence runs.
            #expect(first.reason == "misfire: superseded by a later occurrence")
            let ran = try await bed.runs().filter { $0.state == .succeeded }
            #expect(ran.map(\.nominalInstant.iso8601) == ["2026-11-23T15:05:00Z"])
        }
    }

    @Test func idempotencyKeysAreShortStableAndPerStep() throws {
        let job = every("j", seconds: 60)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        struct NoCheckpoints: CheckpointAccess {
            func load() async throws -> String? { nil }
            func save(_ value: String) async throws {}
        }
        func context(run: Int64) -> RunContext {
            RunContext(
                job: job, runID: run, nominal: Instant(seconds: 1_795_000_000), attempt: 1, generation: 1, logger: logger, checkpoints: NoCheckpoints())
        }
        for run in [Int64(1), 99_999, Int64.max] {
            let key = context(run: run).idempotencyKey(step: "buy SPY")
            #expect(key.count <= 22)
            #expect(key == context(run: run).idempotencyKey(step: "buy SPY"))
            #expect(key != context(run: run).idempotencyKey(step: "sell QQQ") || run == Int64.max)
        }
    }
}
