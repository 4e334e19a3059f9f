import Foundation

/// The runs leased here and the `max_concurrent_runs` slots they take, as a small state machine
/// with private state: each execution is `waiting` for a slot (leased ahead), `executing` (it
/// takes a slot) or `recording` its end (the slot is free, the lease stays renewed); runs leased
/// ahead begin in lease order as slots free; start transactions in flight reserve room. It also
/// remembers how long attempts recently took (the pace that sizes lease-ahead) and whether a
/// hand-back holds lease-ahead back. `EngineCore` routes to it (the settings, the drain's
/// interrupt and the lease keeper are the core's); its executor (`Engine.perform`) switches over
/// every `Action`.
struct ExecutionMachine: Equatable {
    /// Where one execution is.
    enum Phase: Equatable {
        /// Leased ahead of a free slot: it holds its lease and waits (in the ready queue) for a
        /// slot; nothing has executed.
        case waiting
        /// Its attempt executes (it takes a slot) since `began` (monotonic).
        case executing(began: Duration)
        /// The attempt ended; its end is being recorded (the lease stays renewed meanwhile, the
        /// slot is free).
        case recording
    }

    /// One execution of a run in this process.
    struct Execution: Equatable {
        fileprivate(set) var generation: Int64
        /// Why the engine stopped it, if it did.
        fileprivate(set) var stopReason: EngineCore.StopReason?
        fileprivate(set) var phase: Phase
        /// When its lease was taken (monotonic).
        fileprivate(set) var leasedAt: Duration
        /// Monotonic deadline: last successful renewal (its start) + lease − margin. Past it the
        /// execution is stopped even if the database cannot be reached.
        fileprivate(set) var validUntil: Duration

        /// Its end is being recorded.
        var recording: Bool { phase == .recording }
        /// It waits for a slot (nothing has executed).
        var waiting: Bool { phase == .waiting }
        /// Whether it takes one of the `max_concurrent_runs` slots: its attempt is executing.
        var holdsSlot: Bool {
            if case .executing = phase { true } else { false }
        }
    }

    /// What performing a stop means now (`EngineCore.stopping`); the executor switches over
    /// every case.
    enum Action: Equatable, Sendable {
        /// Cancel the executing attempt's task, telling its kind `reason` first.
        case cancel(runID: Int64, generation: Int64, reason: EngineCore.StopReason)
        /// End the run unexecuted: it was stopped while it waited for a slot (a cancel is
        /// recorded, a shutdown releases it, a lost lease writes nothing).
        case endUnexecuted(runID: Int64, generation: Int64)
    }

    /// An attempt's end as the machine took it (`attemptEnded`).
    struct Ended: Equatable {
        var action: EngineCore.EndAction
        /// The run's task was cancelled from outside (the service is cancelled) with no stop of
        /// the engine's: it is released like a drain, and nothing more starts.
        var interrupts: Bool
    }

    /// Runs leased here: executing, waiting for a slot, or having their end recorded.
    private(set) var executions: [Int64: Execution] = [:]
    /// Executions whose attempt is executing (each takes a slot).
    private(set) var slotsInUse = 0
    /// Runs leased ahead, in lease order: each executes when a slot frees (`takeReady`).
    private(set) var ready: [Int64] = []
    /// How long attempts recently took (monotonic, a moving average; nil until one ended).
    private(set) var pace: Duration?
    /// Quick attempt ends still needed after a hand-back before runs are leased ahead again (a
    /// hand-back means the slots are held by runs taking their time).
    private(set) var aheadHeld = 0
    /// Leases promised to start transactions in flight (slots and lease-ahead room count them).
    private(set) var reserved = 0

    /// How many quick attempt ends (each under a tenth of `aheadHold`) a hand-back asks for
    /// before runs are leased ahead again.
    static let quickEndsAfterHandBack = 8

    // MARK: Reservations

    /// Promises `count` leases to a start (or takeover) transaction.
    mutating func reserve(_ count: Int) {
        reserved += count
    }

    /// Returns reserved room (the transaction ended; what it leased is `launched`).
    mutating func release(_ count: Int) {
        reserved -= count
    }

    // MARK: Lifecycle

    /// A run leased at `leasedAt` (monotonic) is held here: true when it executes now (a slot
    /// of `maxRuns` is free and no run leased earlier waits, unless it goes `first`; not once
    /// `interrupted`): `now` is when it began; false when it waits for a slot (`takeReady`).
    mutating func launched(
        runID: Int64, generation: Int64, leasedAt: Duration, now: Duration?, first: Bool, maxRuns: Int, validUntil: Duration, interrupted: Bool
    ) -> Bool {
        drop(runID)
        let executes = slotsInUse < maxRuns && (ready.isEmpty || first) && !interrupted
        executions[runID] = Execution(
            generation: generation, phase: executes ? .executing(began: now ?? leasedAt) : .waiting, leasedAt: leasedAt, validUntil: validUntil)
        if executes {
            slotsInUse += 1
        } else if first {
            ready.insert(runID, at: 0)
        } else {
            ready.append(runID)
        }
        return executes
    }

