import Foundation

/// One pass of the main loop as a state machine: the core decides each step and what follows
/// from its result; the executor performs the step and reports back:
/// ```swift
/// var pass = core.beginPass(now: now, checkpoints: true)
/// while pass.action != .passEnded { core.passStep(&pass, after: await perform(pass.action), now: now) }
/// ```
/// Order: start due runs; when that started nothing, checkpoint the log (between bursts; the
/// executor starts it beside the pass and reports `.done` at once); pause check; claim batches
/// (after a batch that made runs due now, start them before the next batch, and once more after
/// the last); takeover scan; heartbeat; checkpoint.
/// A failed pause read or claim skips the rest of the claims (a failed claim requeues them); a
/// failed start does not (claims never wait on a start that keeps failing; one between batches
/// is retried after the last); a reload drops the rest of the claims, wherever it lands. While draining only the heartbeat and the checkpoint run.
extension EngineCore {
    /// The state of one pass, owned by the executor's call (passes never share it).
    struct Pass {
        /// What the pass waits for: the result of its current action.
        enum Stage: Equatable {
            case start, quietCheckpoint, pauseCheck(epoch: Int), claim(positions: [Int], epoch: Int), stop
            case startBetweenClaims, startAfterClaims, takeoverScan, takeOver, heartbeat, checkpoint, ended
        }

        /// The action to perform now; `.passEnded` when the pass is over.
        fileprivate(set) var action = PassAction.passEnded
        /// The pass's time for its starts and claims (read when it began).
        let wall: Date
        /// Whether the executor can checkpoint the log (it has a checkpointer).
        let checkpoints: Bool
        /// What the pass did.
        fileprivate(set) var report = PassReport()
        fileprivate(set) var stage = Stage.ended
        /// Claim batches not claimed yet.
        fileprivate var claims: [PassAction] = []
        /// Stops a claim asked for, performed before anything else.
        fileprivate var stops: [PassAction] = []
        /// A claim made runs due now: start them (between batches or after the last).
        fileprivate var startAfter = false

        /// Whether a failure of `action` is logged: not the start between claim batches, which
        /// the start after the last batch tries again.
        var logsFailure: Bool { stage != .startBetweenClaims }

        init(wall: Date, checkpoints: Bool) {
            self.wall = wall
            self.checkpoints = checkpoints
        }

        fileprivate mutating func wait(_ stage: Stage, _ action: PassAction) {
            self.stage = stage
            self.action = action
        }
    }

    /// What one pass did.
    struct PassReport: Equatable, Sendable {
        /// Runs claimed (inserted as pending).
        var claimed = 0
        /// Occurrences recorded as skipped.
        var skipped = 0
        /// Runs started (including taken over).
        var started = 0
        /// Runs taken over from lapsed leases.
        var takenOver = 0
        /// Jobs whose occurrences the pass examined (claim transactions' size).
        var examined = 0
    }

    /// The result of a pass's action, as the executor reports it.
    enum StepResult: Sendable {
        /// Performed, nothing to report (stop, checkpoint, heartbeat: even when it failed).
        case done
        /// The store call failed (the executor logged it when `logsFailure`).
        case failed
        /// `startPending` started this many runs.
        case started(Int)
        /// `checkPaused` read these paused jobs.
        case paused(Set<String>)
        /// `claim` answered these outcomes (one per position).
        case claimed([Store.ClaimOutcome])
        /// `scanTakeovers` read these leases.
        case leases([LeaseRecord])
        /// `takeOver` started this many runs here.
        case tookOver(Int)
    }

    /// Where a pass goes on after a result.
    private enum Next {
        case quietCheckpoint, pauseCheck, claims, afterBatch, nextClaim, takeoverScan, heartbeat, checkpoint, end
    }

    /// Begins a pass at `now`: its first action is `pass.action`. `checkpoints`: the executor
    /// can checkpoint the log.
    mutating func beginPass(now: Now, checkpoints: Bool) -> Pass {
        var pass = Pass(wall: now.wall, checkpoints: checkpoints)
        if draining {
            advance(&pass, from: .heartbeat, now: now)
        } else {
            // Start what is due first: claiming ahead for later instants can wait.
            dropPassedStarts(now: now.wall)
            pass.wait(.start, .startPending)
        }
        return pass
    }

