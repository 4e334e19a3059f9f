import Foundation
import Testing

@testable import Scheduler

/// The engine's pure decision core: rows of (state, input) → the actions it returns.
@Suite("Engine core")
struct EngineCoreTests {
    typealias Action = EngineCore.PassAction

    /// 2027-01-15T08:00:00Z: a multiple of a minute.
    static let t0: Double = 1_800_000_000

    static func core(
        jobs: [JobSpec] = [every("minutely", seconds: 60)], maxRuns: Int = 4, lease: Duration = .seconds(30),
        lookahead: Duration = .seconds(1), claimBatch: Int = 512, grace: Duration = .seconds(10)
    ) -> EngineCore {
        var settings = EngineCore.Settings()
        settings.maxConcurrentRuns = maxRuns
        settings.lease = lease
        settings.lookahead = lookahead
        settings.claimBatch = claimBatch
        settings.shutdownGrace = grace
        var core = EngineCore(settings: settings, table: JobTable(jobs))
        core.schedule(watermarks: Dictionary(uniqueKeysWithValues: jobs.map { ($0.name, Instant(seconds: Int64(t0))) }), now: wall(0))
        return core
    }

    static func wall(_ offset: Double) -> Date { Date(timeIntervalSince1970: t0 + offset) }
    static func at(_ offset: Double, mono: Duration = .zero) -> EngineCore.Now { EngineCore.Now(wall: wall(offset), mono: mono) }
    static func instant(_ offset: Int64) -> Instant { Instant(seconds: Int64(t0) + offset) }

    static func outcome(
        _ job: String, watermark: Int64? = 60, paused: Bool = false, earliestDue: Double? = nil, cancelRequested: [Int64] = []
    ) -> Store.ClaimOutcome {
        Store.ClaimOutcome(
            job: job, watermark: watermark.map(instant), paused: paused, inserted: earliestDue == nil ? [] : [1], skipped: 0,
            cancelRequested: cancelRequested, earliestDue: earliestDue.map { t0 + $0 }, dues: earliestDue.map { [t0 + $0] } ?? [])
    }

    static func lease(_ run: Int64, expiresIn: Double = 30, generation: Int64 = 1) -> LeaseRecord {
        LeaseRecord(runID: run, owner: "other", generation: generation, acquiredAt: t0, expiresAt: t0 + expiresIn)
    }

    // MARK: Schedule

    @Test(
        "attendance: lookahead before the occurrence (to the millisecond), never at or before now",
        arguments: [
            (1.0, 100, 90, 99),
            (1.0, 100, 99, 100),
            (1.0, 100, 100, 100),
            (0.0, 100, 90, 100),
            (1.5, 100, 90, 98.5),
            (5.0, 100, 96, 100),
            (0.5, 100, 90, 99.5),
            (0.5, 100, 99.5, 100),
            (0.5, 100, 99.4, 99.5),
        ] as [(Double, Int64, Double, Double)])
    func attendance(lookahead: Double, next: Int64, now: Double, expected: Double) {
        let core = Self.core(lookahead: .milliseconds(Int64(lookahead * 1000)))
        #expect(core.attendance(for: Self.instant(next), now: Self.t0 + now) == Self.t0 + expected)
    }

    @Test("with the default lookahead a claim falls between whole seconds: half a second before its occurrence")
    func defaultLookaheadClaimsAtTheHalfSecond() {
        var core = EngineCore(settings: EngineCore.Settings(), table: JobTable([every("secondly", seconds: 1)]))
        core.schedule(watermarks: ["secondly": Self.instant(0)], now: Self.wall(0.2))
        #expect(core.queue.earliest == Self.t0 + 0.5)
        let early = core.dueClaims(at: Self.wall(0.49))
        #expect(early == [])
        let due = core.dueClaims(at: Self.wall(0.5))
        #expect(due == [.claim(positions: [0], epoch: 0)])
        // Claimed up to second 1: next looked at half a second before second 2.
        _ = core.claimed(positions: [0], outcomes: [Self.outcome("secondly", watermark: 1, earliestDue: 1)], epoch: 0, now: Self.wall(0.5))
        #expect(core.queue.earliest == Self.t0 + 1.5)
    }

    @Test(
        "a job is claimed from its attendance on (lookahead 1 s before its occurrence)",
        arguments: [(58, []), (59, [.claim(positions: [0], epoch: 0)]), (60, [.claim(positions: [0], epoch: 0)])] as [(Int64, [Action])])
    func dueVersusNotDue(offset: Int64, claims: [Action]) {
        var core = Self.core()
        do {
            let got = core.dueClaims(at: Self.wall(Double(offset)))
            #expect(got == claims)
        }
        // A popped job is not claimed twice.
        do {
            let got = core.dueClaims(at: Self.wall(Double(offset)))
            #expect(got == [])
        }
    }

    @Test("due jobs are claimed in batches of claim_batch")
    func claimBatches() {
        var core = Self.core(jobs: (0..<5).map { every("job\($0)", seconds: 60) }, claimBatch: 2)
        let claims = core.dueClaims(at: Self.wall(60))
        let batches = claims.compactMap { action -> [Int]? in
            if case .claim(let positions, 0) = action { positions } else { nil }
        }
        #expect(batches.map(\.count) == [2, 2, 1])
        #expect(batches.flatMap { $0 }.sorted() == [0, 1, 2, 3, 4])
    }

    @Test(
        "the loop sleeps until the next attendance or ahead start, at most max_sleep, at least 1 ms",
        arguments: [
            (0.0, nil, .milliseconds(500)),
            (58.8, nil, .milliseconds(200)),
            (59.5, nil, .milliseconds(1)),
            (0.0, 0.25, .milliseconds(250)),
        ] as [(Double, Double?, Duration)])
    func sleep(now: Double, aheadStart: Double?, expected: Duration) {
        var core = Self.core(jobs: [every("minutely", seconds: 60), every("hourly", seconds: 3600)])
        if let aheadStart {
            // The hourly job's claim (at its attendance) left a run due `aheadStart` from now.
            _ = core.claimed(positions: [1], outcomes: [Self.outcome("hourly", earliestDue: aheadStart)], epoch: 0, now: Self.wall(now))
        }
        let slept = core.sleep(now: Self.wall(now))
        #expect(abs((slept - expected) / .microseconds(1)) <= 1)
    }

    // MARK: Claim outcomes

