public import Foundation

/// Events of one run, written to the store's run log.
/// With a `generation`, they are fenced like checkpoints: once the lease moved on, an event of
/// the stale owner is refused (events are the alert outbox: no duplicate alerts).
public struct StoreRunEvents: RunEventRecording {
    let store: Store
    let runID: Int64
    let instance: String?
    let generation: Int64?
    let wall: @Sendable () -> Date
    let redact: @Sendable (String) -> String

    /// Events of run `runID` recorded by `instance`, fenced by its lease `generation` when given;
    /// every message passes `redact` first.
    public init(
        store: Store, runID: Int64, instance: String?, generation: Int64? = nil, wall: @escaping @Sendable () -> Date,
        redact: @escaping @Sendable (String) -> String = { $0 }
    ) {
        self.store = store
        self.runID = runID
        self.instance = instance
        self.generation = generation
        self.wall = wall
        self.redact = redact
    }

    public func record(_ kind: String, _ message: String) async throws {
        if let instance, let generation {
            try await store.appendEvent(runID: runID, kind: kind, message: redact(message), owner: instance, generation: generation, now: wall())
        } else {
            try await store.appendEvent(runID: runID, kind: kind, message: redact(message), instance: instance, now: wall())
        }
    }
}
