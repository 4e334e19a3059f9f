import Brokers
import Foundation
import Logging
import Scheduler

/// The stop sequence: cancel working orders, flatten until flat (when configured or locked),
/// cancel again, report. Also the orderly stop of a cancelled run.
extension FuturesSession {
    /// The stop part of a tick: a failed flatten, the stop instant (a reload may move it), a
    /// `session stop` request. Each sets ``stopReason``, which ends the turns.
    func checkStop() async {
        if let flattenFailure, stopReason == nil { stopReason = "flatten failed: \(flattenFailure)" }
        followPlan()
        if resources.wall() >= stopAt, stopReason == nil { stopReason = "stopped at \(Instant(stopAt).iso8601)" }
        if stopReason == nil, (try? await resources.control.stopRequested(job: context.job.name, run: context.runID)) == true {
            stopReason = "stopped on request"
        }
    }

    /// A job `timeout:`, `overlap: cancel_previous` or a cancel request: no instance takes over,
    /// so the stop sequence runs as at `stop` (the stream ended with the cancellation, so the
    /// stop polls on its own clock). False for a lease loss or a shutdown.
    func stopAfterCancellation() async throws -> Bool {
        guard let reason = await orderlyCancellation() else { return false }
        stopReason = reason
        var none: AsyncStream<Input>.Iterator? = nil
        _ = try await finish(&none)
        return true
    }

    /// Why the run is being cancelled when it is not a lease loss or a shutdown (those leave the
    /// session to the taker): a cancel request (`overlap: cancel_previous`, or on request), or the
    /// job's `timeout:` (as the engine says).
    func orderlyCancellation() async -> String? {
        if (try? await resources.control.cancelRequested(run: context.runID)) == true {
            return "cancelled (replaced by a newer occurrence, overlap: cancel_previous, or on request)"
        }
        if context.stopReason() == .timeout, let timeout = context.job.timeout {
            return "timed out after \(DurationText.format(timeout))"
        }
        return nil
    }

    /// The next input of the stop sequence: from the stream, or (after a cancellation ended the
    /// stream) a poll on the session's clock.
    func nextInput(_ inputs: inout AsyncStream<Input>.Iterator?) async -> Input? {
        if inputs != nil { return await inputs?.next(isolation: self) }
        do { try await resources.clock.sleep(for: resources.pollInterval) } catch { return nil }
        return .tick
    }

    func finish(_ inputs: inout AsyncStream<Input>.Iterator?) async throws -> RunOutcome {
        let reason = stopReason ?? "stopped"
        logger.info("session stopping", metadata: ["reason": "\(reason)"])
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "stopping", locked: state.locked, detail: statusDetail(), now: resources.wall())
        send(.sessionStop(reason: reason))
        stopStrategy()
        // A placement still awaiting its answer is let finish (bounded), so its order is in the
        // book when the working orders are cancelled.
        var waited = 0
        while placing > 0, waited < resources.flattenTicks, let input = await nextInput(&inputs) {
            if case .tick = input { waited += 1 }
            await handle(input, in: .stopping)
        }
        // An order whose placement outcome is unknown (its answer lost, or cut off by the
        // cancellation that stops the session) and whose events have not arrived is found by its
        // clOrdId, so it is cancelled with the rest.
        await reconcileUnknownOrders()
        await cancelWorking()
        var flattened = false
        // Without a checkpoint no liquidation can be journaled: the run fails and says so.
        if checkpointFailure == nil, settings.flattenAtStop || state.locked || flattenFailure != nil {
            // Flatten means flat: a round a tick (REST re-read, liquidate what is open) until the
            // broker reads flat or the rounds run out; then until the fills are counted.
            flattening = nil
            flattenFailure = nil
            await startFlatten()
            var ticks = 0
            while flattening != nil || (!lotsFlat && ticks < resources.flattenTicks && inputs != nil), let input = await nextInput(&inputs) {
                if case .tick = input {
                    ticks += 1
                    await flattenRound()
                }
                await handle(input, in: .stopping)
            }
            flattened = flattenFailure == nil
        }
        // Orders the book learned of while flattening (an event that was still on its way, or
        // a placement found by its clOrdId only now) are cancelled too: no order of the
        // session's own is left working.
        await reconcileUnknownOrders()
        await cancelWorking()
        state.reconnects = baseReconnects + max(0, await trading.connectionCount - 1) + max(0, await market.connectionCount - 1)
        let report = FuturesSessionReport(
            orders: state.ordersPlaced, fills: state.fills, rejects: state.rejects, realizedPnL: state.realized, maxDrawdown: state.maxDrawdown,
            reconnects: state.reconnects, locked: state.locked, flattened: flattened, stopReason: reason)
        state.finished = true
        state.report = report
        if let flattenFailure { state.failure = "session \(reason), but flatten failed: \(flattenFailure)" }
        var saveError: (any Error)?
        do { try await persist() } catch { saveError = error }
        try? await recordRealized()
        try? await context.events.record("session-report", report.json)
        try? await resources.control.update(
            job: context.job.name, run: context.runID, state: "finished", locked: state.locked, detail: report.json, now: resources.wall())
        await close()
        if let checkpointFailure, state.failure == nil {
            let why = reason == checkpointFailure ? reason : "\(reason), but \(checkpointFailure)"
            state.failure =
                "session stopped: \(why); nothing was flattened (no liquidation can be journaled); open positions: \(openPositions.isEmpty ? "none" : openPositions)"
        }
        if let failure = state.failure { throw JobFailure(failure, retryable: false) }
        if let saveError { throw saveError }
        return RunOutcome(summary: report.summary, detail: report.json)
    }
}