    @Test("a claimed job is queued for its next occurrence; a paused one is parked")
    func claimOutcomes() throws {
        var core = Self.core(jobs: [every("a", seconds: 60), every("b", seconds: 60)])
        _ = core.dueClaims(at: Self.wall(60))
        let claimed = core.claimed(positions: [0, 1], outcomes: [Self.outcome("a"), Self.outcome("b", paused: true)], epoch: 0, now: Self.wall(60))
        let actions = try #require(claimed)
        #expect(actions == [])
        #expect(core.parked == ["b"])
        #expect(core.queue.earliest == Self.t0 + 119)
        do {
            let got = core.dueClaims(at: Self.wall(119))
            #expect(got == [.claim(positions: [0], epoch: 0)])
        }
    }

    @Test(
        "a run claimed ahead is kept for its instant; one due now starts at once",
        arguments: [(0.5, false), (0.0, true), (-2.0, true)] as [(Double, Bool)])
    func aheadStarts(earliestDue: Double, startNow: Bool) throws {
        var core = Self.core()
        let claimed = core.claimed(positions: [0], outcomes: [Self.outcome("minutely", earliestDue: earliestDue)], epoch: 0, now: Self.wall(0))
        let actions = try #require(claimed)
        #expect(actions == (startNow ? [.startPending] : []))
        #expect(core.startTimes == (startNow ? [] : [Self.t0 + earliestDue]))
        core.dropPassedStarts(now: Self.wall(earliestDue))
        #expect(core.startTimes == [])
    }

    @Test("a claim that inserts a run due now and one ahead starts now and remembers the ahead start")
    func dueAndAheadInOneClaim() throws {
        var core = Self.core()
        var outcome = Self.outcome("minutely", earliestDue: 0)
        outcome.dues = [Self.t0, Self.t0 + 1]
        let claimed = core.claimed(positions: [0], outcomes: [outcome], epoch: 0, now: Self.wall(0))
        #expect(try #require(claimed) == [.startPending])
        #expect(core.startTimes == [Self.t0 + 1])
        core.beginDrain(mono: .zero)
        let steps = core.drainStep(now: Self.at(0), cancelled: false)
        #expect(steps == [.sleep(.milliseconds(1001)), .startDue])
    }

    @Test("a cancel request stops the execution here, once; a run executing elsewhere is left alone")
    func cancelRequested() throws {
        var core = Self.core()
        core.launched(runID: 7, generation: 2, leasedAt: .zero)
        let outcome = Self.outcome("minutely", cancelRequested: [7, 8])
        do {
            let got = core.claimed(positions: [0], outcomes: [outcome], epoch: 0, now: Self.wall(0))
            #expect(got == [.stop(runID: 7, generation: 2, reason: .cancelRequested)])
        }
        do {
            let got = core.claimed(positions: [0], outcomes: [outcome], epoch: 0, now: Self.wall(0))
            #expect(got == [])
        }
    }

    // MARK: Pauses

    @Test("a parked job is checked at most once per pause_check_interval of either clock, and resumes at once")
    func pausedParkingAndResume() throws {
        var core = Self.core(jobs: [every("a", seconds: 60), every("b", seconds: 60)])
        do {  // nothing parked: no read
            let got = core.pauseCheck(now: Self.at(0))
            #expect(got == nil)
        }
        _ = core.dueClaims(at: Self.wall(60))
        _ = core.claimed(positions: [0, 1], outcomes: [Self.outcome("a", paused: true), Self.outcome("b")], epoch: 0, now: Self.wall(60))
        do {
            let got = core.pauseCheck(now: Self.at(60))
            #expect(got == .checkPaused(epoch: 0))
        }
        do {
            let got = core.pauseCheck(now: Self.at(60.5, mono: .milliseconds(999)))
            #expect(got == nil)
        }
        do {  // monotonic time moved
            let got = core.pauseCheck(now: Self.at(60.5, mono: .seconds(1)))
            #expect(got == .checkPaused(epoch: 0))
        }
        do {  // wall time moved
            let got = core.pauseCheck(now: Self.at(61.5, mono: .seconds(1)))
            #expect(got == .checkPaused(epoch: 0))
        }
        // Still paused: stays parked, not queued.
        core.resumed(paused: ["a"], epoch: 0, at: Self.wall(62))
        #expect(core.parked == ["a"])
        do {
            let got = core.dueClaims(at: Self.wall(62))
            #expect(got == [])
        }
        // Resumed: queued at once.
        core.resumed(paused: [], epoch: 0, at: Self.wall(62))
        #expect(core.parked.isEmpty)
        do {
            let got = core.dueClaims(at: Self.wall(62))
            #expect(got == [.claim(positions: [0], epoch: 0)])
        }
    }

    // MARK: Slots

    struct SlotRow: Sendable, CustomTestStringConvertible {
        var maxRuns: Int
        var executing: Int
        var inFlight: [Bool]  // earlier reservations not yet released (single or not)
        var single: Bool
        var expected: Int?
        var testDescription: String { "max \(maxRuns), executing \(executing), in flight \(inFlight), single \(single)" }
    }

    @Test(
        "starts reserve free slots: never more than max_concurrent_runs with executions and reservations",
        arguments: [
            SlotRow(maxRuns: 4, executing: 0, inFlight: [], single: false, expected: 4),
            SlotRow(maxRuns: 100, executing: 0, inFlight: [], single: false, expected: 24),
            SlotRow(maxRuns: 4, executing: 3, inFlight: [], single: false, expected: 1),
            SlotRow(maxRuns: 4, executing: 4, inFlight: [], single: false, expected: nil),
            SlotRow(maxRuns: 4, executing: 1, inFlight: [false], single: false, expected: nil),
            SlotRow(maxRuns: 4, executing: 1, inFlight: [true], single: false, expected: 2),
            SlotRow(maxRuns: 4, executing: 0, inFlight: [], single: true, expected: 1),
            SlotRow(maxRuns: 100, executing: 50, inFlight: [false, false], single: false, expected: 2),
        ])
    func slots(row: SlotRow) {
        var core = Self.core(maxRuns: row.maxRuns)
        for id in 0..<row.executing { core.launched(runID: Int64(id), generation: 1, leasedAt: .zero) }
        for single in row.inFlight { _ = core.reserveStart(single: single) }
        do {
            let got = core.reserveStart(single: row.single)
            #expect(got == row.expected.map { .leasePending(limit: $0) })
        }
        #expect(core.executions.count + core.reserved <= row.maxRuns)
    }

    @Test(
        "a burst's start transactions grow with what started so far, within the free slots",
        arguments: [(0, 24), (24, 24), (48, 48), (300, 300), (1_000, 512)])
    func startChunksGrow(startedSoFar: Int, expected: Int) {
        var core = Self.core(maxRuns: 512)
        let got = core.reserveStart(startedSoFar: startedSoFar)
        #expect(got == .leasePending(limit: expected))
        #expect(core.reserved == expected)
    }

