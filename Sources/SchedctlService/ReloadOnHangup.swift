public import ServiceLifecycle
public import UnixSignals

/// Re-reads the configuration on each SIGHUP (`schedctl reload` sends it), one reload at a
/// time, as a service of `serve`'s group; it ends with the group's graceful shutdown.
public struct ReloadOnHangup: Service {
    /// The trapped signal, made before the group runs so that a SIGHUP never finds the default
    /// action (which ends the process).
    let hangups: UnixSignalsSequence
    let reload: @Sendable () async -> Void

    /// A service calling `reload` for each of `hangups`.
    public init(hangups: UnixSignalsSequence, reload: @escaping @Sendable () async -> Void) {
        self.hangups = hangups
        self.reload = reload
    }

    public func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            await reload()
        }
    }
}
