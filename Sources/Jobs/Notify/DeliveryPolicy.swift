import Foundation
import SchedctlBase

/// The decisions behind alert delivery, pure so that table tests can cover them: whether a new
/// alert is sent or folded into a digest, when a failed send is tried again, when a delivery is
/// given up, and how long a claim holds.
///
/// ```swift
/// let policy = DeliveryPolicy()
/// policy.admit(critical: false, used: 10, limit: 10)              // .fold
/// policy.after(.retryable, attempts: 1, createdAt: t, expiresAt: t + 86_400, now: t)
/// // .retry(at: t + 30)
/// ```
public struct DeliveryPolicy: Sendable, Hashable {
    /// The wait before the first retry; each later one doubles it.
    public var firstRetry: Duration = .seconds(30)
    /// The longest wait between two attempts.
    public var maxBackoff: Duration = .seconds(1800)
    /// How long a claim lasts beyond twice a send's time limit before another worker may take
    /// the delivery over (its claimer is presumed dead).
    public var leaseMargin: Duration = .seconds(5)

    /// The defaults: retries 30 s, 60 s, 120 s, … capped at 30 min.
    public init(firstRetry: Duration = .seconds(30), maxBackoff: Duration = .seconds(1800), leaseMargin: Duration = .seconds(5)) {
        self.firstRetry = firstRetry
        self.maxBackoff = maxBackoff
        self.leaseMargin = leaseMargin
    }

    /// What happens to a new alert for one notifier.
    public enum Admission: Sendable, Hashable {
        /// Queued to send now.
        case send
        /// Over the notifier's hourly limit: folded into its next digest.
        case fold
    }

    /// A critical alert is always sent; a routine one is sent while the notifier has used fewer
    /// than `limit` routine messages in the last hour, else folded.
    public func admit(critical: Bool, used: Int, limit: Int) -> Admission {
        critical || used < limit ? .send : .fold
    }

    /// How one attempt ended.
    public enum Outcome: Sendable, Hashable {
        /// Every recipient accepted it.
        case delivered
        /// It failed in a way that may pass (transport, TLS, a 5xx or 429, a timeout).
        case retryable
        /// It failed in a way a retry cannot fix (configuration, a 4xx, a rejected recipient).
        case permanent
    }

    /// What becomes of a delivery after an attempt.
    public enum Next: Sendable, Hashable {
        /// Done.
        case delivered
        /// Tried again at this time (seconds since 1970).
        case retry(at: Double)
        /// Given up: not retryable.
        case failed
        /// Given up: its time ran out.
        case expired
    }

    /// The wait after attempt `attempts` (1-based) failed: `firstRetry · 2^(attempts-1)`, capped.
    public func backoff(afterAttempt attempts: Int) -> Duration {
        let doublings = max(0, min(attempts - 1, 30))
        let seconds = firstRetry.seconds * pow(2, Double(doublings))
        return .seconds(min(seconds, maxBackoff.seconds))
    }

    /// The state after attempt number `attempts` ended with `outcome` at `now`. A retry never
    /// lands after `expiresAt`; one due at or after it is the last attempt.
    public func after(_ outcome: Outcome, attempts: Int, createdAt: Double, expiresAt: Double, now: Double) -> Next {
        switch outcome {
        case .delivered: return .delivered
        case .permanent: return .failed
        case .retryable:
            if now >= expiresAt { return .expired }
            return .retry(at: min(now + backoff(afterAttempt: attempts).seconds, expiresAt))
        }
    }

    /// Whether a pending delivery is given up without another attempt.
    public func hasExpired(expiresAt: Double, now: Double) -> Bool { now > expiresAt }

    /// How long a claim lasts for a send limited to `sendLimit`: twice the limit plus the margin
    /// (the claimer gives up on the send at the limit and records it at once).
    public func lease(sendLimit: Duration) -> Duration { sendLimit * 2 + leaseMargin }

    /// How an error from a notifier counts.
    public static func outcome(of error: NotifyError) -> Outcome {
        switch error.kind {
        case .configuration, .rejected, .recipientRejected: return .permanent
        default: return .retryable
        }
    }
}
