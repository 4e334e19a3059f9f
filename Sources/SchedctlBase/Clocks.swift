public import Foundation

/// A wall-clock source, injectable for expiry and calendar decisions.
///
/// The house has two kinds of time: wall time (this, a `Date` that may jump when the system clock
/// is set) for what the outside world dates (token expiry, a session's close), and monotonic time
/// (`any Clock<Duration>`: `ContinuousClock` in production, SchedctlTesting's `ManualClock` in
/// tests) for timeouts and waits. Tests set both by hand with SchedctlTesting's `ManualWallClock`
/// and `ManualClock`.
public struct WallClock: Sendable {
    let body: @Sendable () -> Date
    /// A clock reading `body`.
    public init(_ body: @escaping @Sendable () -> Date) { self.body = body }
    /// The system's clock.
    public static let system = WallClock { Date() }
    /// The time now.
    public func now() -> Date { body() }
}

/// Sleeping, injectable so tests never wait on real time.
public struct Sleeper: Sendable {
    let body: @Sendable (Duration) async throws -> Void
    /// A sleeper running `body`.
    public init(_ body: @escaping @Sendable (Duration) async throws -> Void) { self.body = body }
    /// Real sleeping on the continuous clock.
    public static let continuous = Sleeper { try await Task.sleep(for: $0) }
    /// Sleeps for `d`.
    public func callAsFunction(_ d: Duration) async throws { try await body(d) }
}
