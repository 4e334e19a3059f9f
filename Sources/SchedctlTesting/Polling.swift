import Foundation

/// Polls `condition` every `interval` until it holds or `seconds` have passed, and says whether
/// it held. Only for waiting on real processes and sockets (a bounded deadline); in-process
/// tests wait on injected clocks and explicit signals.
public func pollUntil(
    within seconds: Double = 60, every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}

/// The lines of a text file (none while it does not exist).
public func fileLines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}
