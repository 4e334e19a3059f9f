import Foundation
import Testing

@testable import Scheduler

/// Issue 19's rules of the pure core that need its new inputs: write failures, the owner's lease
/// length in the lease row, taken-over runs first, other instances' liveness.
@Suite("Engine core (issue 19)")
struct EngineCoreLivenessTests {
    typealias T = EngineCoreTests

    @Test("a taker that could not write itself restarts its observations: the time it waited is no evidence against the owner")
    func writeFailureRestartsObservations() {
        var core = T.core(lease: .seconds(30))
        _ = core.leasesSeen([T.lease(9)], now: T.at(0, mono: .seconds(100)))
        core.writeFailed(mono: .seconds(125))
        do {
            let got = core.leasesSeen([T.lease(9)], now: T.at(0, mono: .seconds(131)))
            #expect(got == nil)
        }
        do {
            let got = core.leasesSeen([T.lease(9)], now: T.at(0, mono: .seconds(155)))
            #expect(got == .takeOver([T.lease(9)]))
        }
    }

    @Test(
        "patience is the longer of this instance's lease and the owner's (from the lease row), whatever the wall reads",
        arguments: [
            (30.0, 3.0, .seconds(29), false),
            (30.0, 3.0, .seconds(30), true),
            (600.0, 3.0, .seconds(300), false),
            (600.0, 3.0, .seconds(600), true),
            (3.0, 30.0, .seconds(30), true),
        ] as [(Double, Double, Duration, Bool)])
    func patienceFromTheOwnersLease(ownerLease: Double, ownLease: Double, after: Duration, lapsed: Bool) {
        var core = T.core(lease: .milliseconds(Int64(ownLease * 1000)))
        var held = T.lease(9, expiresIn: -1000)  // a wall step: the row reads long expired
        held.duration = ownerLease
        _ = core.leasesSeen([held], now: T.at(0, mono: .seconds(100)))
        let got = core.leasesSeen([held], now: T.at(0, mono: .seconds(100) + after))
        #expect(got == (lapsed ? .takeOver([held]) : nil))
    }

    @Test("a taken-over run goes ahead of the runs leased ahead")
    func takenOverRunsFirst() {
        var core = T.core(maxRuns: 1, lease: .seconds(30))
        core.launched(runID: 1, generation: 1, leasedAt: .zero)
        core.launched(runID: 3, generation: 1, leasedAt: .zero)
        let executes = core.launched(runID: 4, generation: 2, leasedAt: .zero, first: true)
        #expect(executes == false)
        #expect(core.ready == [4, 3])
    }

    @Test("another instance is live while its heartbeat changes on this instance's clock; a wall step neither kills nor forgets it")
    func instanceLiveness() {
        var core = T.core(lease: .seconds(30))
        core.instancesSeen(["b": T.t0], mono: .seconds(10))
        #expect(core.liveInstances(mono: .seconds(39)) == ["b"])
        #expect(core.liveInstances(mono: .seconds(40)) == [])
        // Two days later by the wall, a few seconds by the monotonic clock.
        #expect(core.forgottenInstances(now: T.at(2 * 86_400, mono: .seconds(15))) == [])
        core.instancesSeen(["b": T.t0 + 5], mono: .seconds(45))
        #expect(core.liveInstances(mono: .seconds(50)) == ["b"])
        // Silent for a day on both clocks: forgotten.
        #expect(core.forgottenInstances(now: T.at(2 * 86_400, mono: .seconds(45 + 86_400))) == ["b"])
    }

}
