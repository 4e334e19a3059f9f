import Foundation
import Logging
import Testing

@testable import Scheduler

/// Table tests of the small machines `EngineCore` is composed of: drain, leases, ends (and the
/// kick that follows them). Each is a value with private state driven only by its methods.
@Suite struct EngineMachinesTests {
    static func now(_ seconds: Double, mono: Duration = .zero) -> EngineCore.Now {
        EngineCore.Now(wall: Date(timeIntervalSince1970: 1_000_000 + seconds), mono: mono)
    }

    // MARK: Drain

    struct DrainRow: Sendable, CustomTestStringConvertible {
        var name: String
        /// The earliest start claimed ahead (seconds after the test's epoch).
        var nextStart: Double?
        var executing: Bool
        var cancelled = false
        /// The steps at 0 s, then at 3 s, then at 20 s (monotonic as the wall).
        var steps: [DrainMachine.Step]
        var testDescription: String { name }
    }

    @Test(
        "drain: ahead starts when due (at most max(grace, 2 s)), then the grace, then stop all and deregister",
        arguments: [
            DrainRow(name: "nothing to wait for", nextStart: nil, executing: false, steps: [.stopAllThenDeregister, .deregister, .deregister]),
            DrainRow(
                name: "an execution gets the grace", nextStart: nil, executing: true,
                steps: [.sleep(.milliseconds(50)), .sleep(.milliseconds(50)), .stopAllThenDeregister]),
            DrainRow(name: "an ahead start due now", nextStart: 0, executing: false, steps: [.startDue, .stopAllThenDeregister, .deregister]),
            DrainRow(
                name: "an ahead start later waits for it", nextStart: 1.5, executing: true,
                steps: [.sleepThenStartDue(.milliseconds(1501)), .sleep(.milliseconds(50)), .stopAllThenDeregister]),
            DrainRow(
                name: "a cancelled service waits for nothing", nextStart: 1.5, executing: true, cancelled: true,
                steps: [.stopAllThenDeregister, .deregister, .deregister]),
        ])
    func drain(row: DrainRow) {
        var machine = DrainMachine()
        #expect(!machine.draining)
        machine.stopClaiming()
        #expect(machine.draining && machine.phase == .claimsStopped)
        var got: [DrainMachine.Step] = []
        for t in [0.0, 3, 20] {
            // The ahead start is honoured once: after it, none is left.
            let next = t == 0 ? row.nextStart.map { 1_000_000 + $0 } : nil
            got.append(
                machine.step(now: Self.now(t, mono: .seconds(t)), nextStart: next, executing: row.executing, grace: .seconds(10), cancelled: row.cancelled))
        }
        #expect(got == row.steps)
    }

    @Test("drain: an interrupt stops claiming and is remembered; begin always restarts the sequence")
    func interrupt() {
        var machine = DrainMachine()
        machine.interrupt()
        #expect(machine.interrupted && machine.draining)
        machine.begin(mono: .seconds(1), grace: .seconds(1))
        #expect(machine.phase == .aheadStarts(limit: .seconds(3)))
    }

    // MARK: Leases

    static func lease(_ id: Int64, expires: Double = 1_000_030, duration: Double? = 30, renewals: Int64 = 0) -> LeaseRecord {
        LeaseRecord(runID: id, owner: "other", generation: 1, acquiredAt: 1_000_000, expiresAt: expires, duration: duration, renewals: renewals)
    }

    @Test(
        "leases: a lease lapses once unchanged for max(own lease, owner's); a change or a failed write restarts it",
        arguments: [
            ("unchanged for the owner's lease", 30.0, false, false, [Int64(1)]),
            ("renewed meanwhile", 30.0, true, false, []),
            ("a write failed meanwhile", 30.0, false, true, []),
            ("the owner's lease is longer", 60.0, false, false, []),
        ] as [(String, Double, Bool, Bool, [Int64])])
    func lapse(name: String, ownerLease: Double, renewed: Bool, writeFailed: Bool, expected: [Int64]) {
        var machine = LeaseMachine()
        let first = Self.lease(1, duration: ownerLease)
        #expect(machine.lapsed([first], now: Self.now(0), lease: .seconds(30)) { _ in false }.isEmpty)
        if writeFailed { machine.writeFailed(mono: .seconds(10)) }
        let later = renewed ? Self.lease(1, duration: ownerLease, renewals: 1) : first
        let lapsed = machine.lapsed([later], now: Self.now(31, mono: .seconds(31)), lease: .seconds(30)) { _ in false }
        #expect(lapsed.map(\.runID) == expected, "\(name)")
    }

