import Foundation

/// Waits until `condition` holds and says whether it did: the one `eventually` of the tests.
///
/// It first yields the task between checks (10,000 passes, no wall time: enough for in-process
/// engines on a ``ManualClock``), then polls every 10 ms for up to `seconds` of wall time (real
/// sockets and processes). With `clock` and `wakeLoop`, whenever two tasks sleep on the manual
/// clock (an engine's lease keeper and its loop) it moves 600 ms past their sleep.
public func eventually(
    _ clock: ManualClock? = nil, wakeLoop: Bool = false, within seconds: Double = 30, _ condition: () async throws -> Bool
) async rethrows -> Bool {
    func wake() {
        if wakeLoop, let clock, clock.sleeperCount >= 2 { clock.advance(by: .milliseconds(600)) }
    }
    for _ in 0..<10_000 {
        if try await condition() { return true }
        wake()
        await Task.yield()
    }
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        wake()
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Polls `condition` every 10 ms of real time for up to `seconds`, and says whether it held.
/// For conditions that wait on real sockets or processes, or that move a manual clock a step
/// per check: ``eventually(_:wakeLoop:within:_:)`` first spins on task yields, which would move
/// such a clock thousands of steps before a socket could answer, and starves the pool the
/// sockets need while tests run side by side.
public func polled(within seconds: Double = 30, _ condition: () async throws -> Bool) async -> Bool {
    (try? await pollUntil(within: seconds, every: .milliseconds(10), condition)) ?? false
}
