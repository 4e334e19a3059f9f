public import Foundation
public import SchedctlBase
import Synchronization

/// A wall clock a test sets by hand: the wall half of the manual clock pair (``ManualClock`` is
/// the monotonic half). Hand it to code as ``source`` (a closure) or ``clock`` (a `WallClock`).
public final class ManualWallClock: Sendable {
    private let current: Mutex<Date>

    /// A clock showing `start` (an ISO 8601 instant).
    public init(_ start: String) {
        let formatter = ISO8601DateFormatter()
        current = Mutex(formatter.date(from: start)!)
    }

    /// A clock showing `start`.
    public init(_ start: Date) { current = Mutex(start) }

    /// The time it shows.
    public func now() -> Date { current.withLock { $0 } }

    /// Sets it (forward or back: clock jumps).
    public func set(_ iso: String) {
        let date = ISO8601DateFormatter().date(from: iso)!
        current.withLock { $0 = date }
    }

    /// Moves it by `seconds`.
    public func advance(_ seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    /// Moves it by `seconds`.
    public func advance(by seconds: TimeInterval) { advance(seconds) }

    /// A closure for `Engine(wall:)`.
    public var source: @Sendable () -> Date { { self.now() } }

    /// The clock as a `WallClock` (brokers, simulators).
    public var clock: WallClock { WallClock { self.now() } }
}

extension Sleeper {
    /// Returns at once.
    public static let immediate = Sleeper { _ in }
}

/// A fresh directory under the system temporary directory, removed when released.
public final class TemporaryDirectory: Sendable {
    /// Its path.
    public let path: String

    /// Creates it.
    public init(prefix: String = "schedctl-test") {
        let base = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    /// A path inside it.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs blocking work (waiting for a child process, reading its pipes) on a thread of its own,
/// so that it never occupies one of the few threads Swift concurrency shares with the loopback
/// servers and engines of other tests.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Waits for `process` to end without blocking a shared thread: until Foundation reaps it, or
/// (when Foundation missed its SIGCHLD) until it has been a zombie or gone for 5 s.
public func exited(_ process: Process) async throws {
    var seenExited = 0
    while process.isRunning && seenExited < 500 {
        seenExited = hasExited(pid: process.processIdentifier) ? seenExited + 1 : 0
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Whether process `pid` has exited: it is a zombie, or gone. Foundation's `Process` on Linux can
/// miss a child's SIGCHLD and report a zombie as running forever (seen once in a SIGKILL soak,
/// which then waited for it without end), so a wait must not rest on `isRunning` alone.
public func hasExited(pid: Int32) -> Bool {
    // Plain read(2) with an EINTR retry: Foundation's file reading traps on EINTR, which a
    // child's SIGCHLD causes here.
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    if fd < 0 { return errno == ENOENT }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1024)
    var count = -1
    repeat { count = read(fd, &buffer, buffer.count) } while count < 0 && errno == EINTR
    guard count > 0 else { return false }
    let stat = String(decoding: buffer[0..<count], as: UTF8.self)
    guard let end = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: end)...].split(separator: " ").first == "Z"
}