    @Test("leases: a run executing here is never observed; a taken-over one is forgotten")
    func executingHere() {
        var machine = LeaseMachine()
        _ = machine.lapsed([Self.lease(1), Self.lease(2)], now: Self.now(0), lease: .seconds(30)) { $0 == 2 }
        machine.tookOver(runID: 1)
        // Run 1 is seen afresh (its observation was dropped), run 2 is still executing here.
        #expect(machine.lapsed([Self.lease(1), Self.lease(2)], now: Self.now(40, mono: .seconds(40)), lease: .seconds(30)) { $0 == 2 }.isEmpty)
        #expect(machine.lapsed([Self.lease(1)], now: Self.now(80, mono: .seconds(80)), lease: .seconds(30)) { _ in false }.map(\.runID) == [1])
    }

    @Test(
        "leases: renewal phases",
        arguments: [
            ("started", [0], LeaseMachine.Renewal.inFlight),
            ("answered", [0, 1], .idle),
            ("failed", [0, 2], .backoff(until: .seconds(6))),
            ("failed, then answered", [0, 2, 0, 1], .idle),
        ] as [(String, [Int], LeaseMachine.Renewal)])
    func renewal(name: String, events: [Int], expected: LeaseMachine.Renewal) {
        var machine = LeaseMachine()
        for event in events {
            switch event {
            case 0: machine.renewalStarted()
            case 1: machine.renewalAnswered()
            default: machine.renewalFailed(mono: .seconds(5))
            }
        }
        #expect(machine.renewal == expected, "\(name)")
        #expect(machine.renewing == (expected == .inFlight))
        #expect(machine.retryAt == (expected == .backoff(until: .seconds(6)) ? .seconds(6) : nil))
    }

    @Test("leases: a scan at most every interval")
    func scans() {
        var machine = LeaseMachine()
        let got = [0, 500, 999, 1000, 1500, 2100].map { machine.scanIfDue(mono: .milliseconds($0), every: .seconds(1)) }
        #expect(got == [true, false, false, true, false, true])
    }

    @Test("instances: live while their heartbeat changes on this clock; forgotten after a day silent on both clocks")
    func instances() {
        var machine = LeaseMachine()
        machine.instancesSeen(["b": 1_000_000], mono: .zero)
        #expect(machine.liveInstances(mono: .seconds(29), window: .seconds(30)) == ["b"])
        #expect(machine.liveInstances(mono: .seconds(30), window: .seconds(30)).isEmpty)
        machine.instancesSeen(["b": 1_000_005], mono: .seconds(40))
        #expect(machine.liveInstances(mono: .seconds(60), window: .seconds(30)) == ["b"])
        let day: Duration = .seconds(86_400)
        #expect(machine.forgottenInstances(now: Self.now(86_405, mono: .seconds(40) + day), after: day) == ["b"])
        #expect(machine.forgottenInstances(now: Self.now(86_404, mono: .seconds(40) + day), after: day).isEmpty)
    }

    // MARK: Ends

    static func finish(_ id: Int64) -> EndMachine.Finish {
        EndMachine.Finish(end: Store.AttemptEnd(runID: id, generation: 1, result: .released), logger: Logger(label: "test"), job: "j")
    }

    enum EndEvent: Sendable {
        case ended(Int64), next, recorded(startsMayWait: Bool), failed(withStarts: Bool)
    }

    /// What an event returned: whether a flush starts, the next action, or the failure's follow-up.
    enum EndResult: Equatable, Sendable {
        case flushStarts(Bool), write([Int64], endsOnly: Bool), finished(kickAfter: Bool), failure(EndMachine.FailedWrite), none
    }