    /// The runs waiting for a slot that begin now (`now`), one per free slot of `maxRuns`, in
    /// lease order.
    mutating func takeReady(now: Duration, maxRuns: Int) -> [Int64] {
        var begun: [Int64] = []
        while slotsInUse < maxRuns, !ready.isEmpty {
            let id = ready.removeFirst()
            guard var execution = executions[id], execution.waiting else { continue }
            execution.phase = .executing(began: now)
            executions[id] = execution
            slotsInUse += 1
            begun.append(id)
        }
        return begun
    }

    /// Stops an execution that is not stopped yet. One waiting for a slot leaves the queue: the
    /// executor ends it without executing it.
    mutating func stop(_ runID: Int64, _ reason: EngineCore.StopReason) -> EngineCore.Stop? {
        guard var execution = executions[runID], execution.stopReason == nil else { return nil }
        execution.stopReason = reason
        executions[runID] = execution
        if execution.waiting { ready.removeAll { $0 == runID } }
        return .stop(runID: runID, generation: execution.generation, reason: reason)
    }

    /// What performing `stop` means now: cancel the task of an execution that began, end a
    /// waiting one unexecuted; nothing for an execution that is gone or of another generation.
    func stopping(_ stop: EngineCore.Stop) -> Action? {
        guard let execution = executions[stop.runID], execution.generation == stop.generation else { return nil }
        switch execution.phase {
        case .waiting: return .endUnexecuted(runID: stop.runID, generation: stop.generation)
        case .executing, .recording: return .cancel(runID: stop.runID, generation: stop.generation, reason: stop.reason)
        }
    }

    /// An attempt ended at `mono` (or a run stopped while waiting for a slot): its slot frees
    /// and the pace learns how long it took (a quick one, under a tenth of `aheadHold`, counts
    /// toward lifting a hand-back's hold). A stale one (another generation, or already
    /// recording) is nil; a fenced one is forgotten at once; any other is recorded, its lease
    /// kept renewed until then. `interrupted`: the run's task was cancelled; without a stop of
    /// the engine's that is the service's cancellation, which releases it like a drain.
    mutating func attemptEnded(runID: Int64, generation: Int64, interrupted: Bool, mono: Duration?, aheadHold: Duration) -> Ended? {
        guard var execution = executions[runID], execution.generation == generation, !execution.recording else { return nil }
        let interrupts = interrupted && execution.stopReason == nil
        if interrupts { execution.stopReason = .shutdown }
        if case .executing(let began) = execution.phase {
            slotsInUse -= 1
            if let mono {
                let took = mono - began
                pace = pace.map { $0 + (took - $0) / 8 } ?? took
                if aheadHeld > 0, took <= aheadHold / 10 { aheadHeld -= 1 }
            }
        }
        if let reason = execution.stopReason, reason.fenced {
            executions[runID] = nil  // a stop took it out of `ready`; its slot is counted free above
            return Ended(action: .forget(runID: runID, generation: generation, reason: reason), interrupts: interrupts)
        }
        execution.phase = .recording
        executions[runID] = execution
        return Ended(action: .recordFinish(runID: runID, generation: generation, stopReason: execution.stopReason), interrupts: interrupts)
    }

    /// Forgets execution (`runID`, `generation`); a stale one never removes a newer execution.
    mutating func remove(runID: Int64, generation: Int64) -> Bool {
        guard executions[runID]?.generation == generation else { return false }
        drop(runID)
        return true
    }

    /// Removes an execution, freeing its slot or its place in `ready`.
    private mutating func drop(_ runID: Int64) {
        guard let execution = executions.removeValue(forKey: runID) else { return }
        if execution.holdsSlot { slotsInUse -= 1 }
        if execution.waiting && execution.stopReason == nil { ready.removeAll { $0 == runID } }
    }

    // MARK: Leases

    /// A renewal started at `deadline − (lease − margin)` succeeded: the execution's local
    /// deadline moves to `deadline` (never back).
    mutating func extendDeadline(of runID: Int64, to deadline: Duration) {
        guard var execution = executions[runID] else { return }
        execution.validUntil = max(execution.validUntil, deadline)
        executions[runID] = execution
    }

    /// A run leased ahead waited `aheadHold` for a slot and is handed back: the slots are held by
    /// runs taking their time, so nothing more is leased ahead until attempts end quickly again.
    mutating func handedBack(aheadHold: Duration) {
        pace = max(pace ?? .zero, aheadHold)
        aheadHeld = ExecutionMachine.quickEndsAfterHandBack
    }
}
