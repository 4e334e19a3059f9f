import Foundation

/// Recording ends and the starts that follow them (routed to `ends`): one entry point per event
/// of the end flush and the kick, each returning `EndMachine`'s answer for the executor
/// (`Engine.finished`, `flushFinishes`, `kick`).
extension EngineCore {
    /// An attempt's end is to be recorded: it joins the running flush, or one starts.
    mutating func endQueued(_ finish: EndMachine.Finish) -> EndMachine.Queued {
        ends.ended(finish) ? .startFlush : .joinsFlush
    }

    /// The running flush's next step: write the queued ends as one batch, or end.
    mutating func nextFlushStep() -> EndMachine.FlushAction {
        ends.next()
    }

    /// The batch was recorded. `startsMayWait`: its starts filled every slot offered (or none was
    /// offered): a kick follows the flush.
    mutating func endsRecorded(startsMayWait: Bool) {
        ends.recorded(startsMayWait: startsMayWait)
    }

    /// Writing `batch` failed (`withStarts`: starts were in the transaction): it is tried again,
    /// the ends alone at once or after the retry delay.
    mutating func endsFailed(_ batch: [EndMachine.Finish], withStarts: Bool) -> EndMachine.FailedWrite {
        ends.failed(batch, withStarts: withStarts)
    }

    /// Starts are asked for (a run ended, a reload added slots). Refused while draining or
    /// executing a single run (`singleRun`).
    mutating func startsRequested(singleRun: Bool) -> EndMachine.KickRequest {
        guard !draining, !singleRun else { return .refused }
        return ends.kickRequested(allowed: true) ? .startKick : .joinsKick
    }

    /// A round of the kick begins: start pending runs, unless the drain began (then the kick is
    /// over).
    mutating func kickRoundBegins() -> EndMachine.KickRound {
        ends.kickRoundBegins()
        guard !draining else {
            ends.kickEnded()
            return .over
        }
        return .startPending
    }

    /// The round ended (`failed`: its start failed, which ends the kick): another round when
    /// one was asked for meanwhile.
    mutating func kickRoundEnded(failed: Bool) -> EndMachine.KickRound {
        guard !failed else {
            ends.kickEnded()
            return .over
        }
        return ends.kickRoundEnded(allowed: true) ? .startPending : .over
    }

    /// Whether ends wait to be recorded or are being recorded (a flush runs).
    var flushing: Bool { ends.flush != .idle }

    /// Whether a start round runs or is due (the kick).
    var kicking: Bool { ends.kicking }

    /// Nothing is held here and no kick runs (`Engine.waitForIdle`).
    var idle: Bool { executions.isEmpty && !ends.kicking }
}