    @Test(
        "ends: batched while a flush runs, retried (ends alone first) until recorded, a kick after a full start",
        arguments: [
            (
                "one flush for ends that arrive together", [.ended(1), .ended(2), .next, .recorded(startsMayWait: false), .next],
                [.flushStarts(true), .flushStarts(false), .write([1, 2], endsOnly: false), .none, .finished(kickAfter: false)]
            ),
            (
                "an end during the write joins the next batch",
                [.ended(1), .next, .ended(2), .recorded(startsMayWait: true), .next, .recorded(startsMayWait: false), .next],
                [.flushStarts(true), .write([1], endsOnly: false), .flushStarts(false), .none, .write([2], endsOnly: false), .none, .finished(kickAfter: true)]
            ),
            (
                "a failed write with starts: the ends alone at once, then starts again",
                [.ended(1), .next, .failed(withStarts: true), .next, .recorded(startsMayWait: false), .ended(2), .next],
                [
                    .flushStarts(true), .write([1], endsOnly: false), .failure(.endsAloneNow), .write([1], endsOnly: true), .none, .flushStarts(false),
                    .write([2], endsOnly: false),
                ]
            ),
            (
                "the ends alone failed: after a delay, before later ends", [.ended(1), .next, .ended(2), .failed(withStarts: false), .next],
                [.flushStarts(true), .write([1], endsOnly: false), .flushStarts(false), .failure(.retryAfterDelay), .write([1, 2], endsOnly: false)]
            ),
        ] as [(String, [EndEvent], [EndResult])])
    func ends(name: String, events: [EndEvent], expected: [EndResult]) {
        var machine = EndMachine()
        var lastBatch: [EndMachine.Finish] = []
        var got: [EndResult] = []
        for event in events {
            switch event {
            case .ended(let id): got.append(.flushStarts(machine.ended(Self.finish(id))))
            case .next:
                switch machine.next() {
                case .write(let batch, let endsOnly):
                    lastBatch = batch
                    got.append(.write(batch.map(\.end.runID), endsOnly: endsOnly))
                case .finished(let kickAfter): got.append(.finished(kickAfter: kickAfter))
                }
            case .recorded(let startsMayWait):
                machine.recorded(startsMayWait: startsMayWait)
                got.append(.none)
            case .failed(let withStarts): got.append(.failure(machine.failed(lastBatch, withStarts: withStarts)))
            }
        }
        #expect(got == expected, "\(name)")
    }

    @Test(
        "kick: one round at a time; asks meanwhile coalesce into one more round; none while not allowed",
        arguments: [
            ("alone", [true], [true], false),
            ("asked twice meanwhile: one more round", [true, true, true], [true, false, false], true),
            ("not allowed (draining, a single run)", [false], [false], false),
        ] as [(String, [Bool], [Bool], Bool)])
    func kick(name: String, asks: [Bool], starts: [Bool], again: Bool) {
        var machine = EndMachine()
        machine.kickRoundBegins()
        let got = asks.map { machine.kickRequested(allowed: $0) }
        #expect(got == starts, "\(name)")
        #expect(machine.kickRoundEnded(allowed: true) == again)
        if again {
            machine.kickRoundBegins()
            #expect(machine.kickRoundEnded(allowed: true) == false)
        }
        #expect(!machine.kicking)
    }

    // MARK: Pass

    @Test(
        "pass: one checkpoint in flight at a time, the next after the interval from the last start",
        arguments: [
            ([0, 500, 1000], [true, false, false]),
            ([0, -1, 500, 1000], [true, false, true]),
            ([0, -1, 999, -1, 1000], [true, false, true]),
        ] as [([Int], [Bool])])
    func checkpoints(events: [Int], expected: [Bool]) {
        var machine = PassMachine()
        var got: [Bool] = []
        for event in events {
            if event < 0 {
                machine.checkpointEnded()
            } else {
                got.append(machine.checkpointIfDue(mono: .milliseconds(event), every: .seconds(1)))
            }
        }
        #expect(got == expected)
    }

    @Test("pass: the job list goes with the first heartbeat and after a reload; a reload makes a heartbeat due and drops older claims")
    func heartbeatsAndEpochs() {
        var machine = PassMachine()
        #expect(machine.heartbeatDue(mono: .zero, interval: .seconds(5)))
        let first = machine.heartbeatSent(mono: .zero)
        #expect(first)
        machine.heartbeatRecorded(withJobs: true)
        #expect(!machine.heartbeatDue(mono: .seconds(4), interval: .seconds(5)))
        let second = machine.heartbeatSent(mono: .seconds(5))
        #expect(second == false)
        machine.reloaded()
        #expect(machine.epoch == 1)
        #expect(machine.heartbeatDue(mono: .seconds(6), interval: .seconds(5)))
        let afterReload = machine.heartbeatSent(mono: .seconds(6))
        #expect(afterReload)
        machine.claimFailed(positions: [0], epoch: 0, at: Date(timeIntervalSince1970: 0))
        #expect(machine.queue.earliest == nil)  // a claim of the old epoch requeues nothing
    }

    @Test(
        "leases: the keeper is woken only when its sleep would pass the new deadline",
        arguments: [(nil, 5, true), (10, 5, true), (10, 10, false), (3, 5, false)] as [(Int?, Int, Bool)])
    func keeperWake(sleepsUntil: Int?, deadline: Int, wakes: Bool) {
        var machine = LeaseMachine()
        if let sleepsUntil { machine.keeperSleeps(until: .seconds(sleepsUntil)) }
        let first = machine.keeperWakes(by: .seconds(deadline), now: .seconds(1))
        #expect(first == wakes)
        // Once woken it decides at once: a second deadline does not wake it again.
        let again = machine.keeperWakes(by: .seconds(deadline), now: .seconds(1))
        #expect(!again)
    }
}