    /// Applies the result of `pass.action` and decides the next action (at `now`).
    mutating func passStep(_ pass: inout Pass, after result: StepResult, now: Now) {
        let next: Next
        switch (pass.stage, result) {
        case (.start, .started(let count)):
            pass.report.started += count
            next = pass.report.started == 0 ? .quietCheckpoint : .pauseCheck
        case (.quietCheckpoint, _):
            next = .pauseCheck
        case (.pauseCheck(let epoch), .paused(let paused)):
            resumed(paused: paused, epoch: epoch, at: pass.wall)
            next = .claims
        case (.claim(let positions, let epoch), .claimed(let outcomes)):
            // A reload replaced the job table while this claim ran: its fresh schedule covers
            // these jobs and the rest (from the watermarks this claim advanced).
            guard let actions = claimed(positions: positions, outcomes: outcomes, epoch: epoch, now: pass.wall) else {
                pass.claims = []
                next = .takeoverScan
                break
            }
            for outcome in outcomes {
                pass.report.claimed += outcome.inserted.count
                pass.report.skipped += outcome.skipped
            }
            for action in actions {
                if action == .startPending { pass.startAfter = true } else { pass.stops.append(action) }
            }
            next = .afterBatch
        case (.claim(let positions, let epoch), _):
            // Nothing was claimed: look at these jobs and the rest of the pass's again in a second.
            let rest = pass.claims.flatMap { action -> [Int] in
                if case .claim(let positions, _) = action { positions } else { [] }
            }
            claimFailed(positions: positions + rest, epoch: epoch, at: pass.wall)
            pass.claims = []
            next = .takeoverScan
        case (.stop, _):
            next = .afterBatch
        case (.startBetweenClaims, let result):
            if case .started(let count) = result {
                pass.report.started += count
                pass.startAfter = false
            }
            next = .nextClaim
        case (.startAfterClaims, let result):
            if case .started(let count) = result { pass.report.started += count }
            next = .takeoverScan
        case (.takeoverScan, .leases(let leases)):
            if case .takeOver(let candidates) = leasesSeen(leases, now: now) {
                pass.wait(.takeOver, .takeOver(candidates))
                return
            }
            next = .heartbeat
        case (.takeOver, let result):
            if case .tookOver(let count) = result {
                pass.report.started += count
                pass.report.takenOver += count
            }
            next = .heartbeat
        case (.start, _):
            next = .pauseCheck
        case (.pauseCheck, _):
            next = .takeoverScan
        case (.takeoverScan, _):
            next = .heartbeat
        case (.heartbeat, _):
            next = .checkpoint
        case (.checkpoint, _), (.ended, _):
            next = .end
        }
        advance(&pass, from: next, now: now)
    }

    /// Goes on from `next` to the next action there is to perform.
    private mutating func advance(_ pass: inout Pass, from next: Next, now: Now) {
        var next = next
        while true {
            switch next {
            case .quietCheckpoint:
                // Between bursts (this pass's start found nothing to start); the executor runs it
                // beside the pass.
                if pass.checkpoints && checkpointIfDue(mono: now.mono, quiet: true) { return pass.wait(.quietCheckpoint, .checkpoint) }
                next = .pauseCheck
            case .pauseCheck:
                if case .checkPaused(let epoch) = pauseCheck(now: now) { return pass.wait(.pauseCheck(epoch: epoch), .checkPaused(epoch: epoch)) }
                next = .claims
            case .claims:
                pass.claims = dueClaims(at: pass.wall)
                for case .claim(let positions, _) in pass.claims { pass.report.examined += positions.count }
                next = .nextClaim
            case .afterBatch:
                if !pass.stops.isEmpty { return pass.wait(.stop, pass.stops.removeFirst()) }
                // With more batches to claim, start what is due now first: the first runs execute
                // while the rest are claimed.
                if pass.startAfter && !pass.claims.isEmpty { return pass.wait(.startBetweenClaims, .startPending) }
                next = .nextClaim
            case .nextClaim:
                // A reload landed since these batches were made (during a start between them):
                // its fresh schedule covers their jobs, and their positions index the old table.
                if case .claim(_, let epoch) = pass.claims.first, epoch != self.epoch { pass.claims = [] }
                if case .claim(let positions, let epoch) = pass.claims.first {
                    pass.claims.removeFirst()
                    return pass.wait(.claim(positions: positions, epoch: epoch), .claim(positions: positions, epoch: epoch))
                }
                if pass.startAfter { return pass.wait(.startAfterClaims, .startPending) }
                next = .takeoverScan
            case .takeoverScan:
                if let scan = takeoverScanIfDue(mono: now.mono) { return pass.wait(.takeoverScan, scan) }
                next = .heartbeat
            case .heartbeat:
                if let beat = heartbeatIfDue(mono: now.mono) { return pass.wait(.heartbeat, beat) }
                next = .checkpoint
            case .checkpoint:
                if pass.checkpoints && checkpointIfDue(mono: now.mono, quiet: pass.report.started == 0) {
                    return pass.wait(.checkpoint, .checkpoint)
                }
                next = .end
            case .end:
                return pass.wait(.ended, .passEnded)
            }
        }
    }
}
