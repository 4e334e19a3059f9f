public import Foundation

/// Checkpoints of one run, fenced by the owner's lease generation.
public struct StoreCheckpoints: CheckpointAccess {
    let store: Store
    let runID: Int64
    let owner: String
    let generation: Int64
    let wall: @Sendable () -> Date

    /// Checkpoints of run `runID` written as `owner` holding lease `generation`.
    public init(store: Store, runID: Int64, owner: String, generation: Int64, wall: @escaping @Sendable () -> Date) {
        self.store = store
        self.runID = runID
        self.owner = owner
        self.generation = generation
        self.wall = wall
    }

    public func load() async throws -> String? { try await store.checkpoint(runID: runID) }

    public func save(_ value: String) async throws {
        try await store.saveCheckpoint(runID: runID, owner: owner, generation: generation, value: value, now: wall())
    }
}
