public import Foundation
import Jobs
public import Scheduler
public import Secrets

/// The `status --json` (and `/api/status`) shape: live instances, leases, every job, tokens.
public struct StatusJSON: Encodable, Sendable {
    /// A live service instance.
    public struct InstanceJSON: Encodable, Sendable {
        public var id: String
        public var pid: Int
        public var host: String
        public var started: String
        public var heartbeat: String
        public var state: String
    }
    /// A lease held now.
    public struct LeaseJSON: Encodable, Sendable {
        public var run: Int64
        public var owner: String
        public var generation: Int64
        public var expires: String
    }
    /// One configured job.
    public struct JobJSON: Encodable, Sendable {
        public var job: String
        public var type: String
        public var state: String
        public var schedule: String
        /// The next instant on the job's grid; a paused job does not fire it (see `paused_since`).
        public var next: String?
        public var watermark: String?
        public var lastRun: RunJSON?
        public var active: Int
        /// When the job was paused (present only while it is paused, and known).
        public var pausedSince: String?

        enum CodingKeys: String, CodingKey {
            case job, type, state, schedule, next, watermark, active
            case lastRun = "last_run"
            case pausedSince = "paused_since"
        }
    }
    /// A broker's stored access-token expiry.
    public struct TokenJSON: Encodable, Sendable {
        public var broker: String
        /// Null when no token is stored (or the vault cannot be read).
        public var expires: String?

        /// A token row.
        public init(broker: String, expires: String?) {
            self.broker = broker
            self.expires = expires
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(broker, forKey: .broker)
            try c.encode(expires, forKey: .expires)
        }

        enum CodingKeys: String, CodingKey { case broker, expires }
    }
    public var instances: [InstanceJSON]
    public var leases: [LeaseJSON]
    public var jobs: [JobJSON]
    public var tokens: [TokenJSON]

    /// The status of `plan`'s jobs in `store` as of `now`, with `tokens` as given.
    public static func read(plan: Plan, store: Store, now: Date, tokens: [TokenJSON]) async throws -> StatusJSON {
        let status = try await store.status(now: now)
        let jobs = plan.jobs.map { job -> JobJSON in
            let state = status.jobs[job.name]
            let watermark = state?.watermark.map(Instant.init(seconds:))
            // The next nominal instant after now on the job's own grid (from its watermark).
            let next = JobGrid.next(job.schedule, after: Instant(now), watermark: watermark)
            // A job the service has not seen yet starts as jobs.yaml's `paused` says.
            let paused = state?.paused ?? job.paused
            let since = paused ? (state.map { $0.pausedAt ?? $0.firstSeen }) : nil
            return JobJSON(
                job: job.name, type: job.kind, state: paused ? "paused" : "active", schedule: job.schedule.summary,
                next: next?.iso8601, watermark: watermark?.iso8601, lastRun: status.lastRuns[job.name].map(RunJSON.init),
                active: status.active[job.name] ?? 0, pausedSince: since.map(Timestamps.iso))
        }
        return StatusJSON(
            instances: status.instances.map {
                .init(
                    id: $0.id, pid: $0.pid, host: $0.host, started: Timestamps.iso($0.startedAt), heartbeat: Timestamps.iso($0.heartbeatAt), state: $0.state)
            },
            leases: status.leases.map { .init(run: $0.runID, owner: $0.owner, generation: $0.generation, expires: Timestamps.iso($0.expiresAt)) },
            jobs: jobs, tokens: tokens)
    }

    /// Each tradestation/tradovate broker's stored token expiry (nil: none stored); a note when
    /// the vault cannot be read.
    public static func tokens(_ plan: Plan, vault: () throws -> Vault) -> (tokens: [TokenJSON], note: String?) {
        let brokers = plan.brokers.values.filter { ["tradestation", "tradovate"].contains($0.type) }.sorted { $0.name < $1.name }
        guard !brokers.isEmpty else { return ([], nil) }
        do {
            let vault = try vault()
            let tokens = try brokers.map { spec in
                let state = try vault.tokenState(for: spec.name)?.state
                let expires = state.flatMap { $0.accessToken.isEmpty ? nil : $0.accessTokenExpiresAt }
                return TokenJSON(broker: spec.name, expires: expires.map { Timestamps.iso($0.timeIntervalSince1970) })
            }
            return (tokens, nil)
        } catch {
            return (brokers.map { TokenJSON(broker: $0.name, expires: nil) }, "token expiry unknown: \(error)")
        }
    }
}
