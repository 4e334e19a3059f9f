import Foundation
import Jobs
import Scheduler
import Testing

/// The pure delivery decisions: backoff, retry versus give up, admission by severity, and how
/// errors count.
@Suite("Delivery policy")
struct DeliveryPolicyTests {
    let policy = DeliveryPolicy()
    let t0 = 1_796_137_200.0  // 2026-12-01T15:00:00Z

    @Test(arguments: [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1800), (8, 1800), (40, 1800)])
    func backoffDoublesFrom30SecondsAndStopsAt30Minutes(attempts: Int, seconds: Int) {
        #expect(policy.backoff(afterAttempt: attempts) == .seconds(seconds))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var outcome: DeliveryPolicy.Outcome
        var attempts: Int
        var elapsed: Double
        var expire: Double
        var next: DeliveryPolicy.Next
        var testDescription: String { "\(outcome) after attempt \(attempts) at +\(elapsed)s (expire \(expire)s) → \(next)" }
    }

    static let t0 = 1_796_137_200.0
    static let cases: [Case] = [
        Case(outcome: .delivered, attempts: 1, elapsed: 0, expire: 86_400, next: .delivered),
        Case(outcome: .delivered, attempts: 9, elapsed: 90_000, expire: 86_400, next: .delivered),
        Case(outcome: .permanent, attempts: 1, elapsed: 0, expire: 86_400, next: .failed),
        Case(outcome: .retryable, attempts: 1, elapsed: 0, expire: 86_400, next: .retry(at: t0 + 30)),
        Case(outcome: .retryable, attempts: 2, elapsed: 30, expire: 86_400, next: .retry(at: t0 + 90)),
        Case(outcome: .retryable, attempts: 7, elapsed: 4000, expire: 86_400, next: .retry(at: t0 + 5800)),
        Case(outcome: .retryable, attempts: 3, elapsed: 250, expire: 300, next: .retry(at: t0 + 300)),
        Case(outcome: .retryable, attempts: 4, elapsed: 300, expire: 300, next: .expired),
        Case(outcome: .retryable, attempts: 60, elapsed: 90_000, expire: 86_400, next: .expired),
    ]

    @Test(arguments: cases)
    func afterAnAttempt(_ c: Case) {
        #expect(policy.after(c.outcome, attempts: c.attempts, createdAt: t0, expiresAt: t0 + c.expire, now: t0 + c.elapsed) == c.next)
    }

    @Test(arguments: [
        (false, 0, 10, DeliveryPolicy.Admission.send), (false, 9, 10, .send), (false, 10, 10, .fold), (false, 50, 10, .fold),
        (true, 10, 10, .send), (true, 500, 10, .send),
    ])
    func criticalAlertsAreNeverFolded(critical: Bool, used: Int, limit: Int, admission: DeliveryPolicy.Admission) {
        #expect(policy.admit(critical: critical, used: used, limit: limit) == admission)
    }

    @Test func whichAlertsAreCritical() {
        #expect(AlertEvent.allCases.filter(\.isCritical) == [.retriesExhausted, .abandoned, .riskLimit, .tokenExpiring, .orphanElsewhere, .flattenFailed])
        #expect(AlertEvent.raised(byEventKind: "flatten-failed") == [.flattenFailed])
        #expect(AlertEvent.raised(byEventKind: "orphan-elsewhere") == [.orphanElsewhere])
    }

    @Test(arguments: [
        (NotifyError.Kind.transport, DeliveryPolicy.Outcome.retryable), (.tls, .retryable), (.authentication, .retryable), (.rejected, .permanent),
        (.recipientRejected, .permanent), (.configuration, .permanent),
    ])
    func howErrorsCount(kind: NotifyError.Kind, outcome: DeliveryPolicy.Outcome) {
        #expect(DeliveryPolicy.outcome(of: NotifyError(kind, notifier: "x", "why")) == outcome)
    }

    @Test func aClaimOutlivesTheSendLimitByTheMargin() {
        #expect(policy.lease(sendLimit: .seconds(15)) == .seconds(35))
    }

    @Test(arguments: [
        ("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("[::1]", true), ("localhost", true), ("LOCALHOST", true),
        ("127.mail.example.com", false), ("localhost.example.com", false), ("127.0.0.256", false), ("10.0.0.1", false), ("example.com", false),
        ("127.0.0", false),
    ])
    func loopbackHosts(host: String, loopback: Bool) {
        #expect(NotifierFactory.isLoopbackHost(host) == loopback)
    }

    @Test(arguments: [
        ("https://hooks.example.com/x", nil), ("http://127.0.0.1:8080/x", nil), ("http://localhost/x", nil),
        ("http://hooks.example.com/x", "plain http://"), ("htp:/broken", "is not a https:// URL"), ("ftp://example.com", "is not a https:// URL"),
    ])
    func endpointURLs(text: String, problem: String?) {
        let found = NotifierFactory.urlProblem(text)
        if let problem { #expect(found?.contains(problem) == true) } else { #expect(found == nil) }
    }
}
