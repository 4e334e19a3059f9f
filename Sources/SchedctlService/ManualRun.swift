public import Foundation
public import Scheduler

/// Where `schedctl run JOB`'s queued run executes. With a live service on the database the run is
/// that service's; with none it executes in this process. A service that starts in between keeps
/// the run: it is never cancelled under a service, nor reported as not executed while one runs it.
public enum ManualRun {
    /// Where the queued run went.
    public enum Outcome: Equatable, Sendable {
        /// It executed here, to its end.
        case executedHere
        /// Live services have it: they were running when it was queued (`meanwhile` false), or
        /// one started, or took the run, while this process tried to start it.
        case queued(for: [String], meanwhile: Bool)
        /// Nothing executes it: it could not start here and was cancelled (the reason says why).
        case notExecuted(String)
    }

    /// Dispatches run `runID`: to the live services if there are any, else to `makeEngine()`'s
    /// engine in this process. When that engine cannot start it, the run is cancelled only if
    /// it is still pending and no service is live; if it is no longer pending, whoever holds it
    /// (a service that just started) runs it.
    public static func dispatch(runID: Int64, store: Store, now: @Sendable () -> Date = Date.init, makeEngine: () throws -> Engine) async throws
        -> Outcome
    {
        let live = try await store.status(now: now()).instances
        guard live.isEmpty else { return .queued(for: live.map(\.id), meanwhile: false) }
        if try await makeEngine().executeNow(runID: runID) { return .executedHere }
        let liveNow = try await store.status(now: now()).instances
        guard liveNow.isEmpty else { return .queued(for: liveNow.map(\.id), meanwhile: true) }
        let why = "could not start here (the job is busy with another run, or the run is not pending)"
        if try await store.cancelPendingRun(id: runID, reason: "schedctl run: \(why)", now: now()) { return .notExecuted(why) }
        // Not pending any more: another process leased it after this one looked.
        let owner = try await store.run(id: runID)?.lease?.owner
        return .queued(for: [owner ?? "another process"], meanwhile: true)
    }
}
