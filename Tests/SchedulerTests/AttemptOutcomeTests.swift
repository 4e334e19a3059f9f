import Foundation
import Testing

@testable import Scheduler

/// The core's decision of what an attempt's end records (it used to live in the actor).
@Suite("Attempt outcome")
struct AttemptOutcomeTests {
    typealias End = EngineCore.AttemptEnd

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var end: End
        var stop: EngineCore.StopReason?
        var attempt = 1
        var maxAttempts = 3
        var expected: Store.AttemptResult
        var testDescription: String { name }
    }

    static let ok = RunOutcome(summary: "exit 0")
    /// backoff 10 s, no jitter: the delay before attempt n is 10 s · 2^(n−2).
    static let retry = RetryPolicy(attempts: 3, backoff: .seconds(10), maxBackoff: .seconds(300), jitter: false)
    static let cancelReason = "cancelled: replaced by a newer occurrence (overlap: cancel_previous) or on request"

    static let rows: [Row] = [
        Row(name: "a success is recorded, whatever stopped it", end: .succeeded(ok), stop: .shutdown, expected: .succeeded(ok)),
        Row(name: "a success is recorded", end: .succeeded(ok), expected: .succeeded(ok)),
        Row(name: "a shutdown releases the run", end: .cancelled, stop: .shutdown, expected: .released),
        Row(name: "a hand-back hands it back", end: .cancelled, stop: .handBack, expected: .handedBack),
        Row(name: "a requested cancel cancels", end: .cancelled, stop: .cancelRequested, expected: .cancelled(reason: cancelReason)),
        Row(
            name: "a failure that may retry is retried after the backoff", end: .failed(message: "exit 3", detail: "out", retryable: true),
            expected: .failed(message: "exit 3", detail: "out", retryAfter: .seconds(10))),
        Row(
            name: "the backoff doubles", end: .failed(message: "exit 3", detail: nil, retryable: true), attempt: 2,
            expected: .failed(message: "exit 3", detail: nil, retryAfter: .seconds(20))),
        Row(
            name: "the last attempt fails the run", end: .failed(message: "exit 3", detail: nil, retryable: true), attempt: 3,
            expected: .failed(message: "exit 3", detail: nil, retryAfter: nil)),
        Row(
            name: "a failure the job says is final fails the run", end: .failed(message: "no such program", detail: nil, retryable: false),
            expected: .failed(message: "no such program", detail: nil, retryAfter: nil)),
        Row(
            name: "a timeout is a retryable failure", end: .timedOut(.seconds(90)),
            expected: .failed(message: "timed out after 1m30s", detail: nil, retryAfter: .seconds(10))),
        Row(
            name: "a cancellation without a stop of the engine is a failure", end: .cancelled, attempt: 3,
            expected: .failed(message: "cancelled", detail: nil, retryAfter: nil)),
        Row(
            name: "a lost lease is recorded like a failure (the fence refuses the write anyway)", end: .cancelled, stop: .leaseLost,
            expected: .failed(message: "cancelled", detail: nil, retryAfter: .seconds(10))),
    ]

    @Test("attempt end × engine stop → what is recorded", arguments: rows)
    func outcome(row: Row) {
        let got = EngineCore.attemptResult(
            row.end, stopReason: row.stop, attempt: row.attempt, maxAttempts: row.maxAttempts, retry: Self.retry, unit: { 0.5 })
        #expect(got == row.expected)
    }

    @Test("the jitter's random number is asked for only when a retry is scheduled")
    func randomOnlyForRetries() {
        var asked = 0
        _ = EngineCore.attemptResult(.succeeded(Self.ok), stopReason: nil, attempt: 1, maxAttempts: 3, retry: Self.retry) {
            asked += 1
            return 0.5
        }
        _ = EngineCore.attemptResult(.failed(message: "x", detail: nil, retryable: false), stopReason: nil, attempt: 1, maxAttempts: 3, retry: Self.retry) {
            asked += 1
            return 0.5
        }
        #expect(asked == 0)
    }
}