    @Test("ends free their slots for starts in the same transaction: never while draining or for a single run, never a stale end's")
    func reserveAfterEnds() {
        var core = Self.core(maxRuns: 4)
        for id in 1...4 { core.launched(runID: Int64(id), generation: 1, leasedAt: .zero) }
        // Two of the four end; an end of an older generation frees nothing.
        #expect(core.attemptEnded(runID: 1, generation: 1) != nil)
        #expect(core.attemptEnded(runID: 2, generation: 1) != nil)
        #expect(core.attemptEnded(runID: 3, generation: 0) == nil)
        #expect(core.attemptEnded(runID: 1, generation: 1) == nil)  // an end counts once
        #expect(core.reserveAfterEnds(singleRun: false) == 2)
        #expect(core.reserveStart() == nil)
        core.release(2)
        #expect(core.reserveAfterEnds(singleRun: true) == 0)
        core.stopClaiming()
        #expect(core.reserveAfterEnds(singleRun: false) == 0)
        #expect(core.reserved == 0)
    }

    @Test("released slots are free again; launched runs hold theirs until removed")
    func releaseAndRemove() {
        var core = Self.core(maxRuns: 2)
        do {
            let got = core.reserveStart()
            #expect(got == .leasePending(limit: 2))
        }
        do {
            let got = core.reserveStart()
            #expect(got == nil)
        }
        core.release(2)
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        do {
            let got = core.reserveStart()
            #expect(got == .leasePending(limit: 1))
        }
        core.release(1)
        do {  // a stale generation removes nothing
            let got = core.removeExecution(runID: 1, generation: 0)
            #expect(got == false)
        }
        #expect(core.freeSlots == 1)
        do {
            let got = core.removeExecution(runID: 1, generation: 1)
            #expect(got)
        }
        #expect(core.freeSlots == 2)
    }

    // MARK: Leasing ahead

    /// A core whose attempts took `pace` (one attempt ended after that long), with `maxRuns` slots.
    static func paced(_ pace: Duration, maxRuns: Int) -> EngineCore {
        var core = Self.core(maxRuns: maxRuns)
        core.launched(runID: 1, generation: 1, leasedAt: .zero, now: .seconds(1))
        _ = core.attemptEnded(runID: 1, generation: 1, mono: .seconds(1) + pace)
        let removed = core.removeExecution(runID: 1, generation: 1)
        #expect(removed)
        return core
    }

    @Test(
        "runs are leased ahead of free slots only while attempts are quick: what the slots get through in 10 ms, at most 16 per slot and 256",
        arguments: [
            (8, nil, false, 0),
            (8, .microseconds(50), false, 128),
            (8, .milliseconds(1), false, 80),
            (8, .milliseconds(5), false, 16),
            (8, .milliseconds(20), false, 4),
            (8, .milliseconds(100), false, 0),
            (8, .zero, true, 0),
            (512, .microseconds(10), false, 256),
        ] as [(Int, Duration?, Bool, Int)])
    func aheadDepth(maxRuns: Int, pace: Duration?, draining: Bool, expected: Int) {
        var core = pace.map { Self.paced($0, maxRuns: maxRuns) } ?? Self.core(maxRuns: maxRuns)
        if draining { core.stopClaiming() }
        #expect(core.aheadDepth == expected)
        #expect(core.leaseRoom == maxRuns + expected)
    }

    @Test("a run leased ahead waits for a slot and takes the first one an ended attempt frees; the cap holds")
    func leasedAheadRunsWaitForASlot() {
        var core = Self.paced(.microseconds(100), maxRuns: 2)
        #expect(core.reserveStart() == .leasePending(limit: 2))  // a burst's first commit: what executes at once
        #expect(core.reserveStart(startedSoFar: 2) == .leasePending(limit: 24))  // then a chunk (room: 2 slots + 32 ahead)
        core.release(26)
        #expect(core.launched(runID: 10, generation: 1, leasedAt: .zero) == true)
        #expect(core.launched(runID: 11, generation: 1, leasedAt: .zero) == true)
        #expect(core.launched(runID: 12, generation: 1, leasedAt: .zero) == false)
        #expect(core.launched(runID: 13, generation: 1, leasedAt: .zero) == false)
        #expect((core.slotsInUse, core.ready, core.freeSlots, core.executions.count) == (2, [12, 13], 0, 4))
        #expect(core.takeReady(now: .zero) == [])  // no slot free
        #expect(core.attemptEnded(runID: 11, generation: 1) == .recordFinish(runID: 11, generation: 1, stopReason: nil))
        #expect(core.takeReady(now: .zero) == [12])  // lease order
        #expect((core.slotsInUse, core.ready) == (2, [13]))
        // Every lease held here counts toward the lease room, so it never goes past slots + ahead.
        #expect(core.leaseRoom == 2 + core.aheadDepth - 3)
    }

    @Test(
        "a run stopped while it waits leaves the queue without a slot: a cancel or a shutdown is recorded, a lost lease forgotten",
        arguments: [
            (.cancelRequested, .recordFinish(runID: 12, generation: 1, stopReason: .cancelRequested)),
            (.shutdown, .recordFinish(runID: 12, generation: 1, stopReason: .shutdown)),
            (.leaseLost, .forget(runID: 12, generation: 1, reason: .leaseLost)),
            (.leaseExpired, .forget(runID: 12, generation: 1, reason: .leaseExpired)),
        ] as [(EngineCore.StopReason, EngineCore.EndAction)])
    func waitingRunStopped(reason: EngineCore.StopReason, expected: EngineCore.EndAction) {
        var core = Self.paced(.microseconds(100), maxRuns: 1)
        core.launched(runID: 11, generation: 1, leasedAt: .zero)
        core.launched(runID: 12, generation: 1, leasedAt: .zero)
        #expect(core.stop(12, reason) == .stop(runID: 12, generation: 1, reason: reason))
        #expect(core.ready.isEmpty)
        #expect(core.attemptEnded(runID: 12, generation: 1) == expected)
        #expect(core.slotsInUse == 1)  // run 11's; the stopped run never took one
        #expect(core.takeReady(now: .zero) == [])
    }

