import Brokers
import Foundation
import Logging
import Scheduler

/// Supervision of the strategy process: start, restart after an exit, end when it does not keep
/// up, and the never-blocking writes to it.
extension FuturesSession {
    func startStrategy() async throws {
        guard let s = settings.strategy else { return }
        var environment = Self.strategyEnvironment(inherited: ProcessInfo.processInfo.environment, context: context)
        for (key, value) in s.env { environment[key] = try await value.resolved(context.secrets) }
        strategyGeneration += 1
        let (generation, sink, logger, secrets, lane) = (strategyGeneration, self.sink, self.logger, context.secrets, intents)
        strategy = try StrategyProcess.start(
            argv: s.command, environment: environment, workdir: s.workdir,
            onLine: { if lane.push($0, generation: generation) { sink.yield(.intentsReady) } },
            onStderr: { logger.notice("strategy stderr", metadata: ["line": "\(secrets.redact($0))"]) },
            onExit: { sink.yield(.strategyExit($0, generation: generation)) },
            queueLimit: resources.strategyQueueLimit, intentBacklog: resources.strategyIntentBacklog,
            onFlood: { sink.yield(.strategyFlood(generation: generation)) })
        send(
            .sessionStart(
                job: context.job.name, run: context.runID, symbols: settings.symbols, stopAt: Instant(stopAt).iso8601, locked: state.locked,
                resumed: journal.resumed || strategyRestarts > 0))
        for (cid, symbol) in book.symbols.sorted(by: { $0.value < $1.value }) { send(.position(symbol: symbol, net: book.positions[cid] ?? 0)) }
        send(.pnl(realized: state.realized, open: nil))
    }

    /// The strategy's environment before its `strategy.env`: built from scratch (`PATH`, `HOME`,
    /// `LANG` and the run's identity), so no variable of schedctl's own (a passphrase, a vault
    /// value) reaches it unless the job asks for it.
    static func strategyEnvironment(inherited: [String: String], context: RunContext) -> [String: String] {
        var environment = inherited.filter { ["PATH", "HOME", "LANG"].contains($0.key) }
        environment["SCHEDCTL_JOB"] = context.job.name
        environment["SCHEDCTL_RUN_ID"] = String(context.runID)
        environment["SCHEDCTL_NOMINAL"] = context.nominal.iso8601
        environment["SCHEDCTL_ATTEMPT"] = String(context.attempt)
        environment["SCHEDCTL_GENERATION"] = String(context.generation)
        return environment
    }

    func strategyExited(_ status: Int32) async {
        strategy = nil
        guard stopReason == nil, !strategyEnded else { return }
        if strategyRestarts < resources.maxStrategyRestarts {
            strategyRestarts += 1
            logger.warning("strategy exited; restarting", metadata: ["status": "\(status)", "restart": "\(strategyRestarts)"])
            try? await context.events.record("strategy-restart", "the strategy exited with status \(status); restart \(strategyRestarts)")
            do { try await startStrategy() } catch {
                logger.error("strategy restart failed; the session continues risk-only", metadata: ["error": "\(error)"])
            }
        } else {
            logger.error("strategy exited too often; the session continues risk-only", metadata: ["status": "\(status)"])
            try? await context.events.record(
                "strategy-stopped", "the strategy exited \(strategyRestarts + 1) times; the session continues with risk checks only")
        }
    }

    func stopStrategy() {
        strategyGeneration += 1
        strategy?.terminate()
        strategy = nil
    }

    /// Queues a message for the strategy; never blocks. A strategy that lets `strategyQueueLimit`
    /// messages pile up is ended after the current input (``endStrategyIfBehind()``).
    func send(_ message: StrategyMessage, quoteOf symbol: String? = nil) {
        guard let strategy, let line = message.line else { return }
        if strategy.send(line, quoteOf: symbol) == .overflow, strategyToEnd == nil {
            strategyToEnd = "it did not read its input: \(resources.strategyQueueLimit) messages were waiting"
        }
    }

    /// Ends a strategy that does not keep up (its input piles up, or it floods intents): an event,
    /// no restart, and the session goes on risk-only (stop, loss limit, staleness, flatten).
    func endStrategyIfBehind() async {
        guard let reason = strategyToEnd else { return }
        strategyToEnd = nil
        guard strategy != nil else { return }
        strategyEnded = true
        stopStrategy()
        let message = "the strategy was ended: \(reason); the session continues with risk checks only"
        logger.error("strategy ended", metadata: ["reason": "\(reason)"])
        try? await context.events.record("strategy-ended", message)
    }
}
