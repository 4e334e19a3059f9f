import Foundation
import GRDB
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Scheduler

/// `Engine.run()` owns its executions (children of its task group): when it returns, no run is
/// executing, and a run stopped with the service is released for another instance.
@Suite("Engine run group", .serialized)
struct EngineRunGroupTests {
    /// Set once `run()` returned.
    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    /// A service whose blocking probe run is executing; returns it, its task and its end flag.
    func serviceWithARun(_ bed: Bed, _ probe: ProbeJob) async throws -> (Engine, Task<Void, any Error>, Flag) {
        let job = every("long", seconds: 3600, kind: "probe")
        let engine = bed.engine([job], kinds: [probe])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        let ended = Flag()
        let service = Task {
            defer { ended.set() }
            try await engine.run()
        }
        #expect(await eventually(bed.clock) { probe.snapshot.executions == 1 })
        #expect(await engine.executingCount == 1)
        return (engine, service, ended)
    }

    /// While the service runs, commits leave checkpoints of the write-ahead log to the loop's own
    /// connection (between bursts); when it returns, commits checkpoint again.
    @Test func theServiceCheckpointsTheLogItselfWhileItRuns() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        func autocheckpoint() async throws -> Int? {
            try await bed.store.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") }
        }
        #expect(try await autocheckpoint() == 1000)
        let (_, service, _) = try await serviceWithARun(bed, probe)
        #expect(try await autocheckpoint() == 0)
        service.cancel()
        try await service.value
        #expect(try await autocheckpoint() == 1000)
    }

    /// A service with one slot: `slow` (a blocking probe) executes and `next` waits, leased ahead
    /// (by the transaction that recorded a quick run's end). Returns the service and `next`'s id.
    func serviceWithARunLeasedAhead(_ bed: Bed, _ probe: ProbeJob) async throws -> (Engine, Task<Void, any Error>, Int64) {
        let jobs = [every("first", seconds: 3600, kind: "quick"), every("slow", seconds: 3600, kind: "probe"), every("next", seconds: 3600, kind: "probe")]
        let engine = bed.engine(jobs, maxConcurrent: 1, kinds: [ProbeJob(name: "quick", blocking: false), probe])
        try await engine.start()
        var ids: [Int64] = []
        for job in jobs { ids.append(try await bed.store.enqueueManualRun(job: job, now: bed.wall.now(), by: "test")) }
        let service = Task { try await engine.run() }
        #expect(await eventually(bed.clock) { probe.snapshot.executions == 1 })
        #expect(await eventually(bed.clock) { await engine.waitingCount == 1 })
        return (engine, service, ids[2])
    }

    @Test func theKeeperHandsBackARunThatWaitedASecondForASlot() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let (engine, service, next) = try await serviceWithARunLeasedAhead(bed, probe)
        // Both the loop and the keeper sleep at most a second: moving the clock by one wakes them.
        #expect(await eventually(bed.clock) { bed.clock.sleeperCount >= 2 })
        bed.clock.advance(by: .seconds(1))
        #expect(try await eventually(bed.clock) { try await bed.store.run(id: next)?.events.last?.kind == "handed-back" })
        #expect(await engine.waitingCount == 0)
        service.cancel()
        try await service.value
        #expect(try await bed.store.run(id: next)?.run.state == .pending)
        #expect(probe.snapshot.executions == 1)  // `slow` alone; `next` never executed here
    }

    @Test func aCancelledServiceReleasesRunsLeasedAheadUnexecuted() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let (_, service, next) = try await serviceWithARunLeasedAhead(bed, probe)
        service.cancel()
        try await service.value
        let record = try #require(try await bed.store.run(id: next))
        #expect(record.run.state == .pending && record.run.attempt == 0 && record.lease == nil)
        #expect(record.events.last?.kind == "released")
        #expect(probe.snapshot.executions == 1)  // `slow`, cancelled with the service; `next` never ran
        #expect(probe.snapshot.cancelled == 1)
    }

    @Test func aCancelledServiceReleasesItsRunAndReturnsOnlyWhenTheRunEnded() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let (engine, service, ended) = try await serviceWithARun(bed, probe)
        service.cancel()
        try await service.value
        #expect(ended.isSet)
        // The run's task ended before run() returned: it saw the cancellation, nothing executes.
        #expect(probe.snapshot.cancelled == 1)
        #expect(probe.snapshot.total == 0)
        #expect(await engine.executingCount == 0)
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .pending)  // released, not failed: another instance resumes it
        #expect(run.attempt == 0)
        #expect(await engine.draining)  // nothing more is started
    }

    /// Every task of the engine (the loop, the keeper, renewals, the end flush, the kick,
    /// checkpoints, executions) is a child of `run()`'s group or awaited by it: once a cancelled
    /// service returned, nothing of it sleeps on its clock, and however far its clock and the
    /// wall move on, the database sees no further commit (`PRAGMA data_version` of another
    /// connection changes with every commit of the engine's).
    @Test func aCancelledServiceLeavesNoTaskThatWrites() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let (engine, service, _) = try await serviceWithARun(bed, probe)
        // A renewal, with the loop and the keeper asleep: the renewal loop has had work.
        #expect(await eventually(bed.clock) { bed.clock.sleeperCount >= 2 })
        bed.clock.advance(by: .seconds(10))
        #expect(await eventually(bed.clock) { await engine.renewals >= 1 })
        service.cancel()
        try await service.value
        #expect(bed.clock.sleeperCount == 0)
        let observer = try DatabaseQueue(path: bed.store.path)
        func version() async throws -> Int { try await observer.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? -1 } }
        let before = try await version()
        for _ in 0..<12 {
            bed.clock.advance(by: .seconds(10))
            bed.wall.advance(10)
            for _ in 0..<50 { await Task.yield() }
        }
        #expect(try await version() == before)
        #expect(bed.clock.sleeperCount == 0)
        #expect(try await bed.runs().first?.state == .pending)  // released, and nobody took it since
    }

    @Test func aDrainWithNoGraceStopsAndReleasesTheRunBeforeRunReturns() async throws {
        let bed = try Bed()
        let probe = ProbeJob(blocking: true)
        let (engine, service, ended) = try await serviceWithARun(bed, probe)
        await engine.beginDrain()
        #expect(await eventually(bed.clock, wakeLoop: true) { ended.isSet })
        try await service.value
        #expect(probe.snapshot.cancelled == 1)
        #expect(probe.snapshot.total == 0)
        let run = try #require(try await bed.runs().first)
        #expect(run.state == .pending)
        #expect(try await bed.store.status(now: bed.wall.now()).instances.isEmpty)
        #expect(probe.snapshot.executions == 1)
    }

    /// Found while moving the drain into the core: a claim that inserted a run due now and the
    /// next one ahead reported only the earliest due time, so a drain right then did not know the
    /// ahead run and left it pending (the crash test's occasional unfinished run).
    @Test func aDrainStartsARunClaimedAheadInTheSameClaimAsADueOne() async throws {
        let bed = try Bed()
        let engine = bed.engine([every("fast", seconds: 1)], grace: .seconds(10))
        try await engine.start()
        bed.wall.advance(1.5)
        #expect(await engine.tick().claimed == 2)  // :01, due half a second ago, and :02, ahead
        await engine.waitForIdle()
        #expect(try await bed.runs().map(\.state) == [.succeeded, .pending])
        let ended = Flag()
        let drain = Task {
            await engine.drain()
            ended.set()
        }
        // The drain sleeps until :02 (the keeper sleeps too), then starts the run and lets it end.
        bed.wall.advance(0.5)
        #expect(try await eventually(bed.clock, wakeLoop: true) { try await bed.runs().last?.state != .pending })
        #expect(await eventually(bed.clock) { await engine.executingCount == 0 })
        #expect(await eventually(bed.clock, wakeLoop: true) { ended.isSet })
        await drain.value
        #expect(try await bed.runs().map(\.state) == [.succeeded, .succeeded])
    }
}
