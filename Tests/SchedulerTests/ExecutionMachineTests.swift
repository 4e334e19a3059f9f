import Foundation
import Testing

@testable import Scheduler

/// Table tests of `ExecutionMachine`: the runs leased here, their phases (waiting, executing,
/// recording) and the slots they take; what a stop means for the executor; the pace and the
/// hand-back's hold on lease-ahead.
@Suite struct ExecutionMachineTests {
    /// One event driven into the machine (two slots; leases at 0 s).
    enum Event: Sendable, CustomStringConvertible {
        /// A run leased (generation 1); `first`: a takeover, ahead of the runs leased ahead.
        case launch(Int64, first: Bool = false)
        /// Slots freed: the waiting runs that begin now.
        case takeReady
        case stop(Int64, EngineCore.StopReason)
        /// The attempt of the run ended at 1 s (`interrupted`: its task was cancelled).
        case ended(Int64, interrupted: Bool = false)
        case remove(Int64, generation: Int64)

        var description: String {
            switch self {
            case .launch(let id, let first): "launch \(id)\(first ? " first" : "")"
            case .takeReady: "takeReady"
            case .stop(let id, let reason): "stop \(id) \(reason)"
            case .ended(let id, let interrupted): "ended \(id)\(interrupted ? " interrupted" : "")"
            case .remove(let id, let generation): "remove \(id) gen \(generation)"
            }
        }
    }