    @Test("once the service is cancelled, runs leased ahead never begin")
    func interruptedServiceStartsNoWaitingRun() {
        var core = Self.paced(.microseconds(100), maxRuns: 1)
        core.launched(runID: 11, generation: 1, leasedAt: .zero)
        core.launched(runID: 12, generation: 1, leasedAt: .zero)
        #expect(core.attemptEnded(runID: 11, generation: 1, interrupted: true) == .recordFinish(runID: 11, generation: 1, stopReason: .shutdown))
        #expect(core.takeReady(now: .zero) == [])
        #expect(core.launched(runID: 13, generation: 1, leasedAt: .zero) == false)
        #expect(core.stopAll(.shutdown).count == 2)  // the drain ends both unexecuted
    }

    @Test(
        "a run leased ahead that waited a second for a slot is handed back (and nothing more is leased ahead); the keeper wakes for it",
        arguments: [(0.5, false), (1.0, true), (3.0, true)] as [(Double, Bool)])
    func waitingRunHandedBack(after: Double, handedBack: Bool) {
        var core = Self.paced(.microseconds(100), maxRuns: 1)
        core.launched(runID: 11, generation: 1, leasedAt: .seconds(10))
        core.launched(runID: 12, generation: 3, leasedAt: .seconds(10))
        #expect(core.keeperSleep(mono: .seconds(10.25)) == .milliseconds(750))
        let now = Duration.seconds(10) + .milliseconds(Int64(after * 1000))
        let actions = core.maintainLeases(mono: now).filter { if case .stop = $0 { true } else { false } }
        #expect(actions == (handedBack ? [.stop(runID: 12, generation: 3, reason: .handBack)] : []))
        #expect(core.ready == (handedBack ? [] : [12]))
        #expect((core.aheadDepth == 0) == handedBack)
        if handedBack {
            #expect(core.attemptEnded(runID: 12, generation: 3) == .recordFinish(runID: 12, generation: 3, stopReason: .handBack))
        }
    }

    @Test("a hand-back stops leasing ahead at any slot count (not only while the pace rounds the depth to zero) until attempts end quickly again")
    func handBackStopsLeasingAheadAtManySlots() {
        var core = Self.paced(.microseconds(100), maxRuns: 512)
        for id in Int64(10)..<522 { core.launched(runID: id, generation: 1, leasedAt: .seconds(10), now: .seconds(10)) }
        core.launched(runID: 600, generation: 1, leasedAt: .seconds(10))
        #expect(core.ready == [600])
        let actions = core.maintainLeases(mono: .seconds(11)).filter { if case .stop = $0 { true } else { false } }
        #expect(actions == [.stop(runID: 600, generation: 1, reason: .handBack)])
        #expect(core.aheadDepth == 0)
        // Quick ends bring it back.
        for id in Int64(10)..<18 { _ = core.attemptEnded(runID: id, generation: 1, mono: .seconds(10) + .milliseconds(10)) }
        #expect(core.aheadDepth > 0)
    }

    @Test("a recording execution is never expired by its local deadline, stays renewed, and never makes the keeper spin")
    func recordingExecutionsStayRenewed() {
        var core = Self.core(lease: .seconds(30))
        core.launched(runID: 5, generation: 2, leasedAt: .zero)
        #expect(core.attemptEnded(runID: 5, generation: 2, mono: .seconds(1)) == .recordFinish(runID: 5, generation: 2, stopReason: nil))
        // The end cannot be written and renewals fail: long past the local deadline (25 s).
        core.renewalFailed(mono: .seconds(1))
        let actions = core.maintainLeases(mono: .seconds(40))
        #expect(actions == [.renew([EngineCore.HeldLease(id: 5, generation: 2)], startedAt: .seconds(40))])
        core.renewalFailed(mono: .seconds(40))
        #expect(core.keeperSleep(mono: .seconds(40)) == .seconds(1))
    }

    @Test("under saturation a lapsed lease keeps the next freed slot from pending runs, and the next scan takes it over")
    func takeoversAreNotStarvedUnderSaturation() {
        var core = Self.core(maxRuns: 2, lease: .seconds(30))
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        core.launched(runID: 2, generation: 1, leasedAt: .zero)
        _ = core.leasesSeen([Self.lease(9)], now: Self.at(0, mono: .seconds(1)))
        do {
            let got = core.leasesSeen([Self.lease(9)], now: Self.at(0, mono: .seconds(40)))
            #expect(got == nil)  // no free slot
        }
        _ = core.attemptEnded(runID: 1, generation: 1, mono: .seconds(41))
        _ = core.removeExecution(runID: 1, generation: 1)
        // The end's transaction leases nothing into the freed slot, nor does a start.
        let room = core.reserveAfterEnds(singleRun: false)
        core.release(room)
        #expect(room == 0)
        #expect(core.reserveStart() == nil)
        do {
            let got = core.leasesSeen([Self.lease(9)], now: Self.at(0, mono: .seconds(42)))
            #expect(got == .takeOver([Self.lease(9)]))
        }
        core.release(1)
        let taken = core.tookOver(runID: 9)
        #expect(taken)
        let executes = core.launched(runID: 9, generation: 2, leasedAt: .seconds(42))
        #expect(executes)
    }

    // MARK: Write-ahead log

    @Test(
        "the log is checkpointed after a quiet pass once a second, after a busy pass once five seconds passed",
        arguments: [
            (nil, false, true),
            (0.5, true, false),
            (1.0, true, true),
            (1.0, false, false),
            (4.9, false, false),
            (5.0, false, true),
        ] as [(Double?, Bool, Bool)])
    func checkpointTiming(sinceLast: Double?, quiet: Bool, due: Bool) {
        var core = Self.core()
        let last = Duration.seconds(100)
        var now = last
        if let sinceLast {
            let first = core.checkpointIfDue(mono: last, quiet: true)
            #expect(first)
            core.checkpointEnded()
            now = last + .milliseconds(Int64(sinceLast * 1000))
        }
        let got = core.checkpointIfDue(mono: now, quiet: quiet)
        #expect(got == due)
    }

    @Test("a checkpoint in flight is never joined by a second one")
    func oneCheckpointAtATime() {
        var core = Self.core()
        let first = core.checkpointIfDue(mono: .seconds(100), quiet: true)
        let whileInFlight = core.checkpointIfDue(mono: .seconds(110), quiet: true)
        core.checkpointEnded()
        let afterwards = core.checkpointIfDue(mono: .seconds(110), quiet: true)
        #expect(first && !whileInFlight && afterwards)
    }

    // MARK: Heartbeat

