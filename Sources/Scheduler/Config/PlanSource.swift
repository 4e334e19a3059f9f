import Synchronization

/// One loaded plan and the number of the load that made it (1 for the first, one more per reload).
public struct PlanSnapshot: Sendable {
    /// The plan.
    public var plan: Plan
    /// Which load made it; a consumer that saw a lower number has an older plan.
    public var generation: Int

    /// A snapshot.
    public init(plan: Plan, generation: Int) {
        self.plan = plan
        self.generation = generation
    }
}

/// The single owner of the running plan. A reload publishes the new plan here once; every
/// consumer (the engine, kinds, running sessions, the alert dispatcher, the strategy-date
/// refresher, the status endpoint) reads ``current``/``snapshot`` or follows ``updates()``.
///
/// ```swift
/// let source = PlanSource(plan)
/// for await snapshot in source.updates() { apply(snapshot.plan) }   // current first, then each reload
/// source.publish(reloaded)
/// ```
public final class PlanSource: Sendable {
    private struct State {
        var snapshot: PlanSnapshot
        var next = 0
        var subscribers: [Int: AsyncStream<PlanSnapshot>.Continuation] = [:]
    }

    private let state: Mutex<State>

    /// A source holding `plan` as generation 1.
    public init(_ plan: Plan) { state = Mutex(State(snapshot: PlanSnapshot(plan: plan, generation: 1))) }

    /// The latest plan and its generation.
    public var snapshot: PlanSnapshot { state.withLock { $0.snapshot } }

    /// The latest plan; setting it publishes a new generation.
    public var current: Plan {
        get { state.withLock { $0.snapshot.plan } }
        set { publish(newValue) }
    }

    /// Makes `plan` the current one and hands it to every follower.
    public func publish(_ plan: Plan) {
        // Yielded under the lock, so that followers see generations in order.
        state.withLock { state in
            state.snapshot = PlanSnapshot(plan: plan, generation: state.snapshot.generation + 1)
            for subscriber in state.subscribers.values { subscriber.yield(state.snapshot) }
        }
    }

    /// The current snapshot, then every one published after it, until the caller stops iterating
    /// (a slow follower sees only the newest it has not taken yet).
    public func updates() -> AsyncStream<PlanSnapshot> {
        let (stream, continuation) = AsyncStream.makeStream(of: PlanSnapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            state.next += 1
            state.subscribers[state.next] = continuation
            continuation.yield(state.snapshot)
            return state.next
        }
        continuation.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        return stream
    }
}
