public import Scheduler
import Synchronization

/// The brokers of the running plan, by name, for kinds that reach brokers; the composition root
/// replaces them when the configuration is reloaded.
public final class BrokerDirectory: Sendable {
    private let specs: Mutex<[String: ComponentSpec]>

    /// A directory of `brokers`.
    public init(_ brokers: [String: ComponentSpec] = [:]) { specs = Mutex(brokers) }

    /// The broker called `name`.
    public subscript(name: String) -> ComponentSpec? { specs.withLock { $0[name] } }

    /// Replaces every broker (after a reload).
    public func replace(with brokers: [String: ComponentSpec]) { specs.withLock { $0 = brokers } }
}
