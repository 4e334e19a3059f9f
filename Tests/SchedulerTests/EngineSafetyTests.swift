import Foundation
import GRDB
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Scheduler

/// Issue 8: a run's side effects happen once under lost leases, failed writes, reloads and
/// clock steps. Each test counts what the work did (`ProbeJob`), not only rows.
@Suite("Engine safety", .serialized)
struct EngineSafetyTests {
    /// A second connection that holds the database's write lock until `release()`.
    struct WriteLock {
        let queue: DatabaseQueue

        init(path: String) async throws {
            var configuration = Configuration()
            configuration.allowsUnsafeTransactions = true
            configuration.busyMode = .timeout(10)
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try await queue.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        }

        func release() async throws {
            try await queue.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
        }
    }

    @Test func aPausedFrequentJobDoesNotSpin() async throws {
        let bed = try Bed()
        let job = every("often", seconds: 2)
        let engine = bed.engine([job])
        try await engine.start()
        _ = try await bed.store.pause(job: job, now: bed.wall.now())
        bed.wall.advance(3)
        await engine.tick()
        // The paused job is parked: the next pass neither claims it nor wakes at once.
        #expect(await engine.tick().examined == 0)
        #expect(await engine.nextSleep() >= .milliseconds(400))
        // Resumed, it is picked up again by the pause check.
        _ = try await bed.store.resume(job: job, now: bed.wall.now(), catchUp: false)
        bed.clock.advance(by: .seconds(1))
        bed.wall.advance(2)
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        #expect(try await bed.runs().contains { $0.state == .succeeded })
    }