    @Test(
        "a heartbeat every heartbeat_interval of monotonic time",
        arguments: [(.milliseconds(4999), false), (.seconds(5), true), (.seconds(60), true)] as [(Duration, Bool)])
    func heartbeatInterval(elapsed: Duration, due: Bool) {
        var core = Self.core()
        do {
            let got = core.heartbeatIfDue(mono: .seconds(10))
            #expect(got == .heartbeat(state: .running, withJobs: true))
        }
        core.heartbeatRecorded(withJobs: true)
        do {
            let got = core.heartbeatIfDue(mono: .seconds(10) + elapsed)
            #expect(got == (due ? .heartbeat(state: .running, withJobs: false) : nil))
        }
    }

    @Test("after a reload the heartbeat is due at once and carries the job list; draining is reported")
    func heartbeatAfterReloadAndDrain() {
        var core = Self.core()
        _ = core.heartbeat(mono: .zero)
        core.heartbeatRecorded(withJobs: true)
        core.reload(table: core.table, settings: core.settings, watermarks: [:], now: Self.wall(0))
        do {
            let got = core.heartbeatIfDue(mono: .seconds(1))
            #expect(got == .heartbeat(state: .running, withJobs: true))
        }
        // A failed heartbeat keeps the job list for the next one.
        core.stopClaiming()
        do {
            let got = core.heartbeatIfDue(mono: .seconds(6))
            #expect(got == .heartbeat(state: .draining, withJobs: true))
        }
    }

    // MARK: Leases

    @Test(
        "an execution past its local deadline (renewal start + lease − lease/6) is stopped as leaseExpired",
        arguments: [(.milliseconds(24_999), false), (.seconds(25), true), (.seconds(40), true)] as [(Duration, Bool)])
    func localDeadline(mono: Duration, expired: Bool) {
        var core = Self.core(lease: .seconds(30))
        core.launched(runID: 3, generation: 4, leasedAt: .zero)
        // A renewal in flight (never answered) does not extend the deadline.
        _ = core.maintainLeases(mono: .seconds(10))
        #expect(core.renewing)
        let actions = core.maintainLeases(mono: mono)
        #expect(actions == (expired ? [.stop(runID: 3, generation: 4, reason: .leaseExpired)] : []))
    }

    @Test(
        "leases are renewed a third of a lease after the least recently renewed one was, one renewal at a time; an answer extends the deadline from its start")
    func renewal() {
        var core = Self.core(lease: .seconds(30))
        do {  // nothing held: nothing due, the keeper sleeps a third of the lease
            let got = core.maintainLeases(mono: .seconds(100))
            #expect(got == [])
            #expect(core.keeperSleep(mono: .seconds(100)) == .seconds(10))
        }
        core.launched(runID: 1, generation: 1, leasedAt: .seconds(100))
        core.launched(runID: 2, generation: 5, leasedAt: .seconds(101))
        let held = [EngineCore.HeldLease(id: 1, generation: 1), EngineCore.HeldLease(id: 2, generation: 5)]
        do {  // leases just taken are not renewed (however long the instance was idle)
            let got = core.maintainLeases(mono: .seconds(101))
            #expect(got == [])
            #expect(core.keeperSleep(mono: .seconds(101)) == .seconds(9))
        }
        do {
            let got = core.maintainLeases(mono: .seconds(110))
            #expect(got == [.renew(held, startedAt: .seconds(110))])
        }
        do {  // one in flight
            let got = core.maintainLeases(mono: .seconds(120))
            #expect(got == [])
        }
        do {
            let got = core.renewed(held, answers: [1: .renewed(cancelRequested: false), 2: .renewed(cancelRequested: false)], startedAt: .seconds(110))
            #expect(got == [])
        }
        #expect(core.executions[1]?.validUntil == .seconds(135))
        do {  // a third of the lease after the last renewal's start
            let got = core.maintainLeases(mono: .milliseconds(119_999))
            #expect(got == [])
        }
        do {
            let got = core.maintainLeases(mono: .seconds(120))
            #expect(got == [.renew(held, startedAt: .seconds(120))])
        }
        // A failed renewal is tried again a second later.
        core.renewalFailed(mono: .seconds(120))
        #expect(core.keeperSleep(mono: .seconds(120)) == .seconds(1))
        do {
            let got = core.maintainLeases(mono: .milliseconds(120_500))
            #expect(got == [])
        }
        do {
            let got = core.maintainLeases(mono: .seconds(121))
            #expect(got == [.renew(held, startedAt: .seconds(121))])
        }
        // Once nothing is held, an overdue renewal does not keep the keeper awake.
        _ = core.renewed(held, answers: [:], startedAt: .seconds(121))
        for run in held { core.removeExecution(runID: run.id, generation: run.generation) }
        #expect(core.keeperSleep(mono: .seconds(200)) == .seconds(10))
    }

    @Test(
        "renewal answers: lost stops (fenced), a cancel request stops, ended and stale generations change nothing",
        arguments: [
            (.lost, 1, [.stop(runID: 1, generation: 1, reason: .leaseLost)]),
            (.renewed(cancelRequested: true), 1, [.stop(runID: 1, generation: 1, reason: .cancelRequested)]),
            (.renewed(cancelRequested: false), 1, []),
            (.ended, 1, []),
            (.lost, 0, []),
        ] as [(Store.Renewal, Int64, [EngineCore.Stop])])
    func renewalAnswers(answer: Store.Renewal, generation: Int64, expected: [EngineCore.Stop]) {
        var core = Self.core()
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        _ = core.maintainLeases(mono: .zero)
        do {
            let got = core.renewed([EngineCore.HeldLease(id: 1, generation: generation)], answers: [1: answer], startedAt: .zero)
            #expect(got == expected)
        }
        // A lost lease is not renewed again.
        if answer == .lost && generation == 1 {
            do {
                let got = core.maintainLeases(mono: .seconds(10))
                #expect(got == [])
            }
        }
    }

    @Test("the keeper sleeps until the next renewal or the earliest local deadline")
    func keeperSleep() {
        var core = Self.core(lease: .seconds(30))
        #expect(core.keeperSleep(mono: .zero) == .seconds(10))
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        _ = core.maintainLeases(mono: .seconds(18))
        #expect(core.keeperSleep(mono: .seconds(20)) == .seconds(5))  // deadline at 25 s
        #expect(core.keeperSleep(mono: .seconds(26)) == .milliseconds(1))
    }

    // MARK: Ends

