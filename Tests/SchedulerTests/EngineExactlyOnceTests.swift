import Foundation
import GRDB
import Logging
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Scheduler

/// Issue 19: the engine's remaining exactly-once holes (review `engine.md` H1, H2, H4, H5, H6,
/// the wall-step liveness, the one-shot in grace, L1–L3). Each test counts what the work did
/// (`ProbeJob` executions, events in the outbox), never only the run's own record.
@Suite("Engine exactly once (issue 19)", .serialized)
struct EngineExactlyOnceTests {
    /// Waits (yielding) until `condition` holds, at most `seconds` of real time.
    func settle(within seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            await Task.yield()
        }
        return try await condition()
    }

    /// Fails every write of leases and of run states while on: a write lock held for as long as
    /// the test wants (renewals, ends and takeovers all fail; reads go on).
    struct Outage {
        let queue: DatabaseQueue

        init(path: String) async throws {
            queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE outage (on_ INTEGER NOT NULL);
                        INSERT INTO outage VALUES (0);
                        CREATE TRIGGER outage_lease_update BEFORE UPDATE ON lease WHEN (SELECT on_ FROM outage) = 1
                        BEGIN SELECT RAISE(ABORT, 'injected: database is locked'); END;
                        CREATE TRIGGER outage_lease_delete BEFORE DELETE ON lease WHEN (SELECT on_ FROM outage) = 1
                        BEGIN SELECT RAISE(ABORT, 'injected: database is locked'); END;
                        CREATE TRIGGER outage_run BEFORE UPDATE ON run WHEN (SELECT on_ FROM outage) = 1
                        BEGIN SELECT RAISE(ABORT, 'injected: database is locked'); END;
                        """)
            }
        }

        func set(_ on: Bool) async throws {
            try await queue.write { db in try db.execute(sql: "UPDATE outage SET on_ = ?", arguments: [on ? 1 : 0]) }
        }
    }

    func engine(
        _ bed: Bed, _ jobs: [JobSpec], id: String, lease: Duration, kinds: [any JobKind], claimBatch: Int = 512, finishRetry: Duration = .seconds(1)
    ) -> Engine {
        var options = Engine.Options()
        options.claimBatch = claimBatch
        options.finishRetryDelay = finishRetry
        return Engine(
            store: bed.store, plan: bed.plan(jobs, lease: lease), registry: JobKindRegistry(kinds),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .critical) }), instanceID: id,
            wall: bed.wall.source, clock: bed.clock, random: { 0.5 }, options: options)
    }

    // MARK: H1

    /// The attempt ended; then every write fails for longer than the lease (renewals, the end,
    /// the taker's takeover). When writes work again the taker must not take the run over (its
    /// lapse covered time it could not write either), and the run is recorded once.
    @Test func aWriteOutageLongerThanTheLeaseAfterTheEndNeverExecutesTheRunAgain() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("once", seconds: 3600, kind: "probe")
        // a retries its end once a minute: the taker gets to look first once writes work again.
        let a = engine(bed, [job], id: "a", lease: .seconds(9), kinds: [probe], finishRetry: .seconds(60))
        let b = engine(bed, [job], id: "b", lease: .seconds(9), kinds: [probe])
        try await a.start()
        try await b.start()
        let outage = try await Outage(path: bed.store.path)
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await settle { probe.snapshot.executions == 1 })
        try await outage.set(true)
        probe.release()
        #expect(await settle { await a.finishFailures >= 1 })
        // Thirty seconds (more than three leases) without a successful write anywhere.
        for _ in 1...10 {
            bed.wall.advance(3)
            bed.clock.advance(by: .seconds(3))
            await a.maintainLeases()
            await a.settleRenewal()
            #expect(await b.tick().takenOver == 0)
        }
        try await outage.set(false)
        // The taker looks first (its next scan is due), before the owner's next retry.
        bed.wall.advance(1)
        bed.clock.advance(by: .seconds(1))
        #expect(await b.tick().takenOver == 0)
        for _ in 0..<90 where await a.executingCount > 0 {
            _ = await settle(within: 5) { bed.clock.sleeperCount > 0 }
            bed.clock.advance(by: .seconds(1))
            _ = await settle(within: 1) { await a.executingCount == 0 }
        }
        #expect(await a.executingCount == 0, "the end was never recorded")
        await b.waitForIdle()
        #expect(probe.snapshot.executions == 1, "the finished run executed again")
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .succeeded)
        #expect(run.takeovers == 0)
    }

    // MARK: H2

    /// `overlap: cancel_previous`: R1 runs on a, b claims R2 (which requests R1's cancel), then a
    /// releases R1 (shutdown) before a renewal told it of the cancel. R1 must never execute again.
    @Test func aReleasedCancelPreviousRunNeverExecutesAgain() async throws {
        let bed = try Bed()
        let job = every("replace", seconds: 60, overlap: .cancelPrevious, kind: "probe")
        let table = JobTable([job])
        _ = try await bed.store.registerJobs([job], now: bed.wall.now())
        bed.wall.set("2026-11-23T15:01:00Z")
        _ = try await bed.store.claim([job], now: bed.wall.now(), instance: "a")
        let first = try #require(
            try await bed.store.startPending(now: bed.wall.now(), owner: "a", leaseDuration: .seconds(30), limit: 1, jobs: table).first)
        bed.wall.set("2026-11-23T15:02:00Z")
        let claimed = try await bed.store.claim([job], now: bed.wall.now(), instance: "b")
        #expect(claimed.first?.cancelRequested == [first.run.id])
        bed.wall.advance(1)
        _ = try await bed.store.finishAttempts(
            [Store.AttemptEnd(runID: first.run.id, generation: first.generation, result: .released)], owner: "a", now: bed.wall.now())
        // Another instance starts what is pending, for a while.
        let probe = ProbeJob(blocking: false)
        let b = engine(bed, [job], id: "b", lease: .seconds(30), kinds: [probe])
        try await b.start()
        for _ in 0..<4 {
            await tickAndSettle(b)
            bed.wall.advance(0.5)
        }
        let runs = try await bed.runs()
        let replaced = try #require(runs.first { $0.id == first.run.id })
        #expect(replaced.state == .cancelled, "the replaced run is \(replaced.state)")
        #expect(probe.snapshot.executions == 1, "only the replacement executes")
    }

    /// A pending run whose cancel is pending (as a release by an older version left it) is ended,
    /// never started.
    @Test func aPendingRunWithACancelRequestIsEndedNotStarted() async throws {
        let bed = try Bed()
        let job = every("replace", seconds: 60, overlap: .cancelPrevious, kind: "probe")
        _ = try await bed.store.registerJobs([job], now: bed.wall.now())
        bed.wall.set("2026-11-23T15:01:00Z")
        _ = try await bed.store.claim([job], now: bed.wall.now(), instance: "a")
        let queue = try DatabaseQueue(path: bed.store.path)
        try await queue.write { db in try db.execute(sql: "UPDATE run SET cancel_requested = 1") }
        let probe = ProbeJob(blocking: false)
        let a = engine(bed, [job], id: "a", lease: .seconds(30), kinds: [probe])
        try await a.start()
        await tickAndSettle(a)
        #expect(probe.snapshot.executions == 0)
        #expect(try await bed.runs().first?.state == .cancelled)
    }

    // MARK: H4

    /// A reload to a smaller plan while a pass claims many batches (due jobs > claim batch, runs
    /// starting between batches): the pass never indexes the old table (no crash), and every
    /// job of the new plan still runs.
    @Test func aReloadDuringAMultiBatchClaimNeverIndexesAStaleTable() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let jobs = (0..<40).map { every("job\($0)", seconds: 60, kind: "probe") }
        let a = engine(bed, jobs, id: "a", lease: .seconds(30), kinds: [probe], claimBatch: 3)
        try await a.start()
        bed.wall.set("2026-11-23T15:01:00Z")
        for round in 0..<5 {
            async let pass = a.tick()
            try await a.reload(bed.plan(round % 2 == 0 ? [jobs[0]] : jobs))
            _ = await pass
            await a.waitForIdle()
            bed.wall.advance(60)
        }
        await tickAndSettle(a)
        #expect(try await bed.runs("job0").contains { $0.state == .succeeded })
    }

    // MARK: H5

    /// Owner a leases for 60 s (renews every 20 s); taker b for 3 s. b must wait a's lease, not
    /// its own, also when a wall-clock step makes the row's expiry read as passed.
    @Test(arguments: [(60, 0.0), (120, 0.0), (60, 120.0)] as [(Int64, Double)])
    func aShortLeasedTakerNeverTakesOverALongLeasedLiveOwner(ownerLease: Int64, wallStep: Double) async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let job = every("long", seconds: 3600, kind: "probe")
        let a = engine(bed, [job], id: "a", lease: .seconds(ownerLease), kinds: [probe])
        let b = engine(bed, [job], id: "b", lease: .seconds(3), kinds: [probe])
        try await a.start()
        try await b.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await settle { probe.snapshot.executions == 1 })
        bed.wall.advance(wallStep)
        for _ in 0..<90 {
            bed.wall.advance(1)
            bed.clock.advance(by: .seconds(1))
            await a.maintainLeases()
            await a.settleRenewal()
            #expect(await b.tick().takenOver == 0)
        }
        #expect(probe.snapshot.executions == 1)
        #expect(await a.executingCount == 1)
        probe.release()
        await a.waitForIdle()
    }

    // MARK: H6

    /// A job kind that, once let go, appends an event to the run's outbox (like `risk-limit`).
    final class EventJob: JobKind, Sendable {
        let name = "event"
        let options: [OptionSpec] = []
        private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
        let started = Mutex(0)

        func open() {
            let waiting = gate.withLock { g in
                g.open = true
                defer { g.waiting = [] }
                return g.waiting
            }
            for continuation in waiting { continuation.resume() }
        }

        func run(_ context: RunContext) async throws -> RunOutcome {
            started.withLock { $0 += 1 }
            // Ignores cancellation, like a kind in the middle of a broker call.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = gate.withLock { g -> Bool in
                    if g.open { return false }
                    g.waiting.append(continuation)
                    return true
                }
                if !parked { continuation.resume() }
            }
            try? await context.events.record("risk-limit", "from generation \(context.generation)")
            return RunOutcome(summary: "done")
        }
    }

    /// a stops renewing; b takes the run over; then a's kind, still running, writes an event:
    /// the outbox must refuse it (a stale owner's alert).
    @Test func aStaleOwnersEventIsRefused() async throws {
        let bed = try Bed()
        let kind = EventJob()
        let job = every("alerting", seconds: 3600, kind: "event")
        let a = engine(bed, [job], id: "a", lease: .seconds(9), kinds: [kind])
        let b = engine(bed, [job], id: "b", lease: .seconds(9), kinds: [kind])
        try await a.start()
        try await b.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await a.tick()
        #expect(await settle { kind.started.withLock { $0 } == 1 })
        await b.tick()
        bed.wall.advance(60)
        bed.clock.advance(by: .seconds(60))
        #expect(await b.tick().takenOver == 1)
        #expect(await settle { kind.started.withLock { $0 } == 2 })
        kind.open()
        await b.waitForIdle()
        await a.waitForIdle()
        let run = try #require(try await bed.runs().first)
        let events = try #require(try await bed.store.run(id: run.id)).events.filter { $0.kind == "risk-limit" }
        #expect(events.map(\.message) == ["from generation 2"], "the outbox holds \(events.map(\.message))")
    }

    // MARK: Wall-clock step

    /// b runs job x, a does not. After a +2 days wall step, a must neither think b dead (and
    /// cancel x's pending run as "no longer in the configuration") nor delete b's row.
    @Test func aForwardWallStepOfTwoDaysKillsNoLiveInstance() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let x = every("x", seconds: 3600, kind: "probe")
        let y = every("y", seconds: 3600, kind: "probe")
        let b = engine(bed, [x], id: "b", lease: .seconds(30), kinds: [probe])
        let a = engine(bed, [y], id: "a", lease: .seconds(30), kinds: [probe])
        try await b.start()
        try await a.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        _ = try await bed.store.claim([x], now: bed.wall.now(), instance: "b")
        bed.wall.advance(2 * 86_400)
        bed.clock.advance(by: .seconds(5))
        await tickAndSettle(a)
        let run = try #require(try await bed.runs("x").first)
        #expect(run.state == .pending, "x's run is \(run.state): \(run.reason ?? "")")
        let instances = try await DatabaseQueue(path: bed.store.path).read { db in try String.fetchAll(db, sql: "SELECT id FROM instance") }
        #expect(instances.contains("b"), "b's row was deleted")
    }

    // MARK: One-shot in grace

    /// `schedule: { at: T }` first seen 30 s after T, with a grace of an hour: it runs once, at once.
    @Test func aOneShotFirstSeenLateButInGraceRunsOnceAtOnce() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let at = instant("2026-11-23T14:59:30Z")
        let job = JobSpec(name: "once", kind: "probe", schedule: Schedule(.once(at)), misfire: MisfirePolicy(mode: .latest, grace: .seconds(3600)))
        let a = engine(bed, [job], id: "a", lease: .seconds(30), kinds: [probe])
        try await a.start()
        await tickAndSettle(a)
        bed.wall.advance(1)
        await tickAndSettle(a)
        #expect(probe.snapshot.executions == 1)
        let runs = try await bed.runs()
        #expect(runs.map(\.nominal) == [at.seconds])
        #expect(runs.first?.state == .succeeded)
    }

    /// Past its grace it is not run (and not recorded as a run).
    @Test func aOneShotFirstSeenPastItsGraceDoesNotRun() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: false)
        let job = JobSpec(
            name: "once", kind: "probe", schedule: Schedule(.once(instant("2026-11-23T13:00:00Z"))),
            misfire: MisfirePolicy(mode: .latest, grace: .seconds(3600)))
        let a = engine(bed, [job], id: "a", lease: .seconds(30), kinds: [probe])
        try await a.start()
        await tickAndSettle(a)
        #expect(probe.snapshot.executions == 0)
    }

    // MARK: L1

    /// A run handed back is pending for any instance: the hand-back's own transaction does not
    /// lease it again.
    @Test func aHandedBackRunIsNotLeasedAgainByItsOwnTransaction() async throws {
        let bed = try Bed()
        let job = every("j", seconds: 60, kind: "probe")
        let table = JobTable([job])
        _ = try await bed.store.registerJobs([job], now: bed.wall.now())
        bed.wall.set("2026-11-23T15:01:00Z")
        _ = try await bed.store.claim([job], now: bed.wall.now(), instance: "a")
        let leased = try #require(
            try await bed.store.startPending(now: bed.wall.now(), owner: "a", leaseDuration: .seconds(30), limit: 1, jobs: table).first)
        bed.wall.advance(1)
        let (_, started) = try await bed.store.finishAttempts(
            [Store.AttemptEnd(runID: leased.run.id, generation: leased.generation, result: .handedBack)], owner: "a", now: bed.wall.now(),
            thenStart: 5, leaseDuration: .seconds(30), jobs: table)
        #expect(started.isEmpty)
        #expect(try await bed.runs().first?.state == .pending)
    }

    // MARK: L3

    /// Starts of job "bad" fail (a deterministic failure in the start transaction). The end of
    /// "good"'s run is still recorded, and "good"'s next occurrence is still claimed.
    @Test func aFailingStartStallsNeitherEndsNorClaims() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let good = every("good", seconds: 60, kind: "probe")
        let bad = every("bad", seconds: 3600, kind: "probe")
        let a = engine(bed, [good, bad], id: "a", lease: .seconds(30), kinds: [probe])
        try await a.start()
        bed.wall.set("2026-11-23T15:01:00Z")
        await a.tick()
        #expect(await settle { probe.snapshot.executions == 1 })
        let queue = try DatabaseQueue(path: bed.store.path)
        try await queue.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER bad_start BEFORE UPDATE OF state ON run WHEN NEW.job = 'bad' AND NEW.state = 'running'
                    BEGIN SELECT RAISE(ABORT, 'injected: this start always fails'); END;
                    """)
        }
        bed.wall.set("2026-11-23T16:00:00Z")
        _ = try await bed.store.claim([bad], now: bed.wall.now(), instance: "a")
        probe.release()
        #expect(try await settle { try await bed.runs("good").first?.state == .succeeded }, "good's end was never recorded")
        bed.wall.set("2026-11-23T16:01:00Z")
        bed.clock.advance(by: .seconds(2))
        await a.tick()
        #expect(try await bed.runs("good").contains { $0.nominal == instant("2026-11-23T16:01:00Z").seconds }, "good's next occurrence was not claimed")
    }
}
