public import Scheduler
import Synchronization

/// The plan a running service uses, replaced on reload; kinds that read brokers, strategies or
/// notifiers at run time see the reloaded configuration through it.
public final class PlanHolder: Sendable {
    private let value: Mutex<Plan>
    /// Holds `plan`.
    public init(_ plan: Plan) { value = Mutex(plan) }
    /// The current plan.
    public var current: Plan {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