    @Test(
        "an ended attempt: recorded unless fenced; a cancelled service releases it; a stale one is ignored",
        arguments: [
            (nil, false, 1, .recordFinish(runID: 1, generation: 1, stopReason: nil)),
            (.shutdown, false, 1, .recordFinish(runID: 1, generation: 1, stopReason: .shutdown)),
            (.cancelRequested, false, 1, .recordFinish(runID: 1, generation: 1, stopReason: .cancelRequested)),
            (nil, true, 1, .recordFinish(runID: 1, generation: 1, stopReason: .shutdown)),
            (.cancelRequested, true, 1, .recordFinish(runID: 1, generation: 1, stopReason: .cancelRequested)),
            (.leaseLost, false, 1, .forget(runID: 1, generation: 1, reason: .leaseLost)),
            (.leaseExpired, true, 1, .forget(runID: 1, generation: 1, reason: .leaseExpired)),
            (nil, false, 2, nil),
        ] as [(EngineCore.StopReason?, Bool, Int64, EngineCore.EndAction?)])
    func attemptEnded(stop: EngineCore.StopReason?, interrupted: Bool, generation: Int64, expected: EngineCore.EndAction?) {
        var core = Self.core()
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        if let stop { _ = core.stop(1, stop) }
        do {
            let got = core.attemptEnded(runID: 1, generation: generation, interrupted: interrupted)
            #expect(got == expected)
        }
        #expect(core.draining == (interrupted && stop == nil && generation == 1))  // a cancelled service starts nothing more
        switch expected {
        case .recordFinish: #expect(core.executions[1]?.recording == true)  // the lease is held until recorded
        case .forget: #expect(core.executions[1] == nil)
        default: #expect(core.executions[1]?.recording == false)
        }
        #expect(core.slotsInUse == (expected == nil ? 1 : 0))  // an ended attempt's slot is free at once
    }

    // MARK: Takeover

    @Test("takeover scans run every min(1 s, lease/4)", arguments: [(30.0, 1.0), (2.0, 0.5)] as [(Double, Double)])
    func takeoverScanInterval(lease: Double, every: Double) {
        var core = Self.core(lease: .milliseconds(Int64(lease * 1000)))
        let interval = Duration.milliseconds(Int64(every * 1000))
        do {
            let got = core.takeoverScanIfDue(mono: .seconds(5))
            #expect(got == .scanTakeovers)
        }
        do {
            let got = core.takeoverScanIfDue(mono: .seconds(5) + interval - .milliseconds(1))
            #expect(got == nil)
        }
        do {
            let got = core.takeoverScanIfDue(mono: .seconds(5) + interval)
            #expect(got == .scanTakeovers)
        }
    }

    @Test(
        "a lease lapses when it stayed unchanged for a lease (or its remaining wall time, if longer) on the monotonic clock",
        arguments: [
            (30, .seconds(29), false),
            (30, .seconds(30), true),
            (-100, .seconds(30), true),  // a wall clock step never shortens the patience
            (60, .seconds(30), false),
            (60, .seconds(60), true),
            (10_000, .seconds(300), true),  // at most ten leases
        ] as [(Double, Duration, Bool)])
    func lapse(expiresIn: Double, after: Duration, lapsed: Bool) {
        var core = Self.core(lease: .seconds(30))
        let held = Self.lease(9, expiresIn: expiresIn)
        do {
            let got = core.leasesSeen([held], now: Self.at(0, mono: .seconds(100)))
            #expect(got == nil)
        }
        do {
            let got = core.leasesSeen([held], now: Self.at(0, mono: .seconds(100) + after))
            #expect(got == (lapsed ? .takeOver([held]) : nil))
        }
    }

    @Test("a renewed lease is watched afresh; a run executing here or a draining instance takes nothing over")
    func noTakeover() {
        var core = Self.core(lease: .seconds(30))
        _ = core.leasesSeen([Self.lease(9)], now: Self.at(0))
        do {  // renewed
            let got = core.leasesSeen([Self.lease(9, expiresIn: 40)], now: Self.at(10, mono: .seconds(30)))
            #expect(got == nil)
        }
        do {
            let got = core.leasesSeen([Self.lease(9, expiresIn: 40)], now: Self.at(10, mono: .seconds(59)))
            #expect(got == nil)
        }
        core.launched(runID: 9, generation: 1, leasedAt: .seconds(59))
        do {
            let got = core.leasesSeen([Self.lease(9, expiresIn: 40)], now: Self.at(10, mono: .seconds(200)))
            #expect(got == nil)
        }
        var draining = Self.core(lease: .seconds(30))
        _ = draining.leasesSeen([Self.lease(9)], now: Self.at(0))
        draining.stopClaiming()
        do {
            let got = draining.leasesSeen([Self.lease(9)], now: Self.at(0, mono: .seconds(30)))
            #expect(got == nil)
        }
    }

    @Test("lapsed leases fill the free slots, earliest expiry first, their slots reserved")
    func takeoverFitsTheCap() {
        var core = Self.core(maxRuns: 2, lease: .seconds(30))
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        let leases = [Self.lease(8, expiresIn: 20), Self.lease(9, expiresIn: 10)]
        _ = core.leasesSeen(leases, now: Self.at(0))
        do {
            let got = core.leasesSeen(leases, now: Self.at(0, mono: .seconds(30)))
            #expect(got == .takeOver([Self.lease(9, expiresIn: 10)]))
        }
        do {
            let got = core.reserveStart()
            #expect(got == nil)
        }
        core.release(1)
        do {
            let got = core.tookOver(runID: 9)
            #expect(got)
        }
        core.launched(runID: 9, generation: 2, leasedAt: .seconds(30))
        do {  // executing here: never twice
            let got = core.tookOver(runID: 9)
            #expect(got == false)
        }
    }

    // MARK: Drain