    @Test func aRenewalThatArrivesAfterTheRecordedEndIsNotALoss() async throws {
        let bed = try Bed()
        let job = every("quick", seconds: 60)
        let table = JobTable([job])
        let id = try await bed.store.enqueueManualRun(job: job, now: bed.wall.now(), by: "test")
        let leased = try #require(
            try await bed.store.startPending(now: bed.wall.now(), owner: "a", leaseDuration: .seconds(30), limit: 1, jobs: table, only: id).first)
        _ = try await bed.store.finishAttempts(
            [Store.AttemptEnd(runID: id, generation: leased.generation, result: .succeeded(RunOutcome(summary: "ok")))], owner: "a",
            now: bed.wall.now())
        let answer = try await bed.store.renew([(id, leased.generation)], owner: "a", now: bed.wall.now(), leaseDuration: .seconds(30))
        #expect(answer[id] == .ended)
        // Someone else's lease is a loss.
        let stale = try await bed.store.renew([(id, leased.generation - 1)], owner: "a", now: bed.wall.now(), leaseDuration: .seconds(30))
        #expect(stale[id] == .lost)
    }

    @Test func aWriteLockHeldPastTheLeaseNeverOverlapsTwoExecutions() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("long", seconds: 3600, kind: "probe")
        let a = bed.engine([job], id: "a", lease: .seconds(9), kinds: [probe])
        try await a.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        let lock = try await WriteLock(path: bed.store.path)
        // The renewal is due but waits for the lock; past the local deadline a cancels its copy
        // without reaching the database.
        bed.clock.advance(by: .seconds(4))
        await a.maintainLeases()
        bed.clock.advance(by: .seconds(4))
        await a.maintainLeases()
        await a.waitForIdle()
        #expect(probe.snapshot.cancelled == 1)
        #expect(probe.snapshot.total == 0)
        try await lock.release()
        await a.settleRenewal()
        // b takes the run over once the lease stayed unrenewed for a lease.
        bed.wall.advance(20)
        let b = bed.engine([job], id: "b", lease: .seconds(9), kinds: [probe])
        try await b.start()
        await b.tick()
        bed.clock.advance(by: .seconds(20))
        #expect(await b.tick().takenOver == 1)
        probe.release()
        await b.waitForIdle()
        #expect(probe.snapshot.executions == 2)
        #expect(probe.snapshot.maxPerRun == 1)
        #expect(try await bed.runs().map(\.state) == [.succeeded])
    }

    @Test func aFailedEndWriteIsRetriedUnderARenewedLeaseAndNeverRunsTwice() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let job = every("once", seconds: 3600, kind: "probe")
        let a = bed.engine([job], id: "a", lease: .seconds(9), kinds: [probe])
        let b = bed.engine([job], id: "b", lease: .seconds(9), kinds: [probe])
        try await a.start()
        try await b.start()
        let injector = try DatabaseQueue(path: bed.store.path)
        try await injector.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE fail_ends (on_ INTEGER NOT NULL);
                    INSERT INTO fail_ends VALUES (1);
                    CREATE TRIGGER fail_end BEFORE UPDATE OF state ON run
                    WHEN NEW.state = 'succeeded' AND (SELECT on_ FROM fail_ends) = 1
                    BEGIN SELECT RAISE(ABORT, 'injected: the disk is full'); END;
                    """)
        }
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await eventually { await a.finishFailures >= 1 })
        // The end cannot be written for a while: a keeps the lease, b never takes over.
        for step in 1...6 {
            bed.wall.advance(3)
            bed.clock.advance(by: .seconds(3))
            await a.maintainLeases()
            await a.settleRenewal()
            #expect(await a.renewals == step)
            #expect(await b.tick().takenOver == 0)
        }
        try await injector.write { db in try db.execute(sql: "UPDATE fail_ends SET on_ = 0") }
        // The next retry records the end: each time the end flush waits on the clock, let it go.
        for _ in 0..<100 where await a.executingCount > 0 {
            _ = await eventually {
                if bed.clock.sleeperCount > 0 { return true }
                return await a.executingCount == 0
            }
            bed.clock.advance(by: .seconds(1))
        }
        try #require(await a.executingCount == 0, "the end was never recorded")
        await a.waitForIdle()
        #expect(probe.snapshot.executions == 1)
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .succeeded)
        #expect(run.takeovers == 0)
    }

    @Test func anInstanceNeverTakesOverARunItIsExecuting() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("long", seconds: 3600, kind: "probe")
        let a = bed.engine([job], id: "a", lease: .seconds(9), kinds: [probe])
        try await a.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        // Its lease row looks lapsed (no renewal ran), by the wall and by the monotonic clock.
        bed.wall.advance(60)
        #expect(await a.tick().takenOver == 0)
        bed.clock.advance(by: .seconds(60))
        #expect(await a.tick().takenOver == 0)
        #expect(probe.snapshot.executions == 1)
        probe.release()
        await a.waitForIdle()
    }

    @Test func runNowExecutesOnlyThatRun() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let x = every("x", seconds: 3600, kind: "probe")
        let y = every("y", seconds: 3600, kind: "probe")
        let engine = bed.engine([x, y], kinds: [probe])
        let other = try await bed.store.enqueueManualRun(job: y, now: bed.wall.now(), by: "test")
        let id = try await bed.store.enqueueManualRun(job: x, now: bed.wall.now(), by: "test")
        #expect(try await engine.executeNow(runID: id))
        #expect(probe.snapshot.executions == 1)
        #expect(try await bed.store.run(id: id)?.run.state == .succeeded)
        #expect(try await bed.store.run(id: other)?.run.state == .pending)
        // A run that is not pending cannot start: false, and nothing executes.
        #expect(try await engine.executeNow(runID: id) == false)
        #expect(probe.snapshot.executions == 1)
    }

    @Test func aDelayedRetryIsNotAStaleAheadClaim() async throws {
        let bed = try Bed(behaviour: .failFirst(1))
        let job = every(
            "flaky", seconds: 3600, misfire: MisfirePolicy(mode: .skip, grace: .seconds(30)),
            retry: RetryPolicy(attempts: 2, backoff: .seconds(60), jitter: false))
        let engine = bed.engine([job])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await tickAndSettle(engine)
        // The retry is due at 16:01; the service comes back to it two minutes late.
        bed.wall.set("2026-11-23T16:03:00Z")
        await tickAndSettle(engine)
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .succeeded)
        #expect(run.attempt == 2)
        #expect(bed.kind.attempts.count == 2)
    }

    @Test func aGracefulReleaseIsNotCountedAsATakeover() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("long", seconds: 3600, kind: "probe")
        let a = bed.engine([job], id: "a", kinds: [probe])
        try await a.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        await a.drain()  // grace zero: the run is cancelled and released
        let b = bed.engine([job], id: "b", kinds: [probe])
        try await b.start()
        probe.release()
        #expect(await b.tick().started == 1)
        await b.waitForIdle()
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .succeeded)
        #expect(run.takeovers == 0)
        #expect(run.attempt == 1)
        #expect(probe.snapshot.executions == 2)
    }

    @Test func drainKeepsRenewingAndItsDeadlineIsMonotonic() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("long", seconds: 3600, kind: "probe")
        let a = bed.engine([job], id: "a", lease: .seconds(9), grace: .seconds(120), kinds: [probe])
        let b = bed.engine([job], id: "b", lease: .seconds(9), kinds: [probe])
        try await a.start()
        try await b.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        let drain = Task { await a.drain() }
        // A wall-clock step of an hour does not end the grace early.
        bed.wall.advance(3600)
        for step in 1...12 {
            #expect(await eventually { bed.clock.sleeperCount >= 2 })
            bed.wall.advance(3)
            bed.clock.advance(by: .seconds(3))
            #expect(await eventually { await a.renewals >= step })
            #expect(await b.tick().takenOver == 0)
        }
        #expect(probe.snapshot.cancelled == 0)
        probe.release()
        let done = Mutex(false)
        let finished = Task {
            await drain.value
            done.withLock { $0 = true }
        }
        // The drain polls on the manual clock: move it until the drain has ended.
        for _ in 0..<10_000 where !done.withLock({ $0 }) {
            bed.clock.advance(by: .milliseconds(50))
            await Task.yield()
        }
        await finished.value
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .succeeded)
        #expect(run.takeovers == 0)
        #expect(probe.snapshot.executions == 1)
    }

    @Test func theConcurrencyCapHoldsWhenStartsRace() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let jobs = (0..<6).map { every("j\($0)", seconds: 3600, kind: "probe") }
        let engine = bed.engine(jobs, maxConcurrent: 2, kinds: [probe])
        try await engine.start()
        for job in jobs { _ = try await bed.store.enqueueManualRun(job: job, now: bed.wall.now(), by: "test") }
        async let first = engine.tick()
        async let second = engine.tick()
        async let third = engine.tick()
        _ = await (first, second, third)
        #expect(await engine.executingCount <= 2)
        probe.release()
        await engine.waitForIdle()
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        await tickAndSettle(engine)
        #expect(probe.snapshot.maxTotal <= 2)
        #expect(probe.snapshot.executions == 6)
    }

    @Test func cancelPreviousStartsTheNewRunOnlyAfterThePreviousEnded() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let engine = bed.engine([every("slow", seconds: 60, overlap: .cancelPrevious, kind: "probe")], kinds: [probe])
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        bed.wall.advance(60)
        await engine.tick()
        #expect(await eventually { probe.snapshot.executions == 2 })
        probe.release()
        await engine.waitForIdle()
        let runs = try await bed.runs()
        #expect(runs.map(\.state) == [.cancelled, .succeeded])
        #expect(probe.snapshot.maxPerJob == 1)
        let cancelled = try #require(try await bed.store.run(id: runs[0].id)?.events.first { $0.kind == "cancelled" })
        let started = try #require(try await bed.store.run(id: runs[1].id)?.events.first { $0.kind == "started" })
        #expect(started.id > cancelled.id)
    }

    @Test func runsLeasedAheadOfFreeSlotsEachExecuteOnceWithinTheCap() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let jobs = (0..<40).map { every("j\($0)", seconds: 3600, kind: "probe") }
        let engine = bed.engine(jobs, maxConcurrent: 2, kinds: [probe])
        try await engine.start()
        // One attempt sets the pace (instant on the manual clock): the next burst is leased ahead.
        _ = try await bed.store.enqueueManualRun(job: jobs[0], now: bed.wall.now(), by: "test")
        await tickAndSettle(engine)
        for job in jobs { _ = try await bed.store.enqueueManualRun(job: job, now: bed.wall.now(), by: "test") }
        await engine.tick()
        #expect(await engine.executingCount > 2)  // more leases held than slots
        await engine.waitForIdle()
        await tickAndSettle(engine)
        let runs = try await bed.runs()
        #expect(runs.count == 41 && runs.allSatisfy { $0.state == .succeeded && $0.attempt == 1 })
        #expect(probe.snapshot.executions == 41)
        #expect(probe.snapshot.maxPerRun == 1)
        #expect(probe.snapshot.maxTotal <= 2)
    }

    /// Leases `runs` (manual, in this order) on `engine` with one slot: the first executes; when
    /// `first` (a quick run, which sets the pace) ends, the end's transaction leases the rest
    /// ahead; the first of them executes (a blocking probe holds the slot), the others wait.
    func leaseAhead(_ engine: Engine, _ bed: Bed, first: JobSpec, then runs: [JobSpec], probe: ProbeJob) async throws -> [Int64] {
        _ = try await bed.store.enqueueManualRun(job: first, now: bed.wall.now(), by: "test")
        var ids: [Int64] = []
        for job in runs { ids.append(try await bed.store.enqueueManualRun(job: job, now: bed.wall.now(), by: "test")) }
        await engine.tick()  // a burst's first transaction leases only what executes at once: `first`
        #expect(await eventually { probe.snapshot.executions == 1 })  // the first of `runs` holds the slot
        #expect(await eventually { await engine.waitingCount == runs.count - 1 })
        return ids
    }

    @Test func aRunLeasedAheadAndCancelledWhileItWaitsNeverExecutes() async throws {
        let bed = try Bed()
        let (quick, probe) = (ProbeJob(name: "quick", blocking: false), ProbeJob(blocking: true))
        let (first, slow) = (every("first", seconds: 3600, kind: "quick"), every("slow", seconds: 3600, kind: "probe"))
        let replaced = every("replaced", seconds: 60, overlap: .cancelPrevious, kind: "probe")
        let engine = bed.engine([first, slow, replaced], maxConcurrent: 1, kinds: [quick, probe])
        try await engine.start()
        let ids = try await leaseAhead(engine, bed, first: first, then: [slow, replaced], probe: probe)
        #expect(try await bed.store.run(id: ids[1])?.run.state == .running)  // leased; it waits here
        bed.wall.advance(60)
        await engine.tick()  // the next occurrence cancels it (overlap: cancel_previous)
        #expect(try await eventually { try await bed.store.run(id: ids[1])?.run.state == .cancelled })
        probe.release()
        await engine.waitForIdle()
        await tickAndSettle(engine)
        #expect(try await bed.runs("replaced").map(\.state) == [.cancelled, .succeeded])
        #expect(probe.snapshot.executions == 2)  // `slow` and the replacing run; never the cancelled one
    }

    @Test func aRunLeasedAheadThatGetsNoSlotIsHandedBackAndRunsOnceElsewhere() async throws {
        let bed = try Bed()
        let (quick, probe) = (ProbeJob(name: "quick", blocking: false), ProbeJob(blocking: true))
        let (first, slow, next) = (
            every("first", seconds: 3600, kind: "quick"), every("slow", seconds: 3600, kind: "probe"), every("next", seconds: 3600, kind: "probe")
        )
        let a = bed.engine([first, slow, next], id: "a", maxConcurrent: 1, kinds: [quick, probe])
        try await a.start()
        let id = try await leaseAhead(a, bed, first: first, then: [slow, next], probe: probe)[1]
        bed.clock.advance(by: .seconds(1))
        await a.maintainLeases()  // a second without a slot: handed back
        #expect(try await eventually { try await bed.store.run(id: id)?.run.state == .pending })
        let events = try #require(try await bed.store.run(id: id)?.events.map(\.kind))
        #expect(events.last == "handed-back")
        #expect(await a.tick().started == 0)  // a leases no more ahead while its slot is held
        let b = bed.engine([first, slow, next], id: "b", maxConcurrent: 1, kinds: [quick, probe])
        try await b.start()
        #expect(await b.tick().started == 1)
        #expect(await eventually { probe.snapshot.executions == 2 })
        probe.release()
        await a.waitForIdle()
        await b.waitForIdle()
        let run = try #require(try await bed.store.run(id: id)?.run)
        #expect(run.state == .succeeded && run.attempt == 1 && run.takeovers == 0)
        #expect(probe.snapshot.executions == 2)  // `slow` on a, `next` once, on b
    }

    @Test func aTakeoverHonoursAPendingCancel() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("slow", seconds: 60, overlap: .cancelPrevious, kind: "probe")
        let a = bed.engine([job], id: "a", lease: .seconds(9), kinds: [probe])
        try await a.start()
        bed.wall.advance(60)
        await a.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        await a.abandonForTesting()  // a dies before it sees the cancel
        await a.waitForIdle()
        let b = bed.engine([job], id: "b", lease: .seconds(9), kinds: [probe])
        try await b.start()
        bed.wall.advance(60)
        await b.tick()  // claims the next occurrence and requests the cancel
        bed.clock.advance(by: .seconds(10))
        bed.wall.advance(10)
        #expect(await b.tick().takenOver == 0)  // the cancel is honoured, nothing relaunched
        probe.release()
        await tickAndSettle(b)
        let runs = try await bed.runs()
        #expect(runs.map(\.state) == [.cancelled, .succeeded])
        #expect(probe.snapshot.executions == 2)
    }

    @Test func aBacklogOfOneJobNeverStarvesOthers() async throws {
        let bed = try Bed()
        let slow = ProbeJob(name: "slow", blocking: true)
        let quick = ProbeJob(name: "quick", blocking: false)
        let backlog = every("backlog", seconds: 1, misfire: MisfirePolicy(mode: .all, grace: .seconds(86_400)), overlap: .bufferOne, kind: "slow")
        let other = every("other", seconds: 200, kind: "quick")
        let engine = bed.engine([backlog, other], kinds: [slow, quick])
        try await engine.start()
        bed.wall.advance(250)
        await engine.tick()
        #expect(await eventually { quick.snapshot.executions == 1 })
        #expect(slow.snapshot.executions == 1)
        slow.release()
        await engine.waitForIdle()
    }

    @Test func pauseHoldsPendingAndRetryingRuns() async throws {
        let bed = try Bed(behaviour: .failFirst(1))
        let job = every("flaky", seconds: 3600, retry: RetryPolicy(attempts: 2, backoff: .seconds(60), jitter: false))
        let engine = bed.engine([job])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await tickAndSettle(engine)
        _ = try await bed.store.pause(job: job, now: bed.wall.now())
        bed.wall.advance(120)
        await tickAndSettle(engine)
        #expect(bed.kind.attempts.count == 1)
        #expect(try #require(try await bed.runs().first).state == .pending)
        _ = try await bed.store.resume(job: job, now: bed.wall.now(), catchUp: false)
        await tickAndSettle(engine)
        #expect(bed.kind.attempts.count == 2)
        #expect(try #require(try await bed.runs().first).state == .succeeded)
    }

    @Test func aJobRemovedAndReAddedFollowsItsMisfirePolicy() async throws {
        let bed = try Bed()
        let job = every("minutely", seconds: 60, misfire: MisfirePolicy(mode: .latest, grace: .seconds(30)))
        let keep = every("keep", seconds: 3600)
        let engine = bed.engine([job, keep])
        try await engine.start()
        bed.wall.advance(60)
        await tickAndSettle(engine)
        try await engine.reload(bed.plan([keep]))
        bed.wall.advance(86_400)
        await tickAndSettle(engine)
        let before = bed.kind.attempts.filter { $0.job == "minutely" }.count
        try await engine.reload(bed.plan([job, keep]))
        await tickAndSettle(engine)
        // One pass: the latest occurrence runs once; the day of missed ones is bounded rows.
        #expect(bed.kind.attempts.filter { $0.job == "minutely" }.count == before + 1)
        let rows = try await bed.runs("minutely")
        #expect(rows.count <= OccurrencePlanner.catchUpLimit + 2)
        #expect(rows.filter { $0.state == .succeeded }.count == 2)
    }

    @Test func severalProcessesOpeningAFreshDatabaseAllStart() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("fresh.sqlite")
        let opened = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<6 {
                group.addTask { (try? Store(path: path)) != nil }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(opened == 6)
    }

    @Test(arguments: [3600.0, -3600.0])
    func aWallClockStepOfAnHourOnAHealthyHostCausesNoTakeover(step: Double) async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("long", seconds: 7200, kind: "probe")
        let a = bed.engine([job], id: "a", lease: .seconds(9), kinds: [probe])
        let b = bed.engine([job], id: "b", lease: .seconds(9), kinds: [probe])
        try await a.start()
        try await b.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await eventually { probe.snapshot.executions == 1 })
        await b.tick()
        bed.wall.advance(step)
        for _ in 0..<10 {
            bed.wall.advance(3)
            bed.clock.advance(by: .seconds(3))
            await a.maintainLeases()
            await a.settleRenewal()
            #expect(await b.tick().takenOver == 0)
        }
        #expect(probe.snapshot.executions == 1)
        #expect(probe.snapshot.cancelled == 0)
        probe.release()
        await a.waitForIdle()
    }

    @Test func aRollingReloadLeavesRunsOfJobsALiveInstanceHas() async throws {
        let bed = try Bed()
        let x = every("x", seconds: 3600)
        let y = every("y", seconds: 3600)
        let a = bed.engine([x, y], id: "a")
        let b = bed.engine([x], id: "b")
        try await a.start()
        try await b.start()
        let id = try await bed.store.enqueueManualRun(job: y, now: bed.wall.now(), by: "test")
        await tickAndSettle(b)
        #expect(try await bed.store.run(id: id)?.run.state == .pending)
        await tickAndSettle(a)
        #expect(try await bed.store.run(id: id)?.run.state == .succeeded)
        // With no live instance having the job, the run is cancelled.
        let orphan = try await bed.store.enqueueManualRun(job: every("gone", seconds: 60), now: bed.wall.now(), by: "test")
        await tickAndSettle(b)
        #expect(try await bed.store.run(id: orphan)?.run.state == .cancelled)
    }

    @Test func aReloadDuringAPassNeverMixesJobTables() async throws {
        let bed = try Bed()
        let many = (0..<40).map { every("job-\($0)", seconds: 1) }
        let engine = bed.engine(many)
        try await engine.start()
        for round in 0..<20 {
            bed.wall.advance(1)
            let jobs = round % 2 == 0 ? [every("solo", seconds: 1)] : many
            async let pass = engine.tick()
            async let reload: Void = engine.reload(bed.plan(jobs))
            _ = try await (pass, reload)
            await engine.waitForIdle()
        }
        await tickAndSettle(engine)
        let names = Set(try await bed.runs().map(\.job))
        #expect(names.isSubset(of: Set(many.map(\.name) + ["solo"])))
    }

    /// Read on the connection that commits (the writer), where it matters; GRDB resets it there
    /// when it turns on WAL, so reading it on a reader would pass with the writer at NORMAL.
    @Test func durabilityIsFullUnlessConfiguredNormal() async throws {
        let directory = TemporaryDirectory()
        let full = try Store(path: directory.file("full.sqlite"))
        #expect(try await full.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
        let normal = try Store(path: directory.file("normal.sqlite"), durability: .normal)
        #expect(try await normal.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 1)
    }
}

@Suite("Bounded catch-up")
struct CatchUpTests {
    @Test func thePlannerSummarizesAHugeBacklog() {
        let job = every("second", seconds: 1, misfire: MisfirePolicy(mode: .skip, grace: .seconds(30)))
        let start = instant("2026-11-01T00:00:00Z")
        let now = Instant(seconds: start.seconds + 3 * 86_400)
        let plan = OccurrencePlanner.plan(job: job, watermark: start, now: now, active: .init())
        #expect(plan.summary?.count == 3 * 86_400 - OccurrencePlanner.catchUpLimit)
        #expect(plan.decisions.count == OccurrencePlanner.catchUpLimit)
        #expect(plan.watermark == now)
    }

    @Test func resumingAFrequentJobAfterALongPauseWritesBoundedRows() async throws {
        let bed = try Bed()
        let job = every("second", seconds: 1, misfire: MisfirePolicy(mode: .skip, grace: .seconds(30)))
        let engine = bed.engine([job])
        try await engine.start()
        _ = try await bed.store.pause(job: job, now: bed.wall.now())
        bed.wall.advance(3 * 86_400)
        let skipped = try await bed.store.resume(job: job, now: bed.wall.now(), catchUp: false)
        #expect(skipped == 3 * 86_400)
        let rows = try await bed.runs()
        #expect(rows.count == Store.pausedRowsLimit + 1)
        #expect(rows.first?.reason?.hasPrefix("paused: \(3 * 86_400 - Store.pausedRowsLimit) occurrence(s) from") == true)
    }

    @Test func catchingUpAfterALongPauseWritesBoundedRows() async throws {
        let bed = try Bed()
        let job = every("second", seconds: 1, misfire: MisfirePolicy(mode: .skip, grace: .seconds(30)))
        let engine = bed.engine([job])
        try await engine.start()
        _ = try await bed.store.pause(job: job, now: bed.wall.now())
        bed.wall.advance(3 * 86_400)
        _ = try await bed.store.resume(job: job, now: bed.wall.now(), catchUp: true)
        let report = await engine.tick()
        // All but the last 30 s (within the grace, they run) are skipped.
        #expect(report.skipped == 3 * 86_400 - 31)
        #expect(report.claimed == 31)
        #expect(try await bed.runs().count <= OccurrencePlanner.catchUpLimit + 1 + 1)
    }

    @Test func aBackfillLargerThanTheLimitIsRefusedAndWritesNothing() async throws {
        let bed = try Bed()
        let job = every("second", seconds: 1)
        let refused = await #expect(throws: BackfillTooLarge.self) {
            try await bed.store.backfill(
                job: job, from: instant("2026-10-01T00:00:00Z"), to: instant("2026-10-31T00:00:00Z"), now: bed.wall.now())
        }
        #expect(refused?.kind == .backfillTooLarge)
        #expect(try await bed.runs().isEmpty)
    }
}
