import Synchronization

/// Runs `operation` for at most `limit` on `clock`: its result, or nil when the time ran out
/// first. The operation is then cancelled and its late result ignored, so a send that never
/// returns (a receiver that trickles a byte at a time, a blocking SMTP call) holds up only
/// itself. Cancelling the caller cancels both.
func withTimeLimit<T: Sendable>(_ limit: Duration, clock: any Clock<Duration>, _ operation: @escaping @Sendable () async -> T) async -> T? {
    let pending = Mutex<CheckedContinuation<T?, Never>?>(nil)
    let tasks = Mutex<[Task<Void, Never>]>([])
    let finish: @Sendable (T?) -> Void = { value in
        let continuation = pending.withLock { c -> CheckedContinuation<T?, Never>? in
            defer { c = nil }
            return c
        }
        continuation?.resume(returning: value)
    }
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            pending.withLock { $0 = continuation }
            let work = Task { finish(await operation()) }
            let timer = Task {
                do {
                    try await clock.sleep(for: limit)
                    finish(nil)
                } catch {
                    // Cancelled: the operation finished first (or the caller was cancelled).
                }
            }
            tasks.withLock { $0 = [work, timer] }
            if Task.isCancelled {
                work.cancel()
                timer.cancel()
                finish(nil)
            }
        }
    } onCancel: {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        finish(nil)
    }
    for task in tasks.withLock({ $0 }) { task.cancel() }
    return result
}
