import Foundation
import Logging

/// Recording attempt ends, and the starts that follow them, as a small state machine with
/// private state: ends that arrive together are written in one batch (with the starts of the
/// slots they free); a failed batch is retried (the ends alone at once when starts were in it,
/// else after a delay) until recorded or fenced; starts asked for while one is running
/// coalesce into one more round (the kick). The executor (`Engine.flushFinishes`, `kick`)
/// performs the writes and reports back.
struct EndMachine {
    /// A finished attempt waiting to be recorded.
    struct Finish {
        var end: Store.AttemptEnd
        var logger: Logger
        var job: String

        /// The state the run is left in once this end is recorded (nil: released or handed
        /// back, not an end of the run).
        var recordedState: RunState? {
            switch end.result {
            case .succeeded: return .succeeded
            case .failed(_, _, let retryAfter): return retryAfter == nil ? .failed : .pending
            case .cancelled: return .cancelled
            case .released, .handedBack: return nil
            }
        }
    }

    /// Where the recording of ends is.
    enum Flush: Equatable {
        /// Nothing to record.
        case idle
        /// A flush runs; `endsOnly`: its next write records the ends alone (the last write with
        /// starts failed); `kickAfter`: a start follows it (runs may still wait for slots).
        case running(endsOnly: Bool, kickAfter: Bool)
    }

    /// Where the starts that follow ends are.
    enum Kick: Equatable {
        /// None running.
        case idle
        /// A start round runs.
        case running
        /// A start round runs and another was asked for meanwhile.
        case again
    }

    /// What the flush's executor does next (it switches over every case).
    enum FlushAction {
        /// Write these ends in one transaction, with the starts of the slots they free unless
        /// `endsOnly`.
        case write([Finish], endsOnly: Bool)
        /// The queue is empty: the flush ends (then `kick` if `kickAfter`).
        case finished(kickAfter: Bool)
    }

    /// What an ended attempt asks of the executor (`EngineCore.endQueued`).
    enum Queued: Equatable {
        /// No flush runs: start one.
        case startFlush
        /// The running flush takes it in its next batch.
        case joinsFlush
    }

    /// What a request for starts asks of the executor (`EngineCore.startsRequested`).
    enum KickRequest: Equatable {
        /// No start round runs: start the kick.
        case startKick
        /// A round runs: it goes once more.
        case joinsKick
        /// Starts are not allowed now (draining, or executing a single run).
        case refused
    }

    /// What the kick does next (`EngineCore.kickRoundBegins`, `kickRoundEnded`).
    enum KickRound: Equatable {
        /// Start pending runs into free slots.
        case startPending
        /// The kick is over.
        case over
    }

    /// What follows a failed write.
    enum FailedWrite: Equatable {
        /// Starts were in it: try the ends alone at once.
        case endsAloneNow
        /// The ends alone failed: wait the retry delay, then try again.
        case retryAfterDelay
    }

    private var queue: [Finish] = []
    private(set) var flush = Flush.idle
    private(set) var kick = Kick.idle

    /// Ends waiting to be recorded.
    var queued: Int { queue.count }

    /// An attempt ended: queue its end. True when the executor must start a flush (none runs).
    mutating func ended(_ finish: Finish) -> Bool {
        queue.append(finish)
        guard flush == .idle else { return false }
        flush = .running(endsOnly: false, kickAfter: false)
        return true
    }

    /// The next step of the running flush: the queued ends as one batch, or its end.
    mutating func next() -> FlushAction {
        guard case .running(let endsOnly, let kickAfter) = flush else { return .finished(kickAfter: false) }
        guard !queue.isEmpty else {
            flush = .idle
            return .finished(kickAfter: kickAfter)
        }
        let batch = queue
        queue = []
        return .write(batch, endsOnly: endsOnly)
    }

    /// The batch was recorded. `startsMayWait`: the starts in it filled every slot offered (or
    /// none was offered), so runs may still wait for slots: a kick follows the flush.
    mutating func recorded(startsMayWait: Bool) {
        guard case .running(_, let kickAfter) = flush else { return }
        flush = .running(endsOnly: false, kickAfter: kickAfter || startsMayWait)
    }

    /// Writing `batch` failed (`withStarts`: starts were in the transaction): it goes back to the
    /// front of the queue.
    mutating func failed(_ batch: [Finish], withStarts: Bool) -> FailedWrite {
        queue = batch + queue
        guard case .running(_, let kickAfter) = flush else { return .retryAfterDelay }
        flush = .running(endsOnly: withStarts, kickAfter: kickAfter)
        return withStarts ? .endsAloneNow : .retryAfterDelay
    }

    /// Starts are asked for; `allowed` is false while draining or executing a single run. True
    /// when the executor must start a round (none runs); one asked for meanwhile makes the
    /// running round go again.
    mutating func kickRequested(allowed: Bool) -> Bool {
        guard allowed else { return false }
        switch kick {
        case .idle:
            kick = .running
            return true
        case .running, .again:
            kick = .again
            return false
        }
    }

    /// A start round begins: whether one more was asked for is reset.
    mutating func kickRoundBegins() {
        if kick == .again { kick = .running }
    }

    /// A start round ended: true when another round was asked for meanwhile (and `allowed`);
    /// otherwise the kick is over.
    mutating func kickRoundEnded(allowed: Bool) -> Bool {
        if kick == .again && allowed { return true }
        kick = .idle
        return false
    }

    /// The round failed or may not go on: the kick is over.
    mutating func kickEnded() {
        kick = .idle
    }

    /// Whether a start round runs.
    var kicking: Bool { kick != .idle }
}
