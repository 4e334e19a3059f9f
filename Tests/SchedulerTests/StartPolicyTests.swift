import Foundation
import Testing

@testable import Scheduler

/// Whether a pending run starts, waits or ends, and what a takeover does with a lapsed run: the
/// decisions the start and takeover transactions perform (they used to be made inside them).
@Suite("Start policy")
struct StartPolicyTests {
    static let t = 1_800_000_000.0

    static func run(
        trigger: RunTrigger = .schedule, cancel: Bool = false, attempt: Int = 0, takeovers: Int = 0, createdAhead: Bool = false, lateBy: Double = 0,
        started: Bool = false
    ) -> RunRecord {
        let due = t - lateBy
        return RunRecord(
            id: 1, job: "j", nominal: Int64(due), trigger: trigger, state: .pending, attempt: attempt, maxAttempts: 3, takeovers: takeovers,
            generation: Int64(attempt), createdAt: createdAhead ? due - 0.5 : due, dueAt: due, startedAt: started ? due : nil, finishedAt: nil,
            cancelRequested: cancel, reason: nil, error: nil, summary: nil, detail: nil)
    }

    static func job(overlap: OverlapPolicy = .skip, misfire: MisfirePolicy = MisfirePolicy(mode: .skip, grace: .seconds(5))) -> JobSpec {
        every("j", seconds: 3600, misfire: misfire, overlap: overlap)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var run: RunRecord
        var job: JobSpec?
        var paused = false
        var busy = false
        var expected: StartPolicy.Decision
        var testDescription: String { name }
    }

    static let cancelled = StartPolicy.Decision.end(
        .cancelled, reason: "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request, before it started again",
        event: "cancelled")

    static let rows: [Row] = [
        Row(name: "a due run of an idle job starts", run: run(), job: job(), expected: .start),
        Row(
            name: "a requested cancel ends it first, even when paused and busy", run: run(cancel: true), job: job(), paused: true, busy: true,
            expected: cancelled),
        Row(name: "a requested cancel ends it even when its job is gone", run: run(cancel: true), job: nil, expected: cancelled),
        Row(name: "a job missing here is left to the store's live-instance check", run: run(), job: nil, expected: .jobMissing),
        Row(name: "a paused job's scheduled run waits", run: run(), job: job(), paused: true, expected: .hold),
        Row(name: "a paused job's manual run still runs", run: run(trigger: .manual), job: job(), paused: true, expected: .start),
        Row(
            name: "an ahead-claim nobody started within the grace misfires", run: run(createdAhead: true, lateBy: 10), job: job(),
            expected: .end(.skipped, reason: "misfire: not started until 10s after its time, grace 5s", event: "skipped")),
        Row(name: "an ahead-claim still within its grace starts", run: run(createdAhead: true, lateBy: 3), job: job(), expected: .start),
        Row(name: "a late retry is never a misfire", run: run(attempt: 1, createdAhead: true, lateBy: 100, started: true), job: job(), expected: .start),
        Row(name: "a busy job's run waits (skip)", run: run(), job: job(), busy: true, expected: .hold),
        Row(name: "a busy job's run waits (cancel_previous)", run: run(), job: job(overlap: .cancelPrevious), busy: true, expected: .hold),
        Row(name: "overlap allow starts beside the running one", run: run(), job: job(overlap: .allow), busy: true, expected: .start),
        Row(name: "a pause is checked before the misfire", run: run(createdAhead: true, lateBy: 10), job: job(), paused: true, expected: .hold),
    ]

    @Test(arguments: rows)
    func pendingRuns(_ row: Row) {
        #expect(StartPolicy.pending(row.run, job: row.job, paused: row.paused, busy: row.busy, at: Self.t) == row.expected)
    }

    struct TakeoverRow: Sendable, CustomTestStringConvertible {
        var name: String
        var run: RunRecord
        var job: JobSpec?
        var expected: StartPolicy.Decision
        var testDescription: String { name }
    }

    static let takeoverRows: [TakeoverRow] = [
        TakeoverRow(name: "a lapsed run is resumed", run: run(attempt: 1, takeovers: 2), job: job(), expected: .start),
        TakeoverRow(name: "a job missing here is left to the live-instance check", run: run(cancel: true, attempt: 1), job: nil, expected: .jobMissing),
        TakeoverRow(
            name: "a pending cancel ends it cancelled, not relaunched", run: run(cancel: true, attempt: 1, takeovers: 5), job: job(),
            expected: .end(.cancelled, reason: "cancelled: its owner a stopped renewing before the requested cancel was recorded", event: "cancelled")),
        TakeoverRow(
            name: "the third lapse abandons it", run: run(attempt: 1, takeovers: 3), job: job(),
            expected: .end(.abandoned, reason: "abandoned: its lease expired 4 times (last owner a)", event: "abandoned")),
    ]

    @Test(arguments: takeoverRows)
    func takeovers(_ row: TakeoverRow) {
        #expect(StartPolicy.takeover(row.run, job: row.job, lastOwner: "a", maxTakeovers: 3) == row.expected)
    }
}