    @Test("drain: ahead claims start when due, executions get the grace from the last start, the rest is stopped, then deregister")
    func drainSequence() throws {
        var core = Self.core(grace: .seconds(10))
        _ = core.claimed(positions: [0], outcomes: [Self.outcome("minutely", earliestDue: 0.5)], epoch: 0, now: Self.wall(0))
        core.launched(runID: 4, generation: 2, leasedAt: .zero)
        core.beginDrain(mono: .zero)
        #expect(core.draining)
        do {
            let got = core.drainStep(now: Self.at(0), cancelled: false)
            #expect(got == [.sleep(.milliseconds(501)), .startDue])
        }
        core.dropPassedStarts(now: Self.wall(0.501))
        do {
            let got = core.drainStep(now: Self.at(0.501, mono: .milliseconds(501)), cancelled: false)
            #expect(got == [.sleep(.milliseconds(50))])
        }
        #expect(core.drainPhase == .grace(deadline: .milliseconds(10_501)))
        do {
            let got = core.drainStep(now: Self.at(10.48, mono: .milliseconds(10_480)), cancelled: false)
            #expect(got == [.sleep(.milliseconds(21))])
        }
        #expect(
            core.drainStep(now: Self.at(10.501, mono: .milliseconds(10_501)), cancelled: false) == [
                .stop(runID: 4, generation: 2, reason: .shutdown), .deregister,
            ])
        do {
            let got = core.drainStep(now: Self.at(11, mono: .seconds(11)), cancelled: false)
            #expect(got == [.deregister])
        }
    }

    @Test(
        "drain: no executions end it at once; a cancelled service waits for nothing; ahead starts wait at most max(grace, 2 s)",
        arguments: [
            (false, nil, false, [.deregister]),
            (true, 0.5, true, [.stop(runID: 4, generation: 2, reason: .shutdown), .deregister]),
            (false, 0.0, false, [.startDue]),
            (false, 5.0, false, [.sleep(.seconds(2)), .startDue]),
        ] as [(Bool, Double?, Bool, [EngineCore.DrainAction])])
    func drainShortcuts(executing: Bool, aheadStart: Double?, cancelled: Bool, expected: [EngineCore.DrainAction]) {
        var core = Self.core(grace: .seconds(1))
        if let aheadStart {
            _ = core.claimed(positions: [0], outcomes: [Self.outcome("minutely", earliestDue: aheadStart)], epoch: 0, now: Self.wall(-1))
        }
        if executing { core.launched(runID: 4, generation: 2, leasedAt: .zero) }
        core.beginDrain(mono: .zero)
        do {
            let got = core.drainStep(now: Self.at(0), cancelled: cancelled)
            #expect(got == expected)
        }
    }

    // MARK: Pass

    /// What the core holds before a pass begins.
    enum PassSetup: Sendable {
        case fresh, draining, parked, leaseSeen, executing
    }

    struct PassRow: Sendable, CustomTestStringConvertible {
        var name: String
        var setup = PassSetup.fresh
        var checkpoints = true
        /// The results fed, in order, for the actions the pass asks for.
        var results: [EngineCore.StepResult]
        /// A reload after this many results (while the next action runs).
        var reloadAfter: Int?
        var actions: [Action]
        var report = EngineCore.PassReport()
        /// What the next pass claims a second later.
        var claimsLater: [Action] = []
        var testDescription: String { name }
    }

    static let claim0 = Action.claim(positions: [0], epoch: 0)
    static let claim1 = Action.claim(positions: [1], epoch: 0)
    static let beat = Action.heartbeat(state: .running, withJobs: true)
    static let claimedA = EngineCore.StepResult.claimed([outcome("a")])
    static let claimedB = EngineCore.StepResult.claimed([outcome("b")])
    static let dueA = EngineCore.StepResult.claimed([outcome("a", earliestDue: 60)])
    static let dueB = EngineCore.StepResult.claimed([outcome("b", earliestDue: 60)])

    static let passRows: [PassRow] = [
        PassRow(
            name: "a quiet pass: start, checkpoint, claims, takeover scan, heartbeat", results: [.started(0), .done, claimedA, claimedB, .leases([]), .done],
            actions: [.startPending, .checkpoint, claim0, claim1, .scanTakeovers, beat, .passEnded], report: .init(examined: 2)),
        PassRow(
            name: "a pass that started runs checkpoints after the heartbeat, not before its claims",
            results: [.started(3), claimedA, claimedB, .leases([]), .done, .done],
            actions: [.startPending, claim0, claim1, .scanTakeovers, beat, .checkpoint, .passEnded], report: .init(started: 3, examined: 2)),
        PassRow(
            name: "without a checkpointer the log is never checkpointed", checkpoints: false, results: [.started(0), claimedA, claimedB, .leases([]), .done],
            actions: [.startPending, claim0, claim1, .scanTakeovers, beat, .passEnded], report: .init(examined: 2)),
        PassRow(
            name: "a batch that made runs due starts them before the next batch, and the last batch's after it",
            results: [.started(0), .done, dueA, .started(1), dueB, .started(1), .leases([]), .done],
            actions: [.startPending, .checkpoint, claim0, .startPending, claim1, .startPending, .scanTakeovers, beat, .passEnded],
            report: .init(claimed: 2, started: 2, examined: 2)),
        PassRow(
            name: "a failed start between batches still claims; the start after the last batch tries again",
            results: [.started(0), .done, dueA, .failed, claimedB, .started(2), .leases([]), .done],
            actions: [.startPending, .checkpoint, claim0, .startPending, claim1, .startPending, .scanTakeovers, beat, .passEnded],
            report: .init(claimed: 1, started: 2, examined: 2)),
        PassRow(
            name: "a failed first start still claims (a start that keeps failing never stalls the claims)",
            results: [.failed, claimedA, claimedB, .leases([]), .done, .done],
            actions: [.startPending, claim0, claim1, .scanTakeovers, beat, .checkpoint, .passEnded], report: .init(examined: 2)),
        PassRow(
            name: "a reload during the start between batches drops the rest of the claims (never a stale table's positions)",
            results: [.started(0), .done, dueA, .started(1), .leases([]), .done], reloadAfter: 3,
            actions: [.startPending, .checkpoint, claim0, .startPending, .scanTakeovers, beat, .passEnded],
            report: .init(claimed: 1, started: 1, examined: 2)),
        PassRow(
            name: "a failed claim requeues the rest of the pass's jobs and goes on to the takeover scan",
            results: [.started(0), .done, .failed, .leases([]), .done], actions: [.startPending, .checkpoint, claim0, .scanTakeovers, beat, .passEnded],
            report: .init(examined: 2), claimsLater: [claim0, claim1]),
        PassRow(
            name: "a failed claim after a batch that made runs due drops the start after the claims",
            results: [.started(0), .done, dueA, .failed, .failed, .leases([]), .done],
            actions: [.startPending, .checkpoint, claim0, .startPending, claim1, .scanTakeovers, beat, .passEnded],
            report: .init(claimed: 1, examined: 2), claimsLater: [claim1]),
        PassRow(
            name: "a reload while a claim runs drops the rest of the claims and the start after them",
            results: [.started(0), .done, dueA, .leases([]), .done], reloadAfter: 2,
            actions: [.startPending, .checkpoint, claim0, .scanTakeovers, beat, .passEnded], report: .init(examined: 2)),
        PassRow(
            name: "a cancel request a claim reports stops the execution before the next batch", setup: .executing,
            results: [.started(0), .done, .claimed([outcome("a", cancelRequested: [7])]), .done, claimedB, .leases([]), .done],
            actions: [
                .startPending, .checkpoint, claim0, .stop(runID: 7, generation: 2, reason: .cancelRequested), claim1, .scanTakeovers, beat, .passEnded,
            ], report: .init(examined: 2)),
        PassRow(
            name: "a paused job found resumed is claimed in the same pass", setup: .parked,
            results: [.started(0), .done, .paused([]), claimedA, .leases([]), .done],
            actions: [.startPending, .checkpoint, .checkPaused(epoch: 0), claim0, .scanTakeovers, beat, .passEnded], report: .init(examined: 1)),
        PassRow(
            name: "a failed pause read skips the claims", setup: .parked, results: [.started(0), .done, .failed, .leases([]), .done],
            actions: [.startPending, .checkpoint, .checkPaused(epoch: 0), .scanTakeovers, beat, .passEnded]),
        PassRow(
            name: "a lapsed lease is taken over after the claims; its runs count as started", setup: .leaseSeen,
            results: [.started(0), .done, claimedA, claimedB, .leases([lease(9)]), .tookOver(1), .done],
            actions: [.startPending, .checkpoint, claim0, claim1, .scanTakeovers, .takeOver([lease(9)]), beat, .passEnded],
            report: .init(started: 1, takenOver: 1, examined: 2)),
        PassRow(
            name: "a failed takeover scan still heartbeats", results: [.started(0), .done, claimedA, claimedB, .failed, .done],
            actions: [.startPending, .checkpoint, claim0, claim1, .scanTakeovers, beat, .passEnded], report: .init(examined: 2)),
        PassRow(
            name: "while draining only the heartbeat and the checkpoint run, even after a failed heartbeat", setup: .draining, results: [.failed, .done],
            actions: [.heartbeat(state: .draining, withJobs: true), .checkpoint, .passEnded], claimsLater: [claim0, claim1]),
        PassRow(
            name: "while draining without a checkpointer only the heartbeat runs", setup: .draining, checkpoints: false, results: [.done],
            actions: [.heartbeat(state: .draining, withJobs: true), .passEnded], claimsLater: [claim0, claim1]),
    ]

    /// Jobs a and b every minute, one per claim batch, attended at second 59.
    static func passCore(_ setup: PassSetup) -> EngineCore {
        var core = Self.core(jobs: [every("a", seconds: 60), every("b", seconds: 60)], claimBatch: 1)
        switch setup {
        case .fresh: break
        case .draining: core.stopClaiming()
        case .parked:
            _ = core.dueClaims(at: Self.wall(59))
            _ = core.claimed(positions: [0, 1], outcomes: [Self.outcome("a", paused: true), Self.outcome("b")], epoch: 0, now: Self.wall(59))
        case .leaseSeen: _ = core.leasesSeen([Self.lease(9)], now: Self.at(0))
        case .executing: core.launched(runID: 7, generation: 2, leasedAt: .seconds(100))
        }
        return core
    }

    @Test("one pass: the core orders its steps and decides what each result skips", arguments: passRows)
    func passOrder(row: PassRow) {
        var core = Self.passCore(row.setup)
        let now = Self.at(60, mono: .seconds(100))
        var pass = core.beginPass(now: now, checkpoints: row.checkpoints)
        var actions = [pass.action]
        var fed = 0
        while pass.action != .passEnded && fed < row.results.count {
            if fed == row.reloadAfter {
                core.reload(table: core.table, settings: core.settings, watermarks: ["a": Self.instant(60), "b": Self.instant(60)], now: Self.wall(60))
            }
            core.passStep(&pass, after: row.results[fed], now: now)
            fed += 1
            actions.append(pass.action)
        }
        #expect(actions == row.actions)
        #expect(fed == row.results.count, "every result was asked for")
        #expect(pass.report == row.report)
        let later = core.dueClaims(at: Self.wall(61))
        #expect(later == row.claimsLater)
    }

    @Test("a failed start between claim batches is not logged (the start after the last one retries it); every other failure is")
    func passFailuresLogged() {
        var core = Self.passCore(.fresh)
        let now = Self.at(60, mono: .seconds(100))
        var pass = core.beginPass(now: now, checkpoints: true)
        var logged: [Bool] = []
        for result in [EngineCore.StepResult.started(0), .done, Self.dueA, .failed, Self.claimedB, .failed, .failed, .failed] {
            logged.append(pass.logsFailure)
            core.passStep(&pass, after: result, now: now)
        }
        #expect(logged == [true, true, true, false, true, true, true, true])
        #expect(pass.action == .passEnded)
    }

    // MARK: Reload

    @Test("a reload starts a new epoch: outcomes of calls made before it are dropped")
    func reloadEpoch() {
        var core = Self.core(jobs: [every("a", seconds: 60), every("b", seconds: 60)])
        let claims = core.dueClaims(at: Self.wall(60))
        #expect(claims == [.claim(positions: [0, 1], epoch: 0)] || claims == [.claim(positions: [1, 0], epoch: 0)])
        _ = core.claimed(positions: [1], outcomes: [Self.outcome("b", paused: true)], epoch: 0, now: Self.wall(60))
        do {
            let got = core.pauseCheck(now: Self.at(60))
            #expect(got == .checkPaused(epoch: 0))
        }
        // The new plan has only b, and a fresh schedule from the watermarks.
        let newTable = JobTable([every("b", seconds: 60)])
        core.reload(table: newTable, settings: core.settings, watermarks: ["b": Self.instant(60)], now: Self.wall(60))
        #expect(core.epoch == 1)
        #expect(core.parked.isEmpty)
        do {
            let got = core.claimed(positions: [0], outcomes: [Self.outcome("a", paused: true)], epoch: 0, now: Self.wall(60))
            #expect(got == nil)
        }
        core.claimFailed(positions: [0], epoch: 0, at: Self.wall(60))
        core.resumed(paused: [], epoch: 0, at: Self.wall(60))
        #expect(core.parked.isEmpty)
        #expect(core.queue.earliest == Self.t0 + 119)
        do {
            let got = core.dueClaims(at: Self.wall(119))
            #expect(got == [.claim(positions: [0], epoch: 1)])
        }
    }

    @Test("a failed claim looks at its jobs again a second later")
    func claimFailure() {
        var core = Self.core()
        _ = core.dueClaims(at: Self.wall(60))
        core.claimFailed(positions: [0], epoch: 0, at: Self.wall(60))
        do {
            let got = core.dueClaims(at: Self.wall(60))
            #expect(got == [])
        }
        do {
            let got = core.dueClaims(at: Self.wall(61))
            #expect(got == [.claim(positions: [0], epoch: 0)])
        }
    }
}
