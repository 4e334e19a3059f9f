import Foundation
import SchedctlBase
import Testing

@testable import Brokers

@Suite("server-requested waits")
struct ServerWaitTests {
    @Test func retryAfterAcceptsOnlySecondsOrAnHTTPDate() {
        #expect(ServerWait.retryAfter("120") == 120)
        #expect(ServerWait.retryAfter(" 1.5 ") == 1.5)
        #expect(ServerWait.retryAfter(nil) == nil)
        for odd in ["1e300", "-5", "inf", "nan", "0x10", ".5", "1.2.3", "soon", ""] {
            #expect(ServerWait.retryAfter(odd) == nil, "\(odd)")
        }
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        let later = ServerWait.retryAfter("Thu, 28 May 2026 20:27:10 GMT", now: now)
        #expect(later.map { abs($0 - 30) < 0.001 } == true, "\(String(describing: later))")
        #expect(ServerWait.retryAfter("Thu, 01 Jan 2026 00:00:00 GMT", now: now) == 0)
    }

    @Test func pTimeMustBeAFiniteNonNegativeNumber() {
        #expect(ServerWait.seconds(15) == 15)
        #expect(ServerWait.seconds(-1) == nil)
        #expect(ServerWait.seconds(.infinity) == nil)
        #expect(ServerWait.seconds(.nan) == nil)
        #expect(!ServerWait.isAcceptable(1e300))
        #expect(ServerWait.isAcceptable(ServerWait.maximum))
    }

    @Test func durationsFromAnySecondsNeverTrap() {
        #expect(Duration.secondsDouble(1e300) == .seconds(86_400))
        #expect(Duration.secondsDouble(-.infinity) == .zero)
        #expect(Duration.secondsDouble(.nan) == .zero)
        #expect(Duration.secondsDouble(1.5) == .milliseconds(1500))
    }
}
