import Foundation

/// Task ownership: every task of the engine is a child of the run group that `run()` (or
/// `executeNow`) opens, or is awaited by it. Executions are owned by children (`adopt`); the end
/// flush, the kick, lease renewals and WAL checkpoints are loops in the group, woken through
/// streams (`openLoops`); the lease keeper is one too (`Engine+Leases.swift`). What no child can
/// do runs in `spawn`'s tasks, which `run()` waits for before it returns.
extension Engine {
    /// Makes a child of the run group (when one is open: `run()`, `executeNow`) own `task`: the
    /// child waits for it and cancels it when the group is cancelled, so the group (and the call
    /// that opened it) ends only after the run ended. The engine still cancels the task itself
    /// (at once, on its actor) when it stops a run; cancelling a group child from outside would
    /// arrive later, after a job released meanwhile may have succeeded.
    /// Once the group is gone (the service was cancelled) `run()` waits for the task itself.
    func adopt(_ task: Task<Void, Never>) {
        guard let launcher else { return }
        let owned = launcher.yield {
            await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
        }
        if case .enqueued = owned { return }
        track(task)
    }

    /// Runs `body` as a child of the run group when one is open (`run()`, `executeNow`; nothing
    /// once it is gone, with `orElse: .drop`), else in a task of its own that `run()` waits for.
    func child(orElse fallback: Fallback = .ownTask, _ body: @escaping RunWork) {
        if let launcher {
            if case .enqueued = launcher.yield(body) { return }
            if fallback == .drop { return }
        }
        spawn(body)
    }

    /// What `child` does where no group child can run `body`.
    enum Fallback {
        /// Run it in a task of its own (which `run()` waits for).
        case ownTask
        /// Not at all: the group was cancelled, and so is this work.
        case drop
    }

    /// Runs `body` in a task of its own: where no child of the run group can (no group is open:
    /// tests driving `tick()`; or it was cancelled, and the work must still be done, like
    /// recording ends, which a cancelled task cannot write). `run()` waits for every such task
    /// before it returns.
    func spawn(_ body: @escaping RunWork) {
        strayCount += 1
        let id = strayCount
        // On this actor: the entry is made before the task runs, and removed when it ends.
        strays[id] = Task {
            await body()
            self.strays[id] = nil
        }
    }

    /// Keeps `task` (an execution the cancelled group could not own) until it ends, for `run()`
    /// to wait for.
    private func track(_ task: Task<Void, Never>) {
        spawn { await task.value }
    }

    /// Waits for the tasks of `spawn` (and the executions the group could no longer own).
    func awaitStrays() async {
        while let stray = strays.first {
            await stray.value.value
            strays[stray.key] = nil
        }
    }

    /// Runs `body` while the runs it launches are owned by children of one discarding task group
    /// (a finished child leaves nothing behind, however long the service runs): the call returns
    /// only when `body` and every run it launched ended.
    func withRunGroup<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let (runs, launcher) = AsyncStream.makeStream(of: RunWork.self)
        self.launcher = launcher
        defer { self.launcher = nil }
        async let result = Engine.run(body, thenFinish: launcher)
        await withDiscardingTaskGroup { group in
            for await work in runs {
                group.addTask { await work() }
            }
        }
        return try await result
    }

    private static func run<T: Sendable>(
        _ body: @Sendable () async throws -> T, thenFinish launcher: AsyncStream<RunWork>.Continuation
    ) async throws -> T {
        defer { launcher.finish() }
        return try await body()
    }

    /// Opens the loops that are children of the run group (`run()`, `executeNow`): the end
    /// flush, the kick, lease renewals and WAL checkpoints. Each waits for its wake-ups and ends
    /// when `closeLoops` finishes them, or when the group is cancelled.
    func openLoops() {
        guard let launcher, loops == nil else { return }
        let (flushes, flush) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (kicks, kick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (renewals, renew) = AsyncStream.makeStream(of: RenewalRequest.self)
        let (checkpoints, checkpoint) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        loops = Loops(flush: flush, kick: kick, renew: renew, checkpoint: checkpoint)
        launcher.yield {
            // Each flush in a task the loop waits for: a cancelled group (the service cancelled)
            // must still record its ends (a write in a cancelled task fails at once).
            for await _ in flushes { await Task { await self.flushFinishes() }.value }
            await self.loopEnded(.flush)
        }
        launcher.yield {
            for await _ in kicks { await self.startWaitingRuns() }
            await self.loopEnded(.kick)
        }
        launcher.yield {
            for await request in renewals { await self.renew(request) }
            await self.loopEnded(.renewal)
        }
        launcher.yield {
            for await _ in checkpoints { await self.checkpoint() }
            await self.loopEnded(.checkpoint)
        }
    }

    /// The loops of the run group.
    enum Loop {
        case flush, kick, renewal, checkpoint
    }

    /// A loop ended (finished, or its group was cancelled, which ends the wait for its wake-ups).
    /// Ends still to record are recorded in a task of its own that `run()` waits for (the ends of
    /// a cancelled service are still recorded, its drain waits for them), as is a kick's round;
    /// a renewal or checkpoint asked for and not made counts as failed.
    private func loopEnded(_ loop: Loop) {
        switch loop {
        case .flush:
            loops?.flush.finish()
            if core.flushing { spawn { await self.flushFinishes() } }
        case .kick:
            loops?.kick.finish()
            if core.kicking { spawn { await self.startWaitingRuns() } }
        case .renewal:
            loops?.renew.finish()
            if core.renewing { renewalDropped() }
        case .checkpoint:
            loops?.checkpoint.finish()
            core.checkpointEnded()
        }
    }

    /// Ends the loops (after the drain: nothing is left to record, start or renew).
    func closeLoops() {
        loops?.flush.finish()
        loops?.kick.finish()
        loops?.renew.finish()
        loops?.checkpoint.finish()
        loops = nil
    }
}

/// The wake-ups of the run group's loops: the end flush, the kick, renewals, checkpoints.
struct Loops {
    let flush: AsyncStream<Void>.Continuation
    let kick: AsyncStream<Void>.Continuation
    let renew: AsyncStream<RenewalRequest>.Continuation
    let checkpoint: AsyncStream<Void>.Continuation
}

/// A renewal of `held` the keeper started at `startedAt` (monotonic).
struct RenewalRequest: Sendable {
    let held: [EngineCore.HeldLease]
    let startedAt: Duration
}

/// A child of the run group: it owns one execution's task.
typealias RunWork = @Sendable () async -> Void
