import Foundation
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// A kind that blocks until its attempt is cancelled and keeps the stop reason the engine gave it.
final class StopReasonProbe: JobKind, Sendable {
    let name = "scripted"
    let options: [OptionSpec] = []
    private let state = Mutex<(running: Int, reasons: [RunStopReason?])>((0, []))

    var running: Int { state.withLock { $0.running } }
    var reasons: [RunStopReason?] { state.withLock { $0.reasons } }

    func run(_ context: RunContext) async throws -> RunOutcome {
        state.withLock { $0.running += 1 }
        let stream = AsyncStream<Void> { _ in }
        for await _ in stream {}
        // Cancelled: the reason is set before the task is cancelled.
        state.withLock { $0.reasons.append(context.stopReason()) }
        throw CancellationError()
    }
}

/// The engine tells an attempt why it stops (kinds no longer infer it from the clock or the store).
@Suite struct EngineStopReasonTests {
    @Test func aTimeoutIsReportedAsATimeout() async throws {
        let bed = try Bed()
        let probe = StopReasonProbe()
        let engine = bed.engine([every("stuck", seconds: 3600, timeout: .seconds(5))], kinds: [probe])
        try await engine.start()
        bed.wall.set("2026-11-23T16:00:00Z")
        await engine.tick()
        while bed.clock.sleeperCount == 0 || probe.running == 0 { await Task.yield() }
        bed.clock.advance(by: .seconds(5))
        await engine.waitForIdle()
        #expect(probe.reasons == [.timeout])
        #expect(try await bed.runs().first?.error == "timed out after 5s")
    }

    @Test func aReplacedRunIsToldItWasCancelled() async throws {
        let bed = try Bed()
        let probe = StopReasonProbe()
        let engine = bed.engine([every("slow", seconds: 60, overlap: .cancelPrevious)], kinds: [probe])
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        while probe.running == 0 { await Task.yield() }
        bed.wall.advance(60)
        await engine.tick()
        while probe.reasons.isEmpty { await Task.yield() }
        #expect(probe.reasons == [.cancelRequested])
        #expect(probe.reasons.first??.fenced == false)
        await engine.abandonForTesting()
    }

    @Test func aLostLeaseIsFenced() async throws {
        let bed = try Bed()
        let probe = StopReasonProbe()
        let engine = bed.engine([every("slow", seconds: 60)], kinds: [probe])
        try await engine.start()
        bed.wall.advance(60)
        await engine.tick()
        while probe.running == 0 { await Task.yield() }
        await engine.abandonForTesting()
        await engine.waitForIdle()
        #expect(probe.reasons == [.leaseLost])
        #expect(probe.reasons.first??.fenced == true)
    }
}
