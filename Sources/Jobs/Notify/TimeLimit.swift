import Synchronization

/// Runs `operation` for at most `limit` on `clock`: its result, or nil when the time ran out
/// first. The operation is then cancelled and its late result ignored, so a send that never
/// returns (a receiver that trickles a byte at a time, a blocking SMTP call) holds up only
/// itself. Cancelling the caller cancels both.
func withTimeLimit<T: Sendable>(_ limit: Duration, clock: any Clock<Duration>, _ operation: @escaping @Sendable () async -> T) async -> T? {
    let race = TimeLimitRace<T>()
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            race.arm(continuation)
            let work = Task { race.finish(await operation()) }
            let timer = Task {
                do {
                    try await clock.sleep(for: limit)
                    race.finish(nil)
                } catch {
                    // Cancelled: the operation finished first (or the caller was cancelled).
                }
            }
            race.hold([work, timer])
            if Task.isCancelled { race.cancel() }
        }
    } onCancel: {
        race.cancel()
    }
    race.cancelTasks()
    return result
}

/// The shared state of one ``withTimeLimit(_:clock:_:)``: the first of the operation and the
/// timer to finish resumes the caller.
private final class TimeLimitRace<T: Sendable>: Sendable {
    private let pending = Mutex<CheckedContinuation<T?, Never>?>(nil)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func arm(_ continuation: CheckedContinuation<T?, Never>) { pending.withLock { $0 = continuation } }

    func hold(_ running: [Task<Void, Never>]) { tasks.withLock { $0 = running } }

    /// Resumes the caller with `value` unless it was resumed already.
    func finish(_ value: T?) {
        let continuation = pending.withLock { c -> CheckedContinuation<T?, Never>? in
            defer { c = nil }
            return c
        }
        continuation?.resume(returning: value)
    }

    func cancelTasks() {
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    /// Gives up: both tasks are cancelled and the caller gets nil.
    func cancel() {
        cancelTasks()
        finish(nil)
    }
}