    /// The phases the machine holds afterwards, by run, with the slots in use and the ready queue.
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [Event]
        var phases: [Int64: ExecutionMachine.Phase]
        var slots: Int
        var ready: [Int64]
        var testDescription: String { name }
    }

    @Test(
        "executions: phases, slots and the ready queue through launches, stops, ends and removals",
        arguments: [
            Row(name: "a free slot executes at once", events: [.launch(1)], phases: [1: .executing(began: .zero)], slots: 1, ready: []),
            Row(
                name: "past the slots a run waits, in lease order", events: [.launch(1), .launch(2), .launch(3), .launch(4)],
                phases: [1: .executing(began: .zero), 2: .executing(began: .zero), 3: .waiting, 4: .waiting], slots: 2, ready: [3, 4]),
            Row(
                name: "a takeover goes ahead of the runs leased ahead", events: [.launch(1), .launch(2), .launch(3), .launch(4, first: true)],
                phases: [1: .executing(began: .zero), 2: .executing(began: .zero), 3: .waiting, 4: .waiting], slots: 2, ready: [4, 3]),
            Row(
                name: "an ended attempt records and frees its slot; the first waiting run takes it",
                events: [.launch(1), .launch(2), .launch(3), .ended(1), .takeReady],
                phases: [1: .recording, 2: .executing(began: .zero), 3: .executing(began: .seconds(1))], slots: 2, ready: []),
            Row(
                name: "a stopped waiting run leaves the queue and never begins",
                events: [.launch(1), .launch(2), .launch(3), .stop(3, .cancelRequested), .ended(1), .takeReady],
                phases: [1: .recording, 2: .executing(began: .zero), 3: .waiting], slots: 1, ready: []),
            Row(
                name: "a fenced end is forgotten at once", events: [.launch(1), .stop(1, .leaseLost), .ended(1)], phases: [:], slots: 0, ready: []),
            Row(
                name: "an end is taken once", events: [.launch(1), .launch(2), .launch(3), .ended(1), .ended(1), .takeReady],
                phases: [1: .recording, 2: .executing(began: .zero), 3: .executing(began: .seconds(1))], slots: 2, ready: []),
            Row(
                name: "a stale removal keeps the execution; the recorded one goes",
                events: [.launch(1), .ended(1), .remove(1, generation: 0), .launch(2), .remove(2, generation: 1)],
                phases: [1: .recording], slots: 0, ready: []),
            Row(
                name: "a relaunch replaces the old generation's execution and slot", events: [.launch(1), .launch(1)],
                phases: [1: .executing(began: .zero)], slots: 1, ready: []),
        ])
    func phases(row: Row) {
        var machine = ExecutionMachine()
        Self.drive(&machine, row.events)
        #expect(machine.executions.mapValues(\.phase) == row.phases)
        #expect(machine.slotsInUse == row.slots)
        #expect(machine.ready == row.ready)
    }

    static func drive(_ machine: inout ExecutionMachine, _ events: [Event]) {
        for event in events {
            switch event {
            case .launch(let id, let first):
                _ = machine.launched(
                    runID: id, generation: 1, leasedAt: .zero, now: nil, first: first, maxRuns: 2, validUntil: .seconds(25), interrupted: false)
            case .takeReady: _ = machine.takeReady(now: .seconds(1), maxRuns: 2)
            case .stop(let id, let reason): _ = machine.stop(id, reason)
            case .ended(let id, let interrupted):
                _ = machine.attemptEnded(runID: id, generation: 1, interrupted: interrupted, mono: .seconds(1), aheadHold: .seconds(1))
            case .remove(let id, let generation): _ = machine.remove(runID: id, generation: generation)
            }
        }
    }

    @Test(
        "a stop cancels the task of an execution that began, ends a waiting one unexecuted, and is nothing for a stale one",
        arguments: [
            ("executing", [Event.launch(1)], Int64(1), ExecutionMachine.Action?.some(.cancel(runID: 1, generation: 1, reason: .shutdown))),
            ("recording (its task is over; cancelling it is harmless)", [.launch(1), .ended(1)], 1, .cancel(runID: 1, generation: 1, reason: .shutdown)),
            ("waiting for a slot", [.launch(2), .launch(3), .launch(1)], 1, .endUnexecuted(runID: 1, generation: 1)),
            ("of another generation", [.launch(1)], 2, nil),
            ("gone", [.launch(1), .ended(1), .remove(1, generation: 1)], 1, nil),
        ] as [(String, [Event], Int64, ExecutionMachine.Action?)])
    func stopping(name: String, events: [Event], generation: Int64, expected: ExecutionMachine.Action?) {
        var machine = ExecutionMachine()
        Self.drive(&machine, events)
        _ = machine.stop(1, .shutdown)
        #expect(machine.stopping(.stop(runID: 1, generation: generation, reason: .shutdown)) == expected, "\(name)")
    }

    @Test(
        "an attempt's end: recorded with the engine's stop, forgotten when fenced; a cancel without a stop interrupts the service",
        arguments: [
            ("no stop", nil, false, EngineCore.EndAction.recordFinish(runID: 1, generation: 1, stopReason: nil), false),
            ("the service cancelled it", nil, true, .recordFinish(runID: 1, generation: 1, stopReason: .shutdown), true),
            ("the engine cancelled it", .cancelRequested, true, .recordFinish(runID: 1, generation: 1, stopReason: .cancelRequested), false),
            ("its lease was lost", .leaseLost, true, .forget(runID: 1, generation: 1, reason: .leaseLost), false),
            ("its lease expired here", .leaseExpired, false, .forget(runID: 1, generation: 1, reason: .leaseExpired), false),
        ] as [(String, EngineCore.StopReason?, Bool, EngineCore.EndAction, Bool)])
    func ended(name: String, stop: EngineCore.StopReason?, interrupted: Bool, expected: EngineCore.EndAction, interrupts: Bool) {
        var machine = ExecutionMachine()
        Self.drive(&machine, [.launch(1)])
        if let stop { _ = machine.stop(1, stop) }
        let got = machine.attemptEnded(runID: 1, generation: 1, interrupted: interrupted, mono: .seconds(1), aheadHold: .seconds(1))
        #expect(got == ExecutionMachine.Ended(action: expected, interrupts: interrupts), "\(name)")
        #expect(machine.slotsInUse == 0)
    }

    @Test("a hand-back holds lease-ahead until eight quick ends; slow ends do not count; the pace is a moving average")
    func handBackHold() {
        var machine = ExecutionMachine()
        machine.handedBack(aheadHold: .seconds(1))
        #expect(machine.aheadHeld == ExecutionMachine.quickEndsAfterHandBack && machine.pace == .seconds(1))
        // A slow attempt (over a tenth of aheadHold) leaves the hold as it is.
        _ = machine.launched(runID: 1, generation: 1, leasedAt: .zero, now: .zero, first: false, maxRuns: 1, validUntil: .seconds(25), interrupted: false)
        _ = machine.attemptEnded(runID: 1, generation: 1, interrupted: false, mono: .milliseconds(500), aheadHold: .seconds(1))
        #expect(machine.aheadHeld == 8)
        #expect(machine.pace == .seconds(1) + (.milliseconds(500) - .seconds(1)) / 8)
        for id in Int64(2)...9 {
            _ = machine.launched(
                runID: id, generation: 1, leasedAt: .zero, now: .seconds(10), first: false, maxRuns: 1, validUntil: .seconds(25), interrupted: false)
            _ = machine.attemptEnded(runID: id, generation: 1, interrupted: false, mono: .seconds(10) + .milliseconds(50), aheadHold: .seconds(1))
            _ = machine.remove(runID: id, generation: 1)
        }
        #expect(machine.aheadHeld == 0)
    }

    @Test("reservations add up and are returned; a renewal moves a deadline only forward")
    func reservationsAndDeadlines() {
        var machine = ExecutionMachine()
        machine.reserve(3)
        machine.reserve(2)
        machine.release(3)
        #expect(machine.reserved == 2)
        Self.drive(&machine, [.launch(1)])
        machine.extendDeadline(of: 1, to: .seconds(40))
        machine.extendDeadline(of: 1, to: .seconds(30))
        #expect(machine.executions[1]?.validUntil == .seconds(40))
    }
}
