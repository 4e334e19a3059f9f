public import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Prunes run history per `service.retention`, in small batches, as a service of `schedctl serve`.
///
/// Every `interval` it walks the runs in id order, `batch` at a time (one short write transaction
/// each, with a pause between so claims and renewals are never held up), deleting what the policy
/// no longer keeps, then checkpoints the WAL. Without a policy it only waits (a reload may set one).
public final class RetentionService: Service {
    private let store: Store
    private let logger: Logger
    private let wall: @Sendable () -> Date
    private let interval: Duration
    private let batch: Int
    private let pause: Duration
    private let policy: Mutex<RetentionPolicy?>

    /// A pruner for `store` following `policy`.
    public init(
        store: Store, policy: RetentionPolicy?, logger: Logger, wall: @escaping @Sendable () -> Date = { Date() }, interval: Duration = .seconds(600),
        batch: Int = 500, pause: Duration = .milliseconds(20)
    ) {
        self.store = store
        self.logger = logger
        self.wall = wall
        self.interval = interval
        self.batch = batch
        self.pause = pause
        self.policy = Mutex(policy)
    }

    /// Follows a reloaded configuration's policy from the next pass on.
    public func update(_ policy: RetentionPolicy?) { self.policy.withLock { $0 = policy } }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        try await self.prunePass()
                    } catch is CancellationError {
                        return
                    } catch {
                        self.logger.warning("history pruning failed; retrying later", metadata: ["error": "\(error)"])
                    }
                    try await Task.sleep(for: self.interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// One walk over the history; returns how many runs were deleted.
    @discardableResult
    public func prunePass() async throws -> Int {
        guard let policy = policy.withLock({ $0 }) else { return 0 }
        var cursor: Int64 = 0
        var deleted = 0
        while true {
            let result = try await store.pruneHistory(policy: policy, now: wall(), after: cursor, batch: batch)
            deleted += result.deleted
            guard let next = result.next else { break }
            cursor = next
            if pause > .zero { try await Task.sleep(for: pause) }
        }
        if deleted > 0 {
            try await store.checkpointWAL()
            logger.info("pruned run history", metadata: ["runs": "\(deleted)"])
        }
        return deleted
    }
}
