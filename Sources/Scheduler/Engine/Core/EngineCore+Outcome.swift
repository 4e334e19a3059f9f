import Foundation

/// How an attempt's end is recorded: succeeded, retried (and when), failed, cancelled, released
/// or handed back. A pure decision over what the executor saw (table-tested).
extension EngineCore {
    /// How an attempt ended, as the executor saw it (errors already classified and redacted).
    enum AttemptEnd: Equatable, Sendable {
        case succeeded(RunOutcome)
        /// Its `timeout` passed.
        case timedOut(Duration)
        /// It threw; `retryable` as the job said (any error but a `JobFailure` is retryable).
        case failed(message: String, detail: String?, retryable: Bool)
        /// It ended by cancellation.
        case cancelled
    }

    /// What to record for an attempt that ended as `end`, stopped by the engine for
    /// `stopReason` (if it was), being attempt `attempt` of `maxAttempts` under `retry`; `unit`
    /// gives a random number in 0..<1 for the retry's jitter (asked only for a retry). A success is recorded as such whatever
    /// stopped it; a stop decides the rest (a shutdown releases, a hand-back hands back, a cancel
    /// cancels); a failure is retried while attempts remain and the job allows it.
    static func attemptResult(
        _ end: AttemptEnd, stopReason: StopReason?, attempt: Int, maxAttempts: Int, retry: RetryPolicy, unit: () -> Double
    ) -> Store.AttemptResult {
        if case .succeeded(let outcome) = end { return .succeeded(outcome) }
        switch stopReason {
        case .shutdown: return .released
        case .handBack: return .handedBack
        case .cancelRequested: return .cancelled(reason: "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request")
        case .leaseLost, .leaseExpired, nil: break
        }
        var message = "cancelled"
        var detail: String?
        var retryable = true
        switch end {
        case .succeeded, .cancelled:
            break
        case .timedOut(let timeout):
            message = "timed out after \(DurationText.format(timeout))"
        case .failed(let text, let more, let allowed):
            message = text
            detail = more
            retryable = allowed
        }
        let again = retryable && attempt < maxAttempts
        return .failed(message: message, detail: detail, retryAfter: again ? retry.delay(beforeAttempt: attempt + 1, unit: unit()) : nil)
    }
}
