public import Sandbox

/// Something a test starts and must stop before it ends: a simulator, a harness around one.
public protocol Stoppable: Sendable {
    /// Stops it and waits until it has stopped. Stopping twice is harmless.
    func stop() async
}

extension TradeStationSimulator: Stoppable {}
extension TradovateSimulator: Stoppable {}
extension PennyVaultSimulator: Stoppable {}
extension TwilioSimulator: Stoppable {}
extension BrokerSandbox: Stoppable {}

/// Runs `body` with `sandbox`, then stops it and waits for that, whether `body` returned or
/// threw: a simulator never outlives its test (unlike `defer { Task { await sim.stop() } }`,
/// which stops it some time later).
public func withSandbox<S: Stoppable, T>(_ sandbox: S, _ body: (S) async throws -> T) async rethrows -> T {
    do {
        let value = try await body(sandbox)
        await sandbox.stop()
        return value
    } catch {
        await sandbox.stop()
        throw error
    }
}
